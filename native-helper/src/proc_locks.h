/* SPDX-License-Identifier: MIT */
/*
 * File locks as /proc shows them: /proc/locks (every lock of the host, and
 * who waits), and the "lock:" lines of a descriptor's fdinfo (the locks of
 * its open file, or of its owner's, whatever pid /proc/locks names).
 */
#ifndef CKPT_PROC_LOCKS_H
#define CKPT_PROC_LOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One line of /proc/locks, or of a "lock:" line of fdinfo (without "lock:\t"). */
struct lock_line {
	bool waiter;			/* "->": waits for the lock */
	char cls[8];			/* POSIX, FLOCK, OFDLCK, LEASE, ... */
	char type[8];			/* READ, WRITE, ... */
	pid_t pid;			/* -1 for OFD locks */
	unsigned major, minor;
	uint64_t ino;
	bool has_inode;			/* false: "<none>" */
	uint64_t start;
	bool to_eof;
	uint64_t end;
};

/*
 * "1: POSIX  ADVISORY  WRITE 10867 fe:00:2146992 5 14", "3: -> FLOCK
 * ADVISORY  WRITE 10908 fe:00:2146986 0 EOF", "1: OFDLCK ADVISORY  READ
 * -1 08:01:123 0 EOF", "2: LEASE  ACTIVE    READ  77 00:2d:9 0 EOF".
 * Device numbers are hex, the inode and the range decimal. -1 with errno
 * EINVAL for anything else.
 */
int parse_lock_line(const char *line, struct lock_line *l);
/* The same lock: class, type, owner, file and range. */
bool lock_line_same(const struct lock_line *a, const struct lock_line *b);
/* Locks of the same file. */
bool lock_line_same_file(const struct lock_line *a, const struct lock_line *b);
/*
 * The text of /proc/locks (malloc'd), in as few reads as can be: each takes
 * the kernel's file lock rwsem for writing, an RCU grace period that stalls
 * every lock on the host. NULL when it cannot be read.
 */
char *read_proc_locks(void);
/*
 * The locks the fdinfo of pid's descriptor fd shows (*v malloc'd, *n of
 * them; none when it cannot be read). -1 only when out of memory.
 */
int fdinfo_locks(pid_t pid, int fd, struct lock_line **v, size_t *n);

#endif
