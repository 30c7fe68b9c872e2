/* SPDX-License-Identifier: MIT */
/* Tests of fault.c: --fault specs taken or refused, points failing with their errno, cleared. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "util.h"
#include "check.h"

/* POINT=KILL: the process dies at that point, by SIGKILL, and not before. */
static void test_kill(void)
{
	int status = 0;
	pid_t pid;

	test_case("POINT=KILL: killed at the point");
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (fault_add("criu-post-dump=KILL") || fault_at("manifest-final"))
			_exit(2);
		fault_at("criu-post-dump");
		_exit(3);
	}
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	test_case("-2 is no errno, nor KILL in other letters");
	CHECK_INT(fault_add("x=-2"), ==, -1);
	CHECK_INT(fault_add("x=kill"), ==, -1);
}

/* POINT=PAUSE: the point waits, then goes on without failing. */
static void test_pause(void)
{
	uint64_t t0;

	test_case("POINT=PAUSE: a while at the point, then no failure");
	CHECK_INT(fault_add("delete-remove=PAUSE"), ==, 0);
	t0 = now_us();
	errno = 0;
	CHECK_INT(fault_at("delete-remove"), ==, 0);
	CHECK_UINT(now_us() - t0, >=, FAULT_PAUSE_MS * 1000ULL);
	CHECK_INT(errno, ==, 0);
	test_case("other points do not wait");
	t0 = now_us();
	CHECK_INT(fault_at("manifest-final"), ==, 0);
	CHECK_UINT(now_us() - t0, <, FAULT_PAUSE_MS * 1000ULL);
	fault_clear();
}

TEST_GROUP(fault)
{
	test_case("no fault asked: every point goes");
	CHECK_INT(fault_at("manifest-final"), ==, 0);

	test_case("POINT=ENAME and POINT=number taken; the point fails with it, errno set");
	CHECK_INT(fault_add("manifest-final=ENOSPC"), ==, 0);
	CHECK_INT(fault_add("rename-final=5"), ==, 0);
	errno = 0;
	CHECK_INT(fault_at("manifest-final"), ==, ENOSPC);
	CHECK_INT(errno, ==, ENOSPC);
	CHECK_INT(fault_at("rename-final"), ==, EIO);
	CHECK_INT(fault_at("manifest-first"), ==, 0);

	test_case("refused: no =, no point, no such errno, 0, too long a point");
	CHECK_INT(fault_add("manifest-final"), ==, -1);
	CHECK_INT(fault_add("=ENOSPC"), ==, -1);
	CHECK_INT(fault_add("x=ENOTHING"), ==, -1);
	CHECK_INT(fault_add("x=0"), ==, -1);
	CHECK_INT(fault_add("a-point-name-longer-than-thirty-one=EIO"), ==, -1);

	test_case("at most FAULT_MAX_POINTS");
	for (int i = 2; i < FAULT_MAX_POINTS; i++)
		CHECK_INT(fault_add("p=EIO"), ==, 0);
	CHECK_INT(fault_add("one-more=EIO"), ==, -1);

	test_case("cleared: every point goes again");
	fault_clear();
	CHECK_INT(fault_at("manifest-final"), ==, 0);
	test_kill();
	test_pause();
}
