/* SPDX-License-Identifier: MIT */
/* The leak detector of terminals: ptys shared with the outside, controlling terminals. */
#ifndef CKPT_LEAK_TERMINALS_H
#define CKPT_LEAK_TERMINALS_H

#include "err.h"
#include "leak_scan.h"

/* Adds the leaks of the terminals the tree uses (s->fds read). */
int detect_terminals(struct host_scan *s, struct herr *e);

#endif
