/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of leak_files.c: the parsers, and the detectors on real
 * processes (a tree forked here, and outside children holding the other
 * ends). Every child is killed and reaped; the test process is a child
 * subreaper meanwhile, so grandchildren are reaped here too.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "arena.h"
#include "fd_table.h"
#include "fileio.h"
#include "leak_files.h"
#include "leak_locks.h"
#include "leak_scan.h"
#include "leak_terminals.h"
#include "leaks.h"
#include "lists.h"
#include "proc_locks.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* ---- pipes, FIFOs, memfd, deleted and volatile files ------------------------- */

struct files_fixture {
	int out_pipe[2];		/* the tree reads, the outside writes */
	char fifo[64];
	char deleted_big[64], deleted_small[64];
	char shm[64];
	pid_t outside;
	/* reported by the tree */
	int64_t own_pipe;
};

static void tree_files(void *arg, int report)
{
	struct files_fixture *f = arg;
	int own[2], fd, mfd;
	struct stat st;
	char path[64];

	close(f->out_pipe[1]);			/* keeps the read end */
	open(f->fifo, O_RDWR);
	/* a pipe of its own: both ends in the tree, in two processes */
	if (pipe(own) || fstat(own[0], &st))
		_exit(1);
	spawn_call(NULL, NULL, NULL);
	mfd = memfd_create("ckpt-test", 0);
	if (mfd < 0 || write(mfd, "0123456789", 10) != 10)
		_exit(1);
	fd = open(f->deleted_big, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 2 << 20) || unlink(f->deleted_big))
		_exit(1);
	fd = open(f->deleted_small, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1 || unlink(f->deleted_small))
		_exit(1);
	if (f->shm[0])
		open(f->shm, O_RDONLY);
	snprintf(path, sizeof(path), "/proc/%d/status", f->outside);
	open(path, O_RDONLY);
	report_int(report, st.st_ino);
}

static void outside_files(void *arg, int report)
{
	struct files_fixture *f = arg;

	close(f->out_pipe[0]);			/* keeps the write end */
	open(f->fifo, O_RDWR);
	report_int(report, 1);
}

static bool on_tmpfs(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == 0x01021994;
}

static void check_pipes(struct host_scan *s, struct files_fixture *f, pid_t root, ino_t pipe_ino)
{
	struct leak *lk = leak_find(s, LK(PIPE), arena_printf("pipe:[%llu]", (unsigned long long)pipe_ino));
	const struct leak_holder *in, *out;

	CHECK(lk != NULL);
	if (!lk)
		return;
	in = holder(lk->inside, lk->ninside, root);
	out = holder(lk->outside, lk->noutside, f->outside);
	CHECK(in && in->has_fd && in->readable && !in->writable && strstr(in->how, "(read end)"));
	CHECK(out && out->has_fd && out->writable && !out->readable && strstr(out->how, "(write end)"));
	CHECK(lk->object == pipe_ino && lk->default_policy == LP(FAIL) && !lk->standalone);
	CHECK(has_choice(lk, LP(EXTERNAL), "--inherit-fd at restore") && has_choice(lk, LP(WARN), "") &&
	      has_choice(lk, LP(IGNORE), "") && has_choice(lk, LP(FAIL), ""));
	CHECK(strstr(lk->summary, "the tree reads") && strstr(lk->criu, "silently"));
	/* the tree's own pipe, held by root and its child only, is no leak */
	CHECK(f->own_pipe && !leak_find(s, LK(PIPE), arena_printf("pipe:[%llu]", (unsigned long long)f->own_pipe)));
}

static void check_files(struct host_scan *s, struct files_fixture *f, pid_t root)
{
	struct stat st;
	struct leak *lk;

	CHECK(stat(f->fifo, &st) == 0);
	lk = leak_find(s, LK(FIFO), file_resource(f->fifo));
	CHECK(lk && lk->default_policy == LP(WARN) && holder(lk->inside, lk->ninside, root) &&
	      holder(lk->outside, lk->noutside, f->outside));

	lk = leak_starting(s, LK(MEMFD), "memfd:ckpt-test (inode ");
	CHECK(lk && lk->standalone && lk->default_policy == LP(WARN) && lk->ninside == 1 &&
	      lk->inside[0].pid == root && strstr(lk->summary, "10 bytes"));

	lk = leak_starting(s, LK(DELETED_FILE), f->deleted_big);
	CHECK(lk && lk->standalone && strstr(lk->criu, "ghost limit") && strstr(lk->criu, "dump fails") &&
	      strstr(lk->summary, "2 MiB") && holder(lk->inside, lk->ninside, root));
	lk = leak_starting(s, LK(DELETED_FILE), f->deleted_small);
	CHECK(lk && strstr(lk->criu, "under its 1 MiB ghost limit") && strstr(lk->summary, "(1 byte"));

	if (f->shm[0]) {
		CHECK(stat(f->shm, &st) == 0);
		lk = leak_find(s, LK(VOLATILE_FILE), file_resource(f->shm));
		CHECK(lk && lk->standalone && strstr(lk->summary, "on tmpfs"));
	}
	lk = NULL;
	for (size_t i = 0; i < s->nleaks; i++)
		if (s->leaks[i]->kind == LK(VOLATILE_FILE) &&
		    strstr(s->leaks[i]->resource, arena_printf("/proc/%d/status (", f->outside)))
			lk = s->leaks[i];
	CHECK(lk && strstr(lk->summary, "outside the tree"));
}

static void test_files(void)
{
	struct files_fixture f = { 0 };
	pid_t root = -1, groups[2];
	struct herr e = { 0 };
	struct host_scan s;
	struct stat st;
	int report;

	snprintf(f.fifo, sizeof(f.fifo), "/tmp/ckpt-fifo-%d", getpid());
	snprintf(f.deleted_big, sizeof(f.deleted_big), "/tmp/ckpt-big-%d", getpid());
	snprintf(f.deleted_small, sizeof(f.deleted_small), "/tmp/ckpt-small-%d", getpid());
	if (on_tmpfs("/dev/shm"))
		snprintf(f.shm, sizeof(f.shm), "/dev/shm/ckpt-vol-%d", getpid());
	CHECK(pipe(f.out_pipe) == 0 && fstat(f.out_pipe[0], &st) == 0);
	CHECK(mkfifo(f.fifo, 0600) == 0);
	if (f.shm[0])
		close(open(f.shm, O_CREAT | O_WRONLY, 0600));
	f.outside = spawn_ready(outside_files, &f, NEW_GROUP);
	root = spawn(tree_files, &f, NEW_SESSION, &report);
	f.own_pipe = read_int(report);
	close(report);
	close(f.out_pipe[0]);
	close(f.out_pipe[1]);
	CHECK(f.outside > 0 && root > 0);
	if (leaks_scan(root, &s, &e) == 0) {
		CHECK(s.fds && s.fds->tree >= 8 && s.descriptors >= s.fds->tree && s.tree_procs == 2);
		check_pipes(&s, &f, root, st.st_ino);
		check_files(&s, &f, root);
	} else {
		CHECK(!"leaks_scan failed");
	}
	leaks_scan_free(&s);
	groups[0] = root;
	groups[1] = f.outside;
	end_all(groups, 2);
	unlink(f.fifo);
	if (f.shm[0])
		unlink(f.shm);
}

/* ---- terminals ---------------------------------------------------------------- */

struct tty_fixture {
	int dangling_master;		/* its slave goes to the tree, the master outside */
	char dangling_slave[64];
	int own_master;			/* the tree's own pty: both sides inside */
	char own_slave[64];
};

static void tree_ttys(void *arg, int report)
{
	struct tty_fixture *t = arg;

	close(t->dangling_master);
	if (open(t->dangling_slave, O_RDWR | O_NOCTTY) < 0)
		_exit(1);
	/* root keeps the own master and makes the own slave its controlling terminal */
	if (open(t->own_slave, O_RDWR) < 0)
		_exit(1);
	report_int(report, 1);
}

static void outside_ttys(void *arg, int report)
{
	struct tty_fixture *t = arg;

	close(t->own_master);
	report_int(report, 1);
}

static void test_ttys(void)
{
	struct tty_fixture t = { 0 };
	pid_t root, outside, groups[2];
	struct herr e = { 0 };
	struct host_scan s;
	struct leak *lk;

	t.dangling_master = open_pty(t.dangling_slave, sizeof(t.dangling_slave));
	t.own_master = open_pty(t.own_slave, sizeof(t.own_slave));
	CHECK(t.dangling_master >= 0 && t.own_master >= 0);
	if (t.dangling_master < 0 || t.own_master < 0)
		return;
	outside = spawn_ready(outside_ttys, &t, NEW_GROUP);
	root = spawn_ready(tree_ttys, &t, NEW_SESSION);
	close(t.dangling_master);
	close(t.own_master);
	CHECK(root > 0 && outside > 0);
	if (leaks_scan(root, &s, &e) == 0) {
		const struct leak_holder *in, *out;

		lk = leak_find(&s, LK(TTY), t.dangling_slave);
		CHECK(lk != NULL);
		if (lk) {
			in = holder(lk->inside, lk->ninside, root);
			out = holder(lk->outside, lk->noutside, outside);
			CHECK(in && in->has_fd && strstr(in->how, "pty slave"));
			CHECK(out && out->has_fd && strstr(out->how, "pty master"));
			CHECK(lk->standalone && lk->default_policy == LP(FAIL) &&
			      has_choice(lk, LP(EXTERNAL), "--shell-job") && strstr(lk->criu, "dangling tty"));
		}
		/* the controlling terminal whose master and session leader are the tree's */
		CHECK(leak_find(&s, LK(TTY), t.own_slave) == NULL);
	} else {
		CHECK(!"leaks_scan failed");
	}
	leaks_scan_free(&s);
	groups[0] = root;
	groups[1] = outside;
	end_all(groups, 2);
}

/* ---- file locks ------------------------------------------------------------------ */

struct lock_fixture {
	char flock_path[64], posix_path[64], ofd_path[64], inherited_path[64];
	int inherited_fd;		/* flock'ed by the test process before the fork */
};

static void tree_locks(void *arg, int report)
{
	struct lock_fixture *l = arg;
	struct flock posix = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 10 };
	struct flock ofd = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	int a = open(l->flock_path, O_RDWR | O_CREAT, 0600);
	int b = open(l->posix_path, O_RDWR | O_CREAT, 0600);
	int c = open(l->ofd_path, O_RDWR | O_CREAT, 0600);

	if (a < 0 || b < 0 || c < 0 || flock(a, LOCK_EX) || fcntl(b, F_SETLK, &posix) ||
	    fcntl(c, F_OFD_SETLK, &ofd))
		_exit(1);
	report_int(report, a);
}

/* Waits for the flock the tree holds: a waiter outside. */
static void outside_waiter(void *arg, int report)
{
	struct lock_fixture *l = arg;
	int fd = open(l->flock_path, O_RDWR);

	report_int(report, 1);
	if (fd >= 0)
		flock(fd, LOCK_EX);
}

/* Locks beside the tree's POSIX lock: an OFD lock (pid -1) and a POSIX lock, both outside. */
static void outside_locker(void *arg, int report)
{
	struct lock_fixture *l = arg;
	struct flock ofd = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 20, .l_len = 11 };
	struct flock posix = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 40, .l_len = 10 };
	int a = open(l->posix_path, O_RDWR), b = open(l->posix_path, O_RDWR);

	if (a < 0 || b < 0 || fcntl(a, F_OFD_SETLK, &ofd) || fcntl(b, F_SETLK, &posix))
		_exit(1);
	report_int(report, a);
}

/* /proc/locks shows pid waiting: the outside waiter is blocked. */
static bool waiting(pid_t pid)
{
	char *buf = NULL, needle[64];
	bool found = false;

	snprintf(needle, sizeof(needle), "-> FLOCK  ADVISORY  WRITE %d ", pid);
	for (int i = 0; i < 200 && !found; i++) {
		if (read_file("/proc/locks", &buf, NULL, 64 << 20) == 0) {
			found = strstr(buf, needle) != NULL;
			free(buf);
		}
		if (!found)
			usleep(5000);
	}
	return found;
}

static struct leak *lock_leak(struct host_scan *s, const char *path)
{
	return leak_find(s, LK(FILE_LOCK), file_resource(path));
}

static void check_locks(struct host_scan *s, const struct lock_fixture *l, pid_t root, int flock_fd,
			pid_t waiter, pid_t locker, int ofd_fd)
{
	const struct leak_holder *h;
	struct leak *lk;

	lk = lock_leak(s, l->flock_path);
	CHECK(lk && lk->standalone && lk->default_policy == LP(FAIL) && has_choice(lk, LP(SAVE), "--file-locks"));
	if (lk) {
		h = holder(lk->inside, lk->ninside, root);
		CHECK(h && h->has_fd && h->fd == flock_fd && strstr(h->how, "flock write lock"));
		h = holder(lk->outside, lk->noutside, waiter);
		CHECK(h && strstr(h->how, "waits for a flock write lock"));
		CHECK(strstr(lk->criu, "--file-locks") && strstr(lk->summary, "1 outside process"));
	}
	lk = lock_leak(s, l->posix_path);
	h = lk ? holder(lk->inside, lk->ninside, root) : NULL;
	CHECK(h && strstr(h->how, "POSIX write lock on bytes 5-14"));
	/* outside: the POSIX lock by its pid, the OFD lock (pid -1) through the descriptor holding it */
	CHECK(lk && lk->noutside == 2);
	for (size_t i = 0; lk && i < lk->noutside; i++) {
		h = &lk->outside[i];
		CHECK(h->pid == locker);
		CHECK(h->has_fd ? h->fd == ofd_fd && strstr(h->how, "OFD read lock on bytes 20-30")
				: strstr(h->how, "POSIX read lock on bytes 40-49") != NULL);
	}
	lk = lock_leak(s, l->ofd_path);
	h = lk ? holder(lk->inside, lk->ninside, root) : NULL;	/* pid -1: found through fdinfo */
	CHECK(h && h->has_fd && strstr(h->how, "OFD read lock on the whole file"));
	/* taken by the test process (pid outside the tree), held through the inherited open file */
	lk = lock_leak(s, l->inherited_path);
	h = lk ? holder(lk->inside, lk->ninside, root) : NULL;
	CHECK(h && h->has_fd && h->fd == l->inherited_fd && strstr(h->how, "flock"));
}

static void test_locks(void)
{
	struct lock_fixture l = { 0 };
	pid_t root, waiter = -1, locker = -1, groups[3];
	struct herr e = { 0 };
	struct host_scan s;
	int report, flock_fd, ofd_fd = -1;

	snprintf(l.flock_path, sizeof(l.flock_path), "/tmp/ckpt-flock-%d", getpid());
	snprintf(l.posix_path, sizeof(l.posix_path), "/tmp/ckpt-posix-%d", getpid());
	snprintf(l.ofd_path, sizeof(l.ofd_path), "/tmp/ckpt-ofd-%d", getpid());
	snprintf(l.inherited_path, sizeof(l.inherited_path), "/tmp/ckpt-inherited-%d", getpid());
	l.inherited_fd = open(l.inherited_path, O_RDWR | O_CREAT, 0600);
	CHECK(l.inherited_fd >= 0 && flock(l.inherited_fd, LOCK_SH) == 0);
	root = spawn(tree_locks, &l, NEW_SESSION, &report);
	flock_fd = read_int(report);
	close(report);
	close(l.inherited_fd);			/* the tree's copy holds the lock on */
	CHECK(root > 0 && flock_fd >= 0);
	if (root > 0 && flock_fd >= 0) {
		waiter = spawn_ready(outside_waiter, &l, NEW_GROUP);
		locker = spawn(outside_locker, &l, NEW_GROUP, &report);
		ofd_fd = read_int(report);
		close(report);
	}
	CHECK(waiter > 0 && waiting(waiter) && locker > 0 && ofd_fd >= 0);
	if (leaks_scan(root, &s, &e) == 0)
		check_locks(&s, &l, root, flock_fd, waiter, locker, ofd_fd);
	else
		CHECK(!"leaks_scan failed");
	leaks_scan_free(&s);
	groups[0] = root;
	groups[1] = waiter;
	groups[2] = locker;
	end_all(groups, 3);
	unlink(l.flock_path);
	unlink(l.posix_path);
	unlink(l.ofd_path);
	unlink(l.inherited_path);
}

TEST_GROUP(leak_files)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_files();
	test_ttys();
	test_locks();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	arena_free_all();
}
