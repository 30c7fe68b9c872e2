/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_sysv.c: the lines of /proc/sysvipc parsed, and real SysV
 * objects scanned with leaks_scan (segments attached across the tree's
 * border, in the helper's IPC namespace and in another; semaphores and
 * message queues). Every object made here is removed before the test
 * returns (segments are marked for removal as soon as they are attached).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "arena.h"
#include "leak_maps.h"
#include "leak_scan.h"
#include "leak_sysv.h"
#include "leaks.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* How the mappings are read, for the cases' names. */
static const char *way = "";

/* ---- parsers -------------------------------------------------------------- */

struct sysv_case {
	const char *line;
	int (*parse)(const char *, struct sysv_line *);
	const char *what;
	int ret;
	struct sysv_line want;
};

static const struct sysv_case sysv_cases[] = {
	{ "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime"
	  "      dtime      ctime                   rss                  swap", parse_sysv_shm, "shm header", -1,
	  { 0 } },
	{ "         0      32769  1600                 16384  1234  5678      2     0     0     0     0          0"
	  "          0 1700000000                     0                     0", parse_sysv_shm, "shm", 0,
	  { .key = 0, .id = 32769, .mode = 01600, .size = 16384, .pid_a = 1234, .pid_b = 5678, .count = 2 } },
	{ "-559038737          7   600  4096 10 11 0 0 0 0 0 0 0 0 0 0", parse_sysv_shm, "shm, a negative key", 0,
	  { .key = (int)0xdeadbeef, .id = 7, .mode = 0600, .size = 4096, .pid_a = 10, .pid_b = 11, .count = 0 } },
	{ "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime", parse_sysv_sem,
	  "sem header", -1, { 0 } },
	{ "         0          3   600          2     0     0     0     0          0 1700000000", parse_sysv_sem,
	  "sem", 0, { .id = 3, .mode = 0600, .size = 2 } },
	{ "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime"
	  "      ctime", parse_sysv_msg, "msg header", -1, { 0 } },
	{ "      1234          5   600          16          2  4321  4322     0     0     0     0          0          0"
	  " 1700000000", parse_sysv_msg, "msg", 0,
	  { .key = 1234, .id = 5, .mode = 0600, .size = 16, .count = 2, .pid_a = 4321, .pid_b = 4322 } },
	{ "", parse_sysv_msg, "msg, empty", -1, { 0 } },
	{ "1 2", parse_sysv_shm, "shm, cut", -1, { 0 } },
	{ "1 2", parse_sysv_sem, "sem, cut", -1, { 0 } },
	{ "1 2 600 16 2 3", parse_sysv_msg, "msg, cut", -1, { 0 } },
};

static void test_parse(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(sysv_cases); i++) {
		const struct sysv_case *c = &sysv_cases[i];
		struct sysv_line l;

		test_case("%s: \"%s\"", c->what, c->line);
		errno = 0;
		CHECK_INT(c->parse(c->line, &l), ==, c->ret);
		if (c->ret) {
			CHECK_INT(errno, ==, EINVAL);
			continue;
		}
		CHECK_INT(l.key, ==, c->want.key);
		CHECK_INT(l.id, ==, c->want.id);
		CHECK_UINT(l.mode, ==, c->want.mode);
		CHECK_UINT(l.size, ==, c->want.size);
		CHECK_UINT(l.count, ==, c->want.count);
		CHECK_INT(l.pid_a, ==, c->want.pid_a);
		CHECK_INT(l.pid_b, ==, c->want.pid_b);
	}
}

/* ---- shared memory segments ------------------------------------------------------- */

static int attach(void *arg)
{
	const int *ids = arg;

	for (; *ids >= 0; ids++)
		if (shmat(*ids, NULL, 0) == (void *)-1)
			return -1;
	return 0;
}

/* The leak of a SysV object, checked to be found (test_case names it). */
static struct leak *sysv_leak(struct host_scan *s, int kind, const char *what, int id)
{
	struct leak *lk = leak_find(s, kind, arena_printf("%s %d", what, id));

	test_case("%s %d, %s", what, id, way);
	CHECK(lk != NULL);
	return lk;
}

static void check_shm(struct host_scan *s, int one, int two, pid_t r, pid_t o)
{
	struct leak *lk = sysv_leak(s, LK(SYSV_SHM), "shmid", one);

	if (lk) {
		CHECK_INT(lk->default_policy, ==, LP(FAIL));
		CHECK_UINT(lk->nchoices, ==, 1);
		CHECK(choice(lk, LP(FAIL)) != NULL);
		CHECK(lk->standalone);
		CHECK_UINT(lk->ninside, ==, 1);
		CHECK(holds_prefix(lk->inside, 1, r, "attached at 0x"));
		CHECK_UINT(lk->noutside, ==, 1);
		CHECK(holds_prefix(lk->outside, 1, o, "attached at 0x"));
		CHECK_CONTAINS(lk->summary, "attached 2 times: 1 by the tree");
		CHECK_CONTAINS(lk->summary, "by 1 process outside it");
		CHECK_CONTAINS(lk->criu, "doesn't live in IPC ns");
		CHECK_CONTAINS(lk->risk, "Outside processes use the same memory");
	}
	/* attached by the tree alone, but in the host's (the helper's) IPC namespace */
	lk = sysv_leak(s, LK(SYSV_SHM), "shmid", two);
	if (lk) {
		CHECK_UINT(lk->ninside, ==, 1);
		CHECK_UINT(lk->noutside, ==, 0);
		CHECK_CONTAINS(lk->summary, "8192 bytes");
		CHECK_CONTAINS(lk->risk, "not the tree's alone");
	}
}

static void test_shm(void)
{
	int one = shmget(IPC_PRIVATE, 4096, 0600), two = shmget(IPC_PRIVATE, 8192, 0600);
	int outside_ids[] = { one, -1 }, tree_ids[] = { one, two, -1 };
	pid_t o = one >= 0 && two >= 0 ? spawn_call(attach, outside_ids, NULL) : -1;
	pid_t r = o > 0 ? spawn_call(attach, tree_ids, NULL) : -1;
	struct host_scan s;

	/* removed when the last attacher is gone, whatever happens below */
	if (one >= 0)
		shmctl(one, IPC_RMID, NULL);
	if (two >= 0)
		shmctl(two, IPC_RMID, NULL);
	test_case("shm segments, %s", way);
	CHECK_INT(one, >=, 0);
	CHECK_INT(two, >=, 0);
	CHECK_INT(o, >, 0);
	CHECK_INT(r, >, 0);
	if (o > 0 && r > 0 && SCAN_OK(r, &s)) {
		check_shm(&s, one, two, r, o);
		leaks_scan_free(&s);
	}
	reap(r);
	reap(o);
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

static void check_other_ns(struct host_scan *s, const struct join_shm *j, pid_t r, pid_t o)
{
	const struct host_proc *p = host_find(s, r);
	struct leak *lk = sysv_leak(s, LK(SYSV_SHM), "shmid", j->shmid);

	if (lk) {
		CHECK(holds_prefix(lk->inside, lk->ninside, r, "attached at 0x"));
		CHECK(holder(lk->outside, lk->noutside, o) != NULL);
		CHECK_CONTAINS(lk->summary, "attached 2 times");
		CHECK_CONTAINS(lk->criu, "whole");
	}
	test_case("the tree's IPC namespace, %s", way);
	CHECK(p != NULL);
	if (p)
		CHECK(leak_find(s, LK(IPC_NS), arena_printf("ipc:[%llu]", (unsigned long long)p->ns[NS_IPC])) != NULL);
}

/* The tree's IPC namespace is not the helper's: read by entering it. */
static void test_other_ns(void)
{
	struct join_shm j = { .shmid = -1 };
	pid_t o = spawn_call(private_ipc, NULL, &j.shmid), r;
	uint64_t self_ipc = ns_inode(getpid(), "ipc");
	struct host_scan s;

	test_case("a segment of another IPC namespace, %s", way);
	j.pid = o;
	r = o > 0 ? spawn_call(join_ipc, &j, NULL) : -1;
	CHECK_INT(o, >, 0);
	CHECK_INT(r, >, 0);
	if (o > 0 && r > 0 && SCAN_OK(r, &s)) {
		check_other_ns(&s, &j, r, o);
		leaks_scan_free(&s);
	}
	test_case("the helper came back to its own IPC namespace, %s", way);
	CHECK_UINT(self_ipc, !=, 0);
	CHECK_UINT(ns_inode(getpid(), "ipc"), ==, self_ipc);
	reap(r);
	reap(o);	/* the namespace and its segment go with the last of them */
}

/* ---- semaphores and message queues ------------------------------------------------------ */

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

static void check_sem_msg(struct host_scan *s, pid_t r, pid_t o)
{
	struct leak *lk = sysv_leak(s, LK(SYSV_SEM), "semid", semid);

	if (lk) {
		CHECK_INT(lk->default_policy, ==, LP(WARN));
		CHECK(choice(lk, LP(IGNORE)) != NULL);
		CHECK(choice(lk, LP(FAIL)) != NULL);
		CHECK(lk->standalone);
		CHECK(holds(lk->inside, lk->ninside, r, "operated last on one of its semaphores"));
		CHECK_UINT(lk->noutside, ==, 0);
		CHECK_CONTAINS(lk->summary, "2 semaphores");
		CHECK_CONTAINS(lk->criu, "does not dump");
	}
	lk = sysv_leak(s, LK(SYSV_MSG), "msqid", msqid);
	if (lk) {
		CHECK_INT(lk->default_policy, ==, LP(WARN));
		CHECK(choice(lk, LP(IGNORE)) != NULL);
		CHECK(choice(lk, LP(FAIL)) != NULL);
		CHECK(holds(lk->inside, lk->ninside, r, "sent the last message"));
		CHECK(holds(lk->outside, lk->noutside, o, "received the last message"));
		CHECK_CONTAINS(lk->summary, "1 message,");
		CHECK_CONTAINS(lk->summary, "8 bytes queued");
	}
}

static void test_sem_msg(void)
{
	pid_t r = -1, o = -1;
	struct host_scan s;

	way = "semaphores and queues";
	test_case("semaphores and message queues");
	semid = semget(IPC_PRIVATE, 2, 0600);
	msqid = msgget(IPC_PRIVATE, 0600);
	CHECK_INT(semid, >=, 0);
	CHECK_INT(msqid, >=, 0);
	if (semid >= 0 && msqid >= 0) {
		r = spawn_call(use_ipc_tree, NULL, NULL);
		o = r > 0 ? spawn_call(use_ipc_outside, NULL, NULL) : -1;
	}
	CHECK_INT(r, >, 0);
	CHECK_INT(o, >, 0);
	if (r > 0 && o > 0 && SCAN_OK(r, &s)) {
		check_sem_msg(&s, r, o);
		leaks_scan_free(&s);
	}
	reap(o);
	reap(r);
	if (semid >= 0)
		semctl(semid, 0, IPC_RMID);
	if (msqid >= 0)
		msgctl(msqid, IPC_RMID, NULL);
}

TEST_GROUP(leak_sysv)
{
	test_parse();
	/* attachments found with PROCMAP_QUERY (where the kernel has it), then in the text of maps */
	for (int text = 0; text < 2; text++) {
		leak_maps_text = text;
		way = text ? "the text of maps" : "PROCMAP_QUERY where it works";
		test_shm();
		test_other_ns();
	}
	leak_maps_text = false;
	test_sem_msg();
	arena_free_all();
}
