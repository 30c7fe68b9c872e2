/* SPDX-License-Identifier: MIT */
/*
 * Leaks of terminals: a pty whose other side or session leader is outside
 * the tree, the tree's controlling terminal, the host's own terminals
 * (consoles, serial ports).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "arena.h"
#include "fd_table.h"
#include "leak_scan.h"
#include "leak_terminals.h"
#include "proc.h"
#include "util.h"
#include "wire.h"

/*
 * A terminal as a key: a pty by its pts number, another terminal by its
 * device number (above the pts numbers).
 */
#define TERM_OTHER (1ull << 40)

static uint64_t term_key_dev(unsigned ma, unsigned mi)
{
	uint64_t rdev = makedev(ma, mi);

	return pts_index(rdev) >= 0 ? (uint64_t)pts_index(rdev) : TERM_OTHER | rdev;
}

/* The key of a descriptor, or 0 with false when it is no terminal. */
static bool term_key_fd(struct fd_entry *e, uint64_t *key)
{
	if (!S_ISCHR(e->mode))
		return false;
	if (fd_is_ptmx(e->rdev)) {
		int idx = fd_entry_tty_index(e);

		*key = idx;
		return idx >= 0;
	}
	if (pts_index(e->rdev) < 0 && !fd_is_terminal(e->rdev))
		return false;
	*key = term_key_dev(major(e->rdev), minor(e->rdev));
	return true;
}

/* tty_nr packs the device as new_encode_dev: minor bits 0-7 and 20-31, major 8-19. */
static uint64_t term_key_nr(uint32_t tty_nr)
{
	return term_key_dev((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
}

static bool is_pty_key(uint64_t key)
{
	return !(key & TERM_OTHER);
}

static const char *term_name(uint64_t key)
{
	unsigned ma, mi;
	char name[64];

	if (is_pty_key(key))
		return arena_printf("/dev/pts/%llu", (unsigned long long)key);
	ma = major(key & ~TERM_OTHER);
	mi = minor(key & ~TERM_OTHER);
	if (decode_tty_nr((mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12), name, sizeof(name)) == 0 && name[0])
		return arena_strdup(name);
	return arena_printf("tty %u:%u", ma, mi);
}

/* What the tree and the outside do with one terminal. */
struct term_use {
	bool in_master, in_slave, in_ctty;
	size_t out_master, out_slave, out_leader;
	pid_t leader;			/* an outside session leader of a tree process on it */
};

/* The terminals the tree uses, sorted and unique; *n of them. */
static uint64_t *tree_terminals(struct host_scan *s, struct fd_table *t, size_t *n)
{
	uint64_t *keys = arena_alloc((t->tree + s->tree_procs + 1) * sizeof(*keys));
	size_t k = 0, m = 0;
	uint64_t key;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].in_tree && k < t->tree && term_key_fd(&t->v[i], &key))
			keys[k++] = key;
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].in_tree && s->procs[i].tty_nr && k < t->tree + s->tree_procs)
			keys[k++] = term_key_nr(s->procs[i].tty_nr);
	qsort(keys, k, sizeof(*keys), cmp_u64);
	for (size_t i = 0; i < k; i++)
		if (!m || keys[m - 1] != keys[i])
			keys[m++] = keys[i];
	*n = m;
	return keys;
}

/* Adds every holder of terminal key to lk (when lk) and counts them in u. */
static void term_holders(struct host_scan *s, struct fd_table *t, uint64_t key, struct leak *lk,
			 struct term_use *u)
{
	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < t->n; i++) {
		struct fd_entry *e = &t->v[i];
		struct leak_holder h;
		uint64_t k;
		bool master;

		if (!term_key_fd(e, &k) || k != key)
			continue;
		master = fd_is_ptmx(e->rdev);
		if (e->in_tree) {
			u->in_master |= master;
			u->in_slave |= !master;
		} else if (master) {
			u->out_master++;
		} else {
			u->out_slave++;
		}
		if (lk) {
			fd_entry_holder(e, master ? "pty master" : is_pty_key(key) ? "pty slave" : "terminal", &h);
			leak_hold(s, lk, e->pid, &h);
		}
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i], *leader;
		struct leak_holder h = { .how = "controlling terminal" };

		if (!p->tty_nr || term_key_nr(p->tty_nr) != key)
			continue;
		if (p->in_tree) {
			u->in_ctty = true;
			if (lk)
				leak_hold(s, lk, p->pid, &h);
			leader = host_find(s, p->sid);
			if (leader && !leader->in_tree && !leader->excluded) {
				u->out_leader++;
				u->leader = leader->pid;
				h.how = "session leader, on this controlling terminal";
				if (lk)
					leak_hold(s, lk, leader->pid, &h);
			}
		} else if (u->in_master && lk) {
			leak_hold(s, lk, p->pid, &h);	/* a process on the tree's pty */
		}
	}
}

static const char *who(const struct host_scan *s, pid_t pid)
{
	const struct host_proc *p = host_find(s, pid);

	return arena_printf("pid %d (%s)", pid, p ? p->comm : "?");
}

static void term_text(struct host_scan *s, struct leak *lk, uint64_t key, const struct term_use *u)
{
	const char *name = lk->resource;

	if (!is_pty_key(key)) {
		lk->summary = arena_printf("the terminal %s, a device of the host's (console, virtual "
					   "terminal or serial port)%s", name, u->out_leader
					   ? arena_printf("; the session leader %s is outside", who(s, u->leader)) : "");
		lk->criu = "CRIU opens the device again at restore; as the controlling terminal of a session "
			   "led from outside it fails without --shell-job (\"Found dangling tty ...\")";
	} else if (u->in_slave || u->in_ctty) {
		lk->summary = arena_printf("the tree uses the terminal %s; %s%s", name,
					   u->in_master ? "its master is in the tree" :
					   u->out_master ? "its master is held outside the tree"
							 : "its master is held by no process the helper can see",
					   u->out_leader ? arena_printf("; the session leader %s is outside",
									who(s, u->leader)) : "");
		lk->criu = u->in_master
			? "dumped with its pair; the outside session loses it"
			: "CRIU fails: \"Found dangling tty ... Consider using --shell-job\"";
	} else {
		lk->summary = arena_printf("the tree holds the master of %s, which outside processes use", name);
		lk->criu = "dumped silently; a restore makes a new pty pair that the outside processes do not "
			   "hold (their terminal hangs up)";
	}
	lk->risk = "the terminal is shared with processes that are not checkpointed: input and output "
		   "between them is lost or duplicated, and a restore cannot give the tree this terminal back";
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
	leak_choice(lk, LP(EXTERNAL), "--shell-job", "CRIU leaves the terminal out of the checkpoint: a "
		    "restore attaches the tree to the terminal of the process that restores it, and fails "
		    "when there is none");
}

int detect_terminals(struct host_scan *s, struct herr *e)
{
	struct fd_table *t = s->fds;
	size_t n;
	uint64_t *keys = tree_terminals(s, t, &n);

	for (size_t i = 0; i < n; i++) {
		struct term_use u;
		struct leak *lk;
		bool dangling;

		term_holders(s, t, keys[i], NULL, &u);
		dangling = (u.in_slave || u.in_ctty) && !u.in_master;
		if (is_pty_key(keys[i]) && !dangling && !u.out_leader &&
		    !(u.in_master && (u.out_slave || u.out_master)))
			continue;	/* the tree's own pty */
		lk = leak_get(s, LK(TTY), term_name(keys[i]));
		lk->standalone = dangling || !is_pty_key(keys[i]);
		term_holders(s, t, keys[i], lk, &u);
		term_text(s, lk, keys[i], &u);
	}
	(void)e;
	return 0;
}
