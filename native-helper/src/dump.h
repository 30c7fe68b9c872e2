/* SPDX-License-Identifier: MIT */
/*
 * Checkpointing a process tree: the leak scan and the policy, CRIU's dump
 * into <store>/<id>.partial, the second scan at post-dump, and the manifest
 * that makes it a checkpoint. The engine: no wire request or response here,
 * only its own parameters and outcome.
 */
#ifndef CKPT_DUMP_H
#define CKPT_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "criu.h"
#include "criu_action.h"
#include "err.h"
#include "wire.h"

/* One lock file per tree root being dumped or restored: two at once, the second says so. */
#define DUMP_LOCK_DIR "/run/checkpoint-debugger/dumping"

/*
 * The tree lock of root, held by a dump of its tree and by a restore of a
 * checkpoint of it for as long as they run: its descriptor, or -1 with e
 * (BUSY in words when another holds it, instead of what CRIU says when it
 * meets the other: "Unable to detach from PID", "Can't fork for PID: File
 * exists"). The files stay (removing one could let two hold two of them).
 */
int tree_lock(pid_t root, struct herr *e);

struct dump_params {
	uint32_t request;		/* the id its progress and tree-state events carry */
	pid_t root;
	const char *name;		/* "" or NULL: the root's command name */
	bool leave_running;
	LeakRule *const *rules;		/* the leak policy (valid) */
	DebuggerStop *debugger_stop;	/* where a debugger holds the tree stopped, or NULL (valid) */
	bool self_contained;		/* keep every page: share none with an earlier checkpoint */
	size_t nrules;
	const char *store;
	const struct criu_info *criu;	/* usable (no problem) */
};

/* What a dump leaves (arena memory): the checkpoint, or why there is none. */
struct dump_outcome {
	Checkpoint *checkpoint;		/* its manifest, when it was taken */
	Leak **refused;			/* LEAKS_REFUSED: the leaks whose policy is fail */
	size_t nrefused;
	struct criu_failure *criu;	/* CRIU_FAILED: what CRIU said */
};

/*
 * Checkpoints the tree of p->root. A tree the client froze is dumped where
 * it stands and stays frozen (unless the dump ended it); a running one is
 * seized by CRIU. On failure the tree is as it was and nothing is kept but
 * CRIU's log (in <store>/.failed).
 */
int dump_run(const struct dump_params *p, struct dump_outcome *out, struct herr *e);

#endif
