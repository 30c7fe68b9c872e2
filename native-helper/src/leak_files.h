/* SPDX-License-Identifier: MIT */
/* The leak detector of open files: pipes, FIFOs, memfds, deleted and volatile files. */
#ifndef CKPT_LEAK_FILES_H
#define CKPT_LEAK_FILES_H

#include "err.h"
#include "leak_scan.h"

/* Adds the leaks of the tree's open files (s->fds read). */
int detect_files(struct host_scan *s, struct herr *e);

#endif
