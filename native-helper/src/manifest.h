/* SPDX-License-Identifier: MIT */
/*
 * A checkpoint's manifest: the Checkpoint message of the contract, written
 * beside CRIU's images as manifest.pb (what the helper reads) and
 * manifest.json (what a person or another tool reads).
 */
#ifndef CKPT_MANIFEST_H
#define CKPT_MANIFEST_H

#include "err.h"
#include "sbuf.h"
#include "wire.h"

#define MANIFEST_VERSION 1

/*
 * Writes the manifest of the checkpoint open at dirfd (its first, or one
 * replacing it) crash-safely: a reader, or the store after a crash, sees the
 * old manifest or the new one, and a failed write leaves the old one. The
 * caller has the directory to itself (locked exclusively, or its own
 * .partial): temporary files of a killed writer are removed.
 */
int manifest_write(int dirfd, const Checkpoint *c, struct herr *e);
/* manifest.json: the fields of Checkpoint, in proto field names. */
int manifest_json(const Checkpoint *c, struct sbuf *b);
/* Reads <store>/<id>/manifest.pb; the result lives in the request's arena. */
Checkpoint *manifest_read(const char *store, const char *id, struct herr *e);
/* The same, from the checkpoint directory open at dirfd. */
Checkpoint *manifest_read_at(int dirfd, const char *store, const char *id, struct herr *e);
/*
 * The root process of checkpoint ck (the one at its root_pid), NULL when it
 * lists none: its name and command line say which program ck is of.
 */
const CheckpointProcess *checkpoint_root_process(const Checkpoint *ck);
/*
 * Whether the checkpoint directory open at fd is still checkpoint id of
 * store. A delete hides a checkpoint (renames it) before it removes it, so
 * one hidden or removed since it was opened is gone either way.
 */
bool checkpoint_still_at(int fd, const char *store, const char *id);

#endif
