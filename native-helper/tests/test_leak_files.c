/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_files.c: the detector of open files on real processes (a
 * tree forked here, and an outside child holding the other ends): pipes,
 * FIFOs, memfds, deleted and volatile files. Every child is killed and
 * reaped; the test process is a child subreaper meanwhile, so grandchildren
 * are reaped here too.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "arena.h"
#include "fd_table.h"
#include "leak_files.h"
#include "leak_scan.h"
#include "leaks.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

struct files_fixture {
	int out_pipe[2];		/* the tree reads, the outside writes */
	char fifo[64];
	char deleted_big[64], deleted_small[64];
	char linked[64], other_name[64];	/* deleted, but still linked as other_name */
	char shm[64];
	pid_t outside;
	/* reported by the tree */
	int64_t own_pipe;
};

/* The deleted files the tree holds: big (over CRIU's ghost limit), small, and one still linked. */
static void tree_deleted(struct files_fixture *f)
{
	int fd = open(f->deleted_big, O_RDWR | O_CREAT, 0600);

	if (fd < 0 || ftruncate(fd, 2 << 20) || unlink(f->deleted_big))
		_exit(1);
	fd = open(f->deleted_small, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1 || unlink(f->deleted_small))
		_exit(1);
	fd = open(f->linked, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || link(f->linked, f->other_name) || unlink(f->linked))
		_exit(1);
}

static void tree_files(void *arg, int report)
{
	struct files_fixture *f = arg;
	int own[2], mfd;
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
	tree_deleted(f);
	if (f->shm[0])
		open(f->shm, O_RDONLY);
	snprintf(path, sizeof(path), "/proc/%d/status", f->outside);
	open(path, O_RDONLY);
	open("/proc/self/status", O_RDONLY);	/* its own: no leak */
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

/* The leak of kind with this resource (or its start, with prefix), checked to be found. */
static struct leak *file_leak(struct host_scan *s, int kind, const char *resource, bool prefix)
{
	struct leak *lk = prefix ? leak_starting(s, kind, resource) : leak_find(s, kind, resource);

	test_case("%s", resource);
	CHECK(lk != NULL);
	return lk;
}

/* pid holds the pipe through its read end (or its write end), told so. */
static void check_pipe_end(const struct leak_holder *v, size_t n, pid_t pid, bool reads)
{
	const struct leak_holder *h = holder(v, n, pid);

	CHECK(h != NULL);
	if (!h)
		return;
	CHECK(h->has_fd);
	CHECK_INT(h->readable, ==, reads);
	CHECK_INT(h->writable, ==, !reads);
	CHECK_CONTAINS(h->how, reads ? "(read end)" : "(write end)");
}

static void check_pipes(struct host_scan *s, struct files_fixture *f, pid_t root, ino_t pipe_ino)
{
	struct leak *lk = file_leak(s, LK(PIPE), arena_printf("pipe:[%llu]", (unsigned long long)pipe_ino), false);

	if (lk) {
		check_pipe_end(lk->inside, lk->ninside, root, true);
		check_pipe_end(lk->outside, lk->noutside, f->outside, false);
		CHECK_UINT(lk->object, ==, pipe_ino);
		CHECK_INT(lk->default_policy, ==, LP(FAIL));
		CHECK(!lk->standalone);
		CHECK(has_choice(lk, LP(EXTERNAL), "--inherit-fd at restore"));
		CHECK(has_choice(lk, LP(WARN), ""));
		CHECK(has_choice(lk, LP(IGNORE), ""));
		CHECK(has_choice(lk, LP(FAIL), ""));
		CHECK_STR(lk->summary, ==, "a pipe the tree reads and 1 outside process writes");
		CHECK_CONTAINS(lk->summary, "the tree reads");
		CHECK_CONTAINS(lk->criu, "silently");
	}
	test_case("the tree's own pipe, held by root and its child only, is no leak");
	CHECK_INT(f->own_pipe, >, 0);
	CHECK(!leak_find(s, LK(PIPE), arena_printf("pipe:[%llu]", (unsigned long long)f->own_pipe)));
}

static void check_fifo_memfd(struct host_scan *s, struct files_fixture *f, pid_t root)
{
	struct leak *lk = file_leak(s, LK(FIFO), file_resource(f->fifo), false);

	if (lk) {
		CHECK_INT(lk->default_policy, ==, LP(WARN));
		CHECK(holder(lk->inside, lk->ninside, root) != NULL);
		CHECK(holder(lk->outside, lk->noutside, f->outside) != NULL);
		CHECK_STR(lk->summary, ==, arena_printf("the named pipe %s, which the tree reads and writes, is also "
							"open in 1 outside process", f->fifo));
	}
	lk = file_leak(s, LK(MEMFD), "memfd:ckpt-test (inode ", true);
	if (lk) {
		CHECK(lk->standalone);
		CHECK_INT(lk->default_policy, ==, LP(WARN));
		CHECK_UINT(lk->ninside, ==, 1);
		CHECK_INT(lk->inside[0].pid, ==, root);
		CHECK_CONTAINS(lk->summary, "10 bytes");
		CHECK_CONTAINS(lk->summary, "its contents live only in memory");
	}
}

static void check_deleted(struct host_scan *s, struct files_fixture *f, pid_t root)
{
	struct leak *lk = file_leak(s, LK(DELETED_FILE), f->deleted_big, true);

	if (lk) {
		CHECK(lk->standalone);
		CHECK_CONTAINS(lk->criu, "ghost limit");
		CHECK_CONTAINS(lk->criu, "dump fails");
		CHECK_CONTAINS(lk->summary, "2 MiB");
		CHECK(holder(lk->inside, lk->ninside, root) != NULL);
	}
	lk = file_leak(s, LK(DELETED_FILE), f->deleted_small, true);
	if (lk) {
		CHECK_CONTAINS(lk->criu, "under its 1 MiB ghost limit");
		CHECK_CONTAINS(lk->summary, "(1 byte");
	}
	lk = file_leak(s, LK(DELETED_FILE), f->linked, true);
	if (lk) {
		CHECK_CONTAINS(lk->summary, "still linked under another name");
		CHECK_CONTAINS(lk->criu, "link remap");
	}
}

static void check_volatile(struct host_scan *s, struct files_fixture *f, pid_t root)
{
	struct leak *lk;

	if (f->shm[0]) {
		lk = file_leak(s, LK(VOLATILE_FILE), file_resource(f->shm), false);
		if (lk) {
			CHECK(lk->standalone);
			CHECK_CONTAINS(lk->summary, "on tmpfs");
		}
	}
	lk = file_leak(s, LK(VOLATILE_FILE), arena_printf("/proc/%d/status (", f->outside), true);
	if (lk)
		CHECK_CONTAINS(lk->summary, "outside the tree");
	test_case("a /proc file of the tree's own");
	CHECK(leak_starting(s, LK(VOLATILE_FILE), arena_printf("/proc/%d/status (", root)) == NULL);
}

static void files_paths(struct files_fixture *f)
{
	snprintf(f->fifo, sizeof(f->fifo), "/tmp/ckpt-fifo-%d", getpid());
	snprintf(f->deleted_big, sizeof(f->deleted_big), "/tmp/ckpt-big-%d", getpid());
	snprintf(f->deleted_small, sizeof(f->deleted_small), "/tmp/ckpt-small-%d", getpid());
	snprintf(f->linked, sizeof(f->linked), "/tmp/ckpt-linked-%d", getpid());
	snprintf(f->other_name, sizeof(f->other_name), "/tmp/ckpt-other-name-%d", getpid());
	if (on_tmpfs("/dev/shm"))
		snprintf(f->shm, sizeof(f->shm), "/dev/shm/ckpt-vol-%d", getpid());
}

static void test_files(void)
{
	struct files_fixture f = { 0 };
	pid_t root = -1;
	struct host_scan s;
	struct stat st;

	test_case("open files");
	files_paths(&f);
	CHECK_OK(pipe(f.out_pipe), NULL);
	CHECK_OK(fstat(f.out_pipe[0], &st), NULL);
	CHECK_OK(mkfifo(f.fifo, 0600), NULL);
	if (f.shm[0])
		close(open(f.shm, O_CREAT | O_WRONLY, 0600));
	f.outside = spawn_ready(outside_files, &f, NEW_GROUP);
	root = spawn_value(tree_files, &f, NEW_SESSION, &f.own_pipe);
	close(f.out_pipe[0]);
	close(f.out_pipe[1]);
	CHECK_INT(f.outside, >, 0);
	CHECK_INT(root, >, 0);
	if (root > 0 && SCAN_OK(root, &s)) {
		test_case("the scan");
		CHECK(s.fds != NULL);
		CHECK_UINT(s.fds->tree, >=, 10);
		CHECK_UINT(s.descriptors, >=, s.fds->tree);
		CHECK_UINT(s.tree_procs, ==, 2);
		check_pipes(&s, &f, root, st.st_ino);
		check_fifo_memfd(&s, &f, root);
		check_deleted(&s, &f, root);
		check_volatile(&s, &f, root);
		leaks_scan_free(&s);
	}
	end_all((pid_t[]){ root, f.outside }, 2);
	unlink(f.fifo);
	unlink(f.other_name);
	if (f.shm[0])
		unlink(f.shm);
}

TEST_GROUP(leak_files)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_files();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	arena_free_all();
}
