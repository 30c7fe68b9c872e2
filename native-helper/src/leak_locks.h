/* SPDX-License-Identifier: MIT */
/* The leak detector of file locks. */
#ifndef CKPT_LEAK_LOCKS_H
#define CKPT_LEAK_LOCKS_H

#include "err.h"
#include "leak_scan.h"

/* Adds a leak per file the tree locks (s->fds read, with the tree's locks). */
int detect_file_locks(struct host_scan *s, struct herr *e);

#endif
