/* SPDX-License-Identifier: MIT */
/* The requests about the host and its live processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "arena.h"
#include "cgroup.h"
#include "channel.h"
#include "children.h"
#include "config.h"
#include "fault.h"
#include "fileio.h"
#include "freeze_claim.h"
#include "gdb.h"
#include "kill.h"
#include "leaks.h"
#include "ops_process.h"
#include "proc.h"
#include "program.h"
#include "reply.h"
#include "util.h"

#define MAX_FREEZE_TIMEOUT_MS 600000u

static const char *const cap_names[] = {
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
static void hello_tcp(HelloResult *h, const struct criu_info *ci)
{
	struct herr e = { 0 };
	int lock = 0;

	if (ci->problem[0])
		return;		/* criu_problem says it all */
	if (criu_inet_dumpable(ci, &e) || criu_network_lock(ci->path, &lock, &e))
		h->tcp_problem = arena_strdup(e.msg);
	else
		h->network_lock = lock == CRIU_NETWORK_LOCK_METHOD__NFTABLES ? "nftables" : "iptables";
}

static void hello_criu(HelloResult *h, const struct criu_info *ci)
{
	HCriuFeatures *f = arena_alloc(sizeof(*f));

	checkpoint__helper__v1__criu_features__init(f);
	h->criu_version = arena_strdup(ci->problem[0] && !ci->version[0] ? "" : ci->version);
	f->mem_track = ci->mem_track;
	f->lazy_pages = ci->lazy_pages;
	f->pidfd_store = ci->pidfd_store;
	h->criu_features = f;
	h->criu_path = arena_strdup(ci->path);
	h->criu_problem = arena_strdup(ci->problem);
	hello_tcp(h, ci);
}

static void hello_gdb(HelloResult *h)
{
	struct gdb_info gi;

	gdb_probe(&gi);
	h->gdb_path = arena_strdup(gi.path);
	h->gdb_version = arena_strdup(gi.problem[0] ? "" : gi.version);
	h->gdb_problem = arena_strdup(gi.problem);
}

void op_hello(const Request *req, Response *resp)
{
	HelloResult *h = arena_alloc(sizeof(*h));
	struct utsname u;

	(void)req;
	checkpoint__helper__v1__hello_result__init(h);
	h->helper_version = VERSION;
	hello_criu(h, config_criu(true));	/* hello always asks afresh */
	if (uname(&u) == 0) {
		h->kernel_release = arena_strdup(u.release);
		h->machine = arena_strdup(u.machine);
		h->hostname = arena_strdup(u.nodename);
	}
	h->cgroup_layout = cgroup_layout();
	h->euid = geteuid();
	read_caps(h);
	hello_gdb(h);
	h->store_dir = g_cfg.store;
	h->helper_pid = getpid();
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_HELLO;
	resp->hello = h;
}

/* ---- ps ------------------------------------------------------------------ */

static Namespaces *namespaces_pb(pid_t pid)
{
	Namespaces *ns = arena_alloc(sizeof(*ns));
	uint64_t ino[NS_KINDS];

	read_ns_inodes(pid, ino);
	checkpoint__helper__v1__namespaces__init(ns);
	ns->uts = ino[NS_UTS];
	ns->ipc = ino[NS_IPC];
	ns->net = ino[NS_NET];
	ns->mnt = ino[NS_MNT];
	ns->pid = ino[NS_PID];
	ns->user = ino[NS_USER];
	ns->cgroup = ino[NS_CGROUP];
	ns->time = ino[NS_TIME];
	return ns;
}

/* What ps tells of pid (arena memory); NULL when it vanished. */
static ProcessInfo *process_info(pid_t pid)
{
	ProcessInfo *pi = arena_alloc(sizeof(*pi));
	struct proc_threads threads;
	struct proc_stat st;
	char tty[64];
	size_t argc;

	if (read_proc_stat(pid, &st))
		return NULL;
	checkpoint__helper__v1__process_info__init(pi);
	pi->pid = st.pid;
	pi->ppid = st.ppid;
	pi->pgid = st.pgid;
	pi->sid = st.sid;
	pi->uid = read_uid(pid);
	pi->comm = arena_strdup(st.comm);
	pi->state = arena_printf("%c", st.state);
	pi->tty_nr = st.tty_nr;
	decode_tty_nr(st.tty_nr, tty, sizeof(tty));
	pi->tty = arena_strdup(tty);
	if (read_cmdline(pid, &pi->cmdline, &argc) == 0)
		pi->n_cmdline = argc;
	read_threads(pid, &threads);
	pi->threads = threads.tids;
	pi->thread_names = threads.names;
	pi->n_threads = pi->n_thread_names = threads.n;
	pi->namespaces = namespaces_pb(pid);
	pi->frozen = frozen_find_member(pid) != NULL;
	return pi;
}

void op_ps(const Request *req, Response *resp)
{
	PsResult *r = arena_alloc(sizeof(*r));
	struct pidlist pids = { 0 };
	struct herr e = { 0 };
	pid_t root = req->ps->root_pid;

	checkpoint__helper__v1__ps_result__init(r);
	if (root < 0) {
		reply_bad_request(resp, "root_pid must be 0 (all) or a pid, not %d", root);
		goto out;
	}
	if (root ? proc_tree(root, &pids, &e) : proc_all(&pids, &e)) {
		reply_error(resp, &e);
		goto out;
	}
	r->processes = arena_alloc((pids.n + 1) * sizeof(*r->processes));
	for (size_t i = 0; i < pids.n; i++) {
		ProcessInfo *pi = process_info(pids.v[i]);

		if (pi)		/* else it vanished mid-scan */
			r->processes[r->n_processes++] = pi;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_PS;
	resp->ps = r;
out:
	pidlist_free(&pids);
}

/* ---- freeze / thaw ------------------------------------------------------- */

/* The pids of a list as the wire carries them (arena memory). */
static int32_t *pids_pb(const struct pidlist *l, size_t *n)
{
	int32_t *v = arena_alloc((l->n + 1) * sizeof(*v));

	for (size_t i = 0; i < l->n; i++)
		v[i] = l->v[i];
	*n = l->n;
	return v;
}

int freeze_request_check(const FreezeRequest *rq, Response *resp)
{
	if (reply_check_root(rq->root_pid, "freezing", resp))
		return -1;
	if (rq->timeout_ms > MAX_FREEZE_TIMEOUT_MS) {
		reply_bad_request(resp, "timeout_ms %u is above %u", rq->timeout_ms, MAX_FREEZE_TIMEOUT_MS);
		return -1;
	}
	for (size_t i = 0; i < rq->n_except_pids; i++) {
		if (rq->except_pids[i] <= 0) {
			reply_bad_request(resp, "except_pids[%zu] must be a positive pid, not %d", i,
					  rq->except_pids[i]);
			return -1;
		}
	}
	return 0;
}

void op_freeze(const Request *req, Response *resp)
{
	pid_t root = req->freeze->root_pid;
	struct freeze_how how = {
		.timeout_ms = req->freeze->timeout_ms,
		.except = req->freeze->except_pids,
		.nexcept = req->freeze->n_except_pids,
		.stop_released = req->freeze->stop_released,
	};
	struct frozen_tree *t = NULL;
	struct herr e = { 0 };
	FreezeResult *r;

	if (freeze_request_check(req->freeze, resp))
		return;
	if (!frozen_find(root))
		emit_progress(req->id, "freezing", "freezing the tree of process %d", root);
	if (freeze_tree(root, &how, &t, &e)) {
		reply_error(resp, &e);
		return;
	}
	emit_tree_state(req->id, root, TS(FROZEN));
	fault_at("freeze-answer");	/* frozen, not yet said */
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__freeze_result__init(r);
	r->root_pid = root;
	r->state = TS(FROZEN);
	r->pids = pids_pb(&t->pids, &r->n_pids);
	r->stopped_pids = pids_pb(&t->stopped, &r->n_stopped_pids);
	r->cgroup = arena_strdup(t->cgroup);
	r->freezer = t->layout;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_FREEZE;
	resp->freeze = r;
}

void op_thaw(const Request *req, Response *resp)
{
	pid_t root = req->thaw->root_pid;
	struct frozen_tree *t;
	struct herr e = { 0 };
	ThawResult *r;

	if (root <= 0) {
		reply_bad_request(resp, "root_pid must be a positive pid, not %d", root);
		return;
	}
	t = frozen_find(root);
	if (!t && !pid_exists(root)) {
		herr_set(&e, EC(NO_SUCH_PROCESS), ESRCH, "process %d does not exist", root);
		reply_error(resp, &e);
		return;
	}
	if (!t && freeze_claim_held(root)) {
		herr_set(&e, EC(BUSY), EBUSY, "the tree of process %d is frozen by another helper (another session of "
			 "Checkpoint Debugger on this host): thaw it from there, or end that session (its tree thaws then)",
			 root);
		reply_error(resp, &e);
		return;
	}
	if (t) {
		emit_progress(req->id, "thawing", "thawing the tree of process %d", root);
		if (frozen_release(t, true, &e)) {
			reply_error(resp, &e);
			return;
		}
		emit_tree_state(req->id, root, TS(RUNNING));
	}
	/* a tree no helper froze is a no-op: it runs (a dead helper's was thawed by its watcher or at start) */
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__thaw_result__init(r);
	r->root_pid = root;
	r->state = pid_exists(root) ? TS(RUNNING) : TS(GONE);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_THAW;
	resp->thaw = r;
}

/* ---- launch / kill -------------------------------------------------------- */

int launch_request_check(const LaunchRequest *rq, Response *resp)
{
	if (reply_check_path("program", rq->program, true, resp) || reply_check_path("cwd", rq->cwd, false, resp))
		return -1;
	if (rq->n_args > MAX_LAUNCH_ARGS || rq->n_env > MAX_LAUNCH_ARGS) {
		reply_bad_request(resp, "%zu args and %zu env entries; at most %u of each are accepted", rq->n_args,
				  rq->n_env, MAX_LAUNCH_ARGS);
		return -1;
	}
	for (size_t i = 0; i < rq->n_env; i++) {
		const char *eq = strchr(rq->env[i], '=');

		if (!eq || eq == rq->env[i]) {
			reply_bad_request(resp, "env entry %zu (\"%.100s\") is not NAME=value with a non-empty NAME", i,
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

void op_launch(const Request *req, Response *resp)
{
	const LaunchRequest *rq = req->launch;
	struct launch_spec s = { 0 };
	struct herr e = { 0 };
	LaunchResult *r;
	pid_t pid;

	if (launch_request_check(rq, resp))
		return;
	s.program = rq->program;
	s.argv = string_vector(rq->program, rq->args, rq->n_args);
	s.envp = string_vector(NULL, rq->env, rq->n_env);
	s.cwd = rq->cwd && rq->cwd[0] ? rq->cwd : "/";
	s.stopped = rq->stopped;
	if (program_launch(&s, req->id, &pid, &e)) {
		reply_error(resp, &e);
		return;
	}
	emit_tree_state(req->id, pid, TS(RUNNING));
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__launch_result__init(r);
	r->root_pid = pid;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_LAUNCH;
	resp->launch = r;
}

void op_kill(const Request *req, Response *resp)
{
	pid_t root = req->kill->root_pid;
	struct pidlist killed = { 0 };
	struct herr e = { 0 };
	KillResult *r;

	if (reply_check_root(root, "killing", resp))
		return;
	emit_progress(req->id, "killing", "killing the tree of process %d", root);
	if (kill_tree(root, &killed, &e)) {
		reply_error(resp, &e);
		goto out;
	}
	reap_children();	/* a program of this helper: its end is told before the answer */
	emit_tree_state(req->id, root, TS(GONE));
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__kill_result__init(r);
	r->root_pid = root;
	r->killed_pids = pids_pb(&killed, &r->n_killed_pids);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_KILL;
	resp->kill = r;
out:
	pidlist_free(&killed);
}

/* ---- leaks --------------------------------------------------------------- */

int leaks_request_check(const LeaksRequest *rq, Response *resp)
{
	struct herr e = { 0 };

	if (rq->root_pid <= 1) {
		reply_bad_request(resp, "root_pid must be a pid above 1, not %d", rq->root_pid);
		return -1;
	}
	if (leak_rules_valid(rq->policy, rq->n_policy, &e)) {
		reply_error(resp, &e);
		return -1;
	}
	return 0;
}

void op_leaks(const Request *req, Response *resp)
{
	const LeaksRequest *rq = req->leaks;
	struct herr e = { 0 };
	LeakReport *report;
	LeaksResult *r;

	if (leaks_request_check(rq, resp))
		return;
	report = leaks_report(rq->root_pid, rq->policy, rq->n_policy, &e);
	if (!report) {
		reply_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__leaks_result__init(r);
	r->leaks = report->leaks;
	r->n_leaks = report->n_leaks;
	r->stats = report->stats;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_LEAKS;
	resp->leaks = r;
}
