/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_scan.c, the base of the leak detectors: the host read once
 * (on a real tree), the predicates of who counts as outside, the leak list
 * and its holders (on a made-up host), namespaces entered for a moment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "arena.h"
#include "leak_scan.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* ---- the leak list ------------------------------------------------------------- */

static void test_leak_get(void)
{
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;
	char resource[] = "pipe:[7]";
	struct leak *a, *b;

	test_case("leak_get");
	fake_host(&s, procs);
	a = leak_get(&s, LK(PIPE), resource);
	resource[6] = '8';			/* copied: the leak keeps its own */
	CHECK_STR(a->resource, ==, "pipe:[7]");
	CHECK_INT(a->kind, ==, LK(PIPE));
	CHECK_INT(a->default_policy, ==, LP(WARN));
	CHECK_STR(a->summary, ==, "");
	CHECK_STR(a->risk, ==, "");
	CHECK_STR(a->criu, ==, "");
	CHECK_UINT(a->nchoices, ==, 0);
	CHECK(leak_get(&s, LK(PIPE), "pipe:[7]") == a);
	CHECK_UINT(s.nleaks, ==, 1);
	CHECK(leak_find(&s, LK(PIPE), "pipe:[7]") == a);
	CHECK(leak_find(&s, LK(FIFO), "pipe:[7]") == NULL);
	CHECK(leak_find(&s, LK(PIPE), "pipe:[8]") == NULL);
	b = leak_get(&s, LK(FIFO), "pipe:[7]");	/* another kind: another leak */
	CHECK(b != a);
	CHECK_UINT(s.nleaks, ==, 2);
	fake_free(&s);
}

static void test_leak_hold(void)
{
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;
	char how[] = "fd 3";
	struct leak_holder fd3 = { .pid = 99, .how = how, .has_fd = true, .fd = 3, .writable = true };
	struct leak_holder member = { .how = NULL };
	struct leak *a;

	test_case("leak_hold");
	fake_host(&s, procs);
	a = leak_get(&s, LK(PIPE), "pipe:[7]");
	leak_hold(&s, a, 10, &fd3);
	leak_hold(&s, a, 10, &fd3);		/* the same fd twice: once */
	leak_hold(&s, a, 20, &fd3);
	leak_hold(&s, a, 30, &fd3);		/* excluded */
	leak_hold(&s, a, 99, &fd3);		/* unknown */
	how[3] = '9';				/* copied */
	CHECK_UINT(a->ninside, ==, 1);
	CHECK_INT(a->inside[0].pid, ==, 10);	/* h->pid is not the holder's */
	CHECK(a->inside[0].writable);
	CHECK_INT(a->inside[0].fd, ==, 3);
	CHECK_UINT(a->noutside, ==, 1);
	CHECK_INT(a->outside[0].pid, ==, 20);
	CHECK_STR(a->outside[0].how, ==, "fd 3");
	/* without an fd: once, beside the one with; a NULL how is "" */
	leak_hold(&s, a, 20, &member);
	leak_hold(&s, a, 20, &member);
	CHECK_UINT(a->noutside, ==, 2);
	CHECK_STR(a->outside[1].how, ==, "");
	CHECK(!a->outside[1].has_fd);
	for (int fd = 4; fd < 40; fd++) {
		struct leak_holder h = { .how = "fd", .has_fd = true, .fd = fd };

		leak_hold(&s, a, 20, &h);
	}
	CHECK_UINT(a->noutside, ==, 38);	/* leak_hold lists them all */
	CHECK_UINT(a->outside_unlisted, ==, 0);
	CHECK_UINT(leak_outside_procs(a), ==, 1);
	leak_hold(&s, a, 1, &member);
	CHECK_UINT(leak_outside_procs(a), ==, 2);
	CHECK_UINT(leak_outside_total(a), ==, 39);
	fake_free(&s);
}

/* Past MAX_LEAK_HOLDERS outside holders are counted, not listed. */
static void test_hold_counted(void)
{
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;
	struct leak *lk;

	test_case("leak_hold_counted");
	fake_host(&s, procs);
	lk = leak_get(&s, LK(NET_NS), "net:[1]");
	hold_many(&s, lk, 20, MAX_LEAK_HOLDERS + 4, "fd");
	CHECK_UINT(lk->noutside, ==, MAX_LEAK_HOLDERS);
	CHECK_UINT(lk->outside_unlisted, ==, 4);
	CHECK_UINT(leak_outside_total(lk), ==, MAX_LEAK_HOLDERS + 4);
	CHECK_UINT(leak_outside_procs(lk), ==, 1);
	CHECK_INT(lk->outside[MAX_LEAK_HOLDERS - 1].fd, ==, MAX_LEAK_HOLDERS - 1);
	fake_free(&s);
}

static void test_choices(void)
{
	static const int policies[] = { LP(FAIL), LP(WARN), LP(IGNORE), LP(EXTERNAL), LP(SAVE) };
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;
	struct leak *a, *w;

	test_case("leak_choice");
	fake_host(&s, procs);
	a = leak_get(&s, LK(PIPE), "pipe:[7]");
	leak_choice(a, LP(FAIL), "", "refuse");
	leak_choice(a, LP(FAIL), "--again", "again");	/* once per policy: the first stays */
	leak_choice(a, LP(EXTERNAL), "--inherit-fd", "same pipe");
	leak_choice(a, LP(WARN), NULL, NULL);
	CHECK_UINT(a->nchoices, ==, 3);
	CHECK_STR(a->choices[0].effect, ==, "refuse");
	CHECK_STR(a->choices[0].criu_option, ==, "");
	CHECK_STR(a->choices[1].criu_option, ==, "--inherit-fd");
	CHECK_STR(a->choices[2].criu_option, ==, "");
	CHECK_STR(a->choices[2].effect, ==, "");

	test_case("leak_choice: at most MAX_LEAK_CHOICES");
	a = leak_get(&s, LK(FIFO), "/tmp/f");
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++)
		leak_choice(a, policies[i], "", "");
	leak_choice(a, LEAK_POLICY_MAX + 1, "", "one too many");
	CHECK_UINT(a->nchoices, ==, MAX_LEAK_CHOICES);
	CHECK_INT(a->choices[MAX_LEAK_CHOICES - 1].policy, ==, LP(SAVE));

	test_case("leak_warn_choices");
	w = leak_get(&s, LK(UDP), "udp 127.0.0.1:9");
	leak_warn_choices(w);
	CHECK_UINT(w->nchoices, ==, 3);
	CHECK_INT(w->choices[0].policy, ==, LP(WARN));
	CHECK_INT(w->choices[1].policy, ==, LP(IGNORE));
	CHECK_INT(w->choices[2].policy, ==, LP(FAIL));
	CHECK_CONTAINS(w->choices[1].effect, "not flagged");
	fake_free(&s);
}

/* ---- who is outside ----------------------------------------------------------------- */

static void test_predicates(void)
{
	static const struct {
		const char *name;
		struct host_proc p;
		bool hollow, outsider;
	} cases[] = {
		{ "a running outside process", { .pid = 20, .ppid = 1, .state = 'S' }, false, true },
		{ "init", { .pid = 1, .ppid = 0, .state = 'S' }, false, true },
		{ "a zombie", { .pid = 21, .ppid = 1, .state = 'Z' }, true, false },
		{ "a dead task", { .pid = 22, .ppid = 1, .state = 'X' }, true, false },
		{ "kthreadd", { .pid = 2, .ppid = 0, .state = 'S' }, true, false },
		{ "a kernel thread", { .pid = 23, .ppid = 2, .state = 'I' }, true, false },
		{ "a tree process", { .pid = 10, .ppid = 1, .state = 'R', .in_tree = true }, false, false },
		{ "a zombie of the tree", { .pid = 11, .ppid = 10, .state = 'Z', .in_tree = true }, true, false },
		{ "the helper", { .pid = 30, .ppid = 1, .state = 'R', .excluded = true }, false, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("%s (pid %d, state %c)", cases[i].name, cases[i].p.pid, cases[i].p.state);
		CHECK_INT(host_proc_hollow(&cases[i].p), ==, cases[i].hollow);
		CHECK_INT(host_proc_outsider(&cases[i].p), ==, cases[i].outsider);
	}
}

static void test_find_and_ns_outsiders(void)
{
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;

	test_case("host_find, host_in_tree");
	fake_host(&s, procs);
	CHECK(host_in_tree(&s, 10));
	CHECK(host_in_tree(&s, 11));
	CHECK(!host_in_tree(&s, 20));
	CHECK(!host_in_tree(&s, 5));		/* unknown */
	CHECK(host_find(&s, 5) == NULL);
	CHECK(host_find(&s, 30) == &procs[4]);
	CHECK(procs[4].excluded);
	CHECK(host_find(&s, 1) == &procs[0]);

	test_case("host_ns_outsiders");
	for (size_t i = 0; i < FAKE_PROCS; i++)
		procs[i].ns[NS_UTS] = procs[i].pid == 11 ? 200 : 100;
	CHECK_UINT(host_ns_outsiders(&s, NS_UTS, 100), ==, 2);	/* 1 and 20: not 10 (tree), not 30 (the helper) */
	CHECK_UINT(host_ns_outsiders(&s, NS_UTS, 200), ==, 0);	/* the tree's alone */
	CHECK_UINT(host_ns_outsiders(&s, NS_NET, 100), ==, 0);	/* another kind */
	procs[3].state = 'Z';
	CHECK_UINT(host_ns_outsiders(&s, NS_UTS, 100), ==, 1);	/* a zombie holds nothing */
	fake_free(&s);
}

/* ---- the host, read ----------------------------------------------------------------- */

static int call_criu(void *arg)
{
	(void)arg;
	return prctl(PR_SET_NAME, "criu-child");	/* as the CRIU the helper runs */
}

/* Whether pid was found, and excluded. */
static void check_excluded(const struct host_scan *s, const char *who, pid_t pid, bool excluded)
{
	const struct host_proc *p = host_find(s, pid);

	test_case("host_read: %s (pid %d)", who, pid);
	CHECK(p != NULL);
	if (p)
		CHECK_INT(p->excluded, ==, excluded);
}

/* The processes are sorted by pid, each once. */
static void check_sorted(const struct host_scan *s)
{
	size_t unsorted = 0, first = 0;

	for (size_t i = 1; i < s->nprocs; i++)
		if (s->procs[i].pid <= s->procs[i - 1].pid && !unsorted++)
			first = i;
	if (unsorted)
		test_case("host_read: sorted by pid (procs[%zu], pid %d, after pid %d)", first, s->procs[first].pid,
			  s->procs[first - 1].pid);
	else
		test_case("host_read: sorted by pid");
	CHECK_UINT(unsorted, ==, 0);
}

static void check_read_host(const struct host_scan *s, pid_t root, pid_t child, pid_t outside, pid_t criu)
{
	const struct host_proc *r = host_find(s, root), *self = host_find(s, getpid());

	test_case("host_read: the scan of %d", root);
	CHECK_INT(s->root, ==, root);
	CHECK_INT(s->self, ==, getpid());
	CHECK_UINT(s->tree_procs, ==, 2);
	CHECK_UINT(s->nprocs, >, 4);
	check_sorted(s);
	test_case("host_read: the tree of %d", root);
	CHECK(host_in_tree(s, root));
	CHECK(host_in_tree(s, child));
	CHECK(!host_in_tree(s, outside));
	CHECK(!host_in_tree(s, getpid()));
	if (s->init)				/* NULL when pid 1 cannot be read */
		CHECK_INT(s->init->pid, ==, 1);
	check_excluded(s, "the helper", getpid(), true);
	check_excluded(s, "the helper's child named criu", criu, true);
	check_excluded(s, "a tree process named criu", child, false);
	check_excluded(s, "an outside process", outside, false);
	test_case("host_read: the root %d", root);
	CHECK(r != NULL);
	if (!r || !self)
		return;
	CHECK_INT(r->ppid, ==, getpid());
	CHECK_INT(r->sid, ==, root);		/* a session of its own */
	CHECK_INT(r->pgid, ==, root);
	CHECK_STR(r->comm, ==, self->comm);	/* forked, not exec'ed */
	CHECK_INT(r->tracer, ==, 0);
	CHECK_UINT(r->vsize, >, 0);
	CHECK_UINT(r->ns[NS_UTS], ==, ns_inode(root, "uts"));
	CHECK_UINT(r->ns[NS_NET], ==, ns_inode(root, "net"));
}

/* A tree of two: the root, and its child named as CRIU is. */
static void tree_of_two(void *arg, int report)
{
	pid_t pid = fork();

	(void)arg;
	if (pid == 0) {
		prctl(PR_SET_NAME, "criu");
		for (;;)
			pause();
	}
	report_int(report, pid);
}

static void test_host_read(void)
{
	pid_t root, outside, criu;
	struct host_scan s;
	struct herr e = { 0 };
	int64_t child;

	test_case("host_read");
	root = spawn_value(tree_of_two, NULL, NEW_SESSION, &child);
	outside = spawn_call(NULL, NULL, NULL);
	criu = spawn_call(call_criu, NULL, NULL);
	CHECK_INT(root, >, 0);
	CHECK_INT(child, >, 0);
	CHECK_INT(outside, >, 0);
	CHECK_INT(criu, >, 0);
	if (root > 0 && child > 0 && outside > 0 && criu > 0 && HOST_READ_OK(root, &s, false)) {
		check_read_host(&s, root, child, outside, criu);
		host_scan_release(&s);
		CHECK(s.procs == NULL);
		CHECK_UINT(s.nprocs, ==, 0);
	}
	/* a program the helper launched, whatever its name, is the tree's own when it is dumped */
	if (criu > 0 && HOST_READ_OK(criu, &s, false)) {
		test_case("host_read: the tree of a child of the helper named criu");
		check_excluded(&s, "its root", criu, false);
		CHECK(host_in_tree(&s, criu));
		host_scan_release(&s);
	}
	reap_grandchild(child);
	reap(root);
	reap(criu);
	test_case("host_read: a root that is gone");
	CHECK_OK(host_read(outside, &s, &e), &e);
	host_scan_release(&s);
	reap(outside);
	CHECK_INT(host_read(outside, &s, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NO_SUCH_PROCESS));
	CHECK_CONTAINS(e.msg, arena_printf("process %d does not exist", outside));
	host_scan_release(&s);
}

/* ---- namespaces, entered for a moment ------------------------------------------------- */

static int new_uts(void *arg)
{
	if (unshare(CLONE_NEWUTS))
		return -1;
	return sethostname(arg, strlen(arg));
}

static void test_ns_enter(void)
{
	uint64_t own = ns_inode(getpid(), "uts"), theirs;
	pid_t pid = spawn_call(new_uts, "ckpt-leak-scan", NULL);
	char name[64] = "";
	int self;

	test_case("ns_enter, ns_leave");
	CHECK_INT(pid, >, 0);
	if (pid <= 0)
		return;
	theirs = ns_inode(pid, "uts");
	CHECK_UINT(theirs, !=, own);
	self = ns_enter(pid, "uts", CLONE_NEWUTS, theirs);
	CHECK_INT(self, >=, 0);
	if (self >= 0) {
		CHECK_UINT(ns_inode(getpid(), "uts"), ==, theirs);
		CHECK_INT(gethostname(name, sizeof(name)), ==, 0);
		CHECK_STR(name, ==, "ckpt-leak-scan");
		CHECK_INT(ns_leave(self, CLONE_NEWUTS), ==, 0);
	}
	CHECK_UINT(ns_inode(getpid(), "uts"), ==, own);

	test_case("ns_enter: not the namespace it was");
	errno = 0;
	CHECK_INT(ns_enter(pid, "uts", CLONE_NEWUTS, own), ==, -1);
	CHECK_UINT(ns_inode(getpid(), "uts"), ==, own);
	test_case("ns_enter: no such namespace");
	CHECK_INT(ns_enter(pid, "nope", CLONE_NEWUTS, 0), ==, -1);
	CHECK_INT(errno, ==, ENOENT);
	reap(pid);
	test_case("ns_enter: a process that is gone");
	CHECK_INT(ns_enter(pid, "uts", CLONE_NEWUTS, 0), ==, -1);
	CHECK_INT(errno, ==, ENOENT);
	CHECK_UINT(ns_inode(getpid(), "uts"), ==, own);
}

TEST_GROUP(leak_scan)
{
	test_leak_get();
	test_leak_hold();
	test_hold_counted();
	test_choices();
	test_predicates();
	test_find_and_ns_outsiders();
	test_host_read();
	test_ns_enter();
	arena_free_all();
}
