/* SPDX-License-Identifier: MIT */
/*
 * Checkpoints of one tree that share their unchanged pages. After a dump,
 * each page of a process whose bytes equal those its parent checkpoint
 * holds at the same address of the same pid is marked in the parent, and
 * the pages file keeps only the others: CRIU's own incremental format
 * (PE_PARENT runs, a "parent" link to ../<id>), which plain criu restore
 * and the image readers follow (page_unshare.h: deleting one others stand
 * on; page_rewrite.h: the rewrite of one pagemap, safe to interrupt).
 */
#ifndef CKPT_PAGE_SHARE_H
#define CKPT_PAGE_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "lists.h"
#include "page_rewrite.h"

/* Parent links a new checkpoint may stand on, at most: beyond, it keeps all its pages (and starts a chain). */
#define SHARE_MAX_CHAIN 16

/*
 * How many parent links lead from checkpoint directory dirfd (0: none);
 * SHARE_MAX_CHAIN + 1 past the limit or a link that loops.
 */
unsigned share_chain_length(int dirfd);
/*
 * Locks checkpoint dirfd and each checkpoint it stands on shared, the
 * oldest first (as a delete locks them: no deadlock), for a reader that
 * follows the links (a restore, a page diff): a delete handing pages to
 * them waits until it is done. held gets the descriptors (fdlist_close
 * them to let go). dirfd is checkpoint id of store: one a delete removed
 * or hid while this waited for its lock is NOT_FOUND; a chain a delete
 * re-linked is opened again.
 */
int share_chain_hold(const char *store, int dirfd, const char *id, struct fdlist *held, struct herr *e);
/*
 * Rewrites the new checkpoint dirfd (its dump just done: nothing in a
 * parent yet) over parent_id, a finished checkpoint beside it. When no page
 * is shared the checkpoint is left as it was, without a parent link; on an
 * error the images stay readable (what was rewritten keeps its link).
 */
int page_share(int dirfd, const char *parent_id, struct share_stats *st, struct herr *e);

#endif
