/* SPDX-License-Identifier: MIT */
/* The leak detector of shared memory: writable MAP_SHARED files and shared anonymous memory mapped outside too. */
#ifndef CKPT_LEAK_MEMORY_H
#define CKPT_LEAK_MEMORY_H

#include "err.h"
#include "leak_scan.h"

int detect_shared_memory(struct host_scan *s, struct herr *e);

#endif
