/* SPDX-License-Identifier: MIT */
/*
 * The pages that differ between two checkpoints of the store, compared
 * where the images are: for each process both hold (by pid), the runs of
 * pages held by both whose bytes differ (with how many bytes), and those
 * held by one only; the same for each shared memory object both hold (by
 * shmid, ranges as offsets in the object). Pages in a parent checkpoint are
 * followed; pages left for a lazy restore or whose parent is gone count as
 * not held.
 */
#ifndef CKPT_PAGE_DIFF_H
#define CKPT_PAGE_DIFF_H

#include "err.h"
#include "wire.h"

/* Ranges kept per process; beyond, the process's diff says truncated. */
#define PAGE_DIFF_MAX_RANGES 65536
/* Ranges kept in all (about 25 bytes each in the answer, which is one frame). */
#define PAGE_DIFF_MAX_TOTAL_RANGES 262144
/* Shared memory objects compared, at most (one per mapping of the tree, in practice a few). */
#define MAX_SHMEM_OBJECTS 4096

/* Fills out (arena memory) for checkpoints a and b (valid ids, finished). */
int page_diff(const char *store, const char *a, const char *b, PageDiffResult *out, struct herr *e);

#endif
