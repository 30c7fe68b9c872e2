/* SPDX-License-Identifier: MIT */
/* Tests of proc.c: /proc/PID/stat, terminals, trees, threads, command lines, uids, namespaces. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "lists.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"
#include "service.h"

#define NO_PID 4194000		/* above any pid this host hands out (pid_max is at most 4194304) */

static const struct stat_case {
	const char *line;
	pid_t pid;
	const char *comm;
	char state;
	pid_t ppid, pgid, sid;
	uint32_t tty_nr;
} stat_cases[] = {
	{ "1234 (my (odd) prog) S 1 1234 1234 34816 1234 4194560 0 0", 1234, "my (odd) prog", 'S', 1, 1234, 1234,
	  34816 },
	{ "7 (a) b) R 0 0 0 0", 7, "a) b", 'R', 0, 0, 0, 0 },
	{ "9 () Z 3 4 5 0", 9, "", 'Z', 3, 4, 5, 0 },
};

static void test_parse_stat(void)
{
	static const char *const bad[] = { "garbage", "12 (x) S", "0 (x) S 1 1 1 0", "12 x) S 1 1 1 0" };
	struct proc_stat st;

	for (size_t i = 0; i < ARRAY_SIZE(stat_cases); i++) {
		const struct stat_case *c = &stat_cases[i];

		test_case("%s", c->line);
		CHECK_INT(parse_proc_stat(c->line, &st), ==, 0);
		CHECK_INT(st.pid, ==, c->pid);
		CHECK_STR(st.comm, ==, c->comm);
		CHECK_INT(st.state, ==, c->state);
		CHECK_INT(st.ppid, ==, c->ppid);
		CHECK_INT(st.pgid, ==, c->pgid);
		CHECK_INT(st.sid, ==, c->sid);
		CHECK_UINT(st.tty_nr, ==, c->tty_nr);
		CHECK_UINT(st.vsize, ==, 0);	/* the line ends before it */
	}
	test_case("a whole line: its start time (22nd field) and size (23rd)");
	CHECK_INT(parse_proc_stat("42 (w) S 1 42 42 0 -1 4194560 94 0 0 0 1 2 0 0 20 0 1 0 777123 2265088 "
				  "300 18446744073709551615", &st), ==, 0);
	CHECK_UINT(st.start_ticks, ==, 777123);
	CHECK_UINT(st.vsize, ==, 2265088);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		test_case("refused: %s", bad[i]);
		errno = 0;
		CHECK_INT(parse_proc_stat(bad[i], &st), ==, -1);
		CHECK_INT(errno, ==, EINVAL);
	}
}

static void test_read_stat(void)
{
	struct proc_stat st;

	test_case("this process");
	CHECK_INT(read_proc_stat(getpid(), &st), ==, 0);
	CHECK_INT(st.pid, ==, getpid());
	CHECK_INT(st.ppid, ==, getppid());
	CHECK_INT(st.pgid, ==, getpgrp());
	CHECK_INT(st.sid, ==, getsid(0));
	CHECK_INT(st.state, ==, 'R');
	CHECK_STR(st.comm, ==, "unit-tests");
	CHECK_UINT(st.vsize, >, 0);
	CHECK_UINT(st.start_ticks, >, 0);
	CHECK(pid_exists(getpid()));
	test_case("a pid no process has");
	CHECK_INT(read_proc_stat(NO_PID, &st), ==, -1);
	CHECK(!pid_exists(NO_PID));
	CHECK(!pid_exists(0));
	CHECK(!pid_exists(-1));
}

static const struct tty_case {
	uint32_t tty_nr;
	int ret;
	const char *path;
} tty_cases[] = {
	{ 0, 0, "" },
	{ 34816, 0, "/dev/pts/0" },
	{ (136 << 8) | 3, 0, "/dev/pts/3" },
	{ (137 << 8) | 44, 0, "/dev/pts/300" },			/* major 137 minor 44 */
	{ (136 << 8) | (0x1 << 20) | 0x02, 0, "/dev/pts/258" },	/* minor above 255: bits 20-31 */
	{ (4 << 8) | 1, 0, "/dev/tty1" },
	{ (4 << 8) | 64, 0, "/dev/ttyS0" },
	{ (5 << 8) | 0, 0, "/dev/tty" },
	{ (5 << 8) | 1, 0, "/dev/console" },
	{ (5 << 8) | 2, 0, "/dev/ptmx" },
	{ (3 << 8) | 0x12, 0, "/dev/ttyq2" },
	{ (99 << 8) | 1, -1, "" },
};

static void test_tty(void)
{
	char out[64];

	for (size_t i = 0; i < ARRAY_SIZE(tty_cases); i++) {
		test_case("tty_nr %#x", tty_cases[i].tty_nr);
		CHECK_INT(decode_tty_nr(tty_cases[i].tty_nr, out, sizeof(out)), ==, tty_cases[i].ret);
		CHECK_STR(out, ==, tty_cases[i].path);
	}
}

/* Whether a listing of /proc, read with next, holds pid. */
static bool listing_has(pid_t pid, bool with_stat)
{
	struct proc_stat st;
	DIR *d = opendir("/proc");
	bool found = false;
	pid_t p;

	if (!d)
		return false;
	while (!found && (p = with_stat ? next_proc(d, &st) : next_pid(d)))
		found = p == pid && (!with_stat || st.pid == pid);
	closedir(d);
	return found;
}

static void test_tree(pid_t child, pid_t grandchild)
{
	struct pidlist l = { 0 };
	struct herr e = { 0 };

	test_case("the tree of a child that forked a grandchild");
	CHECK_OK(proc_tree(child, &l, &e), &e);
	CHECK_UINT(l.n, ==, 2);
	if (l.n == 2) {
		CHECK_INT(l.v[0], ==, child);
		CHECK_INT(l.v[1], ==, grandchild);
	}
	test_case("the tree of this process: itself first, then its descendants");
	CHECK_OK(proc_tree(getpid(), &l, &e), &e);
	CHECK_UINT(l.n, >=, 3);
	CHECK_INT(l.n ? l.v[0] : 0, ==, getpid());
	CHECK(pidlist_has(&l, child));
	CHECK(pidlist_has(&l, grandchild));
	CHECK(!pidlist_has(&l, getppid()));
	test_case("a pid no process has");
	CHECK_INT(proc_tree(NO_PID, &l, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NO_SUCH_PROCESS));
	CHECK_INT(e.errnum, ==, ESRCH);
	CHECK_STR(e.msg, ==, "process 4194000 does not exist");
	CHECK_UINT(l.n, ==, 0);
	pidlist_free(&l);
}

static void test_all(pid_t child, pid_t grandchild)
{
	const pid_t want[] = { 1, getppid(), getpid(), child, grandchild };
	struct pidlist l = { 0 };
	struct herr e = { 0 };
	size_t twice = 0;

	CHECK_OK(proc_all(&l, &e), &e);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		test_case("every process holds %d", want[i]);
		CHECK(pidlist_has(&l, want[i]));
		CHECK(listing_has(want[i], false));
		CHECK(listing_has(want[i], true));
	}
	test_case("every process, once each");
	for (size_t i = 0; i < l.n; i++)
		for (size_t k = i + 1; k < l.n; k++)
			twice += l.v[i] == l.v[k];
	CHECK_UINT(twice, ==, 0);
	pidlist_free(&l);
}

static void test_ancestry(pid_t child, pid_t grandchild)
{
	const struct {
		pid_t pid;
		bool ancestor;
	} cases[] = {
		{ getpid(), true }, { getppid(), true }, { 1, true },
		{ child, false }, { grandchild, false }, { NO_PID, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("pid %d", cases[i].pid);
		CHECK_INT(is_self_or_ancestor(cases[i].pid), ==, cases[i].ancestor);
	}
}

static void test_processes(void)
{
	pid_t grandchild, child = spawn_family(&grandchild);

	CHECK_INT(child, >, 0);
	if (child <= 0)
		return;
	test_tree(child, grandchild);
	test_all(child, grandchild);
	test_ancestry(child, grandchild);
	end_all(&child, 1);
	CHECK(no_children());
}

/* ---- threads, command lines, uids, namespaces --------------------------------- */

struct worker {
	int tid[2];		/* the worker writes its tid on it */
	int release[2];		/* then waits for the test to close this */
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	pid_t tid = gettid();
	char c;

	pthread_setname_np(pthread_self(), "ckpt-worker");
	if (write(w->tid[1], &tid, sizeof(tid)) == sizeof(tid))
		while (read(w->release[0], &c, 1) > 0)
			;
	return NULL;
}

/* The index of tid among t's threads, -1 when it is not there. */
static ssize_t thread_index(const struct proc_threads *t, pid_t tid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->tids[i] == tid)
			return i;
	return -1;
}

static void test_threads(void)
{
	struct worker w;
	struct proc_threads t;
	pthread_t th;
	pid_t tid = -1;
	ssize_t i;

	CHECK_INT(pipe(w.tid), ==, 0);
	CHECK_INT(pipe(w.release), ==, 0);
	CHECK_INT(pthread_create(&th, NULL, worker_run, &w), ==, 0);
	CHECK_INT(read(w.tid[0], &tid, sizeof(tid)), ==, sizeof(tid));
	read_threads(getpid(), &t);
	test_case("the main thread");
	i = thread_index(&t, getpid());
	CHECK_INT(i, >=, 0);
	CHECK_STR(i >= 0 ? t.names[i] : NULL, ==, "unit-tests");
	test_case("a thread named by pthread_setname_np");
	i = thread_index(&t, tid);
	CHECK_INT(i, >=, 0);
	CHECK_STR(i >= 0 ? t.names[i] : NULL, ==, "ckpt-worker");
	close(w.release[1]);
	pthread_join(th, NULL);
	close(w.release[0]);
	close(w.tid[0]);
	close(w.tid[1]);
	test_case("a pid no process has: no threads");
	read_threads(NO_PID, &t);
	CHECK_UINT(t.n, ==, 0);
	arena_free_all();
}

static void test_cmdline(void)
{
	/* a shell that stays (sleep would refuse "two words" and end before its arguments are read) */
	char *const argv[] = { "sh", "-c", "while :; do sleep 1; done", "two words", "", NULL };
	pid_t pid = spawn_exec("/bin/sh", argv);
	char **got;
	size_t argc = 99;

	CHECK_INT(pid, >, 0);
	/* the child reads as its parent until its exec is done */
	for (int i = 0; i < 400; i++) {
		CHECK_OK(read_cmdline(pid, &got, &argc), NULL);
		if (argc == 5 && strcmp(got[0], "sh") == 0)
			break;
		sleep_ms(5);
	}
	CHECK_UINT(argc, ==, 5);
	for (size_t i = 0; i < argc && i < 5; i++) {
		test_case("argument %zu", i);
		CHECK_STR(got[i], ==, argv[i]);
	}
	reap(pid);
	test_case("a pid no process has");
	CHECK_INT(read_cmdline(NO_PID, &got, &argc), ==, -1);
	CHECK_UINT(argc, ==, 0);
	CHECK(got == NULL);
	arena_free_all();
}

/* parse_cmdline of the n bytes at buf, copied to a buffer of exactly n (ASan sees a read past it): the arguments. */
static char **cmdline_of(const char *buf, size_t n, size_t *argc)
{
	char *exact = malloc(n ? n : 1), **argv = NULL;

	CHECK(exact != NULL);
	if (!exact)
		return NULL;
	memcpy(exact, buf, n);
	*argc = 99;
	parse_cmdline(exact, n, &argv, argc);
	free(exact);
	CHECK(argv != NULL);
	if (argv)
		CHECK(argv[*argc] == NULL);
	return argv;
}

static const struct cmdline_case {
	const char *what, *bytes;
	size_t len, argc;
	const char *argv[4];
} cmdline_cases[] = {
	{ "arguments, each with its NUL", "sh\0-c\0two words\0", 16, 3, { "sh", "-c", "two words" } },
	{ "an empty argument", "a\0\0b\0", 5, 3, { "a", "", "b" } },
	{ "no NUL after the last (rewritten by the program)", "nginx: worker\0x", 15, 2, { "nginx: worker", "x" } },
	{ "one argument without any NUL", "kworker", 7, 1, { "kworker" } },
	{ "no bytes (a kernel thread, a zombie)", "", 0, 0, { NULL } },
	{ "NULs alone", "\0\0\0", 3, 3, { "", "", "" } },
	{ "bytes that are not text", "\xff\x01\n\0\x80", 5, 2, { "\xff\x01\n", "\x80" } },
};

static void test_parse_cmdline(void)
{
	size_t argc, big = 1 << 20;
	char **argv, *huge;

	for (size_t i = 0; i < ARRAY_SIZE(cmdline_cases); i++) {
		const struct cmdline_case *c = &cmdline_cases[i];

		test_case("%s", c->what);
		argv = cmdline_of(c->bytes, c->len, &argc);
		CHECK_UINT(argc, ==, c->argc);
		for (size_t k = 0; argv && k < argc && k < c->argc; k++)
			CHECK_STR(argv[k], ==, c->argv[k]);
	}
	/* as large as read_cmdline reads: a program that zeroed its arguments, one that wrote a long title */
	huge = calloc(1, big);
	CHECK(huge != NULL);
	if (huge) {
		test_case("a megabyte of NULs");
		argv = cmdline_of(huge, big, &argc);
		CHECK_UINT(argc, ==, big);
		CHECK_STR(argv ? argv[big - 1] : NULL, ==, "");
		test_case("a megabyte without a NUL");
		memset(huge, 'x', big);
		argv = cmdline_of(huge, big, &argc);
		CHECK_UINT(argc, ==, 1);
		CHECK_UINT(argv ? strlen(argv[0]) : 0, ==, big);
		free(huge);
	}
	arena_free_all();
}

static int become_uid_1234(void *arg)
{
	(void)arg;
	return setresuid(1234, 1234, 1234);
}

static void test_uid(void)
{
	pid_t pid = spawn_call(become_uid_1234, NULL, NULL);

	test_case("a child that became uid 1234");
	CHECK_INT(pid, >, 0);
	CHECK_UINT(read_uid(pid), ==, 1234);
	reap(pid);
	test_case("this process");
	CHECK_UINT(read_uid(getpid()), ==, getuid());
	test_case("a pid no process has");
	CHECK_UINT(read_uid(NO_PID), ==, (uint32_t)-1);
}

static int new_uts(void *arg)
{
	(void)arg;
	return unshare(CLONE_NEWUTS);
}

/* pid's namespaces as read_ns_inodes and ns_inode see them, against stat's inode of each link. */
static void check_namespaces(pid_t pid, uint64_t ino[NS_KINDS])
{
	read_ns_inodes(pid, ino);
	for (int i = 0; i < NS_KINDS; i++) {
		char *path = arena_printf("/proc/%d/ns/%s", pid, ns_names[i]);
		struct stat st = { 0 };

		test_case("%s", path);
		CHECK_INT(stat(path, &st), ==, 0);
		CHECK_UINT(ino[i], ==, st.st_ino);
		CHECK_UINT(ns_inode(pid, ns_names[i]), ==, st.st_ino);
		CHECK_UINT(ino[i], !=, 0);
	}
}

static void test_namespaces(void)
{
	uint64_t self[NS_KINDS], other[NS_KINDS];
	pid_t pid = spawn_call(new_uts, NULL, NULL);

	check_namespaces(getpid(), self);
	CHECK_INT(pid, >, 0);
	if (pid > 0) {
		check_namespaces(pid, other);
		for (int i = 0; i < NS_KINDS; i++) {
			test_case("a child in a uts namespace of its own: %s", ns_names[i]);
			if (i == NS_UTS)
				CHECK_UINT(other[i], !=, self[i]);
			else
				CHECK_UINT(other[i], ==, self[i]);
		}
		reap(pid);
	}
	read_ns_inodes(NO_PID, other);
	for (int i = 0; i < NS_KINDS; i++) {
		test_case("a pid no process has: %s", ns_names[i]);
		CHECK_UINT(other[i], ==, 0);
		CHECK_UINT(ns_inode(NO_PID, ns_names[i]), ==, 0);
	}
	arena_free_all();
}

TEST_GROUP(proc)
{
	test_parse_stat();
	test_read_stat();
	test_tty();
	test_processes();
	test_threads();
	test_parse_cmdline();
	test_cmdline();
	test_uid();
	test_namespaces();
	CHECK(no_children());
}
