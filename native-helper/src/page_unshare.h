/* SPDX-License-Identifier: MIT */
/*
 * Deleting a checkpoint others stand on (page_share.h): each of them first
 * takes in the pages it read from it and stands on its parent instead, or
 * on nothing; their manifests say so.
 */
#ifndef CKPT_PAGE_UNSHARE_H
#define CKPT_PAGE_UNSHARE_H

#include "err.h"

/* How long a delete waits for a reader of a checkpoint it rewrites (a restore, a comparison) before BUSY. */
#define UNSHARE_WAIT_MS 10000

/*
 * The checkpoints of store standing on checkpoint id (id's directory open
 * at dirfd, to be deleted) take in the pages they read from it and stand
 * on its parent, or on nothing. Each is locked while it is rewritten; an
 * error leaves every one readable (id not yet deleted).
 */
int page_unshare_children(const char *store, const char *id, int dirfd, struct herr *e);
/*
 * Deletes checkpoint id of store (a valid id), first handing what others
 * read from it to them; BUSY while a lazy restore reads it, or a reader or
 * another delete holds it longer than UNSHARE_WAIT_MS.
 */
int page_unshare_delete(const char *store, const char *id, struct herr *e);

#endif
