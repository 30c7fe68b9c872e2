/* SPDX-License-Identifier: MIT */
/*
 * The checkpoint store: <store>/<id>/{CRIU images, manifest.pb,
 * manifest.json}, private to root (0700). A dump writes <id>.partial and
 * renames it into place when it is complete; .logs and .failed keep the
 * logs of restores and of failed dumps.
 */
#ifndef CKPT_STORE_H
#define CKPT_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "wire.h"

#define DEFAULT_STORE "/var/lib/checkpoint-debugger/checkpoints"
#define MAX_ID_LEN 64
#define MAX_NAME_LEN 256
#define KEPT_LOGS 20			/* entries kept in .logs and .failed */
#define STORE_LOCK_WAIT_MS 10000	/* how long a rename waits for a checkpoint's readers before BUSY */

/* 1-64 of A-Z a-z 0-9 . _ -, not starting with a dot. */
bool valid_checkpoint_id(const char *id);
/* Creates the store (0700) when it is not there. */
int store_prepare(const char *store, struct herr *e);
/*
 * The checkpoint the one open at dirfd (checkpoint id of store) stands on:
 * its "parent" link's last part, when that is a checkpoint directory of the
 * store other than id itself; else "" (arena). Every reader of the link
 * names parents so (the image listing, a delete's re-linking).
 */
const char *store_parent_id(int dirfd, const char *store, const char *id);
/*
 * What dumps that did not end left in store (<id>.partial no dump holds):
 * images CRIU finished become listed checkpoints, the rest is removed; and
 * what deletes that did not end left (.deleted-<id> no delete holds) is
 * removed. Run by every listing and at the helper's start.
 */
void store_sweep_partial(const char *store);
/*
 * Opens <store>/<id> (id already valid) as a directory, refusing a symbolic
 * link in its place. Returns the descriptor or -1 with NOT_FOUND/INTERNAL.
 */
int checkpoint_open(const char *store, const char *id, struct herr *e);
/* 0 unless checkpoint id is still being written (its dump has not finished): NOT_FOUND then. */
int store_check_finished(const char *store, const char *id, struct herr *e);
/* The finished checkpoints, oldest first (arena memory). */
int store_list(const char *store, ListResult *res, struct herr *e);
/*
 * Deletes checkpoint id: renamed out of sight first (.deleted-<id>), so no
 * reader or listing meets it half-removed, then removed.
 */
int store_delete(const char *store, const char *id, struct herr *e);
/* Renames checkpoint id (valid); *out is its rewritten manifest (arena memory). */
int store_rename(const char *store, const char *id, const char *name, Checkpoint **out, struct herr *e);
/*
 * Puts file tmp of checkpoint id (open at dirfd) in place as name and counts
 * it in the manifest's size_bytes (the file it replaces no longer), under
 * the checkpoint's lock: for files the helper adds to a checkpoint, such as
 * its core files. tmp is gone afterwards unless the rename failed.
 */
int store_put_file(int dirfd, const char *store, const char *id, const char *tmp, const char *name,
		   struct herr *e);
/*
 * Keeps the newest keep entries of dir (their names start with a UTC stamp,
 * so they sort by time) and removes the rest: the logs of failed dumps and
 * the work directories of restores, which would otherwise pile up.
 */
int store_prune(const char *dir, size_t keep);

#endif
