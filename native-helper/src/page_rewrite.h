/* SPDX-License-Identifier: MIT */
/*
 * One pagemap of a checkpoint rewritten (page_share.c, page_unshare.c):
 * over a parent, pages with the parent's bytes marked in it; or, for a
 * checkpoint whose parent is deleted, the pages it read from it (depth 1)
 * taken in. Safe to interrupt anywhere: the new pages go to a pages file of
 * a new id, the new pagemap naming it is renamed over the old one, and only
 * then is the old pages file removed.
 */
#ifndef CKPT_PAGE_REWRITE_H
#define CKPT_PAGE_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pagemap.h"

/* Pagemaps of one checkpoint, at most: one per process (and shared memory object). */
#define MAX_PAGEMAPS 65536u

struct share_stats {
	uint64_t shared_pages;	/* marked in the parent */
	uint64_t own_pages;	/* kept (or taken in) */
	uint64_t time_us;
};

/* File names, kept in the request's arena (v is malloc'd: free it). */
struct pagemap_names {
	char **v;
	size_t n, cap;
};

/*
 * Pagemap name of dirfd rewritten: over parent (what the parent holds at
 * this pid), or, parent NULL, taking in what it reads from its parent
 * (depth 1) and reading the rest from the parent's parent. Left as it was
 * when nothing changes; st counts what it shares and holds. The caller has
 * dirfd to itself (its own .partial, or locked exclusively).
 */
int page_rewrite(int dirfd, const char *name, const struct pagemap *parent, struct share_stats *st, struct herr *e);
/* The pagemaps of dirfd (processes' only, or shared memory objects' too), listed before any is rewritten. */
int pagemap_names(int dirfd, bool processes_only, struct pagemap_names *out, struct herr *e);

#endif
