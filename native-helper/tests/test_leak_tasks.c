/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_tasks.c: the namespaces of the tree and its relatives
 * outside (parent, session and group leaders, tracer), on real processes
 * (the tests run as root with a real /proc) scanned as the helper would.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "leak_scan.h"
#include "leak_tasks.h"
#include "leaks.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* The leak of kind with this resource, checked to be found (test_case names it). */
static struct leak *task_leak(struct host_scan *s, int kind, const char *resource)
{
	struct leak *lk = leak_find(s, kind, resource);

	test_case("%s", resource);
	CHECK(lk != NULL);
	return lk;
}

/* ---- namespaces ----------------------------------------------------------- */

static int new_uts(void *arg)
{
	(void)arg;
	return unshare(CLONE_NEWUTS);
}

static int join_uts(void *arg)
{
	return join_ns(*(pid_t *)arg, "uts", CLONE_NEWUTS);
}

/* The host's net namespace: every process's but kernel threads', counted and listed up to 16. */
static void check_host_net(struct host_scan *s, pid_t root)
{
	uint64_t net = ns_inode(root, "net");
	const struct host_proc *init = host_find(s, 1);
	bool host = !init || !init->ns[NS_NET] || init->ns[NS_NET] == net;
	struct leak *lk = task_leak(s, LK(NET_NS), arena_printf("net:[%llu]", (unsigned long long)net));
	size_t expect = 0;
	Leak *pb;

	CHECK_UINT(net, !=, 0);
	if (!lk)
		return;
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		expect += !p->in_tree && !p->excluded && !host_proc_hollow(p) && p->ns[NS_NET] == net;
	}
	CHECK_INT(lk->host_own, ==, host);
	CHECK_UINT(lk->object, ==, net);
	CHECK_UINT(lk->noutside + lk->outside_unlisted, ==, expect);
	CHECK_UINT(lk->noutside, <=, MAX_LEAK_HOLDERS);
	CHECK(holds(lk->inside, lk->ninside, root, "member"));
	CHECK_UINT(lk->ninside, ==, 1);
	CHECK(!holds(lk->outside, lk->noutside, s->self, NULL));
	if (host) {
		CHECK(lk->standalone);
		CHECK_INT(lk->default_policy, ==, LP(IGNORE));
		CHECK(has_choice(lk, LP(WARN), ""));
		CHECK(has_choice(lk, LP(FAIL), ""));
		CHECK(!choice(lk, LP(EXTERNAL)));
		CHECK_CONTAINS(lk->criu, "does not dump");
	}
	pb = leak_to_pb(s, lk);
	CHECK_UINT(pb->outside_count, ==, expect);
	CHECK_UINT(pb->n_outside, ==, lk->noutside);
	CHECK_INT(pb->host_own, ==, host);
}

static void check_shared_uts(struct leak *lk, uint64_t uts, pid_t inside, pid_t outside)
{
	CHECK(!lk->host_own);
	CHECK(!lk->standalone);
	CHECK_UINT(lk->object, ==, uts);
	CHECK_INT(lk->default_policy, ==, LP(FAIL));
	CHECK(has_choice(lk, LP(FAIL), ""));
	CHECK(has_choice(lk, LP(WARN), ""));
	CHECK(has_choice(lk, LP(EXTERNAL), "--join-ns uts at restore"));
	CHECK_UINT(lk->ninside, ==, 1);
	CHECK(holds(lk->inside, lk->ninside, inside, "member"));
	CHECK_UINT(lk->noutside, ==, 1);
	CHECK(holds(lk->outside, lk->noutside, outside, "member"));
	CHECK_UINT(lk->outside_unlisted, ==, 0);
	CHECK_CONTAINS(lk->summary, "uts namespace");
	CHECK_CONTAINS(lk->summary, arena_printf("pid %d among them", outside));
	CHECK_CONTAINS(lk->criu, "private copy");
}

static void test_namespaces(void)
{
	pid_t a = spawn_call(new_uts, NULL, NULL), r = a > 0 ? spawn_call(join_uts, &a, NULL) : -1;
	uint64_t uts = a > 0 ? ns_inode(a, "uts") : 0;
	const char *resource = arena_printf("uts:[%llu]", (unsigned long long)uts);
	struct host_scan s;
	struct leak *lk;

	test_case("namespaces");
	CHECK_INT(a, >, 0);
	CHECK_INT(r, >, 0);
	CHECK_UINT(uts, !=, 0);
	CHECK_UINT(uts, !=, ns_inode(getpid(), "uts"));
	if (a <= 0 || r <= 0)
		goto out;
	if (SCAN_OK(r, &s)) {
		lk = task_leak(&s, LK(UTS_NS), resource);
		if (lk)
			check_shared_uts(lk, uts, r, a);
		test_case("the tree is in one uts namespace");
		CHECK_UINT(count_kind(&s, LK(UTS_NS)), ==, 1);
		check_host_net(&s, r);
		leaks_scan_free(&s);
	}
	/* the other way round: r is the outside holder of a's namespace */
	if (SCAN_OK(a, &s)) {
		lk = task_leak(&s, LK(UTS_NS), resource);
		if (lk) {
			CHECK_UINT(lk->noutside, ==, 1);
			CHECK(holds(lk->outside, 1, r, "member"));
			CHECK(holds(lk->inside, 1, a, "member"));
		}
		leaks_scan_free(&s);
	}
out:
	reap(r);
	reap(a);
}

/* A tree whose root stays in the host's uts namespace; its child joins an outside one. */
static void tree_nested(void *arg, int report)
{
	pid_t child = spawn_call(join_uts, arg, NULL);

	report_int(report, child > 0 ? child : -1);
}

static void test_nested(void)
{
	pid_t a = spawn_call(new_uts, NULL, NULL), r = -1;
	int64_t child = -1;
	uint64_t uts = a > 0 ? ns_inode(a, "uts") : 0;
	struct host_scan s;
	struct leak *lk;

	test_case("a nested namespace");
	if (a > 0) {
		r = spawn_value(tree_nested, &a, NEW_SESSION, &child);
	}
	CHECK_INT(a, >, 0);
	CHECK_INT(r, >, 0);
	CHECK_INT(child, >, 0);
	if (child > 0 && SCAN_OK(r, &s)) {
		lk = task_leak(&s, LK(UTS_NS), arena_printf("uts:[%llu]", (unsigned long long)uts));
		if (lk) {
			CHECK(holds(lk->inside, lk->ninside, child, "member"));
			CHECK(holds(lk->outside, lk->noutside, a, "member"));
			CHECK_CONTAINS(lk->criu, arena_printf("Can't dump nested uts namespace for %d", (int)child));
			CHECK(has_choice(lk, LP(FAIL), ""));
			CHECK(has_choice(lk, LP(WARN), ""));
			CHECK(!choice(lk, LP(EXTERNAL)));	/* no way to join it at restore */
		}
		test_case("the tree is in two uts namespaces");
		CHECK_UINT(count_kind(&s, LK(UTS_NS)), ==, 2);
		leaks_scan_free(&s);
	}
	reap_grandchild(child);
	reap(r);
	reap(a);
}

/* ---- parent, session, process group, tracer ----------------------------- */

static int fork_one(void *arg)
{
	pid_t pid = fork();

	(void)arg;
	if (pid == 0)
		for (;;)
			pause();
	return pid;
}

static int new_session(void *arg)
{
	(void)arg;
	return setsid() < 0 ? -1 : 0;
}

/* A session leader with one child: the child's session and group leader is outside a tree rooted at it. */
static int lead_session_fork_one(void *arg)
{
	return setsid() < 0 ? -1 : fork_one(arg);
}

static int seize(void *arg)
{
	return ptrace(PTRACE_SEIZE, *(pid_t *)arg, NULL, NULL) ? -1 : 0;
}

/* The leak of the session (or group) id of the tree, whose leader is outside, as CRIU needs it. */
static void check_outside_leader(struct host_scan *s, int kind, pid_t id, pid_t member, const char *how)
{
	const char *what = kind == LK(SESSION) ? "session" : "process group";
	struct leak *lk = task_leak(s, kind, arena_printf("%s %d", what, id));

	if (lk) {
		CHECK(lk->standalone);
		CHECK_INT(lk->default_policy, ==, LP(FAIL));
		CHECK_UINT(lk->nchoices, ==, 2);
		CHECK(has_choice(lk, LP(FAIL), ""));
		CHECK(has_choice(lk, LP(EXTERNAL), "--shell-job"));
		CHECK(holds(lk->inside, lk->ninside, member, "member"));
		CHECK_UINT(lk->ninside, ==, 1);
		CHECK(holds(lk->outside, lk->noutside, id, how));
		CHECK_UINT(lk->noutside, ==, 1);
		CHECK_CONTAINS(lk->criu, "--shell-job");
		CHECK_CONTAINS(lk->summary, arena_printf("%s %d, whose leader, pid %d (", what, id, id));
	}
	CHECK_UINT(count_kind(s, kind), ==, 1);
}

static void check_parent(struct host_scan *s, pid_t parent, pid_t root)
{
	struct leak *lk = task_leak(s, LK(PARENT), arena_printf("pid %d", parent));

	if (!lk)
		return;
	CHECK(lk->standalone);
	CHECK_INT(lk->default_policy, ==, LP(IGNORE));
	CHECK_UINT(lk->nchoices, ==, 2);
	CHECK(has_choice(lk, LP(WARN), ""));
	CHECK(has_choice(lk, LP(IGNORE), ""));
	CHECK(holds(lk->inside, lk->ninside, root, "child"));
	CHECK(holds(lk->outside, lk->noutside, parent, "parent"));
	CHECK_CONTAINS(lk->risk, "restorer");
	CHECK_CONTAINS(lk->summary, arena_printf("the root's parent, pid %d (", parent));
	CHECK_UINT(count_kind(s, LK(PARENT)), ==, 1);
}

static void test_relatives(void)
{
	int child = 0;
	pid_t m = spawn_call(lead_session_fork_one, NULL, &child), r = child;
	struct host_scan s;
	struct leak *lk;

	test_case("relatives");
	CHECK_INT(m, >, 0);
	CHECK_INT(r, >, 0);
	if (m <= 0 || r <= 0)
		goto out;
	if (SCAN_OK(r, &s)) {
		check_parent(&s, m, r);
		/* m leads r's session and group, outside the tree */
		check_outside_leader(&s, LK(SESSION), m, r, "session leader");
		check_outside_leader(&s, LK(PROCESS_GROUP), m, r, "process group leader");
		test_case("relatives: no tracer");
		CHECK_UINT(count_kind(&s, LK(TRACER)), ==, 0);
		leaks_scan_free(&s);
	}
	/* the leader's tree: its session and group are its own; its parent is the helper (no holder) */
	if (SCAN_OK(m, &s)) {
		test_case("relatives: the leader's own tree");
		CHECK_UINT(count_kind(&s, LK(SESSION)), ==, 0);
		CHECK_UINT(count_kind(&s, LK(PROCESS_GROUP)), ==, 0);
		lk = task_leak(&s, LK(PARENT), arena_printf("pid %d", getpid()));
		if (lk) {
			CHECK_UINT(lk->noutside, ==, 0);
			CHECK(holds(lk->inside, lk->ninside, m, "child"));
		}
		leaks_scan_free(&s);
	}
out:
	reap_grandchild(r);
	reap(m);
}

/*
 * In pid 1 of a new pid namespace with its own /proc: a tree of two whose
 * session and group leader (the tests') is in the parent namespace, so both
 * read as 0. CRIU refuses the session whatever the options.
 */
static void scan_unseen_leaders(void)
{
	int child = 0;
	pid_t r = spawn_call(fork_one, NULL, &child), q = child;
	struct host_scan s;
	struct leak *lk;

	CHECK_INT(r, >, 0);
	CHECK_INT(q, >, 0);
	CHECK_INT(getsid(r), ==, 0);
	CHECK_INT(getpgid(r), ==, 0);
	if (r <= 0 || q <= 0 || !SCAN_OK(r, &s))
		return;
	lk = task_leak(&s, LK(SESSION), "session 0");
	if (lk) {
		CHECK_INT(lk->default_policy, ==, LP(FAIL));
		CHECK_UINT(lk->nchoices, ==, 1);
		CHECK(has_choice(lk, LP(FAIL), ""));
		CHECK(holds(lk->inside, lk->ninside, r, "member"));
		CHECK(holds(lk->inside, lk->ninside, q, "member"));
		CHECK_UINT(lk->noutside, ==, 0);
		CHECK_CONTAINS(lk->summary, "outside the helper's pid namespace");
		CHECK_CONTAINS(lk->criu, "whatever the options");
		CHECK_CONTAINS(lk->risk, "setsid");
	}
	/* the group alone is no obstacle: --shell-job puts the tree in the restorer's */
	lk = task_leak(&s, LK(PROCESS_GROUP), "process group 0");
	if (lk)
		CHECK(has_choice(lk, LP(EXTERNAL), "--shell-job"));
	leaks_scan_free(&s);
}

/* Runs scan_unseen_leaders as pid 1 of new pid and mount namespaces; reports its checks on report. */
static void in_new_pidns(int report)
{
	int before_passed = passed, before_failed = failed, status;
	pid_t init;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS))
		_exit(1);
	init = fork();
	if (init < 0)
		_exit(1);
	if (init == 0) {
		/* a /proc of the new namespace, not propagated back to the tests' */
		test_case("unseen leaders: a /proc of a new pid namespace");
		CHECK_OK(mount(NULL, "/proc", NULL, MS_REC | MS_PRIVATE, NULL), NULL);
		CHECK_OK(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), NULL);
		test_case("unseen leaders");
		scan_unseen_leaders();
		report_int(report, passed - before_passed);
		report_int(report, failed - before_failed);
		_exit(0);	/* pid 1 gone: the kernel kills the rest of the namespace */
	}
	_exit(waitpid(init, &status, 0) == init && WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

static void test_unseen_leaders(void)
{
	int fds[2], status = -1;
	int64_t np, nf;
	pid_t outer;

	test_case("unseen leaders");
	CHECK_OK(pipe(fds), NULL);
	outer = fork();
	if (outer == 0) {
		close(fds[0]);
		in_new_pidns(fds[1]);
	}
	close(fds[1]);
	np = read_int(fds[0]);
	nf = read_int(fds[0]);
	close(fds[0]);
	CHECK_INT(outer, >, 0);
	CHECK_INT(waitpid(outer, &status, 0), ==, outer);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), ==, 0);
	CHECK_INT(np, >, 0);
	CHECK_INT(nf, ==, 0);		/* each failure was printed by the child */
	passed += np > 0 ? (int)np : 0;
	failed += nf > 0 ? (int)nf : 0;
}

static void test_own_session(void)
{
	pid_t r = spawn_call(new_session, NULL, NULL);
	struct host_scan s;

	test_case("a session of its own");
	CHECK_INT(r, >, 0);
	if (r > 0 && SCAN_OK(r, &s)) {
		CHECK_UINT(count_kind(&s, LK(SESSION)), ==, 0);
		CHECK_UINT(count_kind(&s, LK(PROCESS_GROUP)), ==, 0);
		CHECK_UINT(count_kind(&s, LK(PARENT)), ==, 1);
		leaks_scan_free(&s);
	}
	reap(r);
}

static void check_tracer(struct host_scan *s, pid_t r, pid_t t)
{
	const struct host_proc *p = host_find(s, r);
	struct leak *lk;

	CHECK(p != NULL);
	if (p)
		CHECK_INT(p->tracer, ==, t);
	lk = task_leak(s, LK(TRACER), arena_printf("pid %d", t));
	if (!lk)
		return;
	CHECK_INT(lk->default_policy, ==, LP(FAIL));
	CHECK_UINT(lk->nchoices, ==, 1);
	CHECK(has_choice(lk, LP(FAIL), ""));
	CHECK(holds(lk->inside, lk->ninside, r, "traced"));
	CHECK(holds(lk->outside, lk->noutside, t, "tracer"));
	CHECK_CONTAINS(lk->criu, "Unable to interrupt task");
	CHECK_CONTAINS(lk->risk, arena_printf("detach pid %d first", t));
}

static void test_tracer(void)
{
	pid_t r = spawn_call(NULL, NULL, NULL), t = r > 0 ? spawn_call(seize, &r, NULL) : -1;
	struct host_scan s;

	test_case("a tracer");
	CHECK_INT(r, >, 0);
	CHECK_INT(t, >, 0);
	if (r <= 0 || t <= 0)
		goto out;
	if (SCAN_OK(r, &s)) {
		check_tracer(&s, r, t);
		leaks_scan_free(&s);
	}
	test_case("a tracer: its own tree, whose tracee is outside and which nothing traces");
	CHECK_INT(SCAN_COUNT(t, LK(TRACER)), ==, 0);
out:
	reap(t);	/* the tracer first: its tracee is detached when it dies */
	reap(r);
}

TEST_GROUP(leak_tasks)
{
	test_namespaces();
	test_nested();
	test_relatives();
	test_unseen_leaders();
	test_own_session();
	test_tracer();
}
