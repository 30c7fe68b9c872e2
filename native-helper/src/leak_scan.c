/* SPDX-License-Identifier: MIT */
/* The base of the leak detectors: the host read once, the leak list, the holders. */
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

#include "arena.h"
#include "fileio.h"
#include "leak_scan.h"
#include "wire.h"

/* ---- the host ------------------------------------------------------------ */

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
 * dumping): they are never holders. A process of the tree is the tree's,
 * whatever its name (a criu the helper launched to be debugged).
 */
static void mark_excluded(struct host_scan *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct host_proc *p = &s->procs[i];

		if (p->pid == s->self || (!p->in_tree && p->ppid == s->self && !strncmp(p->comm, "criu", 4)))
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

int host_read(pid_t root, struct host_scan *s, struct herr *e)
{
	memset(s, 0, sizeof(*s));
	s->root = root;
	s->self = getpid();
	if (read_procs(s)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read /proc");
		return -1;
	}
	s->init = host_find(s, 1);
	if (!host_find(s, root)) {
		herr_set(e, EC(NO_SUCH_PROCESS), ESRCH, "process %d does not exist", root);
		return -1;
	}
	if (mark_tree(s)) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory listing processes");
		return -1;
	}
	mark_excluded(s);
	return 0;
}

void host_scan_release(struct host_scan *s)
{
	free(s->procs);
	free(s->leaks);
	s->procs = NULL;
	s->leaks = NULL;
	s->nprocs = s->nleaks = s->cap_leaks = 0;
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

bool host_proc_hollow(const struct host_proc *p)
{
	/* kernel threads are kthreadd (2) and its children, as the helper's pid namespace shows them */
	return p->state == 'Z' || p->state == 'X' || p->pid == 2 || p->ppid == 2;
}

bool host_proc_outsider(const struct host_proc *p)
{
	return !p->in_tree && !p->excluded && !host_proc_hollow(p);
}

size_t host_ns_outsiders(const struct host_scan *s, int i, uint64_t ino)
{
	size_t n = 0;

	for (size_t j = 0; j < s->nprocs; j++)
		n += host_proc_outsider(&s->procs[j]) && s->procs[j].ns[i] == ino;
	return n;
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
	*v = arena_grow(*v, *n, cap, sizeof(**v));
	(*v)[*n] = *h;
	(*v)[*n].pid = pid;
	(*v)[*n].how = arena_strdup(h->how ? h->how : "");
	(*n)++;
}

void leak_hold_counted(struct host_scan *s, struct leak *lk, pid_t pid, const struct leak_holder *h)
{
	if (lk->noutside < MAX_LEAK_HOLDERS)
		leak_hold(s, lk, pid, h);
	else
		lk->outside_unlisted++;
}

size_t leak_outside_total(const struct leak *lk)
{
	return lk->noutside + lk->outside_unlisted;
}

size_t leak_outside_procs(const struct leak *lk)
{
	size_t n = 0;

	for (size_t i = 0; i < lk->noutside; i++) {
		size_t j = 0;

		while (j < i && lk->outside[j].pid != lk->outside[i].pid)
			j++;
		n += j == i;
	}
	return n;
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

void leak_warn_choices(struct leak *lk)
{
	leak_choice(lk, LP(WARN), "", "checkpoint as CRIU does; the checkpoint is flagged");
	leak_choice(lk, LP(IGNORE), "", "the same as warn, but the checkpoint is not flagged");
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
}

/* ---- namespaces, entered for a moment -------------------------------------- */

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
