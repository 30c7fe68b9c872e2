/* SPDX-License-Identifier: MIT */
/*
 * The TCP connections a restore is about to replace: quieted (repair mode)
 * before their processes are killed, and compared with the checkpoint's.
 */
#ifndef CKPT_TCP_RESTORE_H
#define CKPT_TCP_RESTORE_H

#include "err.h"
#include "lists.h"
#include "wire.h"

/*
 * Before a restore of ck (in store) kills its running processes: each TCP
 * connection ck saved that they still hold is put in repair mode through a
 * copy kept in held, so that it ends without a word once the tree is gone
 * and its addresses are free for the restored one. CONNECTION_MOVED_ON when
 * one carried data since the checkpoint; nothing is held then.
 */
int tcp_quiet_saved(const char *store, const Checkpoint *ck, const struct pidlist *running, struct fdlist *held,
		    struct herr *e);

#endif
