/* SPDX-License-Identifier: MIT */
/*
 * Leaks: the host read once, the list the detectors fill, the policy, and
 * the wire messages. See leaks.h for who detects what.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leaks.h"


/* ---- reading the host ---------------------------------------------------- */

int ns_enter(pid_t pid, const char *ns, int nstype, uint64_t ino)
{
	int self, target, saved;
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/thread-self/ns/%s", ns);
	self = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self >= 0 && target >= 0 && (!ino || (!fstat(target, &st) && st.st_ino == ino)) &&
	    !setns(target, nstype)) {
		close(target);
		return self;
	}
	saved = errno;
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	errno = saved;
	return -1;
}

int ns_leave(int self, int nstype)
{
	int ret = setns(self, nstype), saved = errno;

	close(self);
	errno = saved;
	return ret;
}

/* TracerPid of /proc/PID/status; read for the tree only, where it matters. */
static pid_t read_tracer(pid_t pid)
{
	char path[64], *buf = NULL, *p;
	pid_t tracer = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, &buf, NULL, 1 << 20))
		return 0;
	p = strstr(buf, "\nTracerPid:");
	if (p)
		tracer = strtol(p + 11, NULL, 10);
	free(buf);
	return tracer;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct host_proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static int read_procs(struct host_scan *s)
{
	struct proc_stat st;
	size_t cap = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -1;
	while (next_proc(d, &st)) {
		struct host_proc *p;

		if (array_grow((void **)&s->procs, &cap, s->nprocs + 1, sizeof(*s->procs))) {
			closedir(d);
			errno = ENOMEM;
			return -1;
		}
		p = &s->procs[s->nprocs++];
		memset(p, 0, sizeof(*p));
		p->pid = st.pid;
		p->ppid = st.ppid;
		p->pgid = st.pgid;
		p->sid = st.sid;
		p->tty_nr = st.tty_nr;
		p->vsize = st.vsize;
		p->state = st.state;
		snprintf(p->comm, sizeof(p->comm), "%s", st.comm);
		read_ns_inodes(p->pid, p->ns);
	}
	closedir(d);
	qsort(s->procs, s->nprocs, sizeof(*s->procs), cmp_proc);
	return 0;
}

/*
 * The helper and the CRIU it runs are outside every tree but hold the
 * tree's resources for their own reasons (CRIU steals descriptors while
 * dumping): they are never holders.
 */
static void mark_excluded(struct host_scan *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct host_proc *p = &s->procs[i];

		if (p->pid == s->self || (p->ppid == s->self && !strncmp(p->comm, "criu", 4)))
			p->excluded = true;
	}
}

/* Marks root and its descendants, as proc_tree does, from the one reading. */
static int mark_tree(struct host_scan *s)
{
	struct pidlist queue = { 0 };
	int ret = 0;

	if (pidlist_add(&queue, s->root))
		return -1;
	for (size_t i = 0; i < queue.n && !ret; i++) {
		struct host_proc *p = (struct host_proc *)host_find(s, queue.v[i]);

		if (!p || p->in_tree)
			continue;
		p->in_tree = true;
		p->tracer = read_tracer(p->pid);
		s->tree_procs++;
		for (size_t j = 0; j < s->nprocs && !ret; j++)
			if (s->procs[j].ppid == p->pid && s->procs[j].pid != p->pid)
				ret = pidlist_add(&queue, s->procs[j].pid);
	}
	pidlist_free(&queue);
	return ret;
}

const struct host_proc *host_find(const struct host_scan *s, pid_t pid)
{
	struct host_proc key = { .pid = pid };

	return bsearch(&key, s->procs, s->nprocs, sizeof(*s->procs), cmp_proc);
}

bool host_in_tree(const struct host_scan *s, pid_t pid)
{
	const struct host_proc *p = host_find(s, pid);

	return p && p->in_tree;
}

/* ---- the leak list ------------------------------------------------------- */

struct leak *leak_find(const struct host_scan *s, int kind, const char *resource)
{
	for (size_t i = 0; i < s->nleaks; i++)
		if (s->leaks[i]->kind == kind && !strcmp(s->leaks[i]->resource, resource))
			return s->leaks[i];
	return NULL;
}

struct leak *leak_get(struct host_scan *s, int kind, const char *resource)
{
	struct leak *lk = leak_find(s, kind, resource);

	if (lk)
		return lk;
	if (array_grow((void **)&s->leaks, &s->cap_leaks, s->nleaks + 1, sizeof(*s->leaks))) {
		fprintf(stderr, "checkpoint-helper: out of memory\n");
		abort();
	}
	lk = arena_alloc(sizeof(*lk));
	lk->kind = kind;
	lk->resource = arena_strdup(resource);
	lk->summary = lk->risk = lk->criu = "";
	lk->default_policy = LP(WARN);
	s->leaks[s->nleaks++] = lk;
	return lk;
}

static bool holds_already(const struct leak_holder *v, size_t n, pid_t pid, const struct leak_holder *h)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].pid == pid && v[i].has_fd == h->has_fd && (!h->has_fd || v[i].fd == h->fd))
			return true;
	return false;
}

void leak_hold(struct host_scan *s, struct leak *lk, pid_t pid, const struct leak_holder *h)
{
	const struct host_proc *p = host_find(s, pid);
	struct leak_holder **v;
	size_t *n, *cap;

	if (!p || p->excluded)
		return;
	v = p->in_tree ? &lk->inside : &lk->outside;
	n = p->in_tree ? &lk->ninside : &lk->noutside;
	cap = p->in_tree ? &lk->cap_inside : &lk->cap_outside;
	if (holds_already(*v, *n, pid, h))
		return;
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct leak_holder *nv = arena_alloc(ncap * sizeof(*nv));

		if (*n)
			memcpy(nv, *v, *n * sizeof(*nv));
		*v = nv;
		*cap = ncap;
	}
	(*v)[*n] = *h;
	(*v)[*n].pid = pid;
	(*v)[*n].how = arena_strdup(h->how ? h->how : "");
	(*n)++;
}

void leak_warn_choices(struct leak *lk)
{
	leak_choice(lk, LP(WARN), "", "checkpoint as CRIU does; the checkpoint is flagged");
	leak_choice(lk, LP(IGNORE), "", "the same as warn, but the checkpoint is not flagged");
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
}

void leak_choice(struct leak *lk, int policy, const char *criu_option, const char *effect)
{
	if (lk->nchoices == MAX_LEAK_CHOICES)
		return;
	for (size_t i = 0; i < lk->nchoices; i++)
		if (lk->choices[i].policy == policy)
			return;
	lk->choices[lk->nchoices++] = (struct leak_choice){ policy, criu_option ? criu_option : "",
							    effect ? effect : "" };
}

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

/* ---- the scan ------------------------------------------------------------ */

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

/* detect_files first: it counts every process's descriptors, which kcmp's prefilter uses */
static const detector_fn detectors[] = {
	detect_files, detect_file_locks, detect_sockets, detect_namespaces, detect_relatives,
	detect_shared_tasks, detect_shared_memory, detect_sysv,
};

int leaks_scan(pid_t root, struct host_scan *s, struct herr *e)
{
	memset(s, 0, sizeof(*s));
	s->root = root;
	s->self = getpid();
	if (read_procs(s)) {
		herr_set(e, EC(INTERNAL), errno, "cannot read /proc: %s", strerror(errno));
		return -1;
	}
	s->init = host_find(s, 1);
	if (!host_find(s, root)) {
		herr_set(e, EC(NO_SUCH_PROCESS), ESRCH, "process %d does not exist", root);
		return -1;
	}
	mark_excluded(s);
	if (mark_tree(s)) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory listing processes");
		return -1;
	}
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
	free(s->procs);
	free(s->leaks);
	fd_table_free(s->fds);
	memset(s, 0, sizeof(*s));
}

/* ---- policy -------------------------------------------------------------- */

static const char *const kind_names[LEAK_KIND_MAX + 1] = {
	[LK(UTS_NS)] = "uts-ns", [LK(IPC_NS)] = "ipc-ns", [LK(NET_NS)] = "net-ns",
	[LK(MNT_NS)] = "mnt-ns", [LK(PID_NS)] = "pid-ns", [LK(USER_NS)] = "user-ns",
	[LK(CGROUP_NS)] = "cgroup-ns", [LK(TIME_NS)] = "time-ns", [LK(PIPE)] = "pipe",
	[LK(FIFO)] = "fifo", [LK(UNIX_SOCKET)] = "unix-socket", [LK(TCP)] = "tcp", [LK(UDP)] = "udp",
	[LK(TTY)] = "tty", [LK(SYSV_SHM)] = "sysv-shm", [LK(SYSV_SEM)] = "sysv-sem",
	[LK(SYSV_MSG)] = "sysv-msg", [LK(SHARED_MEMORY)] = "shared-memory",
	[LK(FILE_LOCK)] = "file-lock", [LK(SHARED_TASK)] = "shared-task", [LK(PARENT)] = "parent",
	[LK(SESSION)] = "session", [LK(PROCESS_GROUP)] = "process-group", [LK(TRACER)] = "tracer",
	[LK(MEMFD)] = "memfd", [LK(DELETED_FILE)] = "deleted-file",
	[LK(VOLATILE_FILE)] = "volatile-file",
};

static const char *const policy_names[LEAK_POLICY_MAX + 1] = {
	[LP(FAIL)] = "fail", [LP(WARN)] = "warn", [LP(IGNORE)] = "ignore",
	[LP(EXTERNAL)] = "external", [LP(SAVE)] = "save",
};

const char *leak_kind_name(int kind)
{
	return kind > 0 && kind <= LEAK_KIND_MAX && kind_names[kind] ? kind_names[kind] : "unknown";
}

const char *leak_policy_name(int policy)
{
	return policy > 0 && policy <= LEAK_POLICY_MAX ? policy_names[policy] : "unknown";
}

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

/* The inode a namespace leak names ("net:[4026532247]"), 0 when none. */
static unsigned long long ns_leak_inode(const Leak *l)
{
	unsigned long long ino = 0;

	return sscanf(l->resource, "%*[a-z]:[%llu]", &ino) == 1 ? ino : 0;
}

/*
 * CRIU's --external entry for a net namespace handed to it as external: the
 * namespace is not dumped (its devices, addresses and rules are the outside's
 * too, and a veth whose peer is outside would fail the dump), and a restore
 * puts the tree back in it through a descriptor inherited under this key.
 */
static const char *net_external(const Leak *l)
{
	unsigned long long ino = ns_leak_inode(l);

	return ino ? arena_printf("net[%llu]:%s", ino, l->resource) : NULL;
}

DumpOptions *leaks_dump_options(Leak *const *leaks, size_t n)
{
	DumpOptions *o = arena_alloc(sizeof(*o));

	checkpoint__helper__v1__dump_options__init(o);
	o->external = arena_alloc((n + 1) * sizeof(*o->external));
	for (size_t i = 0; i < n; i++) {
		const Leak *l = leaks[i];
		const char *net = is_policy(l, LK(NET_NS), LP(EXTERNAL)) && !l->host_own ? net_external(l) : NULL;

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
		 "(every leak lists its choices) or stop sharing them", root, n, n == 1 ? "" : "s",
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

/* ---- restore: reconnecting what was handed to CRIU as external ------------ */

/*
 * The same pipe, reopened through an outside holder's descriptor, in the
 * direction the tree used it. Opening a pipe through /proc gives a new
 * file of the same pipe, as a FIFO's path would.
 */
static int reopen_pipe(const Leak *l, int *fd, struct herr *e)
{
	const LeakHolder *in = l->n_inside ? l->inside[0] : NULL;
	int mode = in && in->writable && !in->readable ? O_WRONLY : in && in->readable && !in->writable
		   ? O_RDONLY : O_RDWR;

	for (size_t i = 0; i < l->n_outside; i++) {
		const LeakHolder *h = l->outside[i];
		char path[64], link[128];
		ssize_t n;

		if (!h->has_fd)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", h->pid, h->fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, l->resource))
			continue;	/* the pid or the descriptor is something else now */
		*fd = open(path, mode | O_NONBLOCK | O_CLOEXEC);
		if (*fd < 0)
			continue;
		if (fcntl(*fd, F_SETFL, mode) == 0)
			return 0;
		close(*fd);
	}
	herr_set(e, EC(EXTERNAL_GONE), ENOENT, "%s was handed to CRIU as external, but none of the outside "
		 "processes that held it (pid %d%s) holds it any more; restore needs the same pipe; a "
		 "checkpoint with the policy warn for it restores a new pipe instead", l->resource,
		 l->n_outside ? l->outside[0]->pid : 0, l->n_outside > 1 ? " and others" : "");
	return -1;
}

/* A live process in namespace ino (not 0): a recorded outside holder, else any. */
static pid_t ns_holder(const Leak *l, const char *ns, uint64_t ino)
{
	pid_t pid, found = 0;
	DIR *d;

	for (size_t i = 0; i < l->n_outside; i++)
		if (ns_inode(l->outside[i]->pid, ns) == ino)
			return l->outside[i]->pid;
	d = opendir("/proc");
	if (!d)
		return 0;
	while (!found && (pid = next_pid(d)))
		if (pid > 1 && pid != getpid() && ns_inode(pid, ns) == ino)
			found = pid;
	closedir(d);
	return found;
}

/* CRIU restores what it dumped under key from fd (an --inherit-fd entry). */
static void plan_inherit(struct restore_plan *p, const char *key, int fd)
{
	InheritFd *in = arena_alloc(sizeof(*in));

	inherit_fd__init(in);
	in->key = (char *)key;
	in->fd = fd;
	p->inherit[p->ninherit++] = in;
}

/*
 * A descriptor of the namespace a leak names, opened through a process in it
 * now: held, it keeps the namespace even if that process (a member of the
 * tree a restore kills first, say) is gone by the time CRIU enters it.
 */
static int open_namespace(const Leak *l, struct restore_plan *p, struct herr *e)
{
	const char *ns = ns_names[l->kind - LK(UTS_NS)];
	unsigned long long ino = ns_leak_inode(l);
	char path[64];
	pid_t pid;
	int fd;

	if (!ino) {
		herr_set(e, EC(BAD_REQUEST), 0, "the manifest's leak %s names no namespace inode", l->resource);
		return -1;
	}
	pid = ns_holder(l, ns, ino);
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	fd = pid ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		herr_set(e, EC(EXTERNAL_GONE), ENOENT, "the %s namespace %s was handed to CRIU as external (the "
			 "restored tree goes back in it), but no process is in it any more", ns, l->resource);
		return -1;
	}
	p->fds[p->nfds++] = fd;
	return fd;
}

/* An external net namespace of the dump's --external entries: inherited by its key. */
static bool net_dumped_external(const Leak *l, const DumpOptions *o)
{
	const char *entry = l->kind == LK(NET_NS) ? net_external(l) : NULL;

	for (size_t i = 0; entry && o && i < o->n_external; i++)
		if (!strcmp(o->external[i], entry))
			return true;
	return false;
}

/* The restored tree goes back in the namespace: inherited (net, dumped as external) or joined. */
static int plan_namespace(const Leak *l, const DumpOptions *o, struct restore_plan *p, struct herr *e)
{
	int fd = open_namespace(l, p, e);
	JoinNamespace *j;

	if (fd < 0)
		return -1;
	if (net_dumped_external(l, o)) {
		plan_inherit(p, l->resource, fd);
		return 0;
	}
	j = arena_alloc(sizeof(*j));
	join_namespace__init(j);
	j->ns = (char *)ns_names[l->kind - LK(UTS_NS)];
	j->ns_file = arena_printf("/proc/%d/fd/%d", getpid(), fd);	/* CRIU opens it while we hold it */
	p->join[p->njoin++] = j;
	return 0;
}

static int plan_inherit_pipe(const Leak *l, struct restore_plan *p, struct herr *e)
{
	int fd;

	if (reopen_pipe(l, &fd, e))
		return -1;
	p->fds[p->nfds++] = fd;
	plan_inherit(p, l->resource, fd);
	return 0;
}

/* One terminal is handed in once, however many leaks name it. */
static bool tty_planned(const struct restore_plan *p, const Leak *l)
{
	for (size_t i = 0; i < p->ntty; i++)
		if (!strcmp(p->ttys[i], l->resource))
			return true;
	return false;
}

static bool joinable(int kind)
{
	return kind == LK(UTS_NS) || kind == LK(IPC_NS) || kind == LK(NET_NS) || kind == LK(TIME_NS) ||
	       kind == LK(USER_NS);
}

static bool is_output_pipe(const Leak *l, const OutputPipes *o)
{
	char a[32], b[32];

	if (!o)
		return false;
	snprintf(a, sizeof(a), "pipe:[%u]", o->stdout_pipe_id);
	snprintf(b, sizeof(b), "pipe:[%u]", o->stderr_pipe_id);
	return !strcmp(l->resource, a) || !strcmp(l->resource, b);
}

/*
 * A terminal handed to CRIU as external (--shell-job): the restored session
 * gets the same terminal, opened by its path, keyed as CRIU names an
 * external tty: tty[rdev:dev] of the terminal as stat shows it.
 */
static int plan_inherit_tty(const Leak *l, struct restore_plan *p, struct herr *e)
{
	struct stat st;
	int fd;

	if (strncmp(l->resource, "/dev/", 5))
		return 0;	/* a terminal the helper cannot name: CRIU says what it misses */
	fd = open(l->resource, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISCHR(st.st_mode)) {
		herr_set(e, EC(EXTERNAL_GONE), errno, "the terminal %s was handed to CRIU as external "
			 "(--shell-job), but it cannot be opened any more (%s); the process that held its "
			 "other side is probably gone", l->resource, strerror(errno ? errno : ENOTTY));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	p->fds[p->nfds++] = fd;
	p->ttys[p->ntty++] = l->resource;
	plan_inherit(p, arena_printf("tty[%x:%x]", (unsigned)st.st_rdev, (unsigned)st.st_dev), fd);
	return 0;
}

int leaks_restore_plan(const LeakReport *r, const DumpOptions *o, const OutputPipes *output,
		       struct restore_plan *p, struct herr *e)
{
	size_t n = r ? r->n_leaks : 0;

	memset(p, 0, sizeof(*p));
	p->inherit = arena_alloc((n + 1) * sizeof(*p->inherit));
	p->join = arena_alloc((n + 1) * sizeof(*p->join));
	p->fds = arena_alloc((n + 1) * sizeof(*p->fds));
	p->ttys = arena_alloc((n + 1) * sizeof(*p->ttys));
	for (size_t i = 0; i < n; i++) {
		const Leak *l = r->leaks[i];
		int ret = 0;

		if (l->policy != LP(EXTERNAL))
			continue;
		if (l->kind == LK(PIPE) && !is_output_pipe(l, output))
			ret = plan_inherit_pipe(l, p, e);
		else if (l->kind == LK(TTY) && !tty_planned(p, l))
			ret = plan_inherit_tty(l, p, e);
		else if (joinable(l->kind) && !l->host_own)
			ret = plan_namespace(l, o, p, e);
		if (ret) {
			restore_plan_close(p);
			return -1;
		}
	}
	return 0;
}

void restore_plan_close(struct restore_plan *p)
{
	for (size_t i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	p->nfds = 0;
}

/* ---- the report in manifest.json ---------------------------------------- */

static void json_str(struct sbuf *b, const char *key, const char *v, bool comma)
{
	sbuf_printf(b, "%s\"%s\": ", comma ? ", " : "", key);
	json_escape(b, v ? v : "");
}

static void json_holders(struct sbuf *b, const char *key, LeakHolder *const *v, size_t n)
{
	sbuf_printf(b, ", \"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		sbuf_printf(b, "%s{\"pid\": %d, ", i ? ", " : "", v[i]->pid);
		json_str(b, "comm", v[i]->comm, false);
		json_str(b, "how", v[i]->how, true);
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "]");
}

static void json_leak(struct sbuf *b, const Leak *l)
{
	json_str(b, "kind", leak_kind_name(l->kind), false);
	json_str(b, "resource", l->resource, true);
	json_str(b, "summary", l->summary, true);
	json_holders(b, "inside", l->inside, l->n_inside);
	json_holders(b, "outside", l->outside, l->n_outside);
	sbuf_printf(b, ", \"outside_count\": %u", l->outside_count);
	json_str(b, "risk", l->risk, true);
	json_str(b, "criu", l->criu, true);
	json_str(b, "policy", leak_policy_name(l->policy), true);
	json_str(b, "default_policy", leak_policy_name(l->default_policy), true);
	if (l->policy_note && l->policy_note[0])
		json_str(b, "policy_note", l->policy_note, true);
	if (l->host_own)
		sbuf_puts(b, ", \"host_own\": true");
}

static const char *change_name(int what)
{
	return what == WHAT(APPEARED) ? "appeared" : what == WHAT(VANISHED) ? "vanished" : "holders changed";
}

int leak_report_json(struct sbuf *b, const LeakReport *r)
{
	sbuf_puts(b, "{\"policy\": [");
	for (size_t i = 0; i < r->n_policy; i++) {
		sbuf_printf(b, "%s{", i ? ", " : "");
		json_str(b, "kind", leak_kind_name(r->policy[i]->kind), false);
		if (r->policy[i]->resource && r->policy[i]->resource[0])
			json_str(b, "resource", r->policy[i]->resource, true);
		json_str(b, "policy", leak_policy_name(r->policy[i]->policy), true);
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "],\n    \"leaks\": [");
	for (size_t i = 0; i < r->n_leaks; i++) {
		sbuf_printf(b, "%s\n      {", i ? "," : "");
		json_leak(b, r->leaks[i]);
		sbuf_puts(b, "}");
	}
	sbuf_printf(b, "],\n    \"rescanned\": %s", r->rescanned ? "true" : "false");
	if (r->rescan_problem && r->rescan_problem[0])
		json_str(b, "rescan_problem", r->rescan_problem, true);
	sbuf_puts(b, ",\n    \"changes\": [");
	for (size_t i = 0; i < r->n_changes; i++) {
		const LeakChange *c = r->changes[i];

		sbuf_printf(b, "%s\n      {", i ? "," : "");
		json_str(b, "what", change_name(c->what), false);
		json_str(b, "kind", c->leak ? leak_kind_name(c->leak->kind) : "", true);
		json_str(b, "resource", c->leak ? c->leak->resource : "", true);
		json_str(b, "detail", c->detail, true);
		sbuf_puts(b, "}");
	}
	return sbuf_puts(b, "]}");
}
