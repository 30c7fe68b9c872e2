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
	struct frozen_tree *next;
};

/* CGL(...): how the host mounts its cgroups. */
int cgroup_layout(void);
int cgroup_v2_mount(char *out, size_t len);
int cgroup_v1_freezer_mount(char *out, size_t len);
/*
 * Freezes the tree of root but the nexcept processes except (not their
 * descendants); timeout_ms 0: the default. A tree this helper froze already
 * gets the new exceptions: those now left out are let go, the others taken in.
 */
int freeze_tree(pid_t root, unsigned timeout_ms, const pid_t *except, size_t nexcept, struct frozen_tree **out,
		struct herr *e);
int thaw_tree(struct frozen_tree *t, struct herr *e);
struct frozen_tree *frozen_find(pid_t root);
/* The frozen tree pid is a member of, NULL when none. */
struct frozen_tree *frozen_find_member(pid_t pid);
/* Forgets the tree; thaws it first when thaw is true. Frees t. */
int frozen_release(struct frozen_tree *t, bool thaw, struct herr *e);
void frozen_release_all(void);

#endif
