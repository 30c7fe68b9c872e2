/* SPDX-License-Identifier: MIT */
/* The debug status CRIU's parasite leaves behind, cleared before a debugger comes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "debugregs.h"
#include "proc.h"

#if defined(__x86_64__)

#define DR_STATUS_OFFSET (offsetof(struct user, u_debugreg) + 6 * sizeof(unsigned long))

/*
 * PTRACE_INTERRUPT reaches a task in a frozen cgroup too (ptrace traps go
 * before the freezer's), and detaching leaves it where it was: frozen,
 * stopped or running.
 */
int debug_status_clear_thread(pid_t tid)
{
	int status, err = 0;

	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL))
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) || waitpid(tid, &status, __WALL) != tid) {
		err = -errno;
		goto detach;
	}
	if (ptrace(PTRACE_POKEUSER, tid, (void *)DR_STATUS_OFFSET, NULL))
		err = -errno;
detach:
	ptrace(PTRACE_DETACH, tid, NULL, NULL);
	return err;
}

#else

int debug_status_clear_thread(pid_t tid)
{
	(void)tid;
	return 0;
}

#endif

int debug_status_clear(const struct pidlist *pids)
{
	int failed = 0;

	for (size_t i = 0; i < pids->n; i++) {
		struct proc_threads t;

		read_threads(pids->v[i], &t);
		for (size_t k = 0; k < t.n; k++) {
			int err = debug_status_clear_thread(t.tids[k]);

			/* a thread that ended meanwhile has nothing to clear */
			if (err && err != -ESRCH) {
				fprintf(stderr, "checkpoint-helper: cannot clear the debug status of thread %d of %d: %s\n",
					t.tids[k], pids->v[i], strerror(-err));
				failed++;
			}
		}
	}
	return failed;
}
