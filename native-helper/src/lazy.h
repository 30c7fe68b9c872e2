/* SPDX-License-Identifier: MIT */
/*
 * Lazy restores (CRIU's lazy pages): the restored tree runs while CRIU's
 * lazy-pages daemon copies its memory in through userfaultfd, the pages it
 * touches first.
 *
 * The daemon runs under a supervisor: a fork of the helper, in a session of
 * its own, that outlives the helper (the tree needs its pages whoever asked
 * for them). The supervisor
 *  - holds a lock on <store>/.lazy/<checkpoint> while pages are coming: the
 *    checkpoint cannot be deleted, and restores and dumps of its processes
 *    wait for the end;
 *  - kills the restored processes when the daemon fails: once the daemon's
 *    userfaultfd is closed, a page it did not copy reads as zeros, and the
 *    tree would run on wrong memory;
 *  - keeps the daemon's log beside the restore's, with lazy-pages.status
 *    saying how the daemon ended.
 * The helper waits for the daemon to listen (its --status-fd) before
 * anything is killed, and reaps the supervisor (its child) to send the
 * LazyRestoreEnd event.
 */
#ifndef CKPT_LAZY_H
#define CKPT_LAZY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct lazy_params {
	uint32_t request;		/* the restore's: its end event carries it */
	const char *criu;		/* the criu binary */
	const char *store;
	const char *id;			/* the checkpoint */
	const char *images;		/* its directory */
	const char *logs;		/* where the restore's log is kept: the daemon's goes there too */
	const int32_t *pids;		/* the checkpoint's processes, which the restored ones get */
	size_t npids;
};

struct lazy_restore {
	pid_t supervisor;		/* 0: none */
	uint64_t started_us;
	/* Both CRIUs' work directory: short, as the daemon's socket path must fit a sockaddr_un. */
	char work[64];
	int work_fd;
	int go_fd;			/* to the supervisor: the restore is done */
};

/*
 * Starts the daemon (under its supervisor) and waits until it listens.
 * Nothing is killed or restored yet: on failure there is nothing to undo.
 */
int lazy_start(const struct lazy_params *p, struct lazy_restore *l, struct herr *e);
/* The restore went ahead with root as the tree's root: the supervisor's end becomes a LazyRestoreEnd event. */
void lazy_watch(struct lazy_restore *l, pid_t root);
/* The restore did not go ahead: the daemon and its supervisor are killed and reaped, their files removed. */
void lazy_abort(struct lazy_restore *l, const struct lazy_params *p);
/* pid, reaped by the helper, was a watched supervisor: its event is sent. */
bool lazy_reaped(pid_t pid, int status);
/* 0 when no lazy restore of checkpoint id is under way; BUSY in words when one is. */
int lazy_check_idle(const char *store, const char *id, struct herr *e);
/*
 * Waits until no lazy restore still copies pages into one of pids (bounded:
 * BUSY in words after LAZY_WAIT_MS). Progress events carry request.
 */
int lazy_wait_idle(const char *store, const int32_t *pids, size_t npids, uint32_t request, struct herr *e);

#define LAZY_STATUS_KILLED_MAX 64	/* the pids a LazyRestoreEnd names */

/*
 * What a supervisor's lazy-pages.status says (lazy_supervisor.c's
 * keep_logs): how the daemon ended (its first line, as "ended with exit
 * status 1"; "ended" when it has none, cut to fit how) and the restored
 * processes the supervisor killed (the pids of its "killed:" line, at most
 * LAZY_STATUS_KILLED_MAX). The text is read as untrusted: what is not such
 * a line is passed over, and a number that is no pid ends the list.
 */
struct lazy_status {
	char how[256];
	int32_t killed[LAZY_STATUS_KILLED_MAX];
	size_t nkilled;
};

void lazy_status_parse(const char *text, struct lazy_status *s);
/* Whether the text of a busy lock file (its checkpoint's pids, a line each) names one of pids. */
bool lazy_lock_names(const char *text, const pid_t *pids, size_t npids);

#define LAZY_WAIT_MS 60000
#define LAZY_READY_MS 10000		/* for the daemon to listen */
#define LAZY_DAEMON_MAX_MS 600000	/* for the daemon to copy every page in: then it is killed, and the tree */

#endif
