/* SPDX-License-Identifier: MIT */
/*
 * Tests of lazy.c and of lazy restores in restore.c, with the fake CRIU's
 * lazy-pages daemon (service.h): the daemon listens before anything is
 * killed, a daemon that cannot start kills nothing, the end comes as an
 * event, a failing daemon takes the restored processes (only those) with
 * it, and a checkpoint whose pages are still coming is busy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <unistd.h>

#include "arena.h"
#include "children.h"
#include "fileio.h"
#include "lazy.h"
#include "proc.h"
#include "restore.h"
#include "sbuf.h"
#include "store.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"
#include "service.h"
#include "synth.h"

#define LAZY_ID 82
#define FREE_PID 4194002	/* a pid no process has */
#define END_WAIT_MS 10000

static char store[] = "/tmp/ckpt-lazy-test-XXXXXX";

static int restore_lazily(const char *id, bool lazy_pages, bool kill_running, const char *criu,
			  struct restore_outcome *out, struct herr *e)
{
	struct criu_info ci = criu_at(criu);
	struct restore_params p = { .request = LAZY_ID, .id = id, .kill_running = kill_running, .lazy = true,
				    .store = store, .criu = &ci };

	ci.lazy_pages = lazy_pages;
	memset(e, 0, sizeof(*e));
	out_reset();
	return restore_run(&p, out, e);
}

/* The LazyRestoreEnd event, once the helper reaped the supervisor (as its main loop does at SIGCHLD). */
static const LazyRestoreEnd *wait_end(HelperMessage **keep)
{
	uint64_t deadline = now_us() + END_WAIT_MS * 1000ull;

	*keep = NULL;
	while (now_us() < deadline) {
		HelperMessage *v[64];
		size_t n;

		reap_children();
		n = out_frames(v, ARRAY_SIZE(v));
		for (size_t i = 0; i < n; i++) {
			if (!*keep && v[i]->kind_case == CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_EVENT &&
			    v[i]->event->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_LAZY_RESTORE_END)
				*keep = v[i];
			else
				msg_free(v[i]);
		}
		if (*keep)
			return (*keep)->event->lazy_restore_end;
		sleep_ms(2);
	}
	CHECK(!"a LazyRestoreEnd event came");
	return NULL;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static const char *lock_file(const char *id)
{
	return arena_printf("%s/.lazy/%s", store, id);
}

/* Restored lazily: CRIU was asked for lazy pages; the end is an event; both logs kept; nothing left behind. */
static void test_lazy_restore(void)
{
	struct restore_outcome out;
	const LazyRestoreEnd *end;
	HelperMessage *m;
	struct fixture f;
	struct herr e;

	test_case("a lazy restore: running at once, every page in later");
	fixture(&f, "lazy", FREE_PID, 0, "gone");
	CHECK_INT(checkpoint_put(store, "lazy", &f.c), ==, 0);
	CHECK_INT(restore_lazily("lazy", true, false, fake_criu("ok"), &out, &e), ==, 0);
	CHECK_OK(0, &e);
	CHECK(out.lazy);
	CHECK_INT(out.root, >, 0);
	end = wait_end(&m);
	fake_criu(NULL);
	if (end) {
		CHECK(end->ok);
		CHECK_STR(end->checkpoint_id, ==, "lazy");
		CHECK_INT(end->root_pid, ==, out.root);
		CHECK_STR(end->message, ==, "");
		CHECK_INT(end->n_killed_pids, ==, 0);
		CHECK_CONTAINS(end->log_path, arena_printf("%s/.logs/lazy-", store));
		CHECK(str_ends_with(end->log_path, "/lazy-pages.log"));
		CHECK(exists(end->log_path));
		/* the restore's own log went with it, out of the short work directory */
		CHECK(exists(arena_printf("%.*s/restore.log", (int)(strlen(end->log_path) - 15), end->log_path)));
	}
	msg_free(m);
	CHECK(!exists(lock_file("lazy")));
	CHECK(pid_exists(out.root));
	reap(out.root);

	test_case("a checkpoint with a parent: a full restore (CRIU's lazy pages cannot serve its parent's pages)");
	CHECK_INT(symlink("../lazy", arena_printf("%s/lazy/parent", store)), ==, 0);
	CHECK_INT(restore_lazily("lazy", true, false, fake_criu("ok"), &out, &e), ==, 0);
	fake_criu(NULL);
	CHECK(!out.lazy);
	CHECK_STR(events_told(), ==, arena_printf("lazy-pages, RESTORING 4194002, restoring, RUNNING %d, ", out.root));
	CHECK(!exists(lock_file("lazy")));
	reap(out.root);
	CHECK_INT(unlink(arena_printf("%s/lazy/parent", store)), ==, 0);

	test_case("lazy pages asked where CRIU cannot: a full restore");
	CHECK_INT(restore_lazily("lazy", false, false, fake_criu("ok"), &out, &e), ==, 0);
	fake_criu(NULL);
	CHECK(!out.lazy);
	CHECK_STR(events_told(), ==, arena_printf("RESTORING 4194002, restoring, RUNNING %d, ", out.root));
	reap(out.root);
	arena_free_all();
}

static void sleeper(void *arg, int report)
{
	(void)arg;
	report_int(report, 1);
}

/* A daemon that cannot listen: the restore fails in CRIU's words, and the running process it would replace lives. */
static void test_daemon_fails_early(void)
{
	pid_t running = spawn_ready(sleeper, NULL, NEW_GROUP);
	struct restore_outcome out;
	struct proc_stat st;
	struct fixture f;
	struct herr e;

	test_case("the daemon fails before it listens: nothing killed or restored");
	CHECK_INT(read_proc_stat(running, &st), ==, 0);
	fixture(&f, "early", running, 0, st.comm);
	CHECK_INT(checkpoint_put(store, "early", &f.c), ==, 0);
	CHECK_INT(restore_lazily("early", true, true, fake_criu("ok-lazy-early"), &out, &e), ==, -1);
	fake_criu(NULL);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK_CONTAINS(e.msg, "CRIU's lazy-pages daemon for checkpoint early ended with exit status 1: "
		       "Error (criu/uffd.c:1): fake: cannot listen; nothing was restored or killed");
	CHECK_STR(events_told(), ==, "lazy-pages, ");
	CHECK_INT(out.nkilled, ==, 0);
	CHECK(pid_exists(running));
	CHECK(!exists(lock_file("early")));
	reap(running);
	arena_free_all();
}

/* Parameters for lazy_start itself, its logs in a directory of the store. */
static struct lazy_params params(const char *id, const pid_t *pids, size_t n)
{
	char *logs = arena_printf("%s/logs-%s", store, id);

	mkdir(logs, 0700);
	return (struct lazy_params){ .request = LAZY_ID, .store = store,
				     .id = id, .images = store, .logs = logs, .pids = pids, .npids = n };
}

static void cue(const struct lazy_restore *l)
{
	CHECK_INT(write_file_at(l->work_fd, FAKE_LAZY_GO, "", 0), ==, 0);
}

/*
 * A "restored" process: a child with the given pid (clone3's set_tid, as
 * CRIU restores pids), waiting to be killed; -1 when it could not be made.
 */
/* A pid no process has, below pid_max (which may be as low as 32768): clone3 can give it. */
static pid_t free_pid(void)
{
	for (pid_t pid = 32000; pid > 300; pid--)
		if (!pid_exists(pid))
			return pid;
	return -1;
}

static pid_t restored_at(pid_t pid)
{
	struct clone_args args = { .exit_signal = SIGCHLD, .set_tid = (uintptr_t)&pid, .set_tid_size = 1 };
	long child = syscall(SYS_clone3, &args, sizeof(args));

	if (child == 0)
		for (;;)
			pause();
	return (pid_t)child;
}

/*
 * The daemon fails once the tree runs: the supervisor kills the checkpoint's
 * pids that started after it (the restored processes), not an older
 * process that has one of them; the event says so.
 */
static void test_daemon_fails_late(void)
{
	pid_t pids[2] = { spawn_ready(sleeper, NULL, NEW_GROUP), free_pid() };
	struct lazy_params p = params("late", pids, 2);
	struct lazy_restore l;
	const LazyRestoreEnd *end;
	HelperMessage *m;
	struct herr e = { 0 };

	test_case("the daemon fails while the tree runs: the restored processes are killed");
	sleep_ms(30);	/* the older process starts a clock tick (10 ms) or more before the supervisor */
	p.criu = fake_criu("ok-lazy-fails");
	out_reset();
	CHECK_INT(lazy_start(&p, &l, &e), ==, 0);
	CHECK_OK(0, &e);
	CHECK(exists(lock_file("late")));
	CHECK_INT(restored_at(pids[1]), ==, pids[1]);	/* started after the daemon, at a pid of the checkpoint */
	cue(&l);
	lazy_watch(&l, pids[1]);
	end = wait_end(&m);
	fake_criu(NULL);
	if (end) {
		CHECK(!end->ok);
		CHECK_INT(end->root_pid, ==, pids[1]);
		CHECK_INT(end->n_killed_pids, ==, 1);
		CHECK_INT(end->n_killed_pids ? end->killed_pids[0] : 0, ==, pids[1]);
		CHECK_CONTAINS(end->message, "CRIU's lazy-pages daemon ended with exit status 1 before every page of "
			       "checkpoint late was copied in: Error (criu/uffd.c:2): fake: uffd copy failed; the "
			       "restored processes were killed (1 of them), since a page it did not copy would read "
			       "as zeros");
	}
	msg_free(m);
	CHECK(pid_exists(pids[0]));
	CHECK(!exists(lock_file("late")));
	CHECK(!exists(l.work));
	reap(pids[0]);
	reap(pids[1]);
	arena_free_all();
}

/* Pages still coming: delete refused, waits wait for the processes concerned only; a lock nobody holds is free. */
static void test_busy(void)
{
	const pid_t pids[] = { FREE_PID };
	const pid_t other[] = { FREE_PID - 1 };
	struct lazy_params p = params("busy", pids, 1);
	struct lazy_restore l;
	const LazyRestoreEnd *end;
	struct fixture f;
	HelperMessage *m;
	struct herr e = { 0 };

	test_case("a checkpoint whose pages are coming is busy");
	fixture(&f, "busy", FREE_PID, 0, "gone");
	CHECK_INT(checkpoint_put(store, "busy", &f.c), ==, 0);
	p.criu = fake_criu("ok");
	out_reset();
	CHECK_INT(lazy_start(&p, &l, &e), ==, 0);
	CHECK_INT(lazy_check_idle(store, "busy", &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BUSY));
	CHECK_CONTAINS(e.msg, "checkpoint busy is being restored lazily");
	memset(&e, 0, sizeof(e));
	CHECK_INT(store_delete(store, "busy", &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BUSY));
	CHECK(exists(arena_printf("%s/busy", store)));
	memset(&e, 0, sizeof(e));
	CHECK_INT(lazy_wait_idle(store, other, 1, LAZY_ID, &e), ==, 0);
	CHECK_STR(events_told(), ==, "");

	test_case("a wait for its processes ends when the daemon does");
	cue(&l);
	lazy_watch(&l, FREE_PID);
	CHECK_INT(lazy_wait_idle(store, pids, 1, LAZY_ID, &e), ==, 0);
	CHECK_OK(0, &e);
	end = wait_end(&m);
	fake_criu(NULL);
	CHECK(end && end->ok);
	msg_free(m);
	CHECK_INT(lazy_check_idle(store, "busy", &e), ==, 0);
	CHECK_INT(store_delete(store, "busy", &e), ==, 0);

	test_case("a lock file left by a killed supervisor holds nothing");
	CHECK_INT(mkdir_p(arena_printf("%s/.lazy", store), 0700), ==, 0);
	put_file(arena_printf("%s/.lazy", store), "stale", 0600, "4194002\n");
	CHECK_INT(lazy_check_idle(store, "stale", &e), ==, 0);
	CHECK_INT(lazy_wait_idle(store, pids, 1, LAZY_ID, &e), ==, 0);
	arena_free_all();
}

static const struct status_case {
	const char *what, *text, *how;
	size_t nkilled;
	int32_t killed[3];
} status_cases[] = {
	{ "as the supervisor writes it", "ended with exit status 1\nkilled: 12 13 4194304\n", "ended with exit status 1",
	  3, { 12, 13, 4194304 } },
	{ "none killed", "was killed by signal 9 (Killed)\nkilled:\n", "was killed by signal 9 (Killed)", 0, { 0 } },
	{ "cut short in the list", "could not be run (exit status 127)\nkilled: 7 8", "could not be run (exit status 127)",
	  2, { 7, 8 } },
	{ "cut short before the list", "did not finish in 600 s and was kil", "did not finish in 600 s and was kil", 0,
	  { 0 } },
	{ "empty", "", "ended", 0, { 0 } },
	{ "newlines alone", "\n\n\n", "ended", 0, { 0 } },
	{ "empty lines first, as strtok skipped them", "\n\nended with exit status 2\n", "ended with exit status 2", 0,
	  { 0 } },
	{ "killed: within the first line is no list", "why killed: 5\n", "why killed: 5", 0, { 0 } },
	{ "a pid past 32 bits ends the list (cut short, it would be 1)", "x\nkilled: 3 4294967297 5\n", "x", 1, { 3 } },
	{ "zero, negative and words end it", "x\nkilled: 6 -2 7\n", "x", 1, { 6 } },
	{ "garbage", "\x01\xff\x80killed:\n", "\x01\xff\x80killed:", 0, { 0 } },
};

/* lazy-pages.status as lazy.c reads it, and what a lock file names. */
static void test_status_text(void)
{
	struct sbuf many = { 0 }, long_line = { 0 };
	const pid_t pids[] = { 12, 4194304 };
	struct lazy_status st;

	for (size_t i = 0; i < ARRAY_SIZE(status_cases); i++) {
		const struct status_case *c = &status_cases[i];

		test_case("status: %s", c->what);
		lazy_status_parse(c->text, &st);
		CHECK_STR(st.how, ==, c->how);
		CHECK_UINT(st.nkilled, ==, c->nkilled);
		for (size_t k = 0; k < st.nkilled && k < c->nkilled; k++)
			CHECK_INT(st.killed[k], ==, c->killed[k]);
	}
	test_case("status: unreadable");
	lazy_status_parse(NULL, &st);
	CHECK_STR(st.how, ==, "ended");
	CHECK_UINT(st.nkilled, ==, 0);
	test_case("status: more pids than an event names, and a first line longer than how");
	for (int i = 0; i < 300; i++)
		sbuf_printf(&long_line, "x");
	sbuf_printf(&many, "%s\nkilled:", long_line.p);
	for (int i = 1; i <= 100; i++)
		sbuf_printf(&many, " %d", i);
	lazy_status_parse(many.p, &st);
	CHECK_UINT(strlen(st.how), ==, sizeof(st.how) - 1);
	CHECK_UINT(st.nkilled, ==, LAZY_STATUS_KILLED_MAX);
	CHECK_INT(st.killed[LAZY_STATUS_KILLED_MAX - 1], ==, LAZY_STATUS_KILLED_MAX);
	sbuf_free(&many);
	sbuf_free(&long_line);
	test_case("lock: names one");
	CHECK(lazy_lock_names("1\n4194304\n", pids, 2));
	CHECK(lazy_lock_names("12", pids, 2));	/* cut short */
	test_case("lock: names none");
	CHECK(!lazy_lock_names("1\n2\n", pids, 2));
	CHECK(!lazy_lock_names("", pids, 2));
	CHECK(!lazy_lock_names("12\n", pids, 0));
	CHECK(!lazy_lock_names("4294967308\n", pids, 2));	/* 12 past 32 bits is not 12 */
	CHECK(!lazy_lock_names("x12\n", pids, 2));	/* garbage ends it */
}

static void lazy_tests(void)
{
	test_status_text();
	test_lazy_restore();
	test_daemon_fails_early();
	test_daemon_fails_late();
	test_busy();
	CHECK(no_children());
}

TEST_GROUP(lazy)
{
	CHECK(mkdtemp(store) != NULL);
	with_out_file(lazy_tests);
	CHECK_INT(remove_tree(store), ==, 0);
	arena_free_all();
}
