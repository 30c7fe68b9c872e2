/* SPDX-License-Identifier: MIT */
/*
 * Tests of freeze_claim.c without a freeze (test_cgroup.c sweeps a real
 * one): a claim names its cgroup and is held; a second claim of the same
 * tree is refused while the first is held; dropped, it is gone; the sweep
 * leaves held claims and claims of what is no freeze cgroup of ours.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "freeze_claim.h"
#include "proc.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"
#include "check.h"

static char dir[] = "/tmp/ckpt-claim-XXXXXX";

/* A child stopped by SIGSTOP, as CRIU's leave_stopped leaves a restored process. */
static pid_t stopped_child(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	kill(pid, SIGSTOP);
	waitpid(pid, &status, WUNTRACED);
	return pid;
}

static char state_of(pid_t pid)
{
	struct proc_stat st;

	return read_proc_stat(pid, &st) ? '?' : st.state;
}

/* Stop claim text, held in this process: its descriptor, and the lock taken by a child so that closing it here lets go. */
static const char *claim_text(pid_t root)
{
	char *text = NULL;
	const char *copy;

	CHECK_INT(read_file(arena_printf("%s/frozen/%d.stopped", dir, root), &text, NULL, 4096), ==, 0);
	copy = arena_strdup(text ? text : "");
	free(text);
	return copy;
}

/* Settled (CRIU answered): the start times in the claim decide; a dropped claim continues nothing. pids: two children, ended here. */
static void test_settled(pid_t pids[2])
{
	struct herr e = { 0 };
	struct proc_stat st;
	int fd;

	test_case("settled: the exact start times; a process of another start time at a pid is left stopped");
	kill(pids[0], SIGSTOP);
	kill(pids[1], SIGSTOP);
	sleep_ms(20);
	fd = stop_claim_take(pids[0], pids, 2, &e);
	stop_claim_settle(fd, pids, 2);
	CHECK_INT(read_proc_stat(pids[1], &st), ==, 0);
	CHECK_CONTAINS(claim_text(pids[0]), arena_printf("\n%d %llu\n", pids[1], (unsigned long long)st.start_ticks));
	close(fd);
	CHECK_INT(freeze_claim_sweep(), ==, 1);
	CHECK_INT(state_of(pids[0]), !=, 'T');	/* started before this claim, but its start time is in it */

	test_case("dropped: gone, nothing continued by a sweep");
	kill(pids[1], SIGSTOP);
	fd = stop_claim_take(pids[1], &pids[1], 1, &e);
	stop_claim_drop(pids[1], fd);
	CHECK_INT(freeze_claim_sweep(), ==, 0);
	sleep_ms(20);
	CHECK_INT(state_of(pids[1]), ==, 'T');
	for (int i = 0; i < 2; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
}

/*
 * A stop claim held: the sweep leaves it. Let go of (its helper died): the
 * sweep continues the claim's processes that are still stopped and started
 * since it was made (or have the start times settled into it), and no other.
 */
static void test_stop_claims(void)
{
	pid_t before = stopped_child();
	pid_t pids[2];
	struct herr e = { 0 };
	const char *since, *text;
	int fd;

	sleep_ms(30);	/* "before" starts at least a tick before the claim */
	test_case("a stop claim: its file names when it was made and the processes");
	pids[0] = before;
	pids[1] = 0;
	fd = stop_claim_take(before, pids, 1, &e);
	CHECK_INT(fd, >=, 0);
	CHECK_CONTAINS(claim_text(before), "stopped\nsince ");
	CHECK_CONTAINS(claim_text(before), arena_printf("\n%d\n", before));
	test_case("held: the sweep leaves it");
	CHECK_INT(freeze_claim_sweep(), ==, 0);
	test_case("let go of: a stopped process that started before the claim is not the claim's: left stopped");
	close(fd);
	CHECK_INT(freeze_claim_sweep(), ==, 1);
	CHECK_INT(state_of(before), ==, 'T');

	test_case("a claim's processes made after it (as CRIU makes them), let go of: continued");
	fd = stop_claim_take(4242, pids, 0, &e);	/* its "since": now */
	since = claim_text(4242);
	close(fd);
	sleep_ms(20);
	pids[0] = stopped_child();
	pids[1] = stopped_child();
	/* the claim as a helper that knew the pids beforehand (the checkpoint's) wrote it, then died */
	text = arena_printf("%s%d\n%d\n", since, pids[0], pids[1]);
	CHECK_INT(write_file_at(AT_FDCWD, arena_printf("%s/frozen/%d.stopped", dir, pids[0]), text, strlen(text)), ==, 0);
	CHECK_INT(freeze_claim_sweep(), ==, 2);
	CHECK_INT(state_of(pids[0]), !=, 'T');
	CHECK_INT(state_of(pids[1]), !=, 'T');

	test_settled(pids);
	kill(before, SIGKILL);
	waitpid(before, NULL, 0);
}

/*
 * Processes a freeze let go of stopped (for a debugger): claimed for the
 * helper's life, each new one added; once the helper is gone, the sweep
 * continues those still stopped.
 */
static void test_released(void)
{
	pid_t a = stopped_child(), b = stopped_child();
	const char *path = arena_printf("%s/frozen/released-%d", dir, getpid());
	struct herr e = { 0 };
	char *text = NULL;

	test_case("released stopped: claimed with their start times, a later one added");
	CHECK_OK(released_claim_add(&a, 1, &e), &e);
	CHECK_OK(released_claim_add(&b, 1, &e), &e);
	CHECK_OK(released_claim_add(&a, 1, &e), &e);
	CHECK_INT(read_file(path, &text, NULL, 4096), ==, 0);
	CHECK_CONTAINS(text, arena_printf("stopped\nsince "));
	CHECK_CONTAINS(text, arena_printf("\n%d ", a));
	CHECK_CONTAINS(text, arena_printf("\n%d ", b));
	free(text);
	test_case("the helper alive: the sweep leaves them stopped");
	CHECK_INT(freeze_claim_sweep(), ==, 0);
	CHECK_INT(state_of(a), ==, 'T');
	test_case("the helper gone: continued, the claim removed");
	released_claim_forget();
	CHECK_INT(freeze_claim_sweep(), ==, 1);
	CHECK_INT(state_of(a), !=, 'T');
	CHECK_INT(state_of(b), !=, 'T');
	CHECK_INT(access(path, F_OK), ==, -1);
	kill(a, SIGKILL);
	kill(b, SIGKILL);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
}

static const struct claim_case {
	const char *what, *text;
	int ret, kind, layout;
	const char *cgroup;
	uint64_t since;
	size_t nprocs;
	struct claim_proc procs[2];
} claim_cases[] = {
	{ "a freeze claim as written", "2\n/sys/fs/cgroup/u/" FREEZE_PREFIX "1\n", 0, CLAIM_FREEZE, 2,
	  "/sys/fs/cgroup/u/" FREEZE_PREFIX "1", 0, 0, { { 0 } } },
	{ "a freeze claim cut after its cgroup's newline", "1\n/sys/x", 0, CLAIM_FREEZE, 1, "/sys/x", 0, 0, { { 0 } } },
	{ "a freeze claim's cgroup is its second line alone", "2\n/a\n/b\n", 0, CLAIM_FREEZE, 2, "/a", 0, 0, { { 0 } } },
	{ "a freeze claim with no cgroup", "2\n", 0, CLAIM_FREEZE, 2, "", 0, 0, { { 0 } } },
	{ "a layout alone, no newline", "2", -1, 0, 0, NULL, 0, 0, { { 0 } } },
	{ "a layout that is no number", "x\n/a\n", -1, 0, 0, NULL, 0, 0, { { 0 } } },
	{ "a layout past an int", "99999999999\n/a\n", -1, 0, 0, NULL, 0, 0, { { 0 } } },
	{ "empty", "", -1, 0, 0, NULL, 0, 0, { { 0 } } },
	{ "bytes that are no text", "\x80\x01\xff", -1, 0, 0, NULL, 0, 0, { { 0 } } },
	{ "\"stopped\" without its newline is no stop claim", "stopped", -1, 0, 0, NULL, 0, 0, { { 0 } } },
	{ "a stop claim as written, one process settled", "stopped\nsince 100\n12\n13 4567\n", 0, CLAIM_STOP, 0, NULL,
	  100, 2, { { 12, false, 0 }, { 13, true, 4567 } } },
	{ "a stop claim's empty lines skipped, blanks after a pid", "stopped\n\nsince 5\n\n7   \n", 0, CLAIM_STOP, 0, NULL,
	  5, 1, { { 7, false, 0 } } },
	{ "a stop claim cut short", "stopped\nsince 9\n12 45", 0, CLAIM_STOP, 0, NULL, 9, 1, { { 12, true, 45 } } },
	{ "a stop claim without its since line: no process", "stopped\n12\n", 0, CLAIM_STOP, 0, NULL, 0, 0, { { 0 } } },
	{ "a stop claim's header alone", "stopped\n", 0, CLAIM_STOP, 0, NULL, 0, 0, { { 0 } } },
	{ "lines that name no process passed over (cut to 32 bits, 2^32 + 2 would be 2)",
	  "stopped\nsince 1\nx\n0\n-5\n4294967298\n 8\n", 0, CLAIM_STOP, 0, NULL, 1, 1, { { 8, false, 0 } } },
	{ "the largest pid and start time", "stopped\nsince 18446744073709551615\n2147483647 18446744073709551615\n"
	  "2147483648\n", 0, CLAIM_STOP, 0, NULL, UINT64_MAX, 1, { { INT32_MAX, true, UINT64_MAX } } },
};

static void check_claim(const struct claim_case *k)
{
	struct claim c;
	int ret;

	test_case("parse: %s", k->what);
	errno = 0;
	ret = claim_parse(k->text, &c);
	CHECK_INT(ret, ==, k->ret);
	if (ret)
		CHECK_INT(errno, ==, EINVAL);
	else
		CHECK_INT(c.kind, ==, k->kind);
	if (ret == 0 && k->kind == CLAIM_FREEZE) {
		CHECK_INT(c.layout, ==, k->layout);
		CHECK_STR(c.cgroup, ==, k->cgroup);
	}
	if (ret == 0 && k->kind == CLAIM_STOP) {
		CHECK_UINT(c.since, ==, k->since);
		CHECK_UINT(c.nprocs, ==, k->nprocs);
		for (size_t i = 0; i < c.nprocs && i < k->nprocs; i++) {
			CHECK_INT(c.procs[i].pid, ==, k->procs[i].pid);
			CHECK_INT(c.procs[i].has_start, ==, k->procs[i].has_start);
			CHECK_UINT(c.procs[i].start, ==, k->procs[i].start);
		}
	}
	claim_free(&c);
}

/* Claims' text as the sweep reads it, apart from what it does with them. */
static void test_parse(void)
{
	struct sbuf many = { 0 };
	struct claim c;

	for (size_t i = 0; i < ARRAY_SIZE(claim_cases); i++)
		check_claim(&claim_cases[i]);
	test_case("parse: more processes than a claim the sweep reads can hold: bounded");
	sbuf_printf(&many, "stopped\nsince 1\n");
	for (size_t i = 0; i < CLAIM_MAX_PROCS + 10; i++)
		sbuf_puts(&many, "2\n");
	CHECK_INT(claim_parse(sbuf_text(&many), &c), ==, 0);
	CHECK_UINT(c.nprocs, ==, CLAIM_MAX_PROCS);
	CHECK_INT(c.procs[CLAIM_MAX_PROCS - 1].pid, ==, 2);
	claim_free(&c);
	sbuf_free(&many);
}

/* Unheld files the sweep reads that are no claim of ours to act on. */
static void test_sweep_not_claims(void)
{
	const char *junk;

	test_case("a claim let go of that names no freeze cgroup of ours: nothing touched, the file goes");
	CHECK_INT(write_file_at(AT_FDCWD, arena_printf("%s/frozen/77", dir), "2\n/etc/passwd\n", 13), ==, 0);
	CHECK_INT(freeze_claim_sweep(), ==, 0);
	CHECK_INT(access(arena_printf("%s/frozen/77", dir), F_OK), ==, -1);
	CHECK_INT(access("/etc/passwd", F_OK), ==, 0);
	test_case("a file let go of that is no claim: left as it is");
	junk = "x\n/sys/fs/cgroup/" FREEZE_PREFIX "78\n";
	CHECK_INT(write_file_at(AT_FDCWD, arena_printf("%s/frozen/78", dir), junk, strlen(junk)), ==, 0);
	CHECK_INT(freeze_claim_sweep(), ==, 0);
	CHECK_INT(access(arena_printf("%s/frozen/78", dir), F_OK), ==, 0);
	CHECK_INT(unlink(arena_printf("%s/frozen/78", dir)), ==, 0);
}

TEST_GROUP(freeze_claim)
{
	struct herr e = { 0 };
	char *text = NULL;
	int fd, again;

	test_parse();
	CHECK(mkdtemp(dir) != NULL);
	freeze_claim_dir_set(arena_printf("%s/frozen", dir));
	test_case("a claim: its file names the layout and the cgroup, made with its directory");
	fd = freeze_claim_take(4242, CGL(V2), "/sys/fs/cgroup/user/" FREEZE_PREFIX "4242", &e);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(read_file(arena_printf("%s/frozen/4242", dir), &text, NULL, 4096), ==, 0);
	CHECK_STR(text, ==, arena_printf("%d\n/sys/fs/cgroup/user/" FREEZE_PREFIX "4242\n", CGL(V2)));
	free(text);

	test_case("held: another claim of the tree refused, the sweep leaves it");
	again = freeze_claim_take(4242, CGL(V2), "/sys/fs/cgroup/x/" FREEZE_PREFIX "4242", &e);
	CHECK_INT(again, ==, -1);
	CHECK_INT(e.code, ==, EC(BUSY));
	CHECK_CONTAINS(e.msg, "the tree of process 4242 is frozen by another helper");
	CHECK_INT(freeze_claim_sweep(), ==, 0);
	CHECK_INT(access(arena_printf("%s/frozen/4242", dir), F_OK), ==, 0);
	CHECK(freeze_claim_held(4242));
	CHECK(!freeze_claim_held(4243));

	test_case("dropped: gone");
	freeze_claim_drop(4242, fd);
	CHECK_INT(access(arena_printf("%s/frozen/4242", dir), F_OK), ==, -1);
	CHECK(!freeze_claim_held(4242));

	test_sweep_not_claims();
	test_stop_claims();
	test_released();

	test_case("no claim directory: nothing to sweep");
	freeze_claim_dir_set(arena_printf("%s/none", dir));
	CHECK_INT(freeze_claim_sweep(), ==, 0);
	freeze_claim_dir_set(FREEZE_CLAIM_DIR);
	CHECK_INT(remove_tree(dir), ==, 0);
	arena_free_all();
}
