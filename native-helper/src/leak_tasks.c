/* SPDX-License-Identifier: MIT */
/*
 * Leaks of the tree's tasks themselves:
 *   detect_namespaces    the namespaces tree processes are in, also held
 *                        by outside processes (or the host's own)
 *   detect_relatives     the root's parent, session and process group
 *                        leaders outside the tree, an outside tracer
 *   detect_shared_tasks  an fd table, fs info or address space a tree task
 *                        shares with an outside task (kcmp)
 * Everything comes from the one reading of the host (s->procs) but kcmp.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "leaks.h"

enum { NS_UTS, NS_IPC, NS_NET, NS_MNT, NS_PID, NS_USER, NS_CGROUP, NS_TIME };

/* ---- shared with leak_memory.c ------------------------------------------- */

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

static const char *plural(size_t n)
{
	return n == 1 ? "" : "es";
}

/* ---- namespaces ------------------------------------------------------------ */

/* What a namespace of each kind gives the processes in it. */
static const char *const ns_what[NS_KINDS] = {
	[NS_UTS] = "the host name and NIS domain name",
	[NS_IPC] = "SysV IPC objects and POSIX message queues",
	[NS_NET] = "network devices, addresses, routes, firewall rules and ports",
	[NS_MNT] = "the mounts",
	[NS_PID] = "process ids",
	[NS_USER] = "user and group ids and capabilities",
	[NS_CGROUP] = "the root of the cgroup hierarchy it sees",
	[NS_TIME] = "the offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME",
};

/* CRIU dumps a tree task in another namespace than the root's only for these (CLONE_SUBNS). */
static bool ns_nestable(int i)
{
	return i == NS_MNT || i == NS_NET;
}

/* --join-ns takes these at restore. */
static bool ns_joinable(int i)
{
	return i == NS_UTS || i == NS_IPC || i == NS_NET || i == NS_USER || i == NS_TIME;
}

/*
 * The host's namespace of kind i: pid 1's. When pid 1's cannot be read (a
 * sandbox that hides its init), the helper's own: the one CRIU, run by the
 * helper, compares the tree's with.
 */
static uint64_t host_ns(const struct host_scan *s, int i)
{
	const struct host_proc *self = host_find(s, s->self);

	if (s->init && s->init->ns[i])
		return s->init->ns[i];
	return self ? self->ns[i] : 0;
}

/* A tree process in ino while the root is not: CRIU's "nested" namespace. */
static pid_t ns_nested(const struct host_scan *s, int i, uint64_t ino, const struct host_proc *root)
{
	if (!root->ns[i] || root->ns[i] == ino)
		return 0;
	for (size_t j = 0; j < s->nprocs; j++)
		if (s->procs[j].in_tree && s->procs[j].ns[i] == ino)
			return s->procs[j].pid;
	return 0;
}

/* What CRIU says of a tree process (nested) in a namespace ns the root is not in, of a kind it cannot nest. */
static const char *nested_refusal(const char *ns, pid_t nested)
{
	return arena_printf("pid %d of the tree is in it while the root is not: CRIU refuses the dump with "
			    "\"Can't dump nested %s namespace for %d\".", nested, ns, nested);
}

static void ns_text_host(const struct host_scan *s, struct leak *lk, int i, pid_t nested)
{
	const char *ns = ns_names[i];
	const char *whose = s->init && s->init->ns[i] ? "pid 1's" : "the helper's; pid 1's cannot be read";

	lk->summary = arena_printf("the host's %s namespace (%s): %s; %zu other process%s in it", ns, whose,
				   ns_what[i], leak_outside_total(lk), plural(leak_outside_total(lk)));
	lk->risk = arena_printf("Not part of the checkpoint: a restore puts the tree in the %s namespace of the "
				"restoring process, normally the host's again, as it is then; what the tree saw of "
				"it (%s) may have changed meanwhile.", ns, ns_what[i]);
	if (i == NS_TIME)
		lk->risk = "Not part of the checkpoint as such: a restore puts the tree in a new time namespace "
			   "of its own, whose offsets make CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from the "
			   "checkpoint's values; it no longer shares the host's clocks' offsets (a monotonic time "
			   "sent to an outside process compares with the outside's no more).";
	if (nested && !ns_nestable(i))
		lk->criu = nested_refusal(ns, nested);
	else if (i == NS_TIME)
		lk->criu = "CRIU does not dump a namespace that is its own; for the time namespace a restore "
			   "creates a new one for the tree, so that its monotonic clocks do not jump.";
	else
		lk->criu = arena_printf("CRIU does not dump a namespace that is its own; a restore inherits the "
					"restorer's %s namespace.", ns);
	lk->default_policy = LP(IGNORE);
	leak_choice(lk, LP(IGNORE), "", "nothing is recorded: the restored tree lives in the restorer's "
		    "namespace, as CRIU does by itself");
	leak_choice(lk, LP(WARN), "", "the same, and the checkpoint is flagged with it");
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
}

static void ns_text_shared(struct leak *lk, int i, pid_t nested)
{
	const char *ns = ns_names[i];
	size_t n = leak_outside_total(lk);
	pid_t first = lk->noutside ? lk->outside[0].pid : 0;

	lk->summary = arena_printf("a %s namespace (%s) the tree shares with %zu process%s outside it%s",
				   ns, ns_what[i], n, plural(n),
				   first ? arena_printf(", pid %d among them", first) : "");
	lk->risk = arena_printf("Dumped as if it were the tree's own: a restore creates a new %s namespace "
				"for the tree alone, a copy of this one; the outside processes and the restored "
				"tree no longer see what the other changes in it (%s).", ns, ns_what[i]);
	if (nested && !ns_nestable(i))
		lk->criu = nested_refusal(ns, nested);
	else if (nested)
		lk->criu = arena_printf("CRIU dumps it as a namespace of the tree (pid %d is in it, the root "
					"is not) and a restore creates a private copy; nothing warns.", nested);
	else
		lk->criu = arena_printf("CRIU dumps it as the tree's own %s namespace (it is not CRIU's own) "
					"and a restore creates a private copy; nothing warns.", ns);
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
	leak_choice(lk, LP(WARN), "", "CRIU dumps it as the tree's own and the restored tree gets a private "
		    "copy; the checkpoint is flagged with it");
	if (i == NS_NET && !nested)
		leak_choice(lk, LP(EXTERNAL), arena_printf("--external net[%s, --inherit-fd at restore",
							   lk->resource + strcspn(lk->resource, "[") + 1),	/* "INO]" */
			    "not dumped (its devices, addresses and rules stay the outside's); the restored "
			    "tree goes back in this net namespace, through a live outside process in it; the "
			    "restore fails when none is left");
	else if (ns_joinable(i) && !nested)
		leak_choice(lk, LP(EXTERNAL), arena_printf("--join-ns %s at restore", ns),
			    arena_printf("the restored tree joins this %s namespace again, through a live "
					 "outside process in it; the restore fails when none is left", ns));
}

static void ns_leak(struct host_scan *s, int i, uint64_t ino, const struct host_proc *root)
{
	bool host = ino == host_ns(s, i);
	char resource[64];
	struct leak *lk;

	if (!host && !host_ns_outsiders(s, i, ino))
		return;
	snprintf(resource, sizeof(resource), "%s:[%llu]", ns_names[i], (unsigned long long)ino);
	lk = leak_get(s, LK(UTS_NS) + i, resource);
	lk->object = ino;
	lk->host_own = host;
	lk->standalone = host;
	for (size_t j = 0; j < s->nprocs; j++) {
		const struct host_proc *p = &s->procs[j];
		struct leak_holder in = { .how = "member" };
		struct leak_holder out = { .how = p == s->init ? "member (pid 1)" : "member" };

		if (p->ns[i] != ino || p->excluded || host_proc_hollow(p))
			continue;
		if (p->in_tree)
			leak_hold(s, lk, p->pid, &in);
		else
			leak_hold_counted(s, lk, p->pid, &out);
	}
	if (host)
		ns_text_host(s, lk, i, ns_nested(s, i, ino, root));
	else
		ns_text_shared(lk, i, ns_nested(s, i, ino, root));
}

static bool seen(const uint64_t *v, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

int detect_namespaces(struct host_scan *s, struct herr *e)
{
	const struct host_proc *root = host_find(s, s->root);
	uint64_t *inos;

	(void)e;
	if (!root)
		return 0;
	inos = calloc(s->tree_procs + 1, sizeof(*inos));
	if (!inos)
		return 0;	/* out of memory: no namespace leak is found, the rest of the scan goes on */
	for (int i = 0; i < NS_KINDS; i++) {
		size_t n = 0;

		for (size_t j = 0; j < s->nprocs && n <= s->tree_procs; j++) {
			const struct host_proc *p = &s->procs[j];

			if (!p->in_tree || !p->ns[i] || seen(inos, n, p->ns[i]))
				continue;
			inos[n++] = p->ns[i];
			ns_leak(s, i, p->ns[i], root);
		}
	}
	free(inos);
	return 0;
}

/* ---- parent, session, process group, tracer -------------------------------- */

static const char *comm_of(const struct host_scan *s, pid_t pid)
{
	const struct host_proc *p = host_find(s, pid);

	return p ? p->comm : "gone";
}

static void parent_leak(struct host_scan *s, const struct host_proc *root)
{
	struct leak_holder child = { .how = "child" }, parent = { .how = "parent" };
	char resource[32];
	struct leak *lk;

	if (root->ppid <= 0)
		return;
	snprintf(resource, sizeof(resource), "pid %d", root->ppid);
	lk = leak_get(s, LK(PARENT), resource);
	lk->standalone = true;
	leak_hold(s, lk, root->pid, &child);
	leak_hold(s, lk, root->ppid, &parent);
	lk->summary = arena_printf("the root's parent, pid %d (%s)", root->ppid, comm_of(s, root->ppid));
	lk->risk = arena_printf("The parent is not in the checkpoint: the restored root becomes the child of "
				"the restoring process; pid %d will not be able to wait for it or get its exit "
				"status, and its SIGCHLD goes to the restorer.", root->ppid);
	lk->criu = "CRIU does not dump the root's parent; a restore makes the root the restorer's child.";
	lk->default_policy = LP(IGNORE);
	leak_choice(lk, LP(IGNORE), "", "nothing is recorded: the restored root is the restorer's child");
	leak_choice(lk, LP(WARN), "", "the same, and the checkpoint is flagged with it");
}

/*
 * A session whose leader is in an ancestor pid namespace reads as sid 0, and
 * CRIU refuses such a task whatever the options (--shell-job included), so
 * the leak offers no way past it: only starting the program differently helps.
 */
static void unseen_session_leak(struct leak *lk, const struct host_proc *p)
{
	lk->risk = arena_printf("pid %d is in a session whose leader is outside the helper's pid namespace: "
				"no checkpoint can record it or put the tree back in it. Start the program in a "
				"session of its own (setsid), or run it in the same pid namespace as the helper.",
				p->pid);
	lk->criu = arena_printf("CRIU refuses the dump whatever the options, --shell-job included: \"A session "
				"leader of %d(...) is outside of its pid namespace\".", p->pid);
}

/* The session (group: false) or process group (group: true) of p, when its leader is outside. */
static void leader_leak(struct host_scan *s, const struct host_proc *root, const struct host_proc *p, bool group)
{
	pid_t id = group ? p->pgid : p->sid;
	const struct host_proc *leader = host_find(s, id);
	const char *what = group ? "process group" : "session";
	struct leak_holder member = { .how = "member" }, lead = { .how = group ? "process group leader" :
									 "session leader" };
	char resource[48];
	struct leak *lk;

	if (leader && leader->in_tree)
		return;
	snprintf(resource, sizeof(resource), "%s %d", what, id);
	lk = leak_get(s, group ? LK(PROCESS_GROUP) : LK(SESSION), resource);
	leak_hold(s, lk, p->pid, &member);
	if (lk->summary[0])
		return;		/* described already, for another member */
	lk->standalone = true;
	if (leader)
		leak_hold(s, lk, leader->pid, &lead);
	lk->summary = id ? arena_printf("%s %d, whose leader, pid %d (%s), is outside the tree", what, id, id,
					leader ? leader->comm : "gone") :
		      arena_printf("a %s whose leader is outside the helper's pid namespace", what);
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
	if (!id && !group) {
		unseen_session_leak(lk, p);
		return;
	}
	lk->risk = arena_printf("The %s is not the tree's: a restore cannot put the tree back in it. With "
				"--shell-job the restored tree joins the restorer's session and process group "
				"instead (and its terminal); signals sent to the old %s no longer reach it.",
				what, what);
	if (!group && p == root)
		lk->criu = arena_printf("CRIU refuses the dump: \"The root process %d is not a session leader. "
					"Consider using --shell-job option\".", root->pid);
	else
		lk->criu = arena_printf("CRIU needs --shell-job: without it a restore has to recreate the %s "
					"%d with its leader's pid, which is not in the checkpoint.", what, id);
	leak_choice(lk, LP(EXTERNAL), "--shell-job", "CRIU dumps the tree as a shell job: a restore puts it in "
		    "the restorer's session and process group");
}

static void tracer_leak(struct host_scan *s, const struct host_proc *p)
{
	const struct host_proc *t = host_find(s, p->tracer);
	struct leak_holder traced = { .how = "traced" }, tracer = { .how = "tracer" };
	char resource[32];
	struct leak *lk;

	if (t && (t->in_tree || t->excluded))
		return;		/* a debugger in the tree, or CRIU itself seizing the tree */
	snprintf(resource, sizeof(resource), "pid %d", p->tracer);
	lk = leak_get(s, LK(TRACER), resource);
	lk->standalone = true;
	leak_hold(s, lk, p->pid, &traced);
	leak_hold(s, lk, p->tracer, &tracer);
	lk->summary = arena_printf("pid %d (%s) traces the tree (a debugger, strace, ...)", p->tracer,
				   t ? t->comm : "gone");
	lk->risk = arena_printf("A traced task cannot be checkpointed: detach pid %d first (quit the debugger or "
				"strace, or detach it from the tree).", p->tracer);
	lk->criu = arena_printf("CRIU cannot seize a task another process traces: \"Unable to interrupt task: "
				"%d (Operation not permitted)\", and the dump fails.", p->pid);
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
}

int detect_relatives(struct host_scan *s, struct herr *e)
{
	const struct host_proc *root = host_find(s, s->root);

	(void)e;
	if (!root)
		return 0;
	parent_leak(s, root);
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		if (!p->in_tree || p->state == 'Z' || p->state == 'X')
			continue;
		leader_leak(s, root, p, false);
		leader_leak(s, root, p, true);
		if (p->tracer > 0)
			tracer_leak(s, p);
	}
	return 0;
}

/* ---- kcmp: fd table, fs info, address space --------------------------------- */

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
				   lk->inside[0].pid, n, plural(n), lk->outside[0].pid, kk->flag);
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
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
