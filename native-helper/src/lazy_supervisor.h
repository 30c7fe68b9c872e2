/* SPDX-License-Identifier: MIT */
/*
 * The supervisor of a lazy restore's daemon (lazy.h tells its part): a fork
 * of the helper in a session of its own, which starts `criu lazy-pages`,
 * holds the checkpoint's busy lock and, once the restore is done, copies of
 * the tree's userfaultfds; kills the restored processes when the daemon
 * fails; keeps the daemon's log and how it ended. What lazy.c and it share.
 */
#ifndef CKPT_LAZY_SUPERVISOR_H
#define CKPT_LAZY_SUPERVISOR_H

#include <sys/types.h>

#include "lazy.h"

#define LAZY_DIR ".lazy"		/* in the store: one lock file per checkpoint being restored lazily */
#define DAEMON_LOG "lazy-pages.log"
#define STATUS_FILE "lazy-pages.status"	/* how the daemon ended, written by the supervisor */

/* <store>/.lazy/<id> (arena memory). */
char *lazy_lock_path(const char *store, const char *id);
/* pid's wait status (-1 when it cannot be waited for), waiting as long as it takes. */
int lazy_wait_status(pid_t pid);
/*
 * The supervisor's life, in the child of a fork: lock_fd is the locked busy
 * file, ready_fd the write end the daemon says it listens on, go_fd the
 * socket the helper says the restore is done on (a byte) or given up (EOF).
 */
void lazy_supervise(const struct lazy_params *p, const struct lazy_restore *l, int lock_fd, int ready_fd, int go_fd)
	__attribute__((noreturn));

#endif
