/* SPDX-License-Identifier: MIT */
/*
 * Leaks: resources the tree (a root and its descendants) shares with
 * processes outside it. The scan (the host and its descriptors read once,
 * then every detector), the policy, the wire messages, and what a dump
 * makes of them: its refusal, CRIU's options, the second scan's changes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "fd_table.h"
#include "leak_files.h"
#include "leak_kcmp.h"
#include "leak_locks.h"
#include "leak_memory.h"
#include "leak_names.h"
#include "leak_scan.h"
#include "leak_sockets.h"
#include "leak_sysv.h"
#include "leak_tasks.h"
#include "leak_terminals.h"
#include "leaks.h"
#include "program.h"
#include "sbuf.h"
#include "util.h"

/* ---- the scan ------------------------------------------------------------ */

static void drop_unshared(struct host_scan *s)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->nleaks; i++)
		if (s->leaks[i]->noutside || s->leaks[i]->standalone)
			s->leaks[kept++] = s->leaks[i];
	s->nleaks = kept;
}

static int cmp_leak(const void *a, const void *b)
{
	const struct leak *x = *(struct leak *const *)a, *y = *(struct leak *const *)b;

	if (x->kind != y->kind)
		return x->kind - y->kind;
	return strcmp(x->resource, y->resource);
}

void leaks_sort(struct host_scan *s)
{
	if (s->nleaks)
		qsort(s->leaks, s->nleaks, sizeof(*s->leaks), cmp_leak);
}

/*
 * The stdout and stderr pipes of a program this helper launched are the
 * helper's to reconnect: a restore hands it new pipes in their place
 * (inherit_fd, see OutputPipes). Outside holders of their write ends (the
 * launched program itself when only a descendant is dumped) keep the old
 * pipes.
 */
static void mark_output_pipes(struct host_scan *s)
{
	uint32_t ids[2];

	if (program_pipe_ids(s->root, &ids[0], &ids[1]))
		return;
	for (size_t i = 0; i < s->nleaks; i++) {
		struct leak *lk = s->leaks[i];

		if (lk->kind != LK(PIPE) || !lk->object || (lk->object != ids[0] && lk->object != ids[1]))
			continue;
		lk->default_policy = LP(EXTERNAL);
		lk->nchoices = 0;
		leak_choice(lk, LP(EXTERNAL), "--inherit-fd at restore",
			    "the program's output pipe to this helper: a restore hands the helper new pipes in "
			    "its place, so its output streams to the debug session again; outside writers keep "
			    "the old pipe");
	}
}

typedef int (*detector_fn)(struct host_scan *s, struct herr *e);

/* after fd_table_read: each process's descriptor count is kcmp's prefilter */
static const detector_fn detectors[] = {
	detect_files, detect_terminals, detect_file_locks, detect_sockets, detect_namespaces,
	detect_relatives, detect_shared_tasks, detect_shared_memory, detect_sysv,
};

int leaks_scan(pid_t root, struct host_scan *s, struct herr *e)
{
	if (host_read(root, s, e) || fd_table_read(s, e))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(detectors); i++)
		if (detectors[i](s, e))
			return -1;
	mark_output_pipes(s);
	drop_unshared(s);
	leaks_sort(s);
	return 0;
}

void leaks_scan_free(struct host_scan *s)
{
	fd_table_free(s->fds);
	host_scan_release(s);
	memset(s, 0, sizeof(*s));
}

/* ---- policy -------------------------------------------------------------- */

int leak_rules_valid(LeakRule *const *rules, size_t n, struct herr *e)
{
	if (n > MAX_POLICY_RULES) {
		herr_set(e, EC(BAD_REQUEST), 0, "%zu policy rules; at most %d are accepted", n, MAX_POLICY_RULES);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const LeakRule *r = rules[i];

		if (r->kind <= 0 || r->kind > LEAK_KIND_MAX) {
			herr_set(e, EC(BAD_REQUEST), 0, "policy rule %zu names no leak kind (%d)", i, r->kind);
			return -1;
		}
		if (r->policy <= 0 || r->policy > LEAK_POLICY_MAX) {
			herr_set(e, EC(BAD_REQUEST), 0, "policy rule %zu (%s) names no policy (%d)", i,
				 leak_kind_name(r->kind), r->policy);
			return -1;
		}
		if (r->resource && !valid_text(r->resource, MAX_RESOURCE_LEN)) {
			herr_set(e, EC(BAD_REQUEST), 0, "policy rule %zu (%s): the resource is longer than %d "
				 "bytes or holds control characters", i, leak_kind_name(r->kind), MAX_RESOURCE_LEN);
			return -1;
		}
	}
	return 0;
}

static bool has_choice(const struct leak *lk, int policy)
{
	for (size_t i = 0; i < lk->nchoices; i++)
		if (lk->choices[i].policy == policy)
			return true;
	return false;
}

/* The rule for lk: the last naming its resource, else the last naming its kind. */
static const LeakRule *rule_for(const struct leak *lk, LeakRule *const *rules, size_t n)
{
	const LeakRule *by_kind = NULL, *by_resource = NULL;

	for (size_t i = 0; i < n; i++) {
		if ((int)rules[i]->kind != lk->kind)
			continue;
		if (!rules[i]->resource || !rules[i]->resource[0])
			by_kind = rules[i];
		else if (!strcmp(rules[i]->resource, lk->resource))
			by_resource = rules[i];
	}
	return by_resource ? by_resource : by_kind;
}

static const char *choice_list(const struct leak *lk)
{
	struct sbuf b = { 0 };
	char *out;

	for (size_t i = 0; i < lk->nchoices; i++)
		sbuf_printf(&b, "%s%s", i ? ", " : "", leak_policy_name(lk->choices[i].policy));
	out = arena_strdup(b.p ? b.p : "");
	sbuf_free(&b);
	return out;
}

void leaks_apply_policy(struct host_scan *s, LeakRule *const *rules, size_t n)
{
	for (size_t i = 0; i < s->nleaks; i++) {
		struct leak *lk = s->leaks[i];
		const LeakRule *r = rule_for(lk, rules, n);

		lk->policy = lk->default_policy;
		lk->policy_note = "";
		if (!r)
			continue;
		if (has_choice(lk, r->policy)) {
			lk->policy = r->policy;
			continue;
		}
		lk->policy_note = arena_printf("%s is not possible for this leak (it can take: %s); its "
					       "default, %s, applies", leak_policy_name(r->policy),
					       choice_list(lk), leak_policy_name(lk->default_policy));
	}
}

/* ---- wire ---------------------------------------------------------------- */

static LeakHolder **holders_pb(const struct host_scan *s, const struct leak_holder *v, size_t n)
{
	LeakHolder **out = arena_alloc((n + 1) * sizeof(*out));

	for (size_t i = 0; i < n; i++) {
		const struct host_proc *p = host_find(s, v[i].pid);
		LeakHolder *h = arena_alloc(sizeof(*h));

		checkpoint__helper__v1__leak_holder__init(h);
		h->pid = v[i].pid;
		h->comm = arena_strdup(p ? p->comm : "");
		h->how = (char *)v[i].how;
		h->has_fd = v[i].has_fd;
		h->fd = v[i].fd;
		h->readable = v[i].readable;
		h->writable = v[i].writable;
		out[i] = h;
	}
	return out;
}

Leak *leak_to_pb(const struct host_scan *s, const struct leak *lk)
{
	Leak *l = arena_alloc(sizeof(*l));
	size_t nout = lk->noutside < MAX_LEAK_HOLDERS ? lk->noutside : MAX_LEAK_HOLDERS;

	checkpoint__helper__v1__leak__init(l);
	l->kind = lk->kind;
	l->resource = (char *)lk->resource;
	l->summary = (char *)lk->summary;
	l->risk = (char *)lk->risk;
	l->criu = (char *)lk->criu;
	l->inside = holders_pb(s, lk->inside, lk->ninside);
	l->n_inside = lk->ninside;
	l->outside = holders_pb(s, lk->outside, nout);
	l->n_outside = nout;
	l->outside_count = leak_outside_total(lk);
	l->policy = lk->policy ? lk->policy : lk->default_policy;
	l->default_policy = lk->default_policy;
	l->choices = arena_alloc((lk->nchoices + 1) * sizeof(*l->choices));
	for (size_t i = 0; i < lk->nchoices; i++) {
		LeakChoice *c = arena_alloc(sizeof(*c));

		checkpoint__helper__v1__leak_choice__init(c);
		c->policy = lk->choices[i].policy;
		c->criu_option = (char *)lk->choices[i].criu_option;
		c->effect = (char *)lk->choices[i].effect;
		l->choices[i] = c;
	}
	l->n_choices = lk->nchoices;
	l->host_own = lk->host_own;
	l->policy_note = (char *)(lk->policy_note ? lk->policy_note : "");
	return l;
}

Leak **leaks_to_pb(const struct host_scan *s, size_t *n)
{
	Leak **v = arena_alloc((s->nleaks + 1) * sizeof(*v));

	for (size_t i = 0; i < s->nleaks; i++)
		v[i] = leak_to_pb(s, s->leaks[i]);
	*n = s->nleaks;
	return v;
}

LeakScanStats *leak_stats_pb(const struct host_scan *s, uint64_t scan_us)
{
	LeakScanStats *st = arena_alloc(sizeof(*st));

	checkpoint__helper__v1__leak_scan_stats__init(st);
	st->processes = s->nprocs;
	st->tree_processes = s->tree_procs;
	st->descriptors = s->descriptors;
	st->scan_time_us = scan_us;
	return st;
}

LeakReport *leaks_report(pid_t root, LeakRule *const *rules, size_t n, struct herr *e)
{
	LeakReport *r = arena_alloc(sizeof(*r));
	uint64_t t0 = now_us();
	struct host_scan s;

	checkpoint__helper__v1__leak_report__init(r);
	r->policy = (LeakRule **)rules;
	r->n_policy = n;
	if (leaks_scan(root, &s, e)) {
		leaks_scan_free(&s);
		return NULL;
	}
	leaks_apply_policy(&s, rules, n);
	r->leaks = leaks_to_pb(&s, &r->n_leaks);
	r->stats = leak_stats_pb(&s, now_us() - t0);
	leaks_scan_free(&s);
	return r;
}

void leaks_rescan(LeakReport *r, pid_t root, LeakRule *const *rules, size_t n)
{
	struct herr e = { 0 };
	LeakReport *after = leaks_report(root, rules, n, &e);

	if (!after) {
		r->rescan_problem = arena_printf("the scan at post-dump failed: %s", e.msg);
		return;
	}
	r->changes = leaks_compare(r->leaks, r->n_leaks, after->leaks, after->n_leaks, &r->n_changes);
	r->rescanned = true;
}

/* ---- dump: refusal, options, the second scan ----------------------------- */

Leak **leaks_failing(Leak *const *leaks, size_t n, size_t *nfail)
{
	Leak **v = arena_alloc((n + 1) * sizeof(*v));

	*nfail = 0;
	for (size_t i = 0; i < n; i++)
		if (leaks[i]->policy == LP(FAIL))
			v[(*nfail)++] = leaks[i];
	return v;
}

static bool is_policy(const Leak *l, int kind, int policy)
{
	return (int)l->kind == kind && (int)l->policy == policy;
}

unsigned long long leak_ns_inode(const Leak *l)
{
	unsigned long long ino = 0;

	return sscanf(l->resource, "%*[a-z]:[%llu]", &ino) == 1 ? ino : 0;
}

const char *leak_net_external(const Leak *l)
{
	unsigned long long ino = leak_ns_inode(l);

	return ino ? arena_printf("net[%llu]:%s", ino, l->resource) : NULL;
}

DumpOptions *leaks_dump_options(Leak *const *leaks, size_t n)
{
	DumpOptions *o = arena_alloc(sizeof(*o));

	checkpoint__helper__v1__dump_options__init(o);
	o->external = arena_alloc((n + 1) * sizeof(*o->external));
	for (size_t i = 0; i < n; i++) {
		const Leak *l = leaks[i];
		const char *net = is_policy(l, LK(NET_NS), LP(EXTERNAL)) && !l->host_own ? leak_net_external(l) : NULL;

		if (net)
			o->external[o->n_external++] = (char *)net;
		o->ext_unix_sk |= is_policy(l, LK(UNIX_SOCKET), LP(EXTERNAL));
		o->tcp_established |= is_policy(l, LK(TCP), LP(SAVE));
		o->file_locks |= is_policy(l, LK(FILE_LOCK), LP(SAVE));
		o->shell_job |= is_policy(l, LK(TTY), LP(EXTERNAL)) ||
				is_policy(l, LK(SESSION), LP(EXTERNAL)) ||
				is_policy(l, LK(PROCESS_GROUP), LP(EXTERNAL));
	}
	return o;
}

/* The refusal: one sentence naming every fail leak, and the leaks themselves. */
void leaks_refusal(pid_t root, Leak **fail, size_t n, struct herr *e)
{
	struct sbuf b = { 0 };

	for (size_t i = 0; i < n && i < 5; i++)
		sbuf_printf(&b, "%s%s %s", i ? "; " : "", leak_kind_name(fail[i]->kind), fail[i]->resource);
	if (n > 5)
		sbuf_printf(&b, "; and %zu more", n - 5);
	herr_set(e, EC(LEAKS_REFUSED), 0, "process %d's tree shares %zu resource%s with processes outside it "
		 "whose policy is fail (%s); nothing was frozen or written; choose another policy for each "
		 "(every leak lists its choices) or stop sharing them", root, n, plural(n, "", "s"),
		 b.p ? b.p : "");
	sbuf_free(&b);
}

static const Leak *find_pb(Leak *const *v, size_t n, const Leak *l)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->kind == l->kind && !strcmp(v[i]->resource, l->resource))
			return v[i];
	return NULL;
}

static bool holder_listed(LeakHolder *const *v, size_t n, int32_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->pid == pid)
			return true;
	return false;
}

/* "pid 88 (cat) began to hold it; pid 77 (sh) let it go", or NULL when the holders are the same. */
static const char *holder_difference(const Leak *a, const Leak *b)
{
	struct sbuf s = { 0 };
	const char *out = NULL;

	/* the host's own namespaces are not dumped; processes come and go in them all the time */
	if (a->host_own && b->host_own)
		return NULL;
	for (size_t i = 0; i < b->n_outside; i++)
		if (!holder_listed(a->outside, a->n_outside, b->outside[i]->pid))
			sbuf_printf(&s, "%spid %d (%s) began to hold it", s.len ? "; " : "", b->outside[i]->pid,
				    b->outside[i]->comm);
	for (size_t i = 0; i < a->n_outside; i++)
		if (!holder_listed(b->outside, b->n_outside, a->outside[i]->pid))
			sbuf_printf(&s, "%spid %d (%s) let it go", s.len ? "; " : "", a->outside[i]->pid,
				    a->outside[i]->comm);
	if (!s.len && a->outside_count != b->outside_count)
		sbuf_printf(&s, "%u outside holders, then %u", a->outside_count, b->outside_count);
	if (s.len)
		out = arena_strdup(s.p);
	sbuf_free(&s);
	return out;
}

static LeakChange *change(int what, const Leak *l, const char *detail)
{
	LeakChange *c = arena_alloc(sizeof(*c));

	checkpoint__helper__v1__leak_change__init(c);
	c->what = what;
	c->leak = (Leak *)l;
	c->detail = (char *)detail;
	return c;
}

#define WHAT(x) CHECKPOINT__HELPER__V1__LEAK_CHANGE__WHAT__WHAT_##x

LeakChange **leaks_compare(Leak *const *before, size_t nb, Leak *const *after, size_t na, size_t *n)
{
	LeakChange **v = arena_alloc((nb + na + 1) * sizeof(*v));

	*n = 0;
	for (size_t i = 0; i < na; i++) {
		const Leak *old = find_pb(before, nb, after[i]);
		const char *diff;

		if (!old)
			v[(*n)++] = change(WHAT(APPEARED), after[i], "it appeared while the tree was being dumped");
		else if ((diff = holder_difference(old, after[i])))
			v[(*n)++] = change(WHAT(HOLDERS_CHANGED), after[i], diff);
	}
	for (size_t i = 0; i < nb; i++)
		if (!find_pb(after, na, before[i]))
			v[(*n)++] = change(WHAT(VANISHED), before[i], "it was gone when the dump ended");
	return v;
}
