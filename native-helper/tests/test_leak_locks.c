/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_locks.c: the detector of file locks on real locks (flock,
 * POSIX and OFD locks taken by a tree forked here, locks and a waiter
 * outside it). Every child is killed and reaped; the test process is a
 * child subreaper meanwhile.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "arena.h"
#include "leak_locks.h"
#include "leak_scan.h"
#include "leaks.h"
#include "proc_locks.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

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
	char needle[64];
	bool found = false;

	snprintf(needle, sizeof(needle), "-> FLOCK  ADVISORY  WRITE %d ", pid);
	for (int i = 0; i < 200 && !found; i++) {
		char *buf = read_proc_locks();

		found = buf && strstr(buf, needle);
		free(buf);
		if (!found)
			usleep(5000);
	}
	return found;
}

/* The leak of the locks on path, checked to be found (test_case names it). */
static struct leak *lock_leak(struct host_scan *s, const char *path)
{
	struct leak *lk = leak_find(s, LK(FILE_LOCK), file_resource(path));

	test_case("the locks on %s", path);
	CHECK(lk != NULL);
	return lk;
}

static void check_flock(struct host_scan *s, const struct lock_fixture *l, pid_t root, int flock_fd, pid_t waiter)
{
	struct leak *lk = lock_leak(s, l->flock_path);
	const struct leak_holder *h;

	if (!lk)
		return;
	CHECK(lk->standalone);
	CHECK_INT(lk->default_policy, ==, LP(FAIL));
	CHECK(has_choice(lk, LP(SAVE), "--file-locks"));
	CHECK(has_choice(lk, LP(FAIL), ""));
	CHECK_UINT(lk->nchoices, ==, 2);
	h = holder(lk->inside, lk->ninside, root);
	CHECK(h != NULL);
	if (h) {
		CHECK(h->has_fd);
		CHECK_INT(h->fd, ==, flock_fd);
		CHECK_STR(h->how, ==, arena_printf("fd %d (flock write lock)", flock_fd));
	}
	CHECK(holds(lk->outside, lk->noutside, waiter, "waits for a flock write lock"));
	CHECK_CONTAINS(lk->criu, "--file-locks");
	CHECK_CONTAINS(lk->summary, arena_printf("the tree holds 1 lock on %s; ", l->flock_path));
	CHECK_CONTAINS(lk->summary, "1 outside process locks it too or waits for it");
}

/* Outside: the POSIX lock by its pid, the OFD lock (pid -1) through the descriptor holding it. */
static void check_posix(struct host_scan *s, const struct lock_fixture *l, pid_t root, pid_t locker, int ofd_fd)
{
	struct leak *lk = lock_leak(s, l->posix_path);
	const struct leak_holder *h;

	if (!lk)
		return;
	h = holder(lk->inside, lk->ninside, root);
	CHECK(h != NULL);
	if (h)
		CHECK_CONTAINS(h->how, "POSIX write lock on bytes 5-14");
	CHECK_UINT(lk->noutside, ==, 2);
	for (size_t i = 0; i < lk->noutside; i++) {
		h = &lk->outside[i];
		test_case("the locks on %s: outside holder %zu (%s)", l->posix_path, i, h->how);
		CHECK_INT(h->pid, ==, locker);
		if (h->has_fd) {
			CHECK_INT(h->fd, ==, ofd_fd);
			CHECK_CONTAINS(h->how, "OFD read lock on bytes 20-30");
		} else {
			CHECK_STR(h->how, ==, "POSIX read lock on bytes 40-49");
		}
	}
}

static void check_locks(struct host_scan *s, const struct lock_fixture *l, pid_t root, int flock_fd,
			pid_t waiter, pid_t locker, int ofd_fd)
{
	struct leak *lk;
	const struct leak_holder *h;

	check_flock(s, l, root, flock_fd, waiter);
	check_posix(s, l, root, locker, ofd_fd);
	/* pid -1: found through fdinfo */
	lk = lock_leak(s, l->ofd_path);
	h = lk ? holder(lk->inside, lk->ninside, root) : NULL;
	CHECK(h != NULL);
	if (h) {
		CHECK(h->has_fd);
		CHECK_CONTAINS(h->how, "OFD read lock on the whole file");
	}
	if (lk)
		CHECK_UINT(lk->noutside, ==, 0);
	/* taken by the test process (pid outside the tree), held through the inherited open file */
	lk = lock_leak(s, l->inherited_path);
	h = lk ? holder(lk->inside, lk->ninside, root) : NULL;
	CHECK(h != NULL);
	if (h) {
		CHECK(h->has_fd);
		CHECK_INT(h->fd, ==, l->inherited_fd);
		CHECK_CONTAINS(h->how, "flock");
	}
}

static void lock_paths(struct lock_fixture *l)
{
	snprintf(l->flock_path, sizeof(l->flock_path), "/tmp/ckpt-flock-%d", getpid());
	snprintf(l->posix_path, sizeof(l->posix_path), "/tmp/ckpt-posix-%d", getpid());
	snprintf(l->ofd_path, sizeof(l->ofd_path), "/tmp/ckpt-ofd-%d", getpid());
	snprintf(l->inherited_path, sizeof(l->inherited_path), "/tmp/ckpt-inherited-%d", getpid());
}

static void test_locks(void)
{
	struct lock_fixture l = { 0 };
	pid_t root, waiter = -1, locker = -1;
	struct host_scan s;
	int64_t flock_fd, ofd_fd = -1;

	test_case("file locks");
	lock_paths(&l);
	l.inherited_fd = open(l.inherited_path, O_RDWR | O_CREAT, 0600);
	CHECK_INT(l.inherited_fd, >=, 0);
	CHECK_OK(flock(l.inherited_fd, LOCK_SH), NULL);
	root = spawn_value(tree_locks, &l, NEW_SESSION, &flock_fd);
	close(l.inherited_fd);			/* the tree's copy holds the lock on */
	CHECK_INT(root, >, 0);
	CHECK_INT(flock_fd, >=, 0);
	if (root > 0 && flock_fd >= 0) {
		waiter = spawn_ready(outside_waiter, &l, NEW_GROUP);
		locker = spawn_value(outside_locker, &l, NEW_GROUP, &ofd_fd);
	}
	CHECK_INT(waiter, >, 0);
	CHECK(waiting(waiter));
	CHECK_INT(locker, >, 0);
	CHECK_INT(ofd_fd, >=, 0);
	if (root > 0 && SCAN_OK(root, &s)) {
		check_locks(&s, &l, root, flock_fd, waiter, locker, ofd_fd);
		leaks_scan_free(&s);
	}
	end_all((pid_t[]){ root, waiter, locker }, 3);
	unlink(l.flock_path);
	unlink(l.posix_path);
	unlink(l.ofd_path);
	unlink(l.inherited_path);
}

TEST_GROUP(leak_locks)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_locks();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	arena_free_all();
}
