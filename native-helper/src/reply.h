/* SPDX-License-Identifier: MIT */
/*
 * Answers to requests: errors as the wire carries them, and the checks of
 * what a request names that every handler shares.
 */
#ifndef CKPT_REPLY_H
#define CKPT_REPLY_H

#include <stdbool.h>

#include <sys/types.h>

#include "err.h"
#include "wire.h"

/* resp becomes the error e (arena memory); returned for the details a handler adds. */
Error *reply_error(Response *resp, const struct herr *e);
/* resp becomes a BAD_REQUEST error saying what is wrong with the request. */
void reply_bad_request(Response *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 when id may name a checkpoint, else answers BAD_REQUEST. */
int reply_check_id(const char *id, Response *resp);
/*
 * 0 when root may be the root of a tree the helper freezes, checkpoints or
 * kills ("freezing", "checkpointing", "killing": doing), else BAD_REQUEST:
 * not pid 1, not the helper or one of its ancestors (the sshd it runs in).
 */
int reply_check_root(pid_t root, const char *doing, Response *resp);
/* 0 when name may name a checkpoint (empty included), else answers BAD_REQUEST. */
int reply_check_name(const char *name, Response *resp);
/* 0 when path is absolute and bounded (or empty and optional), else answers BAD_REQUEST. */
int reply_check_path(const char *what, const char *path, bool required, Response *resp);

#endif
