/* SPDX-License-Identifier: MIT */
/*
 * A checkpoint's image files, served to the client: the listing (image_files)
 * and byte ranges of them (read_image). Only regular files directly inside
 * <store>/<id> are served; every name is looked up relative to the
 * checkpoint directory, opened once per request, and never followed through
 * a symbolic link. And byte ranges of the files the checkpoint's processes
 * mapped (named in its files.img, and only those), from the target's file
 * system: their paths are bytes SFTP cannot name when they are not UTF-8.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "image.h"
#include "image_entries.h"
#include "store.h"

/* Descriptors kept open at once while serving one read_image request. */
#define IMAGE_FD_CACHE 64

/* A plain name of a file directly in the checkpoint directory. */
bool valid_image_name(const char *name)
{
	size_t n;

	if (!name || !name[0] || name[0] == '.')	/* also ".", ".." */
		return false;
	n = strnlen(name, MAX_IMAGE_NAME + 1);
	return n <= MAX_IMAGE_NAME && !memchr(name, '/', n);
}

/* ---- image_files ---------------------------------------------------------- */

static int cmp_image_file(const void *a, const void *b)
{
	const ImageFile *x = *(ImageFile *const *)a, *y = *(ImageFile *const *)b;

	return strcmp(x->name, y->name);
}

/* Appends name/size to res, growing its array in the arena. */
static void add_image_file(ImageFilesResult *res, size_t *cap, const char *name, uint64_t size)
{
	ImageFile *f = arena_alloc(sizeof(*f));

	res->files = arena_grow(res->files, res->n_files, cap, sizeof(*res->files));
	checkpoint__helper__v1__image_file__init(f);
	f->name = arena_strdup(name);
	f->size = size;
	res->files[res->n_files++] = f;
}

/* Lists the regular files of checkpoint id (valid), sorted by name. */
int image_files_list(const char *store, const char *id, ImageFilesResult *res, struct herr *e)
{
	struct dirent *de;
	size_t cap = 0;
	DIR *d = NULL;
	int fd, ret = -1;

	fd = checkpoint_open(store, id, e);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read checkpoint %s", id);
		goto out;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		struct stat st;

		if (!valid_image_name(de->d_name))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			herr_perror(e, EC(INTERNAL), errno, "cannot stat %s of checkpoint %s", de->d_name,
				 id);
			goto out;
		}
		if (S_ISREG(st.st_mode))
			add_image_file(res, &cap, de->d_name, st.st_size);
	}
	if (errno) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read checkpoint %s", id);
		goto out;
	}
	if (res->n_files)
		qsort(res->files, res->n_files, sizeof(*res->files), cmp_image_file);
	res->parent_id = (char *)store_parent_id(fd, store, id);
	ret = 0;
out:
	if (d)
		closedir(d);	/* closes fd */
	else
		close(fd);
	return ret;
}

/* ---- read_image ------------------------------------------------------------ */

struct image_fd {
	const char *name;
	int fd;
	uint64_t size;
};

struct image_fds {
	struct image_fd v[IMAGE_FD_CACHE];
	size_t n;
};

static void image_fds_close(struct image_fds *c)
{
	for (size_t i = 0; i < c->n; i++)
		close(c->v[i].fd);
	c->n = 0;
}

/* A path a range may name as a mapped file (which file it is, the checkpoint's files.img decides). */
static bool valid_mapped_path(const char *path)
{
	return path && path[0] == '/' && strnlen(path, PATH_MAX) < PATH_MAX;
}

/* The paths of the regular files a checkpoint's processes mapped or held (files.img), for mapped ranges. */
struct mapped_paths {
	const char **v;
	size_t n, cap;
	bool loaded;
};

static int add_mapped_path(const Checkpoint__Criu__V1__RegularFile *reg, const Checkpoint__Criu__V1__MemfdFile *memfd,
			   uint32_t id, void *arg, struct herr *e)
{
	struct mapped_paths *m = arg;

	(void)memfd;
	(void)id;
	(void)e;
	if (!reg || !reg->name)
		return 0;
	m->v = arena_grow(m->v, m->n, &m->cap, sizeof(*m->v));
	m->v[m->n++] = arena_strdup(reg->name);
	return 0;
}

/* Whether path is one of the files checkpoint id (open at dirfd) names; they are read once per request. */
static int check_mapped(struct mapped_paths *m, int dirfd, const char *id, const char *path, struct herr *e)
{
	if (!m->loaded && image_files_each(dirfd, add_mapped_path, m, e))
		return -1;
	m->loaded = true;
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i], path))
			return 0;
	herr_set(e, EC(BAD_REQUEST), EINVAL, "checkpoint %s names no file %s: only the files its processes mapped "
		 "or held can be read", id, path);
	return -1;
}

/* Refuses what no request may ask, before anything is opened. */
static int check_ranges(ByteRange *const *ranges, size_t n, struct herr *e)
{
	uint64_t total = 0;

	if (n > MAX_READ_RANGES) {
		herr_set(e, EC(BAD_REQUEST), EINVAL, "%zu ranges asked; at most %u per read_image request",
			 n, MAX_READ_RANGES);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (ranges[i]->mapped_file && !valid_mapped_path(ranges[i]->file)) {
			herr_set(e, EC(BAD_REQUEST), EINVAL, "range %zu: a mapped file is named by its absolute path "
				 "(1-%d bytes, starting with '/')", i, PATH_MAX - 1);
			return -1;
		}
		if (!ranges[i]->mapped_file && !valid_image_name(ranges[i]->file)) {
			herr_set(e, EC(BAD_REQUEST), EINVAL,
				 "range %zu: \"%.*s\" is not an image file name (1-%d bytes, no '/', not "
				 "starting with a dot)", i, MAX_IMAGE_NAME,
				 ranges[i]->file ? ranges[i]->file : "", MAX_IMAGE_NAME);
			return -1;
		}
		total += ranges[i]->length;
	}
	if (total > MAX_READ_BYTES) {
		herr_set(e, EC(BAD_REQUEST), EFBIG, "%llu bytes asked; at most %u (16 MiB) per read_image "
			 "request", (unsigned long long)total, MAX_READ_BYTES);
		return -1;
	}
	return 0;
}

/*
 * Opens the range's file, a regular one, not through a symlink: an image
 * (a valid name, in dirfd) or a file checkpoint id mapped (its path, on the
 * target's file system).
 */
static int open_served(int dirfd, const char *id, const ByteRange *r, uint64_t *size, struct herr *e)
{
	const char *what = r->mapped_file ? arena_printf("%s, which checkpoint %s mapped,", r->file, id)
					  : arena_printf("%s of checkpoint %s", r->file, id);
	struct stat st;
	int fd = open_regular_at(r->mapped_file ? AT_FDCWD : dirfd, r->file, &st);

	if (fd >= 0) {
		*size = st.st_size;
		return fd;
	}
	if (errno == ENOENT)
		herr_set(e, EC(NOT_FOUND), errno, "%s is not there (%s)", what,
			 r->mapped_file ? "gone from the target since" : "no such image");
	else if (errno == ELOOP || errno == EINVAL)
		herr_set(e, EC(BAD_REQUEST), EINVAL, "%s is not a regular file", what);
	else
		herr_perror(e, EC(INTERNAL), errno, "cannot open %s", what);
	return -1;
}

/* The cached descriptor of the range's file, opening it (and evicting all when full). */
static struct image_fd *image_fd_get(struct image_fds *c, int dirfd, const char *id, const ByteRange *r,
				     struct herr *e)
{
	struct image_fd *f;

	/* image names have no '/', mapped paths start with one: one cache serves both */
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].name, r->file))
			return &c->v[i];
	if (c->n == IMAGE_FD_CACHE)
		image_fds_close(c);
	f = &c->v[c->n];
	f->fd = open_served(dirfd, id, r, &f->size, e);
	if (f->fd < 0)
		return NULL;
	f->name = r->file;
	c->n++;
	return f;
}

static int read_range(struct image_fd *f, const char *id, const ByteRange *r, ProtobufCBinaryData *out,
		      struct herr *e)
{
	uint64_t want = 0;
	ssize_t got;

	/* past the end: empty; offsets beyond off_t never reach pread */
	if (r->offset < f->size)
		want = f->size - r->offset < r->length ? f->size - r->offset : r->length;
	out->data = arena_alloc(want);
	out->len = 0;
	if (!want)
		return 0;
	got = pread_full(f->fd, out->data, want, r->offset);
	if (got < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read %s of checkpoint %s at offset %llu",
			 f->name, id, (unsigned long long)r->offset);
		return -1;
	}
	out->len = got;
	return 0;
}

/* Reads the ranges of checkpoint id (valid) into res->data, one per range. */
int image_read_ranges(const char *store, const char *id, ByteRange *const *ranges, size_t n,
		      ReadImageResult *res, struct herr *e)
{
	struct image_fds cache = { .n = 0 };
	struct mapped_paths mapped = { 0 };
	ProtobufCBinaryData *data;
	int dirfd = -1, ret = -1;

	if (check_ranges(ranges, n, e))
		return -1;
	dirfd = checkpoint_open(store, id, e);
	if (dirfd < 0)
		return -1;
	data = arena_alloc((n + 1) * sizeof(*data));
	for (size_t i = 0; i < n; i++) {
		struct image_fd *f = NULL;

		if (!ranges[i]->mapped_file || check_mapped(&mapped, dirfd, id, ranges[i]->file, e) == 0)
			f = image_fd_get(&cache, dirfd, id, ranges[i], e);
		if (!f || read_range(f, id, ranges[i], &data[i], e))
			goto out;
	}
	res->data = data;
	res->n_data = n;
	ret = 0;
out:
	image_fds_close(&cache);
	close(dirfd);
	return ret;
}
