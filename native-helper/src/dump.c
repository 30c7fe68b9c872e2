/* SPDX-License-Identifier: MIT */
/* Checkpointing a process tree: scan, policy, CRIU's dump, the manifest. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "arena.h"
#include "cgroup.h"
#include "channel.h"
#include "debugregs.h"
#include "dump.h"
#include "fault.h"
#include "fileio.h"
#include "lazy.h"
#include "leaks.h"
#include "manifest.h"
#include "page_share.h"
#include "proc.h"
#include "program.h"
#include "store.h"
#include "util.h"

struct dump_ctx {
	const struct dump_params *p;
	char id[MAX_ID_LEN + 1];
	char partial[4400];
	char final[4400];
	int dirfd;
	struct frozen_tree *tree;	/* frozen by a freeze request, or NULL */
	OutputPipes *pipes;		/* the root is (in) a program of this helper */
	LeakReport *leaks;		/* the scans and the policy */
	DumpOptions *options;		/* what the policy decided */
	int network_lock;
	CheckpointProcess **procs;
	size_t nprocs;
	Checkpoint *ck;
	const struct pidlist *pids;	/* the tree as scanned before the dump */
	bool criu_ran;			/* its parasite may have been in the tasks */
	int parent_fd;			/* the checkpoint it stands on, locked shared until it is listed */
	int dump_lock;			/* DUMP_LOCK_DIR/<root>, held for the whole dump */
	const char *parent;		/* its id */
	PageSharing *sharing;
};

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
		p->start_ticks = st.start_ticks;
		if (read_cmdline(st.pid, &p->cmdline, &argc) == 0)
			p->n_cmdline = argc;
		v[(*n)++] = p;
	}
	return v;
}

static int prepare_dir(struct dump_ctx *c, struct herr *e)
{
	char stamp[32], rnd[8];

	if (store_prepare(c->p->store, e))
		return -1;
	utc_stamp(stamp, sizeof(stamp));
	if (random_hex(rnd, 4)) {
		herr_perror(e, EC(INTERNAL), errno, "getrandom");
		return -1;
	}
	snprintf(c->id, sizeof(c->id), "%s-%s", stamp, rnd);
	snprintf(c->partial, sizeof(c->partial), "%s/%s.partial", c->p->store, c->id);
	snprintf(c->final, sizeof(c->final), "%s/%s", c->p->store, c->id);
	if (mkdir(c->partial, 0700)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot create %s", c->partial);
		return -1;
	}
	c->dirfd = open(c->partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot open %s", c->partial);
		return -1;
	}
	/*
	 * Held (by this helper and the CRIU it passes the descriptor to) until
	 * the dump ends: the store's sweep leaves a locked .partial alone. One
	 * that swept this directory between mkdir and here would have removed it.
	 */
	errno = 0;
	if (flock(c->dirfd, LOCK_EX) || !fd_is_at(c->dirfd, AT_FDCWD, c->partial)) {
		herr_perror(e, EC(BUSY), errno ? errno : ENOENT, "cannot hold %s (removed by another helper's sweep?); "
			    "try again", c->partial);
		return -1;
	}
	return 0;
}

static DumpStats *read_stats(const struct dump_ctx *c, uint64_t wall_us)
{
	DumpStats *st = arena_alloc(sizeof(*st));
	char *buf = NULL;
	size_t len = 0;

	checkpoint__helper__v1__dump_stats__init(st);
	if (read_file_at(c->dirfd, "stats-dump", &buf, &len, 1 << 20) == 0) {
		if (decode_stats((uint8_t *)buf, len, st))
			fprintf(stderr, "checkpoint-helper: stats-dump of %s cannot be decoded\n", c->id);
		free(buf);
	}
	st->criu_wall_time_us = wall_us;
	return st;
}

static Checkpoint *build_manifest(const struct dump_ctx *c, uint64_t wall_us)
{
	Checkpoint *ck = arena_alloc(sizeof(*ck));
	const char *name = c->p->name;
	struct utsname u;

	checkpoint__helper__v1__checkpoint__init(ck);
	ck->manifest_version = MANIFEST_VERSION;
	ck->id = arena_strdup(c->id);
	ck->name = arena_strdup(name && name[0] ? name : c->nprocs ? c->procs[0]->comm : "checkpoint");
	ck->created_unix_ms = now_unix_ms();
	ck->root_pid = c->p->root;
	ck->processes = c->procs;
	ck->n_processes = c->nprocs;
	ck->criu_version = arena_strdup(c->p->criu->version);
	ck->leave_running = c->p->leave_running;
	ck->options = c->options;
	ck->leaks = c->leaks;
	ck->stats = read_stats(c, wall_us);
	ck->path = arena_strdup(c->final);
	ck->helper_version = VERSION;
	ck->output_pipes = c->pipes;
	ck->debugger_stop = c->p->debugger_stop;
	ck->parent = arena_strdup(c->parent ? c->parent : "");
	ck->sharing = c->sharing;
	if (uname(&u) == 0) {
		ck->hostname = arena_strdup(u.nodename);
		ck->kernel_release = arena_strdup(u.release);
	}
	/* size without the manifest itself: the images and CRIU's log */
	ck->size_bytes = dir_size(c->partial);
	return ck;
}

/* Whether checkpoint ck is of the same program as this dump's root: pid, name and command line. */
static bool same_root(const Checkpoint *ck, const struct dump_ctx *c)
{
	const CheckpointProcess *a = checkpoint_root_process(ck), *b = c->nprocs ? c->procs[0] : NULL;

	if (!a || !b || a->pid != c->p->root || b->pid != c->p->root || strcmp(a->comm, b->comm) || a->n_cmdline != b->n_cmdline)
		return false;
	for (size_t i = 0; i < a->n_cmdline; i++)
		if (strcmp(a->cmdline[i], b->cmdline[i]))
			return false;
	return true;
}

/*
 * The checkpoint to stand on: the newest of the same root (a pid reused by
 * another program shares little) whose chain
 * is short enough, locked shared (a delete waits until this one is listed
 * and can be handed its pages). None when it is busy or gone.
 */
static const char *choose_parent(struct dump_ctx *c)
{
	ListResult list = CHECKPOINT__HELPER__V1__LIST_RESULT__INIT;
	struct herr e = { 0 };
	struct stat st;

	if (store_list(c->p->store, &list, &e))
		return NULL;
	for (size_t i = list.n_checkpoints; i-- > 0;) {
		const Checkpoint *ck = list.checkpoints[i];

		if (ck->root_pid != c->p->root || !same_root(ck, c))
			continue;
		c->parent_fd = checkpoint_open(c->p->store, ck->id, &e);
		if (c->parent_fd < 0 || flock(c->parent_fd, LOCK_SH | LOCK_NB) || fstat(c->parent_fd, &st) ||
		    st.st_nlink == 0 || share_chain_length(c->parent_fd) >= SHARE_MAX_CHAIN)
			return NULL;
		return ck->id;
	}
	return NULL;
}

/* The new checkpoint's pages that its parent holds alike are read from there (failing that: kept). */
static void share_pages(struct dump_ctx *c)
{
	const char *parent = c->p->self_contained ? NULL : choose_parent(c);
	struct share_stats st;
	struct herr e = { 0 };

	if (!parent)
		return;
	emit_progress(c->p->request, "sharing", "comparing the pages of %s with its parent %s", c->id, parent);
	if (page_share(c->dirfd, parent, &st, &e))
		fprintf(stderr, "checkpoint-helper: %s keeps the pages it could not share: %s\n", c->id, e.msg);
	if (!st.shared_pages)
		return;
	c->parent = parent;
	c->sharing = arena_alloc(sizeof(*c->sharing));
	checkpoint__helper__v1__page_sharing__init(c->sharing);
	c->sharing->shared_pages = st.shared_pages;
	c->sharing->own_pages = st.own_pages;
	c->sharing->time_us = st.time_us;
}

/*
 * The manifest written before CRIU runs (no figures yet), so that the
 * images, once complete, are a listed, restorable checkpoint even if the
 * final manifest cannot be written (a full disk): without leave-running,
 * CRIU has ended the program by then, and the images are all there is.
 */
static int write_first_manifest(struct dump_ctx *c, struct herr *e)
{
	Checkpoint *ck = build_manifest(c, 0);

	ck->provisional = true;
	if (fault_at("manifest-first")) {
		herr_perror(e, EC(INTERNAL), errno, "cannot write the manifest of %s", c->id);
		return -1;
	}
	return manifest_write(c->dirfd, ck, e);
}

/*
 * The final manifest (figures, sharing) in place of the first; when it
 * cannot be, the first one stays, said in the answer (provisional). Then
 * .partial is moved into place: from now on the checkpoint is listed.
 */
static int finish(struct dump_ctx *c, uint64_t wall_us, struct herr *e)
{
	struct herr me = { 0 };
	Checkpoint *ck;

	share_pages(c);
	ck = build_manifest(c, wall_us);
	emit_progress(c->p->request, "writing-manifest", "writing the manifest of %s", c->id);
	if (fault_at("manifest-final")) {
		herr_perror(&me, EC(INTERNAL), errno, "cannot write the manifest of %s", c->id);
	} else if (manifest_write(c->dirfd, ck, &me) == 0) {
		me.msg[0] = '\0';
	}
	if (me.msg[0]) {
		fprintf(stderr, "checkpoint-helper: %s; the one written before the dump stays\n", me.msg);
		ck = manifest_read_at(c->dirfd, c->p->store, c->id, NULL);
		if (!ck) {
			*e = me;
			return -1;
		}
	}
	if (fault_at("rename-final") || rename(c->partial, c->final)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot rename %s to %s", c->partial, c->final);
		return -1;
	}
	/* a failed sync only makes the rename less durable: after a crash the sweep lists it from its .partial */
	if (sync_dir(c->p->store))
		fprintf(stderr, "checkpoint-helper: cannot sync the store %s: %s\n", c->p->store, strerror(errno));
	c->ck = ck;
	return 0;
}

/*
 * Whether the dump's CRIU ended the tree. CRIU SIGKILLs it as it lets go
 * and need not wait for its end: when its answer was lost, the root may
 * still be dying, so this waits for it a little (a second at most).
 */
static bool criu_ended_tree(const struct dump_ctx *c, bool criu_done)
{
	uint64_t until = now_us() + 1000000;
	unsigned pause_us = 0;

	if (!criu_done)
		return false;
	while (!proc_gone(c->p->root)) {
		if (c->p->leave_running || now_us() > until)
			return false;
		poll_pause(&pause_us);
	}
	return true;
}

/*
 * A dump that failed after CRIU's: its images are complete. Kept when CRIU
 * has ended the program (they are all that is left of it): the store's
 * sweep lists them once this dump lets go of them; else removed, the
 * program running on.
 */
static void discard_or_keep(struct dump_ctx *c, bool criu_done, struct herr *e)
{
	/* CRIU may have finished (its stats-dump, written last) though its answer was lost: a timeout, a broken exchange */
	criu_done = criu_done || faccessat(c->dirfd, "stats-dump", F_OK, 0) == 0;
	if (criu_ended_tree(c, criu_done)) {
		size_t n = strlen(e->msg);

		snprintf(e->msg + n, sizeof(e->msg) - n, "; CRIU had ended the program: its complete images are kept "
			 "in %s, and listed as checkpoint %s from the next listing on (restore it from there)",
			 c->partial, c->id);
		return;
	}
	if (remove_tree(c->partial))
		fprintf(stderr, "checkpoint-helper: cannot remove %s: %s\n", c->partial, strerror(errno));
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
static const char *keep_failed_log(const struct dump_ctx *c)
{
	char dir[4400], *dst;

	snprintf(dir, sizeof(dir), "%s/.failed", c->p->store);
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
 * unless the dump ended it; a running tree was only seized by CRIU. Either
 * way CRIU's parasite left its breakpoint hit in the threads' debug status,
 * which a debugger attached later would trip over (see debugregs.h).
 */
static void release_tree(struct dump_ctx *c, bool tasks_gone)
{
	struct herr e = { 0 };

	if (c->criu_ran && !tasks_gone)
		debug_status_clear(c->pids);
	if (c->tree && tasks_gone && frozen_release(c->tree, true, &e))
		fprintf(stderr, "checkpoint-helper: %s\n", e.msg);
	emit_tree_state(c->p->request, c->p->root, tasks_gone ? TS(GONE) : c->tree ? TS(FROZEN) : TS(RUNNING));
	c->tree = NULL;
}

/*
 * The first scan: the leaks with the policy applied. Fail leaks refuse the
 * dump here, before anything is frozen or written; the others decide the
 * CRIU options.
 */
static int scan_before_dump(struct dump_ctx *c, struct dump_outcome *out, struct herr *e)
{
	const struct dump_params *p = c->p;

	emit_progress(p->request, "leak-scan", "scanning the tree of process %d for leaks", p->root);
	c->leaks = leaks_report(p->root, p->rules, p->nrules, e);
	if (!c->leaks)
		return -1;
	c->options = leaks_dump_options(c->leaks->leaks, c->leaks->n_leaks);
	out->refused = leaks_failing(c->leaks->leaks, c->leaks->n_leaks, &out->nrefused);
	if (out->nrefused) {
		leaks_refusal(p->root, out->refused, out->nrefused, e);
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

/* What the target's CRIU cannot do, refused before anything is frozen or written. */
static int check_criu_can(struct dump_ctx *c, struct herr *e)
{
	struct herr why = { 0 };

	if (has_inet_sockets(c->leaks) && criu_inet_dumpable(c->p->criu, &why)) {
		herr_set(e, why.code, why.errnum, "the tree has TCP or UDP sockets; nothing was frozen or written: %s",
			 why.msg);
		return -1;
	}
	if (c->options->tcp_established)
		return criu_network_lock(c->p->criu->path, &c->network_lock, e);
	return 0;
}

/*
 * The second scan, at post-dump: CRIU waits for our answer with the tree
 * still frozen, so what differs from the first scan changed during the
 * dump, and the images may hold a state the tree never had as a whole.
 */
static void on_notify(const char *script, void *arg)
{
	const struct dump_ctx *c = arg;

	criu_notify_progress(c->p->request, script);
	if (strcmp(script, "post-dump"))
		return;
	/* CRIU has written the images and waits for this answer before it ends or resumes the tree */
	fault_at("criu-post-dump");
	emit_progress(c->p->request, "leak-rescan", "scanning the frozen tree for leaks again");
	leaks_rescan(c->leaks, c->p->root, c->p->rules, c->p->nrules);
}

/* CRIU failed: its words, and the log kept in <store>/.failed. */
static void dump_failed(const struct dump_ctx *c, const CriuResp *r, struct dump_outcome *out, struct herr *e)
{
	char log_path[4500], msg[sizeof(e->msg)];
	const char *kept = keep_failed_log(c);

	snprintf(log_path, sizeof(log_path), "%s/dump.log", c->partial);
	out->criu = criu_failure_read(arena_printf("checkpoint PID %d", c->p->root), r, kept ? kept : log_path,
				      kept, e);
	if (pid_exists(c->p->root))
		return;
	memcpy(msg, e->msg, sizeof(msg));
	herr_set(e, EC(NO_SUCH_PROCESS), e->errnum, "process %d exited during the checkpoint; %s", c->p->root, msg);
}

/* Runs CRIU's dump into .partial; -1 when the exchange failed or CRIU did (out->criu says what). */
static int criu_dump(struct dump_ctx *c, struct dump_outcome *out, uint64_t *wall_us, struct herr *e)
{
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuReq req = CRIU_REQ__INIT;
	CriuResp *r = NULL;
	uint64_t t0;
	int ret = -1;

	opts.images_dir_fd = c->dirfd;
	opts.has_pid = true;
	opts.pid = c->p->root;
	opts.has_leave_running = true;
	opts.leave_running = c->p->leave_running;
	if (c->tree)
		opts.freeze_cgroup = c->tree->cgroup;
	criu_opts_common(&opts, "dump.log", c->options, c->network_lock);
	req.type = CRIU_REQ_TYPE__DUMP;
	req.opts = &opts;
	emit_tree_state(c->p->request, c->p->root, TS(CHECKPOINTING));
	emit_progress(c->p->request, "dumping", "CRIU is checkpointing the tree of process %d", c->p->root);
	t0 = now_us();
	c->criu_ran = true;
	if (criu_call(c->p->criu->path, &req, &c->dirfd, 1, on_notify, c, &r, e))
		return -1;
	*wall_us = now_us() - t0;
	if (r->success)
		ret = 0;
	else
		dump_failed(c, r, out, e);
	criu_resp__free_unpacked(r, NULL);
	return ret;
}

int tree_lock(pid_t root, struct herr *e)
{
	char name[16];
	int fd;

	snprintf(name, sizeof(name), "%d", root);
	fd = lock_file_in(DUMP_LOCK_DIR, name);
	if (fd >= 0)
		return fd;
	if (errno == EWOULDBLOCK)
		herr_set(e, EC(BUSY), EWOULDBLOCK, "a dump or a restore of the tree of process %d is already under "
			 "way (another request, or another session); try again when it is done", root);
	else
		herr_perror(e, EC(INTERNAL), errno, "cannot lock %s/%s", DUMP_LOCK_DIR, name);
	return -1;
}

/* Before anything is frozen or scanned. */
static int lock_tree(struct dump_ctx *c, struct herr *e)
{
	c->dump_lock = tree_lock(c->p->root, e);
	return c->dump_lock < 0 ? -1 : 0;
}

int dump_run(const struct dump_params *p, struct dump_outcome *out, struct herr *e)
{
	struct dump_ctx c = { .p = p, .dirfd = -1, .parent_fd = -1, .dump_lock = -1 };
	struct pidlist pids = { 0 };
	uint64_t wall_us = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	c.tree = frozen_find(p->root);
	c.pids = &pids;
	/* a tree restored lazily is dumped once its pages are all in: CRIU would meet its userfaultfd */
	if (lock_tree(&c, e) || proc_tree(p->root, &pids, e) || lazy_wait_idle(p->store, pids.v, pids.n, p->request, e) ||
	    scan_before_dump(&c, out, e) || check_criu_can(&c, e))
		goto release;
	c.procs = collect_processes(&pids, &c.nprocs);
	c.pipes = output_pipes_of(p->root);
	if (prepare_dir(&c, e))
		goto release;
	if (write_first_manifest(&c, e) || criu_dump(&c, out, &wall_us, e)) {
		discard_or_keep(&c, false, e);
		goto release;
	}
	if (finish(&c, wall_us, e)) {
		discard_or_keep(&c, true, e);
		goto release;
	}
	out->checkpoint = c.ck;
	release_tree(&c, !p->leave_running);
	ret = 0;
	goto out;
release:
	/* on failure CRIU leaves the tasks as they were: running, or frozen */
	release_tree(&c, !pid_exists(p->root));
out:
	if (c.dirfd >= 0)
		close(c.dirfd);
	if (c.parent_fd >= 0)
		close(c.parent_fd);	/* and with it the lock */
	if (c.dump_lock >= 0)
		close(c.dump_lock);	/* and with it the lock */
	pidlist_free(&pids);
	return ret;
}
