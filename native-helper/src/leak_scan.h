/* SPDX-License-Identifier: MIT */
/*
 * The base every leak detector stands on: the host read once per scan (its
 * processes, which are in the tree, which are the helper's own), the list
 * of leaks the detectors fill, their holders inside and outside the tree,
 * and the predicates of who counts as outside.
 *
 * Everything a scan allocates is freed by host_scan_release (and the
 * descriptor table by fd_table_free), or is arena memory (strings, holders)
 * that lives until the request is answered.
 */
#ifndef CKPT_LEAK_SCAN_H
#define CKPT_LEAK_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "proc.h"

#define MAX_LEAK_HOLDERS 16		/* outside holders sent per leak */
#define MAX_LEAK_CHOICES 5
#define MAX_RESOURCE_LEN 512

struct host_proc {
	pid_t pid, ppid, pgid, sid;
	pid_t tracer;			/* TracerPid, 0 when none */
	uint32_t tty_nr;
	char state;
	char comm[64];
	bool in_tree;
	/* this helper and the CRIU it runs: never counted as holders */
	bool excluded;
	uint64_t ns[NS_KINDS];		/* inode of each namespace, 0 when unreadable */
	uint64_t vsize;			/* bytes of address space, from stat */
	/* descriptors (detect_files counts them; fds_read false: unknown) */
	uint32_t nfds;
	bool fds_read;
};

struct fd_table;			/* fd_table.h */

struct leak_holder {
	pid_t pid;
	const char *how;		/* arena */
	bool has_fd;
	int fd;
	bool readable, writable;
};

struct leak_choice {
	int policy;			/* LP(...) */
	const char *criu_option;	/* "" when none */
	const char *effect;
};

struct leak {
	int kind;			/* LK(...) */
	const char *resource;		/* the identity: same resource, same text in every scan */
	const char *summary, *risk, *criu;
	struct leak_holder *inside, *outside;
	size_t ninside, noutside, cap_inside, cap_outside;
	/*
	 * Outside holders counted but not in outside[]: a detector may list
	 * only the first MAX_LEAK_HOLDERS (every process of the host is in
	 * its namespaces); the wire's outside_count adds them.
	 */
	size_t outside_unlisted;
	int default_policy;		/* LP(...) */
	struct leak_choice choices[MAX_LEAK_CHOICES];
	size_t nchoices;
	bool host_own;
	/*
	 * A leak even with no outside holder: the resource itself is outside
	 * (a network peer, a file system, a lock others can wait on, the
	 * host's namespaces). Other leaks without outside holders are dropped.
	 */
	bool standalone;
	uint64_t object;		/* kernel object (pipe or namespace inode), 0 when none */
	int policy;			/* set by leaks_apply_policy */
	const char *policy_note;
};

struct host_scan {
	pid_t root;
	pid_t self;
	struct host_proc *procs;	/* sorted by pid */
	size_t nprocs, tree_procs;
	const struct host_proc *init;	/* pid 1, NULL when unreadable */
	struct fd_table *fds;		/* read by fd_table_read */
	uint32_t descriptors;		/* descriptors read, for the stats */
	struct leak **leaks;
	size_t nleaks, cap_leaks;
};

/* Reads every process of the host into s, marks the tree of root and the helper's own. */
int host_read(pid_t root, struct host_scan *s, struct herr *e);
/* Frees the processes and the leak list (not the descriptor table). */
void host_scan_release(struct host_scan *s);
const struct host_proc *host_find(const struct host_scan *s, pid_t pid);
bool host_in_tree(const struct host_scan *s, pid_t pid);
/* A process that holds nothing of its own: a zombie, or a kernel thread. */
bool host_proc_hollow(const struct host_proc *p);
/* A process outside the tree that may hold something of it: not excluded, not hollow. */
bool host_proc_outsider(const struct host_proc *p);
/* The outsiders in namespace ino of kind i (ns_names[i]). */
size_t host_ns_outsiders(const struct host_scan *s, int i, uint64_t ino);

/*
 * The leak of kind with this resource (created with default policy WARN and
 * no text when new). resource is copied.
 */
struct leak *leak_get(struct host_scan *s, int kind, const char *resource);
struct leak *leak_find(const struct host_scan *s, int kind, const char *resource);
/*
 * Records that pid holds lk: inside or outside as the scan says; excluded
 * and unknown pids are skipped. h->pid is ignored; h->how is copied. A pid
 * already holding it through the same fd (or without one) is not added
 * twice.
 */
void leak_hold(struct host_scan *s, struct leak *lk, pid_t pid, const struct leak_holder *h);
/*
 * As leak_hold, for pid an outside process (not excluded, not yet a holder
 * of lk), while fewer than MAX_LEAK_HOLDERS are listed; past them it is
 * only counted in outside_unlisted (every process may share a namespace).
 */
void leak_hold_counted(struct host_scan *s, struct leak *lk, pid_t pid, const struct leak_holder *h);
/* The outside holders of lk, listed and only counted. */
size_t leak_outside_total(const struct leak *lk);
/* How many processes hold lk outside (a process may hold it through several descriptors). */
size_t leak_outside_procs(const struct leak *lk);
/* Adds a choice: policy, the CRIU option it takes ("" when none), its effect. */
void leak_choice(struct leak *lk, int policy, const char *criu_option, const char *effect);
/* The choices of a leak CRIU dumps as it is: warn (in that order), ignore, fail. */
void leak_warn_choices(struct leak *lk);

/*
 * Enters pid's namespace ns ("net", "ipc", ...; nstype CLONE_NEW*) for a
 * moment, when it is still ino (0: whichever). setns moves the calling
 * thread only, so that thread's own namespace is kept open to come back
 * by: the descriptor to give ns_leave. -1 (errno set) when pid's could not
 * be entered (gone, moved, no privilege): the thread is still in its own.
 */
int ns_enter(pid_t pid, const char *ns, int nstype, uint64_t ino);
/* Back to the namespace ns_enter kept in self (closed); -1 (errno set) when the thread could not return. */
int ns_leave(int self, int nstype);

#endif
