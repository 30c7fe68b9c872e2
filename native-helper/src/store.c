/* SPDX-License-Identifier: MIT */
/* The checkpoint store: <store>/<id>/{CRIU images, manifest.pb, manifest.json}. */
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
#include "store.h"
#include "wire.h"

bool valid_checkpoint_id(const char *id)
{
	size_t n;

	if (!id || !*id || id[0] == '.')
		return false;
	for (n = 0; id[n]; n++) {
		char c = id[n];

		if (n >= MAX_ID_LEN)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int store_prepare(const char *store, struct herr *e)
{
	struct stat st;

	if (mkdir_p(store, 0700)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot create the checkpoint store %s", store);
		return -1;
	}
	if (stat(store, &st)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read the checkpoint store %s", store);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		herr_set(e, EC(INTERNAL), ENOTDIR, "the checkpoint store %s is not a directory", store);
		return -1;
	}
	if ((st.st_mode & 077) && chmod(store, 0700))
		fprintf(stderr, "checkpoint-helper: cannot chmod 0700 %s: %s\n", store, strerror(errno));
	return 0;
}

int checkpoint_open(const char *store, const char *id, struct herr *e)
{
	char path[4400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", store, id);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
		herr_set(e, EC(NOT_FOUND), errno, "no checkpoint %s in %s", id, store);
	else
		herr_perror(e, EC(INTERNAL), errno, "cannot open checkpoint %s in %s", id, store);
	return -1;
}

static int cmp_checkpoint(const void *a, const void *b)
{
	const Checkpoint *x = *(Checkpoint *const *)a, *y = *(Checkpoint *const *)b;

	if (x->created_unix_ms != y->created_unix_ms)
		return x->created_unix_ms < y->created_unix_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* What a delete renames a checkpoint to before removing it: gone from every listing and reader at once. */
#define DELETED_PREFIX ".deleted-"

/* A dump still writing it, or one that never finished: see op_dump. */
static bool is_partial(const char *name)
{
	size_t n = strlen(name);

	return n > 8 && !strcmp(name + n - 8, ".partial");
}

static bool is_dir_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* A checkpoint directory whose manifest cannot be read: listed, with why (it can be deleted). */
static Checkpoint *damaged_entry(const char *store, const char *id, const char *why)
{
	Checkpoint *c = arena_alloc(sizeof(*c));

	checkpoint__helper__v1__checkpoint__init(c);
	c->id = arena_strdup(id);
	c->name = "";
	c->path = arena_printf("%s/%s", store, id);
	c->damaged = arena_strdup(why);
	return c;
}

/*
 * The store's entry name, left by a dump or a delete that did not finish,
 * locked exclusively when no helper holds it and it is still at name (its
 * holder may have renamed it before it let go): its descriptor, else -1.
 */
static int hold_leftover(int storefd, const char *name)
{
	int fd = openat(storefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && (flock(fd, LOCK_EX | LOCK_NB) || !fd_is_at(fd, storefd, name))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The leftover name (held) removed; what: the operation that left it. */
static void remove_leftover(const char *store, const char *name, const char *what)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", store, name);
	if (remove_tree(path))
		fprintf(stderr, "checkpoint-helper: cannot remove %s, left by a %s that did not finish: %s\n", path,
			what, strerror(errno));
}

/*
 * A directory a dump left behind (<id>.partial) that no dump holds any more:
 * the dumping helper and the CRIU it runs hold it locked while they write
 * it, so unlocked means they are gone (killed, or a failure that kept the
 * images). CRIU writes stats-dump last, and only when the dump succeeded:
 * with it the images are complete and become a listed checkpoint (with the
 * manifest written before CRIU ran, or listed as damaged without one);
 * without it they are of no use and removed.
 */
static void sweep_partial(int storefd, const char *store, const char *name)
{
	size_t id_len = strlen(name) - strlen(".partial");	/* is_partial: longer than that */
	char id[MAX_ID_LEN + 1];
	/* renamed into place by its dump meanwhile: it is no longer ours to judge */
	int fd = hold_leftover(storefd, name);

	if (fd < 0)
		return;
	memcpy(id, name, id_len);	/* name is a valid id: at most MAX_ID_LEN */
	id[id_len] = '\0';
	if (faccessat(fd, "stats-dump", F_OK, 0) == 0) {
		if (renameat2(storefd, name, storefd, id, RENAME_NOREPLACE) == 0) {
			fsync(storefd);	/* a rename lost to a crash is made again by the next sweep */
			fprintf(stderr, "checkpoint-helper: %s/%s: kept as checkpoint %s (CRIU had finished it; the dump "
				"did not end)\n", store, name, id);
		} else {
			fprintf(stderr, "checkpoint-helper: %s/%s: complete images kept where they are, not listed: cannot "
				"make them checkpoint %s: %s\n", store, name, id, strerror(errno));
		}
	} else {
		remove_leftover(store, name, "dump");
	}
	close(fd);
}

/* A checkpoint a delete hid (.deleted-<id>) and no delete holds any more: the rest of it removed. */
static void sweep_deleted(int storefd, const char *store, const char *name)
{
	int fd = hold_leftover(storefd, name);

	if (fd < 0)
		return;
	remove_leftover(store, name, "delete");
	close(fd);
}

static bool is_deleted(const char *name)
{
	size_t n = strlen(DELETED_PREFIX);

	return !strncmp(name, DELETED_PREFIX, n) && valid_checkpoint_id(name + n);
}

void store_sweep_partial(const char *store)
{
	struct dirent *de;
	DIR *d = opendir(store);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (valid_checkpoint_id(de->d_name) && is_partial(de->d_name))
			sweep_partial(dirfd(d), store, de->d_name);
		else if (is_deleted(de->d_name))
			sweep_deleted(dirfd(d), store, de->d_name);
	}
	closedir(d);
}

int store_list(const char *store, ListResult *res, struct herr *e)
{
	size_t cap = 0;
	struct dirent *de;
	DIR *d;

	/*
	 * a pass of its own, before the listing's: a .partial the sweep renames
	 * to its id during one readdir may or may not be seen by it (POSIX)
	 */
	store_sweep_partial(store);
	d = opendir(store);
	if (!d) {
		if (errno == ENOENT)
			return 0;	/* nothing checkpointed yet */
		herr_perror(e, EC(INTERNAL), errno, "cannot read the checkpoint store %s", store);
		return -1;
	}
	while ((de = readdir(d))) {
		struct herr e = { 0 };
		Checkpoint *c;

		if (!valid_checkpoint_id(de->d_name) || is_partial(de->d_name) || !is_dir_at(dirfd(d), de->d_name))
			continue;
		c = manifest_read(store, de->d_name, &e);
		if (!c)
			c = damaged_entry(store, de->d_name, e.msg);
		res->checkpoints = arena_grow(res->checkpoints, res->n_checkpoints, &cap, sizeof(*res->checkpoints));
		res->checkpoints[res->n_checkpoints++] = c;
	}
	closedir(d);
	if (res->n_checkpoints)	/* qsort wants an array, even of none */
		qsort(res->checkpoints, res->n_checkpoints, sizeof(*res->checkpoints), cmp_checkpoint);
	return 0;
}

/*
 * The checkpoint the "parent" symlink names: its target's last component,
 * when that is a checkpoint directory of the same store (and not id itself).
 */
const char *store_parent_id(int dirfd, const char *store, const char *id)
{
	char target[4096], path[4400];
	struct stat st;
	ssize_t n;
	char *last;

	n = readlinkat(dirfd, "parent", target, sizeof(target));
	if (n <= 0 || (size_t)n >= sizeof(target))
		return "";
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	last = strrchr(target, '/');
	last = last ? last + 1 : target;
	if (!valid_checkpoint_id(last) || !strcmp(last, id))
		return "";
	snprintf(path, sizeof(path), "%s/%s", store, last);
	if (lstat(path, &st) || !S_ISDIR(st.st_mode))
		return "";
	return arena_strdup(last);
}

/* Checkpoint id renamed out of sight (to <store>/.deleted-<id>, left there by a killed delete or not). */
static int hide_deleted(const char *store, const char *id, char *trash, size_t size, struct herr *e)
{
	char path[4400];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", store, id);
	snprintf(trash, size, "%s/" DELETED_PREFIX "%s", store, id);
	ret = renameat2(AT_FDCWD, path, AT_FDCWD, trash, RENAME_NOREPLACE);
	if (ret && errno == EEXIST && remove_tree(trash) == 0)
		ret = renameat2(AT_FDCWD, path, AT_FDCWD, trash, RENAME_NOREPLACE);
	if (ret) {
		herr_perror(e, EC(INTERNAL), errno, "cannot delete %s (renaming it to %s)", path, trash);
		return -1;
	}
	return 0;
}

int store_delete(const char *store, const char *id, struct herr *e)
{
	char path[4400], trash[4400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", store, id);
	if (lstat(path, &st) || !S_ISDIR(st.st_mode)) {
		herr_set(e, EC(NOT_FOUND), ENOENT, "no checkpoint %s in %s", id, store);
		return -1;
	}
	if (lazy_check_idle(store, id, e))
		return -1;	/* its daemon reads its pages */
	/* a reader never meets it half-removed (nor a listing a damaged one), a killed delete leaves it hidden */
	if (hide_deleted(store, id, trash, sizeof(trash), e))
		return -1;
	sync_dir(store);	/* not found again after a crash */
	fault_at("delete-hidden");	/* out of sight, not yet removed: the next listing removes it */
	if (remove_tree(trash))
		fprintf(stderr, "checkpoint-helper: checkpoint %s deleted, but not all of %s could be removed "
			"(the next listing tries again): %s\n", id, trash, strerror(errno));
	return 0;
}

int store_check_finished(const char *store, const char *id, struct herr *e)
{
	char path[4400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s.partial", store, id);
	if (!is_partial(id) && lstat(path, &st))
		return 0;
	herr_set(e, EC(NOT_FOUND), ENOENT, "no checkpoint %s in %s: it is still being written (or its dump "
		 "did not finish); list the checkpoints to see the finished ones", id, store);
	return -1;
}

/* Checkpoint id (open at fd) locked exclusively, waiting a while for its readers; BUSY after. */
static int lock_for_change(int fd, const char *id, struct herr *e)
{
	if (flock_wait(fd, LOCK_EX, STORE_LOCK_WAIT_MS) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		herr_set(e, EC(BUSY), errno, "checkpoint %s is being read or changed (a restore, a comparison, a "
			 "delete); try again when that is done", id);
	else
		herr_perror(e, EC(INTERNAL), errno, "cannot lock checkpoint %s", id);
	return -1;
}

int store_rename(const char *store, const char *id, const char *name, Checkpoint **out, struct herr *e)
{
	Checkpoint *c;
	int fd, ret = -1;

	if (store_check_finished(store, id, e))
		return -1;
	fd = checkpoint_open(store, id, e);
	if (fd < 0)
		return -1;
	/* another helper renaming it too: one read-modify-write after the other */
	if (lock_for_change(fd, id, e))
		goto out;
	c = manifest_read_at(fd, store, id, e);
	if (!c)
		goto out;
	c->name = arena_strdup(name);
	if (fault_at("rename-write")) {
		herr_perror(e, EC(INTERNAL), errno, "cannot write the manifest of checkpoint %s", id);
		goto out;
	}
	if (manifest_write(fd, c, e))
		goto out;
	*out = c;
	ret = 0;
out:
	close(fd);	/* and with it the lock */
	return ret;
}

int store_put_file(int dirfd, const char *store, const char *id, const char *tmp, const char *name,
		   struct herr *e)
{
	struct stat old, st;
	Checkpoint *c;
	int ret = -1;

	if (lock_for_change(dirfd, id, e))
		return -1;
	if (!checkpoint_still_at(dirfd, store, id)) {
		herr_set(e, EC(NOT_FOUND), ENOENT, "no checkpoint %s in %s any more: it was deleted meanwhile; "
			 "nothing was added to it", id, store);
		goto out;
	}
	if (fstatat(dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot stat the new %s of checkpoint %s", name, id);
		goto out;
	}
	if (fstatat(dirfd, name, &old, AT_SYMLINK_NOFOLLOW) || !S_ISREG(old.st_mode))
		old.st_size = 0;
	if (renameat(dirfd, tmp, dirfd, name)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot put the new %s of checkpoint %s in place", name, id);
		goto out;
	}
	if (fsync(dirfd))
		fprintf(stderr, "checkpoint-helper: cannot sync the directory of checkpoint %s: %s\n", id,
			strerror(errno));
	ret = 0;
	/* the file is in place: a manifest that cannot be read or rewritten only keeps the old size */
	c = manifest_read_at(dirfd, store, id, NULL);
	if (c && st.st_size != old.st_size) {
		struct herr me = { 0 };

		c->size_bytes = c->size_bytes + st.st_size >= (uint64_t)old.st_size ?
				c->size_bytes + st.st_size - old.st_size : 0;
		if (manifest_write(dirfd, c, &me))
			fprintf(stderr, "checkpoint-helper: %s\n", me.msg);
	}
out:
	flock(dirfd, LOCK_UN);
	return ret;
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int store_prune(const char *dir, size_t keep)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, visible, alphasort), ret = 0;

	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	for (int i = 0; i < n; i++) {
		if ((size_t)(n - i) > keep && remove_tree(arena_printf("%s/%s", dir, names[i]->d_name)))
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}
