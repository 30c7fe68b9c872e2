/* SPDX-License-Identifier: MIT */
/*
 * The descriptors of the host, read once per scan into s->fds (part of the
 * base of the leak detectors, with leak_scan.h): what each descriptor is
 * (stat), and on demand its link, access mode and fdinfo.
 *
 * Every descriptor of every process (but the excluded ones) is stat'ed
 * once. A tree descriptor is kept with its size and, for files and FIFOs,
 * its link; an outside one only when it may hold something of the tree's
 * (a socket, a terminal, the same pipe, FIFO, memfd, deleted or locked
 * file as a tree descriptor). Links and access modes are read on demand
 * (fd_entry_detail).
 */
#ifndef CKPT_FD_TABLE_H
#define CKPT_FD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "leak_scan.h"
#include "proc_locks.h"

#define FD_TTY_UNREAD (-2)		/* fd_entry.tty_index not read yet */

struct fd_entry {
	uint64_t dev, ino;		/* of the open file */
	uint64_t rdev;			/* devices: the device number */
	uint64_t size;			/* tree descriptors only */
	pid_t pid;
	int fd;
	uint32_t mode;			/* st_mode of the open file (S_IFMT and permissions) */
	uint32_t nlink;			/* tree descriptors only */
	int tty_index;			/* pty masters: the pts number, -1 unknown; FD_TTY_UNREAD */
	bool in_tree;
	bool link_read;			/* link is read (tree FIFOs, files, directories: at once) */
	bool detailed;			/* link, readable, writable are read */
	bool readable, writable;	/* the descriptor's access mode */
	char *link;			/* readlink of /proc/PID/fd/N; NULL until read, or unreadable */
};

/* A lock the tree holds, as the fdinfo of one of its descriptors shows it. */
struct fd_lock {
	struct lock_line l;
	pid_t pid;			/* the descriptor's */
	int fd;
	uint64_t dev, ino;		/* its open file's, as stat tells (l's may differ) */
	bool done;			/* detect_file_locks told of it */
};

struct fd_table {
	struct fd_entry *v;		/* sorted by dev, ino, pid, fd */
	size_t n, cap;
	size_t tree;			/* descriptors of the tree */
	struct fd_lock *tree_locks;	/* the locks of the tree, read with its descriptors */
	size_t ntree_locks;
};

/* Reads the descriptors of the host into s->fds (host_read first); counts each process's. */
int fd_table_read(struct host_scan *s, struct herr *e);
void fd_table_free(struct fd_table *t);
/* The entries of open file dev:ino: their count, the first at *first. */
size_t fd_table_find(const struct fd_table *t, uint64_t dev, uint64_t ino, size_t *first);
/* e's link as read so far ("" when not read, or unreadable). */
const char *fd_entry_link(const struct fd_entry *e);
/* Reads e's link and access mode once; -1 when the descriptor is gone. */
int fd_entry_detail(struct fd_entry *e);
/* A pty master's pts number (fdinfo tty-index), read once; -1 unknown. */
int fd_entry_tty_index(struct fd_entry *e);
/* "fd 3 (write end)": the holder e is, described by what ("" for the access mode). */
void fd_entry_holder(struct fd_entry *e, const char *what, struct leak_holder *h);

/* What a descriptor is, from its link and stat. */
enum fd_class {
	FDC_OTHER,			/* anon inodes, devices, ...: no leak of this file's */
	FDC_FILE,			/* a regular file or directory */
	FDC_PIPE,			/* "pipe:[INO]" */
	FDC_FIFO,			/* a named pipe */
	FDC_SOCKET,			/* "socket:[INO]" */
	FDC_MEMFD,			/* "/memfd:NAME (deleted)" */
	FDC_DELETED,			/* "/path (deleted)" */
	FDC_PTY_MASTER,			/* /dev/ptmx, /dev/pts/ptmx */
	FDC_PTY_SLAVE,			/* /dev/pts/N */
	FDC_TERMINAL,			/* another terminal: vt, serial, console */
};

enum fd_class fd_classify(const char *link, uint32_t mode, uint64_t rdev);
/* The pts number of a pty slave's device, -1 when rdev is none. */
int pts_index(uint64_t rdev);
/* A pty master's device (/dev/ptmx). */
bool fd_is_ptmx(uint64_t rdev);
/* Terminals other than ptys: virtual consoles, serial ports, the console. */
bool fd_is_terminal(uint64_t rdev);

#endif
