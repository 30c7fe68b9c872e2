/* SPDX-License-Identifier: MIT */
/* Tests of kill.c: real process trees killed, a frozen one included. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "kill.h"
#include "lists.h"
#include "proc.h"
#include "wire.h"
#include "check.h"
#include "procs.h"
#include "service.h"

#define NO_PID 4194000

/* Processes of process group pgid that are not dead (zombies are). */
static size_t group_alive(pid_t pgid)
{
	struct proc_stat st;
	DIR *d = opendir("/proc");
	size_t n = 0;

	if (!d)
		return 0;
	while (next_proc(d, &st))
		n += st.pgid == pgid && st.state != 'Z' && st.state != 'X';
	closedir(d);
	return n;
}

/* Reaps child, killed by SIGKILL, and no other. */
static void reap_killed(pid_t child)
{
	int status = 0;

	CHECK_INT(waitpid(child, &status, 0), ==, child);
	CHECK(WIFSIGNALED(status));
	CHECK_INT(WIFSIGNALED(status) ? WTERMSIG(status) : 0, ==, SIGKILL);
}

static void test_family(void)
{
	pid_t grandchild, child = spawn_family(&grandchild);
	struct pidlist killed = { 0 };
	struct herr e = { 0 };
	struct proc_stat st;

	test_case("a child and its grandchild");
	CHECK_INT(child, >, 0);
	if (child <= 0)
		return;
	CHECK_OK(kill_tree(child, &killed, &e), &e);
	CHECK_UINT(killed.n, ==, 2);
	if (killed.n == 2) {
		CHECK_INT(killed.v[0], ==, child);	/* root first */
		CHECK_INT(killed.v[1], ==, grandchild);
	}
	/* gone: dead and left for its parent (here, this test) to reap */
	CHECK_INT(read_proc_stat(child, &st), ==, 0);
	CHECK_INT(st.state, ==, 'Z');
	CHECK_UINT(group_alive(child), ==, 0);
	reap_killed(child);
	CHECK(!pid_exists(child));
	pidlist_free(&killed);
}

static void test_no_tree(void)
{
	struct pidlist killed = { 0 };
	struct herr e = { 0 };

	test_case("a pid no process has");
	CHECK_INT(kill_tree(NO_PID, &killed, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NO_SUCH_PROCESS));
	CHECK_STR(e.msg, ==, "process 4194000 does not exist");
	CHECK_UINT(killed.n, ==, 0);
	pidlist_free(&killed);
}

/* A tree this helper froze dies too: let go of, its freeze cgroup removed. */
static void test_frozen(void)
{
	pid_t grandchild, child = spawn_family(&grandchild);
	struct frozen_tree *t = NULL;
	struct pidlist killed = { 0 };
	struct herr e = { 0 };
	struct stat st;
	char cgroup[4096] = "";

	test_case("a frozen tree");
	CHECK_INT(child, >, 0);
	if (child <= 0)
		return;
	CHECK_OK(freeze_tree(child, &(struct freeze_how){ 0 }, &t, &e), &e);
	if (t)
		memcpy(cgroup, t->cgroup, sizeof(cgroup));
	CHECK_OK(kill_tree(child, &killed, &e), &e);
	CHECK_UINT(killed.n, ==, 2);
	CHECK(frozen_find(child) == NULL);
	CHECK(frozen_find_member(grandchild) == NULL);
	CHECK_INT(stat(cgroup, &st), ==, -1);
	CHECK_UINT(group_alive(child), ==, 0);
	reap_killed(child);
	pidlist_free(&killed);
}

/*
 * A root, leader of its own process group, that forks a pausing child every
 * 200 microseconds, with nothing of the test's open (a survivor would hold
 * its output).
 */
static pid_t start_forker(void)
{
	pid_t root = fork();
	int null;

	if (root != 0) {
		if (root > 0)
			setpgid(root, root);
		return root;
	}
	setpgid(0, 0);
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	for (;;) {
		if (fork() == 0)
			for (;;)
				pause();
		usleep(200);
	}
}

/* Kills and reaps what a round left of group pgid (the orphans come to this subreaper). */
static void reap_group(pid_t pgid)
{
	kill(-pgid, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0 || group_alive(pgid))
		usleep(1000);
}

/* Whether root's tree has n processes within 5 s: a loaded machine schedules the forker late. */
static bool wait_forked(pid_t root, size_t n)
{
	for (int i = 0; i < 500; i++) {
		struct pidlist tree = { 0 };
		struct herr e = { 0 };
		size_t have = proc_tree(root, &tree, &e) == 0 ? tree.n : 0;

		pidlist_free(&tree);
		if (have >= n) {
			usleep(20000);
			return true;
		}
		usleep(10000);
	}
	return false;
}

/*
 * A tree forking as fast as it can: SIGSTOP takes a moment, and a process
 * inside fork() when it was sent adds its child after a scan. Nothing of
 * the tree may survive, round after round.
 */
static void test_forking(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (int round = 0; round < 20; round++) {
		pid_t root = start_forker();
		struct pidlist killed = { 0 };
		struct herr e = { 0 };

		test_case("a tree forking every 200 us, round %d", round);
		CHECK_INT(root, >, 0);
		if (root <= 0)
			break;
		/* some children (a hundred or so when the machine is idle), and still forking */
		CHECK(wait_forked(root, 4));
		CHECK_OK(kill_tree(root, &killed, &e), &e);
		CHECK_UINT(killed.n, >, 1);
		CHECK_UINT(group_alive(root), ==, 0);
		reap_group(root);
		pidlist_free(&killed);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_GROUP(kill)
{
	test_family();
	test_no_tree();
	test_frozen();
	test_forking();
	CHECK(no_children());
}
