/* SPDX-License-Identifier: MIT */
/*
 * Claims on freeze cgroups: the helper that freezes a tree holds a lock on
 * a small file naming the tree's freeze cgroup (<dir>/<root>) for as long
 * as it keeps the tree frozen. A helper that dies (SIGKILL, a dropped
 * connection) lets go of its locks with its descriptors; the next helper's
 * sweep finds those files unlocked, thaws their cgroups, moves their
 * processes out and removes them: no tree stays frozen that nobody holds.
 */
#ifndef CKPT_FREEZE_CLAIM_H
#define CKPT_FREEZE_CLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define FREEZE_PREFIX "checkpoint-freeze-"
#define FREEZE_CLAIM_DIR "/run/checkpoint-debugger/frozen"

/* Where the claims are (tests: a directory of their own); FREEZE_CLAIM_DIR by default. */
void freeze_claim_dir_set(const char *dir);
/*
 * Claims the freeze cgroup (layout CGL(V2) or CGL(V1)) of root's tree:
 * the descriptor holding the lock, or -1 with e. Closing it (after
 * freeze_claim_drop) lets go.
 */
int freeze_claim_take(pid_t root, int layout, const char *cgroup, struct herr *e);
/* Whether root's tree is claimed by a helper (another one, when this one holds no such tree). */
bool freeze_claim_held(pid_t root);
/* The tree is thawed and its cgroup gone: the claim goes (fd closed). */
void freeze_claim_drop(pid_t root, int fd);
/*
 * The same for processes left stopped (SIGSTOP): a restore of a tree to be
 * frozen has CRIU leave it stopped, then freezes it and lets it out of the
 * stop. Claimed (<dir>/<root>.stopped, the pids in it) before CRIU runs, so
 * that a helper dying between the two leaves no tree stopped: the sweep
 * continues those still stopped that are the claim's (started since it was
 * made, or with the start times settled into it). The descriptor, or -1
 * with e; dropped once they are out.
 */
int stop_claim_take(pid_t root, const pid_t *pids, size_t n, struct herr *e);
/* The processes exist (CRIU answered): their start times go into the claim, so that a sweep continues only them. */
void stop_claim_settle(int fd, const pid_t *pids, size_t n);
void stop_claim_drop(pid_t root, int fd);
/*
 * The processes a freeze lets go of stopped (stop_released: for a debugger
 * to take) are claimed so too, for the helper's whole life
 * (<dir>/released-<helper pid>): a debugger (the helper's child) ending
 * with the helper can leave them stopped, and the sweep then continues
 * those still stopped (their start times are in the claim). Claimed before
 * they are stopped: -1 with e, and nothing is to be stopped.
 */
int released_claim_add(const pid_t *pids, size_t n, struct herr *e);
/* The claim let go of and forgotten here (a test, as if the helper had ended): the sweep takes it. */
void released_claim_forget(void);
/* What a claim's text says (claim_parse), for the sweep to act on. */
enum claim_kind { CLAIM_FREEZE = 1, CLAIM_STOP };

struct claim_proc {
	pid_t pid;
	bool has_start;		/* its start time was settled into the claim */
	uint64_t start;		/* when it started, in the clock ticks of /proc/PID/stat */
};

/* What the sweep reads of a claim; a stop claim names no more processes than such a text can hold. */
#define CLAIM_MAX_TEXT (1u << 20)
#define CLAIM_MAX_PROCS (CLAIM_MAX_TEXT / 2)	/* "2\n" is the shortest line */

struct claim {
	enum claim_kind kind;
	char *text;		/* a copy of the text (malloc'd), which cgroup points into */
	int layout;		/* a freeze claim's: CGL(V2) or CGL(V1), as written */
	char *cgroup;		/* a freeze claim's cgroup, as written: not yet checked to be a freeze cgroup */
	uint64_t since;		/* a stop claim's: when it was made, in the same ticks */
	struct claim_proc *procs;	/* a stop claim's processes (malloc'd); none without its since line */
	size_t nprocs, cap;
};

/*
 * A claim's text as the sweep reads it: a freeze claim "<layout>\n<cgroup>\n",
 * a stop claim "stopped\nsince <ticks>\n" then a line a process, "<pid>" or
 * "<pid> <start ticks>" (empty lines skipped, a line without a pid passed
 * over). Nothing in it is trusted here: the sweep checks that the cgroup is
 * a freeze cgroup, and each process one left stopped, before it acts. 0, or
 * -1 with EINVAL for text that is no claim (the sweep leaves it), ENOMEM.
 * claim_free(c) in any case.
 */
int claim_parse(const char *text, struct claim *c);
void claim_free(struct claim *c);
/* Thaws every claimed freeze cgroup no helper holds any more; how many. */
int freeze_claim_sweep(void);
/*
 * Starts the watcher of this helper: a process of its own session that
 * sweeps the claims as soon as the helper ends, however it ends (killed,
 * its connection dropped), so that its frozen trees thaw at once, not at
 * the next helper's start. 0, or -1 (the sweep at start still thaws them).
 */
int freeze_claim_watch(void);

#endif
