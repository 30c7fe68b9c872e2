/* SPDX-License-Identifier: MIT */
/* Killing a process tree: stopped first, so no part of it forks away, then SIGKILL. */
#ifndef CKPT_KILL_H
#define CKPT_KILL_H

#include <sys/types.h>

#include "err.h"
#include "lists.h"

#define KILL_WAIT_MS 5000		/* how long killed processes may take to go */

/*
 * Stops, SIGKILLs and waits out the tree of root (a zombie is gone: its
 * parent reaps it); killed gets its pids, root first. A tree this helper
 * froze is let go of, so that it can die.
 */
int kill_tree(pid_t root, struct pidlist *killed, struct herr *e);

#endif
