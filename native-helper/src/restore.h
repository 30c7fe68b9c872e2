/* SPDX-License-Identifier: MIT */
/*
 * Restoring a checkpoint: the checks that it can work, the running
 * processes it replaces killed (their saved TCP connections quieted first),
 * what the leak policy handed CRIU as external given back, CRIU's restore,
 * and the restored program's output adopted. The engine: no wire request or
 * response here, only its own parameters and outcome.
 */
#ifndef CKPT_RESTORE_H
#define CKPT_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "criu.h"
#include "criu_action.h"
#include "err.h"

struct restore_params {
	uint32_t request;		/* the id its progress and tree-state events carry */
	const char *id;			/* the checkpoint (valid) */
	bool kill_running;		/* kill the checkpoint's processes that still run */
	bool tcp_close;			/* restore saved TCP connections closed */
	bool frozen;			/* restore the tree frozen, not running */
	bool lazy;			/* with lazy pages, when CRIU and the kernel can */
	const char *store;
	const struct criu_info *criu;	/* usable (no problem) */
};

/* What a restore leaves (arena memory). */
struct restore_outcome {
	pid_t root;			/* the restored tree: its root and every process */
	int32_t *pids;
	size_t npids;
	int32_t *killed;		/* the running processes killed first */
	size_t nkilled;
	uint64_t criu_wall_us;
	bool output_streamed;		/* the restored program's output comes as events again */
	bool frozen;			/* the tree is frozen (asked, and the freeze worked) */
	bool lazy;			/* its pages are still coming: a LazyRestoreEnd event tells the end */
	const char *warning;		/* asked frozen, not frozen: why (the tree runs) */
	struct criu_failure *criu;	/* CRIU_FAILED: what CRIU said */
};

/*
 * Restores checkpoint p->id. Everything that can be checked is checked
 * before anything is killed: the pids are free or the checkpoint's own, the
 * outside ends of external resources are still there, saved connections
 * did not move on.
 */
int restore_run(const struct restore_params *p, struct restore_outcome *out, struct herr *e);

#endif
