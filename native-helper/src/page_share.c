/* SPDX-License-Identifier: MIT */
/*
 * A new checkpoint standing on its parent (page_rewrite.c does the
 * rewriting), and the chains of parent links: how long, and held for
 * reading.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lists.h"
#include "manifest.h"
#include "page_rewrite.h"
#include "page_share.h"
#include "pagemap.h"
#include "store.h"
#include "util.h"
#include "wire.h"

unsigned share_chain_length(int dirfd)
{
	int fd = dup(dirfd);
	unsigned n = 0;

	while (fd >= 0 && n <= SHARE_MAX_CHAIN) {
		int up = openat(fd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(fd);
		fd = up;
		if (fd >= 0)
			n++;
	}
	if (fd >= 0)
		close(fd);
	return n;
}

/* dirfd and the checkpoints its links lead to, opened (the newest first). */
static int chain_open(int dirfd, struct fdlist *held)
{
	/* a description of its own (not a dup): closing held lets go, whoever else has the directory open */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(held, 0, sizeof(*held));
	while (fd >= 0 && held->n <= SHARE_MAX_CHAIN) {
		if (fdlist_add(held, fd)) {
			close(fd);
			fdlist_close(held);
			errno = ENOMEM;
			return -1;
		}
		fd = openat(fd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/*
 * Whether the locked chain is still what the links say: a delete that had
 * the lock first may have re-linked it past a parent it removed (then it
 * is opened again).
 */
static bool chain_current(const struct fdlist *held)
{
	for (size_t i = 0; i < held->n; i++) {
		bool last = i + 1 == held->n, same;
		struct stat st, up;
		int fd;

		if (fstat(held->v[i], &st) || st.st_nlink == 0)
			return false;
		fd = openat(held->v[i], "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (last) {
			/* a chain longer than the limit (or a loop) was held only that far */
			same = fd < 0 || held->n > SHARE_MAX_CHAIN;
		} else {
			same = fd >= 0 && !fstat(fd, &up) && !fstat(held->v[i + 1], &st) &&
			       up.st_dev == st.st_dev && up.st_ino == st.st_ino;
		}
		if (fd >= 0)
			close(fd);
		if (!same)
			return false;
	}
	return true;
}

static int chain_lock(const struct fdlist *held)
{
	for (size_t i = held->n; i-- > 0;)
		if (flock(held->v[i], LOCK_SH))
			return -1;
	return 0;
}

int share_chain_hold(const char *store, int dirfd, const char *id, struct fdlist *held, struct herr *e)
{
	for (int tries = 0; tries < 8; tries++) {
		if (chain_open(dirfd, held)) {
			herr_perror(e, EC(INTERNAL), errno, "cannot open checkpoint %s for reading", id);
			return -1;
		}
		if (chain_lock(held)) {
			herr_perror(e, EC(INTERNAL), errno, "cannot lock checkpoint %s for reading", id);
			fdlist_close(held);
			return -1;
		}
		/* a delete that had the lock first may have removed or hidden it (a killed one leaves it hidden) */
		if (!checkpoint_still_at(held->v[0], store, id)) {
			fdlist_close(held);
			herr_set(e, EC(NOT_FOUND), ENOENT, "no checkpoint %s any more: it was deleted while this "
				 "waited to read it; list the checkpoints to see those left", id);
			return -1;
		}
		if (chain_current(held))
			return 0;
		fdlist_close(held);
	}
	herr_set(e, EC(BUSY), EAGAIN, "checkpoint %s keeps changing (the checkpoints it stands on being "
		 "deleted); try again when that is done", id);
	return -1;
}

/* Each process's pagemap of dirfd rewritten over the parent (open at pardir). */
static int share_maps(int dirfd, int pardir, struct share_stats *st, struct herr *e)
{
	struct pagemap_names names = { 0 };
	int ret = pagemap_names(dirfd, true, &names, e);

	for (size_t i = 0; !ret && i < names.n; i++) {
		struct pagemap pm;

		ret = pagemap_load(pardir, names.v[i], true, &pm, e);
		if (!ret) {
			ret = page_rewrite(dirfd, names.v[i], &pm, st, e);
			pagemap_free(&pm);
		}
	}
	free(names.v);
	return ret;
}

int page_share(int dirfd, const char *parent_id, struct share_stats *st, struct herr *e)
{
	char target[MAX_ID_LEN + 4];
	uint64_t t0 = now_us();
	int pardir, ret;

	memset(st, 0, sizeof(*st));
	snprintf(target, sizeof(target), "../%s", parent_id);
	if (symlinkat(target, dirfd, "parent")) {
		herr_perror(e, EC(INTERNAL), errno, "cannot link the checkpoint to its parent %s", parent_id);
		return -1;
	}
	pardir = openat(dirfd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pardir < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot open the parent checkpoint %s", parent_id);
		ret = -1;
	} else {
		ret = share_maps(dirfd, pardir, st, e);
		close(pardir);
	}
	/* nothing stands on the parent: no link (a rewritten pagemap would, and keeps it) */
	if (!st->shared_pages)
		unlinkat(dirfd, "parent", 0);
	if (fsync(dirfd))
		fprintf(stderr, "checkpoint-helper: cannot sync a checkpoint directory: %s\n", strerror(errno));
	st->time_us = now_us() - t0;
	return ret;
}
