/* SPDX-License-Identifier: MIT */
/* Tests of kill.c: a tree killed through the service. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kill.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

typedef Checkpoint__Helper__V1__KillRequest KillRequest;

static HelperMessage *ask_kill(pid_t pid)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	KillRequest r = CHECKPOINT__HELPER__V1__KILL_REQUEST__INIT;
	size_t nevents;

	r.root_pid = pid;
	req.id = 52;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_KILL;
	req.kill = &r;
	return roundtrip_events(&req, &nevents);
}

static void test_kill_refused(void)
{
	const pid_t refused[] = { 1, 0, -7, getpid(), getppid() };
	HelperMessage *m;

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		m = ask_kill(refused[i]);
		CHECK(err_code(m) == EC(BAD_REQUEST));
		msg_free(m);
	}
	m = ask_kill(getppid());
	CHECK(err_mentions(m, "helper or one of its ancestors"));
	msg_free(m);
	m = ask_kill(4194000);
	CHECK(err_code(m) == EC(NO_SUCH_PROCESS) && err_mentions(m, "4194000"));
	msg_free(m);
}

/* A child that forks a grandchild; both wait for a signal. */
static pid_t family(pid_t *grandchild)
{
	int ready[2];
	pid_t child;

	*grandchild = -1;
	if (pipe(ready))
		return -1;
	child = fork();
	if (child == 0) {
		pid_t g = fork();

		if (g == 0)
			for (;;)
				pause();
		if (write(ready[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (child > 0 && read(ready[0], grandchild, sizeof(*grandchild)) != sizeof(*grandchild))
		*grandchild = -1;
	close(ready[0]);
	return child;
}

static void test_kill_tree(void)
{
	pid_t grandchild, child = family(&grandchild);
	struct proc_stat st;
	HelperMessage *m;
	const KillResult *r;

	CHECK(child > 0 && grandchild > 0);
	if (child <= 0 || grandchild <= 0)
		return;
	m = ask_kill(child);
	r = m && m->response->result_case == CHECKPOINT__HELPER__V1__RESPONSE__RESULT_KILL ? m->response->kill : NULL;
	CHECK(r && r->root_pid == child && r->n_killed_pids == 2);
	if (r && r->n_killed_pids == 2)
		CHECK(r->killed_pids[0] == child && r->killed_pids[1] == grandchild);
	msg_free(m);
	/* the child was ours to reap; the grandchild is gone or a zombie of its new parent */
	CHECK(!pid_exists(child));
	CHECK(read_proc_stat(grandchild, &st) || st.state == 'Z');
	CHECK(no_children());
}

static void kill_tests(void)
{
	test_kill_refused();
	test_kill_tree();
}

TEST_GROUP(kill)
{
	with_out_file(kill_tests);
}
