/* SPDX-License-Identifier: MIT */
/*
 * The tests' way into the service: a request through handle_request, with
 * the helper's output (g_out_fd) in a temporary file, and the frames it
 * wrote decoded back.
 */
#ifndef CKPT_TEST_SERVICE_H
#define CKPT_TEST_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "criu.h"
#include "wire.h"

/* A pid above any pid_max: no process has it. */
#define NO_PID 4194000

/* Empties the output file before a request. */
void out_reset(void);
/* The frames written to g_out_fd since out_reset, decoded (at most max). */
size_t out_frames(HelperMessage **v, size_t max);
/*
 * Runs req through the dispatch; returns the answer, the last frame written,
 * decoded. *nevents gets how many events came before it.
 */
HelperMessage *roundtrip_events(Request *req, size_t *nevents);
/* Runs req through the dispatch; returns the one frame it wrote, decoded. */
HelperMessage *roundtrip(Request *req);
void msg_free(HelperMessage *m);
/* The answer's error code, or -1 when it is not an error. */
int err_code(const HelperMessage *m);
/* The answer is an error whose message holds s. */
bool err_mentions(const HelperMessage *m, const char *s);
/* Open descriptors of this process (the one reading /proc/self/fd included). */
int count_fds(void);
/*
 * Runs fn with the helper's output going to a temporary file; checks that
 * every path fn takes, failing ones included, closed what it opened.
 */
void with_out_file(void (*fn)(void));
/* dir/name written with mode and text; its path (arena memory). */
const char *put_file(const char *dir, const char *name, mode_t mode, const char *text);
/* No child of this process is left unreaped. */
bool no_children(void);
/*
 * Points stderr at /dev/null (quiet), or back: for the calls whose
 * complaint there is expected, so that the tests' output shows failures only.
 */
void stderr_quiet(bool quiet);

/* ---- shared by the tests of the service, the engines and the processes ---- */

/*
 * Runs req (its op_case set, op the message of that case: every member of
 * the op oneof is a pointer in the same place) with id; *nevents gets how
 * many events came before the answer (NULL: none may come).
 */
HelperMessage *ask(uint32_t id, int op_case, void *op, size_t *nevents);
/* The answer's response when its result is of case result_case, else NULL. */
const Response *answer_of(const HelperMessage *m, int result_case);
/*
 * The events written since out_reset, in words (arena memory: ask it after
 * the request, whose end frees the arena), each with ", " after it: "freezing, FROZEN 1234, " (a progress event by its stage, a
 * tree state by its state and root, "output"/"exit PID" for a program's,
 * "gdb output"/"gdb exit ID" for a gdb's).
 */
const char *events_told(void);

/*
 * A child in a process group of its own that forks a grandchild; both wait
 * until they are killed (end_all(&child, 1) ends both). -1 when it failed.
 */
pid_t spawn_family(pid_t *grandchild);
/*
 * Two children that share a pipe (both hold both ends; this process none):
 * tree, and outside, a process outside its tree; the pipe is resource,
 * "pipe:[INODE]", and rules[0] a rule giving it a policy.
 */
struct pipe_pair {
	pid_t tree, outside;
	char resource[64];
	LeakRule rule, *rules[1];
};

/* Starts the pair, the rule's policy policy; false when it could not. */
bool pipe_pair_start(struct pipe_pair *pp, int policy);
/* Kills and reaps both. */
void pipe_pair_end(struct pipe_pair *pp);
/* The leak of kind on resource among the n leaks v, NULL when there is none. */
const Leak *leak_named(Leak *const *v, size_t n, int kind, const char *resource);
/* A child (a process group of its own) that has exec'd path with argv; -1 when it could not. */
pid_t spawn_exec(const char *path, char *const argv[]);

/*
 * A program launched as the helper launches one (program_launch: its own
 * session, stdin /dev/null, its output read by the helper), with no
 * environment, in /, its events carrying request id; -1 when it failed.
 */
pid_t launch_program(char *const argv[], uint32_t id);
/* How many pipes of programs the helper reads. */
size_t programs_pipes(void);
/* What the main loop does: reads the programs' pipes until they all end (or 10 s). */
void programs_read(void);
/* Kills the n programs' process groups and lets them go as the main loop would (their ends reported). */
void programs_end(const pid_t *pids, size_t n);
/* Reaps as the main loop reaps at SIGCHLD (their ends reported) until the n pids are gone. */
void programs_reap(const pid_t *pids, size_t n);

/* A new temporary store from template dir ("/tmp/ckpt-x-XXXXXX"), g_cfg.store pointing at it. */
bool store_make(char *dir);
/* Entries of directory path but . and .., -1 when it cannot be read. */
int dir_entries(const char *path);
/* <store>/<id> as a dump leaves it: a directory with the manifest of c. */
int checkpoint_put(const char *store, const char *id, const Checkpoint *c);

/* What the engines are given of a usable CRIU 4.1.1 at path (not probed: it may be no CRIU at all). */
struct criu_info criu_at(const char *path);
/*
 * A policy of warn for every namespace kind: whether the tests' trees share
 * a namespace with outside processes depends on where the tests run (CI runs
 * them in a pid and mount namespace of their own), and a dump's tests are
 * not about that. *n gets how many rules (arena memory).
 */
LeakRule **namespaces_warned(size_t *n);

/*
 * A CRIU for the engines' tests: this test program itself, started as
 * "criu swrk FD" (by criu_call) with the environment fake_criu sets. It
 * answers VERSION (4.1.1) and FEATURE_CHECK; a DUMP or RESTORE fails with
 * an Error line in its log, or (mode "ok") a DUMP announces post-dump,
 * writes pages-1.img and succeeds, and a RESTORE starts one process, a
 * child of the tests, stopped when asked leave_stopped. Modes starting
 * with "ok" succeed; with "lost" a DUMP writes stats-dump (as CRIU does
 * last) and ends without answering; "criu lazy-pages" says it listens, waits for its cue
 * (the file FAKE_LAZY_GO in its work directory: a lazy RESTORE writes it)
 * and ends with 0, or 1 when the mode has "lazy-fails"; with "lazy-early"
 * it fails before it listens. Returns its path (a static buffer);
 * fake_criu(NULL) ends it (NULL).
 */
const char *fake_criu(const char *mode);
#define FAKE_LAZY_GO "fake-lazy-go"

#endif
