/* SPDX-License-Identifier: MIT */
/*
 * Leaks of descriptors: pipes and FIFOs with an end outside, terminals,
 * memfds, deleted and volatile files, and file locks.
 *
 * detect_files reads every descriptor of the host once into s->fds (the
 * sockets detector uses it too). A tree descriptor costs a stat, and a
 * readlink when it is a file or a FIFO (and its fdinfo, for locks, when a
 * file); an outside one a stat only, kept only when it may hold something
 * of the tree's: the same pipe, FIFO, memfd, deleted or locked file as a
 * tree descriptor, a socket (a peer), a terminal (a pty's other side).
 * Links and access modes of outside descriptors are read when they turn
 * out to be holders, of the first MAX_LEAK_HOLDERS only.
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
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "leaks.h"

#define GHOST_LIMIT (1u << 20)		/* CRIU's default --ghost-limit */
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

static const char *link_of(const struct fd_entry *e)
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

static bool is_ptmx(uint64_t rdev)
{
	return major(rdev) == TTYAUX_MAJOR && minor(rdev) == 2;
}

/* Terminals other than ptys: virtual consoles, serial ports, the console. */
static bool is_terminal(uint64_t rdev)
{
	return major(rdev) == TTY_MAJOR || (major(rdev) == TTYAUX_MAJOR && minor(rdev) == 1);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

enum fd_class fd_classify(const char *link, uint32_t mode, uint64_t rdev)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return strncmp(link, "pipe:[", 6) ? FDC_FIFO : FDC_PIPE;
	case S_IFSOCK:
		return FDC_SOCKET;
	case S_IFCHR:
		if (is_ptmx(rdev))
			return FDC_PTY_MASTER;
		if (pts_index(rdev) >= 0)
			return FDC_PTY_SLAVE;
		return is_terminal(rdev) ? FDC_TERMINAL : FDC_OTHER;
	case S_IFREG:
	case S_IFDIR:
		if (link[0] != '/')
			return FDC_OTHER;	/* anon_inode:..., or unreadable */
		if (!strncmp(link, "/memfd:", 7))
			return FDC_MEMFD;
		return ends_with(link, " (deleted)") ? FDC_DELETED : FDC_FILE;
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
		return is_ptmx(rdev) || pts_index(rdev) >= 0 || is_terminal(rdev);
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
		enum fd_class c = fd_classify(link_of(e), e->mode, e->rdev);

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

static const char *next_line(const char *p)
{
	p = strchr(p, '\n');
	return p ? p + 1 : NULL;
}

/* Adds the locks fdinfo shows for tree descriptor e ("lock:\t" lines). */
static int fd_locks(struct fd_table *t, const struct fd_entry *e, size_t *cap)
{
	char *buf = read_fdinfo(e->pid, e->fd);
	const char *p;
	int ret = 0;

	for (p = buf; p && !ret; p = next_line(p)) {
		struct lock_line l;

		if (strncmp(p, "lock:\t", 6) || parse_lock_line(p + 6, &l))
			continue;
		if (array_grow((void **)&t->tree_locks, cap, t->ntree_locks + 1, sizeof(*t->tree_locks))) {
			ret = -1;
			break;
		}
		t->tree_locks[t->ntree_locks++] = (struct fd_lock){ .l = l, .pid = e->pid, .fd = e->fd,
								    .dev = e->dev, .ino = e->ino };
	}
	free(buf);
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

/* ---- leaks of one open file --------------------------------------------------- */

/* One open file: its entries t->v[first..end), one of the tree's at tree. */
struct group {
	struct fd_table *t;
	size_t first, end;
	struct fd_entry *tree;
	size_t noutside;		/* outside descriptors */
	bool tree_reads, tree_writes, out_reads, out_writes;
};

static const char *procs(size_t n)
{
	return n == 1 ? "process" : "processes";
}

size_t leak_outside_procs(const struct leak *lk)
{
	size_t n = 0;

	for (size_t i = 0; i < lk->noutside; i++) {
		size_t j = 0;

		while (j < i && lk->outside[j].pid != lk->outside[i].pid)
			j++;
		n += j == i;
	}
	return n;
}

/*
 * Is e one whose access mode is worth reading: the tree's, or one of the
 * first outside holders (the wire lists MAX_LEAK_HOLDERS; a pipe every
 * process inherited would cost two system calls per process otherwise).
 */
static bool worth_detail(const struct fd_entry *e, size_t *noutside)
{
	return e->in_tree || e->detailed || (*noutside)++ < MAX_LEAK_HOLDERS;
}

static void hold_group(struct host_scan *s, struct leak *lk, struct group *g, bool pipe_ends)
{
	size_t noutside = 0;

	for (size_t i = g->first; i < g->end; i++) {
		struct fd_entry *e = &g->t->v[i];
		struct leak_holder h = { .has_fd = true, .fd = e->fd };
		const char *what = "";

		if (!worth_detail(e, &noutside)) {
			h.how = arena_printf("fd %d", e->fd);
			leak_hold(s, lk, e->pid, &h);
			continue;
		}
		fd_entry_detail(e);
		if (pipe_ends)
			what = e->readable && e->writable ? "read and write ends" :
			       e->writable ? "write end" : "read end";
		fd_entry_holder(e, what, &h);
		leak_hold(s, lk, e->pid, &h);
	}
}

/* "3:1 inode 1234" */
static const char *file_id(const struct fd_entry *e)
{
	return arena_printf("%u:%u inode %llu", major(e->dev), minor(e->dev), (unsigned long long)e->ino);
}

static const char *direction(bool reads, bool writes)
{
	return reads && writes ? "reads and writes" : writes ? "writes" : reads ? "reads" : "holds";
}

static void pipe_leak(struct host_scan *s, struct group *g)
{
	struct leak *lk = leak_get(s, LK(PIPE), link_of(g->tree));
	size_t nout;

	lk->object = g->tree->ino;
	lk->default_policy = LP(FAIL);
	hold_group(s, lk, g, true);
	nout = leak_outside_procs(lk);
	lk->summary = arena_printf("a pipe the tree %s and %zu outside %s %s%s",
				   direction(g->tree_reads, g->tree_writes), nout, procs(nout),
				   g->out_writes ? "write" : "read",
				   g->out_reads && g->out_writes ? (nout == 1 ? "s and reads" : " and read") :
				   nout == 1 ? "s" : "");
	lk->risk = g->tree_reads && g->out_writes
		   ? "what the outside writes while the tree is frozen waits in the pipe or is lost with "
		     "it; a restored tree reads from a new pipe nobody outside writes to"
		   : "a restored tree writes into a new pipe nobody outside reads; the outside readers "
		     "see the end of the old one";
	lk->criu = "dumped silently, with the data buffered in the pipe; a restore makes a new pipe that "
		   "nobody outside holds";
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
	leak_choice(lk, LP(WARN), "", "checkpoint as CRIU does: the restored tree gets a new pipe; the "
		    "checkpoint is flagged");
	leak_choice(lk, LP(IGNORE), "", "the same as warn, but the checkpoint is not flagged");
	leak_choice(lk, LP(EXTERNAL), "--inherit-fd at restore", "the restored tree gets the same pipe, "
		    "reopened through a live outside holder; the restore fails when none holds it any more");
}

static void fifo_leak(struct host_scan *s, struct group *g)
{
	const char *path = link_of(g->tree);
	struct leak *lk = leak_get(s, LK(FIFO), arena_printf("%s (%s)", path, file_id(g->tree)));

	size_t nout;

	hold_group(s, lk, g, false);
	nout = leak_outside_procs(lk);
	lk->summary = arena_printf("the named pipe %s, which the tree %s, is also open in %zu outside %s",
				   path, direction(g->tree_reads, g->tree_writes), nout, procs(nout));
	lk->risk = "data the outside writes while the tree is frozen may be read by the outside instead, "
		   "or lost; the restored tree opens the path again and meets whoever holds it then";
	lk->criu = "dumped by its path, with the buffered data; a restore opens the path again (it fails "
		   "if the named pipe was removed)";
	leak_warn_choices(lk);
}

static const char *size_text(uint64_t n)
{
	if (n >= 1u << 20)
		return n % (1u << 20) ? arena_printf("%.1f MiB", n / 1048576.0)
				      : arena_printf("%llu MiB", (unsigned long long)(n >> 20));
	if (n >= 1u << 10)
		return n % (1u << 10) ? arena_printf("%.1f KiB", n / 1024.0)
				      : arena_printf("%llu KiB", (unsigned long long)(n >> 10));
	return arena_printf("%llu byte%s", (unsigned long long)n, n == 1 ? "" : "s");
}

static void memfd_leak(struct host_scan *s, struct group *g)
{
	const char *link = link_of(g->tree);
	char *name = arena_strdup(link + 7);	/* after "/memfd:" */
	struct leak *lk;
	size_t nout;

	if (ends_with(name, " (deleted)"))
		name[strlen(name) - 10] = '\0';
	lk = leak_get(s, LK(MEMFD), arena_printf("memfd:%s (inode %llu)", name,
						 (unsigned long long)g->tree->ino));
	lk->standalone = true;
	hold_group(s, lk, g, false);
	nout = leak_outside_procs(lk);
	lk->summary = nout
		? arena_printf("the memfd \"%s\" (%s), also held by %zu outside %s", name,
			       size_text(g->tree->size), nout, procs(nout))
		: arena_printf("the memfd \"%s\" (%s): its contents live only in memory", name,
			       size_text(g->tree->size));
	lk->risk = nout
		? "the restored tree gets a private copy: what it and the outside holders write no longer "
		  "reaches the other"
		: "the checkpoint holds a copy of its contents; the restored tree gets a new memfd";
	lk->criu = "saved with its contents; a restore makes a new memfd with a copy";
	leak_warn_choices(lk);
}

static void deleted_leak(struct host_scan *s, struct group *g)
{
	char *path = arena_strdup(link_of(g->tree));
	const struct fd_entry *f = g->tree;
	bool dir = S_ISDIR(f->mode);
	struct leak *lk;
	size_t nout;

	path[strlen(path) - 10] = '\0';		/* " (deleted)" */
	lk = leak_get(s, LK(DELETED_FILE), arena_printf("%s (%s)", path, file_id(f)));
	lk->standalone = true;
	hold_group(s, lk, g, false);
	nout = leak_outside_procs(lk);
	lk->summary = arena_printf("the %s %s was deleted while the tree holds it open (%s%s%s)",
				   dir ? "directory" : "file", path, size_text(f->size),
				   f->nlink ? ", still linked under another name" : "",
				   nout ? arena_printf(", also open in %zu outside %s", nout, procs(nout)) : "");
	lk->risk = "the restored tree gets the file's contents as they were at the checkpoint; outside "
		   "holders keep the original";
	if (f->nlink)
		lk->criu = "the file still has another name: CRIU links it back for the checkpoint (link "
			   "remap) instead of copying it";
	else if (!dir && f->size > GHOST_LIMIT)
		lk->criu = arena_printf("CRIU copies a deleted file into the checkpoint as a ghost file "
					"only up to its ghost limit (1 MiB by default); this one is %s, so the "
					"dump fails (\"Can't dump ghost file ... increase limit\")",
					size_text(f->size));
	else
		lk->criu = arena_printf("CRIU copies it into the checkpoint as a ghost file (%s, under its "
					"1 MiB ghost limit); a restore recreates it and deletes it again",
					size_text(f->size));
	leak_warn_choices(lk);
}

/* File system types whose files may be gone, or be others, at restore. */
static const struct {
	long type;
	const char *name;
} volatile_fs[] = {
	{ 0x01021994, "tmpfs" }, { 0x858458f6, "ramfs" }, { 0x65735546, "fuse" },
	{ 0x6969, "nfs" }, { 0x517b, "smb" }, { (long)0xff534d42, "cifs" },
	{ (long)0xfe534d42, "smb2" }, { 0x01021997, "9p" }, { 0x00c36400, "ceph" },
	{ 0x5346414f, "afs" }, { 0x6b414653, "afs" }, { 0x73757245, "coda" },
};

#define PROC_SUPER_MAGIC 0x9fa0
#define TMPFS_MAGIC 0x01021994
#define STATFS_CACHE 32

/* statfs per file system, once per scan: the file system's type, 0 when unknown. */
struct fs_cache {
	uint64_t dev[STATFS_CACHE];
	long type[STATFS_CACHE];
	size_t n;
};

static long fs_type(struct fs_cache *c, const struct fd_entry *e)
{
	struct statfs sf;
	char path[64];

	for (size_t i = 0; i < c->n; i++)
		if (c->dev[i] == e->dev)
			return c->type[i];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", e->pid, e->fd);
	if (statfs(path, &sf))
		return 0;	/* closed meanwhile: not cached */
	if (c->n < STATFS_CACHE) {
		c->dev[c->n] = e->dev;
		c->type[c->n++] = sf.f_type;
	}
	return sf.f_type;
}

/* "tmpfs", or NULL when files there stay (and /proc of a tree process, /dev). */
static const char *volatile_reason(const struct host_scan *s, const char *path, long type)
{
	if (type == PROC_SUPER_MAGIC) {
		char *end;
		long pid;

		if (strncmp(path, "/proc/", 6))
			return NULL;
		pid = strtol(path + 6, &end, 10);
		if (end == path + 6 || (*end && *end != '/') || host_in_tree(s, pid))
			return NULL;
		return arena_printf("a file of process %ld, which is outside the tree", pid);
	}
	/* devtmpfs reports tmpfs: /dev is made again at boot, its shm is not */
	if (type == TMPFS_MAGIC && (!strcmp(path, "/dev") || !strncmp(path, "/dev/", 5)) &&
	    strncmp(path, "/dev/shm/", 9) && strcmp(path, "/dev/shm"))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(volatile_fs); i++)
		if (volatile_fs[i].type == type)
			return arena_printf("on %s", volatile_fs[i].name);
	return NULL;
}

static void volatile_leak(struct host_scan *s, struct group *g, struct fs_cache *c)
{
	const char *path = link_of(g->tree);
	const char *why = volatile_reason(s, path, fs_type(c, g->tree));
	struct leak *lk;

	if (!why)
		return;
	lk = leak_get(s, LK(VOLATILE_FILE), arena_printf("%s (%s)", path, file_id(g->tree)));
	lk->standalone = true;
	hold_group(s, lk, g, false);
	lk->summary = arena_printf("the %s %s is %s", S_ISDIR(g->tree->mode) ? "directory" : "file", path, why);
	lk->risk = "a restore reopens the path: it fails when the file is gone (a reboot empties tmpfs, a "
		   "network or FUSE file system may not be mounted, a process's /proc files go with it), and "
		   "gets another file when it was replaced";
	lk->criu = "not saved: CRIU records the path and reopens it at restore";
	leak_warn_choices(lk);
}

static void group_leak(struct host_scan *s, struct group *g, struct fs_cache *c)
{
	for (size_t i = g->first; i < g->end; i++)
		g->noutside += !g->t->v[i].in_tree;
	switch (fd_classify(link_of(g->tree), g->tree->mode, g->tree->rdev)) {
	case FDC_PIPE:
	case FDC_FIFO:
		if (!g->noutside)
			return;	/* the tree's own */
		for (size_t i = g->first, n = 0; i < g->end; i++) {
			struct fd_entry *e = &g->t->v[i];

			if (!worth_detail(e, &n))
				continue;
			fd_entry_detail(e);
			if (e->in_tree) {
				g->tree_reads |= e->readable;
				g->tree_writes |= e->writable;
			} else {
				g->out_reads |= e->readable;
				g->out_writes |= e->writable;
			}
		}
		if (S_ISFIFO(g->tree->mode) && !strncmp(link_of(g->tree), "pipe:[", 6))
			pipe_leak(s, g);
		else
			fifo_leak(s, g);
		break;
	case FDC_MEMFD:
		memfd_leak(s, g);
		break;
	case FDC_DELETED:
		deleted_leak(s, g);
		break;
	case FDC_FILE:
		volatile_leak(s, g, c);
		break;
	default:
		break;
	}
}

static void file_leaks(struct host_scan *s, struct fd_table *t)
{
	struct fs_cache c = { .n = 0 };
	size_t j;

	for (size_t i = 0; i < t->n; i = j) {
		struct group g = { .t = t, .first = i };

		for (j = i; j < t->n && !cmp_key(t->v[i].dev, t->v[i].ino, &t->v[j]); j++)
			if (t->v[j].in_tree && !g.tree)
				g.tree = &t->v[j];
		g.end = j;
		if (g.tree)
			group_leak(s, &g, &c);
	}
}

/* ---- terminals ---------------------------------------------------------------- */

/*
 * A terminal as a key: a pty by its pts number, another terminal by its
 * device number (above the pts numbers).
 */
#define TERM_OTHER (1ull << 40)

static uint64_t term_key_dev(unsigned ma, unsigned mi)
{
	uint64_t rdev = makedev(ma, mi);

	return pts_index(rdev) >= 0 ? (uint64_t)pts_index(rdev) : TERM_OTHER | rdev;
}

/* The key of a descriptor, or 0 with false when it is no terminal. */
static bool term_key_fd(struct fd_entry *e, uint64_t *key)
{
	if (!S_ISCHR(e->mode))
		return false;
	if (is_ptmx(e->rdev)) {
		int idx = fd_entry_tty_index(e);

		*key = idx;
		return idx >= 0;
	}
	if (pts_index(e->rdev) < 0 && !is_terminal(e->rdev))
		return false;
	*key = term_key_dev(major(e->rdev), minor(e->rdev));
	return true;
}

/* tty_nr packs the device as new_encode_dev: minor bits 0-7 and 20-31, major 8-19. */
static uint64_t term_key_nr(uint32_t tty_nr)
{
	return term_key_dev((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
}

static bool is_pty_key(uint64_t key)
{
	return !(key & TERM_OTHER);
}

static const char *term_name(uint64_t key)
{
	unsigned ma, mi;
	char name[64];

	if (is_pty_key(key))
		return arena_printf("/dev/pts/%llu", (unsigned long long)key);
	ma = major(key & ~TERM_OTHER);
	mi = minor(key & ~TERM_OTHER);
	if (decode_tty_nr((mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12), name, sizeof(name)) == 0 && name[0])
		return arena_strdup(name);
	return arena_printf("tty %u:%u", ma, mi);
}

/* What the tree and the outside do with one terminal. */
struct term_use {
	bool in_master, in_slave, in_ctty;
	size_t out_master, out_slave, out_leader;
	pid_t leader;			/* an outside session leader of a tree process on it */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The terminals the tree uses, sorted and unique; *n of them. */
static uint64_t *tree_terminals(struct host_scan *s, struct fd_table *t, size_t *n)
{
	uint64_t *keys = arena_alloc((t->tree + s->tree_procs + 1) * sizeof(*keys));
	size_t k = 0, m = 0;
	uint64_t key;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].in_tree && k < t->tree && term_key_fd(&t->v[i], &key))
			keys[k++] = key;
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].in_tree && s->procs[i].tty_nr && k < t->tree + s->tree_procs)
			keys[k++] = term_key_nr(s->procs[i].tty_nr);
	qsort(keys, k, sizeof(*keys), cmp_u64);
	for (size_t i = 0; i < k; i++)
		if (!m || keys[m - 1] != keys[i])
			keys[m++] = keys[i];
	*n = m;
	return keys;
}

/* Adds every holder of terminal key to lk (when lk) and counts them in u. */
static void term_holders(struct host_scan *s, struct fd_table *t, uint64_t key, struct leak *lk,
			 struct term_use *u)
{
	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < t->n; i++) {
		struct fd_entry *e = &t->v[i];
		struct leak_holder h;
		uint64_t k;
		bool master;

		if (!term_key_fd(e, &k) || k != key)
			continue;
		master = is_ptmx(e->rdev);
		if (e->in_tree) {
			u->in_master |= master;
			u->in_slave |= !master;
		} else if (master) {
			u->out_master++;
		} else {
			u->out_slave++;
		}
		if (lk) {
			fd_entry_holder(e, master ? "pty master" : is_pty_key(key) ? "pty slave" : "terminal", &h);
			leak_hold(s, lk, e->pid, &h);
		}
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i], *leader;
		struct leak_holder h = { .how = "controlling terminal" };

		if (!p->tty_nr || term_key_nr(p->tty_nr) != key)
			continue;
		if (p->in_tree) {
			u->in_ctty = true;
			if (lk)
				leak_hold(s, lk, p->pid, &h);
			leader = host_find(s, p->sid);
			if (leader && !leader->in_tree && !leader->excluded) {
				u->out_leader++;
				u->leader = leader->pid;
				h.how = "session leader, on this controlling terminal";
				if (lk)
					leak_hold(s, lk, leader->pid, &h);
			}
		} else if (u->in_master && lk) {
			leak_hold(s, lk, p->pid, &h);	/* a process on the tree's pty */
		}
	}
}

static const char *who(const struct host_scan *s, pid_t pid)
{
	const struct host_proc *p = host_find(s, pid);

	return arena_printf("pid %d (%s)", pid, p ? p->comm : "?");
}

static void term_text(struct host_scan *s, struct leak *lk, uint64_t key, const struct term_use *u)
{
	const char *name = lk->resource;

	if (!is_pty_key(key)) {
		lk->summary = arena_printf("the terminal %s, a device of the host's (console, virtual "
					   "terminal or serial port)%s", name, u->out_leader
					   ? arena_printf("; the session leader %s is outside", who(s, u->leader)) : "");
		lk->criu = "CRIU opens the device again at restore; as the controlling terminal of a session "
			   "led from outside it fails without --shell-job (\"Found dangling tty ...\")";
	} else if (u->in_slave || u->in_ctty) {
		lk->summary = arena_printf("the tree uses the terminal %s; %s%s", name,
					   u->in_master ? "its master is in the tree" :
					   u->out_master ? "its master is held outside the tree"
							 : "its master is held by no process the helper can see",
					   u->out_leader ? arena_printf("; the session leader %s is outside",
									who(s, u->leader)) : "");
		lk->criu = u->in_master
			? "dumped with its pair; the outside session loses it"
			: "CRIU fails: \"Found dangling tty ... Consider using --shell-job\"";
	} else {
		lk->summary = arena_printf("the tree holds the master of %s, which outside processes use", name);
		lk->criu = "dumped silently; a restore makes a new pty pair that the outside processes do not "
			   "hold (their terminal hangs up)";
	}
	lk->risk = "the terminal is shared with processes that are not checkpointed: input and output "
		   "between them is lost or duplicated, and a restore cannot give the tree this terminal back";
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
	leak_choice(lk, LP(EXTERNAL), "--shell-job", "CRIU leaves the terminal out of the checkpoint: a "
		    "restore attaches the tree to the terminal of the process that restores it, and fails "
		    "when there is none");
}

static void terminal_leaks(struct host_scan *s, struct fd_table *t)
{
	size_t n;
	uint64_t *keys = tree_terminals(s, t, &n);

	for (size_t i = 0; i < n; i++) {
		struct term_use u;
		struct leak *lk;
		bool dangling;

		term_holders(s, t, keys[i], NULL, &u);
		dangling = (u.in_slave || u.in_ctty) && !u.in_master;
		if (is_pty_key(keys[i]) && !dangling && !u.out_leader &&
		    !(u.in_master && (u.out_slave || u.out_master)))
			continue;	/* the tree's own pty */
		lk = leak_get(s, LK(TTY), term_name(keys[i]));
		lk->standalone = dangling || !is_pty_key(keys[i]);
		term_holders(s, t, keys[i], lk, &u);
		term_text(s, lk, keys[i], &u);
	}
}

int detect_files(struct host_scan *s, struct herr *e)
{
	struct fd_table *t = calloc(1, sizeof(*t));

	s->fds = t;
	if (!t || read_table(s, t)) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory reading the descriptors of the host");
		return -1;
	}
	file_leaks(s, t);
	terminal_leaks(s, t);
	return 0;
}

/* ---- file locks ---------------------------------------------------------------- */

/* Skips one word and the blanks after it. */
static const char *next_word(const char *p)
{
	while (*p && *p != ' ' && *p != '\t')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static void copy_word(char *out, size_t len, const char *p)
{
	size_t n = strcspn(p, " \t\n");

	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * "1: POSIX  ADVISORY  WRITE 10867 fe:00:2146992 5 14", "3: -> FLOCK
 * ADVISORY  WRITE 10908 fe:00:2146986 0 EOF", "1: OFDLCK ADVISORY  READ
 * -1 08:01:123 0 EOF", "2: LEASE  ACTIVE    READ  77 00:2d:9 0 EOF".
 * Device numbers are hex, the inode and the range decimal.
 */
int parse_lock_line(const char *line, struct lock_line *l)
{
	const char *p = line;
	unsigned long long ino, start;
	char *end;
	int n = 0;

	memset(l, 0, sizeof(*l));
	while (*p == ' ')
		p++;
	strtol(p, &end, 10);
	if (end == p || *end != ':')
		goto bad;
	p = next_word(end);
	if (!strncmp(p, "->", 2)) {
		l->waiter = true;
		p = next_word(p);
	}
	copy_word(l->cls, sizeof(l->cls), p);
	p = next_word(next_word(p));		/* the class, then ADVISORY/ACTIVE/... */
	copy_word(l->type, sizeof(l->type), p);
	p = next_word(p);
	l->pid = strtol(p, &end, 10);
	if (end == p || !l->cls[0] || !l->type[0])
		goto bad;
	p = next_word(end);
	if (!strncmp(p, "<none>", 6)) {
		p = next_word(p);
	} else {
		if (sscanf(p, "%x:%x:%llu%n", &l->major, &l->minor, &ino, &n) != 3)
			goto bad;
		l->ino = ino;
		l->has_inode = true;
		p = next_word(p + n);
	}
	start = strtoull(p, &end, 10);
	if (end == p)
		goto bad;
	l->start = start;
	p = next_word(end);
	l->to_eof = !strncmp(p, "EOF", 3);
	if (!l->to_eof) {
		l->end = strtoull(p, &end, 10);
		if (end == p)
			goto bad;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

static bool same_lock(const struct lock_line *a, const struct lock_line *b)
{
	return !strcmp(a->cls, b->cls) && !strcmp(a->type, b->type) && a->pid == b->pid &&
	       a->major == b->major && a->minor == b->minor && a->ino == b->ino && a->start == b->start &&
	       a->to_eof == b->to_eof && a->end == b->end;
}

/* "POSIX write lock on bytes 5-14", "flock read lock", "OFD write lock on the whole file" */
static const char *lock_text(const struct lock_line *l)
{
	const char *cls = !strcmp(l->cls, "FLOCK") ? "flock" : !strcmp(l->cls, "OFDLCK") ? "OFD" :
			  !strcmp(l->cls, "LEASE") ? "lease:" : l->cls;
	const char *type = !strcmp(l->type, "WRITE") ? "write" : !strcmp(l->type, "READ") ? "read" : l->type;
	const char *range = "";

	if (!strcmp(l->cls, "POSIX") || !strcmp(l->cls, "OFDLCK"))
		range = l->start == 0 && l->to_eof ? " on the whole file"
			: l->to_eof ? arena_printf(" on bytes %llu-EOF", (unsigned long long)l->start)
			: arena_printf(" on bytes %llu-%llu", (unsigned long long)l->start,
				       (unsigned long long)l->end);
	return arena_printf("%s%s %s lock%s", l->waiter ? "waits for a " : "", cls, type, range);
}

/* Does descriptor e's open file hold lock l (its fdinfo lists it)? */
static bool fd_holds_lock(const struct fd_entry *e, const struct lock_line *l)
{
	char *buf = read_fdinfo(e->pid, e->fd);
	const char *p;
	bool found = false;

	for (p = buf; p && !found; p = next_line(p)) {
		struct lock_line f;

		found = !strncmp(p, "lock:\t", 6) && !parse_lock_line(p + 6, &f) && same_lock(&f, l);
	}
	free(buf);
	return found;
}

/*
 * /proc/locks in as few reads as can be (each costs a grace period, see
 * read_tree_locks): a read fills a page of the seq_file unless the list
 * ended, so one that leaves room for another line ended it.
 */
static char *read_proc_locks(void)
{
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap), *p;
	int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);

	while (buf && fd >= 0) {
		ssize_t r = read(fd, buf + n, cap - n - 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (n += r, r + 256 < 4096))
			break;
		if (n + 4096 + 1 > cap) {
			p = cap >= (64u << 20) ? NULL : realloc(buf, cap * 2);
			if (!p)
				break;	/* what was read */
			buf = p;
			cap *= 2;
		}
	}
	if (fd >= 0)
		close(fd);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static bool same_file(const struct lock_line *a, const struct lock_line *b)
{
	return a->major == b->major && a->minor == b->minor && a->ino == b->ino;
}

/* The locks of the host (/proc/locks) on files the tree locks; *n of them. */
static struct lock_line *host_locks(const struct fd_table *t, size_t *n)
{
	char *buf = read_proc_locks(), *line, *save = NULL;
	struct lock_line *v = NULL;
	size_t cap = 0;

	*n = 0;
	for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		struct lock_line l;
		bool ours = false;

		if (parse_lock_line(line, &l) || !l.has_inode)
			continue;
		for (size_t i = 0; i < t->ntree_locks && !ours; i++)
			ours = same_file(&t->tree_locks[i].l, &l);
		if (!ours)
			continue;
		if (array_grow((void **)&v, &cap, *n + 1, sizeof(*v)))
			break;	/* the locks read so far */
		v[(*n)++] = l;
	}
	free(buf);
	return v;
}

static struct fd_entry *tree_entry(struct fd_table *t, const struct fd_lock *k)
{
	size_t first, n = fd_table_find(t, k->dev, k->ino, &first);

	for (size_t i = first; i < first + n; i++)
		if (t->v[i].pid == k->pid && t->v[i].fd == k->fd)
			return &t->v[i];
	return NULL;
}

/* An OFD lock not the tree's: the outside descriptors on the file holding it. */
static void hold_ofd_outside(struct host_scan *s, struct leak *lk, const struct fd_lock *k,
			     const struct lock_line *l)
{
	size_t first, n = fd_table_find(s->fds, k->dev, k->ino, &first);

	for (size_t i = first; i < first + n; i++) {
		struct fd_entry *e = &s->fds->v[i];
		struct leak_holder h;

		if (!e->in_tree && fd_holds_lock(e, l)) {
			fd_entry_holder(e, lock_text(l), &h);
			leak_hold(s, lk, e->pid, &h);
		}
	}
}

/* Is l one of the tree's locks? */
static bool tree_lock(const struct fd_table *t, const struct lock_line *l)
{
	for (size_t i = 0; i < t->ntree_locks; i++)
		if (same_lock(&t->tree_locks[i].l, l))
			return true;
	return false;
}

/*
 * The others locking the file of k, or waiting for it: a pid outside the
 * tree (one that took a flock the tree shares through an open file, too),
 * or an OFD lock (pid -1) held through an outside descriptor.
 */
static void lock_outsiders(struct host_scan *s, struct leak *lk, const struct fd_lock *k,
			   const struct lock_line *host, size_t nhost)
{
	for (size_t j = 0; j < nhost; j++) {
		const struct lock_line *o = &host[j];
		struct leak_holder h = { 0 };

		if (!same_file(o, &k->l))
			continue;
		if (o->pid > 0 && !host_in_tree(s, o->pid)) {
			h.how = tree_lock(s->fds, o) ? arena_printf("%s (the open file is shared with the tree)",
								    lock_text(o)) : lock_text(o);
			leak_hold(s, lk, o->pid, &h);
		} else if (o->pid < 0 && !o->waiter) {
			hold_ofd_outside(s, lk, k, o);	/* a tree's own is on no outside descriptor */
		}
	}
}

/* The leak of the file of tree lock k, with every tree lock on it. */
static void lock_leak(struct host_scan *s, struct fd_lock *k, const struct lock_line *host, size_t nhost)
{
	struct fd_table *t = s->fds;
	struct fd_entry *f = tree_entry(t, k);
	const char *path = f ? link_of(f) : "";
	const char *id = arena_printf("%u:%u inode %llu", k->l.major, k->l.minor, (unsigned long long)k->l.ino);
	struct leak *lk;
	size_t nlocks = 0, nout;

	lk = leak_get(s, LK(FILE_LOCK), path[0] == '/' ? arena_printf("%s (%s)", path, id) : id);
	lk->standalone = true;
	lk->default_policy = LP(FAIL);
	for (size_t j = 0; j < t->ntree_locks; j++) {
		struct fd_lock *o = &t->tree_locks[j];
		struct fd_entry *e;
		struct leak_holder h = { .how = lock_text(&o->l) };

		if (o->done || !same_file(&o->l, &k->l))
			continue;
		o->done = true;
		nlocks++;
		e = tree_entry(t, o);
		if (e)
			fd_entry_holder(e, lock_text(&o->l), &h);
		leak_hold(s, lk, o->pid, &h);
	}
	lock_outsiders(s, lk, k, host, nhost);
	nout = leak_outside_procs(lk);
	lk->summary = arena_printf("the tree holds %zu lock%s on %s%s", nlocks, nlocks == 1 ? "" : "s",
				   path[0] == '/' ? path : arena_printf("the file %s", id),
				   nout ? arena_printf("; %zu outside %s lock it too or wait for it", nout,
						       procs(nout)) : "");
	lk->risk = "a restore takes the locks again only when CRIU saved them; between the checkpoint and "
		   "the restore another process may take a conflicting lock";
	lk->criu = "CRIU fails: \"Some file locks are hold by dumping tasks! You can try --file-locks\"";
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
	leak_choice(lk, LP(SAVE), "--file-locks", "CRIU saves the locks and takes them again at restore; "
		    "the restore fails when another process holds a conflicting lock then");
}

/*
 * One leak per file the tree locks (detect_files found the locks); the
 * others locking it or waiting for it from /proc/locks.
 */
int detect_file_locks(struct host_scan *s, struct herr *e)
{
	struct fd_table *t = s->fds;
	struct lock_line *host;
	size_t nhost;

	(void)e;
	if (!t || !t->ntree_locks)
		return 0;
	host = host_locks(t, &nhost);
	for (size_t i = 0; i < t->ntree_locks; i++)
		if (!t->tree_locks[i].done)
			lock_leak(s, &t->tree_locks[i], host, nhost);
	free(host);
	return 0;
}
