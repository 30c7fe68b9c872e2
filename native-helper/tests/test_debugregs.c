/* SPDX-License-Identifier: MIT */
/*
 * Tests of debugregs.c: the debug status a parasite's hardware breakpoint
 * leaves (set here by hand, as CRIU's leaves it) is cleared in every
 * thread of a process, which goes on as it was: running, or stopped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "debugregs.h"
#include "lists.h"
#include "proc.h"
#include "util.h"
#include "check.h"

#if defined(__x86_64__)

#define DR6 (offsetof(struct user, u_debugreg) + 6 * sizeof(unsigned long))
#define B0 0x1ul

static void *spin(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* A child with a second thread, both waiting in pause(). */
static pid_t start_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pthread_t t;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pthread_create(&t, NULL, spin, NULL);
		spin(NULL);
		_exit(0);
	}
	return pid;
}

/* Reads (and with set, writes) a thread's DR6 under a short ptrace of its own; -1 when it cannot. */
static long dr6_of(pid_t tid, bool set, unsigned long value)
{
	long v = -1;
	int status;

	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL))
		return -1;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) == 0 && waitpid(tid, &status, __WALL) == tid) {
		if (set)
			ptrace(PTRACE_POKEUSER, tid, (void *)DR6, (void *)value);
		errno = 0;
		v = ptrace(PTRACE_PEEKUSER, tid, (void *)DR6, NULL);
		if (errno)
			v = -1;
	}
	ptrace(PTRACE_DETACH, tid, NULL, NULL);
	return v;
}

static void threads_of(pid_t pid, struct proc_threads *t)
{
	for (int i = 0; i < 200; i++) {
		read_threads(pid, t);
		if (t->n == 2)
			return;
		sleep_ms(5);
	}
}

static void test_cleared(bool stopped)
{
	pid_t pid = start_child();
	struct pidlist pids = { .v = &pid, .n = 1 };
	struct proc_threads t;
	struct proc_stat st;

	test_case("the debug status of both threads of a %s process", stopped ? "stopped" : "running");
	threads_of(pid, &t);
	CHECK_UINT(t.n, ==, 2);
	for (size_t k = 0; k < t.n; k++)
		CHECK(((unsigned long)dr6_of(t.tids[k], true, B0) & B0) == B0);
	if (stopped) {
		kill(pid, SIGSTOP);
		for (int i = 0; i < 200 && read_proc_stat(pid, &st) == 0 && st.state != 'T'; i++)
			sleep_ms(5);
	}
	CHECK_INT(debug_status_clear(&pids), ==, 0);
	for (size_t k = 0; k < t.n; k++)
		CHECK_INT(dr6_of(t.tids[k], false, 0) & (long)B0, ==, 0);
	CHECK_INT(read_proc_stat(pid, &st), ==, 0);
	CHECK_INT(st.state, ==, stopped ? 'T' : 'S');
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_gone(void)
{
	pid_t pid = start_child();
	struct pidlist pids = { .v = &pid, .n = 1 };

	test_case("a process that ended meanwhile: nothing to clear, nothing said");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK_INT(debug_status_clear(&pids), ==, 0);
	CHECK_INT(debug_status_clear_thread(pid), ==, -ESRCH);
}

TEST_GROUP(debugregs)
{
	test_cleared(false);
	test_cleared(true);
	test_gone();
}

#else

TEST_GROUP(debugregs)
{
}

#endif
