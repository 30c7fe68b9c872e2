/* SPDX-License-Identifier: MIT */
/* Unit tests of leaks.c: the list, the policy, the second scan, the wire. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "leak_names.h"
#include "leak_scan.h"
#include "leaks.h"
#include "lists.h"
#include "manifest.h"
#include "program.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

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
	struct herr e = { 0 };

	fake_host(&s, procs);
	pipe1 = leak_get(&s, LK(PIPE), "pipe:[1]");
	pipe2 = leak_get(&s, LK(PIPE), "pipe:[2]");
	uts = leak_get(&s, LK(UTS_NS), "uts:[4026531838]");
	for (int i = 0; i < 2; i++) {
		struct leak *p = i ? pipe2 : pipe1;

		p->default_policy = LP(FAIL);
		leak_choice(p, LP(FAIL), "", "");
		leak_choice(p, LP(WARN), "", "");
		leak_choice(p, LP(IGNORE), "", "");
		leak_choice(p, LP(EXTERNAL), "--inherit-fd", "");
	}
	uts->default_policy = LP(IGNORE);
	leak_choice(uts, LP(IGNORE), "", "");
	leak_choice(uts, LP(WARN), "", "");

	/* no rules: the defaults */
	leaks_apply_policy(&s, NULL, 0);
	CHECK(pipe1->policy == LP(FAIL) && uts->policy == LP(IGNORE) && !pipe1->policy_note[0]);

	/* a resource rule beats kind rules; the last kind rule wins; an impossible one is noted */
	kind_warn.kind = kind_ext.kind = one_ignore.kind = LK(PIPE);
	kind_warn.policy = LP(WARN);
	kind_ext.policy = LP(EXTERNAL);
	one_ignore.resource = "pipe:[2]";
	one_ignore.policy = LP(IGNORE);
	uts_save.kind = LK(UTS_NS);
	uts_save.policy = LP(SAVE);
	leaks_apply_policy(&s, rules, 4);
	CHECK(pipe1->policy == LP(EXTERNAL));
	CHECK(pipe2->policy == LP(IGNORE));
	CHECK(uts->policy == LP(IGNORE) && strstr(uts->policy_note, "save is not possible") &&
	      strstr(uts->policy_note, "ignore, warn"));

	CHECK(leak_rules_valid(rules, 4, &e) == 0);
	uts_save.policy = 0;
	CHECK(leak_rules_valid(rules, 4, &e) == -1 && e.code == EC(BAD_REQUEST) && strstr(e.msg, "names no policy"));
	uts_save.policy = LP(SAVE);
	uts_save.kind = LEAK_KIND_MAX + 1;
	CHECK(leak_rules_valid(rules, 4, &e) == -1 && strstr(e.msg, "names no leak kind"));
	uts_save.kind = LK(UTS_NS);
	one_ignore.resource = "pipe\n";
	CHECK(leak_rules_valid(rules, 4, &e) == -1 && strstr(e.msg, "control characters"));
	CHECK(leak_rules_valid(rules, MAX_POLICY_RULES + 1, &e) == -1);
	fake_free(&s);
}

static void test_sort_and_wire(void)
{
	struct host_proc procs[FAKE_PROCS];
	struct host_scan s;
	struct leak_holder h = { .how = "fd 5", .has_fd = true, .fd = 5, .readable = true };
	struct leak *l;
	size_t n;
	Leak **v;

	fake_host(&s, procs);
	leak_get(&s, LK(TCP), "tcp b");
	l = leak_get(&s, LK(PIPE), "pipe:[9]");
	leak_get(&s, LK(TCP), "tcp a");
	for (pid_t pid = 20; pid < 21; pid++)
		leak_hold(&s, l, pid, &h);
	leak_hold(&s, l, 11, &h);
	leak_choice(l, LP(WARN), "", "flagged");
	leaks_apply_policy(&s, NULL, 0);
	leaks_sort(&s);
	CHECK(s.leaks[0] == l && !strcmp(s.leaks[1]->resource, "tcp a") && !strcmp(s.leaks[2]->resource, "tcp b"));
	v = leaks_to_pb(&s, &n);
	CHECK(n == 3 && v[0]->kind == LK(PIPE) && v[0]->n_inside == 1 && v[0]->inside[0]->pid == 11);
	CHECK(!strcmp(v[0]->inside[0]->comm, "p11") && v[0]->inside[0]->readable && v[0]->inside[0]->fd == 5);
	CHECK(v[0]->outside_count == 1 && v[0]->n_outside == 1 && v[0]->policy == LP(WARN));
	CHECK(v[0]->n_choices == 1 && !strcmp(v[0]->choices[0]->effect, "flagged"));
	CHECK(!strcmp(leak_kind_name(LK(VOLATILE_FILE)), "volatile-file") && !strcmp(leak_kind_name(0), "unknown"));
	CHECK(!strcmp(leak_policy_name(LP(SAVE)), "save"));
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

/* A net namespace handed to CRIU as external is an --external entry; the host's own is not. */
static void test_net_external_option(void)
{
	static const pid_t one[] = { 20 };
	Leak *v[3] = {
		wire_leak(LK(NET_NS), "net:[4026532247]", LP(EXTERNAL), one, 1),
		wire_leak(LK(NET_NS), "net:[4026531833]", LP(EXTERNAL), one, 1),
		wire_leak(LK(UTS_NS), "uts:[4026532248]", LP(EXTERNAL), one, 1),
	};
	DumpOptions *o;

	v[1]->host_own = true;
	o = leaks_dump_options(v, 3);
	CHECK(o->n_external == 1 && !strcmp(o->external[0], "net[4026532247]:net:[4026532247]"));
	v[0]->policy = LP(WARN);
	CHECK(leaks_dump_options(v, 3)->n_external == 0);
}

static void test_options_and_refusal(void)
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
	struct herr e = { 0 };
	DumpOptions *o = leaks_dump_options(v, 6);
	size_t nfail;
	Leak **fail;

	CHECK(o->ext_unix_sk && o->tcp_established && !o->file_locks && o->shell_job && o->n_external == 0);
	o = leaks_dump_options(v + 4, 2);
	CHECK(!o->ext_unix_sk && !o->tcp_established && !o->file_locks && !o->shell_job);
	test_net_external_option();
	fail = leaks_failing(v, 6, &nfail);
	CHECK(nfail == 2 && fail[0] == v[2] && fail[1] == v[4]);
	leaks_refusal(77, fail, nfail, &e);
	CHECK(e.code == EC(LEAKS_REFUSED) && strstr(e.msg, "process 77") && strstr(e.msg, "2 resources") &&
	      strstr(e.msg, "file-lock lock; pipe pipe:[3]") && strstr(e.msg, "nothing was frozen"));
}

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

	c = leaks_compare(before, 3, before, 3, &n);
	CHECK(n == 0);
	c = leaks_compare(before, 3, after, 3, &n);
	CHECK(n == 3);
	CHECK(c[0]->what == CHECKPOINT__HELPER__V1__LEAK_CHANGE__WHAT__WHAT_HOLDERS_CHANGED &&
	      c[0]->leak == after[1] && strstr(c[0]->detail, "pid 21 (cat) began to hold it"));
	CHECK(c[1]->what == CHECKPOINT__HELPER__V1__LEAK_CHANGE__WHAT__WHAT_APPEARED && c[1]->leak == after[2]);
	CHECK(c[2]->what == CHECKPOINT__HELPER__V1__LEAK_CHANGE__WHAT__WHAT_VANISHED && c[2]->leak == before[2]);
	c = leaks_compare(after + 1, 1, before + 1, 1, &n);
	CHECK(n == 1 && strstr(c[0]->detail, "pid 21 (cat) let it go"));
}

static void test_report_json(void)
{
	static const pid_t cat[] = { 20 };
	LeakRule rule = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT;
	LeakRule *rules[1] = { &rule };
	LeakReport r = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	Leak *leaks[1] = { wire_leak(LK(PIPE), "pipe:[\"1\"]", LP(WARN), cat, 1) };
	struct sbuf b = { 0 };
	size_t n;

	rule.kind = LK(PIPE);
	rule.policy = LP(WARN);
	r.policy = rules;
	r.n_policy = 1;
	r.leaks = leaks;
	r.n_leaks = 1;
	r.rescanned = true;
	r.changes = leaks_compare(NULL, 0, leaks, 1, &n);
	r.n_changes = n;
	c.leaks = &r;
	CHECK(manifest_json(&c, &b) == 0 && b.p);
	CHECK(b.p && strstr(b.p, "{\"policy\": [{\"kind\": \"pipe\", \"policy\": \"warn\"}]"));
	CHECK(b.p && strstr(b.p, "\"resource\": \"pipe:[\\\"1\\\"]\""));
	CHECK(b.p && strstr(b.p, "\"outside\": [{\"pid\": 20, \"comm\": \"cat\", \"how\": \"\"}]"));
	CHECK(b.p && strstr(b.p, "\"rescanned\": true"));
	CHECK(b.p && strstr(b.p, "\"what\": \"appeared\""));
	sbuf_free(&b);
}

/* The whole scan on a real tree: the root is found, an unknown pid refused. */
static void test_scan(void)
{
	struct host_scan s;
	struct herr e = { 0 };
	pid_t child = spawn_call(NULL, NULL, NULL);

	CHECK(child > 0);
	CHECK(leaks_scan(child, &s, &e) == 0);
	CHECK(s.nprocs > 1 && s.tree_procs == 1 && host_in_tree(&s, child) && !host_in_tree(&s, getpid()));
	CHECK(host_find(&s, getpid()) && host_find(&s, getpid())->excluded);
	CHECK(s.init == NULL || s.init->pid == 1);
	leaks_scan_free(&s);
	reap(child);
	CHECK(leaks_scan(child, &s, &e) == -1 && e.code == EC(NO_SUCH_PROCESS));
	leaks_scan_free(&s);
}

TEST_GROUP(leaks)
{
	test_policy();
	test_sort_and_wire();
	test_options_and_refusal();
	test_compare();
	test_report_json();
	test_scan();
	arena_free_all();
}
