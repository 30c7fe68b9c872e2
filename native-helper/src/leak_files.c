/* SPDX-License-Identifier: MIT */
/*
 * Leaks of the tree's open files (from the descriptor table, fd_table.h):
 * pipes and FIFOs with an end outside, memfds, deleted files and files on
 * file systems that may be gone or other at restore (tmpfs, FUSE, network
 * file systems, another process's /proc).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "arena.h"
#include "fd_table.h"
#include "leak_files.h"
#include "leak_scan.h"
#include "util.h"
#include "wire.h"

#define GHOST_LIMIT (1u << 20)		/* CRIU's default --ghost-limit */

/* One open file: its entries t->v[first..end), one of the tree's at tree. */
struct group {
	struct fd_table *t;
	size_t first, end;
	struct fd_entry *tree;
	size_t noutside;		/* outside descriptors */
	bool tree_reads, tree_writes, out_reads, out_writes;
};

/*
 * Is e one whose access mode is worth reading: the tree's, or one of the
 * first outside holders (the wire lists MAX_LEAK_HOLDERS; a pipe every
 * process inherited would cost two system calls per process otherwise).
 */
static bool worth_detail(const struct fd_entry *e, size_t *noutside)
{
	return e->in_tree || e->detailed || (*noutside)++ < MAX_LEAK_HOLDERS;
}

static void hold_group(struct host_scan *s, struct leak *lk, struct group *g, bool pipe_ends)
{
	size_t noutside = 0;

	for (size_t i = g->first; i < g->end; i++) {
		struct fd_entry *e = &g->t->v[i];
		struct leak_holder h = { .has_fd = true, .fd = e->fd };
		const char *what = "";

		if (!worth_detail(e, &noutside)) {
			h.how = arena_printf("fd %d", e->fd);
			leak_hold(s, lk, e->pid, &h);
			continue;
		}
		fd_entry_detail(e);
		if (pipe_ends)
			what = e->readable && e->writable ? "read and write ends" :
			       e->writable ? "write end" : "read end";
		fd_entry_holder(e, what, &h);
		leak_hold(s, lk, e->pid, &h);
	}
}

/* "3:1 inode 1234" */
static const char *file_id(const struct fd_entry *e)
{
	return arena_printf("%u:%u inode %llu", major(e->dev), minor(e->dev), (unsigned long long)e->ino);
}

static const char *direction(bool reads, bool writes)
{
	return reads && writes ? "reads and writes" : writes ? "writes" : reads ? "reads" : "holds";
}

static void pipe_leak(struct host_scan *s, struct group *g)
{
	struct leak *lk = leak_get(s, LK(PIPE), fd_entry_link(g->tree));
	size_t nout;

	lk->object = g->tree->ino;
	lk->default_policy = LP(FAIL);
	hold_group(s, lk, g, true);
	nout = leak_outside_procs(lk);
	lk->summary = arena_printf("a pipe the tree %s and %zu outside %s %s%s",
				   direction(g->tree_reads, g->tree_writes), nout, plural(nout, "process", "processes"),
				   g->out_writes ? "write" : "read",
				   g->out_reads && g->out_writes ? plural(nout, "s and reads", " and read") :
				   plural(nout, "s", ""));
	lk->risk = g->tree_reads && g->out_writes
		   ? "what the outside writes while the tree is frozen waits in the pipe or is lost with "
		     "it; a restored tree reads from a new pipe nobody outside writes to"
		   : "a restored tree writes into a new pipe nobody outside reads; the outside readers "
		     "see the end of the old one";
	lk->criu = "dumped silently, with the data buffered in the pipe; a restore makes a new pipe that "
		   "nobody outside holds";
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
	leak_choice(lk, LP(WARN), "", "checkpoint as CRIU does: the restored tree gets a new pipe; the "
		    "checkpoint is flagged");
	leak_choice(lk, LP(IGNORE), "", "the same as warn, but the checkpoint is not flagged");
	leak_choice(lk, LP(EXTERNAL), "--inherit-fd at restore", "the restored tree gets the same pipe, "
		    "reopened through a live outside holder; the restore fails when none holds it any more");
}

static void fifo_leak(struct host_scan *s, struct group *g)
{
	const char *path = fd_entry_link(g->tree);
	struct leak *lk = leak_get(s, LK(FIFO), arena_printf("%s (%s)", path, file_id(g->tree)));

	size_t nout;

	hold_group(s, lk, g, false);
	nout = leak_outside_procs(lk);
	lk->summary = arena_printf("the named pipe %s, which the tree %s, is also open in %zu outside %s",
				   path, direction(g->tree_reads, g->tree_writes), nout, plural(nout, "process", "processes"));
	lk->risk = "data the outside writes while the tree is frozen may be read by the outside instead, "
		   "or lost; the restored tree opens the path again and meets whoever holds it then";
	lk->criu = "dumped by its path, with the buffered data; a restore opens the path again (it fails "
		   "if the named pipe was removed)";
	leak_warn_choices(lk);
}

static const char *size_text(uint64_t n)
{
	if (n >= 1u << 20)
		return n % (1u << 20) ? arena_printf("%.1f MiB", n / 1048576.0)
				      : arena_printf("%llu MiB", (unsigned long long)(n >> 20));
	if (n >= 1u << 10)
		return n % (1u << 10) ? arena_printf("%.1f KiB", n / 1024.0)
				      : arena_printf("%llu KiB", (unsigned long long)(n >> 10));
	return arena_printf("%llu byte%s", (unsigned long long)n, plural(n, "", "s"));
}

static void memfd_leak(struct host_scan *s, struct group *g)
{
	const char *link = fd_entry_link(g->tree);
	char *name = arena_strdup(link + 7);	/* after "/memfd:" */
	struct leak *lk;
	size_t nout;

	if (str_ends_with(name, " (deleted)"))
		name[strlen(name) - 10] = '\0';
	lk = leak_get(s, LK(MEMFD), arena_printf("memfd:%s (inode %llu)", name,
						 (unsigned long long)g->tree->ino));
	lk->standalone = true;
	hold_group(s, lk, g, false);
	nout = leak_outside_procs(lk);
	lk->summary = nout
		? arena_printf("the memfd \"%s\" (%s), also held by %zu outside %s", name,
			       size_text(g->tree->size), nout, plural(nout, "process", "processes"))
		: arena_printf("the memfd \"%s\" (%s): its contents live only in memory", name,
			       size_text(g->tree->size));
	lk->risk = nout
		? "the restored tree gets a private copy: what it and the outside holders write no longer "
		  "reaches the other"
		: "the checkpoint holds a copy of its contents; the restored tree gets a new memfd";
	lk->criu = "saved with its contents; a restore makes a new memfd with a copy";
	leak_warn_choices(lk);
}

static void deleted_leak(struct host_scan *s, struct group *g)
{
	char *path = arena_strdup(fd_entry_link(g->tree));
	const struct fd_entry *f = g->tree;
	bool dir = S_ISDIR(f->mode);
	struct leak *lk;
	size_t nout;

	path[strlen(path) - 10] = '\0';		/* " (deleted)" */
	lk = leak_get(s, LK(DELETED_FILE), arena_printf("%s (%s)", path, file_id(f)));
	lk->standalone = true;
	hold_group(s, lk, g, false);
	nout = leak_outside_procs(lk);
	lk->summary = arena_printf("the %s %s was deleted while the tree holds it open (%s%s%s)",
				   dir ? "directory" : "file", path, size_text(f->size),
				   f->nlink ? ", still linked under another name" : "",
				   nout ? arena_printf(", also open in %zu outside %s", nout, plural(nout, "process", "processes")) : "");
	lk->risk = "the restored tree gets the file's contents as they were at the checkpoint; outside "
		   "holders keep the original";
	if (f->nlink)
		lk->criu = "the file still has another name: CRIU links it back for the checkpoint (link "
			   "remap) instead of copying it";
	else if (!dir && f->size > GHOST_LIMIT)
		lk->criu = arena_printf("CRIU copies a deleted file into the checkpoint as a ghost file "
					"only up to its ghost limit (1 MiB by default); this one is %s, so the "
					"dump fails (\"Can't dump ghost file ... increase limit\")",
					size_text(f->size));
	else
		lk->criu = arena_printf("CRIU copies it into the checkpoint as a ghost file (%s, under its "
					"1 MiB ghost limit); a restore recreates it and deletes it again",
					size_text(f->size));
	leak_warn_choices(lk);
}

/* File system types whose files may be gone, or be others, at restore. */
static const struct {
	long type;
	const char *name;
} volatile_fs[] = {
	{ 0x01021994, "tmpfs" }, { 0x858458f6, "ramfs" }, { 0x65735546, "fuse" },
	{ 0x6969, "nfs" }, { 0x517b, "smb" }, { (long)0xff534d42, "cifs" },
	{ (long)0xfe534d42, "smb2" }, { 0x01021997, "9p" }, { 0x00c36400, "ceph" },
	{ 0x5346414f, "afs" }, { 0x6b414653, "afs" }, { 0x73757245, "coda" },
};

#define PROC_SUPER_MAGIC 0x9fa0
#define TMPFS_MAGIC 0x01021994
#define STATFS_CACHE 32

/* statfs per file system, once per scan: the file system's type, 0 when unknown. */
struct fs_cache {
	uint64_t dev[STATFS_CACHE];
	long type[STATFS_CACHE];
	size_t n;
};

static long fs_type(struct fs_cache *c, const struct fd_entry *e)
{
	struct statfs sf;
	char path[64];

	for (size_t i = 0; i < c->n; i++)
		if (c->dev[i] == e->dev)
			return c->type[i];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", e->pid, e->fd);
	if (statfs(path, &sf))
		return 0;	/* closed meanwhile: not cached */
	if (c->n < STATFS_CACHE) {
		c->dev[c->n] = e->dev;
		c->type[c->n++] = sf.f_type;
	}
	return sf.f_type;
}

/* "tmpfs", or NULL when files there stay (and /proc of a tree process, /dev). */
static const char *volatile_reason(const struct host_scan *s, const char *path, long type)
{
	if (type == PROC_SUPER_MAGIC) {
		char *end;
		long pid;

		if (strncmp(path, "/proc/", 6))
			return NULL;
		pid = strtol(path + 6, &end, 10);
		if (end == path + 6 || (*end && *end != '/') || host_in_tree(s, pid))
			return NULL;
		return arena_printf("a file of process %ld, which is outside the tree", pid);
	}
	/* devtmpfs reports tmpfs: /dev is made again at boot, its shm is not */
	if (type == TMPFS_MAGIC && (!strcmp(path, "/dev") || !strncmp(path, "/dev/", 5)) &&
	    strncmp(path, "/dev/shm/", 9) && strcmp(path, "/dev/shm"))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(volatile_fs); i++)
		if (volatile_fs[i].type == type)
			return arena_printf("on %s", volatile_fs[i].name);
	return NULL;
}

static void volatile_leak(struct host_scan *s, struct group *g, struct fs_cache *c)
{
	const char *path = fd_entry_link(g->tree);
	const char *why = volatile_reason(s, path, fs_type(c, g->tree));
	struct leak *lk;

	if (!why)
		return;
	lk = leak_get(s, LK(VOLATILE_FILE), arena_printf("%s (%s)", path, file_id(g->tree)));
	lk->standalone = true;
	hold_group(s, lk, g, false);
	lk->summary = arena_printf("the %s %s is %s", S_ISDIR(g->tree->mode) ? "directory" : "file", path, why);
	lk->risk = "a restore reopens the path: it fails when the file is gone (a reboot empties tmpfs, a "
		   "network or FUSE file system may not be mounted, a process's /proc files go with it), and "
		   "gets another file when it was replaced";
	lk->criu = "not saved: CRIU records the path and reopens it at restore";
	leak_warn_choices(lk);
}

static void group_leak(struct host_scan *s, struct group *g, struct fs_cache *c)
{
	for (size_t i = g->first; i < g->end; i++)
		g->noutside += !g->t->v[i].in_tree;
	switch (fd_classify(fd_entry_link(g->tree), g->tree->mode, g->tree->rdev)) {
	case FDC_PIPE:
	case FDC_FIFO:
		if (!g->noutside)
			return;	/* the tree's own */
		for (size_t i = g->first, n = 0; i < g->end; i++) {
			struct fd_entry *e = &g->t->v[i];

			if (!worth_detail(e, &n))
				continue;
			fd_entry_detail(e);
			if (e->in_tree) {
				g->tree_reads |= e->readable;
				g->tree_writes |= e->writable;
			} else {
				g->out_reads |= e->readable;
				g->out_writes |= e->writable;
			}
		}
		if (S_ISFIFO(g->tree->mode) && !strncmp(fd_entry_link(g->tree), "pipe:[", 6))
			pipe_leak(s, g);
		else
			fifo_leak(s, g);
		break;
	case FDC_MEMFD:
		memfd_leak(s, g);
		break;
	case FDC_DELETED:
		deleted_leak(s, g);
		break;
	case FDC_FILE:
		volatile_leak(s, g, c);
		break;
	default:
		break;
	}
}

int detect_files(struct host_scan *s, struct herr *e)
{
	struct fd_table *t = s->fds;
	struct fs_cache c = { .n = 0 };
	size_t j;

	(void)e;
	for (size_t i = 0; i < t->n; i = j) {
		struct group g = { .t = t, .first = i };

		for (j = i; j < t->n && t->v[j].dev == t->v[i].dev && t->v[j].ino == t->v[i].ino; j++)
			if (t->v[j].in_tree && !g.tree)
				g.tree = &t->v[j];
		g.end = j;
		if (g.tree)
			group_leak(s, &g, &c);
	}
	return 0;
}
