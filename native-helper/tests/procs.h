/* SPDX-License-Identifier: MIT */
/*
 * The leak tests' processes and lookups (tests/procs.c): children that set
 * something up, tell the test so on a pipe and wait to be killed; the
 * holders and choices of a leak found.
 */
#ifndef CKPT_TEST_PROCS_H
#define CKPT_TEST_PROCS_H

#include "leak_scan.h"

/* What a spawned child runs before it waits: it tells what it wants on report (report_int). */
typedef void (*setup_fn)(void *arg, int report);

/* Where a spawned child goes: its parent's process group, a new one it leads, a new session (a tree root). */
enum { SAME_GROUP, NEW_GROUP, NEW_SESSION };

/*
 * A child that runs fn, then reaps its own children until it is killed.
 * *report is the read end of what it tells.
 */
pid_t spawn(setup_fn fn, void *arg, int group, int *report);
/* Spawns and waits for the child's first report: -1 (the child killed) when it tells none, or < 0. */
pid_t spawn_ready(setup_fn fn, void *arg, int group);
/*
 * A child in its parent's group that calls fn (when not NULL) and tells
 * what it returned (*value, when not NULL): -1 (the child killed) when it
 * failed (< 0).
 */
pid_t spawn_call(int (*fn)(void *), void *arg, int *value);
int64_t read_int(int fd);		/* -1 when nothing more is told */
void report_int(int fd, int64_t v);	/* a child's: it exits when the test is gone */
/* Kills pid (when > 0) and reaps it. */
void reap(pid_t pid);
/* Kills each group and reaps every child, the adopted grandchildren too (the test is a subreaper). */
void end_all(const pid_t *groups, size_t n);
/* Moves the caller into pid's namespace ns (nstype CLONE_NEW*) for good. */
int join_ns(pid_t pid, const char *ns, int nstype);

/* The first of the n holders v that is pid, NULL when none. */
const struct leak_holder *holder(const struct leak_holder *v, size_t n, pid_t pid);
/* pid is one of the n holders v, as how says exactly (NULL: however). */
bool holds(const struct leak_holder *v, size_t n, pid_t pid, const char *how);
/* The same, as a how that starts with prefix: "mapped at 0x". */
bool holds_prefix(const struct leak_holder *v, size_t n, pid_t pid, const char *prefix);
/* lk's choice of policy, NULL when it has none. */
const struct leak_choice *choice(const struct leak *lk, int policy);
/* lk has policy as a choice, with this CRIU option (NULL: whichever). */
bool has_choice(const struct leak *lk, int policy, const char *option);
/* A file's resource as the detectors name it: "PATH (MAJ:MIN inode INO)" (arena). */
const char *file_resource(const char *path);

#endif
