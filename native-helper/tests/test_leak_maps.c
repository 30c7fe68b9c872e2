/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_maps.c: lines of /proc/PID/maps parsed and classed, the
 * holder a mapping makes, and the test's own shared mappings read both
 * ways (PROCMAP_QUERY where the kernel has it, and the text of maps).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "arena.h"
#include "leak_maps.h"
#include "leak_scan.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* The path of m, as a string (arena). */
static const char *path_of(const struct maps_line *m)
{
	return arena_printf("%.*s", (int)m->path_len, m->path);
}

/* ---- parsing ------------------------------------------------------------------------ */

static void test_parse(void)
{
	static const struct {
		const char *line;
		unsigned long start, end;
		const char *perms;
		unsigned long long offset, inode;
		unsigned major, minor;
		const char *path;
	} good[] = {
		{ "7f1c2000-7f1c4000 rw-s 00001000 08:01 1234                       /srv/my data.db\n", 0x7f1c2000,
		  0x7f1c4000, "rw-s", 0x1000, 1234, 8, 1, "/srv/my data.db" },
		{ "00400000-00452000 r-xp 00000000 fd:00 131 /usr/bin/x (deleted)", 0x400000, 0x452000, "r-xp", 0,
		  131, 253, 0, "/usr/bin/x (deleted)" },
		{ "7ffd1000-7ffd3000 r--p 00000000 00:00 0 ", 0x7ffd1000, 0x7ffd3000, "r--p", 0, 0, 0, 0, "" },
		{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
		  0xffffffffff600000UL, 0xffffffffff601000UL, "--xp", 0, 0, 0, 0, "[vsyscall]" },
		{ "7f00-8f00 rw-s 00000000 00:01 32769 /SYSV00000000 (deleted)", 0x7f00, 0x8f00, "rw-s", 0, 32769, 0,
		  1, "/SYSV00000000 (deleted)" },
		{ "1000-2000 ---p 00000000 00:00 0", 0x1000, 0x2000, "---p", 0, 0, 0, 0, "" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct maps_line m;

		test_case("\"%s\"", good[i].line);
		CHECK_OK(parse_maps_line(good[i].line, strlen(good[i].line), &m), NULL);
		CHECK_UINT(m.start, ==, good[i].start);
		CHECK_UINT(m.end, ==, good[i].end);
		CHECK_STR(m.perms, ==, good[i].perms);
		CHECK_UINT(m.offset, ==, good[i].offset);
		CHECK_UINT(m.inode, ==, good[i].inode);
		CHECK_UINT(m.major, ==, good[i].major);
		CHECK_UINT(m.minor, ==, good[i].minor);
		CHECK_STR(path_of(&m), ==, good[i].path);
	}
}

static void test_parse_bad(void)
{
	static const char *const bad[] = {
		"", "garbage", "7f1c2000 rw-s", "7f1c2000-7f1c4000 rw-s 0 08:01",
		"7f1c2000-7f1c4000 rw-s 00000000 0801 12", "7f1c2000-7f1c4000 rw 0 08:01 1",
		"-7f1c4000 rw-s 0 08:01 1", "7f1c2000- rw-s 0 08:01 1", "7f1c2000-7f1c4000 rw-s 0 08:01 x",
		"7f1c2000-7f1c4000 rw-s 0 08:01 12x /a", "10000000000000000-1 rw-s 0 08:01 1",
	};
	static const char file[] = "7f1c2000-7f1c4000 rw-s 00001000 08:01 1234 /srv/data.db\n";
	struct maps_line m;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		test_case("\"%s\"", bad[i]);
		errno = 0;
		CHECK_INT(parse_maps_line(bad[i], strlen(bad[i]), &m), ==, -1);
		CHECK_INT(errno, ==, EINVAL);
	}
	/* a line is only its len bytes: the next line is not read */
	test_case("the first 22 bytes of \"%s\"", file);
	CHECK_INT(parse_maps_line(file, 22, &m), ==, -1);
	test_case("the first 43 bytes of \"%s\": no path", file);
	CHECK_OK(parse_maps_line(file, 43, &m), NULL);
	CHECK_UINT(m.inode, ==, 1234);
	CHECK_UINT(m.path_len, ==, 0);
}

/* ---- what a mapping is ------------------------------------------------------------------ */

static void test_class(void)
{
	static const struct {
		const char *line;
		enum map_class want;
	} cases[] = {
		{ "1000-2000 rw-s 00000000 08:01 1234 /srv/data.db", MC_FILE },
		{ "1000-2000 r--s 00000000 08:01 1234 /usr/lib/locale/gconv.cache", MC_FILE },
		{ "1000-2000 rw-p 00000000 08:01 1234 /srv/data.db", MC_NONE },		/* private */
		{ "1000-2000 rw-s 00000000 00:01 4321 /dev/zero (deleted)", MC_ANON },
		{ "1000-2000 rw-s 00000000 00:01 4321 [anon_shmem:cache]", MC_ANON },
		{ "1000-2000 rw-s 00000000 00:01 4321 /memfd:cache (deleted)", MC_ANON },
		{ "1000-2000 rw-s 00000000 00:0f 4321 /anon_hugepage (deleted)", MC_ANON },
		{ "1000-2000 rw-s 00000000 00:01 32769 /SYSV00000000 (deleted)", MC_SYSV },
		{ "1000-2000 rw-s 00000000 00:01 0 /SYSVdeadbeef (deleted)", MC_SYSV },	/* shmid 0 */
		{ "1000-2000 rw-s 00000000 08:01 77 /SYSV", MC_FILE },			/* a file named so */
		{ "1000-2000 rw-s 00000000 00:0e 12 anon_inode:[io_uring]", MC_NONE },
		{ "1000-2000 rw-s 00000000 00:00 12 [vvar]", MC_NONE },
		{ "1000-2000 rw-s 00000000 08:01 0 /srv/data.db", MC_NONE },		/* no inode */
		{ "1000-2000 rw-s 00000000 00:00 0", MC_NONE },				/* no path */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct maps_line m;

		test_case("map_class of \"%s\"", cases[i].line);
		CHECK_OK(parse_maps_line(cases[i].line, strlen(cases[i].line), &m), NULL);
		CHECK_INT(map_class(&m), ==, cases[i].want);
	}
}

static void test_holder(void)
{
	static const char rw[] = "7f1c2000-7f1c4000 rw-s 00000000 08:01 1234 /srv/data.db";
	static const char ro[] = "7f1c2000-7f1c4000 r--s 00000000 08:01 1234 /srv/data.db";
	struct leak_holder h;
	struct maps_line m;
	char how[96];

	test_case("map_holder of \"%s\"", rw);
	CHECK_OK(parse_maps_line(rw, strlen(rw), &m), NULL);
	h = map_holder(&m, how, sizeof(how), "mapped");
	CHECK(h.how == how);
	CHECK_STR(h.how, ==, "mapped at 0x7f1c2000-0x7f1c4000");
	CHECK(h.readable);
	CHECK(h.writable);
	CHECK(!h.has_fd);
	test_case("map_holder of \"%s\"", ro);
	CHECK_OK(parse_maps_line(ro, strlen(ro), &m), NULL);
	h = map_holder(&m, how, sizeof(how), "attached");
	CHECK_STR(h.how, ==, "attached at 0x7f1c2000-0x7f1c4000 (read-only)");
	CHECK(h.readable);
	CHECK(!h.writable);
}

/* An outside process is a holder once, however many of its mappings map the object. */
static void test_hold_outside(void)
{
	static const char one[] = "1000-2000 rw-s 00000000 08:01 1234 /srv/data.db";
	static const char two[] = "5000-6000 r--s 00000000 08:01 1234 /srv/data.db";
	struct host_proc procs[FAKE_PROCS];
	struct maps_line m1, m2;
	struct host_scan s;
	struct leak *lk;
	pid_t last = 0;

	test_case("map_hold_outside");
	fake_host(&s, procs);
	lk = leak_get(&s, LK(SHARED_MEMORY), "/srv/data.db");
	CHECK_OK(parse_maps_line(one, strlen(one), &m1), NULL);
	CHECK_OK(parse_maps_line(two, strlen(two), &m2), NULL);
	map_hold_outside(&s, lk, &last, host_find(&s, 20), &m1, "mapped");
	map_hold_outside(&s, lk, &last, host_find(&s, 20), &m2, "mapped");
	CHECK_INT(last, ==, 20);
	map_hold_outside(&s, lk, &last, host_find(&s, 1), &m2, "mapped");
	CHECK_INT(last, ==, 1);
	CHECK_UINT(lk->noutside, ==, 2);
	CHECK(holds(lk->outside, lk->noutside, 20, "mapped at 0x1000-0x2000"));
	CHECK(holds(lk->outside, lk->noutside, 1, "mapped at 0x5000-0x6000 (read-only)"));
	CHECK_UINT(lk->ninside, ==, 0);
	fake_free(&s);
}

/* ---- the test's own shared mappings -------------------------------------------------------- */

#define MAX_SEEN 64

struct seen {
	struct maps_line v[MAX_SEEN];
	const char *path[MAX_SEEN];	/* arena copies (v[i].path too): m->path points into the reader's buffer */
	size_t n, calls;
	pid_t pid;
};

static void record(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct seen *s = arg;

	s->calls++;
	s->pid = p->pid;
	if (s->n == MAX_SEEN)
		return;
	s->v[s->n] = *m;
	s->path[s->n] = path_of(m);
	s->v[s->n].path = s->path[s->n];
	s->n++;
}

static const struct maps_line *seen_at(const struct seen *s, const void *addr, const char **path)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].start == (unsigned long)addr) {
			*path = s->path[i];
			return &s->v[i];
		}
	return NULL;
}

struct own_maps {
	char path[40];
	struct stat st;
	void *file, *private_file, *anon, *shm;
	int shmid;
};

static int own_maps_open(struct own_maps *o)
{
	int fd;

	strcpy(o->path, "/tmp/ckpt-leak-maps-XXXXXX");
	if (make_file(o->path, 8192) || stat(o->path, &o->st))
		return -1;
	fd = open(o->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	o->file = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	o->private_file = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	o->anon = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	o->shmid = shmget(IPC_PRIVATE, 4096, 0600);
	o->shm = o->shmid >= 0 ? shmat(o->shmid, NULL, SHM_RDONLY) : (void *)-1;
	if (o->shmid >= 0)
		shmctl(o->shmid, IPC_RMID, NULL);	/* gone with the last detach */
	return o->file == MAP_FAILED || o->private_file == MAP_FAILED || o->anon == MAP_FAILED ||
	       o->shm == (void *)-1 ? -1 : 0;
}

static void own_maps_close(struct own_maps *o)
{
	if (o->file && o->file != MAP_FAILED)
		munmap(o->file, 8192);
	if (o->private_file && o->private_file != MAP_FAILED)
		munmap(o->private_file, 4096);
	if (o->anon && o->anon != MAP_FAILED)
		munmap(o->anon, 16384);
	if (o->shm && o->shm != (void *)-1)
		shmdt(o->shm);
	unlink(o->path);
}

static void check_seen(const struct seen *s, const struct own_maps *o)
{
	const struct maps_line *m;
	const char *path = "", *private = "";
	size_t nprivate = 0;

	CHECK_INT(s->pid, ==, getpid());
	CHECK_UINT(s->calls, ==, s->n);
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].perms[3] != 's' && !nprivate++)
			private = arena_printf("%s (%s)", s->path[i], s->v[i].perms);
	CHECK_UINT(nprivate, ==, 0);
	CHECK_STR(private, ==, "");
	CHECK(seen_at(s, o->private_file, &path) == NULL);
	m = seen_at(s, o->file, &path);
	CHECK(m != NULL);
	if (m) {
		CHECK_UINT(m->end - m->start, ==, 8192);
		CHECK_STR(m->perms, ==, "rw-s");
		CHECK_UINT(m->inode, ==, o->st.st_ino);
		CHECK_UINT(m->major, ==, major(o->st.st_dev));
		CHECK_UINT(m->minor, ==, minor(o->st.st_dev));
		CHECK_STR(path, ==, o->path);
		CHECK_INT(map_class(m), ==, MC_FILE);
	}
	m = seen_at(s, o->anon, &path);
	CHECK(m != NULL);
	if (m) {
		CHECK_UINT(m->end - m->start, ==, 16384);
		CHECK_INT(map_class(m), ==, MC_ANON);
		CHECK_STR(path, ==, "/dev/zero (deleted)");
	}
	m = seen_at(s, o->shm, &path);
	CHECK(m != NULL);
	if (m) {
		CHECK_STR(m->perms, ==, "r--s");
		CHECK_INT(map_class(m), ==, MC_SYSV);
		CHECK_UINT(m->inode, ==, o->shmid);
	}
}

static void test_read_each_shared(void)
{
	struct own_maps o = { .shmid = -1 };
	struct host_proc self = { .pid = getpid() }, gone = { .pid = -1 };
	struct mapbuf b = { 0 };

	test_case("read_each_shared: the test's own mappings");
	CHECK_OK(own_maps_open(&o), NULL);
	for (int text = 0; text < 2; text++) {
		struct seen s = { .n = 0 };

		leak_maps_text = text;
		test_case("read_each_shared, %s", text ? "from the text of maps" : "with PROCMAP_QUERY where it works");
		CHECK_OK(read_each_shared(&b, &self, record, &s), NULL);
		check_seen(&s, &o);
	}
	leak_maps_text = false;
	test_case("read_each_shared: a process that is not there");
	CHECK_INT(read_each_shared(&b, &gone, record, NULL), ==, -1);
	mapbuf_free(&b);
	CHECK(b.p == NULL);
	CHECK_UINT(b.cap, ==, 0);
	own_maps_close(&o);
}

TEST_GROUP(leak_maps)
{
	test_parse();
	test_parse_bad();
	test_class();
	test_holder();
	test_hold_outside();
	test_read_each_shared();
	arena_free_all();
}
