/* SPDX-License-Identifier: MIT */
/* The operations: one handler per request kind. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "leaks.h"

struct helper_config g_cfg;
struct criu_info g_criu;

static const char *cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

/* ---- responses ----------------------------------------------------------- */

static Error *set_error(Response *resp, const struct herr *e)
{
	Error *err = arena_alloc(sizeof(*err));

	checkpoint__helper__v1__error__init(err);
	err->code = e->code ? e->code : EC(INTERNAL);
	err->errno_value = e->errnum;
	err->message = arena_strdup(e->msg);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR;
	resp->error = err;
	return err;
}

static void bad_request(Response *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad_request(Response *resp, const char *fmt, ...)
{
	struct herr e = { .code = EC(BAD_REQUEST), .errnum = EINVAL };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	set_error(resp, &e);
}

/* 0 when id may name a checkpoint, else answers BAD_REQUEST. */
static int check_checkpoint_id(const char *id, Response *resp)
{
	if (valid_checkpoint_id(id))
		return 0;
	bad_request(resp, "invalid checkpoint id: 1-%d characters of A-Z a-z 0-9 . _ -, not "
		    "starting with a dot", MAX_ID_LEN);
	return -1;
}

/* 0 when name may name a checkpoint (empty included), else answers BAD_REQUEST. */
static int check_checkpoint_name(const char *name, Response *resp)
{
	if (valid_text(name, MAX_NAME_LEN))
		return 0;
	bad_request(resp, "invalid checkpoint name: at most %d bytes, and no control characters but tab", MAX_NAME_LEN);
	return -1;
}

static void ensure_criu_probed(void)
{
	if (!g_criu.probed)
		criu_probe(&g_criu, g_cfg.criu_path, g_cfg.criu_asked);
}

/* 0 when CRIU is usable, else fills e with CRIU_UNAVAILABLE. */
static int need_criu(struct herr *e)
{
	ensure_criu_probed();
	if (!g_criu.problem[0])
		return 0;
	herr_set(e, EC(CRIU_UNAVAILABLE), 0, "%s", g_criu.problem);
	return -1;
}

/* ---- hello ------------------------------------------------------------- */

static void read_caps(HelloResult *h)
{
	char *buf = NULL, *p;
	unsigned long long eff;

	if (read_file("/proc/self/status", &buf, NULL, 1 << 20))
		return;
	p = strstr(buf, "\nCapEff:");
	if (p && sscanf(p + 8, "%llx", &eff) == 1) {
		h->capabilities = arena_alloc(64 * sizeof(char *));
		for (unsigned i = 0; i < 64; i++) {
			if (!(eff & (1ULL << i)))
				continue;
			h->capabilities[h->n_capabilities++] = i < ARRAY_SIZE(cap_names)
				? arena_strdup(cap_names[i]) : arena_printf("CAP_%u", i);
		}
	}
	free(buf);
}

/* Whether TCP connections can be saved here, and with which network lock. */
static void hello_tcp(HelloResult *h)
{
	struct herr e = { 0 };
	int lock = 0;

	if (g_criu.problem[0])
		return;		/* criu_problem says it all */
	if (criu_inet_dumpable(&g_criu, &e) || criu_network_lock(g_criu.path, &lock, &e))
		h->tcp_problem = arena_strdup(e.msg);
	else
		h->network_lock = lock == CRIU_NETWORK_LOCK_METHOD__NFTABLES ? "nftables" : "iptables";
}

static void op_hello(const Request *req, Response *resp)
{
	HelloResult *h = arena_alloc(sizeof(*h));
	HCriuFeatures *f = arena_alloc(sizeof(*f));
	struct utsname u;

	(void)req;
	checkpoint__helper__v1__hello_result__init(h);
	checkpoint__helper__v1__criu_features__init(f);
	g_criu.probed = false;	/* hello always asks afresh */
	ensure_criu_probed();
	h->helper_version = VERSION;
	h->criu_version = arena_strdup(g_criu.problem[0] && !g_criu.version[0] ? "" : g_criu.version);
	f->mem_track = g_criu.mem_track;
	f->lazy_pages = g_criu.lazy_pages;
	f->pidfd_store = g_criu.pidfd_store;
	h->criu_features = f;
	h->criu_path = arena_strdup(g_criu.path);
	h->criu_problem = arena_strdup(g_criu.problem);
	if (uname(&u) == 0) {
		h->kernel_release = arena_strdup(u.release);
		h->machine = arena_strdup(u.machine);
		h->hostname = arena_strdup(u.nodename);
	}
	h->cgroup_layout = cgroup_layout();
	h->euid = geteuid();
	read_caps(h);
	h->store_dir = g_cfg.store;
	h->helper_pid = getpid();
	hello_tcp(h);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_HELLO;
	resp->hello = h;
}

/* ---- ps ------------------------------------------------------------------ */

static int all_pids(struct pidlist *out, struct herr *e)
{
	DIR *d = opendir("/proc");
	pid_t pid;

	if (!d) {
		herr_set(e, EC(INTERNAL), errno, "cannot read /proc: %s", strerror(errno));
		return -1;
	}
	while ((pid = next_pid(d)))
		pidlist_add(out, pid);
	closedir(d);
	return 0;
}

static void op_ps(const Request *req, Response *resp)
{
	PsResult *r = arena_alloc(sizeof(*r));
	struct pidlist pids = { 0 };
	struct herr e = { 0 };
	pid_t root = req->ps->root_pid;

	checkpoint__helper__v1__ps_result__init(r);
	if (root < 0) {
		bad_request(resp, "root_pid must be 0 (all) or a pid, not %d", root);
		goto out;
	}
	if (root ? proc_tree(root, &pids, &e) : all_pids(&pids, &e)) {
		set_error(resp, &e);
		goto out;
	}
	r->processes = arena_alloc((pids.n + 1) * sizeof(*r->processes));
	for (size_t i = 0; i < pids.n; i++) {
		ProcessInfo *pi = arena_alloc(sizeof(*pi));

		if (proc_info(pids.v[i], pi))
			continue;	/* vanished mid-scan */
		r->processes[r->n_processes++] = pi;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_PS;
	resp->ps = r;
out:
	pidlist_free(&pids);
}

/* ---- freeze / thaw ------------------------------------------------------- */

static void op_freeze(const Request *req, Response *resp)
{
	pid_t root = req->freeze->root_pid;
	struct frozen_tree *t = NULL;
	struct herr e = { 0 };
	FreezeResult *r;

	if (root <= 0) {
		bad_request(resp, "root_pid must be a positive pid, not %d", root);
		return;
	}
	if (req->freeze->timeout_ms > 600000) {
		bad_request(resp, "timeout_ms %u is above 600000", req->freeze->timeout_ms);
		return;
	}
	if (!frozen_find(root))
		emit_progress(req->id, "freezing", "freezing the tree of process %d", root);
	if (freeze_tree(root, req->freeze->timeout_ms, &t, &e)) {
		set_error(resp, &e);
		return;
	}
	emit_tree_state(req->id, root, TS(FROZEN));
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__freeze_result__init(r);
	r->root_pid = root;
	r->state = TS(FROZEN);
	r->pids = arena_alloc((t->pids.n + 1) * sizeof(int32_t));
	for (size_t i = 0; i < t->pids.n; i++)
		r->pids[r->n_pids++] = t->pids.v[i];
	r->cgroup = arena_strdup(t->cgroup);
	r->freezer = t->layout;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_FREEZE;
	resp->freeze = r;
}

static void op_thaw(const Request *req, Response *resp)
{
	pid_t root = req->thaw->root_pid;
	struct frozen_tree *t;
	struct herr e = { 0 };
	ThawResult *r;

	if (root <= 0) {
		bad_request(resp, "root_pid must be a positive pid, not %d", root);
		return;
	}
	t = frozen_find(root);
	if (!t && !pid_exists(root)) {
		herr_set(&e, EC(NO_SUCH_PROCESS), ESRCH, "process %d does not exist", root);
		set_error(resp, &e);
		return;
	}
	if (t) {
		emit_progress(req->id, "thawing", "thawing the tree of process %d", root);
		if (frozen_release(t, true, &e)) {
			set_error(resp, &e);
			return;
		}
		emit_tree_state(req->id, root, TS(RUNNING));
	}
	/* thawing a tree this helper did not freeze is a no-op: it runs */
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__thaw_result__init(r);
	r->root_pid = root;
	r->state = pid_exists(root) ? TS(RUNNING) : TS(GONE);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_THAW;
	resp->thaw = r;
}

/* ---- shared by dump and restore ------------------------------------------ */

static int validate_options(const DumpOptions *o, Response *resp)
{
	if (!o)
		return 0;
	if (o->n_external > MAX_EXTERNAL) {
		bad_request(resp, "%zu external entries; at most %d are accepted", o->n_external, MAX_EXTERNAL);
		return -1;
	}
	for (size_t i = 0; i < o->n_external; i++) {
		if (!o->external[i][0] || !valid_text(o->external[i], MAX_EXTERNAL_LEN)) {
			bad_request(resp, "external entry %zu is empty, too long (max %d) or holds control "
				    "characters", i, MAX_EXTERNAL_LEN);
			return -1;
		}
	}
	return 0;
}

static void apply_options(CriuOpts *opts, const DumpOptions *o)
{
	if (!o)
		return;
	opts->has_tcp_established = opts->tcp_established = o->tcp_established;
	opts->has_ext_unix_sk = opts->ext_unix_sk = o->ext_unix_sk;
	opts->has_shell_job = opts->shell_job = o->shell_job;
	opts->has_file_locks = opts->file_locks = o->file_locks;
	opts->n_external = o->n_external;
	opts->external = o->external;
}

/* lock: from criu_network_lock; 0 leaves CRIU's default. */
static void set_network_lock(CriuOpts *opts, int lock)
{
	opts->has_network_lock = lock != 0;
	opts->network_lock = lock ? (CriuNetworkLockMethod)lock : CRIU_NETWORK_LOCK_METHOD__IPTABLES;
}

struct notify_ctx {
	uint32_t id;
	/* a dump's: the tree is scanned again at post-dump, into report */
	pid_t root;
	LeakRule *const *rules;
	size_t nrules;
	LeakReport *report;
};

/*
 * The second scan, at post-dump: CRIU waits for our answer with the tree
 * still frozen, so what differs from the first scan changed during the
 * dump, and the images may hold a state the tree never had as a whole.
 */
static void rescan_leaks(struct notify_ctx *n)
{
	LeakReport *rep = n->report;
	struct host_scan s;
	struct herr e = { 0 };
	size_t na;
	Leak **after;

	emit_progress(n->id, "leak-rescan", "scanning the frozen tree for leaks again");
	if (leaks_scan(n->root, &s, &e)) {
		rep->rescan_problem = arena_printf("the scan at post-dump failed: %s", e.msg);
		leaks_scan_free(&s);
		return;
	}
	leaks_apply_policy(&s, n->rules, n->nrules);
	after = leaks_to_pb(&s, &na);
	leaks_scan_free(&s);
	rep->changes = leaks_compare(rep->leaks, rep->n_leaks, after, na, &rep->n_changes);
	rep->rescanned = true;
}

static void on_notify(const char *script, void *arg)
{
	struct notify_ctx *n = arg;

	emit_progress(n->id, script, "CRIU: %s", script);
	if (n->report && !strcmp(script, "post-dump"))
		rescan_leaks(n);
}

/*
 * CRIU logs an RLIMIT_NOFILE error on every run where it lacks
 * CAP_SYS_RESOURCE, and reports it as cr_errmsg even when something else
 * failed: it explains nothing, so the message names the next error.
 */
static bool benign_error(const char *s)
{
	return strstr(s, "RLIMIT_NOFILE") != NULL;
}

/* Keeps the log lines that explain something; returns how many remain. */
static size_t drop_benign(char **lines, size_t n)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		if (!benign_error(lines[i]))
			lines[kept++] = lines[i];
	return kept;
}

/* The text of a log line: without CRIU's "(00.123456) " time stamp. */
static const char *log_text(const char *line)
{
	const char *p = line;

	if (*p == '(' && (p = strstr(p, ") ")))
		return p + 2;
	return line;
}

/* Fills the CRIU_FAILED error from CRIU's answer and log. */
static void criu_failure(Response *resp, const char *what, const CriuResp *r, const char *log_path,
			 const char *kept_log)
{
	const char *errmsg = r && r->cr_errmsg ? r->cr_errmsg : "";
	const char *why = NULL;
	struct herr e = { 0 };
	char **lines = NULL;
	size_t n = 0, len;
	Error *err;

	criu_log_extract(log_path, &lines, &n, NULL, 0);
	n = drop_benign(lines, n);
	if (errmsg[0] && !benign_error(errmsg))
		why = errmsg;
	for (size_t i = 0; !why && i < n; i++)
		if (strstr(lines[i], "Error") && !benign_error(lines[i]))
			why = log_text(lines[i]);
	if (!why)
		why = errmsg[0] ? errmsg : "see its log";
	len = strlen(why);
	while (len && (why[len - 1] == '\n' || why[len - 1] == ' '))
		len--;
	herr_set(&e, EC(CRIU_FAILED), r && r->has_cr_errno ? r->cr_errno : 0, "CRIU could not %s: %.*s",
		 what, (int)len, why);
	err = set_error(resp, &e);
	err->criu_message = arena_printf("%.*s", (int)len, why);
	err->criu_log = lines;
	err->n_criu_log = n;
	err->criu_log_path = arena_strdup(kept_log ? kept_log : "");
}

static void utc_stamp(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, len, "%Y%m%d-%H%M%S", &tm);
}

/* ---- dump ---------------------------------------------------------------- */

static CheckpointProcess **collect_processes(const struct pidlist *pids, size_t *n)
{
	CheckpointProcess **v = arena_alloc((pids->n + 1) * sizeof(*v));

	*n = 0;
	for (size_t i = 0; i < pids->n; i++) {
		CheckpointProcess *p = arena_alloc(sizeof(*p));
		struct proc_stat st;
		size_t argc = 0;

		if (read_proc_stat(pids->v[i], &st))
			continue;
		checkpoint__helper__v1__checkpoint_process__init(p);
		p->pid = st.pid;
		p->ppid = st.ppid;
		p->comm = arena_strdup(st.comm);
		if (read_cmdline(st.pid, &p->cmdline, &argc) == 0)
			p->n_cmdline = argc;
		v[(*n)++] = p;
	}
	return v;
}

struct dump_ctx {
	const Request *req;
	const DumpRequest *d;
	pid_t root;
	char id[MAX_ID_LEN + 1];
	char partial[4400];
	char final[4400];
	int dirfd;
	struct frozen_tree *tree;	/* frozen by a freeze request, or NULL */
	OutputPipes *pipes;		/* the root is (in) a program of this helper */
	LeakReport *leaks;		/* the scans and the policy */
	DumpOptions *options;		/* what the policy decided */
	Checkpoint *ck;
};

static int dump_prepare_dir(struct dump_ctx *c, struct herr *e)
{
	char stamp[32], rnd[8];

	if (store_prepare(g_cfg.store, e))
		return -1;
	utc_stamp(stamp, sizeof(stamp));
	if (random_hex(rnd, 4)) {
		herr_set(e, EC(INTERNAL), errno, "getrandom: %s", strerror(errno));
		return -1;
	}
	snprintf(c->id, sizeof(c->id), "%s-%s", stamp, rnd);
	snprintf(c->partial, sizeof(c->partial), "%s/%s.partial", g_cfg.store, c->id);
	snprintf(c->final, sizeof(c->final), "%s/%s", g_cfg.store, c->id);
	if (mkdir(c->partial, 0700)) {
		herr_set(e, EC(INTERNAL), errno, "cannot create %s: %s", c->partial, strerror(errno));
		return -1;
	}
	c->dirfd = open(c->partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		herr_set(e, EC(INTERNAL), errno, "cannot open %s: %s", c->partial, strerror(errno));
		return -1;
	}
	return 0;
}

/* Builds the manifest of a successful dump and moves .partial into place. */
static int dump_finish(struct dump_ctx *c, CheckpointProcess **procs, size_t nprocs, uint64_t wall_us,
		       struct herr *e)
{
	Checkpoint *ck = arena_alloc(sizeof(*ck));
	DumpStats *st = arena_alloc(sizeof(*st));
	struct utsname u;
	char *buf = NULL;
	size_t len = 0;

	checkpoint__helper__v1__checkpoint__init(ck);
	checkpoint__helper__v1__dump_stats__init(st);
	if (read_file_at(c->dirfd, "stats-dump", &buf, &len, 1 << 20) == 0) {
		if (decode_stats((uint8_t *)buf, len, st))
			fprintf(stderr, "checkpoint-helper: stats-dump of %s cannot be decoded\n", c->id);
		free(buf);
	}
	st->criu_wall_time_us = wall_us;
	ck->manifest_version = MANIFEST_VERSION;
	ck->id = c->id;
	ck->name = arena_strdup(c->d->name && c->d->name[0] ? c->d->name
				: nprocs ? procs[0]->comm : "checkpoint");
	ck->created_unix_ms = now_unix_ms();
	ck->root_pid = c->root;
	ck->processes = procs;
	ck->n_processes = nprocs;
	ck->criu_version = g_criu.version;
	ck->leave_running = c->d->leave_running;
	ck->options = c->options;
	ck->leaks = c->leaks;
	ck->stats = st;
	ck->path = c->final;
	ck->helper_version = VERSION;
	ck->output_pipes = c->pipes;
	if (uname(&u) == 0) {
		ck->hostname = arena_strdup(u.nodename);
		ck->kernel_release = arena_strdup(u.release);
	}
	/* size without the manifest itself: the images and CRIU's log */
	ck->size_bytes = dir_size(c->partial);
	if (manifest_write(c->dirfd, ck, e))
		return -1;
	if (rename(c->partial, c->final)) {
		herr_set(e, EC(INTERNAL), errno, "cannot rename %s to %s: %s", c->partial, c->final,
			 strerror(errno));
		return -1;
	}
	c->ck = ck;
	return 0;
}

/* The output pipes of the program root is (or descends from), read before CRIU may end it. */
static OutputPipes *output_pipes_of(pid_t root)
{
	OutputPipes *p = arena_alloc(sizeof(*p));

	checkpoint__helper__v1__output_pipes__init(p);
	if (program_pipe_ids(root, &p->stdout_pipe_id, &p->stderr_pipe_id))
		return NULL;
	return p;
}

/* Keeps the failed dump's log at <store>/.failed/<id>-dump.log. */
static const char *keep_failed_log(struct dump_ctx *c)
{
	char dir[4400], *dst;

	snprintf(dir, sizeof(dir), "%s/.failed", g_cfg.store);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return NULL;
	dst = arena_printf("%s/%s-dump.log", dir, c->id);
	if (renameat(c->dirfd, "dump.log", AT_FDCWD, dst))
		return NULL;
	store_prune(dir, KEPT_LOGS);
	return dst;
}

/*
 * After the dump: a tree the client froze stays frozen (thawing is its move)
 * unless the dump ended it; a running tree was only seized by CRIU.
 */
static void dump_release_tree(struct dump_ctx *c, bool tasks_gone)
{
	struct herr e = { 0 };

	if (c->tree && tasks_gone && frozen_release(c->tree, true, &e))
		fprintf(stderr, "checkpoint-helper: %s\n", e.msg);
	emit_tree_state(c->req->id, c->root, tasks_gone ? TS(GONE) : c->tree ? TS(FROZEN) : TS(RUNNING));
	c->tree = NULL;
}

/*
 * The first scan: the leaks with the policy applied. Fail leaks refuse the
 * dump here, before anything is frozen or written; the others decide the
 * CRIU options.
 */
static int scan_before_dump(struct dump_ctx *c, struct herr *e)
{
	struct host_scan s;
	uint64_t t0 = now_us();
	size_t nfail;
	Leak **fail;

	emit_progress(c->req->id, "leak-scan", "scanning the tree of process %d for leaks", c->root);
	c->leaks = arena_alloc(sizeof(*c->leaks));
	checkpoint__helper__v1__leak_report__init(c->leaks);
	c->leaks->policy = c->d->policy;
	c->leaks->n_policy = c->d->n_policy;
	if (leaks_scan(c->root, &s, e)) {
		leaks_scan_free(&s);
		return -1;
	}
	leaks_apply_policy(&s, c->d->policy, c->d->n_policy);
	c->leaks->leaks = leaks_to_pb(&s, &c->leaks->n_leaks);
	c->leaks->stats = leak_stats_pb(&s, now_us() - t0);
	leaks_scan_free(&s);
	c->options = leaks_dump_options(c->leaks->leaks, c->leaks->n_leaks);
	fail = leaks_failing(c->leaks->leaks, c->leaks->n_leaks, &nfail);
	if (nfail) {
		leaks_refusal(c->root, fail, nfail, e);
		return -1;
	}
	return 0;
}

/* Every TCP and UDP socket of the tree is a leak of its kind, whatever its policy. */
static bool has_inet_sockets(const LeakReport *r)
{
	for (size_t i = 0; i < r->n_leaks; i++)
		if (r->leaks[i]->kind == LK(TCP) || r->leaks[i]->kind == LK(UDP))
			return true;
	return false;
}

static int inet_refusal(struct herr *e)
{
	struct herr why = { 0 };

	if (criu_inet_dumpable(&g_criu, &why) == 0)
		return 0;
	herr_set(e, why.code, why.errnum, "the tree has TCP or UDP sockets; nothing was frozen or written: %s",
		 why.msg);
	return -1;
}

static void op_dump(const Request *req, Response *resp)
{
	struct dump_ctx c = { .req = req, .d = req->dump, .root = req->dump->root_pid, .dirfd = -1 };
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuReq creq = CRIU_REQ__INIT;
	struct notify_ctx nctx = { .id = req->id };
	struct pidlist pids = { 0 };
	CheckpointProcess **procs;
	CriuResp *r = NULL;
	struct herr e = { 0 };
	uint64_t t0, wall;
	size_t nprocs;
	char log_path[4500];
	int lock = 0;

	if (c.root <= 0) {
		bad_request(resp, "root_pid must be a positive pid, not %d", c.root);
		return;
	}
	if (check_checkpoint_name(c.d->name, resp))
		return;
	if (leak_rules_valid(c.d->policy, c.d->n_policy, &e)) {
		set_error(resp, &e);
		return;
	}
	if (need_criu(&e) || proc_tree(c.root, &pids, &e))
		goto fail;
	if (scan_before_dump(&c, &e))
		goto fail;
	/* before anything is frozen */
	if (has_inet_sockets(c.leaks) && inet_refusal(&e))
		goto fail;
	if (c.options->tcp_established && criu_network_lock(g_criu.path, &lock, &e))
		goto fail;
	nctx.root = c.root;
	nctx.rules = c.d->policy;
	nctx.nrules = c.d->n_policy;
	nctx.report = c.leaks;
	procs = collect_processes(&pids, &nprocs);
	/*
	 * A tree the client froze is dumped where it stands (freeze_cgroup); a
	 * running one is left to CRIU's own seizing, as plain "criu dump" does:
	 * freezing it through a cgroup first only adds time.
	 */
	c.tree = frozen_find(c.root);
	c.pipes = output_pipes_of(c.root);
	if (dump_prepare_dir(&c, &e))
		goto fail;

	opts.images_dir_fd = c.dirfd;
	opts.has_pid = true;
	opts.pid = c.root;
	opts.has_leave_running = true;
	opts.leave_running = c.d->leave_running;
	if (c.tree)
		opts.freeze_cgroup = c.tree->cgroup;
	opts.log_file = "dump.log";
	opts.has_log_level = true;
	opts.log_level = 4;
	opts.has_manage_cgroups = opts.manage_cgroups = true;
	opts.has_manage_cgroups_mode = true;
	opts.manage_cgroups_mode = CRIU_CG_MODE__IGNORE;
	opts.has_notify_scripts = opts.notify_scripts = true;
	apply_options(&opts, c.options);
	set_network_lock(&opts, lock);
	creq.type = CRIU_REQ_TYPE__DUMP;
	creq.opts = &opts;

	emit_tree_state(req->id, c.root, TS(CHECKPOINTING));
	emit_progress(req->id, "dumping", "CRIU is checkpointing the tree of process %d", c.root);
	t0 = now_us();
	if (criu_call(g_criu.path, &creq, &c.dirfd, 1, on_notify, &nctx, &r, &e))
		goto fail;
	wall = now_us() - t0;
	if (!r->success) {
		const char *kept;

		snprintf(log_path, sizeof(log_path), "%s/dump.log", c.partial);
		kept = keep_failed_log(&c);
		criu_failure(resp, arena_printf("checkpoint PID %d", c.root), r, kept ? kept : log_path,
			     kept);
		if (!pid_exists(c.root)) {
			resp->error->code = EC(NO_SUCH_PROCESS);
			resp->error->message = arena_printf("process %d exited during the checkpoint; %s",
							    c.root, resp->error->message);
		}
		goto cleanup_partial;
	}
	emit_progress(req->id, "writing-manifest", "writing the manifest of %s", c.id);
	if (dump_finish(&c, procs, nprocs, wall, &e))
		goto fail;
	dump_release_tree(&c, !c.d->leave_running);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_DUMP;
	resp->dump = arena_alloc(sizeof(*resp->dump));
	checkpoint__helper__v1__dump_result__init(resp->dump);
	resp->dump->checkpoint = c.ck;
	goto out;
fail:
	set_error(resp, &e);
	if (e.code == EC(LEAKS_REFUSED))
		resp->error->leaks = leaks_failing(c.leaks->leaks, c.leaks->n_leaks, &resp->error->n_leaks);
	if (e.code == EC(NO_SUCH_PROCESS) || c.dirfd < 0)
		goto release;
cleanup_partial:
	if (c.partial[0] && remove_tree(c.partial))
		fprintf(stderr, "checkpoint-helper: cannot remove %s: %s\n", c.partial, strerror(errno));
release:
	/* on failure CRIU leaves the tasks as they were: running, or frozen */
	dump_release_tree(&c, !pid_exists(c.root));
out:
	if (r)
		criu_resp__free_unpacked(r, NULL);
	if (c.dirfd >= 0)
		close(c.dirfd);
	pidlist_free(&pids);
}

/* ---- restore ------------------------------------------------------------- */

void reap_children(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		program_reaped(pid, status);
}

/*
 * Sorts the checkpoint's pids: running (same comm) ones into running; any
 * held by another program makes the restore impossible.
 */
static int check_pids(const Checkpoint *ck, struct pidlist *running, struct herr *e)
{
	for (size_t i = 0; i < ck->n_processes; i++) {
		const CheckpointProcess *p = ck->processes[i];
		struct proc_stat st;

		if (read_proc_stat(p->pid, &st))
			continue;
		if (strcmp(st.comm, p->comm ? p->comm : "")) {
			herr_set(e, EC(PID_IN_USE), EEXIST,
				 "pid %d of checkpoint %s (%s) is now held by another process (%s); CRIU restores "
				 "processes at their original pids, so this checkpoint cannot be restored while it runs",
				 p->pid, ck->id, p->comm, st.comm);
			return -1;
		}
		pidlist_add(running, p->pid);
	}
	return 0;
}

/* tcp_close: the saved connections are restored closed; the running ones end plainly. */
static int kill_running(uint32_t id, const Checkpoint *ck, const struct pidlist *running, bool tcp_close,
			RestoreResult *res, struct herr *e)
{
	struct fdlist quiet = { 0 };
	uint64_t deadline;
	int ret = -1;

	if (!tcp_close && tcp_quiet_saved(ck, running, &quiet, e))
		return -1;
	emit_progress(id, "killing", "stopping %zu running process(es) of checkpoint %s", running->n, ck->id);
	for (size_t i = 0; i < running->n; i++) {
		struct frozen_tree *t = frozen_find_member(running->v[i]);

		if (t) {
			pid_t root = t->root;

			frozen_release(t, true, e);	/* SIGKILL works on frozen tasks, but let go */
			emit_tree_state(id, root, TS(RUNNING));
		}
	}
	res->killed_pids = arena_alloc((running->n + 1) * sizeof(int32_t));
	for (size_t i = 0; i < running->n; i++)
		if (kill(running->v[i], SIGKILL) == 0)
			res->killed_pids[res->n_killed_pids++] = running->v[i];
	deadline = now_us() + KILL_WAIT_MS * 1000ull;
	for (;;) {
		size_t left = 0;

		reap_children();
		for (size_t i = 0; i < running->n; i++)
			left += pid_exists(running->v[i]);
		if (!left)
			break;
		if (now_us() > deadline) {
			herr_set(e, EC(PID_IN_USE), EBUSY,
				 "%zu process(es) of checkpoint %s still exist %d s after SIGKILL (zombies not reaped?)",
				 left, ck->id, KILL_WAIT_MS / 1000);
			goto out;
		}
		sleep_ms(10);
	}
	if (ck->root_pid > 0)
		emit_tree_state(id, ck->root_pid, TS(GONE));
	ret = 0;
out:
	fdlist_close(&quiet);	/* the last holder of the repaired connections: they end without a word */
	return ret;
}

static int open_workdir(const char *id, char *path, size_t len, struct herr *e)
{
	char stamp[32], rnd[8];
	int fd;

	utc_stamp(stamp, sizeof(stamp));
	if (random_hex(rnd, 4))
		rnd[0] = '\0';
	snprintf(path, len, "%s/.logs", g_cfg.store);
	if (mkdir(path, 0700) && errno != EEXIST)
		goto fail;
	snprintf(path, len, "%s/.logs/%s-%s-%s", g_cfg.store, id, stamp, rnd);
	if (mkdir(path, 0700))
		goto fail;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	return fd;
fail:
	herr_set(e, EC(INTERNAL), errno, "cannot create %s: %s", path, strerror(errno));
	return -1;
}

/*
 * New pipes to the helper for a restored program's stdout and stderr,
 * handed to CRIU in place of the dumped ones (inherit_fd "pipe:[ID]").
 */
struct restore_output {
	int out[2], err[2];	/* read, write ends */
	uint32_t ids[2];
	InheritFd inherit[2];
	InheritFd *v[2];
};

static void add_inherit(struct restore_output *o, CriuOpts *opts, uint32_t pipe_id, int fd)
{
	size_t n = opts->n_inherit_fd;

	/* 0: the dump could not tell; a pipe both streams shared is handed in once */
	if (!pipe_id || (n && o->ids[0] == pipe_id))
		return;
	o->ids[n] = pipe_id;
	inherit_fd__init(&o->inherit[n]);
	o->inherit[n].key = arena_printf("pipe:[%u]", pipe_id);
	o->inherit[n].fd = fd;
	o->v[n] = &o->inherit[n];
	opts->n_inherit_fd = n + 1;
	opts->inherit_fd = o->v;
}

static int restore_output_prepare(const Checkpoint *ck, struct restore_output *o, CriuOpts *opts,
				  struct herr *e)
{
	if (!ck->output_pipes)
		return 0;
	if (!program_room()) {
		herr_set(e, EC(BAD_REQUEST), EMFILE, "this helper already reads the output of %d programs; "
			 "kill one first", MAX_PROGRAMS);
		return -1;
	}
	if (program_pipes_open(o->out, o->err, e))
		return -1;
	add_inherit(o, opts, ck->output_pipes->stdout_pipe_id, o->out[1]);
	add_inherit(o, opts, ck->output_pipes->stderr_pipe_id, o->err[1]);
	return 0;
}

static void restore_output_close(struct restore_output *o)
{
	for (int i = 0; i < 2; i++) {
		if (o->out[i] >= 0)
			close(o->out[i]);
		if (o->err[i] >= 0)
			close(o->err[i]);
		o->out[i] = o->err[i] = -1;
	}
}

/*
 * Adds the plan's inherited pipes and joined namespaces to opts, after the
 * output pipes; returns every descriptor CRIU must inherit.
 */
static const int *restore_keep(CriuOpts *opts, const struct restore_plan *plan, const int *fds, size_t *n)
{
	size_t nin = opts->n_inherit_fd + plan->ninherit;
	InheritFd **in = arena_alloc((nin + 1) * sizeof(*in));
	int *keep = arena_alloc((4 + plan->nfds) * sizeof(*keep));

	for (size_t i = 0; i < opts->n_inherit_fd; i++)
		in[i] = opts->inherit_fd[i];
	for (size_t i = 0; i < plan->ninherit; i++)
		in[opts->n_inherit_fd + i] = plan->inherit[i];
	opts->n_inherit_fd = nin;
	opts->inherit_fd = in;
	opts->n_join_ns = plan->njoin;
	opts->join_ns = plan->join;
	memcpy(keep, fds, 4 * sizeof(*keep));
	memcpy(keep + 4, plan->fds, plan->nfds * sizeof(*keep));
	*n = 4 + plan->nfds;
	return keep;
}

static void op_restore(const Request *req, Response *resp)
{
	const RestoreRequest *rq = req->restore;
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuReq creq = CRIU_REQ__INIT;
	struct notify_ctx nctx = { .id = req->id };
	struct pidlist running = { 0 }, tree = { 0 };
	RestoreResult *res = arena_alloc(sizeof(*res));
	struct restore_output output = { .out = { -1, -1 }, .err = { -1, -1 } };
	struct restore_plan plan = { 0 };
	char dir[4400], work[4400] = "";
	int fds[4] = { -1, -1, -1, -1 };
	struct herr e = { 0 };
	CriuResp *r = NULL;
	Checkpoint *ck;
	const int *keep;
	size_t nkeep;
	uint64_t t0;
	int lock = 0;

	checkpoint__helper__v1__restore_result__init(res);
	if (check_checkpoint_id(rq->checkpoint_id, resp))
		return;
	if (need_criu(&e))
		goto fail;
	ck = manifest_read(g_cfg.store, rq->checkpoint_id, &e);
	if (!ck)
		goto fail;
	if (validate_options(ck->options, resp))
		return;
	if (check_pids(ck, &running, &e))
		goto fail;
	/* before any kill: an outside reader may end when the tree's end closes */
	if (leaks_restore_plan(ck->leaks, ck->options, ck->output_pipes, &plan, &e))
		goto fail;
	if (ck->options && ck->options->tcp_established && !rq->tcp_close &&
	    criu_network_lock(g_criu.path, &lock, &e))
		goto fail;
	if (running.n && !rq->kill_running) {
		const CheckpointProcess *p = NULL;

		for (size_t i = 0; i < ck->n_processes && !p; i++)
			if (ck->processes[i]->pid == running.v[0])
				p = ck->processes[i];
		herr_set(&e, EC(TREE_RUNNING), EEXIST,
			 "checkpoint %s's process %d (%s) still runs; CRIU restores processes at their original "
			 "pids; stop it or ask to kill it first (kill_running)", ck->id, running.v[0],
			 p && p->comm ? p->comm : "?");
		goto fail;
	}
	if (running.n && kill_running(req->id, ck, &running, rq->tcp_close, res, &e))
		goto fail;

	snprintf(dir, sizeof(dir), "%s/%s", g_cfg.store, ck->id);
	fds[0] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fds[0] < 0) {
		herr_set(&e, EC(NOT_FOUND), errno, "cannot open %s: %s", dir, strerror(errno));
		goto fail;
	}
	fds[1] = open_workdir(ck->id, work, sizeof(work), &e);
	if (fds[1] < 0)
		goto fail;
	opts.images_dir_fd = fds[0];
	opts.has_work_dir_fd = true;
	opts.work_dir_fd = fds[1];
	opts.log_file = "restore.log";
	opts.has_log_level = true;
	opts.log_level = 4;
	opts.has_rst_sibling = opts.rst_sibling = true;
	opts.has_manage_cgroups = opts.manage_cgroups = true;
	opts.has_manage_cgroups_mode = true;
	opts.manage_cgroups_mode = CRIU_CG_MODE__IGNORE;
	opts.has_notify_scripts = opts.notify_scripts = true;
	apply_options(&opts, ck->options);
	if (rq->tcp_close && opts.tcp_established)
		opts.has_tcp_close = opts.tcp_close = true;
	set_network_lock(&opts, lock);
	if (restore_output_prepare(ck, &output, &opts, &e))
		goto fail;
	fds[2] = output.out[1];
	fds[3] = output.err[1];
	keep = restore_keep(&opts, &plan, fds, &nkeep);
	creq.type = CRIU_REQ_TYPE__RESTORE;
	creq.opts = &opts;

	emit_tree_state(req->id, ck->root_pid, TS(RESTORING));
	emit_progress(req->id, "restoring", "CRIU is restoring checkpoint %s", ck->id);
	t0 = now_us();
	if (criu_call(g_criu.path, &creq, keep, nkeep, on_notify, &nctx, &r, &e))
		goto fail;
	res->criu_wall_time_us = now_us() - t0;
	if (!r->success || !r->restore) {
		char *log = arena_printf("%s/restore.log", work);

		criu_failure(resp, arena_printf("restore checkpoint %s", ck->id), r, log, log);
		emit_tree_state(req->id, ck->root_pid, TS(GONE));
		goto out;
	}
	res->root_pid = r->restore->pid;
	if (ck->output_pipes) {
		program_adopt(res->root_pid, req->id, output.out[0], output.err[0]);
		output.out[0] = output.err[0] = -1;
		res->output_streamed = true;
	}
	if (proc_tree(res->root_pid, &tree, &e) == 0) {
		res->pids = arena_alloc((tree.n + 1) * sizeof(int32_t));
		for (size_t i = 0; i < tree.n; i++)
			res->pids[res->n_pids++] = tree.v[i];
	}
	emit_tree_state(req->id, res->root_pid, TS(RUNNING));
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_RESTORE;
	resp->restore = res;
	goto out;
fail:
	set_error(resp, &e);
out:
	if (r)
		criu_resp__free_unpacked(r, NULL);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* the write ends now belong to the restored program, or to nobody */
	restore_output_close(&output);
	if (work[0])
		store_prune(arena_printf("%s/.logs", g_cfg.store), KEPT_LOGS);
	restore_plan_close(&plan);
	pidlist_free(&running);
	pidlist_free(&tree);
}

/* ---- launch / kill -------------------------------------------------------- */

/* 0 when path is absolute and bounded (or empty and optional), else answers BAD_REQUEST. */
static int check_path(const char *what, const char *path, bool required, Response *resp)
{
	if (!path || !path[0]) {
		if (!required)
			return 0;
		bad_request(resp, "%s is required: an absolute path", what);
		return -1;
	}
	if (path[0] == '/' && strlen(path) <= MAX_PATH_LEN)
		return 0;
	bad_request(resp, "%s must be an absolute path of at most %d bytes, not \"%.200s\"", what, MAX_PATH_LEN,
		    path);
	return -1;
}

static int validate_launch(const LaunchRequest *rq, Response *resp)
{
	if (check_path("program", rq->program, true, resp) || check_path("cwd", rq->cwd, false, resp))
		return -1;
	if (rq->n_args > MAX_LAUNCH_ARGS || rq->n_env > MAX_LAUNCH_ARGS) {
		bad_request(resp, "%zu args and %zu env entries; at most %u of each are accepted", rq->n_args,
			    rq->n_env, MAX_LAUNCH_ARGS);
		return -1;
	}
	for (size_t i = 0; i < rq->n_env; i++) {
		const char *eq = strchr(rq->env[i], '=');

		if (!eq || eq == rq->env[i]) {
			bad_request(resp, "env entry %zu (\"%.100s\") is not NAME=value with a non-empty NAME", i,
				    rq->env[i]);
			return -1;
		}
	}
	return 0;
}

/* A NULL-terminated copy of v (arena memory), after first when it is not NULL. */
static char **string_vector(const char *first, char *const *v, size_t n)
{
	char **out = arena_alloc((n + 2) * sizeof(*out));
	size_t k = 0;

	if (first)
		out[k++] = (char *)first;
	for (size_t i = 0; i < n; i++)
		out[k++] = v[i];
	return out;
}

static void op_launch(const Request *req, Response *resp)
{
	const LaunchRequest *rq = req->launch;
	struct launch_spec s = { 0 };
	struct herr e = { 0 };
	LaunchResult *r;
	pid_t pid;

	if (validate_launch(rq, resp))
		return;
	s.program = rq->program;
	s.argv = string_vector(rq->program, rq->args, rq->n_args);
	s.envp = string_vector(NULL, rq->env, rq->n_env);
	s.cwd = rq->cwd && rq->cwd[0] ? rq->cwd : "/";
	if (program_launch(&s, req->id, &pid, &e)) {
		set_error(resp, &e);
		return;
	}
	emit_tree_state(req->id, pid, TS(RUNNING));
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__launch_result__init(r);
	r->root_pid = pid;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_LAUNCH;
	resp->launch = r;
}

static void op_kill(const Request *req, Response *resp)
{
	pid_t root = req->kill->root_pid;
	struct pidlist killed = { 0 };
	struct herr e = { 0 };
	KillResult *r;

	if (root <= 1) {
		bad_request(resp, "root_pid must be a pid above 1 (1 is the init of the pid namespace), not %d", root);
		return;
	}
	if (is_self_or_ancestor(root)) {
		bad_request(resp, "process %d is this helper or one of its ancestors; killing it would end the session",
			    root);
		return;
	}
	emit_progress(req->id, "killing", "killing the tree of process %d", root);
	if (kill_tree(root, &killed, &e)) {
		set_error(resp, &e);
		goto out;
	}
	emit_tree_state(req->id, root, TS(GONE));
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__kill_result__init(r);
	r->root_pid = root;
	r->killed_pids = arena_alloc((killed.n + 1) * sizeof(int32_t));
	for (size_t i = 0; i < killed.n; i++)
		r->killed_pids[r->n_killed_pids++] = killed.v[i];
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_KILL;
	resp->kill = r;
out:
	pidlist_free(&killed);
}

/* ---- list / delete / rename ---------------------------------------------- */

static void op_list(const Request *req, Response *resp)
{
	ListResult *r = arena_alloc(sizeof(*r));
	struct herr e = { 0 };

	(void)req;
	checkpoint__helper__v1__list_result__init(r);
	if (store_list(g_cfg.store, r, &e)) {
		set_error(resp, &e);
		return;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_LIST;
	resp->list = r;
}

static void op_delete(const Request *req, Response *resp)
{
	const char *id = req->delete_->checkpoint_id;
	struct herr e = { 0 };
	DeleteResult *r;

	if (check_checkpoint_id(id, resp))
		return;
	if (store_delete(g_cfg.store, id, &e)) {
		set_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__delete_result__init(r);
	r->checkpoint_id = arena_strdup(id);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_DELETE;
	resp->delete_ = r;
}

static void op_rename(const Request *req, Response *resp)
{
	const RenameRequest *rq = req->rename;
	struct herr e = { 0 };
	RenameResult *r;
	Checkpoint *c;

	if (check_checkpoint_id(rq->checkpoint_id, resp) || check_checkpoint_name(rq->name, resp))
		return;
	if (store_rename(g_cfg.store, rq->checkpoint_id, rq->name ? rq->name : "", &c, &e)) {
		set_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__rename_result__init(r);
	r->checkpoint = c;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_RENAME;
	resp->rename = r;
}

/* ---- image files ---------------------------------------------------------- */

static void op_image_files(const Request *req, Response *resp)
{
	const char *id = req->image_files->checkpoint_id;
	ImageFilesResult *r;
	struct herr e = { 0 };

	if (check_checkpoint_id(id, resp))
		return;
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__image_files_result__init(r);
	if (image_files_list(g_cfg.store, id, r, &e)) {
		set_error(resp, &e);
		return;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_IMAGE_FILES;
	resp->image_files = r;
}

static void op_read_image(const Request *req, Response *resp)
{
	const ReadImageRequest *rq = req->read_image;
	ReadImageResult *r;
	struct herr e = { 0 };

	if (check_checkpoint_id(rq->checkpoint_id, resp))
		return;
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__read_image_result__init(r);
	if (image_read_ranges(g_cfg.store, rq->checkpoint_id, rq->ranges, rq->n_ranges, r, &e)) {
		set_error(resp, &e);
		return;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_READ_IMAGE;
	resp->read_image = r;
}

/* ---- leaks --------------------------------------------------------------- */

static void op_leaks(const Request *req, Response *resp)
{
	const Checkpoint__Helper__V1__LeaksRequest *rq = req->leaks;
	struct host_scan s;
	struct herr e = { 0 };
	LeaksResult *r;
	uint64_t t0;

	if (rq->root_pid <= 1) {
		bad_request(resp, "root_pid must be a pid above 1, not %d", rq->root_pid);
		return;
	}
	if (leak_rules_valid(rq->policy, rq->n_policy, &e)) {
		set_error(resp, &e);
		return;
	}
	t0 = now_us();
	if (leaks_scan(rq->root_pid, &s, &e)) {
		set_error(resp, &e);
		leaks_scan_free(&s);
		return;
	}
	leaks_apply_policy(&s, rq->policy, rq->n_policy);
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__leaks_result__init(r);
	r->leaks = leaks_to_pb(&s, &r->n_leaks);
	r->stats = leak_stats_pb(&s, now_us() - t0);
	leaks_scan_free(&s);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_LEAKS;
	resp->leaks = r;
}

/* ---- dispatch ------------------------------------------------------------ */

/* An answer over the frame limit is replaced by an error, never dropped. */
static void answer_too_big(uint32_t id)
{
	Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	struct herr e = { 0 };

	herr_set(&e, EC(INTERNAL), EMSGSIZE, "the answer to request %u is longer than the %u-byte frame "
		 "limit", id, MAX_OUT_FRAME_BYTES);
	resp.id = id;
	set_error(&resp, &e);
	send_response(&resp);
}

void handle_request(const Request *req)
{
	Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;

	resp.id = req->id;
	switch (req->op_case) {
	case CHECKPOINT__HELPER__V1__REQUEST__OP_HELLO: op_hello(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_PS: op_ps(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_FREEZE: op_freeze(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_THAW: op_thaw(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_DUMP: op_dump(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_RESTORE: op_restore(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_LIST: op_list(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_DELETE: op_delete(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_IMAGE_FILES: op_image_files(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_READ_IMAGE: op_read_image(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_LAUNCH: op_launch(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_KILL: op_kill(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_RENAME: op_rename(req, &resp); break;
	case CHECKPOINT__HELPER__V1__REQUEST__OP_LEAKS: op_leaks(req, &resp); break;
	default:
		bad_request(&resp, "request %u names no operation this helper knows (op %d)", req->id,
			    (int)req->op_case);
	}
	if (send_response(&resp) && errno == EMSGSIZE)
		answer_too_big(req->id);
	arena_free_all();
}
