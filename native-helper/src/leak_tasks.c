/* SPDX-License-Identifier: MIT */
/*
 * Leaks of the tree's tasks themselves:
 *   detect_namespaces    the namespaces tree processes are in, also held
 *                        by outside processes (or the host's own)
 *   detect_relatives     the root's parent, session and process group
 *                        leaders outside the tree, an outside tracer
 * Everything comes from the one reading of the host (s->procs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "leak_scan.h"
#include "leak_tasks.h"
#include "proc.h"
#include "util.h"
#include "wire.h"

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
				   ns_what[i], leak_outside_total(lk), plural(leak_outside_total(lk), "", "es"));
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
				   ns, ns_what[i], n, plural(n, "", "es"),
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
