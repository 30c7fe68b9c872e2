/* SPDX-License-Identifier: MIT */
/*
 * Deleting a checkpoint others stand on: each of them first takes in the
 * pages it read from it (page_rewrite.c) and stands on its parent instead,
 * or on nothing. One delete at a time; each checkpoint locked while it is
 * rewritten, the oldest first, as readers lock them (page_share.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "fault.h"
#include "fileio.h"
#include "lazy.h"
#include "manifest.h"
#include "page_rewrite.h"
#include "page_unshare.h"
#include "store.h"
#include "util.h"
#include "wire.h"

/*
 * What the deleted checkpoint stands on, which those standing on it stand
 * on next: its id (for their manifests; "" when it names no checkpoint of
 * the store) and its "parent" link's text, copied as it is ("" when none).
 */
struct grandparent {
	const char *id;
	char link[4096];
};

static void grandparent_of(int dirfd, const char *store, const char *id, struct grandparent *g)
{
	ssize_t n = readlinkat(dirfd, "parent", g->link, sizeof(g->link) - 1);

	g->link[n > 0 ? n : 0] = '\0';
	g->id = store_parent_id(dirfd, store, id);
}

/*
 * Whether checkpoint name of the store stands on the one at deleted: its
 * "parent" link opens that very directory, however the link is written.
 */
static bool stands_on(int storefd, const char *name, const struct stat *deleted)
{
	char link[300];	/* a directory entry's name: at most 255 bytes */
	struct stat st;

	snprintf(link, sizeof(link), "%s/parent", name);
	return fstatat(storefd, link, &st, 0) == 0 && S_ISDIR(st.st_mode) && st.st_dev == deleted->st_dev &&
	       st.st_ino == deleted->st_ino;
}

/* Checkpoint dirfd stands on what g names (or on nothing), its link replaced whole. */
static int relink(int dirfd, const struct grandparent *g, struct herr *e)
{
	if (!g->link[0]) {
		if (unlinkat(dirfd, "parent", 0) == 0 || errno == ENOENT)
			return 0;
	} else {
		unlinkat(dirfd, ".parent.tmp", 0);
		if (symlinkat(g->link, dirfd, ".parent.tmp") == 0 && renameat(dirfd, ".parent.tmp", dirfd, "parent") == 0)
			return 0;
	}
	herr_perror(e, EC(INTERNAL), errno, "cannot re-link it to %s", g->link[0] ? g->link : "nothing");
	return -1;
}

/*
 * The manifest of a finished child says its new parent and size, before the
 * link changes: a delete stopped between the two is done again from the
 * link (which still names the deleted one). A damaged manifest is left as it is.
 */
static int update_manifest(int dirfd, const char *store, const char *id, const struct grandparent *g, struct herr *e)
{
	char path[4400];
	Checkpoint *c;

	if (str_ends_with(id, ".partial"))
		return 0;
	c = manifest_read_at(dirfd, store, id, NULL);
	if (!c)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", store, id);
	c->parent = arena_strdup(g->id);
	c->size_bytes = dir_size(path);
	return manifest_write(dirfd, c, e);
}

/* e's message after what failed: "cannot hand the pages of B to checkpoint C, which stands on it: ...". */
static void frame_error(struct herr *e, const char *id, const char *child)
{
	char msg[sizeof(e->msg)];

	snprintf(msg, sizeof(msg), "%s", e->msg);
	herr_set(e, e->code, e->errnum, "cannot delete checkpoint %s: checkpoint %s stands on it and cannot take "
		 "in its pages: %s%s", id, child, msg, e->errnum == ENOSPC ? "; free space in the store (or delete "
		 "the checkpoints standing on it first)" : "");
}

static int lock_child(int fd, const char *id, const char *child, struct herr *e)
{
	if (fd >= 0 && flock_wait(fd, LOCK_EX, UNSHARE_WAIT_MS) == 0)
		return 0;
	if (fd >= 0 && errno == EWOULDBLOCK)
		herr_set(e, EC(BUSY), EWOULDBLOCK, "cannot delete checkpoint %s yet: checkpoint %s, which stands on it, "
			 "is being read (a restore, a comparison or a core export); try again when that is done", id, child);
	else
		herr_perror(e, EC(INTERNAL), errno, "cannot delete checkpoint %s: cannot open checkpoint %s, which "
			    "stands on it", id, child);
	return -1;
}

/* Child name of store (open at storefd) takes in what it read from checkpoint id and stands on g. */
static int unshare_child(int storefd, const char *store, const char *id, const char *name, const struct grandparent *g,
			 struct herr *e)
{
	int fd = openat(storefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct share_stats st = { 0 };
	struct pagemap_names maps = { 0 };
	int ret = -1;

	if (lock_child(fd, id, name, e))
		goto out;
	if (pagemap_names(fd, false, &maps, e))
		goto fail;
	for (size_t i = 0; i < maps.n; i++)
		if (page_rewrite(fd, maps.v[i], NULL, &st, e))
			goto fail;
	fault_at("unshare-pages-taken");	/* its pages are its own, its manifest and link not yet changed */
	if (update_manifest(fd, store, name, g, e) || relink(fd, g, e))
		goto fail;
	if (fsync(fd))
		fprintf(stderr, "checkpoint-helper: cannot sync checkpoint %s: %s\n", name, strerror(errno));
	ret = 0;
	goto out;
fail:
	frame_error(e, id, name);
out:
	free(maps.v);
	if (fd >= 0)
		close(fd);	/* and with it the lock */
	return ret;
}

int page_unshare_children(const char *store, const char *id, int dirfd, struct herr *e)
{
	int storefd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = storefd >= 0 ? fdopendir(storefd) : NULL;
	struct grandparent g;
	struct dirent *de;
	struct stat self;
	int ret = 0;

	if (!d) {
		if (storefd >= 0)
			close(storefd);
		herr_perror(e, EC(INTERNAL), errno, "cannot read the checkpoint store %s", store);
		return -1;
	}
	if (fstat(dirfd, &self)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read checkpoint %s", id);
		closedir(d);
		return -1;
	}
	grandparent_of(dirfd, store, id, &g);
	while (!ret && (de = readdir(d)))
		if (valid_checkpoint_id(de->d_name) && strcmp(de->d_name, id) && stands_on(storefd, de->d_name, &self))
			ret = unshare_child(storefd, store, id, de->d_name, &g, e);
	closedir(d);
	return ret;
}

/* Checkpoint id (open at dirfd) deleted once those standing on it no longer need it. */
static int delete_locked(const char *store, const char *id, int dirfd, struct herr *e)
{
	if (flock_wait(dirfd, LOCK_EX, UNSHARE_WAIT_MS)) {
		herr_set(e, EC(BUSY), errno, "cannot delete checkpoint %s yet: it is being read (a restore, a "
			 "comparison, a core export, or a new checkpoint standing on it); try again when that is done", id);
		return -1;
	}
	if (page_unshare_children(store, id, dirfd, e))
		return -1;
	fault_at("delete-remove");	/* no checkpoint stands on it any more; not yet removed */
	return store_delete(store, id, e);
}

int page_unshare_delete(const char *store, const char *id, struct herr *e)
{
	int storefd, dirfd, ret = -1;

	if (lazy_check_idle(store, id, e))
		return -1;	/* its daemon reads its pages */
	storefd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (storefd < 0) {
		herr_perror(e, EC(NOT_FOUND), errno, "no checkpoint %s: the store %s cannot be opened", id, store);
		return -1;
	}
	/* one delete at a time: two would each re-link children onto the other's checkpoint */
	if (flock_wait(storefd, LOCK_EX, UNSHARE_WAIT_MS)) {
		herr_set(e, EC(BUSY), errno, "cannot delete checkpoint %s yet: another delete in %s is under way; try "
			 "again when it is done", id, store);
		goto out;
	}
	dirfd = checkpoint_open(store, id, e);
	if (dirfd >= 0) {
		ret = delete_locked(store, id, dirfd, e);
		close(dirfd);
	}
out:
	close(storefd);	/* and with it the lock */
	return ret;
}
