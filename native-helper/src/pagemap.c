/* SPDX-License-Identifier: MIT */
/*
 * The pages a checkpoint holds, and where their bytes are. Each pagemap
 * image starts with a head naming its pages-<n>.img, whose bytes are those
 * of the runs marked present, one after the other in the pagemap's order.
 * CRIU up to 4.1 writes a run's page count in field 2, 4.2 in field 5 (and
 * 0 in field 2); images older than the flags field only say in_parent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu-images.pb-c.h"
#include "fileio.h"
#include "image_entries.h"
#include "pagemap.h"
#include "wire.h"

typedef Checkpoint__Criu__V1__PagemapHead PagemapHead;
typedef Checkpoint__Criu__V1__PagemapEntry PagemapEntry;

/* One checkpoint directory of the chain: 0 is the caller's, 1 its parent, ... */
struct level {
	int dirfd;
	struct pagemap runs;	/* as its pagemap says: held (in its pages file), lazy or in its parent */
	bool loaded;
	bool missing;		/* no such directory, or no such pagemap in it */
};

struct loader {
	const char *name;
	struct level lv[PAGEMAP_MAX_PARENTS + 1];
	struct pagemap *m;
};

static int nomem(struct herr *e)
{
	herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
	return -1;
}

/*
 * Appends run r to m, joined to the last one when it continues it (missing
 * pages join whichever checkpoint of the chain found them missing).
 */
static int emit(struct pagemap *m, const struct page_run *r, struct herr *e)
{
	struct page_run *last = m->n ? &m->v[m->n - 1] : NULL;

	if (last && last->end == r->start && last->fd == r->fd && last->absent == r->absent &&
	    last->flags == r->flags && (last->depth == r->depth || r->absent == PAGE_PARENT_MISSING) &&
	    (r->fd < 0 || last->off + (last->end - last->start) == r->off)) {
		last->end = r->end;
		return 0;
	}
	if (m->n == PAGEMAP_MAX_RUNS) {
		herr_set(e, EC(IMAGE_DAMAGED), E2BIG, "the checkpoint holds more than %u runs of pages of one process "
			 "(its pagemap), which cannot be", PAGEMAP_MAX_RUNS);
		return -1;
	}
	if (array_grow((void **)&m->v, &m->cap, m->n + 1, sizeof(*m->v)))
		return nomem(e);
	m->v[m->n++] = *r;
	return 0;
}

/* [start, end) not held by level depth or any below it: a parent gone, or asked for pages it lacks. */
static int emit_missing(struct pagemap *m, uint64_t start, uint64_t end, uint32_t depth, struct herr *e)
{
	struct page_run r = { .start = start, .end = end, .fd = -1, .absent = PAGE_PARENT_MISSING,
			      .flags = PE_PARENT, .depth = depth };

	return emit(m, &r, e);
}

/* CRIU's own reading of an entry's flags, whatever its version (in_parent before flags). */
static uint32_t entry_flags(const PagemapEntry *pe)
{
	uint32_t flags = pe->has_flags ? pe->flags : PE_PRESENT;

	if (pe->has_in_parent && pe->in_parent)
		flags = (flags & ~PE_PRESENT) | PE_PARENT;
	return flags;
}

/* What the run is. */
static enum page_absent entry_kind(uint32_t flags)
{
	if (flags & PE_PARENT)
		return PAGE_IN_PARENT;
	return flags & PE_PRESENT ? PAGE_HELD : PAGE_LAZY;
}

static int add_entry(struct level *l, const char *name, const PagemapEntry *pe, uint64_t *off, struct herr *e)
{
	uint64_t pages = pe->has_nr_pages ? pe->nr_pages : pe->compat_nr_pages, start = pe->vaddr;
	uint64_t prev_end = l->runs.n ? l->runs.v[l->runs.n - 1].end : 0;
	uint32_t flags = entry_flags(pe);
	enum page_absent kind = entry_kind(flags);
	struct page_run r = { .start = start, .end = start + pages * PAGE_BYTES, .fd = -1, .off = *off,
			      .absent = kind, .flags = flags };

	if (!pe->has_vaddr || start % PAGE_BYTES || pages > (UINT64_MAX - start) / PAGE_BYTES || start < prev_end) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s has a run that cannot be: %llu pages at "
			 "%#llx (after one that ends at %#llx)", name, (unsigned long long)pages,
			 (unsigned long long)start, (unsigned long long)prev_end);
		return -1;
	}
	if (!pages || (kind == PAGE_LAZY && !(pe->has_flags && (pe->flags & PE_LAZY))))
		return 0;
	if (emit(&l->runs, &r, e))
		return -1;
	if (kind == PAGE_HELD)
		*off += pages * PAGE_BYTES;
	return 0;
}

/* pages-<id>.img of the level, which must hold need bytes: the held runs' bytes. */
static int open_pages(struct loader *ld, struct level *l, uint32_t pages_id, uint64_t need, struct herr *e)
{
	char name[40];
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "pages-%u.img", pages_id);
	fd = open_regular_at(l->dirfd, name, &st);
	if (fd < 0) {
		herr_perror(e, EC(IMAGE_DAMAGED), errno == ELOOP ? EINVAL : errno, "the checkpoint's %s names %s, "
			    "which cannot be opened as a regular file", ld->name, name);
		return -1;
	}
	if (fdlist_add(&ld->m->fds, fd)) {
		close(fd);
		return nomem(e);
	}
	if ((uint64_t)st.st_size < need) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s holds %llu bytes; %s says %llu",
			 name, (unsigned long long)st.st_size, ld->name, (unsigned long long)need);
		return -1;
	}
	for (size_t k = 0; k < l->runs.n; k++)
		if (l->runs.v[k].absent == PAGE_HELD)
			l->runs.v[k].fd = fd;
	return 0;
}

/* The level's runs, from its pagemap (sorted and disjoint, or refused). */
static int read_runs(struct loader *ld, struct level *l, struct image_buf *b, struct herr *e)
{
	ProtobufCMessage *msg;
	uint32_t pages_id;
	uint64_t off = 0;
	int r;

	r = image_next_msg(b, &checkpoint__criu__v1__pagemap_head__descriptor, &msg, e);
	if (r <= 0 || !((PagemapHead *)msg)->has_pages_id) {
		if (r >= 0)
			herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s has no head naming its pages",
				 ld->name);
		if (msg)
			protobuf_c_message_free_unpacked(msg, NULL);
		return -1;
	}
	pages_id = ((PagemapHead *)msg)->pages_id;
	protobuf_c_message_free_unpacked(msg, NULL);
	while ((r = image_next_msg(b, &checkpoint__criu__v1__pagemap_entry__descriptor, &msg, e)) > 0) {
		r = add_entry(l, ld->name, (PagemapEntry *)msg, &off, e);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (r)
			return -1;
	}
	if (r < 0)
		return -1;
	return off ? open_pages(ld, l, pages_id, off, e) : 0;
}

/* Level i: its directory (the parent link of level i - 1) and its pagemap; missing is no error. */
static int load_level(struct loader *ld, size_t i, bool optional, struct herr *e)
{
	struct level *l = &ld->lv[i];
	struct image_buf b;
	int ret;

	l->loaded = true;
	if (i > 0) {
		l->dirfd = openat(ld->lv[i - 1].dirfd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (l->dirfd < 0 || fdlist_add(&ld->m->fds, l->dirfd)) {
			if (l->dirfd >= 0)
				close(l->dirfd);
			l->missing = true;
			return 0;
		}
	}
	ret = image_load(l->dirfd, ld->name, IMG_PAGEMAP_MAGIC, &b, e);
	if (ret && e->errnum == ENOENT && (i > 0 || optional)) {
		l->missing = true;
		ret = 0;
	} else if (!ret) {
		ret = read_runs(ld, l, &b, e);
	}
	image_release(&b);
	return ret;
}

static int resolve(struct loader *ld, size_t i, uint64_t start, uint64_t end, struct herr *e);

/* The part [lo, hi) of run r of level i. */
static int resolve_piece(struct loader *ld, size_t i, const struct page_run *r, uint64_t lo, uint64_t hi,
			 struct herr *e)
{
	struct page_run piece = *r;

	if (r->absent != PAGE_IN_PARENT) {
		piece.start = lo;
		piece.end = hi;
		piece.off = r->fd < 0 ? 0 : r->off + (lo - r->start);
		piece.depth = (uint32_t)i;
		return emit(ld->m, &piece, e);
	}
	if (i + 1 > PAGEMAP_MAX_PARENTS)
		return emit_missing(ld->m, lo, hi, (uint32_t)i + 1, e);
	if (!ld->lv[i + 1].loaded && load_level(ld, i + 1, false, e))
		return -1;
	return resolve(ld, i + 1, lo, hi, e);
}

/*
 * [start, end) as level i holds it. Level 0 is what the checkpoint says; a
 * parent asked for pages it does not hold (or that is gone) leaves them
 * missing.
 */
static int resolve(struct loader *ld, size_t i, uint64_t start, uint64_t end, struct herr *e)
{
	const struct pagemap *l = &ld->lv[i].runs;
	uint64_t pos = start;

	if (ld->lv[i].missing)
		return emit_missing(ld->m, start, end, (uint32_t)i, e);
	for (size_t k = pagemap_first_after(l, start); k < l->n && l->v[k].start < end; k++) {
		const struct page_run *r = &l->v[k];
		uint64_t lo = r->start > start ? r->start : start, hi = r->end < end ? r->end : end;

		if (i > 0 && lo > pos && emit_missing(ld->m, pos, lo, (uint32_t)i, e))
			return -1;
		if (resolve_piece(ld, i, r, lo, hi, e))
			return -1;
		pos = hi;
	}
	if (i > 0 && pos < end)
		return emit_missing(ld->m, pos, end, (uint32_t)i, e);
	return 0;
}

int pagemap_load(int dirfd, const char *name, bool optional, struct pagemap *m, struct herr *e)
{
	struct loader *ld = calloc(1, sizeof(*ld));
	int ret = -1;

	memset(m, 0, sizeof(*m));
	if (!ld)
		return nomem(e);
	ld->name = name;
	ld->m = m;
	ld->lv[0].dirfd = dirfd;
	if (!load_level(ld, 0, optional, e))
		ret = ld->lv[0].missing ? 0 : resolve(ld, 0, 0, UINT64_MAX, e);
	for (size_t i = 0; i <= PAGEMAP_MAX_PARENTS; i++)
		free(ld->lv[i].runs.v);
	free(ld);
	if (ret)
		pagemap_free(m);
	return ret;
}

int pagemap_read(const struct page_run *r, uint64_t addr, void *buf, size_t len, struct herr *e)
{
	ssize_t n = pread_full(r->fd, buf, len, r->off + (addr - r->start));

	if (n == (ssize_t)len)
		return 0;
	if (n < 0)
		herr_perror(e, EC(IMAGE_DAMAGED), errno, "cannot read the pages at %#llx of a checkpoint",
			    (unsigned long long)addr);
	else
		herr_set(e, EC(IMAGE_DAMAGED), EIO, "a pages image ends before the page at %#llx that its pagemap "
			 "says it holds", (unsigned long long)addr);
	return -1;
}

size_t pagemap_first_after(const struct pagemap *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void pagemap_free(struct pagemap *m)
{
	free(m->v);
	fdlist_close(&m->fds);
	memset(m, 0, sizeof(*m));
}
