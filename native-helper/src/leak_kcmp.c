/* SPDX-License-Identifier: MIT */
/*
 * Leaks of shared task state: an fd table, fs info or address space a tree
 * task shares with an outside task (clone without CLONE_THREAD, or vfork),
 * found with kcmp(2): the tree's tasks sorted into groups by kcmp's order,
 * each outside task that may share (the same address-space size, the same
 * descriptor count) looked up among them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arena.h"
#include "leak_kcmp.h"
#include "leak_scan.h"
#include "util.h"
#include "wire.h"

struct kcmp_kind {
	int type;
	const char *what, *holds, *flag, *risk;
};

static const struct kcmp_kind kcmp_kinds[] = {
	{ KCMP_FILES, "fd table", "its open descriptors", "CLONE_FILES",
	  "A descriptor opened, closed or replaced on one side is so on the other. A restore gives the tree "
	  "a table of its own: the outside processes no longer see its descriptors, nor it theirs." },
	{ KCMP_FS, "fs info", "its working directory, root directory and umask", "CLONE_FS",
	  "A chdir, chroot or umask on one side applies to the other. A restore gives the tree fs info of "
	  "its own: the sharing is lost." },
	{ KCMP_VM, "address space", "its memory", "CLONE_VM",
	  "They run in one memory (clone with CLONE_VM, or a vfork child that has not called exec yet). A "
	  "restore gives the tree a private copy: what either writes afterwards the other does not see." },
};

#define KCMP_FAILED 2

/* -1, 0 or 1 as kcmp(2) orders the objects of a and b; KCMP_FAILED when it could not. */
static int kcmp_order(pid_t a, pid_t b, int type)
{
	long r = syscall(SYS_kcmp, a, b, type, 0, 0);

	if (r == 0)
		return 0;
	if (r == 1)
		return -1;
	if (r == 2)
		return 1;
	return KCMP_FAILED;	/* gone, refused (EPERM), or no kcmp in this kernel (ENOSYS) */
}

/* The tree's tasks of one kcmp type, in kcmp order, in groups of tasks sharing one object. */
struct kset {
	int type;
	pid_t *v, *tmp;
	size_t n;
	size_t *group;			/* index in v of each group's first task */
	size_t ngroups;
	bool failed;			/* a comparison failed while sorting */
};

static int kset_cmp(struct kset *k, pid_t a, pid_t b)
{
	int c = kcmp_order(a, b, k->type);

	if (c != KCMP_FAILED)
		return c;
	k->failed = true;
	return -1;
}

/* Bottom-up merge sort: stays in bounds whatever the comparisons answer. */
static void kset_sort(struct kset *k)
{
	for (size_t w = 1; w < k->n; w *= 2) {
		for (size_t lo = 0; lo < k->n; lo += 2 * w) {
			size_t mid = lo + w < k->n ? lo + w : k->n;
			size_t hi = lo + 2 * w < k->n ? lo + 2 * w : k->n;
			size_t i = lo, j = mid, o = lo;

			while (i < mid && j < hi)
				k->tmp[o++] = kset_cmp(k, k->v[j], k->v[i]) < 0 ? k->v[j++] : k->v[i++];
			while (i < mid)
				k->tmp[o++] = k->v[i++];
			while (j < hi)
				k->tmp[o++] = k->v[j++];
		}
		memcpy(k->v, k->tmp, k->n * sizeof(*k->v));
	}
}

/* Keeps the tasks kcmp can compare (alive, not refused). */
static void kset_probe(struct kset *k)
{
	size_t kept = 0;

	for (size_t i = 0; i < k->n; i++)
		if (kcmp_order(k->v[i], k->v[i], k->type) == 0)
			k->v[kept++] = k->v[i];
	k->n = kept;
}

static void kset_build(struct kset *k, const struct host_scan *s)
{
	k->n = 0;
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].in_tree && !host_proc_hollow(&s->procs[i]))
			k->v[k->n++] = s->procs[i].pid;
	kset_probe(k);
	for (int attempt = 0; attempt < 2; attempt++) {
		k->failed = false;
		kset_sort(k);
		if (!k->failed)
			break;
		kset_probe(k);	/* a task vanished while sorting: sort those left once more */
	}
	k->ngroups = 0;
	for (size_t i = 0; i < k->n; i++)
		if (!i || kcmp_order(k->v[i - 1], k->v[i], k->type) != 0)
			k->group[k->ngroups++] = i;
}

/* The group whose object pid shares, -1 when none; *gone when kcmp failed on pid. */
static long kset_search(const struct kset *k, pid_t pid, bool *gone)
{
	size_t lo = 0, hi = k->ngroups;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = kcmp_order(pid, k->v[k->group[mid]], k->type);

		if (c == KCMP_FAILED) {
			*gone = true;
			return -1;
		}
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static size_t group_end(const struct kset *k, size_t g)
{
	return g + 1 < k->ngroups ? k->group[g + 1] : k->n;
}

static struct leak *kcmp_leak(struct host_scan *s, const struct kset *k, size_t g, const struct kcmp_kind *kk)
{
	struct leak_holder in = { .how = "shares it" };
	pid_t low = k->v[k->group[g]];
	char resource[64];
	struct leak *lk;

	for (size_t i = k->group[g]; i < group_end(k, g); i++)
		low = k->v[i] < low ? k->v[i] : low;
	snprintf(resource, sizeof(resource), "%s of pid %d", kk->what, low);
	lk = leak_get(s, LK(SHARED_TASK), resource);
	for (size_t i = k->group[g]; i < group_end(k, g); i++)
		leak_hold(s, lk, k->v[i], &in);
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
	leak_choice(lk, LP(WARN), "", arena_printf("CRIU dumps the %s as the tree's own and a restore gives "
						   "the tree a private one; the checkpoint is flagged with it",
						   kk->what));
	lk->risk = kk->risk;
	lk->criu = arena_printf("CRIU sees only the sharing within the tree: it dumps the %s as the tree's own "
				"and restores a private one; nothing warns.", kk->what);
	return lk;
}

static void kcmp_text(struct leak *lk, const struct kcmp_kind *kk)
{
	size_t n = leak_outside_total(lk);

	lk->summary = arena_printf("the %s (%s) of pid %d is also that of %zu process%s outside the tree, pid %d "
				   "among them (%s without CLONE_THREAD, or vfork)", kk->what, kk->holds,
				   lk->inside[0].pid, n, plural(n, "", "es"), lk->outside[0].pid, kk->flag);
}

/* The outside tasks that may share something with the tree. */
static size_t outside_tasks(const struct host_scan *s, pid_t *v)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		if (host_proc_outsider(p))
			v[n++] = p->pid;
	}
	return n;
}

/*
 * What two tasks sharing the object must have in common, read with the
 * host: one address space has one size, one fd table one count of
 * descriptors. A task without it is not asked: a kcmp per outside task and
 * tree group costs more than the whole rest of the scan on a big host. A
 * table or a mapping changed between the two reads of a scan can hide a
 * sharing from this scan (not from the next). fs info has no such sign.
 */
static bool sign_of(const struct host_proc *p, int type, uint64_t *sign)
{
	if (type == KCMP_VM)
		*sign = p->vsize;
	else if (type == KCMP_FILES && p->fds_read)
		*sign = p->nfds;
	else
		return false;
	return true;
}

/* The tree's signs for type, sorted; n 0 when some tree task has none (then every task is asked). */
static uint64_t *tree_signs(const struct host_scan *s, int type, size_t *n)
{
	uint64_t *v = calloc(s->tree_procs + 1, sizeof(*v));

	*n = 0;
	for (size_t i = 0; v && i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		if (!p->in_tree || host_proc_hollow(p))
			continue;
		if (*n == s->tree_procs || !sign_of(p, type, &v[*n])) {
			*n = 0;
			return v;
		}
		(*n)++;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_u64);
	return v;
}

static bool may_share(const struct host_proc *p, int type, const uint64_t *signs, size_t n)
{
	uint64_t sign;

	if (!p || !n || !sign_of(p, type, &sign))
		return true;
	return bsearch(&sign, signs, n, sizeof(*signs), cmp_u64) != NULL;
}

static void kcmp_detect(struct host_scan *s, struct kset *k, const struct kcmp_kind *kk, pid_t *out,
			size_t nout, struct leak **found)
{
	const struct leak_holder shares = { .how = "shares it" };
	size_t nsigns;
	uint64_t *signs = tree_signs(s, kk->type, &nsigns);

	k->type = kk->type;
	kset_build(k, s);
	memset(found, 0, k->n * sizeof(*found));
	for (size_t i = 0; i < nout; i++) {
		bool gone = false;
		long g;

		if (!out[i] || !may_share(host_find(s, out[i]), kk->type, signs, nsigns))
			continue;
		g = kset_search(k, out[i], &gone);
		if (gone)
			out[i] = 0;	/* vanished or refused: not asked again */
		if (g < 0)
			continue;
		if (!found[g])
			found[g] = kcmp_leak(s, k, g, kk);
		leak_hold_counted(s, found[g], out[i], &shares);
	}
	for (size_t g = 0; g < k->ngroups; g++)
		if (found[g] && found[g]->ninside && found[g]->noutside)
			kcmp_text(found[g], kk);
	free(signs);
}

int detect_shared_tasks(struct host_scan *s, struct herr *e)
{
	struct kset k = { 0 };
	struct leak **found = NULL;
	pid_t *out = NULL;
	size_t nout;

	(void)e;
	if (kcmp_order(s->self, s->self, KCMP_FILES) != 0)
		return 0;	/* no kcmp here (ENOSYS): nothing can be compared */
	k.v = calloc(s->tree_procs + 1, sizeof(*k.v));
	k.tmp = calloc(s->tree_procs + 1, sizeof(*k.tmp));
	k.group = calloc(s->tree_procs + 1, sizeof(*k.group));
	found = calloc(s->tree_procs + 1, sizeof(*found));
	out = calloc(s->nprocs + 1, sizeof(*out));
	if (!k.v || !k.tmp || !k.group || !found || !out)
		goto out;	/* out of memory: no shared task is found, the rest of the scan goes on */
	nout = outside_tasks(s, out);
	for (size_t i = 0; i < ARRAY_SIZE(kcmp_kinds); i++)
		kcmp_detect(s, &k, &kcmp_kinds[i], out, nout, found);
out:
	free(k.v);
	free(k.tmp);
	free(k.group);
	free(found);
	free(out);
	return 0;
}
