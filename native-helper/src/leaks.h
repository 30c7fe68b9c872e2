/* SPDX-License-Identifier: MIT */
/*
 * Leaks: resources the tree (a root and its descendants) shares with
 * processes outside it.
 *
 * One scan reads every process of the host once (leak_scan.c) and every
 * descriptor (fd_table.c), then each detector adds the leaks of its kinds
 * to the scan's list:
 *   leak_files.c      pipes, FIFOs, memfds, deleted and volatile files
 *   leak_terminals.c  ptys and terminals shared with the outside
 *   leak_locks.c      file locks
 *   leak_sockets.c    unix, TCP and UDP sockets (sock_diag)
 *   leak_tasks.c      namespaces, parent/session/process group, tracer
 *   leak_kcmp.c       fd table, fs info, address space shared (kcmp)
 *   leak_memory.c     shared mappings
 *   leak_sysv.c       SysV shm, semaphores, message queues
 * This module then applies the policy, turns the list into wire messages,
 * and tells a dump what the policy decided.
 */
#ifndef CKPT_LEAKS_H
#define CKPT_LEAKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "leak_scan.h"
#include "wire.h"

#define MAX_POLICY_RULES 256

/* Reads the host, marks the tree of root and runs every detector. */
int leaks_scan(pid_t root, struct host_scan *s, struct herr *e);
void leaks_scan_free(struct host_scan *s);

/* Checks rules (kinds, policies, resources); BAD_REQUEST in e when one is wrong. */
int leak_rules_valid(LeakRule *const *rules, size_t n, struct herr *e);
/* Sets each leak's policy (and policy_note) from rules and defaults. */
void leaks_apply_policy(struct host_scan *s, LeakRule *const *rules, size_t n);
/* Sorts by kind, then resource. */
void leaks_sort(struct host_scan *s);
Leak *leak_to_pb(const struct host_scan *s, const struct leak *lk);
Leak **leaks_to_pb(const struct host_scan *s, size_t *n);
LeakScanStats *leak_stats_pb(const struct host_scan *s, uint64_t scan_us);

/* ---- dump and restore ---------------------------------------------------- */

/* The leaks of root's tree with the policy applied, as the manifest keeps them (arena). NULL with e on failure. */
LeakReport *leaks_report(pid_t root, LeakRule *const *rules, size_t n, struct herr *e);
/*
 * The scan again, at post-dump, while CRIU holds the tree frozen: what
 * differs from r's first scan changed during the dump (r->changes), or why
 * the scan failed (r->rescan_problem).
 */
void leaks_rescan(LeakReport *r, pid_t root, LeakRule *const *rules, size_t n);
/* The leaks (with their policy applied) whose policy is fail. */
Leak **leaks_failing(Leak *const *leaks, size_t n, size_t *nfail);
/* LEAKS_REFUSED: one sentence naming every fail leak. */
void leaks_refusal(pid_t root, Leak **fail, size_t n, struct herr *e);
/* The CRIU options the policy of these leaks decides. */
DumpOptions *leaks_dump_options(Leak *const *leaks, size_t n);
/* The inode a namespace leak names ("net:[4026532247]"), 0 when none. */
unsigned long long leak_ns_inode(const Leak *l);
/*
 * CRIU's --external entry for a net namespace handed to it as external: the
 * namespace is not dumped (its devices, addresses and rules are the outside's
 * too, and a veth whose peer is outside would fail the dump), and a restore
 * puts the tree back in it through a descriptor inherited under this key.
 */
const char *leak_net_external(const Leak *l);
/* What changed between the scan before a dump and the one at post-dump. */
LeakChange **leaks_compare(Leak *const *before, size_t nb, Leak *const *after, size_t na, size_t *n);

#endif
