/* SPDX-License-Identifier: MIT */
/*
 * Tests of lazy_supervisor.c's own helpers; the supervisor's life (the
 * daemon started, held, its failure killing the restored processes) is
 * tested through lazy.c in test_lazy.c, with the fake CRIU's daemon.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "lazy_supervisor.h"
#include "check.h"

static void test_lock_path(void)
{
	test_case("the busy lock of a checkpoint is <store>/.lazy/<id>");
	CHECK_STR(lazy_lock_path("/var/lib/ckpt", "20261206-120000-ab12"), ==, "/var/lib/ckpt/.lazy/20261206-120000-ab12");
	arena_free_all();
}

static void test_wait_status(void)
{
	pid_t child = fork();
	int status;

	test_case("a child's wait status, an exit and a signal");
	if (child == 0)
		_exit(3);
	status = lazy_wait_status(child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	child = fork();
	if (child == 0)
		for (;;)
			pause();
	kill(child, SIGKILL);
	status = lazy_wait_status(child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	test_case("no such child: -1");
	CHECK_INT(lazy_wait_status(child), ==, -1);
}

TEST_GROUP(lazy_supervisor)
{
	test_lock_path();
	test_wait_status();
}
