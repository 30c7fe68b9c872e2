/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of leak_tasks.c: real processes (the tests run as root with a
 * real /proc), scanned with leaks_scan as the helper would.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "leak_kcmp.h"
#include "leak_scan.h"
#include "leak_tasks.h"
#include "leaks.h"
#include "lists.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

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
	bool host = !init || !init->ns[LK(NET_NS) - 1] || init->ns[LK(NET_NS) - 1] == net;
	char resource[64];
	struct leak *lk;
	size_t expect = 0;
	Leak *pb;

	snprintf(resource, sizeof(resource), "net:[%llu]", (unsigned long long)net);
	lk = leak_find(s, LK(NET_NS), resource);
	CHECK(net && lk);
	if (!lk)
		return;
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		expect += !p->in_tree && !p->excluded && !host_proc_hollow(p) && p->ns[LK(NET_NS) - 1] == net;
	}
	CHECK(lk->host_own == host && lk->object == net);
	CHECK(lk->noutside + lk->outside_unlisted == expect && lk->noutside <= MAX_LEAK_HOLDERS);
	CHECK(holds(lk->inside, lk->ninside, root, "member") && lk->ninside == 1);
	CHECK(!holds(lk->outside, lk->noutside, s->self, NULL));
	if (host) {
		CHECK(lk->standalone && lk->default_policy == LP(IGNORE));
		CHECK(has_choice(lk, LP(WARN), "") && has_choice(lk, LP(FAIL), "") && !choice(lk, LP(EXTERNAL)));
		CHECK(strstr(lk->criu, "does not dump") != NULL);
	}
	pb = leak_to_pb(s, lk);
	CHECK(pb->outside_count == expect && pb->n_outside == lk->noutside && pb->host_own == host);
}

static void test_namespaces(void)
{
	pid_t a = spawn_call(new_uts, NULL, NULL), r = a > 0 ? spawn_call(join_uts, &a, NULL) : -1;
	uint64_t uts = a > 0 ? ns_inode(a, "uts") : 0;
	struct host_scan s;
	struct herr e;
	char resource[64];
	struct leak *lk;

	CHECK(a > 0 && r > 0 && uts && uts != ns_inode(getpid(), "uts"));
	if (a <= 0 || r <= 0)
		goto out;
	CHECK(leaks_scan(r, &s, &e) == 0);
	snprintf(resource, sizeof(resource), "uts:[%llu]", (unsigned long long)uts);
	lk = leak_find(&s, LK(UTS_NS), resource);
	CHECK(lk != NULL);
	if (lk) {
		CHECK(!lk->host_own && !lk->standalone && lk->object == uts);
		CHECK(lk->default_policy == LP(FAIL) && has_choice(lk, LP(FAIL), "") && has_choice(lk, LP(WARN), ""));
		CHECK(has_choice(lk, LP(EXTERNAL), "--join-ns uts at restore"));
		CHECK(lk->ninside == 1 && holds(lk->inside, lk->ninside, r, "member"));
		CHECK(lk->noutside == 1 && holds(lk->outside, lk->noutside, a, "member") && !lk->outside_unlisted);
		CHECK(strstr(lk->summary, "uts namespace") && strstr(lk->criu, "private copy"));
	}
	/* the tree is in one uts namespace */
	CHECK(count_kind(&s, LK(UTS_NS)) == 1);
	check_host_net(&s, r);
	leaks_scan_free(&s);

	/* the other way round: r is the outside holder of a's namespace */
	CHECK(leaks_scan(a, &s, &e) == 0);
	lk = leak_find(&s, LK(UTS_NS), resource);
	CHECK(lk && lk->noutside == 1 && holds(lk->outside, 1, r, "member") && holds(lk->inside, 1, a, "member"));
	leaks_scan_free(&s);
out:
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
	char resource[64];
	struct leak *lk;

	snprintf(resource, sizeof(resource), "%s %d", kind == LK(SESSION) ? "session" : "process group", id);
	lk = leak_find(s, kind, resource);
	CHECK(lk && lk->standalone && lk->default_policy == LP(FAIL) && lk->nchoices == 2);
	CHECK(lk && has_choice(lk, LP(FAIL), "") && has_choice(lk, LP(EXTERNAL), "--shell-job"));
	CHECK(lk && holds(lk->inside, lk->ninside, member, "member") && lk->ninside == 1);
	CHECK(lk && holds(lk->outside, lk->noutside, id, how) && lk->noutside == 1);
	CHECK(lk && strstr(lk->criu, "--shell-job") != NULL);
	CHECK(count_kind(s, kind) == 1);
}

static void test_relatives(void)
{
	int child = 0;
	pid_t m = spawn_call(lead_session_fork_one, NULL, &child), r = child;
	struct host_scan s;
	struct herr e;
	char resource[64];
	struct leak *lk;

	CHECK(m > 0 && r > 0);
	if (m <= 0 || r <= 0)
		goto out;
	CHECK(leaks_scan(r, &s, &e) == 0);
	snprintf(resource, sizeof(resource), "pid %d", m);
	lk = leak_find(&s, LK(PARENT), resource);
	CHECK(lk && lk->standalone && lk->default_policy == LP(IGNORE) && lk->nchoices == 2);
	CHECK(lk && has_choice(lk, LP(WARN), "") && has_choice(lk, LP(IGNORE), ""));
	CHECK(lk && holds(lk->inside, lk->ninside, r, "child") && holds(lk->outside, lk->noutside, m, "parent"));
	CHECK(lk && strstr(lk->risk, "restorer") != NULL);
	CHECK(count_kind(&s, LK(PARENT)) == 1);
	/* m leads r's session and group, outside the tree */
	check_outside_leader(&s, LK(SESSION), m, r, "session leader");
	check_outside_leader(&s, LK(PROCESS_GROUP), m, r, "process group leader");
	CHECK(count_kind(&s, LK(TRACER)) == 0);
	leaks_scan_free(&s);

	/* the leader's tree: its session and group are its own; its parent is the helper (no holder) */
	CHECK(leaks_scan(m, &s, &e) == 0);
	CHECK(count_kind(&s, LK(SESSION)) == 0 && count_kind(&s, LK(PROCESS_GROUP)) == 0);
	snprintf(resource, sizeof(resource), "pid %d", getpid());
	lk = leak_find(&s, LK(PARENT), resource);
	CHECK(lk && lk->noutside == 0 && holds(lk->inside, lk->ninside, m, "child"));
	leaks_scan_free(&s);
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
	struct herr e;
	struct leak *lk;

	CHECK(r > 0 && q > 0 && getsid(r) == 0 && getpgid(r) == 0);
	if (r <= 0 || q <= 0)
		return;
	CHECK(leaks_scan(r, &s, &e) == 0);
	lk = leak_find(&s, LK(SESSION), "session 0");
	CHECK(lk && lk->default_policy == LP(FAIL) && lk->nchoices == 1 && has_choice(lk, LP(FAIL), ""));
	CHECK(lk && holds(lk->inside, lk->ninside, r, "member") && holds(lk->inside, lk->ninside, q, "member"));
	CHECK(lk && lk->noutside == 0 && strstr(lk->summary, "outside the helper's pid namespace") != NULL);
	CHECK(lk && strstr(lk->criu, "whatever the options") != NULL && strstr(lk->risk, "setsid") != NULL);
	/* the group alone is no obstacle: --shell-job puts the tree in the restorer's */
	lk = leak_find(&s, LK(PROCESS_GROUP), "process group 0");
	CHECK(lk && has_choice(lk, LP(EXTERNAL), "--shell-job"));
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
		CHECK(mount(NULL, "/proc", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
		CHECK(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0);
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

	CHECK(pipe(fds) == 0);
	outer = fork();
	if (outer == 0) {
		close(fds[0]);
		in_new_pidns(fds[1]);
	}
	close(fds[1]);
	np = read_int(fds[0]);
	nf = read_int(fds[0]);
	close(fds[0]);
	CHECK(outer > 0 && waitpid(outer, &status, 0) == outer && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(np > 0 && nf == 0);	/* each failure was printed by the child */
	passed += np > 0 ? (int)np : 0;
	failed += nf > 0 ? (int)nf : 0;
}

static void test_own_session(void)
{
	pid_t r = spawn_call(new_session, NULL, NULL);
	struct host_scan s;
	struct herr e;

	CHECK(r > 0);
	if (r <= 0)
		return;
	CHECK(leaks_scan(r, &s, &e) == 0);
	CHECK(count_kind(&s, LK(SESSION)) == 0 && count_kind(&s, LK(PROCESS_GROUP)) == 0);
	CHECK(count_kind(&s, LK(PARENT)) == 1);
	leaks_scan_free(&s);
	reap(r);
}

static void test_tracer(void)
{
	pid_t r = spawn_call(NULL, NULL, NULL), t = r > 0 ? spawn_call(seize, &r, NULL) : -1;
	struct host_scan s;
	struct herr e;
	char resource[32];
	struct leak *lk;

	CHECK(r > 0 && t > 0);
	if (r <= 0 || t <= 0)
		goto out;
	CHECK(leaks_scan(r, &s, &e) == 0);
	CHECK(host_find(&s, r) && host_find(&s, r)->tracer == t);
	snprintf(resource, sizeof(resource), "pid %d", t);
	lk = leak_find(&s, LK(TRACER), resource);
	CHECK(lk && lk->default_policy == LP(FAIL) && lk->nchoices == 1 && has_choice(lk, LP(FAIL), ""));
	CHECK(lk && holds(lk->inside, lk->ninside, r, "traced") && holds(lk->outside, lk->noutside, t, "tracer"));
	CHECK(lk && strstr(lk->criu, "Unable to interrupt task") != NULL);
	leaks_scan_free(&s);
	/* the tracer's own tree: its tracee is outside, nothing traces it */
	CHECK(leaks_scan(t, &s, &e) == 0);
	CHECK(count_kind(&s, LK(TRACER)) == 0);
	leaks_scan_free(&s);
out:
	reap(t);	/* the tracer first: its tracee is detached when it dies */
	reap(r);
}

/* ---- kcmp ------------------------------------------------------------------ */

__attribute__((no_sanitize_address))
static int sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

/* A child sharing fd table, fs info and address space with its parent (not a thread). */
static int clone_sharing(void *arg)
{
	size_t size = 256 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	(void)arg;
	if (stack == MAP_FAILED)
		return -1;
	return clone(sleeper, stack + size, CLONE_VM | CLONE_FILES | CLONE_FS | SIGCHLD, NULL);
}

static void test_shared_tasks(void)
{
	static const char *const what[] = { "fd table", "fs info", "address space" };
	int child = 0;
	pid_t p = spawn_call(clone_sharing, NULL, &child), r = child, f = spawn_call(NULL, NULL, NULL);
	struct host_scan s;
	struct herr e;
	char resource[64];

	CHECK(p > 0 && r > 0 && f > 0);
	if (p <= 0 || r <= 0 || f <= 0)
		goto out;
	CHECK(leaks_scan(r, &s, &e) == 0);
	CHECK(count_kind(&s, LK(SHARED_TASK)) == 3);
	for (size_t i = 0; i < ARRAY_SIZE(what); i++) {
		struct leak *lk;

		snprintf(resource, sizeof(resource), "%s of pid %d", what[i], r);
		lk = leak_find(&s, LK(SHARED_TASK), resource);
		CHECK(lk != NULL);
		if (!lk)
			continue;
		CHECK(lk->default_policy == LP(FAIL) && has_choice(lk, LP(WARN), "") && lk->nchoices == 2);
		CHECK(lk->ninside == 1 && holds(lk->inside, 1, r, NULL));
		CHECK(lk->noutside == 1 && holds(lk->outside, 1, p, "shares it"));
		CHECK(strstr(lk->summary, what[i]) != NULL);
	}
	leaks_scan_free(&s);

	/* shared within the tree: no leak */
	CHECK(leaks_scan(p, &s, &e) == 0);
	CHECK(count_kind(&s, LK(SHARED_TASK)) == 0);
	leaks_scan_free(&s);
	/* a plain fork child shares nothing */
	CHECK(leaks_scan(f, &s, &e) == 0);
	CHECK(count_kind(&s, LK(SHARED_TASK)) == 0);
	leaks_scan_free(&s);
out:
	reap_grandchild(r);
	reap(p);
	reap(f);
}

TEST_GROUP(leak_tasks)
{
	test_namespaces();
	test_relatives();
	test_unseen_leaders();
	test_own_session();
	test_tracer();
	test_shared_tasks();
}
