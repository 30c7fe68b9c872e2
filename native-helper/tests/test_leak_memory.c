/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of leak_memory.c: the parsers, and real mappings and SysV
 * objects (the tests run as root with a real /proc) scanned with
 * leaks_scan. Every SysV object made here is removed before the test
 * returns (segments are marked for removal as soon as they are attached).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "leak_maps.h"
#include "leak_memory.h"
#include "leak_scan.h"
#include "leak_sysv.h"
#include "leaks.h"
#include "lists.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* ---- parsers -------------------------------------------------------------- */

static bool path_is(const struct maps_line *m, const char *path)
{
	return m->path_len == strlen(path) && !memcmp(m->path, path, m->path_len);
}

static void test_parse_maps(void)
{
	static const char file[] = "7f1c2000-7f1c4000 rw-s 00001000 08:01 1234                       /srv/my data.db\n";
	static const char dev[] = "00400000-00452000 r-xp 00000000 fd:00 131 /usr/bin/x (deleted)";
	static const char none[] = "7ffd1000-7ffd3000 r--p 00000000 00:00 0 ";
	static const char vsys[] = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";
	static const char *const bad[] = { "", "garbage", "7f1c2000 rw-s", "7f1c2000-7f1c4000 rw-s 0 08:01",
					   "7f1c2000-7f1c4000 rw-s 00000000 0801 12", "7f1c2000-7f1c4000 rw 0 08:01 1" };
	struct maps_line m;

	CHECK(parse_maps_line(file, strlen(file), &m) == 0);
	CHECK(m.start == 0x7f1c2000 && m.end == 0x7f1c4000 && !strcmp(m.perms, "rw-s") && m.offset == 0x1000);
	CHECK(m.major == 8 && m.minor == 1 && m.inode == 1234 && path_is(&m, "/srv/my data.db"));
	CHECK(parse_maps_line(dev, strlen(dev), &m) == 0);
	CHECK(m.major == 253 && m.minor == 0 && m.inode == 131 && path_is(&m, "/usr/bin/x (deleted)"));
	CHECK(!strcmp(m.perms, "r-xp"));
	CHECK(parse_maps_line(none, strlen(none), &m) == 0 && m.inode == 0 && m.path_len == 0);
	CHECK(parse_maps_line(vsys, strlen(vsys), &m) == 0 && m.start == 0xffffffffff600000UL &&
	      path_is(&m, "[vsyscall]"));
	/* a line is only its len bytes: the next line is not read */
	CHECK(parse_maps_line(file, 22, &m) == -1 && errno == EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(parse_maps_line(bad[i], strlen(bad[i]), &m) == -1);
}

static void test_parse_sysv(void)
{
	struct sysv_line l;

	CHECK(parse_sysv_shm("       key      shmid perms                  size  cpid  lpid nattch   uid   gid  "
			     "cuid  cgid      atime      dtime      ctime                   rss                  "
			     "swap", &l) == -1);
	CHECK(parse_sysv_shm("         0      32769  1600                 16384  1234  5678      2     0     0"
			     "     0     0          0          0 1700000000                     0                   "
			     "  0", &l) == 0);
	CHECK(l.key == 0 && l.id == 32769 && l.mode == 01600 && l.size == 16384 && l.pid_a == 1234 &&
	      l.pid_b == 5678 && l.count == 2);
	CHECK(parse_sysv_shm("-559038737          7   600  4096 10 11 0 0 0 0 0 0 0 0 0 0", &l) == 0);
	CHECK((unsigned int)l.key == 0xdeadbeef && l.id == 7 && l.count == 0);
	CHECK(parse_sysv_sem("       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime",
			     &l) == -1);
	CHECK(parse_sysv_sem("         0          3   600          2     0     0     0     0          0 1700000000",
			     &l) == 0);
	CHECK(l.id == 3 && l.mode == 0600 && l.size == 2);
	CHECK(parse_sysv_msg("       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid"
			     "      stime      rtime      ctime", &l) == -1);
	CHECK(parse_sysv_msg("      1234          5   600          16          2  4321  4322     0     0     0     0"
			     "          0          0 1700000000", &l) == 0);
	CHECK(l.key == 1234 && l.id == 5 && l.size == 16 && l.count == 2 && l.pid_a == 4321 && l.pid_b == 4322);
	CHECK(parse_sysv_msg("", &l) == -1 && parse_sysv_shm("1 2", &l) == -1);
}

/* ---- shared mappings ------------------------------------------------------- */

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

static void test_shared_files(void)
{
	char a[] = "/tmp/ckpt-leak-mem-a-XXXXXX", b[] = "/tmp/ckpt-leak-mem-b-XXXXXX";
	char c[] = "/tmp/ckpt-leak-mem-c-XXXXXX";
	pid_t o = -1, r = -1;
	struct host_scan s;
	struct herr e;
	struct leak *lk;

	CHECK(make_file(a, 8192) == 0 && make_file(b, 8192) == 0 && make_file(c, 8192) == 0);
	file_a = a;
	file_b = b;
	file_c = c;
	o = spawn_call(map_outside, NULL, NULL);
	r = spawn_call(map_tree, NULL, NULL);
	CHECK(o > 0 && r > 0);
	if (o <= 0 || r <= 0)
		goto out;
	CHECK(leaks_scan(r, &s, &e) == 0);
	lk = leak_find(&s, LK(SHARED_MEMORY), file_resource(a));
	CHECK(lk != NULL);
	if (lk) {
		CHECK(lk->default_policy == LP(WARN) && choice(lk, LP(IGNORE)) && choice(lk, LP(FAIL)));
		CHECK(lk->ninside == 1 && holds_prefix(lk->inside, 1, r, "mapped at 0x"));
		CHECK(lk->noutside == 1 && holds_prefix(lk->outside, 1, o, "mapped at 0x") && !lk->outside[0].writable);
		CHECK(strstr(lk->outside[0].how, "(read-only)") && lk->inside[0].writable);
		CHECK(strstr(lk->summary, a) && strstr(lk->summary, "MAP_SHARED"));
	}
	CHECK(leak_find(&s, LK(SHARED_MEMORY), file_resource(b)) == NULL);	/* nobody outside maps b */
	CHECK(leak_find(&s, LK(SHARED_MEMORY), file_resource(c)) == NULL);	/* the tree cannot write c */
	leaks_scan_free(&s);
out:
	reap(r);
	reap(o);
	unlink(a);
	unlink(b);
	unlink(c);
}

/* The inode of the shared anonymous mapping at addr, from the helper's own maps. */
static unsigned long long anon_inode(void *addr)
{
	char *buf = NULL, *line, *save = NULL;
	unsigned long long ino = 0;

	if (read_file("/proc/self/maps", &buf, NULL, 64 << 20))
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct maps_line m;

		if (!parse_maps_line(line, strlen(line), &m) && m.start == (unsigned long)addr) {
			CHECK(!strcmp(m.perms, "rw-s") && path_is(&m, "/dev/zero (deleted)"));
			ino = m.inode;
		}
	}
	free(buf);
	return ino;
}

static void test_shared_anon(void)
{
	void *mem = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long long ino = mem == MAP_FAILED ? 0 : anon_inode(mem);
	pid_t o = ino ? spawn_call(NULL, NULL, NULL) : -1, r = ino ? spawn_call(NULL, NULL, NULL) : -1;
	struct host_scan s;
	struct herr e;
	char resource[96];
	struct leak *lk;

	if (mem != MAP_FAILED)
		munmap(mem, 16384);	/* the children keep it: the helper is never a holder anyway */
	CHECK(ino && o > 0 && r > 0);
	if (!ino || o <= 0 || r <= 0)
		goto out;
	CHECK(leaks_scan(r, &s, &e) == 0);
	snprintf(resource, sizeof(resource), "shared anonymous memory (inode %llu)", ino);
	lk = leak_find(&s, LK(SHARED_MEMORY), resource);
	CHECK(lk != NULL);
	if (lk) {
		CHECK(lk->default_policy == LP(FAIL) && choice(lk, LP(WARN)) && choice(lk, LP(IGNORE)));
		CHECK(holds_prefix(lk->inside, lk->ninside, r, "mapped at 0x") && holder(lk->outside, lk->noutside, o));
		CHECK(!holder(lk->outside, lk->noutside, getpid()) && strstr(lk->summary, "16 KiB"));
	}
	leaks_scan_free(&s);
out:
	reap(r);
	reap(o);
}

/* ---- SysV ------------------------------------------------------------------ */

static int attach(void *arg)
{
	const int *ids = arg;

	for (; *ids >= 0; ids++)
		if (shmat(*ids, NULL, 0) == (void *)-1)
			return -1;
	return 0;
}

static void test_sysv_shm(void)
{
	int one = shmget(IPC_PRIVATE, 4096, 0600), two = shmget(IPC_PRIVATE, 8192, 0600);
	int outside_ids[] = { one, -1 }, tree_ids[] = { one, two, -1 };
	pid_t o = one >= 0 && two >= 0 ? spawn_call(attach, outside_ids, NULL) : -1;
	pid_t r = o > 0 ? spawn_call(attach, tree_ids, NULL) : -1;
	struct host_scan s;
	struct herr e;
	char resource[32];
	struct leak *lk;

	/* removed when the last attacher is gone, whatever happens below */
	if (one >= 0)
		shmctl(one, IPC_RMID, NULL);
	if (two >= 0)
		shmctl(two, IPC_RMID, NULL);
	CHECK(one >= 0 && two >= 0 && o > 0 && r > 0);
	if (o <= 0 || r <= 0)
		goto out;
	CHECK(leaks_scan(r, &s, &e) == 0);
	snprintf(resource, sizeof(resource), "shmid %d", one);
	lk = leak_find(&s, LK(SYSV_SHM), resource);
	CHECK(lk != NULL);
	if (lk) {
		CHECK(lk->default_policy == LP(FAIL) && lk->nchoices == 1 && choice(lk, LP(FAIL)) && lk->standalone);
		CHECK(lk->ninside == 1 && holds_prefix(lk->inside, 1, r, "attached at 0x"));
		CHECK(lk->noutside == 1 && holds_prefix(lk->outside, 1, o, "attached at 0x"));
		CHECK(strstr(lk->summary, "attached 2 times: 1 by the tree") != NULL);
		CHECK(strstr(lk->criu, "doesn't live in IPC ns") != NULL);
	}
	/* attached by the tree alone, but in the host's (the helper's) IPC namespace */
	snprintf(resource, sizeof(resource), "shmid %d", two);
	lk = leak_find(&s, LK(SYSV_SHM), resource);
	CHECK(lk && lk->ninside == 1 && lk->noutside == 0 && strstr(lk->summary, "8192 bytes"));
	leaks_scan_free(&s);
out:
	reap(r);
	reap(o);
}

static int semid, msqid;

struct msgbuf1 {
	long mtype;
	char text[8];
};

static int use_ipc_tree(void *arg)
{
	struct sembuf up = { .sem_num = 1, .sem_op = 1 };
	struct msgbuf1 m = { .mtype = 1, .text = "hello" };

	(void)arg;
	if (semop(semid, &up, 1) || msgsnd(msqid, &m, sizeof(m.text), 0) || msgsnd(msqid, &m, sizeof(m.text), 0))
		return -1;
	return 0;
}

static int use_ipc_outside(void *arg)
{
	struct msgbuf1 m;

	(void)arg;
	return msgrcv(msqid, &m, sizeof(m.text), 0, IPC_NOWAIT) < 0 ? -1 : 0;
}

static void test_sysv_sem_msg(void)
{
	pid_t r = -1, o = -1;
	struct host_scan s;
	struct herr e;
	char resource[32];
	struct leak *lk;

	semid = semget(IPC_PRIVATE, 2, 0600);
	msqid = msgget(IPC_PRIVATE, 0600);
	CHECK(semid >= 0 && msqid >= 0);
	if (semid < 0 || msqid < 0)
		goto out;
	r = spawn_call(use_ipc_tree, NULL, NULL);
	o = r > 0 ? spawn_call(use_ipc_outside, NULL, NULL) : -1;
	CHECK(r > 0 && o > 0);
	if (r <= 0 || o <= 0)
		goto out;
	CHECK(leaks_scan(r, &s, &e) == 0);
	snprintf(resource, sizeof(resource), "semid %d", semid);
	lk = leak_find(&s, LK(SYSV_SEM), resource);
	CHECK(lk && lk->default_policy == LP(WARN) && choice(lk, LP(IGNORE)) && choice(lk, LP(FAIL)) && lk->standalone);
	CHECK(lk && holder(lk->inside, lk->ninside, r) && lk->noutside == 0);
	CHECK(lk && strstr(lk->summary, "2 semaphores") && strstr(lk->criu, "does not dump"));
	snprintf(resource, sizeof(resource), "msqid %d", msqid);
	lk = leak_find(&s, LK(SYSV_MSG), resource);
	CHECK(lk && lk->default_policy == LP(WARN) && choice(lk, LP(IGNORE)) && choice(lk, LP(FAIL)));
	CHECK(lk && holds_prefix(lk->inside, lk->ninside, r, "sent the last message"));
	CHECK(lk && holds_prefix(lk->outside, lk->noutside, o, "received the last message"));
	CHECK(lk && strstr(lk->summary, "1 message,") != NULL);
	leaks_scan_free(&s);
out:
	reap(o);
	reap(r);
	if (semid >= 0)
		semctl(semid, 0, IPC_RMID);
	if (msqid >= 0)
		msgctl(msqid, IPC_RMID, NULL);
}

/* An IPC namespace of its own, with a segment attached; returns the shmid. */
static int private_ipc(void *arg)
{
	int id;

	(void)arg;
	if (unshare(CLONE_NEWIPC))
		return -1;
	id = shmget(IPC_PRIVATE, 4096, 0600);
	if (id < 0 || shmat(id, NULL, 0) == (void *)-1)
		return -1;
	return id;
}

struct join_shm {
	pid_t pid;
	int shmid;
};

static int join_ipc(void *arg)
{
	const struct join_shm *j = arg;

	if (join_ns(j->pid, "ipc", CLONE_NEWIPC) || shmat(j->shmid, NULL, 0) == (void *)-1)
		return -1;
	return 0;
}

/* The tree's IPC namespace is not the helper's: read by entering it. */
static void test_sysv_other_ns(void)
{
	struct join_shm j = { .shmid = -1 };
	pid_t o = spawn_call(private_ipc, NULL, &j.shmid), r;
	uint64_t self_ipc;
	struct host_scan s;
	struct herr e;
	char resource[32];
	struct leak *lk;

	j.pid = o;
	r = o > 0 ? spawn_call(join_ipc, &j, NULL) : -1;
	CHECK(o > 0 && r > 0);
	if (o <= 0 || r <= 0)
		goto out;
	self_ipc = ns_inode(getpid(), "ipc");
	CHECK(leaks_scan(r, &s, &e) == 0);
	snprintf(resource, sizeof(resource), "shmid %d", j.shmid);
	lk = leak_find(&s, LK(SYSV_SHM), resource);
	CHECK(lk != NULL);
	if (lk) {
		CHECK(holds_prefix(lk->inside, lk->ninside, r, "attached at 0x") &&
		      holder(lk->outside, lk->noutside, o));
		CHECK(strstr(lk->summary, "attached 2 times") && strstr(lk->criu, "whole"));
	}
	CHECK(leak_find(&s, LK(IPC_NS), arena_printf("ipc:[%llu]", (unsigned long long)
						     host_find(&s, r)->ns[LK(IPC_NS) - 1])) != NULL);
	leaks_scan_free(&s);
	/* the helper came back to its own namespace */
	CHECK(self_ipc && ns_inode(getpid(), "ipc") == self_ipc);
out:
	reap(r);
	reap(o);	/* the namespace and its segment go with the last of them */
}

TEST_GROUP(leak_memory)
{
	test_parse_maps();
	test_parse_sysv();
	/* mappings found with PROCMAP_QUERY (where the kernel has it), then in the text of maps */
	for (int text = 0; text < 2; text++) {
		leak_maps_text = text;
		test_shared_files();
		test_shared_anon();
		test_sysv_shm();
		test_sysv_other_ns();
	}
	leak_maps_text = false;
	test_sysv_sem_msg();
}
