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
#include "restore_plan.h"
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

/* A restore reopens an external pipe through a live outside holder; a gone one is refused. */
static void test_restore_plan(void)
{
	LeakReport r = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	LeakHolder in = CHECKPOINT__HELPER__V1__LEAK_HOLDER__INIT, out = CHECKPOINT__HELPER__V1__LEAK_HOLDER__INIT;
	LeakHolder *ins[1] = { &in }, *outs[1] = { &out };
	Leak l = CHECKPOINT__HELPER__V1__LEAK__INIT;
	Leak *leaks[1] = { &l };
	struct restore_plan plan;
	struct herr e = { 0 };
	char resource[64], buf[4];
	struct stat st;
	int p[2];

	CHECK(pipe(p) == 0);
	CHECK(fstat(p[0], &st) == 0);
	snprintf(resource, sizeof(resource), "pipe:[%lu]", (unsigned long)st.st_ino);
	l.kind = LK(PIPE);
	l.resource = resource;
	l.policy = LP(EXTERNAL);
	l.inside = ins;
	l.n_inside = 1;
	in.writable = true;			/* the tree wrote */
	out.pid = getpid();
	out.has_fd = true;
	out.fd = p[0];				/* the outside reader */
	l.outside = outs;
	l.n_outside = 1;
	r.leaks = leaks;
	r.n_leaks = 1;
	CHECK(leaks_restore_plan(&r, NULL, NULL, &plan, &e) == 0);
	CHECK(plan.ninherit == 1 && plan.nfds == 1 && !strcmp(plan.inherit[0]->key, resource));
	if (plan.nfds == 1) {
		CHECK(write(plan.fds[0], "ok", 2) == 2);	/* the same pipe, write end */
		CHECK(read(p[0], buf, 2) == 2 && !memcmp(buf, "ok", 2));
		CHECK((fcntl(plan.fds[0], F_GETFL) & O_NONBLOCK) == 0);
	}
	restore_plan_close(&plan);

	l.policy = LP(WARN);			/* not external: nothing to do */
	CHECK(leaks_restore_plan(&r, NULL, NULL, &plan, &e) == 0 && plan.ninherit == 0);
	l.policy = LP(EXTERNAL);
	close(p[0]);
	close(p[1]);				/* the holder let it go */
	CHECK(leaks_restore_plan(&r, NULL, NULL, &plan, &e) == -1 && e.code == EC(EXTERNAL_GONE) &&
	      strstr(e.msg, "holds it any more"));
	CHECK(leaks_restore_plan(NULL, NULL, NULL, &plan, &e) == 0 && plan.ninherit == 0 && plan.njoin == 0);
}

/* A net namespace dumped as external (an --external entry) is inherited by its key; without the entry, joined. */
static void test_restore_net_external(void)
{
	LeakReport r = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	DumpOptions o = CHECKPOINT__HELPER__V1__DUMP_OPTIONS__INIT;
	Leak l = CHECKPOINT__HELPER__V1__LEAK__INIT;
	Leak *leaks[1] = { &l };
	struct restore_plan plan;
	struct herr e = { 0 };
	char resource[64], *external[1];
	struct stat st, held;

	CHECK(stat("/proc/self/ns/net", &st) == 0);
	snprintf(resource, sizeof(resource), "net:[%lu]", (unsigned long)st.st_ino);
	external[0] = arena_printf("net[%lu]:%s", (unsigned long)st.st_ino, resource);
	l.kind = LK(NET_NS);
	l.resource = resource;
	l.policy = LP(EXTERNAL);
	r.leaks = leaks;
	r.n_leaks = 1;
	o.external = external;
	o.n_external = 1;
	CHECK(leaks_restore_plan(&r, &o, NULL, &plan, &e) == 0 && plan.ninherit == 1 && plan.njoin == 0);
	if (plan.ninherit == 1) {
		CHECK(!strcmp(plan.inherit[0]->key, resource) && plan.inherit[0]->fd == plan.fds[0]);
		CHECK(fstat(plan.inherit[0]->fd, &held) == 0 && held.st_ino == st.st_ino);
	}
	restore_plan_close(&plan);
	o.n_external = 0;	/* a checkpoint from before the --external entry: joined */
	CHECK(leaks_restore_plan(&r, &o, NULL, &plan, &e) == 0 && plan.ninherit == 0 && plan.njoin == 1);
	restore_plan_close(&plan);
}

/* A namespace given as external is joined through a live process in it. */
static void test_restore_join(void)
{
	LeakReport r = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	Leak l = CHECKPOINT__HELPER__V1__LEAK__INIT;
	Leak *leaks[1] = { &l };
	struct restore_plan plan;
	struct herr e = { 0 };
	char resource[64];
	struct stat st;
	int ret;

	CHECK(stat("/proc/self/ns/uts", &st) == 0);
	snprintf(resource, sizeof(resource), "uts:[%lu]", (unsigned long)st.st_ino);
	l.kind = LK(UTS_NS);
	l.resource = resource;
	l.policy = LP(EXTERNAL);
	r.leaks = leaks;
	r.n_leaks = 1;
	ret = leaks_restore_plan(&r, NULL, NULL, &plan, &e);
	CHECK(ret == 0 && plan.njoin == 1 && plan.nfds == 1);
	if (ret == 0 && plan.njoin == 1) {
		struct stat held;
		char path[64];

		/* through a descriptor the helper holds, so that the namespace outlives the process it was found in */
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", getpid(), plan.fds[0]);
		CHECK(!strcmp(plan.join[0]->ns, "uts") && !strcmp(plan.join[0]->ns_file, path));
		CHECK(fstat(plan.fds[0], &held) == 0 && held.st_ino == st.st_ino);
	}
	restore_plan_close(&plan);
	test_restore_net_external();
	l.resource = "uts:[1]";			/* no process is in it */
	CHECK(leaks_restore_plan(&r, NULL, NULL, &plan, &e) == -1 && e.code == EC(EXTERNAL_GONE));
	l.resource = "uts:[x]";
	CHECK(leaks_restore_plan(&r, NULL, NULL, &plan, &e) == -1 && e.code == EC(BAD_REQUEST));
}

/* The program's own output pipes are the restore's to reconnect; a terminal is reopened by its path. */
static void test_restore_tty_and_output(void)
{
	LeakReport r = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	OutputPipes out = CHECKPOINT__HELPER__V1__OUTPUT_PIPES__INIT;
	Leak pipe_leak = CHECKPOINT__HELPER__V1__LEAK__INIT, tty = CHECKPOINT__HELPER__V1__LEAK__INIT;
	Leak session = CHECKPOINT__HELPER__V1__LEAK__INIT;
	Leak *leaks[3] = { &pipe_leak, &tty, &session };
	struct restore_plan plan;
	struct herr e = { 0 };
	char key[64], *pts;
	struct stat st;
	int master;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
	pts = master >= 0 ? ptsname(master) : NULL;
	CHECK(pts && stat(pts, &st) == 0);
	if (!pts || master < 0)
		return;
	snprintf(key, sizeof(key), "tty[%x:%x]", (unsigned)st.st_rdev, (unsigned)st.st_dev);
	out.stdout_pipe_id = 42;
	pipe_leak.kind = LK(PIPE);
	pipe_leak.resource = "pipe:[42]";	/* no holder: planning it would fail */
	pipe_leak.policy = LP(EXTERNAL);
	tty.kind = session.kind = LK(TTY);
	tty.resource = session.resource = pts;	/* two leaks, one terminal */
	tty.policy = session.policy = LP(EXTERNAL);
	r.leaks = leaks;
	r.n_leaks = 3;
	CHECK(leaks_restore_plan(&r, NULL, &out, &plan, &e) == 0);
	CHECK(plan.ninherit == 1 && plan.nfds == 1);
	if (plan.ninherit == 1)
		CHECK(!strcmp(plan.inherit[0]->key, key));
	restore_plan_close(&plan);
	CHECK(leaks_restore_plan(&r, NULL, NULL, &plan, &e) == -1 && e.code == EC(EXTERNAL_GONE));
	tty.resource = session.resource = "/dev/pts/999999";
	r.leaks = leaks + 1;
	r.n_leaks = 2;
	CHECK(leaks_restore_plan(&r, NULL, NULL, &plan, &e) == -1 && e.code == EC(EXTERNAL_GONE) &&
	      strstr(e.msg, "cannot be opened"));
	close(master);
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
	test_restore_plan();
	test_restore_join();
	test_restore_tty_and_output();
	test_scan();
	arena_free_all();
}
