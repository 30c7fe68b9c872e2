/* SPDX-License-Identifier: MIT */
/*
 * Leaks of file locks: one per file the tree locks (the table read its
 * locks with its descriptors), with the others locking it or waiting for it
 * from /proc/locks.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "fd_table.h"
#include "leak_locks.h"
#include "leak_scan.h"
#include "proc_locks.h"
#include "util.h"
#include "wire.h"

/* "POSIX write lock on bytes 5-14", "flock read lock", "OFD write lock on the whole file" */
static const char *lock_text(const struct lock_line *l)
{
	const char *cls = !strcmp(l->cls, "FLOCK") ? "flock" : !strcmp(l->cls, "OFDLCK") ? "OFD" :
			  !strcmp(l->cls, "LEASE") ? "lease:" : l->cls;
	const char *type = !strcmp(l->type, "WRITE") ? "write" : !strcmp(l->type, "READ") ? "read" : l->type;
	const char *range = "";

	if (!strcmp(l->cls, "POSIX") || !strcmp(l->cls, "OFDLCK"))
		range = l->start == 0 && l->to_eof ? " on the whole file"
			: l->to_eof ? arena_printf(" on bytes %llu-EOF", (unsigned long long)l->start)
			: arena_printf(" on bytes %llu-%llu", (unsigned long long)l->start,
				       (unsigned long long)l->end);
	return arena_printf("%s%s %s lock%s", l->waiter ? "waits for a " : "", cls, type, range);
}

/* Does descriptor e's open file hold lock l (its fdinfo lists it)? */
static bool fd_holds_lock(const struct fd_entry *e, const struct lock_line *l)
{
	struct lock_line *v;
	size_t n;
	bool found = false;

	if (fdinfo_locks(e->pid, e->fd, &v, &n))
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = lock_line_same(&v[i], l);
	free(v);
	return found;
}

/* The locks of the host (/proc/locks) on files the tree locks; *n of them. */
static struct lock_line *host_locks(const struct fd_table *t, size_t *n)
{
	char *buf = read_proc_locks(), *line, *save = NULL;
	struct lock_line *v = NULL;
	size_t cap = 0;

	*n = 0;
	for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		struct lock_line l;
		bool ours = false;

		if (parse_lock_line(line, &l) || !l.has_inode)
			continue;
		for (size_t i = 0; i < t->ntree_locks && !ours; i++)
			ours = lock_line_same_file(&t->tree_locks[i].l, &l);
		if (!ours)
			continue;
		if (array_grow((void **)&v, &cap, *n + 1, sizeof(*v)))
			break;	/* the locks read so far */
		v[(*n)++] = l;
	}
	free(buf);
	return v;
}

static struct fd_entry *tree_entry(struct fd_table *t, const struct fd_lock *k)
{
	size_t first, n = fd_table_find(t, k->dev, k->ino, &first);

	for (size_t i = first; i < first + n; i++)
		if (t->v[i].pid == k->pid && t->v[i].fd == k->fd)
			return &t->v[i];
	return NULL;
}

/* An OFD lock not the tree's: the outside descriptors on the file holding it. */
static void hold_ofd_outside(struct host_scan *s, struct leak *lk, const struct fd_lock *k,
			     const struct lock_line *l)
{
	size_t first, n = fd_table_find(s->fds, k->dev, k->ino, &first);

	for (size_t i = first; i < first + n; i++) {
		struct fd_entry *e = &s->fds->v[i];
		struct leak_holder h;

		if (!e->in_tree && fd_holds_lock(e, l)) {
			fd_entry_holder(e, lock_text(l), &h);
			leak_hold(s, lk, e->pid, &h);
		}
	}
}

/* Is l one of the tree's locks? */
static bool tree_lock(const struct fd_table *t, const struct lock_line *l)
{
	for (size_t i = 0; i < t->ntree_locks; i++)
		if (lock_line_same(&t->tree_locks[i].l, l))
			return true;
	return false;
}

/*
 * The others locking the file of k, or waiting for it: a pid outside the
 * tree (one that took a flock the tree shares through an open file, too),
 * or an OFD lock (pid -1) held through an outside descriptor.
 */
static void lock_outsiders(struct host_scan *s, struct leak *lk, const struct fd_lock *k,
			   const struct lock_line *host, size_t nhost)
{
	for (size_t j = 0; j < nhost; j++) {
		const struct lock_line *o = &host[j];
		struct leak_holder h = { 0 };

		if (!lock_line_same_file(o, &k->l))
			continue;
		if (o->pid > 0 && !host_in_tree(s, o->pid)) {
			h.how = tree_lock(s->fds, o) ? arena_printf("%s (the open file is shared with the tree)",
								    lock_text(o)) : lock_text(o);
			leak_hold(s, lk, o->pid, &h);
		} else if (o->pid < 0 && !o->waiter) {
			hold_ofd_outside(s, lk, k, o);	/* a tree's own is on no outside descriptor */
		}
	}
}

/* The leak of the file of tree lock k, with every tree lock on it. */
static void lock_leak(struct host_scan *s, struct fd_lock *k, const struct lock_line *host, size_t nhost)
{
	struct fd_table *t = s->fds;
	struct fd_entry *f = tree_entry(t, k);
	const char *path = f ? fd_entry_link(f) : "";
	const char *id = arena_printf("%u:%u inode %llu", k->l.major, k->l.minor, (unsigned long long)k->l.ino);
	struct leak *lk;
	size_t nlocks = 0, nout;

	lk = leak_get(s, LK(FILE_LOCK), path[0] == '/' ? arena_printf("%s (%s)", path, id) : id);
	lk->standalone = true;
	lk->default_policy = LP(FAIL);
	for (size_t j = 0; j < t->ntree_locks; j++) {
		struct fd_lock *o = &t->tree_locks[j];
		struct fd_entry *e;
		struct leak_holder h = { .how = lock_text(&o->l) };

		if (o->done || !lock_line_same_file(&o->l, &k->l))
			continue;
		o->done = true;
		nlocks++;
		e = tree_entry(t, o);
		if (e)
			fd_entry_holder(e, lock_text(&o->l), &h);
		leak_hold(s, lk, o->pid, &h);
	}
	lock_outsiders(s, lk, k, host, nhost);
	nout = leak_outside_procs(lk);
	lk->summary = arena_printf("the tree holds %zu lock%s on %s%s", nlocks, plural(nlocks, "", "s"),
				   path[0] == '/' ? path : arena_printf("the file %s", id),
				   nout ? arena_printf("; %zu outside %s", nout, plural(nout,
						       "process locks it too or waits for it",
						       "processes lock it too or wait for it")) : "");
	lk->risk = "a restore takes the locks again only when CRIU saved them; between the checkpoint and "
		   "the restore another process may take a conflicting lock";
	lk->criu = "CRIU fails: \"Some file locks are hold by dumping tasks! You can try --file-locks\"";
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
	leak_choice(lk, LP(SAVE), "--file-locks", "CRIU saves the locks and takes them again at restore; "
		    "the restore fails when another process holds a conflicting lock then");
}

/*
 * One leak per file the tree locks (detect_files found the locks); the
 * others locking it or waiting for it from /proc/locks.
 */
int detect_file_locks(struct host_scan *s, struct herr *e)
{
	struct fd_table *t = s->fds;
	struct lock_line *host;
	size_t nhost;

	(void)e;
	if (!t || !t->ntree_locks)
		return 0;
	host = host_locks(t, &nhost);
	for (size_t i = 0; i < t->ntree_locks; i++)
		if (!t->tree_locks[i].done)
			lock_leak(s, &t->tree_locks[i], host, nhost);
	free(host);
	return 0;
}
