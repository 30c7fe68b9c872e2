/* SPDX-License-Identifier: MIT */
/*
 * Tests of restore.c, the engine, where CRIU is not needed or not itself:
 * what is checked before anything is killed (the checkpoint, its manifest,
 * its pids, what it handed CRIU as external), the running processes killed
 * first when asked, and a CRIU that fails. Manifests are written into a
 * temporary store as a dump writes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "cgroup.h"
#include "fileio.h"
#include "proc.h"
#include "dump.h"
#include "restore.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"
#include "service.h"
#include "synth.h"

#define RESTORE_ID 81
#define FREE_PID 4194001	/* a pid no process has: the restore would take it */

static char store[] = "/tmp/ckpt-restore-XXXXXX";

static int restore_as(const char *id, bool kill_running, bool frozen, const char *criu,
		      struct restore_outcome *out, struct herr *e)
{
	struct criu_info ci = criu_at(criu);
	struct restore_params p = { .request = RESTORE_ID, .id = id, .kill_running = kill_running, .frozen = frozen,
				    .store = store, .criu = &ci };

	memset(e, 0, sizeof(*e));
	out_reset();
	return restore_run(&p, out, e);
}

static int restore(const char *id, bool kill_running, const char *criu, struct restore_outcome *out,
		   struct herr *e)
{
	return restore_as(id, kill_running, false, criu, out, e);
}

/* Refused before anything was done: code, the words, no event, nothing killed, no work directory. */
static void check_refused(int ret, const struct restore_outcome *out, const struct herr *e, int code,
			  const char *words)
{
	CHECK_INT(ret, ==, -1);
	CHECK_INT(e->code, ==, code);
	CHECK_CONTAINS(e->msg, words);
	CHECK_UINT(out->nkilled, ==, 0);
	CHECK_INT(out->root, ==, 0);
	CHECK_STR(events_told(), ==, "");
	CHECK_INT(dir_entries(arena_printf("%s/.logs", store)), ==, -1);
}

static void test_unknown_and_damaged(void)
{
	struct restore_outcome out;
	struct fixture f;
	char *many[65];
	struct herr e;
	int fd;

	test_case("an unknown checkpoint");
	check_refused(restore("nope", false, "/bin/false", &out, &e), &out, &e, EC(NOT_FOUND),
		      arena_printf("no checkpoint nope in %s", store));
	test_case("a manifest that cannot be decoded");
	CHECK_INT(mkdir(arena_printf("%s/broken", store), 0700), ==, 0);
	fd = open(arena_printf("%s/broken/manifest.pb", store), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK_INT(write(fd, "\xff\xff\xff\xff", 4), ==, 4);
	close(fd);
	check_refused(restore("broken", false, "/bin/false", &out, &e), &out, &e, EC(IMAGE_DAMAGED),
		      "the manifest of checkpoint broken cannot be decoded");
	test_case("a manifest whose CRIU options are not valid");
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = "mnt[/a]:a";
	fixture(&f, "damaged", FREE_PID, 0, "gone");
	f.options.external = many;
	f.options.n_external = ARRAY_SIZE(many);
	CHECK_INT(checkpoint_put(store, "damaged", &f.c), ==, 0);
	check_refused(restore("damaged", false, "/bin/false", &out, &e), &out, &e, EC(BAD_REQUEST),
		      "65 external entries; at most 64 are accepted");
	arena_free_all();
}

/* The checkpoint's pid held by a process of another command: nothing can be done, nothing is. */
static void test_pid_in_use(void)
{
	struct restore_outcome out;
	struct fixture f;
	struct herr e;

	test_case("a pid held by another command");
	CHECK_INT(checkpoint_put(store, "held", fixture(&f, "held", getpid(), 0, "other")), ==, 0);
	check_refused(restore("held", true, "/bin/false", &out, &e), &out, &e, EC(PID_IN_USE),
		      arena_printf("pid %d of checkpoint held (other) is now held by another process (unit-tests)",
				   getpid()));
	CHECK_INT(e.errnum, ==, EEXIST);
	arena_free_all();
}

/* The checkpoint's processes still run: refused without kill_running, killed with it. */
static void test_running(pid_t child, pid_t grandchild)
{
	struct restore_outcome out;
	struct fixture f;
	struct herr e;
	int lock;

	CHECK_INT(checkpoint_put(store, "running", fixture(&f, "running", child, grandchild, "unit-tests")), ==, 0);
	test_case("its processes still run");
	check_refused(restore("running", false, "/bin/false", &out, &e), &out, &e, EC(TREE_RUNNING),
		      arena_printf("checkpoint running's process %d (unit-tests) still runs", child));
	CHECK_CONTAINS(e.msg, "kill_running");
	CHECK(pid_exists(child));
	CHECK(pid_exists(grandchild));
	test_case("a dump or a restore of the tree under way: refused in words, nothing killed");
	lock = tree_lock(child, &e);
	CHECK_INT(lock, >=, 0);
	check_refused(restore("running", true, "/bin/false", &out, &e), &out, &e, EC(BUSY),
		      arena_printf("a dump or a restore of the tree of process %d is already under way", child));
	CHECK(pid_exists(child));
	if (lock >= 0)
		close(lock);
	test_case("killed first, then a CRIU that answers nothing");
	CHECK_INT(restore("running", true, "/bin/false", &out, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK_UINT(out.nkilled, ==, 2);
	CHECK_INT(out.nkilled == 2 ? out.killed[0] : 0, ==, child);
	CHECK_INT(out.nkilled == 2 ? out.killed[1] : 0, ==, grandchild);
	CHECK(!pid_exists(child));	/* reaped: it was this process's child */
	CHECK_STR(events_told(), ==, arena_printf("killing, GONE %d, RESTORING %d, restoring, ", child, child));
	CHECK_INT(dir_entries(arena_printf("%s/.logs", store)), ==, 1);	/* its work directory */
	CHECK_INT(remove_tree(arena_printf("%s/.logs", store)), ==, 0);
	arena_free_all();
}

/*
 * A pipe handed to CRIU as external whose outside holder is gone: refused
 * before the running processes are killed, kill_running or not.
 */
static void test_external_gone(pid_t child)
{
	LeakHolder gone = CHECKPOINT__HELPER__V1__LEAK_HOLDER__INIT, *outside[] = { &gone };
	Leak pipe = CHECKPOINT__HELPER__V1__LEAK__INIT, *leaks[] = { &pipe };
	struct restore_outcome out;
	struct fixture f;
	struct herr e;

	test_case("a pipe whose outside holder is gone");
	gone.pid = FREE_PID;
	gone.has_fd = true;
	gone.fd = 3;
	pipe.kind = LK(PIPE);
	pipe.resource = "pipe:[12345]";
	pipe.policy = LP(EXTERNAL);
	pipe.outside = outside;
	pipe.n_outside = 1;
	fixture(&f, "external", child, 0, "unit-tests");
	f.leaks.leaks = leaks;
	f.leaks.n_leaks = 1;
	CHECK_INT(checkpoint_put(store, "external", &f.c), ==, 0);
	check_refused(restore("external", true, "/bin/false", &out, &e), &out, &e, EC(EXTERNAL_GONE),
		      "pipe:[12345] was handed to CRIU as external, but none of the outside processes that held it "
		      "(pid 4194001) holds it any more");
	CHECK(pid_exists(child));
	arena_free_all();
}

/* The fake CRIU fails the restore: its words, its log kept in .logs, the output pipes closed. */
static void test_criu_fails(void)
{
	OutputPipes pipes = CHECKPOINT__HELPER__V1__OUTPUT_PIPES__INIT;
	struct restore_outcome out;
	struct fixture f;
	struct herr e;
	int fds = count_fds();

	test_case("CRIU fails the restore");
	pipes.stdout_pipe_id = 11;
	pipes.stderr_pipe_id = 12;
	fixture(&f, "fails", FREE_PID, 0, "gone");
	f.c.output_pipes = &pipes;
	CHECK_INT(checkpoint_put(store, "fails", &f.c), ==, 0);
	CHECK_INT(restore("fails", false, fake_criu("fail"), &out, &e), ==, -1);
	fake_criu(NULL);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK_STR(e.msg, ==, "CRIU could not restore checkpoint fails: Error (criu/fake.c:1): fake: nothing was done");
	CHECK(out.criu != NULL);
	CHECK_STR(out.criu ? out.criu->message : NULL, ==, "Error (criu/fake.c:1): fake: nothing was done");
	CHECK_CONTAINS(out.criu ? out.criu->log_path : NULL, arena_printf("%s/.logs/fails-", store));
	CHECK_CONTAINS(out.criu ? out.criu->log_path : NULL, "/restore.log");
	CHECK_INT(out.criu ? access(out.criu->log_path, R_OK) : -1, ==, 0);
	CHECK_INT(out.root, ==, 0);
	CHECK(!out.output_streamed);
	CHECK_STR(events_told(), ==, "RESTORING 4194001, restoring, GONE 4194001, ");
	CHECK_INT(count_fds(), ==, fds);	/* the new output pipes closed again */
	CHECK_UINT(programs_pipes(), ==, 0);
	arena_free_all();
}

/* The state letter of pid in /proc/PID/stat, 0 when it cannot be read. */
static char state_of(pid_t pid)
{
	struct proc_stat st;

	return read_proc_stat(pid, &st) ? 0 : st.state;
}

/* Whether pid reaches state (up to 2 s). */
static bool wait_state(pid_t pid, char state)
{
	for (int i = 0; i < 2000; i++) {
		if (state_of(pid) == state)
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * Restored frozen: CRIU was asked to leave the tree stopped; the helper
 * froze it and let it out of the stop, so it is frozen, not stopped, and
 * runs when thawed. Restored plainly: running, never asked to stop.
 */
static void test_frozen(void)
{
	struct restore_outcome out;
	struct frozen_tree *t;
	struct fixture f;
	struct herr e;

	test_case("restored frozen");
	fixture(&f, "frozen", FREE_PID, 0, "gone");
	CHECK_INT(checkpoint_put(store, "frozen", &f.c), ==, 0);
	CHECK_INT(restore_as("frozen", false, true, fake_criu("ok"), &out, &e), ==, 0);
	fake_criu(NULL);
	CHECK_OK(0, &e);
	CHECK_INT(out.root, >, 0);
	CHECK(out.frozen);
	CHECK(out.warning == NULL);
	CHECK_STR(events_told(), ==, arena_printf("RESTORING 4194001, restoring, FROZEN %d, ", out.root));
	t = frozen_find(out.root);
	CHECK(t != NULL);
	CHECK_INT(state_of(out.root), !=, 'T');
	if (t)
		CHECK_INT(frozen_release(t, true, &e), ==, 0);
	CHECK(wait_state(out.root, 'S'));
	reap(out.root);

	test_case("restored running");
	CHECK_INT(restore_as("frozen", false, false, fake_criu("ok"), &out, &e), ==, 0);
	fake_criu(NULL);
	CHECK(!out.frozen);
	CHECK(frozen_find(out.root) == NULL);
	CHECK_STR(events_told(), ==, arena_printf("RESTORING 4194001, restoring, RUNNING %d, ", out.root));
	CHECK(wait_state(out.root, 'S'));
	reap(out.root);
	arena_free_all();
}

/*
 * The directory names the checkpoint: one whose manifest names another (a
 * copy, or a manifest id like "../x") restores from its own directory, and
 * its log goes under its own name.
 */
static void test_copied(void)
{
	static const char *const ids[] = { "orig", "../escape" };
	struct restore_outcome out;
	struct fixture f;
	struct herr e;

	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		test_case("a copy whose manifest says %s", ids[i]);
		fixture(&f, ids[i], FREE_PID, 0, "gone");
		CHECK_INT(checkpoint_put(store, "copy", &f.c), ==, 0);
		CHECK_INT(restore("copy", false, fake_criu("fail"), &out, &e), ==, -1);
		fake_criu(NULL);
		CHECK_INT(e.code, ==, EC(CRIU_FAILED));
		CHECK_STR(e.msg, ==, "CRIU could not restore checkpoint copy: Error (criu/fake.c:1): fake: nothing was done");
		CHECK_CONTAINS(out.criu ? out.criu->log_path : NULL, arena_printf("%s/.logs/copy-", store));
		CHECK_INT(remove_tree(arena_printf("%s/copy", store)), ==, 0);
	}
	arena_free_all();
}

static void restore_tests(void)
{
	pid_t grandchild, child = spawn_family(&grandchild);

	CHECK_INT(child, >, 0);
	test_unknown_and_damaged();
	test_pid_in_use();
	if (child > 0) {
		test_external_gone(child);
		test_running(child, grandchild);
	}
	test_criu_fails();
	test_frozen();
	test_copied();
	CHECK(no_children());
}

TEST_GROUP(restore)
{
	CHECK(mkdtemp(store) != NULL);
	with_out_file(restore_tests);
	CHECK_INT(remove_tree(store), ==, 0);
	arena_free_all();
}
