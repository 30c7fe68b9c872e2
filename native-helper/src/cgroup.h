/* SPDX-License-Identifier: MIT */
/*
 * Freezing process trees with the cgroup freezer (v2 cgroup.freeze, v1
 * freezer): each tree in a freeze cgroup of its own, its processes moved
 * back where they were when it is released.
 */
#ifndef CKPT_CGROUP_H
#define CKPT_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "lists.h"

struct frozen_tree {
	pid_t root;
	int layout;		/* CGL(V2) or CGL(V1) */
	char cgroup[4096];	/* absolute path of the freeze cgroup */
	char mount[4096];	/* mount point of its hierarchy */
	struct pidlist pids;
	char **orig;		/* original cgroup (relative) of each pid */
	struct pidlist except;	/* processes of the tree left out of the freeze */
	struct pidlist stopped;	/* those the last freeze_tree let go of in a job-control stop */
	int claim_fd;		/* its claim (freeze_claim.h): held while frozen, let go if the helper dies */
	struct frozen_tree *next;
};

/* CGL(...): how the host mounts its cgroups. */
int cgroup_layout(void);
int cgroup_v2_mount(char *out, size_t len);
int cgroup_v1_freezer_mount(char *out, size_t len);
/* How freeze_tree freezes; all zero: the whole tree, the default timeout. */
struct freeze_how {
	unsigned timeout_ms;	/* 0: the default */
	const pid_t *except;	/* left out of the freeze (not their descendants) */
	size_t nexcept;
	/*
	 * Those let go of leave the freeze in a job-control stop (SIGSTOP
	 * while still frozen), so that not one instruction of theirs runs
	 * before the debugger that asked for them holds them.
	 */
	bool stop_released;
};

/*
 * Freezes the tree of root as how says. A tree this helper froze already
 * gets the new exceptions: those now left out are let go (t->stopped lists
 * those let go of stopped), the others taken in.
 */
int freeze_tree(pid_t root, const struct freeze_how *how, struct frozen_tree **out, struct herr *e);
int thaw_tree(struct frozen_tree *t, struct herr *e);
struct frozen_tree *frozen_find(pid_t root);
/* The frozen tree pid is a member of, NULL when none. */
struct frozen_tree *frozen_find_member(pid_t pid);
/* Forgets the tree; thaws it first when thaw is true. Frees t. */
int frozen_release(struct frozen_tree *t, bool thaw, struct herr *e);
void frozen_release_all(void);

#endif
