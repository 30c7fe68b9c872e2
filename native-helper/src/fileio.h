/* SPDX-License-Identifier: MIT */
/* Whole files in and out, directories made and removed. */
#ifndef CKPT_FILEIO_H
#define CKPT_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Writes all of data, however many writes it takes. */
int write_all(int fd, const void *data, size_t len);
/* Up to len bytes at off into buf; short only at the end of the file. -1 with errno on an error. */
ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off);
/* All of fd up to max bytes (EFBIG beyond) into *out (malloc'd, NUL-terminated); the others open and close. */
int read_fd(int fd, char **out, size_t *len, size_t max);
int read_file(const char *path, char **out, size_t *len, size_t max);
int read_file_at(int dirfd, const char *name, char **out, size_t *len, size_t max);
/*
 * read_file_at of a file that must be a regular one (what a checkpoint
 * holds): a symbolic link fails with ELOOP, anything else (a FIFO, which
 * would block, a device such as /dev/zero, which never ends) with EINVAL.
 */
int read_regular_at(int dirfd, const char *name, char **out, size_t *len, size_t max);
/*
 * name of dirfd opened for reading only if it is a regular file (looked at
 * before it is opened, and after): the descriptor, st its stat; -1 with
 * errno, ELOOP for a symbolic link, EINVAL for anything else not regular.
 */
int open_regular_at(int dirfd, const char *name, struct stat *st);
/* A new file (0600, no symbolic link followed) with data. */
int write_file_at(int dirfd, const char *name, const void *data, size_t len);
/* from (in from_dir) copied whole, up to max bytes, to a new file to (in to_dir) as write_file_at makes it. */
int copy_file_at(int from_dir, const char *from, int to_dir, const char *to, size_t max);
/*
 * A new file ".<name>.<random>.tmp" in dirfd (mode 0600, O_EXCL, no symbolic
 * link followed), open for writing; tmp gets its name. -1 with errno.
 */
int open_temp_at(int dirfd, const char *name, char *tmp, size_t tmplen);
/*
 * Writes data to a new file ".<name>.<random>.tmp" in dirfd (mode 0600) and
 * syncs it, so that renaming it over name replaces name whole; tmp gets its
 * name. On failure the file is gone, and errno says why.
 */
int write_temp_at(int dirfd, const char *name, const void *data, size_t len, char *tmp, size_t tmplen);
/* name in dirfd replaced whole by data (write_temp_at, then renamed over it): -1 with errno, nothing left. */
int replace_file_at(int dirfd, const char *name, const void *data, size_t len);
/*
 * Removes the temporary files of name (open_temp_at's) a killed writer left
 * in dirfd. Only for a writer that has dirfd to itself (locked exclusively,
 * or its own .partial): another writer's file would go too.
 */
void remove_temps_at(int dirfd, const char *name);
/* Writes a short string to an existing (control) file, e.g. cgroup.procs. */
int write_str_path(const char *path, const char *s);
int mkdir_p(const char *path, mode_t mode);
/* flock(fd, op) (LOCK_SH or LOCK_EX), waiting up to ms: -1 with EWOULDBLOCK when still held by another. */
int flock_wait(int fd, int op, unsigned ms);
int remove_tree(const char *path);
/*
 * dir/name (both made when missing, 0700 and 0600) opened and locked
 * exclusively without waiting: the descriptor holding the lock, or -1 with
 * errno (EWOULDBLOCK: another holds it). The lock is on the file the name
 * names when it returns: one its holder removed meanwhile is not taken. A
 * holder may remove the file while it holds the lock (claims do); one that
 * lets go first must not (the dump lock), or two could lock two files.
 */
int lock_file_in(const char *dir, const char *name);
/* fsync of the directory at path: the names made, renamed or removed in it survive a crash. */
int sync_dir(const char *path);
/* Whether descriptor fd is the file named name in dirfd (AT_FDCWD: name is a path), not another one put there. */
bool fd_is_at(int fd, int dirfd, const char *name);
/* Bytes of the regular files under path. */
uint64_t dir_size(const char *path);

#endif
