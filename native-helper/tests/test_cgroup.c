/* SPDX-License-Identifier: MIT */
/*
 * Tests of cgroup.c: the host's cgroup mounts, and real trees frozen,
 * thawed and let go of. A task frozen by the v2 freezer reads as sleeping
 * ('S') in /proc (it waits in the signal code's freezer trap), so a frozen
 * tree is told by what it does: a grandchild that writes all the time
 * stops writing, and writes again once thawed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "arena.h"
#include "cgroup.h"
#include "freeze_claim.h"
#include "fileio.h"
#include "lists.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"
#include "service.h"


static void test_layout(void)
{
	char v2[4096] = "", v1[4096] = "";
	bool have_v2 = cgroup_v2_mount(v2, sizeof(v2)) == 0;
	bool have_v1 = cgroup_v1_freezer_mount(v1, sizeof(v1)) == 0;
	struct statfs sf;
	int layout = cgroup_layout();

	test_case("the host's layout: %d (v2 at \"%s\", v1 freezer at \"%s\")", layout, v2, v1);
	CHECK(have_v2 || have_v1);
	if (have_v2) {
		CHECK_INT(statfs(v2, &sf), ==, 0);
		CHECK_INT(sf.f_type, ==, CGROUP2_SUPER_MAGIC);
	}
	if (have_v1) {
		CHECK_INT(statfs(v1, &sf), ==, 0);
		CHECK_INT(sf.f_type, ==, CGROUP_SUPER_MAGIC);
		CHECK_INT(access(arena_printf("%s/freezer.state", v1), F_OK), ==, -1);	/* the root cgroup has none */
	}
	CHECK_INT(statfs("/sys/fs/cgroup", &sf), ==, 0);
	if (sf.f_type == CGROUP2_SUPER_MAGIC)
		CHECK_INT(layout, ==, CGL(V2));
	else if (have_v2)
		CHECK_INT(layout, ==, CGL(HYBRID));
	else
		CHECK_INT(layout, ==, CGL(V1));
	arena_free_all();
}

/* A grandchild that writes to the report pipe every millisecond. */
static void write_on(void *arg, int report)
{
	(void)arg;
	if (fork() == 0)
		for (int64_t i = 0;; i++) {
			report_int(report, i);
			usleep(1000);
		}
}

struct writer {
	pid_t root, grandchild;
	int report;		/* non-blocking */
};

static bool writer_start(struct writer *w)
{
	struct pidlist tree = { 0 };
	struct herr e = { 0 };
	uint64_t deadline = now_us() + 5 * 1000000ull;

	w->root = spawn(write_on, NULL, NEW_GROUP, &w->report);
	w->grandchild = -1;
	if (w->root < 0)
		return false;
	fcntl(w->report, F_SETFL, O_NONBLOCK);
	while (!proc_tree(w->root, &tree, &e) && tree.n < 2 && now_us() < deadline)
		sleep_ms(1);
	if (tree.n == 2)
		w->grandchild = tree.v[1];
	pidlist_free(&tree);
	return w->grandchild > 0;
}

static void writer_end(struct writer *w)
{
	end_all(&w->root, 1);
	close(w->report);
}

/* Bytes the writer wrote in ms milliseconds, what it wrote before dropped. */
static size_t written_in(const struct writer *w, unsigned ms)
{
	char buf[4096];
	size_t n = 0;
	ssize_t r;

	while (read(w->report, buf, sizeof(buf)) > 0)
		;
	sleep_ms(ms);
	while ((r = read(w->report, buf, sizeof(buf))) > 0)
		n += r;
	return n;
}

/* pid is in cgroup rel (of the hierarchy of t) as /proc/PID/cgroup says. */
static bool in_cgroup(pid_t pid, const char *rel)
{
	char *buf = NULL;
	bool in;

	if (read_file(arena_printf("/proc/%d/cgroup", pid), &buf, NULL, 1 << 20))
		return false;
	in = strstr(buf, arena_printf(":%s\n", rel)) != NULL;
	free(buf);
	return in;
}

/* What the kernel says of the freeze cgroup of t: frozen, or not. */
static bool kernel_says_frozen(const struct frozen_tree *t)
{
	char *buf = NULL;
	bool frozen;
	const char *file = t->layout == CGL(V2) ? "cgroup.events" : "freezer.state";

	if (read_file(arena_printf("%s/%s", t->cgroup, file), &buf, NULL, 1 << 16))
		return false;
	frozen = strstr(buf, t->layout == CGL(V2) ? "frozen 1" : "FROZEN") != NULL;
	free(buf);
	return frozen;
}

/* The tree of w frozen in t: both processes in t's cgroup, silent, the kernel says so. */
static void check_frozen(const struct writer *w, const struct frozen_tree *t)
{
	const char *rel = t->cgroup + strlen(t->mount);
	struct proc_stat st;

	CHECK_INT(t->root, ==, w->root);
	CHECK_UINT(t->pids.n, ==, 2);
	CHECK(pidlist_has(&t->pids, w->root));
	CHECK(pidlist_has(&t->pids, w->grandchild));
	CHECK(t->layout == CGL(V2) || t->layout == CGL(V1));
	CHECK_CONTAINS(t->cgroup, t->mount);
	CHECK_CONTAINS(t->cgroup, arena_printf("/checkpoint-freeze-%d", w->root));
	CHECK(in_cgroup(w->root, rel));
	CHECK(in_cgroup(w->grandchild, rel));
	CHECK(kernel_says_frozen(t));
	CHECK_UINT(written_in(w, 50), ==, 0);
	if (t->layout == CGL(V1)) {	/* the v1 freezer's tasks sleep uninterruptibly */
		CHECK_INT(read_proc_stat(w->grandchild, &st), ==, 0);
		CHECK_INT(st.state, ==, 'D');
	}
}

static void check_running(const struct writer *w)
{
	CHECK_UINT(written_in(w, 50), >, 0);
}

static void test_freeze_thaw(void)
{
	struct frozen_tree *t = NULL, *again = NULL;
	struct writer w;
	struct herr e = { 0 };
	char cgroup[4096] = "", orig[4096] = "";

	CHECK(writer_start(&w));
	test_case("running");
	check_running(&w);
	test_case("frozen");
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e), &e);
	if (!t)
		goto out;
	snprintf(cgroup, sizeof(cgroup), "%s", t->cgroup);
	snprintf(orig, sizeof(orig), "%s", t->orig[0]);
	check_frozen(&w, t);
	CHECK(frozen_find(w.root) == t);
	CHECK(frozen_find_member(w.grandchild) == t);
	CHECK(frozen_find(w.grandchild) == NULL);
	CHECK(frozen_find_member(getpid()) == NULL);
	test_case("frozen again: the same tree");
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ 0 }, &again, &e), &e);
	CHECK(again == t);
	test_case("thawed");
	CHECK_OK(thaw_tree(t, &e), &e);
	CHECK(!kernel_says_frozen(t));
	check_running(&w);
	CHECK(frozen_find(w.root) == t);	/* still this helper's until it lets go */
	test_case("let go of");
	CHECK_OK(frozen_release(t, true, &e), &e);
	CHECK(frozen_find(w.root) == NULL);
	CHECK(frozen_find_member(w.grandchild) == NULL);
	CHECK_INT(access(cgroup, F_OK), ==, -1);
	CHECK(in_cgroup(w.root, orig));
	CHECK(in_cgroup(w.grandchild, orig));
	check_running(&w);
out:
	writer_end(&w);
	arena_free_all();
}

/*
 * A process left out of the freeze (one a debugger holds) goes on while the
 * rest is frozen; frozen again without the exception it is taken in, and
 * with it again it is let go.
 */
static void test_freeze_except(void)
{
	struct frozen_tree *t = NULL;
	struct writer w;
	struct herr e = { 0 };

	test_case("the writing grandchild left out");
	CHECK(writer_start(&w));
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ .except = &w.grandchild, .nexcept = 1 }, &t, &e), &e);
	if (!t)
		goto out;
	CHECK_UINT(t->pids.n, ==, 1);
	CHECK(pidlist_has(&t->pids, w.root));
	CHECK(frozen_find_member(w.grandchild) == NULL);
	CHECK(kernel_says_frozen(t));
	check_running(&w);
	test_case("frozen again without the exception: taken in");
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e), &e);
	CHECK(frozen_find_member(w.grandchild) == t);
	CHECK_UINT(written_in(&w, 50), ==, 0);
	test_case("and with it again: let go");
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ .except = &w.grandchild, .nexcept = 1 }, &t, &e), &e);
	CHECK(frozen_find_member(w.grandchild) == NULL);
	CHECK_UINT(t->pids.n, ==, 1);
	check_running(&w);
	CHECK_OK(frozen_release(t, true, &e), &e);
out:
	writer_end(&w);
	arena_free_all();
}

/* Let go of without a thaw: the processes go back where they were, and the freeze cgroup goes. */
/* State letter of pid as /proc says, polled up to ms until it is want; the last one read. */
static char state_within(pid_t pid, char want, unsigned ms)
{
	uint64_t deadline = now_us() + ms * 1000ull;
	struct proc_stat st = { 0 };

	while (read_proc_stat(pid, &st) == 0 && st.state != want && now_us() < deadline)
		sleep_ms(1);
	return st.state;
}

/*
 * Let go of stopped (for a debugger's attach): the process leaves the
 * freeze in a job-control stop and runs none of its code until a SIGCONT;
 * one let go of already is not stopped again.
 */
static void test_let_go_stopped(void)
{
	struct freeze_how stopped = { .except = NULL, .nexcept = 1, .stop_released = true };
	char claims[] = "/tmp/ckpt-claims-XXXXXX";
	struct frozen_tree *t = NULL;
	struct writer w;
	struct herr e = { 0 };

	test_case("let go of stopped");
	CHECK(mkdtemp(claims) != NULL);
	freeze_claim_dir_set(claims);
	CHECK(writer_start(&w));
	stopped.except = &w.grandchild;
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e), &e);
	if (!t)
		goto out;
	CHECK_OK(freeze_tree(w.root, &stopped, &t, &e), &e);
	CHECK_UINT(t->stopped.n, ==, 1);
	CHECK(pidlist_has(&t->stopped, w.grandchild));
	CHECK(frozen_find_member(w.grandchild) == NULL);
	CHECK_INT(state_within(w.grandchild, 'T', 2000), ==, 'T');
	CHECK_UINT(written_in(&w, 50), ==, 0);
	test_case("asked again: not stopped twice");
	CHECK_OK(freeze_tree(w.root, &stopped, &t, &e), &e);
	CHECK_UINT(t->stopped.n, ==, 0);
	test_case("claimed stopped; the helper gone (its claim let go of), the sweep continues it: it runs");
	CHECK_INT(access(arena_printf("%s/released-%d", claims, getpid()), F_OK), ==, 0);
	released_claim_forget();
	CHECK_INT(freeze_claim_sweep(), ==, 1);
	check_running(&w);
	CHECK_OK(frozen_release(t, true, &e), &e);
out:
	writer_end(&w);
	freeze_claim_dir_set(FREEZE_CLAIM_DIR);
	CHECK_INT(remove_tree(claims), ==, 0);
	arena_free_all();
}

static void test_release_frozen(void)
{
	struct frozen_tree *t = NULL;
	struct writer w;
	struct herr e = { 0 };
	char cgroup[4096] = "", orig[4096] = "";

	test_case("let go of while frozen");
	CHECK(writer_start(&w));
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e), &e);
	if (t) {
		snprintf(cgroup, sizeof(cgroup), "%s", t->cgroup);
		snprintf(orig, sizeof(orig), "%s", t->orig[0]);
		CHECK_OK(frozen_release(t, false, &e), &e);
		CHECK(frozen_find(w.root) == NULL);
		CHECK_INT(access(cgroup, F_OK), ==, -1);
		CHECK(in_cgroup(w.root, orig));
		CHECK(in_cgroup(w.grandchild, orig));
	}
	writer_end(&w);
	arena_free_all();
}

/* Every frozen tree let go of at once (the helper's exit): thawed, their cgroups gone. */
static void test_release_all(void)
{
	struct writer w[2];
	struct frozen_tree *t[2] = { NULL, NULL };
	char cgroup[2][4096] = { "", "" };
	pid_t roots[2];
	struct herr e = { 0 };

	for (int i = 0; i < 2; i++) {
		CHECK(writer_start(&w[i]));
		roots[i] = w[i].root;
		CHECK_OK(freeze_tree(w[i].root, &(struct freeze_how){ .timeout_ms = 1000 }, &t[i], &e), &e);
		if (t[i])
			snprintf(cgroup[i], sizeof(cgroup[i]), "%s", t[i]->cgroup);
	}
	frozen_release_all();
	for (int i = 0; i < 2; i++) {
		test_case("tree %d of 2 after frozen_release_all", i + 1);
		CHECK(frozen_find(w[i].root) == NULL);
		CHECK_INT(access(cgroup[i], F_OK), ==, -1);
		check_running(&w[i]);
		close(w[i].report);
	}
	end_all(roots, 2);
}

static void test_refused(void)
{
	struct frozen_tree *t = NULL, gone = { .layout = CGL(V2) };
	struct herr e = { 0 };
	char v2[4096];

	test_case("a pid no process has");
	CHECK_INT(freeze_tree(NO_PID, &(struct freeze_how){ 0 }, &t, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NO_SUCH_PROCESS));
	CHECK_STR(e.msg, ==, "process 4194000 does not exist");
	CHECK(t == NULL);
	CHECK(frozen_find(NO_PID) == NULL);
	if (cgroup_v2_mount(v2, sizeof(v2)) == 0)
		CHECK_INT(access(arena_printf("%s/checkpoint-freeze-%d", v2, NO_PID), F_OK), ==, -1);
	test_case("a freeze cgroup that is gone: nothing to thaw");
	snprintf(gone.cgroup, sizeof(gone.cgroup), "/sys/fs/cgroup/no-such-cgroup-%d", getpid());
	CHECK_OK(thaw_tree(&gone, &e), &e);
	arena_free_all();
}

/*
 * A helper that dies holding a tree frozen (SIGKILL: no cleanup): the next
 * helper's sweep finds its claim let go of, thaws the tree and removes the
 * freeze cgroup; a claim another helper holds is left alone.
 */
static void test_orphan_swept(void)
{
	struct frozen_tree *t = NULL;
	struct writer w;
	struct herr e = { 0 };
	char claims[] = "/tmp/ckpt-claims-XXXXXX", *cgroup = NULL;
	pid_t helper;
	int status;

	CHECK(mkdtemp(claims) != NULL);
	freeze_claim_dir_set(claims);
	CHECK(writer_start(&w));
	test_case("a helper dies holding the tree frozen: it stays frozen");
	helper = fork();
	if (helper == 0)
		_exit(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e) ? 1 : 0);
	CHECK_INT(waitpid(helper, &status, 0), ==, helper);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_UINT(written_in(&w, 50), ==, 0);
	CHECK_INT(read_file(arena_printf("%s/%d", claims, w.root), &cgroup, NULL, 8192), ==, 0);
	test_case("the next helper's sweep thaws it and removes the freeze cgroup and the claim");
	CHECK_INT(freeze_claim_sweep(), ==, 1);
	check_running(&w);
	CHECK_INT(access(arena_printf("%s/%d", claims, w.root), F_OK), ==, -1);
	if (cgroup && strchr(cgroup, '\n')) {
		char *path = strchr(cgroup, '\n') + 1;

		path[strcspn(path, "\n")] = '\0';
		CHECK_INT(access(path, F_OK), ==, -1);
		CHECK(!in_cgroup(w.root, strrchr(path, '/')));
	}
	test_case("a helper with a watcher dies holding the tree frozen: the watcher thaws it at once");
	helper = fork();
	if (helper == 0)
		_exit(freeze_claim_watch() || freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e) ? 1 : 0);
	CHECK_INT(waitpid(helper, &status, 0), ==, helper);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 200 && written_in(&w, 10) == 0; i++)
		;
	check_running(&w);
	CHECK_INT(access(arena_printf("%s/%d", claims, w.root), F_OK), ==, -1);
	test_case("a tree this helper holds frozen: its claim is held, the sweep leaves it");
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e), &e);
	CHECK_INT(freeze_claim_sweep(), ==, 0);
	CHECK_UINT(written_in(&w, 50), ==, 0);
	if (t)
		CHECK_OK(frozen_release(t, true, &e), &e);
	free(cgroup);
	writer_end(&w);
	freeze_claim_dir_set(FREEZE_CLAIM_DIR);
	CHECK_INT(remove_tree(claims), ==, 0);
	arena_free_all();
}

/*
 * Two helpers freezing one tree at once: the one that claims second is told
 * BUSY and leaves the freeze cgroup alone, even before the first moved a
 * process in (removing it then made both fail).
 */
static void test_claimed_elsewhere(void)
{
	struct frozen_tree *t = NULL;
	struct writer w;
	struct herr e = { 0 };
	char claims[] = "/tmp/ckpt-claims-XXXXXX", cgroup[4096], byte;
	int layout, go[2], held[2];
	pid_t holder;

	CHECK(mkdtemp(claims) != NULL);
	freeze_claim_dir_set(claims);
	CHECK(writer_start(&w));
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e), &e);
	if (!t)
		return;
	layout = t->layout;
	snprintf(cgroup, sizeof(cgroup), "%s", t->cgroup);
	CHECK_OK(frozen_release(t, true, &e), &e);
	CHECK_INT(pipe(go), ==, 0);
	CHECK_INT(pipe(held), ==, 0);
	test_case("another helper claimed the tree and made its cgroup, nothing moved yet: BUSY, the cgroup kept");
	holder = fork();
	if (holder == 0) {
		char c;

		close(go[1]);
		if (mkdir(cgroup, 0755) || freeze_claim_take(w.root, layout, cgroup, &e) < 0)
			_exit(1);
		close(held[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(2);
		rmdir(cgroup);
		_exit(0);
	}
	close(held[1]);
	close(go[0]);
	CHECK_INT(read(held[0], &byte, 1), ==, 0);	/* the holder's end closed: claimed */
	CHECK_INT(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BUSY));
	CHECK_CONTAINS(e.msg, "is frozen by another helper");
	CHECK_INT(access(cgroup, F_OK), ==, 0);
	CHECK(frozen_find(w.root) == NULL);
	close(go[1]);
	close(held[0]);
	CHECK_INT(waitpid(holder, NULL, 0), ==, holder);
	test_case("the other helper gone: this one freezes it");
	CHECK_OK(freeze_tree(w.root, &(struct freeze_how){ 0 }, &t, &e), &e);
	CHECK_UINT(written_in(&w, 50), ==, 0);
	if (t)
		CHECK_OK(frozen_release(t, true, &e), &e);
	writer_end(&w);
	freeze_claim_dir_set(FREEZE_CLAIM_DIR);
	CHECK_INT(remove_tree(claims), ==, 0);
	arena_free_all();
}

TEST_GROUP(cgroup)
{
	test_layout();
	test_freeze_thaw();
	test_freeze_except();
	test_let_go_stopped();
	test_release_frozen();
	test_release_all();
	test_orphan_swept();
	test_claimed_elsewhere();
	test_refused();
	CHECK(no_children());
}
