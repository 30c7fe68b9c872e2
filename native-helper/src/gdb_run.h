/* SPDX-License-Identifier: MIT */
/*
 * GDB run for the client (gdb -q -nx -i=dap): its stdin fed with the DAP
 * messages the client sends, its stdout read from the main loop and told as
 * events. A gdb lives no longer than the helper: asked to stop, or at the
 * helper's end, it is sent a DAP disconnect (it detaches and takes its
 * breakpoints out of the program), then killed if it lingers; it dies with
 * the helper (PR_SET_PDEATHSIG) if the helper is killed.
 */
#ifndef CKPT_GDB_RUN_H
#define CKPT_GDB_RUN_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define MAX_GDBS 16			/* gdbs one helper runs at once */
#define GDB_STOP_MS 3000		/* how long a gdb told to disconnect may take to end */

/* Starts gdb at path; id names it, its events carry request_id. */
int gdb_run_start(const char *path, uint32_t request_id, uint32_t *id, pid_t *pid, struct herr *e);
/*
 * Length of the whole DAP messages at the start of data (each a
 * Content-Length header, a blank line and a body); -1 when data does not
 * end at the end of one.
 */
ssize_t dap_messages_length(const uint8_t *data, size_t len);
/* Feeds gdb id whole DAP messages (BAD_REQUEST otherwise). */
int gdb_run_send(uint32_t id, const uint8_t *data, size_t len, struct herr *e);
/*
 * Tells gdb id to disconnect, waits for its end (killing it after
 * GDB_STOP_MS); at_once: kills it at once (it let go of its process
 * already). *status as waitpid's.
 */
int gdb_run_stop(uint32_t id, bool at_once, int *status, struct herr *e);
/* The gdbs' output pipes to poll (at most max); gdb_run_poll_done reads the ready ones. */
size_t gdb_run_poll_fds(struct pollfd *pfd, size_t max);
void gdb_run_poll_done(const struct pollfd *pfd, size_t n);
/* A child was reaped: true when it was a gdb (its end is told after its output). */
bool gdb_run_reaped(pid_t pid, int status);
/* At the helper's end: every gdb told to disconnect, then killed if it lingers; no events. */
void gdb_run_stop_all(void);

#endif
