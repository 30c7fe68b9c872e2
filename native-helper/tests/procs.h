/* SPDX-License-Identifier: MIT */
/*
 * The leak tests' processes and lookups (tests/procs.c): children that set
 * something up, tell the test so on a pipe and wait to be killed; a made-up
 * host; scans of real trees; the holders and choices of a leak found.
 */
#ifndef CKPT_TEST_PROCS_H
#define CKPT_TEST_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
/* Spawns and waits for the child's first report, *value: -1 (the child killed) when it tells none, or < 0. */
pid_t spawn_value(setup_fn fn, void *arg, int group, int64_t *value);
/* The same, when what it tells does not matter. */
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
/* Kills a child of a spawned process and waits (up to 2 s) until its parent reaped it. */
void reap_grandchild(pid_t pid);
/* Moves the caller into pid's namespace ns (nstype CLONE_NEW*) for good. */
int join_ns(pid_t pid, const char *ns, int nstype);

/* ---- files and terminals ---- */

/* A pty pair: its master (read-write, no controlling terminal), the slave's path in slave; -1 when none. */
int open_pty(char *slave, size_t len);
/* The inode of the open file fd, 0 when it cannot be stat'ed. */
uint64_t fd_inode(int fd);
/* Makes a file of size bytes from a mkstemp template (path is changed); -1 when it cannot. */
int make_file(char *path, off_t size);

/* ---- a made-up host ---- */

#define FAKE_PROCS 5
/*
 * A host of five processes, named "pPID": 10 (the root) and 11 in the tree,
 * 1 and 20 outside, 30 excluded (the helper).
 */
void fake_host(struct host_scan *s, struct host_proc procs[FAKE_PROCS]);
/* pid holds lk through descriptors 0 to n - 1, told as how (leak_hold_counted). */
void hold_many(struct host_scan *s, struct leak *lk, pid_t pid, int n, const char *how);
/* Frees the leak list of a made-up host (the leaks themselves are arena memory). */
void fake_free(struct host_scan *s);

/* ---- scans of real trees ---- */

/*
 * leaks_scan of root into s as a check that prints the scan's error where
 * it is called: false (s freed) when it failed, else leaks_scan_free s.
 */
#define SCAN_OK(root, s) scan_checked((root), (s), __FILE__, __LINE__)
bool scan_checked(pid_t root, struct host_scan *s, const char *file, int line);
/*
 * host_read of root into s, then fd_table_read when fds, checked as SCAN_OK:
 * false (s freed) when one failed; else free s with leaks_scan_free.
 */
#define HOST_READ_OK(root, s, fds) read_checked((root), (s), (fds), __FILE__, __LINE__)
bool read_checked(pid_t root, struct host_scan *s, bool fds, const char *file, int line);
/* How many leaks of kind a scan of root finds (SCAN_OK); -1 when the scan failed. */
#define SCAN_COUNT(root, kind) scan_count((root), (kind), __FILE__, __LINE__)
long scan_count(pid_t root, int kind, const char *file, int line);
/* How many leaks of kind s holds. */
size_t count_kind(const struct host_scan *s, int kind);
/* The first leak of kind whose resource starts with prefix (the rest is an inode the test does not know). */
struct leak *leak_starting(const struct host_scan *s, int kind, const char *prefix);

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
