/* SPDX-License-Identifier: MIT */
#ifndef CKPT_DEBUGREGS_H
#define CKPT_DEBUGREGS_H

#include <sys/types.h>

#include "lists.h"

/*
 * CRIU stops a dumped task at the end of its parasite with a hardware
 * breakpoint and leaves the hit in the debug status register (DR6.B0) of
 * every thread it ran the parasite in. gdb attached later reads that bit
 * as a hardware breakpoint trap reported late, and ignores each stop that
 * follows: an interrupt, a signal, a pause never stop the process. This
 * clears the status of every thread of pids (x86-64; elsewhere nothing to
 * do). Best effort: a thread that cannot be reached is said on stderr.
 * Returns the number of threads that could not be cleared.
 */
int debug_status_clear(const struct pidlist *pids);

/* One thread: seized, interrupted, its DR6 set to 0, let go as it was. */
int debug_status_clear_thread(pid_t tid);

#endif
