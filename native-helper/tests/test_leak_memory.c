/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_memory.c: real shared mappings of files and of anonymous
 * memory (the tests run as root with a real /proc), scanned with
 * leaks_scan, the mappings read both ways (PROCMAP_QUERY, the text of maps).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "leak_maps.h"
#include "leak_memory.h"
#include "leak_scan.h"
#include "leaks.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* How the mappings are read, for the cases' names. */
static const char *way = "";

/* ---- shared file mappings ------------------------------------------------------- */

static const char *file_a, *file_b, *file_c;

static int map_file(const char *path, int prot, int flags)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return -1;
	p = mmap(NULL, 8192, prot, flags, fd, 0);
	close(fd);
	return p == MAP_FAILED ? -1 : 0;
}

static int map_outside(void *arg)
{
	(void)arg;
	return map_file(file_a, PROT_READ, MAP_SHARED) || map_file(file_c, PROT_READ | PROT_WRITE, MAP_SHARED) ?
	       -1 : 0;
}

/*
 * The tree: a, shared and writable (mapped outside too); b, shared (alone)
 * and private; c, shared but read-only (mapped outside, writable).
 */
static int map_tree(void *arg)
{
	int rw = PROT_READ | PROT_WRITE;

	(void)arg;
	return map_file(file_a, rw, MAP_SHARED) || map_file(file_b, rw, MAP_SHARED) ||
	       map_file(file_b, rw, MAP_PRIVATE) || map_file(file_c, PROT_READ, MAP_SHARED) ? -1 : 0;
}

static void check_shared_file(struct host_scan *s, const char *a, pid_t r, pid_t o)
{
	struct leak *lk = leak_find(s, LK(SHARED_MEMORY), file_resource(a));

	test_case("%s, %s", file_resource(a), way);
	CHECK(lk != NULL);
	if (!lk)
		return;
	CHECK_INT(lk->default_policy, ==, LP(WARN));
	CHECK(choice(lk, LP(IGNORE)) != NULL);
	CHECK(choice(lk, LP(FAIL)) != NULL);
	CHECK_UINT(lk->ninside, ==, 1);
	CHECK(holds_prefix(lk->inside, 1, r, "mapped at 0x"));
	CHECK(lk->inside[0].writable);
	CHECK_UINT(lk->noutside, ==, 1);
	CHECK(holds_prefix(lk->outside, 1, o, "mapped at 0x"));
	CHECK(!lk->outside[0].writable);
	CHECK_CONTAINS(lk->outside[0].how, "(read-only)");
	CHECK_CONTAINS(lk->summary, a);
	CHECK_STR(lk->summary, ==, arena_printf("%s, mapped shared and writable (MAP_SHARED) by the tree, and mapped "
						"by 1 process outside it", a));
}

static void test_shared_files(void)
{
	char a[] = "/tmp/ckpt-leak-mem-a-XXXXXX", b[] = "/tmp/ckpt-leak-mem-b-XXXXXX";
	char c[] = "/tmp/ckpt-leak-mem-c-XXXXXX";
	pid_t o = -1, r = -1;
	struct host_scan s;

	test_case("shared file mappings, %s", way);
	CHECK_OK(make_file(a, 8192), NULL);
	CHECK_OK(make_file(b, 8192), NULL);
	CHECK_OK(make_file(c, 8192), NULL);
	file_a = a;
	file_b = b;
	file_c = c;
	o = spawn_call(map_outside, NULL, NULL);
	r = spawn_call(map_tree, NULL, NULL);
	CHECK_INT(o, >, 0);
	CHECK_INT(r, >, 0);
	if (o > 0 && r > 0 && SCAN_OK(r, &s)) {
		check_shared_file(&s, a, r, o);
		test_case("a file nobody outside maps, %s", way);
		CHECK(leak_find(&s, LK(SHARED_MEMORY), file_resource(b)) == NULL);
		test_case("a file the tree cannot write through its mapping, %s", way);
		CHECK(leak_find(&s, LK(SHARED_MEMORY), file_resource(c)) == NULL);
		leaks_scan_free(&s);
	}
	reap(r);
	reap(o);
	unlink(a);
	unlink(b);
	unlink(c);
}

/* ---- shared anonymous memory -------------------------------------------------------- */

/* The inode of the shared anonymous mapping at addr, from the test's own maps. */
static unsigned long long anon_inode(void *addr)
{
	char *buf = NULL, *line, *save = NULL;
	unsigned long long ino = 0;

	if (read_file("/proc/self/maps", &buf, NULL, 64 << 20))
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct maps_line m;

		if (!parse_maps_line(line, strlen(line), &m) && m.start == (unsigned long)addr) {
			test_case("the test's own mapping at %p", addr);
			CHECK_STR(m.perms, ==, "rw-s");
			CHECK_STR(arena_printf("%.*s", (int)m.path_len, m.path), ==, "/dev/zero (deleted)");
			ino = m.inode;
		}
	}
	free(buf);
	return ino;
}

/* Shared anonymous memory the test maps, then shares with nout outside children and a tree of one. */
struct anon {
	unsigned long long ino;
	pid_t r, o[MAX_LEAK_HOLDERS + 4];
	size_t nout;
};

static void anon_open(struct anon *an, size_t nout)
{
	void *mem = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	memset(an, 0, sizeof(*an));
	an->ino = mem == MAP_FAILED ? 0 : anon_inode(mem);
	for (size_t i = 0; an->ino && i < nout && i < ARRAY_SIZE(an->o); i++)
		an->o[an->nout++] = spawn_call(NULL, NULL, NULL);
	an->r = an->ino ? spawn_call(NULL, NULL, NULL) : -1;
	if (mem != MAP_FAILED)
		munmap(mem, 16384);	/* the children keep it: the helper is never a holder anyway */
}

static void anon_close(struct anon *an)
{
	reap(an->r);
	for (size_t i = 0; i < an->nout; i++)
		reap(an->o[i]);
}

static struct leak *anon_leak(struct host_scan *s, const struct anon *an)
{
	struct leak *lk = leak_find(s, LK(SHARED_MEMORY), arena_printf("shared anonymous memory (inode %llu)",
									  an->ino));

	test_case("shared anonymous memory (inode %llu), %s", an->ino, way);
	CHECK(lk != NULL);
	return lk;
}

static void test_shared_anon(void)
{
	struct anon an;
	struct host_scan s;
	struct leak *lk;

	test_case("shared anonymous memory, %s", way);
	anon_open(&an, 1);
	CHECK_UINT(an.ino, !=, 0);
	CHECK_INT(an.o[0], >, 0);
	CHECK_INT(an.r, >, 0);
	if (an.ino && an.o[0] > 0 && an.r > 0 && SCAN_OK(an.r, &s)) {
		lk = anon_leak(&s, &an);
		if (lk) {
			CHECK_INT(lk->default_policy, ==, LP(FAIL));
			CHECK(choice(lk, LP(WARN)) != NULL);
			CHECK(choice(lk, LP(IGNORE)) != NULL);
			CHECK(holds_prefix(lk->inside, lk->ninside, an.r, "mapped at 0x"));
			CHECK(holder(lk->outside, lk->noutside, an.o[0]) != NULL);
			CHECK(holder(lk->outside, lk->noutside, getpid()) == NULL);
			CHECK_CONTAINS(lk->summary, "16 KiB");
			CHECK_STR(lk->summary, ==, "shared anonymous memory (/dev/zero (deleted), 16 KiB as the tree "
				  "maps it), mapped by 1 process outside the tree too");
		}
		leaks_scan_free(&s);
	}
	anon_close(&an);
}

/* More outside holders than a leak lists: the rest are counted, and told on the wire. */
static void test_shared_anon_many(void)
{
	size_t n = MAX_LEAK_HOLDERS + 3;
	struct anon an;
	struct host_scan s;
	struct leak *lk;
	Leak *pb;

	test_case("shared anonymous memory, %zu outside holders", n);
	anon_open(&an, n);
	CHECK_UINT(an.nout, ==, n);
	CHECK_INT(an.r, >, 0);
	if (an.ino && an.r > 0 && SCAN_OK(an.r, &s)) {
		lk = anon_leak(&s, &an);
		if (lk) {
			CHECK_UINT(lk->noutside, ==, MAX_LEAK_HOLDERS);
			CHECK_UINT(lk->outside_unlisted, ==, n - MAX_LEAK_HOLDERS);
			CHECK_UINT(leak_outside_total(lk), ==, n);
			CHECK_CONTAINS(lk->summary, arena_printf("mapped by %zu processes outside the tree too", n));
			pb = leak_to_pb(&s, lk);
			CHECK_UINT(pb->outside_count, ==, n);
			CHECK_UINT(pb->n_outside, ==, MAX_LEAK_HOLDERS);
		}
		leaks_scan_free(&s);
	}
	anon_close(&an);
}

TEST_GROUP(leak_memory)
{
	/* mappings found with PROCMAP_QUERY (where the kernel has it), then in the text of maps */
	for (int text = 0; text < 2; text++) {
		leak_maps_text = text;
		way = text ? "the text of maps" : "PROCMAP_QUERY where it works";
		test_shared_files();
		test_shared_anon();
	}
	test_shared_anon_many();
	leak_maps_text = false;
	arena_free_all();
}
