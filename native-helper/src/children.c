/* SPDX-License-Identifier: MIT */
/* The helper's children reaped, each end told to whom it belongs. */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "children.h"
#include "gdb_run.h"
#include "lazy.h"
#include "program.h"

void reap_children(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!lazy_reaped(pid, status) && !gdb_run_reaped(pid, status))
			program_reaped(pid, status);
}
