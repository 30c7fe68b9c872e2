/* SPDX-License-Identifier: MIT */
/* Restoring a checkpoint over (or instead of) its running processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "cgroup.h"
#include "channel.h"
#include "children.h"
#include "debugregs.h"
#include "dump.h"
#include "fault.h"
#include "fileio.h"
#include "freeze_claim.h"
#include "kill.h"
#include "lazy.h"
#include "manifest.h"
#include "page_share.h"
#include "pid_origin.h"
#include "proc.h"
#include "program.h"
#include "restore.h"
#include "restore_plan.h"
#include "store.h"
#include "tcp_restore.h"
#include "util.h"

enum { READ_END, WRITE_END };

/*
 * New pipes to the helper for a restored program's stdout and stderr,
 * handed to CRIU in place of the dumped ones (inherit_fd "pipe:[ID]").
 */
struct restore_output {
	int out[2], err[2];
	uint32_t ids[2];
	InheritFd inherit[2];
	InheritFd *v[2];
};

struct restore_ctx {
	const struct restore_params *p;
	Checkpoint *ck;
	pid_t *pids;			/* the checkpoint's: those its restored processes get */
	struct pidlist running;		/* the checkpoint's processes that still run */
	struct restore_plan plan;
	int network_lock;
	int images_fd;			/* the checkpoint directory */
	struct fdlist chain;		/* it and those it stands on, locked shared while CRIU reads them */
	int work_fd;			/* <store>/.logs/<id>-<stamp>-<rnd>: CRIU's log */
	char work[4400];
	struct restore_output output;
	struct lazy_params lazy_params;
	struct lazy_restore lazy;	/* lazy.supervisor: restoring with lazy pages */
	int stop_claim;			/* restored frozen: CRIU leaves the tree stopped (freeze_claim.h) */
	int tree_lock;			/* dump.h's, for the checkpoint's root */
};

/*
 * Sorts the checkpoint's pids: running ones of its program (pid_origin.h)
 * into running; any held by another program makes the restore impossible.
 */
static int check_pids(const Checkpoint *ck, struct pidlist *running, struct herr *e)
{
	for (size_t i = 0; i < ck->n_processes; i++) {
		const CheckpointProcess *p = ck->processes[i];
		struct proc_stat st;

		if (read_proc_stat(p->pid, &st))
			continue;
		if (!pid_origin_is_checkpoints(ck, p, &st)) {
			herr_set(e, EC(PID_IN_USE), EEXIST,
				 "pid %d of checkpoint %s (%s) is now held by another process (%s%s); CRIU restores "
				 "processes at their original pids, so this checkpoint cannot be restored while it runs "
				 "(it is not killed: it is not the checkpoint's program)", p->pid, ck->id, p->comm, st.comm,
				 strcmp(st.comm, p->comm ? p->comm : "") ? "" :
				 ", of the same name, started after the checkpoint and not restored from a checkpoint of this program");
			return -1;
		}
		pidlist_add(running, p->pid);
	}
	return 0;
}

static int refuse_running(const struct restore_ctx *c, struct herr *e)
{
	const CheckpointProcess *p = NULL;
	pid_t pid = c->running.v[0];

	for (size_t i = 0; i < c->ck->n_processes && !p; i++)
		if (c->ck->processes[i]->pid == pid)
			p = c->ck->processes[i];
	herr_set(e, EC(TREE_RUNNING), EEXIST,
		 "checkpoint %s's process %d (%s) still runs; CRIU restores processes at their original "
		 "pids; stop it or ask to kill it first (kill_running)", c->ck->id, pid, p && p->comm ? p->comm : "?");
	return -1;
}

/* Everything that can be checked before a kill: nothing is killed when the restore cannot work. */
static int check_restorable(struct restore_ctx *c, struct herr *e)
{
	const Checkpoint *ck = c->ck;

	if (criu_options_valid(ck->options, e) || check_pids(ck, &c->running, e))
		return -1;
	/* before any kill: an outside reader may end when the tree's end closes */
	if (leaks_restore_plan(ck->leaks, ck->options, ck->output_pipes, &c->plan, e))
		return -1;
	if (ck->options && ck->options->tcp_established && !c->p->tcp_close &&
	    criu_network_lock(c->p->criu->path, &c->network_lock, e))
		return -1;
	if (c->running.n && !c->p->kill_running)
		return refuse_running(c, e);
	return 0;
}

/* Lets go of the frozen trees the running processes are in: SIGKILL works on frozen tasks, but let go. */
static void release_frozen(const struct restore_ctx *c, struct herr *e)
{
	for (size_t i = 0; i < c->running.n; i++) {
		struct frozen_tree *t = frozen_find_member(c->running.v[i]);

		if (t) {
			pid_t root = t->root;

			frozen_release(t, true, e);
			emit_tree_state(c->p->request, root, TS(RUNNING));
		}
	}
}

/* Waits until the killed processes are gone (reaped, when they are the helper's). */
static int wait_killed(const struct restore_ctx *c, struct herr *e)
{
	uint64_t deadline = now_us() + KILL_WAIT_MS * 1000ull;
	unsigned pause = 0;

	for (;;) {
		size_t left = 0;

		reap_children();
		for (size_t i = 0; i < c->running.n; i++)
			left += pid_exists(c->running.v[i]);
		if (!left)
			return 0;
		if (now_us() > deadline) {
			herr_set(e, EC(PID_IN_USE), EBUSY,
				 "%zu process(es) of checkpoint %s still exist %d s after SIGKILL (zombies not reaped?)",
				 left, c->ck->id, KILL_WAIT_MS / 1000);
			return -1;
		}
		poll_pause(&pause);
	}
}

/* Kills the running processes; with tcp_close the running connections end plainly. */
static int kill_running(struct restore_ctx *c, struct restore_outcome *out, struct herr *e)
{
	const struct restore_params *p = c->p;
	struct fdlist quiet = { 0 };
	int ret = -1;

	if (!p->tcp_close && tcp_quiet_saved(p->store, c->ck, &c->running, &quiet, e))
		return -1;
	emit_progress(p->request, "killing", "stopping %zu running process(es) of checkpoint %s", c->running.n,
		      c->ck->id);
	release_frozen(c, e);
	out->killed = arena_alloc((c->running.n + 1) * sizeof(*out->killed));
	for (size_t i = 0; i < c->running.n; i++)
		if (kill(c->running.v[i], SIGKILL) == 0)
			out->killed[out->nkilled++] = c->running.v[i];
	if (wait_killed(c, e))
		goto out;
	if (c->ck->root_pid > 0)
		emit_tree_state(p->request, c->ck->root_pid, TS(GONE));
	ret = 0;
out:
	fdlist_close(&quiet);	/* the last holder of the repaired connections: they end without a word */
	return ret;
}

static int open_workdir(struct restore_ctx *c, struct herr *e)
{
	const char *store = c->p->store;
	char stamp[32], rnd[8];

	utc_stamp(stamp, sizeof(stamp));
	if (random_hex(rnd, 4))
		rnd[0] = '\0';
	snprintf(c->work, sizeof(c->work), "%s/.logs", store);
	if (mkdir(c->work, 0700) && errno != EEXIST)
		goto fail;
	/* before this restore's directory is made: a lazy restore's supervisor writes in it later */
	store_prune(c->work, KEPT_LOGS);
	snprintf(c->work, sizeof(c->work), "%s/.logs/%s-%s-%s", store, c->ck->id, stamp, rnd);
	if (mkdir(c->work, 0700))
		goto fail;
	c->work_fd = open(c->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->work_fd < 0)
		goto fail;
	return 0;
fail:
	herr_perror(e, EC(INTERNAL), errno, "cannot create %s", c->work);
	return -1;
}

static int open_dirs(struct restore_ctx *c, struct herr *e)
{
	c->images_fd = checkpoint_open(c->p->store, c->ck->id, e);	/* its manifest read: deleted since, if gone */
	if (c->images_fd < 0)
		return -1;
	if (share_chain_hold(c->p->store, c->images_fd, c->ck->id, &c->chain, e))
		return -1;
	return open_workdir(c, e);
}

/* The checkpoint's pids: those its restored processes get. */
static pid_t *checkpoint_pids(const Checkpoint *ck)
{
	pid_t *pids = arena_alloc((ck->n_processes + 1) * sizeof(*pids));

	for (size_t i = 0; i < ck->n_processes; i++)
		pids[i] = ck->processes[i]->pid;
	return pids;
}

/* A lazy restore of this checkpoint's processes still under way is waited for: its daemon must not lose them. */
static int wait_lazy_done(const struct restore_ctx *c, struct herr *e)
{
	return lazy_wait_idle(c->p->store, c->pids, c->ck->n_processes, c->p->request, e);
}

/* With lazy pages (asked, and CRIU and the kernel can): the daemon listens before anything is killed. */
static int start_lazy(struct restore_ctx *c, struct herr *e)
{
	if (!c->p->lazy || !c->p->criu->lazy_pages)
		return 0;
	/* pages in a parent checkpoint hang CRIU's lazy-pages daemon (docs/incremental.md): every page first */
	if (faccessat(c->images_fd, "parent", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		emit_progress(c->p->request, "lazy-pages", "checkpoint %s takes pages from a parent checkpoint: restored "
			      "fully, as CRIU's lazy pages cannot serve those", c->ck->id);
		return 0;
	}
	c->lazy_params = (struct lazy_params){
		.request = c->p->request, .criu = c->p->criu->path, .store = c->p->store, .id = c->ck->id,
		.images = arena_printf("%s/%s", c->p->store, c->ck->id), .logs = c->work,
		.pids = c->pids, .npids = c->ck->n_processes,
	};
	emit_progress(c->p->request, "lazy-pages", "starting CRIU's lazy-pages daemon for checkpoint %s", c->ck->id);
	return lazy_start(&c->lazy_params, &c->lazy, e);
}

/* CRIU's work directory: a lazy restore's short one (its daemon's socket is there), else the kept logs'. */
static int criu_work_fd(const struct restore_ctx *c)
{
	return c->lazy.supervisor ? c->lazy.work_fd : c->work_fd;
}

/* A lazy restore's log, kept with the others (its work directory goes with its daemon). */
static void keep_restore_log(const struct restore_ctx *c)
{
	if (c->lazy.supervisor)
		copy_file_at(c->lazy.work_fd, "restore.log", c->work_fd, "restore.log", 64u << 20);
}

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

/* New output pipes in place of a launched program's, when the checkpoint is of one. */
static int output_prepare(struct restore_ctx *c, CriuOpts *opts, struct herr *e)
{
	const OutputPipes *pipes = c->ck->output_pipes;
	struct restore_output *o = &c->output;

	if (!pipes)
		return 0;
	if (!program_room()) {
		herr_set(e, EC(BAD_REQUEST), EMFILE, "this helper already reads the output of %d programs; "
			 "kill one first", MAX_PROGRAMS);
		return -1;
	}
	if (program_pipes_open(o->out, o->err, e))
		return -1;
	add_inherit(o, opts, pipes->stdout_pipe_id, o->out[WRITE_END]);
	add_inherit(o, opts, pipes->stderr_pipe_id, o->err[WRITE_END]);
	return 0;
}

static void output_close(struct restore_output *o)
{
	for (int i = READ_END; i <= WRITE_END; i++) {
		if (o->out[i] >= 0)
			close(o->out[i]);
		if (o->err[i] >= 0)
			close(o->err[i]);
		o->out[i] = o->err[i] = -1;
	}
}

/*
 * Adds the plan's inherited pipes and joined namespaces to opts, after the
 * output pipes; returns every descriptor CRIU must inherit (*n of them).
 */
static const int *inherited_fds(struct restore_ctx *c, CriuOpts *opts, size_t *n)
{
	const struct restore_plan *plan = &c->plan;
	const int own[] = { c->images_fd, criu_work_fd(c), c->output.out[WRITE_END], c->output.err[WRITE_END] };
	size_t nin = opts->n_inherit_fd + plan->ninherit;
	InheritFd **in = arena_alloc((nin + 1) * sizeof(*in));
	int *keep = arena_alloc((ARRAY_SIZE(own) + plan->nfds) * sizeof(*keep));

	for (size_t i = 0; i < opts->n_inherit_fd; i++)
		in[i] = opts->inherit_fd[i];
	for (size_t i = 0; i < plan->ninherit; i++)
		in[opts->n_inherit_fd + i] = plan->inherit[i];
	opts->n_inherit_fd = nin;
	opts->inherit_fd = in;
	opts->n_join_ns = plan->njoin;
	opts->join_ns = plan->join;
	memcpy(keep, own, sizeof(own));
	memcpy(keep + ARRAY_SIZE(own), plan->fds, plan->nfds * sizeof(*keep));
	*n = ARRAY_SIZE(own) + plan->nfds;
	return keep;
}

static void on_notify(const char *script, void *arg)
{
	const struct restore_ctx *c = arg;

	criu_notify_progress(c->p->request, script);
}

/* The restored tree as it runs: its processes, its output streamed again. */
static void adopt(struct restore_ctx *c, pid_t root, struct restore_outcome *out)
{
	struct pidlist tree = { 0 };
	struct herr e = { 0 };

	out->root = root;
	if (c->ck->output_pipes) {
		program_adopt(root, c->p->request, c->output.out[READ_END], c->output.err[READ_END]);
		c->output.out[READ_END] = c->output.err[READ_END] = -1;
		out->output_streamed = true;
	}
	if (proc_tree(root, &tree, &e) == 0) {
		out->pids = arena_alloc((tree.n + 1) * sizeof(*out->pids));
		for (size_t i = 0; i < tree.n; i++)
			out->pids[out->npids++] = tree.v[i];
	}
	pidlist_free(&tree);
}

/* CRIU's restore leaves its hardware breakpoint's hit in the threads' debug status, as its dump does (see debugregs.h). */
static void clear_debug_status(const struct restore_outcome *out)
{
	struct pidlist restored = { .v = out->pids, .n = out->npids };

	debug_status_clear(&restored);
}

/* Lets processes out of the stop CRIU left them in (leave_stopped). */
static void continue_pids(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], SIGCONT) && errno != ESRCH)
			fprintf(stderr, "checkpoint-helper: cannot continue restored process %d: %s\n", pids[i],
				strerror(errno));
}

/*
 * A tree restored frozen: CRIU left it stopped; it is frozen first, then
 * let out of the stop, so that it stands still until thawed and then runs
 * from where it was checkpointed (a stopped task thawed would stay stopped).
 * When it cannot be frozen it runs, and the outcome says why.
 */
static void freeze_restored(const struct restore_ctx *c, struct restore_outcome *out)
{
	struct frozen_tree *t;
	struct herr e = { 0 };

	if (freeze_tree(out->root, &(struct freeze_how){ 0 }, &t, &e) == 0)
		out->frozen = true;
	else
		out->warning = arena_printf("the restored tree could not be frozen, so it runs: %s", e.msg);
	continue_pids(out->pids, out->npids);
	emit_tree_state(c->p->request, out->root, out->frozen ? TS(FROZEN) : TS(RUNNING));
}

static int criu_restore(struct restore_ctx *c, struct restore_outcome *out, struct herr *e)
{
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuReq req = CRIU_REQ__INIT;
	CriuResp *r = NULL;
	const int *keep;
	size_t nkeep;
	uint64_t t0;
	int called, ret = -1;

	opts.images_dir_fd = c->images_fd;
	opts.has_work_dir_fd = true;
	opts.work_dir_fd = criu_work_fd(c);
	opts.has_lazy_pages = opts.lazy_pages = c->lazy.supervisor > 0;
	opts.has_rst_sibling = opts.rst_sibling = true;
	criu_opts_common(&opts, "restore.log", c->ck->options, c->network_lock);
	if (c->p->tcp_close && opts.tcp_established)
		opts.has_tcp_close = opts.tcp_close = true;
	if (c->p->frozen)
		opts.has_leave_stopped = opts.leave_stopped = true;
	if (output_prepare(c, &opts, e))
		return -1;
	keep = inherited_fds(c, &opts, &nkeep);
	req.type = CRIU_REQ_TYPE__RESTORE;
	req.opts = &opts;
	emit_tree_state(c->p->request, c->ck->root_pid, TS(RESTORING));
	emit_progress(c->p->request, "restoring", "CRIU is restoring checkpoint %s", c->ck->id);
	t0 = now_us();
	called = criu_call(c->p->criu->path, &req, keep, nkeep, on_notify, c, &r, e);
	keep_restore_log(c);
	if (called)
		return -1;
	out->criu_wall_us = now_us() - t0;
	if (r->success && r->restore) {
		fault_at("criu-restored");	/* the tree exists, stopped when restored frozen */
		adopt(c, r->restore->pid, out);
		/* from now on a sweep continues these processes only, not a later holder of their pids */
		if (c->stop_claim >= 0)
			stop_claim_settle(c->stop_claim, c->pids, c->ck->n_processes);
		/* its processes not found (proc_tree failed): the checkpoint's pids are let out of the stop at least */
		if (c->p->frozen && !out->npids)
			continue_pids(c->pids, c->ck->n_processes);
		clear_debug_status(out);
		if (c->p->frozen)
			freeze_restored(c, out);
		else
			emit_tree_state(c->p->request, out->root, TS(RUNNING));
		ret = 0;
	} else {
		char *log = arena_printf("%s/restore.log", c->work);

		out->criu = criu_failure_read(arena_printf("restore checkpoint %s", c->ck->id), r, log, log, e);
		emit_tree_state(c->p->request, c->ck->root_pid, TS(GONE));
	}
	criu_resp__free_unpacked(r, NULL);
	return ret;
}

int restore_run(const struct restore_params *p, struct restore_outcome *out, struct herr *e)
{
	struct restore_ctx c = { .p = p, .images_fd = -1, .work_fd = -1, .lazy = { .work_fd = -1, .go_fd = -1 }, .stop_claim = -1, .tree_lock = -1,
				 .output = { .out = { -1, -1 }, .err = { -1, -1 } } };
	int ret = -1;

	memset(out, 0, sizeof(*out));
	c.ck = manifest_read(p->store, p->id, e);
	if (!c.ck)
		goto out;
	/* the directory names the checkpoint: a copied or renamed one restores from where it is */
	c.ck->id = (char *)p->id;
	c.pids = checkpoint_pids(c.ck);
	/* what runs at its pids is judged, and killed, by one restore or dump at a time */
	c.tree_lock = tree_lock(c.ck->root_pid, e);
	if (c.tree_lock < 0 || wait_lazy_done(&c, e) || check_restorable(&c, e))
		goto out;
	if (open_dirs(&c, e) || start_lazy(&c, e))
		goto out;
	/*
	 * Restored frozen, CRIU leaves the tree stopped: claimed before anything
	 * is killed, so that a helper dying before it lets the tree out of that
	 * stop leaves it to the sweep, and a claim that cannot be taken costs
	 * nothing yet.
	 */
	if (p->frozen && (c.stop_claim = stop_claim_take(c.ck->root_pid, c.pids, c.ck->n_processes, e)) < 0)
		goto out;
	if (c.running.n && kill_running(&c, out, e))
		goto out;
	fault_at("restore-criu-first");	/* what was running is gone, CRIU not yet run */
	if (criu_restore(&c, out, e))
		goto out;
	/* what the next restore may kill at these pids: these processes, and no later holder of them */
	pid_origin_record_restored(c.ck, out->pids, out->npids);
	if (c.lazy.supervisor) {
		lazy_watch(&c.lazy, out->root);
		out->lazy = true;
	}
	ret = 0;
out:
	if (ret && c.lazy.supervisor)
		lazy_abort(&c.lazy, &c.lazy_params);
	fdlist_close(&c.chain);
	/* out of the stop by now: frozen and continued, or CRIU failed and ended them */
	stop_claim_drop(c.ck ? c.ck->root_pid : 0, c.stop_claim);
	if (c.images_fd >= 0)
		close(c.images_fd);
	if (c.work_fd >= 0)
		close(c.work_fd);
	if (c.tree_lock >= 0)
		close(c.tree_lock);	/* and with it the lock */
	/* the write ends now belong to the restored program, or to nobody */
	output_close(&c.output);
	restore_plan_close(&c.plan);
	pidlist_free(&c.running);
	return ret;
}
