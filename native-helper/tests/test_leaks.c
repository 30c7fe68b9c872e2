/* SPDX-License-Identifier: MIT */
/*
 * Tests of leaks.c: the policy and its rules, the wire messages, what a
 * dump makes of the leaks (CRIU's options, the refusal, the second scan's
 * changes), and the whole scan and report on a real tree.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "arena.h"
#include "leak_scan.h"
#include "leaks.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

#define WHAT(x) CHECKPOINT__HELPER__V1__LEAK_CHANGE__WHAT__WHAT_##x

/* ---- the policy ---------------------------------------------------------------------- */

/* Two pipes (default fail, every choice) and the host's uts namespace (default ignore: ignore, warn). */
static void policy_leaks(struct host_scan *s, struct leak **pipe1, struct leak **pipe2, struct leak **uts)
{
	*pipe1 = leak_get(s, LK(PIPE), "pipe:[1]");
	*pipe2 = leak_get(s, LK(PIPE), "pipe:[2]");
	*uts = leak_get(s, LK(UTS_NS), "uts:[4026531838]");
	for (int i = 0; i < 2; i++) {
		struct leak *p = i ? *pipe2 : *pipe1;

		p->default_policy = LP(FAIL);
		leak_choice(p, LP(FAIL), "", "");
		leak_choice(p, LP(WARN), "", "");
		leak_choice(p, LP(IGNORE), "", "");
		leak_choice(p, LP(EXTERNAL), "--inherit-fd", "");
	}
	(*uts)->default_policy = LP(IGNORE);
	leak_choice(*uts, LP(IGNORE), "", "");
	leak_choice(*uts, LP(WARN), "", "");
}

static void test_policy(void)
{
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;
	struct leak *pipe1, *pipe2, *uts;
	LeakRule kind_warn = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT;
	LeakRule kind_ext = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT;
	LeakRule one_ignore = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT;
	LeakRule uts_save = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT;
	LeakRule *rules[4] = { &one_ignore, &kind_warn, &kind_ext, &uts_save };

	fake_host(&s, procs);
	policy_leaks(&s, &pipe1, &pipe2, &uts);
	test_case("no rules: the defaults");
	leaks_apply_policy(&s, NULL, 0);
	CHECK_INT(pipe1->policy, ==, LP(FAIL));
	CHECK_INT(uts->policy, ==, LP(IGNORE));
	CHECK_STR(pipe1->policy_note, ==, "");

	test_case("a resource rule beats kind rules; the last kind rule wins; an impossible one is noted");
	kind_warn.kind = kind_ext.kind = one_ignore.kind = LK(PIPE);
	kind_warn.policy = LP(WARN);
	kind_ext.policy = LP(EXTERNAL);
	one_ignore.resource = "pipe:[2]";
	one_ignore.policy = LP(IGNORE);
	uts_save.kind = LK(UTS_NS);
	uts_save.policy = LP(SAVE);
	leaks_apply_policy(&s, rules, 4);
	CHECK_INT(pipe1->policy, ==, LP(EXTERNAL));
	CHECK_STR(pipe1->policy_note, ==, "");
	CHECK_INT(pipe2->policy, ==, LP(IGNORE));
	CHECK_INT(uts->policy, ==, LP(IGNORE));
	CHECK_STR(uts->policy_note, ==, "save is not possible for this leak (it can take: ignore, warn); its default, "
		  "ignore, applies");
	test_case("a rule with an empty resource names the kind");
	one_ignore.resource = "";
	leaks_apply_policy(&s, rules, 4);
	CHECK_INT(pipe2->policy, ==, LP(EXTERNAL));
	fake_free(&s);
}

/* leak_rules_valid refuses rule bad (the second of two) with BAD_REQUEST and a message holding want. */
static void check_refused(LeakRule *bad, const char *want)
{
	LeakRule good = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT;
	LeakRule *rules[2] = { &good, bad };
	struct herr e = { 0 };

	good.kind = LK(PIPE);
	good.policy = LP(WARN);
	CHECK_INT(leak_rules_valid(rules, 2, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(e.msg, "policy rule 1");
	CHECK_CONTAINS(e.msg, want);
}

static void test_rules_valid(void)
{
	static const struct {
		const char *what;
		int kind, policy;
		size_t resource_len;		/* of 'a's; 0: none */
		const char *resource, *want;
	} bad[] = {
		{ "kind 0", 0, LP(WARN), 0, NULL, "names no leak kind (0)" },
		{ "a kind past the last", LEAK_KIND_MAX + 1, LP(WARN), 0, NULL, "names no leak kind (28)" },
		{ "a negative kind", -1, LP(WARN), 0, NULL, "names no leak kind (-1)" },
		{ "policy 0", LK(PIPE), 0, 0, NULL, "(pipe) names no policy (0)" },
		{ "a policy past the last", LK(TCP), LEAK_POLICY_MAX + 1, 0, NULL, "(tcp) names no policy (6)" },
		{ "a resource over 512 bytes", LK(PIPE), LP(WARN), MAX_RESOURCE_LEN + 1, NULL,
		  "(pipe): the resource is longer than 512 bytes or holds control characters" },
		{ "a newline in the resource", LK(PIPE), LP(WARN), 0, "pipe\n", "holds control characters" },
		{ "an escape in the resource", LK(FIFO), LP(WARN), 0, "/tmp/\033[1m", "(fifo): the resource" },
	};
	LeakRule r = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT, *one[1] = { &r };
	struct herr e = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		LeakRule rule = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT;

		test_case("leak_rules_valid: %s", bad[i].what);
		rule.kind = bad[i].kind;
		rule.policy = bad[i].policy;
		rule.resource = bad[i].resource_len ? memset(arena_alloc(bad[i].resource_len + 1), 'a',
							     bad[i].resource_len) : (char *)bad[i].resource;
		check_refused(&rule, bad[i].want);
	}
	test_case("leak_rules_valid: more than MAX_POLICY_RULES");
	CHECK_INT(leak_rules_valid(one, MAX_POLICY_RULES + 1, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(e.msg, "257 policy rules; at most 256 are accepted");
	test_case("leak_rules_valid: good rules");
	r.kind = LEAK_KIND_MAX;
	r.policy = LEAK_POLICY_MAX;
	CHECK_OK(leak_rules_valid(one, 1, &e), &e);
	r.resource = memset(arena_alloc(MAX_RESOURCE_LEN + 1), 'a', MAX_RESOURCE_LEN);
	CHECK_OK(leak_rules_valid(one, 1, &e), &e);
	r.resource = "a\tb";
	CHECK_OK(leak_rules_valid(one, 1, &e), &e);
	CHECK_OK(leak_rules_valid(NULL, 0, &e), &e);
}

/* ---- the wire ---------------------------------------------------------------------------- */

static void test_sort_and_wire(void)
{
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;
	struct leak_holder h = { .how = "fd 5", .has_fd = true, .fd = 5, .readable = true };
	struct leak *l;
	size_t n;
	Leak **v;

	test_case("leaks_sort, leaks_to_pb");
	fake_host(&s, procs);
	leak_get(&s, LK(TCP), "tcp b");
	l = leak_get(&s, LK(PIPE), "pipe:[9]");
	leak_get(&s, LK(TCP), "tcp a");
	leak_hold(&s, l, 20, &h);
	leak_hold(&s, l, 11, &h);
	leak_choice(l, LP(WARN), "", "flagged");
	leaks_apply_policy(&s, NULL, 0);
	leaks_sort(&s);
	CHECK(s.leaks[0] == l);
	CHECK_STR(s.leaks[1]->resource, ==, "tcp a");
	CHECK_STR(s.leaks[2]->resource, ==, "tcp b");
	v = leaks_to_pb(&s, &n);
	CHECK_UINT(n, ==, 3);
	CHECK_INT(v[0]->kind, ==, LK(PIPE));
	CHECK_STR(v[0]->resource, ==, "pipe:[9]");
	CHECK_UINT(v[0]->n_inside, ==, 1);
	CHECK_INT(v[0]->inside[0]->pid, ==, 11);
	CHECK_STR(v[0]->inside[0]->comm, ==, "p11");
	CHECK(v[0]->inside[0]->readable);
	CHECK(v[0]->inside[0]->has_fd);
	CHECK_INT(v[0]->inside[0]->fd, ==, 5);
	CHECK_STR(v[0]->inside[0]->how, ==, "fd 5");
	CHECK_UINT(v[0]->outside_count, ==, 1);
	CHECK_UINT(v[0]->n_outside, ==, 1);
	CHECK_STR(v[0]->outside[0]->comm, ==, "p20");
	CHECK_INT(v[0]->policy, ==, LP(WARN));
	CHECK_UINT(v[0]->n_choices, ==, 1);
	CHECK_STR(v[0]->choices[0]->effect, ==, "flagged");
	CHECK_STR(v[0]->policy_note, ==, "");
	CHECK(v[3] == NULL);
	fake_free(&s);
}

/* A leak's fields on the wire: holders past the listed ones counted, the policy before it is applied. */
static void test_leak_to_pb(void)
{
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;
	struct leak *lk;
	Leak *pb;

	test_case("leak_to_pb");
	fake_host(&s, procs);
	lk = leak_get(&s, LK(NET_NS), "net:[7]");
	hold_many(&s, lk, 20, MAX_LEAK_HOLDERS + 2, "member");
	lk->default_policy = LP(IGNORE);
	lk->host_own = true;
	lk->summary = "the summary";
	lk->risk = "the risk";
	lk->criu = "what CRIU does";
	leak_choice(lk, LP(IGNORE), "--opt", "nothing");
	pb = leak_to_pb(&s, lk);
	CHECK_INT(pb->policy, ==, LP(IGNORE));		/* no policy applied yet: the default */
	CHECK_INT(pb->default_policy, ==, LP(IGNORE));
	CHECK_STR(pb->policy_note, ==, "");
	CHECK_UINT(pb->n_outside, ==, MAX_LEAK_HOLDERS);
	CHECK_UINT(pb->outside_count, ==, MAX_LEAK_HOLDERS + 2);
	CHECK_UINT(pb->n_inside, ==, 0);
	CHECK(pb->host_own);
	CHECK_STR(pb->summary, ==, "the summary");
	CHECK_STR(pb->risk, ==, "the risk");
	CHECK_STR(pb->criu, ==, "what CRIU does");
	CHECK_UINT(pb->n_choices, ==, 1);
	CHECK_STR(pb->choices[0]->criu_option, ==, "--opt");
	CHECK_INT(pb->choices[0]->policy, ==, LP(IGNORE));

	test_case("leak_stats_pb");
	s.descriptors = 77;
	{
		LeakScanStats *st = leak_stats_pb(&s, 1234);

		CHECK_UINT(st->processes, ==, FAKE_PROCS);
		CHECK_UINT(st->tree_processes, ==, 2);
		CHECK_UINT(st->descriptors, ==, 77);
		CHECK_UINT(st->scan_time_us, ==, 1234);
	}
	fake_free(&s);
}

/* A leak on the wire, as a dump's report holds it. */
static Leak *wire_leak(int kind, const char *resource, int policy, const pid_t *outside, size_t n)
{
	Leak *l = arena_alloc(sizeof(*l));

	checkpoint__helper__v1__leak__init(l);
	l->kind = kind;
	l->resource = (char *)resource;
	l->policy = policy;
	l->outside = arena_alloc((n + 1) * sizeof(*l->outside));
	for (size_t i = 0; i < n; i++) {
		LeakHolder *h = arena_alloc(sizeof(*h));

		checkpoint__helper__v1__leak_holder__init(h);
		h->pid = outside[i];
		h->comm = "cat";
		l->outside[i] = h;
	}
	l->n_outside = l->outside_count = n;
	return l;
}

/* ---- a dump: CRIU's options, the refusal --------------------------------------------------- */

static void test_dump_options(void)
{
	static const pid_t one[] = { 20 };
	Leak *v[6] = {
		wire_leak(LK(UNIX_SOCKET), "socket:[1]", LP(EXTERNAL), one, 1),
		wire_leak(LK(TCP), "tcp", LP(SAVE), NULL, 0),
		wire_leak(LK(FILE_LOCK), "lock", LP(FAIL), NULL, 0),
		wire_leak(LK(SESSION), "session 5", LP(EXTERNAL), one, 1),
		wire_leak(LK(PIPE), "pipe:[3]", LP(FAIL), one, 1),
		wire_leak(LK(FIFO), "/tmp/f", LP(WARN), one, 1),
	};
	static const int shell_kinds[] = { LK(TTY), LK(SESSION), LK(PROCESS_GROUP) };
	DumpOptions *o = leaks_dump_options(v, 6);

	test_case("leaks_dump_options");
	CHECK(o->ext_unix_sk);
	CHECK(o->tcp_established);
	CHECK(!o->file_locks);
	CHECK(o->shell_job);
	CHECK_UINT(o->n_external, ==, 0);
	o = leaks_dump_options(v + 4, 2);
	CHECK(!o->ext_unix_sk);
	CHECK(!o->tcp_established);
	CHECK(!o->file_locks);
	CHECK(!o->shell_job);
	v[2]->policy = LP(SAVE);
	CHECK(leaks_dump_options(v + 2, 1)->file_locks);
	for (size_t i = 0; i < ARRAY_SIZE(shell_kinds); i++) {
		Leak *l = wire_leak(shell_kinds[i], "x", LP(EXTERNAL), one, 1);

		test_case("leaks_dump_options: --shell-job for kind %d", shell_kinds[i]);
		CHECK(leaks_dump_options(&l, 1)->shell_job);
		l->policy = LP(FAIL);
		CHECK(!leaks_dump_options(&l, 1)->shell_job);
	}
}

/* A net namespace handed to CRIU as external is an --external entry; the host's own is not. */
static void test_net_external(void)
{
	static const pid_t one[] = { 20 };
	Leak *v[3] = {
		wire_leak(LK(NET_NS), "net:[4026532247]", LP(EXTERNAL), one, 1),
		wire_leak(LK(NET_NS), "net:[4026531833]", LP(EXTERNAL), one, 1),
		wire_leak(LK(UTS_NS), "uts:[4026532248]", LP(EXTERNAL), one, 1),
	};
	DumpOptions *o;

	test_case("an external net namespace");
	v[1]->host_own = true;
	o = leaks_dump_options(v, 3);
	CHECK_UINT(o->n_external, ==, 1);
	CHECK_STR(o->external[0], ==, "net[4026532247]:net:[4026532247]");
	v[0]->policy = LP(WARN);
	CHECK_UINT(leaks_dump_options(v, 3)->n_external, ==, 0);

	test_case("leak_ns_inode, leak_net_external");
	CHECK_UINT(leak_ns_inode(v[0]), ==, 4026532247ULL);
	CHECK_UINT(leak_ns_inode(v[2]), ==, 4026532248ULL);
	CHECK_STR(leak_net_external(v[0]), ==, "net[4026532247]:net:[4026532247]");
	v[0]->resource = "net:[x]";
	CHECK_UINT(leak_ns_inode(v[0]), ==, 0);
	CHECK(leak_net_external(v[0]) == NULL);
	v[0]->resource = "session 5";
	CHECK_UINT(leak_ns_inode(v[0]), ==, 0);
}

static void test_refusal(void)
{
	static const pid_t one[] = { 20 };
	Leak *v[8];
	struct herr e = { 0 };
	size_t nfail;
	Leak **fail;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		v[i] = wire_leak(LK(PIPE), arena_printf("pipe:[%zu]", i), i % 4 == 1 ? LP(WARN) : LP(FAIL), one, 1);
	v[0]->kind = LK(FILE_LOCK);
	v[0]->resource = "lock";
	test_case("leaks_failing");
	fail = leaks_failing(v, 3, &nfail);
	CHECK_UINT(nfail, ==, 2);
	CHECK(fail[0] == v[0]);
	CHECK(fail[1] == v[2]);
	CHECK(fail[2] == NULL);
	test_case("leaks_refusal of two");
	leaks_refusal(77, fail, nfail, &e);
	CHECK_INT(e.code, ==, EC(LEAKS_REFUSED));
	CHECK_CONTAINS(e.msg, "process 77");
	CHECK_CONTAINS(e.msg, "2 resources");
	CHECK_CONTAINS(e.msg, "(file-lock lock; pipe pipe:[2])");
	CHECK_CONTAINS(e.msg, "nothing was frozen");
	test_case("leaks_refusal of one");
	leaks_refusal(77, fail + 1, 1, &e);
	CHECK_CONTAINS(e.msg, "shares 1 resource with processes outside it whose policy is fail (pipe pipe:[2]);");
	test_case("leaks_refusal of more than five");
	fail = leaks_failing(v, 8, &nfail);
	CHECK_UINT(nfail, ==, 6);
	leaks_refusal(77, fail, nfail, &e);
	CHECK_CONTAINS(e.msg, "6 resources");
	CHECK_CONTAINS(e.msg, "pipe pipe:[6]; and 1 more)");
	CHECK_STR(strstr(e.msg, "pipe:[7]"), ==, NULL);
	test_case("leaks_failing of none");
	fail = leaks_failing(NULL, 0, &nfail);
	CHECK_UINT(nfail, ==, 0);
	CHECK(fail[0] == NULL);
}

/* ---- the second scan's changes -------------------------------------------------------------- */

static void test_compare(void)
{
	static const pid_t cat[] = { 20 }, cat_and_sh[] = { 20, 21 };
	Leak *before[3] = {
		wire_leak(LK(PIPE), "pipe:[1]", LP(WARN), cat, 1),
		wire_leak(LK(FIFO), "/tmp/f", LP(WARN), cat, 1),
		wire_leak(LK(TCP), "tcp", LP(WARN), NULL, 0),
	};
	Leak *after[3] = {
		wire_leak(LK(PIPE), "pipe:[1]", LP(WARN), cat, 1),	/* unchanged */
		wire_leak(LK(FIFO), "/tmp/f", LP(WARN), cat_and_sh, 2),	/* one more holder */
		wire_leak(LK(UNIX_SOCKET), "socket:[4]", LP(WARN), cat, 1),	/* new; tcp is gone */
	};
	LeakChange **c;
	size_t n;

	test_case("leaks_compare: the same");
	c = leaks_compare(before, 3, before, 3, &n);
	CHECK_UINT(n, ==, 0);
	test_case("leaks_compare: changes");
	c = leaks_compare(before, 3, after, 3, &n);
	CHECK_UINT(n, ==, 3);
	if (n == 3) {
		CHECK_INT(c[0]->what, ==, WHAT(HOLDERS_CHANGED));
		CHECK(c[0]->leak == after[1]);
		CHECK_STR(c[0]->detail, ==, "pid 21 (cat) began to hold it");
		CHECK_INT(c[1]->what, ==, WHAT(APPEARED));
		CHECK(c[1]->leak == after[2]);
		CHECK_INT(c[2]->what, ==, WHAT(VANISHED));
		CHECK(c[2]->leak == before[2]);
	}
	test_case("leaks_compare: a holder let it go");
	c = leaks_compare(after + 1, 1, before + 1, 1, &n);
	CHECK_UINT(n, ==, 1);
	if (n == 1)
		CHECK_STR(c[0]->detail, ==, "pid 21 (cat) let it go");
}

/* Holders not listed are compared by their count; the host's own namespaces not at all. */
static void test_compare_counts(void)
{
	pid_t listed[MAX_LEAK_HOLDERS];
	Leak *a, *b;
	LeakChange **c;
	size_t n;

	for (size_t i = 0; i < MAX_LEAK_HOLDERS; i++)
		listed[i] = 100 + i;
	a = wire_leak(LK(NET_NS), "net:[9]", LP(IGNORE), listed, MAX_LEAK_HOLDERS);
	b = wire_leak(LK(NET_NS), "net:[9]", LP(IGNORE), listed, MAX_LEAK_HOLDERS);
	test_case("leaks_compare: more holders counted, the same listed");
	a->outside_count = 20;
	b->outside_count = 30;
	c = leaks_compare(&a, 1, &b, 1, &n);
	CHECK_UINT(n, ==, 1);
	if (n == 1)
		CHECK_STR(c[0]->detail, ==, "20 outside holders, then 30");
	test_case("leaks_compare: the host's own namespace");
	a->host_own = b->host_own = true;
	b->outside[0]->pid = 21;
	c = leaks_compare(&a, 1, &b, 1, &n);
	CHECK_UINT(n, ==, 0);
	test_case("leaks_compare: nothing before");
	c = leaks_compare(NULL, 0, &b, 1, &n);
	CHECK_UINT(n, ==, 1);
	if (n == 1)
		CHECK_STR(c[0]->detail, ==, "it appeared while the tree was being dumped");
}

/* ---- the whole scan, and the report, on a real tree ------------------------------------------------ */

/* The leaks of a scan are sorted by kind and resource, and each is shared, or a leak by itself. */
static void check_scan_leaks(const struct host_scan *s)
{
	const char *unsorted = "", *unshared = "";

	for (size_t i = 0; i < s->nleaks; i++) {
		const struct leak *a = i ? s->leaks[i - 1] : NULL, *b = s->leaks[i];

		if (a && !unsorted[0] &&
		    (a->kind > b->kind || (a->kind == b->kind && strcmp(a->resource, b->resource) >= 0)))
			unsorted = arena_printf("%s after %s", b->resource, a->resource);
		if (!unshared[0] && !b->noutside && !b->standalone)
			unshared = b->resource;
	}
	test_case("leaks_scan: %zu leaks", s->nleaks);
	CHECK_STR(unsorted, ==, "");
	CHECK_STR(unshared, ==, "");
}

/* The whole scan on a real tree: the root is found, an unknown pid refused. */
static void test_scan(void)
{
	struct host_scan s;
	struct herr e = { 0 };
	pid_t child = spawn_call(NULL, NULL, NULL);
	const struct host_proc *self;

	test_case("leaks_scan");
	CHECK_INT(child, >, 0);
	if (child > 0 && SCAN_OK(child, &s)) {
		CHECK_UINT(s.nprocs, >, 1);
		CHECK_UINT(s.tree_procs, ==, 1);
		CHECK(host_in_tree(&s, child));
		CHECK(!host_in_tree(&s, getpid()));
		self = host_find(&s, getpid());
		CHECK(self != NULL);
		if (self)
			CHECK(self->excluded);
		if (s.init)
			CHECK_INT(s.init->pid, ==, 1);
		CHECK(s.fds != NULL);
		check_scan_leaks(&s);
		leaks_scan_free(&s);
		CHECK(s.procs == NULL);
		CHECK(s.fds == NULL);
	}
	reap(child);
	test_case("leaks_scan of a process that is gone");
	CHECK_INT(leaks_scan(child, &s, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NO_SUCH_PROCESS));
	leaks_scan_free(&s);
}

/* A pipe the tree reads; outside processes write to it. */
struct report_fixture {
	int p[2];
	const char *resource;
};

static void pipe_reader(void *arg, int report)
{
	struct report_fixture *f = arg;

	close(f->p[1]);
	report_int(report, 1);
}

static void pipe_writer(void *arg, int report)
{
	struct report_fixture *f = arg;

	close(f->p[0]);
	report_int(report, 1);
}

static const Leak *report_leak(const LeakReport *r, const char *resource)
{
	for (size_t i = 0; i < r->n_leaks; i++)
		if (r->leaks[i]->kind == LK(PIPE) && !strcmp(r->leaks[i]->resource, resource))
			return r->leaks[i];
	return NULL;
}

static const LeakChange *change_of(const LeakReport *r, const char *resource)
{
	for (size_t i = 0; i < r->n_changes; i++)
		if (!strcmp(r->changes[i]->leak->resource, resource))
			return r->changes[i];
	return NULL;
}

static void check_report_sorted(const LeakReport *r)
{
	const char *unsorted = "";

	for (size_t i = 1; i < r->n_leaks && !unsorted[0]; i++)
		if (r->leaks[i]->kind < r->leaks[i - 1]->kind)
			unsorted = arena_printf("%s after %s", r->leaks[i]->resource, r->leaks[i - 1]->resource);
	CHECK_STR(unsorted, ==, "");
}

static void check_report(const LeakReport *r, LeakRule **rules, const char *resource, pid_t root, pid_t writer)
{
	const Leak *l = report_leak(r, resource);

	CHECK(r->policy == rules);
	CHECK_UINT(r->n_policy, ==, 1);
	CHECK(!r->rescanned);
	CHECK_UINT(r->n_changes, ==, 0);
	CHECK(r->stats != NULL);
	if (r->stats) {
		CHECK_UINT(r->stats->processes, >=, 3);
		CHECK_UINT(r->stats->tree_processes, ==, 1);
		CHECK_UINT(r->stats->descriptors, >, 0);
	}
	check_report_sorted(r);
	test_case("leaks_report: %s", resource);
	CHECK(l != NULL);
	if (!l)
		return;
	CHECK_INT(l->policy, ==, LP(WARN));		/* the rule's */
	CHECK_INT(l->default_policy, ==, LP(FAIL));
	CHECK_UINT(l->n_inside, ==, 1);
	CHECK_INT(l->inside[0]->pid, ==, root);
	CHECK_UINT(l->n_outside, ==, 1);
	CHECK_INT(l->outside[0]->pid, ==, writer);
}

static void check_rescans(LeakReport *r, LeakRule **rules, struct report_fixture *f, pid_t root, pid_t late)
{
	LeakReport gone = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	const LeakChange *c;
	struct herr e = { 0 };

	test_case("leaks_rescan: %s began to be written by %d", f->resource, late);
	leaks_rescan(r, root, rules, 1);
	CHECK(r->rescanned);
	c = change_of(r, f->resource);
	CHECK(c != NULL);
	if (c) {
		CHECK_INT(c->what, ==, WHAT(HOLDERS_CHANGED));
		CHECK_CONTAINS(c->detail, arena_printf("pid %d (", late));
		CHECK_CONTAINS(c->detail, "began to hold it");
	}
	reap(root);
	test_case("leaks_rescan: the tree is gone");
	leaks_rescan(&gone, root, rules, 1);
	CHECK(!gone.rescanned);
	CHECK_STR(gone.rescan_problem, ==,
		  arena_printf("the scan at post-dump failed: process %d does not exist", root));
	test_case("leaks_report: the tree is gone");
	CHECK(leaks_report(root, rules, 1, &e) == NULL);
	CHECK_INT(e.code, ==, EC(NO_SUCH_PROCESS));
}

static void test_report(void)
{
	LeakRule rule = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT, *rules[1] = { &rule };
	struct report_fixture f = { .p = { -1, -1 } };
	pid_t writer, root, late = -1;
	struct herr e = { 0 };
	LeakReport *r = NULL;

	test_case("leaks_report");
	rule.kind = LK(PIPE);
	rule.policy = LP(WARN);
	CHECK_OK(pipe(f.p), NULL);
	f.resource = arena_printf("pipe:[%llu]", (unsigned long long)fd_inode(f.p[0]));
	writer = spawn_ready(pipe_writer, &f, NEW_GROUP);
	root = spawn_ready(pipe_reader, &f, NEW_SESSION);
	CHECK_INT(writer, >, 0);
	CHECK_INT(root, >, 0);
	if (writer > 0 && root > 0) {
		r = leaks_report(root, rules, 1, &e);
		CHECK_OK(r ? 0 : -1, &e);
	}
	if (r) {
		check_report(r, rules, f.resource, root, writer);
		test_case("leaks_rescan: nothing changed");
		leaks_rescan(r, root, rules, 1);
		CHECK(r->rescanned);
		CHECK_STR(r->rescan_problem, ==, "");
		CHECK_UINT(r->n_changes, ==, 0);
		late = spawn_ready(pipe_writer, &f, NEW_GROUP);
		check_rescans(r, rules, &f, root, late);
	}
	close(f.p[0]);
	close(f.p[1]);
	end_all((pid_t[]){ writer, root, late }, 3);
}


TEST_GROUP(leaks)
{
	test_policy();
	test_rules_valid();
	test_sort_and_wire();
	test_leak_to_pb();
	test_dump_options();
	test_net_external();
	test_refusal();
	test_compare();
	test_compare_counts();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_scan();
	test_report();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	arena_free_all();
}
