/* SPDX-License-Identifier: MIT */
/*
 * Tests of fd_table.c: what a descriptor is (fd_classify and the device
 * predicates), and the descriptors of the host read on a real tree: every
 * descriptor of the tree, and an outside one only when it may hold
 * something of the tree's; links, access modes and pty numbers on demand.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "arena.h"
#include "fd_table.h"
#include "leak_scan.h"
#include "util.h"
#include "check.h"
#include "procs.h"

/* ---- what a descriptor is --------------------------------------------------------- */

static void test_classify(void)
{
	static const struct {
		const char *link;
		uint32_t mode;
		unsigned major, minor;
		enum fd_class want;
	} cases[] = {
		{ "pipe:[123]", S_IFIFO | 0600, 0, 0, FDC_PIPE },
		{ "/tmp/fifo", S_IFIFO | 0600, 0, 0, FDC_FIFO },
		{ "", S_IFIFO | 0600, 0, 0, FDC_FIFO },
		{ "socket:[9]", S_IFSOCK | 0777, 0, 0, FDC_SOCKET },
		{ "", S_IFSOCK | 0777, 0, 0, FDC_SOCKET },		/* the mode says it */
		{ "/memfd:cache (deleted)", S_IFREG | 0777, 0, 0, FDC_MEMFD },
		{ "/memfd:a (deleted) (deleted)", S_IFREG | 0777, 0, 0, FDC_MEMFD },
		{ "/var/log/x.log (deleted)", S_IFREG | 0644, 0, 0, FDC_DELETED },
		{ "/srv (deleted)", S_IFDIR | 0755, 0, 0, FDC_DELETED },
		{ "/var/log/x.log", S_IFREG | 0644, 0, 0, FDC_FILE },
		{ "/srv", S_IFDIR | 0755, 0, 0, FDC_FILE },
		{ "/deleted", S_IFREG | 0644, 0, 0, FDC_FILE },
		{ "anon_inode:[eventfd]", 0600, 0, 0, FDC_OTHER },
		{ "anon_inode:[pidfd]", S_IFREG | 0600, 0, 0, FDC_OTHER },
		{ "", S_IFREG | 0600, 0, 0, FDC_OTHER },
		{ "/dev/ptmx", S_IFCHR | 0666, 5, 2, FDC_PTY_MASTER },
		{ "/dev/pts/ptmx", S_IFCHR | 0666, 5, 2, FDC_PTY_MASTER },
		{ "/dev/pts/3", S_IFCHR | 0620, 136, 3, FDC_PTY_SLAVE },
		{ "/dev/pts/300", S_IFCHR | 0620, 137, 44, FDC_PTY_SLAVE },
		{ "/dev/tty1", S_IFCHR | 0620, 4, 1, FDC_TERMINAL },
		{ "/dev/ttyS0", S_IFCHR | 0660, 4, 64, FDC_TERMINAL },
		{ "/dev/console", S_IFCHR | 0600, 5, 1, FDC_TERMINAL },
		{ "/dev/tty", S_IFCHR | 0666, 5, 0, FDC_OTHER },
		{ "/dev/null", S_IFCHR | 0666, 1, 3, FDC_OTHER },
		{ "/dev/sda", S_IFBLK | 0660, 8, 0, FDC_OTHER },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("fd_classify(\"%s\", 0%o, %u:%u)", cases[i].link, cases[i].mode, cases[i].major,
			  cases[i].minor);
		CHECK_INT(fd_classify(cases[i].link, cases[i].mode, makedev(cases[i].major, cases[i].minor)), ==,
			  cases[i].want);
	}
}

static void test_devices(void)
{
	static const struct {
		unsigned major, minor;
		int pts;
		bool ptmx, terminal;
	} cases[] = {
		{ 136, 0, 0, false, false }, { 136, 7, 7, false, false }, { 136, 255, 255, false, false },
		{ 136, 300, 300, false, false }, { 137, 1, 257, false, false }, { 143, 255, 2047, false, false },
		{ 135, 1, -1, false, false }, { 144, 1, -1, false, false }, { 1, 3, -1, false, false },
		{ 5, 2, -1, true, false }, { 5, 1, -1, false, true }, { 5, 0, -1, false, false },
		{ 4, 1, -1, false, true }, { 4, 64, -1, false, true }, { 0, 0, -1, false, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t rdev = makedev(cases[i].major, cases[i].minor);

		test_case("device %u:%u", cases[i].major, cases[i].minor);
		CHECK_INT(pts_index(rdev), ==, cases[i].pts);
		CHECK_INT(fd_is_ptmx(rdev), ==, cases[i].ptmx);
		CHECK_INT(fd_is_terminal(rdev), ==, cases[i].terminal);
	}
}

/* ---- the host's descriptors ---------------------------------------------------------- */

/* What the test opens before it forks the tree and the outside process, and closes after (the files stay). */
struct fd_fixture {
	int pipe[2];			/* [0] in the tree, [1] outside */
	int own[2];			/* both in the tree */
	int sock[2];			/* [0] in the tree, [1] outside */
	int file;			/* read-write, in the tree and outside: everyone's */
	int deleted;			/* in the tree and outside */
	int master, slave;		/* the master outside, the slave in the tree */
	int dir;			/* O_PATH of /tmp, in the tree */
	struct stat st_pipe, st_own, st_sock[2], st_file, st_deleted, st_master, st_slave, st_dir, st_lock;
	char file_path[64], deleted_path[64], lock_path[64], slave_path[64];
	int pts;			/* the slave's number */
	/* reported: the descriptor of the lock file, flock'ed by the tree, only open outside */
	int64_t tree_lock, outside_lock;
};

static int fixture_open(struct fd_fixture *f)
{
	snprintf(f->file_path, sizeof(f->file_path), "/tmp/ckpt-fdt-file-%d", getpid());
	snprintf(f->deleted_path, sizeof(f->deleted_path), "/tmp/ckpt-fdt-deleted-%d", getpid());
	snprintf(f->lock_path, sizeof(f->lock_path), "/tmp/ckpt-fdt-lock-%d", getpid());
	if (pipe(f->pipe) || pipe(f->own) || socketpair(AF_UNIX, SOCK_STREAM, 0, f->sock))
		return -1;
	f->file = open(f->file_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	f->deleted = open(f->deleted_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	f->master = open_pty(f->slave_path, sizeof(f->slave_path));
	f->slave = f->master >= 0 ? open(f->slave_path, O_RDWR | O_NOCTTY) : -1;
	f->dir = open("/tmp", O_PATH);
	close(open(f->lock_path, O_RDWR | O_CREAT, 0600));
	if (f->file < 0 || f->deleted < 0 || f->slave < 0 || f->dir < 0 || write(f->file, "hello", 5) != 5 ||
	    unlink(f->deleted_path) || sscanf(f->slave_path, "/dev/pts/%d", &f->pts) != 1)
		return -1;
	if (fstat(f->pipe[0], &f->st_pipe) || fstat(f->own[0], &f->st_own) || fstat(f->sock[0], &f->st_sock[0]) ||
	    fstat(f->sock[1], &f->st_sock[1]) || fstat(f->file, &f->st_file) ||
	    fstat(f->deleted, &f->st_deleted) || fstat(f->master, &f->st_master) ||
	    fstat(f->slave, &f->st_slave) || fstat(f->dir, &f->st_dir) || stat(f->lock_path, &f->st_lock))
		return -1;
	return 0;
}

static void fixture_close(struct fd_fixture *f)
{
	int *fds[] = { &f->pipe[0], &f->pipe[1], &f->own[0], &f->own[1], &f->sock[0], &f->sock[1], &f->file,
		       &f->deleted, &f->master, &f->slave, &f->dir };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] > 0)
			close(*fds[i]);
}

static void tree_fds(void *arg, int report)
{
	struct fd_fixture *f = arg;
	int lock = open(f->lock_path, O_RDWR);

	close(f->pipe[1]);
	close(f->sock[1]);
	close(f->master);
	if (lock < 0 || flock(lock, LOCK_EX))
		_exit(1);
	report_int(report, lock);
}

static void outside_fds(void *arg, int report)
{
	struct fd_fixture *f = arg;

	close(f->pipe[0]);
	close(f->own[0]);
	close(f->own[1]);
	close(f->sock[0]);
	close(f->slave);
	close(f->dir);
	report_int(report, open(f->lock_path, O_RDWR));
}

/* The entry of pid's descriptor fd, whose open file st is; NULL when the table did not keep it. */
static struct fd_entry *find_entry(struct fd_table *t, const struct stat *st, pid_t pid, int fd)
{
	size_t first, n = fd_table_find(t, st->st_dev, st->st_ino, &first);

	for (size_t i = first; i < first + n; i++)
		if (t->v[i].pid == pid && t->v[i].fd == fd)
			return &t->v[i];
	return NULL;
}

/* What stat told of the tree's file, deleted file and pty slave. */
static void check_sizes(struct host_scan *s, const struct fd_fixture *f, pid_t root)
{
	struct fd_entry *file = find_entry(s->fds, &f->st_file, root, f->file);
	struct fd_entry *deleted = find_entry(s->fds, &f->st_deleted, root, f->deleted);
	struct fd_entry *slave = find_entry(s->fds, &f->st_slave, root, f->slave);

	test_case("the tree's files: size, links, device");
	if (file) {
		CHECK_UINT(file->size, ==, 5);
		CHECK_UINT(file->nlink, ==, 1);
	}
	if (deleted)
		CHECK_UINT(deleted->nlink, ==, 0);
	if (slave)
		CHECK_INT(pts_index(slave->rdev), ==, f->pts);
}

/* Every descriptor of the tree is kept, with its link when it is a file or a FIFO. */
static void check_tree(struct host_scan *s, const struct fd_fixture *f, pid_t root)
{
	const struct {
		const char *what;
		const struct stat *st;
		int fd;
		enum fd_class class;
		const char *link;		/* NULL: not read */
	} want[] = {
		{ "pipe read end", &f->st_pipe, f->pipe[0], FDC_PIPE,
		  arena_printf("pipe:[%llu]", (unsigned long long)f->st_pipe.st_ino) },
		{ "own pipe write end", &f->st_own, f->own[1], FDC_PIPE,
		  arena_printf("pipe:[%llu]", (unsigned long long)f->st_own.st_ino) },
		{ "socket", &f->st_sock[0], f->sock[0], FDC_SOCKET, NULL },
		{ "file", &f->st_file, f->file, FDC_FILE, f->file_path },
		{ "deleted file", &f->st_deleted, f->deleted, FDC_DELETED,
		  arena_printf("%s (deleted)", f->deleted_path) },
		{ "pty slave", &f->st_slave, f->slave, FDC_PTY_SLAVE, NULL },
		{ "O_PATH directory", &f->st_dir, f->dir, FDC_FILE, "/tmp" },
		{ "locked file", &f->st_lock, f->tree_lock, FDC_FILE, f->lock_path },
	};

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		struct fd_entry *e = find_entry(s->fds, want[i].st, root, want[i].fd);

		test_case("the tree's fd %d (%s)", want[i].fd, want[i].what);
		CHECK(e != NULL);
		if (!e)
			continue;
		CHECK(e->in_tree);
		CHECK_INT(e->link_read, ==, want[i].link != NULL);
		CHECK_STR(fd_entry_link(e), ==, want[i].link ? want[i].link : "");
		CHECK_INT(fd_classify(fd_entry_link(e), e->mode, e->rdev), ==, want[i].class);
		CHECK_INT(e->tty_index, ==, FD_TTY_UNREAD);
	}
	check_sizes(s, f, root);
}

/* An outside descriptor is kept when it may hold something of the tree's; its link is not read yet. */
static void check_outside(struct host_scan *s, const struct fd_fixture *f, pid_t outside)
{
	const struct {
		const char *what;
		const struct stat *st;
		int fd;
		bool kept;
	} want[] = {
		{ "the tree's pipe, write end", &f->st_pipe, f->pipe[1], true },
		{ "the socket's peer", &f->st_sock[1], f->sock[1], true },
		{ "the pty master", &f->st_master, f->master, true },
		{ "the deleted file", &f->st_deleted, f->deleted, true },
		{ "the file the tree locks", &f->st_lock, f->outside_lock, true },
		{ "a file the tree holds, neither deleted nor locked", &f->st_file, f->file, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		struct fd_entry *e = find_entry(s->fds, want[i].st, outside, want[i].fd);

		test_case("outside fd %d (%s)", want[i].fd, want[i].what);
		CHECK_INT(e != NULL, ==, want[i].kept);
		if (!e)
			continue;
		CHECK(!e->in_tree);
		CHECK(!e->link_read);
		CHECK(!e->detailed);
		CHECK_STR(fd_entry_link(e), ==, "");
		CHECK_UINT(e->size, ==, 0);	/* read for the tree's only */
	}
}

/* How the holder pid's fd is described (what: NULL for its access mode); "" when the table did not keep it. */
static const char *holder_how(struct host_scan *s, const struct stat *st, pid_t pid, int fd, const char *what)
{
	struct fd_entry *e = find_entry(s->fds, st, pid, fd);
	struct leak_holder h;

	if (!e)
		return "";
	fd_entry_holder(e, what, &h);
	return h.how;
}

/* Links, access modes and pty numbers, read on demand. */
static void check_detail(struct host_scan *s, const struct fd_fixture *f, pid_t root, pid_t outside)
{
	struct fd_entry *e = find_entry(s->fds, &f->st_pipe, outside, f->pipe[1]), gone;
	struct leak_holder h;

	test_case("fd_entry_detail of the outside write end");
	CHECK(e != NULL);
	if (e) {
		CHECK_INT(fd_entry_detail(e), ==, 0);
		CHECK_STR(fd_entry_link(e), ==, arena_printf("pipe:[%llu]", (unsigned long long)f->st_pipe.st_ino));
		CHECK(e->writable);
		CHECK(!e->readable);
		fd_entry_holder(e, "", &h);
		CHECK_STR(h.how, ==, arena_printf("fd %d (write-only)", f->pipe[1]));
		CHECK(h.has_fd);
		CHECK_INT(h.fd, ==, f->pipe[1]);
		CHECK(h.writable);
		fd_entry_holder(e, "write end", &h);
		CHECK_STR(h.how, ==, arena_printf("fd %d (write end)", f->pipe[1]));
	}
	test_case("fd_entry_holder: access modes");
	CHECK_STR(holder_how(s, &f->st_pipe, root, f->pipe[0], NULL), ==,
		  arena_printf("fd %d (read-only)", f->pipe[0]));
	CHECK_STR(holder_how(s, &f->st_file, root, f->file, ""), ==, arena_printf("fd %d (read-write)", f->file));
	CHECK_STR(holder_how(s, &f->st_dir, root, f->dir, NULL), ==, arena_printf("fd %d (path only)", f->dir));

	test_case("fd_entry_tty_index of the outside master");
	e = find_entry(s->fds, &f->st_master, outside, f->master);
	CHECK(e != NULL);
	if (e) {
		CHECK_INT(fd_entry_tty_index(e), ==, f->pts);
		CHECK_INT(e->tty_index, ==, f->pts);		/* kept */
	}
	test_case("fd_entry_detail of a descriptor that is gone");
	memset(&gone, 0, sizeof(gone));
	gone.pid = root;
	gone.fd = 999;
	gone.tty_index = FD_TTY_UNREAD;
	CHECK_INT(fd_entry_detail(&gone), ==, -1);
	CHECK(gone.detailed);
	CHECK_INT(fd_entry_detail(&gone), ==, -1);
	CHECK_INT(fd_entry_tty_index(&gone), ==, -1);
}

/* The entries are sorted by dev, ino, pid and fd, each once. */
static void check_sorted(const struct fd_table *t)
{
	const char *unsorted = "";

	for (size_t i = 1; i < t->n && !unsorted[0]; i++) {
		const struct fd_entry *a = &t->v[i - 1], *b = &t->v[i];

		if (a->dev > b->dev || (a->dev == b->dev && (a->ino > b->ino || (a->ino == b->ino &&
		    (a->pid > b->pid || (a->pid == b->pid && a->fd >= b->fd))))))
			unsorted = arena_printf("entry %zu (pid %d fd %d) after pid %d fd %d", i, b->pid, b->fd, a->pid,
						a->fd);
	}
	test_case("fd_table_read: sorted by dev, ino, pid, fd");
	CHECK_STR(unsorted, ==, "");
}

/* The table is sorted; each process's descriptors are counted; the tree's locks are read with them. */
static void check_table(struct host_scan *s, const struct fd_fixture *f, pid_t root, pid_t outside)
{
	const struct fd_table *t = s->fds;
	const struct host_proc *r = host_find(s, root), *o = host_find(s, outside);
	size_t first;

	check_sorted(t);
	test_case("fd_table_read: the table");
	CHECK(r != NULL);
	CHECK(o != NULL);
	if (r && o) {
		CHECK(r->fds_read);
		CHECK_UINT(r->nfds, ==, t->tree);	/* a tree of one */
		CHECK(o->fds_read);
		CHECK_UINT(s->descriptors, >=, r->nfds + o->nfds);
	}
	CHECK_UINT(fd_table_find(t, f->st_file.st_dev, f->st_file.st_ino, &first), ==, 1);
	CHECK_UINT(fd_table_find(t, 0, 0, &first), ==, 0);
	CHECK_UINT(fd_table_find(NULL, f->st_file.st_dev, f->st_file.st_ino, &first), ==, 0);
	CHECK_UINT(first, ==, 0);

	test_case("fd_table_read: the tree's locks");
	CHECK_UINT(t->ntree_locks, ==, 1);
	if (t->ntree_locks == 1) {
		CHECK_STR(t->tree_locks[0].l.cls, ==, "FLOCK");
		CHECK_STR(t->tree_locks[0].l.type, ==, "WRITE");
		CHECK_INT(t->tree_locks[0].pid, ==, root);
		CHECK_INT(t->tree_locks[0].fd, ==, f->tree_lock);
		CHECK_UINT(t->tree_locks[0].ino, ==, f->st_lock.st_ino);
		CHECK_UINT(t->tree_locks[0].l.ino, ==, f->st_lock.st_ino);
	}
}

static void test_read(void)
{
	struct fd_fixture f = { .pipe = { -1, -1 }, .own = { -1, -1 }, .sock = { -1, -1 } };
	struct host_scan s;
	pid_t root = -1, outside = -1;

	test_case("fd_table_read");
	CHECK_OK(fixture_open(&f), NULL);
	root = spawn_value(tree_fds, &f, NEW_SESSION, &f.tree_lock);
	outside = spawn_value(outside_fds, &f, NEW_GROUP, &f.outside_lock);
	fixture_close(&f);
	CHECK_INT(root, >, 0);
	CHECK_INT(outside, >, 0);
	CHECK_INT(f.tree_lock, >=, 0);
	CHECK_INT(f.outside_lock, >=, 0);
	if (root > 0 && outside > 0 && f.tree_lock >= 0 && HOST_READ_OK(root, &s, true)) {
		check_tree(&s, &f, root);
		check_outside(&s, &f, outside);
		check_detail(&s, &f, root, outside);
		check_table(&s, &f, root, outside);
		fd_table_free(s.fds);
		host_scan_release(&s);
	}
	fd_table_free(NULL);
	end_all((pid_t[]){ root, outside }, 2);
	unlink(f.file_path);
	unlink(f.lock_path);
}

TEST_GROUP(fd_table)
{
	test_classify();
	test_devices();
	test_read();
	arena_free_all();
}
