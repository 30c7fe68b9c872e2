/* SPDX-License-Identifier: MIT */
/*
 * Checkpoints of one tree that share their unchanged pages. After a dump,
 * each page of a process whose bytes equal those its parent checkpoint
 * holds at the same address of the same pid is marked in the parent, and
 * the pages file keeps only the others: CRIU's own incremental format
 * (PE_PARENT runs, a "parent" link to ../<id>), which plain criu restore
 * and the image readers follow. Before a checkpoint others stand on is
 * deleted, each of them takes in the pages it read from it and stands on
 * its parent instead.
 *
 * A rewrite of one process's images can stop anywhere and leave them
 * readable: the new pages go to a pages file of a new id, the new pagemap
 * naming it is renamed over the old one, and only then is the old pages
 * file removed.
 */
#ifndef CKPT_PAGE_SHARE_H
#define CKPT_PAGE_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "lists.h"

/* Parent links a new checkpoint may stand on, at most: beyond, it keeps all its pages (and starts a chain). */
#define SHARE_MAX_CHAIN 16

struct share_stats {
	uint64_t shared_pages;	/* marked in the parent */
	uint64_t own_pages;	/* kept (or taken in) */
	uint64_t time_us;
};

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
 * them to let go).
 */
int share_chain_hold(int dirfd, struct fdlist *held, struct herr *e);
/*
 * Rewrites the new checkpoint dirfd (its dump just done: nothing in a
 * parent yet) over parent_id, a finished checkpoint beside it. When no page
 * is shared the checkpoint is left as it was, without a parent link; on an
 * error the images stay readable (what was rewritten keeps its link).
 */
int page_share(int dirfd, const char *parent_id, struct share_stats *st, struct herr *e);
/*
 * The checkpoints of store standing on checkpoint id (id's directory open
 * at dirfd, to be deleted) take in the pages they read from it and stand
 * on its parent, or on nothing. Their manifests say so. Each is locked while
 * it is rewritten; an error leaves every one readable (id not yet deleted).
 */
int page_unshare_children(const char *store, const char *id, int dirfd, struct herr *e);
/*
 * Deletes checkpoint id of store (a valid id), first handing what others
 * read from it to them; refused while a lazy restore reads it (BUSY).
 */
int page_share_delete(const char *store, const char *id, struct herr *e);

#endif
