/* SPDX-License-Identifier: MIT */
/*
 * One CRIU action of a request (a dump or a restore): the options both
 * share, progress from CRIU's notifications, and its failure in words.
 * Between the engines (dump.c, restore.c) and the RPC (criu.c).
 */
#ifndef CKPT_CRIU_ACTION_H
#define CKPT_CRIU_ACTION_H

#include <stddef.h>
#include <stdint.h>

#include "criu.h"
#include "err.h"
#include "wire.h"

#define MAX_EXTERNAL 64			/* --external entries of a dump */
#define MAX_EXTERNAL_LEN 512

/* What CRIU said when it failed (arena memory), for the client's error. */
struct criu_failure {
	const char *message;		/* the line that explains it */
	char **log;			/* the log lines around it */
	size_t nlog;
	const char *log_path;		/* where the whole log was kept, "" when nowhere */
};

/* 0 when the leak policy's options o can go to CRIU (BAD_REQUEST otherwise: a damaged manifest). */
int criu_options_valid(const DumpOptions *o, struct herr *e);
/*
 * The options a dump and a restore share: their log file, cgroups left as
 * they are, notifications, what the leak policy decided (o, may be NULL)
 * and the network lock (criu_network_lock's method; 0: CRIU's default).
 */
void criu_opts_common(CriuOpts *opts, const char *log_file, const DumpOptions *o, int network_lock);
/* Reports a CRIU notification as progress of request id. */
void criu_notify_progress(uint32_t id, const char *script);
/*
 * CRIU could not do what (its answer r, NULL when it gave none): fills e
 * with CRIU_FAILED and the line of its log (log_path) that explains it, and
 * returns the details; kept_log is where the log stays for the user.
 */
struct criu_failure *criu_failure_read(const char *what, const CriuResp *r, const char *log_path,
				       const char *kept_log, struct herr *e);

#endif
