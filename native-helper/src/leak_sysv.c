/* SPDX-License-Identifier: MIT */
/*
 * Leaks of SysV IPC: shm segments the tree has attached that are attached
 * outside it too, or that belong to an IPC namespace it shares with
 * outsiders (or the helper's own, which CRIU does not dump); and in such a
 * namespace its semaphore sets and message queues. /proc/sysvipc and semctl
 * show the caller's IPC namespace: the helper enters the tree's to read it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include "arena.h"
#include "fileio.h"
#include "leak_maps.h"
#include "leak_scan.h"
#include "leak_sysv.h"
#include "lists.h"
#include "proc.h"
#include "util.h"
#include "wire.h"

#define MAX_SYSV_BYTES (16u << 20)	/* of one /proc/sysvipc file */
#define MAX_SEM_USERS 8			/* pids listed per semaphore set */
#define MAX_SEM_ASKED 4096		/* semctl(GETPID) calls per scan */

/* key shmid perms size cpid lpid nattch ... */
int parse_sysv_shm(const char *line, struct sysv_line *l)
{
	memset(l, 0, sizeof(*l));
	if (sscanf(line, "%d %d %o %llu %d %d %llu", &l->key, &l->id, &l->mode, &l->size, &l->pid_a, &l->pid_b,
		   &l->count) != 7) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* key semid perms nsems ... */
int parse_sysv_sem(const char *line, struct sysv_line *l)
{
	memset(l, 0, sizeof(*l));
	if (sscanf(line, "%d %d %o %llu", &l->key, &l->id, &l->mode, &l->size) != 4) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* key msqid perms cbytes qnum lspid lrpid ... */
int parse_sysv_msg(const char *line, struct sysv_line *l)
{
	memset(l, 0, sizeof(*l));
	if (sscanf(line, "%d %d %o %llu %llu %d %d", &l->key, &l->id, &l->mode, &l->size, &l->count, &l->pid_a,
		   &l->pid_b) != 7) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

struct sysv_set {
	struct sysv_line l;
	pid_t users[MAX_SEM_USERS];	/* sem: the last pid to operate on each semaphore */
	size_t nusers;
};

/* What the tree's IPC namespace holds. */
struct sysv_view {
	struct sysv_set *shm, *sem, *msg;
	size_t nshm, nsem, nmsg;
	bool read;			/* false: the namespace could not be read */
};

static void sysv_view_free(struct sysv_view *v)
{
	free(v->shm);
	free(v->sem);
	free(v->msg);
}

static int read_sysv(const char *path, int (*parse)(const char *, struct sysv_line *), struct sysv_set **v,
		     size_t *n)
{
	char *buf = NULL, *line, *save = NULL;
	size_t cap = 0;
	int ret = -1;

	if (read_file(path, &buf, NULL, MAX_SYSV_BYTES))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sysv_line l;

		if (parse(line, &l))
			continue;	/* the header */
		if (array_grow((void **)v, &cap, *n + 1, sizeof(**v)))
			goto out;
		memset(&(*v)[*n], 0, sizeof(**v));
		(*v)[(*n)++].l = l;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* The last pid to operate on each semaphore of the set (a few, distinct). */
static void sem_users(struct sysv_set *set, size_t *budget)
{
	for (unsigned long long i = 0; i < set->l.size && *budget && set->nusers < MAX_SEM_USERS; i++) {
		int pid = semctl(set->l.id, (int)i, GETPID);
		bool known = false;

		(*budget)--;
		for (size_t j = 0; j < set->nusers; j++)
			known |= set->users[j] == pid;
		if (pid > 0 && !known)
			set->users[set->nusers++] = pid;
	}
}

/* Reads the IPC namespace the helper is in: shm, and sem and msg when all (what fails is left empty). */
static void sysv_read_here(bool all, struct sysv_view *v)
{
	size_t budget = MAX_SEM_ASKED;

	v->read = !read_sysv("/proc/sysvipc/shm", parse_sysv_shm, &v->shm, &v->nshm);
	if (!all)
		return;
	read_sysv("/proc/sysvipc/sem", parse_sysv_sem, &v->sem, &v->nsem);
	read_sysv("/proc/sysvipc/msg", parse_sysv_msg, &v->msg, &v->nmsg);
	for (size_t i = 0; i < v->nsem; i++)
		sem_users(&v->sem[i], &budget);
}

/*
 * Reads the IPC namespace of root: /proc/sysvipc and semctl show the
 * caller's, so the helper enters root's for the reading when it is not its
 * own, and comes back. -1 only when it could not come back (e is set).
 */
static int sysv_read(pid_t root, bool own, bool all, struct sysv_view *v, struct herr *e)
{
	int self;

	if (own) {
		sysv_read_here(all, v);
		return 0;
	}
	self = ns_enter(root, "ipc", CLONE_NEWIPC, 0);
	if (self < 0)
		return 0;	/* gone, or no privilege: v->read stays false */
	sysv_read_here(all, v);
	if (ns_leave(self, CLONE_NEWIPC)) {
		herr_perror(e, EC(INTERNAL), errno, "the helper entered process %d's IPC namespace to read its SysV "
			 "objects and could not come back to its own", root);
		return -1;
	}
	return 0;
}

/* A SysV shm mapping of a tree process. */
struct sysv_att {
	int shmid;
	pid_t pid;
	struct maps_line m;
};

/* One segment the tree has attached. */
struct sysv_seg {
	int shmid;
	const struct sysv_set *set;	/* NULL when the namespace could not be read */
	size_t tree;			/* the tree's attachments */
	bool outside;			/* attached more times than the tree does */
	size_t found;			/* outside attachments found */
	struct leak *lk;
	pid_t last;			/* the last outside process counted */
	pid_t first_pid;		/* the tree's first attacher, and where */
	unsigned long first_at;
};

struct sysvscan {
	struct host_scan *s;
	uint64_t ipc;			/* the tree's IPC namespace */
	bool own;			/* it is the helper's (and so CRIU's) own */
	size_t outsiders;		/* outside processes in it */
	struct sysv_view view;
	struct sysv_att *att;
	size_t natt, cap_att;
	struct sysv_seg *seg;
	size_t nseg;
	pid_t *hinted;			/* outside processes read first */
	size_t nhinted;
	bool nomem;
};

static void tree_attachment(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct sysvscan *ss = arg;

	if (map_class(m) != MC_SYSV || ss->nomem)
		return;
	if (array_grow((void **)&ss->att, &ss->cap_att, ss->natt + 1, sizeof(*ss->att))) {
		ss->nomem = true;
		return;
	}
	ss->att[ss->natt++] = (struct sysv_att){ .shmid = (int)m->inode, .pid = p->pid, .m = *m };
	ss->att[ss->natt - 1].m.path = NULL;	/* points into the maps buffer */
	ss->att[ss->natt - 1].m.path_len = 0;
}

static int cmp_att(const void *a, const void *b)
{
	const struct sysv_att *x = a, *y = b;

	return (x->shmid > y->shmid) - (x->shmid < y->shmid);
}

static const struct sysv_set *find_set(const struct sysv_set *v, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].l.id == id)
			return &v[i];
	return NULL;
}

static struct sysv_seg *find_seg(const struct sysvscan *ss, int shmid)
{
	for (size_t i = 0; i < ss->nseg; i++)
		if (ss->seg[i].shmid == shmid)
			return &ss->seg[i];
	return NULL;
}

static void outside_attachment(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct sysvscan *ss = arg;
	struct sysv_seg *g;

	if (map_class(m) != MC_SYSV)
		return;
	g = find_seg(ss, (int)m->inode);
	if (!g || !g->lk)
		return;
	g->found++;
	map_hold_outside(ss->s, g->lk, &g->last, p, m, "attached");
}

static void shm_text(const struct sysvscan *ss, struct sysv_seg *g)
{
	struct leak *lk = g->lk;
	size_t n = leak_outside_total(lk);

	if (g->set)
		lk->summary = arena_printf("SysV shared memory segment %d (key 0x%08x, %llu bytes), attached %llu "
					   "time%s: %zu by the tree%s", g->shmid, (unsigned int)g->set->l.key,
					   g->set->l.size, g->set->l.count, plural(g->set->l.count, "", "s"),
					   g->tree, n ? arena_printf(", by %zu process%s outside it", n,
								     plural(n, "", "es")) : "");
	else
		lk->summary = arena_printf("SysV shared memory segment %d, attached %zu time%s by the tree (its "
					   "attachments outside could not be counted: the helper could not enter "
					   "the tree's IPC namespace)", g->shmid, g->tree, plural(g->tree, "", "s"));
	if (g->outside)
		lk->risk = "Outside processes use the same memory: a restore gives the tree a copy of the segment, "
			   "and writes no longer reach the other side.";
	else
		lk->risk = arena_printf("It belongs to an IPC namespace that is not the tree's alone (%zu process%s "
					"outside the tree %s in it): a restore cannot bring the tree back to it.",
					ss->outsiders, plural(ss->outsiders, "", "es"),
					plural(ss->outsiders, "is", "are"));
	if (ss->own)
		lk->criu = arena_printf("CRIU refuses the dump: \"Task %d with SysVIPC shmem map @%lx doesn't live "
					"in IPC ns\" (the namespace is CRIU's own, which it does not dump).",
					g->first_pid, g->first_at);
	else
		lk->criu = "CRIU dumps the tree's IPC namespace whole, this segment's contents included; a restore "
			   "creates a new namespace with a copy; nothing warns.";
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
}

/* The segments the tree has attached that are leaks, with their inside holders. */
static int shm_segments(struct sysvscan *ss)
{
	bool outside = false;

	qsort(ss->att, ss->natt, sizeof(*ss->att), cmp_att);
	ss->seg = calloc(ss->natt + 1, sizeof(*ss->seg));
	if (!ss->seg)
		return -1;
	for (size_t i = 0; i < ss->natt; i++) {
		struct sysv_seg *g = ss->nseg ? &ss->seg[ss->nseg - 1] : NULL;

		if (!g || g->shmid != ss->att[i].shmid) {
			g = &ss->seg[ss->nseg++];
			g->shmid = ss->att[i].shmid;
			g->set = find_set(ss->view.shm, ss->view.nshm, g->shmid);
			g->first_pid = ss->att[i].pid;
			g->first_at = ss->att[i].m.start;
		}
		g->tree++;
	}
	for (size_t i = 0; i < ss->nseg; i++) {
		struct sysv_seg *g = &ss->seg[i];

		g->outside = g->set && g->set->l.count > g->tree;
		outside |= g->outside;
		if (!g->outside && !ss->outsiders && !ss->own)
			continue;	/* the tree's own, in a namespace of its own */
		if (ss->view.read && !g->set)
			continue;	/* gone meanwhile */
		g->lk = leak_get(ss->s, LK(SYSV_SHM), arena_printf("shmid %d", g->shmid));
		g->lk->standalone = true;
	}
	for (size_t i = 0; i < ss->natt; i++) {
		struct sysv_seg *g = find_seg(ss, ss->att[i].shmid);
		struct leak_holder h;
		char how[96];

		if (!g->lk)
			continue;
		h = map_holder(&ss->att[i].m, how, sizeof(how), "attached");
		leak_hold(ss->s, g->lk, ss->att[i].pid, &h);
	}
	return outside;
}

static bool outside_in_ns(const struct sysvscan *ss, const struct host_proc *p)
{
	return p && host_proc_outsider(p) && p->ns[NS_IPC] == ss->ipc;
}

static bool was_hinted(const struct sysvscan *ss, pid_t pid)
{
	for (size_t i = 0; i < ss->nhinted; i++)
		if (ss->hinted[i] == pid)
			return true;
	return false;
}

/*
 * Reads first the outside processes /proc/sysvipc/shm names as the creator
 * and the last user of each segment attached outside: often they are every
 * outside attacher. True when they account for all outside attachments.
 */
static bool outside_hinted(struct sysvscan *ss, struct mapbuf *b)
{
	bool all = true;

	ss->hinted = calloc(2 * ss->nseg + 1, sizeof(*ss->hinted));
	if (!ss->hinted)
		return false;
	for (size_t i = 0; i < ss->nseg; i++) {
		const struct sysv_seg *g = &ss->seg[i];
		pid_t cand[2] = { g->set ? g->set->l.pid_a : 0, g->set ? g->set->l.pid_b : 0 };

		for (int j = 0; j < 2 && g->outside; j++) {
			const struct host_proc *p = host_find(ss->s, cand[j]);

			if (!outside_in_ns(ss, p) || was_hinted(ss, p->pid))
				continue;
			ss->hinted[ss->nhinted++] = p->pid;
			read_each_shared(b, p, outside_attachment, ss);
		}
	}
	for (size_t i = 0; i < ss->nseg; i++)
		all &= !ss->seg[i].outside || ss->seg[i].found >= ss->seg[i].set->l.count - ss->seg[i].tree;
	return all;
}

static void detect_shm(struct sysvscan *ss)
{
	struct host_scan *s = ss->s;
	struct mapbuf b = { 0 };
	bool any = !ss->view.read;

	for (size_t i = 0; i < ss->view.nshm; i++)
		any |= ss->view.shm[i].l.count > 0;
	if (!any)
		return;		/* no segment is attached anywhere: the tree's maps are not read */
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		if (p->in_tree && !host_proc_hollow(p) && p->ns[NS_IPC] == ss->ipc)
			read_each_shared(&b, p, tree_attachment, ss);
	}
	if (ss->natt && shm_segments(ss) > 0 && !outside_hinted(ss, &b)) {
		/* some segment is attached outside: find where (its shmids are this namespace's) */
		for (size_t i = 0; i < s->nprocs; i++) {
			const struct host_proc *p = &s->procs[i];

			if (outside_in_ns(ss, p) && !was_hinted(ss, p->pid))
				read_each_shared(&b, p, outside_attachment, ss);
		}
	}
	for (size_t i = 0; i < ss->nseg; i++)
		if (ss->seg[i].lk)
			shm_text(ss, &ss->seg[i]);
	mapbuf_free(&b);
}

static void ipc_object_text(const struct sysvscan *ss, struct leak *lk, const char *what)
{
	if (ss->own) {
		lk->risk = arena_printf("Not in the checkpoint: a restored tree finds the %s as it is then, or not at "
					"all if it was removed meanwhile; its state during the dump is not saved.", what);
		lk->criu = arena_printf("CRIU does not dump it: the IPC namespace is CRIU's own, not the tree's; "
					"nothing warns.");
	} else {
		lk->risk = arena_printf("Saved with the tree's IPC namespace: a restore creates a copy of the %s the "
					"outside processes do not share.", what);
		lk->criu = arena_printf("CRIU dumps the tree's IPC namespace whole, this %s included; nothing warns.",
					what);
	}
	lk->standalone = true;
	lk->default_policy = LP(WARN);
	leak_choice(lk, LP(WARN), "", "CRIU handles it as it does by itself; the checkpoint is flagged with it");
	leak_choice(lk, LP(IGNORE), "", "the same, not flagged");
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
}

static void detect_sem_msg(struct sysvscan *ss)
{
	struct host_scan *s = ss->s;
	size_t n = ss->outsiders;

	for (size_t i = 0; i < ss->view.nsem; i++) {
		const struct sysv_set *set = &ss->view.sem[i];
		struct leak *lk = leak_get(s, LK(SYSV_SEM), arena_printf("semid %d", set->l.id));
		struct leak_holder h = { .how = "operated last on one of its semaphores" };

		for (size_t j = 0; j < set->nusers; j++)
			leak_hold(s, lk, set->users[j], &h);
		lk->summary = arena_printf("SysV semaphore set %d (key 0x%08x, %llu semaphore%s) of an IPC namespace "
					   "the tree shares with %zu process%s outside it", set->l.id,
					   (unsigned int)set->l.key, set->l.size, plural(set->l.size, "", "s"), n,
					   plural(n, "", "es"));
		ipc_object_text(ss, lk, "semaphore set");
	}
	for (size_t i = 0; i < ss->view.nmsg; i++) {
		const struct sysv_set *q = &ss->view.msg[i];
		struct leak *lk = leak_get(s, LK(SYSV_MSG), arena_printf("msqid %d", q->l.id));
		struct leak_holder snd = { .how = "sent the last message" }, rcv = { .how = "received the last message" };

		if (q->l.pid_a > 0)
			leak_hold(s, lk, q->l.pid_a, &snd);
		if (q->l.pid_b > 0 && q->l.pid_b != q->l.pid_a)
			leak_hold(s, lk, q->l.pid_b, &rcv);
		lk->summary = arena_printf("SysV message queue %d (key 0x%08x, %llu message%s, %llu bytes queued) of "
					   "an IPC namespace the tree shares with %zu process%s outside it", q->l.id,
					   (unsigned int)q->l.key, q->l.count, plural(q->l.count, "", "s"),
					   q->l.size, n, plural(n, "", "es"));
		ipc_object_text(ss, lk, "message queue");
	}
}

int detect_sysv(struct host_scan *s, struct herr *e)
{
	const struct host_proc *root = host_find(s, s->root), *self = host_find(s, s->self);
	struct sysvscan ss = { .s = s };
	int ret = 0;

	if (!root || !root->ns[NS_IPC])
		return 0;
	ss.ipc = root->ns[NS_IPC];
	ss.own = self && self->ns[NS_IPC] == ss.ipc;
	ss.outsiders = host_ns_outsiders(s, NS_IPC, ss.ipc);
	/* semaphores and queues are leaks only in a namespace that is not the tree's alone */
	if (sysv_read(root->pid, ss.own, ss.outsiders || ss.own, &ss.view, e)) {
		ret = -1;
		goto out;
	}
	detect_shm(&ss);
	if (ss.outsiders || ss.own)
		detect_sem_msg(&ss);
out:
	sysv_view_free(&ss.view);
	free(ss.att);
	free(ss.seg);
	free(ss.hinted);
	return ret;
}
