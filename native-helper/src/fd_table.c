/* SPDX-License-Identifier: MIT */
/*
 * The descriptors of the host, read once per scan (s->fds): every
 * descriptor of every process but the excluded ones is stat'ed once. A tree
 * descriptor costs a stat, and a readlink when it is a file or a FIFO (and
 * its fdinfo, for locks, when a file); an outside one a stat only, kept only
 * when it may hold something of the tree's: the same pipe, FIFO, memfd,
 * deleted or locked file as a tree descriptor, a socket (a peer), a
 * terminal (a pty's other side). Links and access modes of outside
 * descriptors are read when they turn out to be holders.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "arena.h"
#include "fd_table.h"
#include "fileio.h"
#include "lists.h"
#include "util.h"
#include "wire.h"

#define PTS_MAJOR_FIRST 136		/* UNIX98_PTY_SLAVE_MAJOR, 8 majors */
#define PTS_MAJOR_LAST 143
#define TTYAUX_MAJOR 5			/* /dev/tty 5:0, /dev/console 5:1, /dev/ptmx 5:2 */
#define TTY_MAJOR 4			/* virtual consoles and serial ports */

/* ---- the table ------------------------------------------------------------ */

static int cmp_key(uint64_t dev, uint64_t ino, const struct fd_entry *e)
{
	if (dev != e->dev)
		return dev < e->dev ? -1 : 1;
	if (ino != e->ino)
		return ino < e->ino ? -1 : 1;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct fd_entry *x = a, *y = b;
	int c = cmp_key(x->dev, x->ino, y);

	if (c)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* The first of v[0..n) not below dev:ino. */
static size_t lower_bound(const struct fd_entry *v, size_t n, uint64_t dev, uint64_t ino)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_key(dev, ino, &v[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t fd_table_find(const struct fd_table *t, uint64_t dev, uint64_t ino, size_t *first)
{
	size_t i, j;

	*first = 0;
	if (!t)
		return 0;
	i = lower_bound(t->v, t->n, dev, ino);
	for (j = i; j < t->n && !cmp_key(dev, ino, &t->v[j]); j++)
		;
	*first = i;
	return j - i;
}

static struct fd_entry *table_add(struct fd_table *t)
{
	if (array_grow((void **)&t->v, &t->cap, t->n + 1, sizeof(*t->v)))
		return NULL;
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	return &t->v[t->n++];
}

void fd_table_free(struct fd_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].link);
	free(t->v);
	free(t->tree_locks);
	free(t);
}

/* ---- one descriptor --------------------------------------------------------- */

const char *fd_entry_link(const struct fd_entry *e)
{
	return e->link ? e->link : "";
}

static void read_link_at(struct fd_entry *e, int dirfd, const char *name)
{
	char buf[PATH_MAX];
	ssize_t n;

	e->link_read = true;
	n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);
	if (n >= 0) {
		buf[n] = '\0';
		e->link = strdup(buf);
	}
}

int fd_entry_detail(struct fd_entry *e)
{
	char path[64];
	struct stat st;

	if (e->detailed)
		return e->link ? 0 : -1;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", e->pid, e->fd);
	if (!e->link_read)
		read_link_at(e, AT_FDCWD, path);
	/* the link's own mode tells how the descriptor was opened */
	if (lstat(path, &st) == 0) {
		e->readable = st.st_mode & S_IRUSR;
		e->writable = st.st_mode & S_IWUSR;
	}
	e->detailed = true;
	return e->link ? 0 : -1;
}

static char *read_fdinfo(pid_t pid, int fd)
{
	char path[64], *buf = NULL;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_file(path, &buf, NULL, 1 << 20))
		return NULL;
	return buf;
}

int fd_entry_tty_index(struct fd_entry *e)
{
	char *buf, *p;

	if (e->tty_index != FD_TTY_UNREAD)
		return e->tty_index;
	e->tty_index = -1;
	buf = read_fdinfo(e->pid, e->fd);
	if (!buf)
		return -1;
	p = strstr(buf, "\ntty-index:");
	if (p)
		e->tty_index = strtol(p + 11, NULL, 10);
	free(buf);
	return e->tty_index;
}

static const char *access_text(const struct fd_entry *e)
{
	if (e->readable && e->writable)
		return "read-write";
	if (e->readable)
		return "read-only";
	return e->writable ? "write-only" : "path only";
}

void fd_entry_holder(struct fd_entry *e, const char *what, struct leak_holder *h)
{
	fd_entry_detail(e);
	memset(h, 0, sizeof(*h));
	h->has_fd = true;
	h->fd = e->fd;
	h->readable = e->readable;
	h->writable = e->writable;
	h->how = arena_printf("fd %d (%s)", e->fd, what && *what ? what : access_text(e));
}

int pts_index(uint64_t rdev)
{
	unsigned ma = major(rdev), mi = minor(rdev);

	if (ma < PTS_MAJOR_FIRST || ma > PTS_MAJOR_LAST)
		return -1;
	return (ma - PTS_MAJOR_FIRST) * 256 + mi;
}

bool fd_is_ptmx(uint64_t rdev)
{
	return major(rdev) == TTYAUX_MAJOR && minor(rdev) == 2;
}

bool fd_is_terminal(uint64_t rdev)
{
	return major(rdev) == TTY_MAJOR || (major(rdev) == TTYAUX_MAJOR && minor(rdev) == 1);
}

enum fd_class fd_classify(const char *link, uint32_t mode, uint64_t rdev)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return strncmp(link, "pipe:[", 6) ? FDC_FIFO : FDC_PIPE;
	case S_IFSOCK:
		return FDC_SOCKET;
	case S_IFCHR:
		if (fd_is_ptmx(rdev))
			return FDC_PTY_MASTER;
		if (pts_index(rdev) >= 0)
			return FDC_PTY_SLAVE;
		return fd_is_terminal(rdev) ? FDC_TERMINAL : FDC_OTHER;
	case S_IFREG:
	case S_IFDIR:
		if (link[0] != '/')
			return FDC_OTHER;	/* anon_inode:..., or unreadable */
		if (!strncmp(link, "/memfd:", 7))
			return FDC_MEMFD;
		return str_ends_with(link, " (deleted)") ? FDC_DELETED : FDC_FILE;
	default:
		return FDC_OTHER;
	}
}

/* ---- reading the host --------------------------------------------------------- */

#define TREE_MASK (STATX_TYPE | STATX_MODE | STATX_INO | STATX_NLINK | STATX_SIZE)
#define OUTSIDE_MASK (STATX_TYPE | STATX_INO)
#define MAX_READERS 8			/* threads reading outside descriptors */
#define PROCS_PER_READER 128		/* fewer outside processes: fewer threads */

/* The open files of the tree whose outside holders matter, sorted. */
struct file_keys {
	struct { uint64_t dev, ino; } *v;
	size_t n;
};

/* One pass over some processes' descriptors into out. */
struct reader {
	struct host_scan *s;
	const struct file_keys *keys;	/* NULL: keep every descriptor (the tree's) */
	struct fd_table out;
	size_t first, step;		/* reads s->procs[first], [first + step], ... */
	uint32_t descriptors;
	int ret;
};

static bool key_has(const struct file_keys *k, uint64_t dev, uint64_t ino)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->v[mid].dev == dev && k->v[mid].ino == ino)
			return true;
		if (k->v[mid].dev < dev || (k->v[mid].dev == dev && k->v[mid].ino < ino))
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * An outside descriptor is worth keeping when it may hold something of the
 * tree's: a socket (a peer), a terminal (a pty's other side), or the same
 * file as one the tree holds whose other holders matter (keys).
 */
static bool worth_keeping(const struct file_keys *k, const struct statx *sx, uint64_t dev)
{
	uint64_t rdev = makedev(sx->stx_rdev_major, sx->stx_rdev_minor);

	if (S_ISSOCK(sx->stx_mode))
		return true;
	if (S_ISCHR(sx->stx_mode))
		return fd_is_ptmx(rdev) || pts_index(rdev) >= 0 || fd_is_terminal(rdev);
	return key_has(k, dev, sx->stx_ino);
}

static int read_one(struct reader *r, const struct host_proc *p, int dirfd, const char *name)
{
	struct statx sx;
	struct fd_entry *e;
	uint64_t dev;
	char *end;
	long fd = strtol(name, &end, 10);

	if (end == name || *end)
		return 0;	/* "." and ".." */
	r->descriptors++;
	if (statx(dirfd, name, AT_STATX_DONT_SYNC, r->keys ? OUTSIDE_MASK : TREE_MASK, &sx))
		return 0;	/* closed meanwhile */
	dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	if (r->keys && !worth_keeping(r->keys, &sx, dev))
		return 0;
	e = table_add(&r->out);
	if (!e)
		return -1;
	e->pid = p->pid;
	e->fd = fd;
	e->dev = dev;
	e->ino = sx.stx_ino;
	e->rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
	e->mode = sx.stx_mode;
	e->in_tree = p->in_tree;
	e->tty_index = FD_TTY_UNREAD;
	if (p->in_tree) {
		e->size = sx.stx_size;
		e->nlink = sx.stx_nlink;
		/* what it is depends on the link; a socket's or a device's does not matter yet */
		if (S_ISFIFO(e->mode) || S_ISREG(e->mode) || S_ISDIR(e->mode))
			read_link_at(e, dirfd, name);
	}
	return 0;
}

/*
 * The descriptors of p; a process that vanished or hides them has none.
 * Counts them in p (each process is read by one reader only).
 */
static int read_fds(struct reader *r, struct host_proc *p)
{
	char path[64], buf[8192] __attribute__((aligned(8)));
	uint32_t before = r->descriptors;
	int dirfd, ret = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd", p->pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return 0;
	while (!ret && (n = getdents64(dirfd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n && !ret;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);

			ret = read_one(r, p, dirfd, de->d_name);
			off += de->d_reclen;
		}
	}
	close(dirfd);
	p->nfds = r->descriptors - before;
	p->fds_read = n == 0 && !ret;
	return ret;
}

/* Is p one whose descriptors r reads: the tree's, or (with keys) an outsider's? */
static bool reads(const struct reader *r, const struct host_proc *p)
{
	return r->keys ? !p->in_tree && !p->excluded : p->in_tree;
}

static void *read_part(void *arg)
{
	struct reader *r = arg;
	struct host_scan *s = r->s;

	for (size_t i = r->first; i < s->nprocs && !r->ret; i += r->step)
		if (reads(r, &s->procs[i]))
			r->ret = read_fds(r, &s->procs[i]);
	return NULL;
}

static int append_table(struct fd_table *t, const struct fd_table *part)
{
	if (array_grow((void **)&t->v, &t->cap, t->n + part->n, sizeof(*t->v)))
		return -1;
	if (part->n)
		memcpy(t->v + t->n, part->v, part->n * sizeof(*part->v));
	t->n += part->n;
	return 0;
}

/*
 * Reads the descriptors of nprocs processes into t: the tree's, or (with
 * keys) the outsiders' that keys say to keep. /proc costs a system call or
 * more per descriptor: on a big host, parallel readers share the work.
 */
static int read_parallel(struct host_scan *s, struct fd_table *t, const struct file_keys *keys, size_t nprocs)
{
	struct reader r[MAX_READERS];
	pthread_t tid[MAX_READERS];
	bool started[MAX_READERS] = { false };
	size_t n = nprocs / PROCS_PER_READER + 1;
	cpu_set_t cpus;
	int ret = 0;

	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && n > (size_t)CPU_COUNT(&cpus))
		n = CPU_COUNT(&cpus);
	if (n > MAX_READERS)
		n = MAX_READERS;
	for (size_t i = 0; i < n; i++) {
		r[i] = (struct reader){ .s = s, .keys = keys, .first = i, .step = n };
		started[i] = i > 0 && !pthread_create(&tid[i], NULL, read_part, &r[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			read_part(&r[i]);	/* the first, and any whose thread did not start */
		if (r[i].ret || append_table(t, &r[i].out)) {
			for (size_t j = 0; j < r[i].out.n; j++)
				free(r[i].out.v[j].link);
			ret = -1;
		}
		s->descriptors += r[i].descriptors;
		free(r[i].out.v);
	}
	return ret;
}

/* Does the tree hold a lock on file dev:ino? */
static bool locked(const struct fd_table *t, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < t->ntree_locks; i++)
		if (t->tree_locks[i].dev == dev && t->tree_locks[i].ino == ino)
			return true;
	return false;
}

/*
 * The tree's files whose outside holders matter: pipes and FIFOs (the
 * other ends), memfds and deleted files (who else holds the contents),
 * locked files (whose OFD locks). Other files are everyone's.
 */
static int tree_keys(const struct fd_table *t, struct file_keys *k)
{
	k->v = calloc(t->n + 1, sizeof(*k->v));
	if (!k->v)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct fd_entry *e = &t->v[i];
		enum fd_class c = fd_classify(fd_entry_link(e), e->mode, e->rdev);

		if (k->n && k->v[k->n - 1].dev == e->dev && k->v[k->n - 1].ino == e->ino)
			continue;	/* sorted: one key per file */
		if (c == FDC_PIPE || c == FDC_FIFO || c == FDC_MEMFD || c == FDC_DELETED ||
		    (c == FDC_FILE && locked(t, e->dev, e->ino))) {
			k->v[k->n].dev = e->dev;
			k->v[k->n++].ino = e->ino;
		}
	}
	return 0;
}

/* Adds the locks fdinfo shows for tree descriptor e. */
static int fd_locks(struct fd_table *t, const struct fd_entry *e, size_t *cap)
{
	struct lock_line *v;
	size_t n;
	int ret = fdinfo_locks(e->pid, e->fd, &v, &n);

	for (size_t i = 0; i < n && !ret; i++) {
		ret = array_grow((void **)&t->tree_locks, cap, t->ntree_locks + 1, sizeof(*t->tree_locks));
		if (!ret)
			t->tree_locks[t->ntree_locks++] = (struct fd_lock){ .l = v[i], .pid = e->pid, .fd = e->fd,
									    .dev = e->dev, .ino = e->ino };
	}
	free(v);
	return ret;
}

/*
 * The locks the tree holds, from the fdinfo of its files' descriptors: a
 * lock shows on the descriptors of its open file (flock, OFD) or of its
 * owner's (POSIX), whatever pid /proc/locks names. /proc/locks itself is
 * read only when there is one: each read of it takes the kernel's file
 * lock rwsem for writing, an RCU grace period that stalls every lock on
 * the host.
 */
static int read_tree_locks(struct fd_table *t)
{
	size_t cap = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].in_tree && (S_ISREG(t->v[i].mode) || S_ISDIR(t->v[i].mode)) &&
		    fd_locks(t, &t->v[i], &cap))
			return -1;
	return 0;
}

static int read_table(struct host_scan *s, struct fd_table *t)
{
	struct file_keys keys = { 0 };
	int ret;

	s->descriptors = 0;
	if (read_parallel(s, t, NULL, s->tree_procs))
		return -1;
	t->tree = t->n;
	qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
	if (read_tree_locks(t) || tree_keys(t, &keys))
		return -1;
	ret = read_parallel(s, t, &keys, s->nprocs - s->tree_procs);
	free(keys.v);
	qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
	return ret;
}

int fd_table_read(struct host_scan *s, struct herr *e)
{
	struct fd_table *t = calloc(1, sizeof(*t));

	s->fds = t;
	if (!t || read_table(s, t)) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory reading the descriptors of the host");
		return -1;
	}
	return 0;
}
