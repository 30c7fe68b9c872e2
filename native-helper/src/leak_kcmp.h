/* SPDX-License-Identifier: MIT */
/* The leak detector of task state shared with outside tasks: fd table, fs info, address space (kcmp). */
#ifndef CKPT_LEAK_KCMP_H
#define CKPT_LEAK_KCMP_H

#include "err.h"
#include "leak_scan.h"

/* Uses each process's descriptor count: the descriptor table is read first. */
int detect_shared_tasks(struct host_scan *s, struct herr *e);

#endif
