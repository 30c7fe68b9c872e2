/* SPDX-License-Identifier: MIT */
/*
 * Programs the helper launched (or restored with their output) and the
 * children it reaps: starting them, reading their stdout and stderr pipes
 * from the main loop, reporting their output and end as events.
 */
#ifndef CKPT_PROGRAM_H
#define CKPT_PROGRAM_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define MAX_PROGRAMS 64			/* programs whose output the helper reads */
#define MAX_LAUNCH_ARGS 4096u		/* args, and env entries, per launch */

struct launch_spec {
	const char *program;
	char *const *argv;	/* NULL-terminated; argv[0] is program */
	char *const *envp;	/* NULL-terminated: the whole environment */
	const char *cwd;
	bool stopped;		/* left in a job-control stop at its first instruction */
};

/*
 * Starts a program whose output and exit the helper reports as events
 * carrying request id; an exec that fails is this call's error.
 */
int program_launch(const struct launch_spec *s, uint32_t id, pid_t *pid, struct herr *e);
/* Opens the pipes a restored program will write to (out/err: read, write ends). */
int program_pipes_open(int out[2], int err[2], struct herr *e);
/* Reports the output of restored root, read from out_fd and err_fd (taken). */
void program_adopt(pid_t root, uint32_t id, int out_fd, int err_fd);
/* CRIU's ids of the output pipes of the program pid is (or descends from); -1: none. */
int program_pipe_ids(pid_t pid, uint32_t *out_id, uint32_t *err_id);
/* Whether one more program's output can be read (MAX_PROGRAMS). */
bool program_room(void);
/* The pipes to poll (at most max); program_poll_done reads the ready ones. */
size_t program_poll_fds(struct pollfd *pfd, size_t max);
void program_poll_done(const struct pollfd *pfd, size_t n);
/* A child was reaped: when it was a program's root, its end is reported (after its output). */
void program_reaped(pid_t pid, int status);
/* At exit: kills every running program's tree, without events. */
void program_kill_all(void);

#endif
