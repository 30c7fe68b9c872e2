/* SPDX-License-Identifier: MIT */
/*
 * The TCP connections a restore is about to replace: quieted (repair mode)
 * before their processes are killed, and compared with the checkpoint's.
 */
#ifndef CKPT_TCP_RESTORE_H
#define CKPT_TCP_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "lists.h"
#include "wire.h"

/* A connection a checkpoint saved: its name as the leak report has it, and where its queues stood. */
struct tcp_saved_conn {
	char resource[136];	/* "tcp A -> B", A and B each in 64 bytes ("[IPv6]:port" takes 54) */
	uint32_t inq_seq;	/* the next byte expected from the peer (rcv_nxt) */
	uint32_t outq_seq;	/* the next byte the program writes (write_seq) */
};

struct tcp_saved {
	struct tcp_saved_conn *v;
	size_t n;
	size_t cap;
};

/*
 * The connections checkpoint directory dirfd (checkpoint id, for messages)
 * saved: the established TCP sockets of its files.img that its leak report
 * r names as TCP leaks with the policy SAVE, each with where its queues
 * stood (the first entry of its tcp-stream-<ino hex>.img). Both images are
 * untrusted: an entry of files.img that does not decode, or is no such
 * socket, is passed over, and the walk ends at a length past the file's
 * end; a saved connection whose tcp-stream image cannot be read fails it
 * (INTERNAL, with its errno; EINVAL for one that does not decode). Free
 * out with tcp_saved_free in any case.
 */
int tcp_saved_read(int dirfd, const char *id, const LeakReport *r, struct tcp_saved *out, struct herr *e);
void tcp_saved_free(struct tcp_saved *s);

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
