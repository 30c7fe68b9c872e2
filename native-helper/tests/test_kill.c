/* SPDX-License-Identifier: MIT */
/* Tests of kill.c: real process trees killed, a frozen one included. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
	CHECK_OK(freeze_tree(child, 0, &t, &e), &e);
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

TEST_GROUP(kill)
{
	test_family();
	test_no_tree();
	test_frozen();
	CHECK(no_children());
}
