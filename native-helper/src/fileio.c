/* SPDX-License-Identifier: MIT */
/* Whole files in and out, directories made and removed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "lists.h"
#include "util.h"

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= w;
	}
	return 0;
}

int read_fd(int fd, char **out, size_t *len, size_t max)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int saved;

	for (;;) {
		ssize_t r;

		if (array_grow((void **)&buf, &cap, n + 4096 + 1, 1))
			goto fail;
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
fail:
	saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

int read_file_at(int dirfd, const char *name, char **out, size_t *len, size_t max)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY), ret, saved;

	if (fd < 0)
		return -1;
	ret = read_fd(fd, out, len, max);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int open_regular_at(int dirfd, const char *name, struct stat *st)
{
	struct stat before;
	int fd, saved;

	/* looked at first: opening a FIFO or a device can block or act */
	if (fstatat(dirfd, name, &before, AT_SYMLINK_NOFOLLOW))
		return -1;
	if (S_ISLNK(before.st_mode) || !S_ISREG(before.st_mode)) {
		errno = S_ISLNK(before.st_mode) ? ELOOP : EINVAL;
		return -1;
	}
	/* not blocking, no terminal taken, no link followed: what is there now may have been swapped in */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, st))
		saved = errno;
	else if (S_ISREG(st->st_mode))
		return fd;
	else
		saved = EINVAL;
	close(fd);
	errno = saved;
	return -1;
}

int read_regular_at(int dirfd, const char *name, char **out, size_t *len, size_t max)
{
	struct stat st;
	int fd = open_regular_at(dirfd, name, &st), ret, saved;

	if (fd < 0)
		return -1;
	ret = read_fd(fd, out, len, max);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int read_file(const char *path, char **out, size_t *len, size_t max)
{
	return read_file_at(AT_FDCWD, path, out, len, max);
}

int write_file_at(int dirfd, const char *name, const void *data, size_t len)
{
	int fd, ret;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	ret = write_all(fd, data, len);
	if (close(fd) && !ret)
		ret = -1;
	return ret;
}

int copy_file_at(int from_dir, const char *from, int to_dir, const char *to, size_t max)
{
	char *data = NULL;
	size_t len = 0;
	int ret = read_file_at(from_dir, from, &data, &len, max);

	if (!ret)
		ret = write_file_at(to_dir, to, data, len);
	free(data);
	return ret;
}

int open_temp_at(int dirfd, const char *name, char *tmp, size_t tmplen)
{
	char rnd[17];
	int fd;

	tmp[0] = '\0';
	if (random_hex(rnd, 16))
		return -1;
	if (snprintf(tmp, tmplen, ".%s.%s.tmp", name, rnd) >= (int)tmplen) {
		tmp[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	/* O_EXCL: never write into a file that is not this call's own */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		tmp[0] = '\0';
	return fd;
}

int write_temp_at(int dirfd, const char *name, const void *data, size_t len, char *tmp, size_t tmplen)
{
	int fd, ret, err;

	fd = open_temp_at(dirfd, name, tmp, tmplen);
	if (fd < 0)
		return -1;
	ret = write_all(fd, data, len) || fsync(fd) ? -1 : 0;
	err = errno;
	if (close(fd) && !ret) {
		ret = -1;
		err = errno;
	}
	if (ret) {
		unlinkat(dirfd, tmp, 0);
		tmp[0] = '\0';
		errno = err;
	}
	return ret;
}

int replace_file_at(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[256];
	int err;

	if (write_temp_at(dirfd, name, data, len, tmp, sizeof(tmp)))
		return -1;
	if (renameat(dirfd, tmp, dirfd, name) == 0)
		return 0;
	err = errno;
	unlinkat(dirfd, tmp, 0);
	errno = err;
	return -1;
}

/* Whether entry is ".<name>.<anything>.tmp", what open_temp_at names the temporary files of name. */
static bool is_temp_of(const char *entry, const char *name)
{
	size_t n = strlen(name), len = strlen(entry);

	return len > n + 2 + strlen(".tmp") && entry[0] == '.' && !strncmp(entry + 1, name, n) &&
	       entry[n + 1] == '.' && !strcmp(entry + len - strlen(".tmp"), ".tmp");
}

void remove_temps_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (is_temp_of(de->d_name, name))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

int write_str_path(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd, saved;
	ssize_t w;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do {
		w = write(fd, s, len);
	} while (w < 0 && errno == EINTR);
	if (w >= 0 && (size_t)w != len)
		errno = EIO;
	if (w < 0 || (size_t)w != len) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -1;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) ? -1 : 0;
	return unlink(path) ? -1 : 0;
}

int lock_file_in(const char *dir, const char *name)
{
	char path[4400];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir_p(dir, 0700) && errno != EEXIST)
		return -1;
	/* a few times: each retry means another holder removed the file between our open and lock */
	for (int tries = 0; tries < 5; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		/* locked, but maybe a file its holder removed meanwhile: no one else would see that lock */
		if (fd_is_at(fd, AT_FDCWD, path))
			return fd;
		close(fd);
	}
	errno = EAGAIN;
	return -1;
}

int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret, err;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

bool fd_is_at(int fd, int dirfd, const char *name)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

int remove_tree(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t size_acc;

static int size_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		size_acc += sb->st_size;
	return 0;
}

uint64_t dir_size(const char *path)
{
	size_acc = 0;
	nftw(path, size_one, 16, FTW_PHYS);
	return size_acc;
}

ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += r;
	}
	return (ssize_t)done;
}

int flock_wait(int fd, int op, unsigned ms)
{
	uint64_t deadline = now_us() + (uint64_t)ms * 1000;
	unsigned pause_us = 1000;

	for (;;) {
		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || now_us() >= deadline)
			return -1;
		poll_pause(&pause_us);
	}
}
