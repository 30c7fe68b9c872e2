/* SPDX-License-Identifier: MIT */
/*
 * Leaks of shared memory: MAP_SHARED file mappings the tree can write and
 * shared anonymous memory, also mapped by outside processes. The tree's
 * mappings are read first; outside processes' only when the tree has
 * something they could share.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "leak_maps.h"
#include "leak_memory.h"
#include "leak_scan.h"
#include "lists.h"
#include "util.h"
#include "wire.h"

/* One object (file, shmem inode) the tree maps shared. */
struct shobj {
	unsigned int major, minor;
	unsigned long long inode;
	bool anon;
	unsigned long size;		/* of the tree's first mapping */
	const char *name;		/* arena: the path as the tree's maps show it */
	struct leak *lk;
	pid_t last;			/* the last outside process counted */
};

struct memscan {
	struct host_scan *s;
	struct shobj *v;
	size_t n, cap;
};

static int cmp_key(unsigned int ma, unsigned int mi, unsigned long long ino, const struct shobj *o)
{
	if (ma != o->major)
		return ma < o->major ? -1 : 1;
	if (mi != o->minor)
		return mi < o->minor ? -1 : 1;
	return ino < o->inode ? -1 : ino > o->inode;
}

static int cmp_shobj(const void *a, const void *b)
{
	const struct shobj *x = a;

	return cmp_key(x->major, x->minor, x->inode, b);
}

static struct shobj *shobj_find(const struct memscan *ms, const struct maps_line *m, bool sorted)
{
	struct shobj key = { .major = m->major, .minor = m->minor, .inode = m->inode };

	if (sorted)
		return bsearch(&key, ms->v, ms->n, sizeof(*ms->v), cmp_shobj);
	for (size_t i = 0; i < ms->n; i++)
		if (!cmp_shobj(&key, &ms->v[i]))
			return &ms->v[i];
	return NULL;
}

/* "PATH (MAJ:MIN inode INO)", a long path cut to fit, control characters as '?'. */
static void file_resource(const struct maps_line *m, char *buf, size_t len)
{
	char tail[80];
	int nt = snprintf(tail, sizeof(tail), " (%u:%u inode %llu)", m->major, m->minor, m->inode);
	size_t room = len - 1 - nt, np = m->path_len;

	if (np > room)
		np = room - 3;
	memcpy(buf, m->path, np);
	for (size_t i = 0; i < np; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	snprintf(buf + np, len - np, "%s%s", np < m->path_len ? "..." : "", tail);
}

static struct shobj *shobj_add(struct memscan *ms, const struct maps_line *m, bool anon)
{
	char resource[MAX_RESOURCE_LEN];
	struct shobj *o;

	if (array_grow((void **)&ms->v, &ms->cap, ms->n + 1, sizeof(*ms->v)))
		return NULL;
	if (anon)
		snprintf(resource, sizeof(resource), "shared anonymous memory (inode %llu)", m->inode);
	else
		file_resource(m, resource, sizeof(resource));
	o = &ms->v[ms->n++];
	*o = (struct shobj){ .major = m->major, .minor = m->minor, .inode = m->inode, .anon = anon,
			     .size = m->end - m->start, .lk = leak_get(ms->s, LK(SHARED_MEMORY), resource) };
	o->name = arena_printf("%.*s", (int)m->path_len, m->path);
	return o;
}

static void tree_mapping(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct memscan *ms = arg;
	enum map_class c = map_class(m);
	struct leak_holder h;
	struct shobj *o;
	char how[96];

	if (c != MC_FILE && c != MC_ANON)
		return;
	/*
	 * A file the tree maps shared but cannot write through the mapping is
	 * no more shared than any file it reads (gconv-modules.cache is so in
	 * nearly every process): the restored tree maps it again as it is.
	 */
	if (c == MC_FILE && m->perms[1] != 'w')
		return;
	o = shobj_find(ms, m, false);
	if (!o)
		o = shobj_add(ms, m, c == MC_ANON);
	if (!o)
		return;
	h = map_holder(m, how, sizeof(how), "mapped");
	leak_hold(ms->s, o->lk, p->pid, &h);
}

static void outside_mapping(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct memscan *ms = arg;
	enum map_class c = map_class(m);
	struct shobj *o;

	if (c != MC_FILE && c != MC_ANON)
		return;
	o = shobj_find(ms, m, true);
	if (o)
		map_hold_outside(ms->s, o->lk, &o->last, p, m, "mapped");
}

static void shobj_text(struct shobj *o)
{
	struct leak *lk = o->lk;
	size_t n = leak_outside_total(lk);

	if (o->anon) {
		lk->summary = arena_printf("shared anonymous memory (%s, %lu KiB as the tree maps it), mapped by %zu "
					   "process%s outside the tree too", o->name, o->size >> 10, n,
					   plural(n, "", "es"));
		lk->risk = "Saved with the tree: a restore makes a private copy of it, so the restored tree and "
			   "the outside processes no longer see each other's writes.";
		lk->criu = "CRIU saves its contents as the tree's own and a restore maps a private copy; nothing "
			   "warns.";
		lk->default_policy = LP(FAIL);
		leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
		leak_choice(lk, LP(WARN), "", "CRIU saves it as the tree's and the restored tree gets a private "
			    "copy; the checkpoint is flagged with it");
		leak_choice(lk, LP(IGNORE), "", "the same, not flagged");
		return;
	}
	lk->summary = arena_printf("%s, mapped shared and writable (MAP_SHARED) by the tree, and mapped by %zu "
				   "process%s outside it", o->name, n, plural(n, "", "es"));
	lk->risk = "The file is the memory: the checkpoint does not hold its contents. A restore maps the file as "
		   "it is then: what outside processes write to it meanwhile, or wrote while the tree was being "
		   "dumped, is what the restored tree sees.";
	lk->criu = "CRIU dumps the mapping by its path and leaves the pages in the file; nothing warns.";
	lk->default_policy = LP(WARN);
	leak_choice(lk, LP(WARN), "", "the file stays the storage; the checkpoint is flagged with it");
	leak_choice(lk, LP(IGNORE), "", "the same, not flagged");
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
}

int detect_shared_memory(struct host_scan *s, struct herr *e)
{
	struct memscan ms = { .s = s };
	struct mapbuf b = { 0 };

	(void)e;
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].in_tree && !host_proc_hollow(&s->procs[i]))
			read_each_shared(&b, &s->procs[i], tree_mapping, &ms);
	if (!ms.n)
		goto out;	/* nothing the tree maps shared: outside maps are not read */
	qsort(ms.v, ms.n, sizeof(*ms.v), cmp_shobj);
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		if (host_proc_outsider(p))
			read_each_shared(&b, p, outside_mapping, &ms);
	}
	for (size_t i = 0; i < ms.n; i++)
		shobj_text(&ms.v[i]);
out:
	free(ms.v);
	mapbuf_free(&b);
	return 0;
}
