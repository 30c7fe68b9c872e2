/* SPDX-License-Identifier: MIT */
/*
 * Talking to CRIU over its RPC (`criu swrk <fd>`): one request at a time,
 * its notifications answered; what it is and can do (probe); its logs and
 * statistics read back.
 */
#ifndef CKPT_CRIU_H
#define CKPT_CRIU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rpc.pb-c.h"
#include "wire.h"

struct criu_info {
	bool probed;
	char path[4096];
	char version[64];
	int major, minor, sublevel;
	bool mem_track, lazy_pages, pidfd_store;
	char problem[512];	/* why it cannot be used, "" when it can */
};

typedef void (*criu_notify_fn)(const char *script, void *arg);

/* The configured path when it is an absolute executable, else the installed criu; NULL when none. */
const char *criu_find(const char *configured);
/*
 * How CRIU locks the network while it saves TCP connections: its default
 * (iptables, *method 0) when iptables is there, else nftables when this CRIU
 * can; else CRIU_UNAVAILABLE in words.
 */
int criu_network_lock(const char *criu, int *method, struct herr *e);
/* 0 when CRIU ci can dump inet sockets here; CRIU 4.1 cannot on Linux >= 6.16 (CRIU_UNAVAILABLE, in words). */
int criu_inet_dumpable(const struct criu_info *ci, struct herr *e);
/* Fills ci: version, features, or the problem in words (asked: the --criu the user gave). */
int criu_probe(struct criu_info *ci, const char *path, const char *asked);
/* How long a CRIU request may take, at most: under the client's 30 min, so the helper answers first. */
#define CRIU_CALL_MAX_MS (25u * 60 * 1000)
/* The limit of every criu_call from now on (tests: a short one). */
void criu_set_call_limit(unsigned ms);
/*
 * Runs one request through `criu swrk`. keep_fds lists descriptors the criu
 * child must inherit. *resp is CRIU's final answer (free with
 * criu_resp__free_unpacked). Returns -1 only when the exchange itself failed,
 * or CRIU took longer than the limit (killed: ETIMEDOUT).
 */
int criu_call(const char *criu_path, CriuReq *req, const int *keep_fds, size_t nkeep,
	      criu_notify_fn notify, void *arg, CriuResp **resp, struct herr *e);
/*
 * The log lines that explain a failure (arena memory): every Error and Warn
 * line, with up to three lines of context before each Error; at most 40.
 * first_err gets the first Error line.
 */
int criu_log_extract(const char *path, char ***lines, size_t *n, char *first_err, size_t first_len);
/* Decodes a stats-dump image held in buf into out (fields it has). */
int decode_stats(const uint8_t *buf, size_t len, DumpStats *out);

#endif
