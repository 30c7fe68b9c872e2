/* SPDX-License-Identifier: MIT */
/*
 * Rewrites of a checkpoint's pagemaps: one walk over the runs a pagemap
 * resolves to (pagemap.c follows the parent links), each run kept, marked
 * in the parent, or given bytes of its own in a new pages file. Sharing
 * compares each held page with the parent's; unsharing takes in what the
 * checkpoint being deleted (depth 1) held.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "criu-images.pb-c.h"
#include "fileio.h"
#include "image_entries.h"
#include "lists.h"
#include "page_rewrite.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"

typedef Checkpoint__Criu__V1__PagemapHead PagemapHead;
typedef Checkpoint__Criu__V1__PagemapEntry PagemapEntry;

#define CHUNK_PAGES 256u
#define CHUNK_BYTES (CHUNK_PAGES * PAGE_BYTES)

struct out_run {
	uint64_t start, pages;
	uint32_t flags;
};

struct map_head {
	uint8_t magic[8];	/* as the old pagemap had them */
	uint32_t pages_id;
	bool wide;		/* counts in field 5 (CRIU 4.2), field 2 zero */
};

struct rewriter {
	int dirfd;
	const char *name;		/* pagemap-<pid>.img */
	const struct pagemap *parent;	/* sharing: what the parent holds; NULL: unsharing */
	struct out_run *v;
	size_t n, cap;
	int out_fd;			/* the new pages file */
	uint32_t out_id;
	bool changed;
	struct share_stats st;
	uint8_t *a, *b;			/* CHUNK_BYTES each */
};

static int nomem(struct herr *e)
{
	herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
	return -1;
}

static int emit_out(struct rewriter *rw, uint64_t start, uint64_t pages, uint32_t flags, struct herr *e)
{
	struct out_run *last = rw->n ? &rw->v[rw->n - 1] : NULL;

	if (last && last->flags == flags && last->start + last->pages * PAGE_BYTES == start) {
		last->pages += pages;
		return 0;
	}
	if (array_grow((void **)&rw->v, &rw->cap, rw->n + 1, sizeof(*rw->v)))
		return nomem(e);
	rw->v[rw->n++] = (struct out_run){ .start = start, .pages = pages, .flags = flags };
	return 0;
}

static int write_out(struct rewriter *rw, const void *data, size_t len, struct herr *e)
{
	if (write_all(rw->out_fd, data, len) == 0)
		return 0;
	herr_perror(e, EC(INTERNAL), errno, "cannot write the new pages of %s", rw->name);
	return -1;
}

/* [lo, hi) of held run r given bytes of its own: copied into the new pages file. */
static int own(struct rewriter *rw, const struct page_run *r, uint64_t lo, uint64_t hi, struct herr *e)
{
	if (emit_out(rw, lo, (hi - lo) / PAGE_BYTES, r->flags, e))
		return -1;
	for (uint64_t at = lo; at < hi; at += CHUNK_BYTES) {
		size_t len = hi - at < CHUNK_BYTES ? hi - at : CHUNK_BYTES;

		if (pagemap_read(r, at, rw->a, len, e) || write_out(rw, rw->a, len, e))
			return -1;
	}
	rw->st.own_pages += (hi - lo) / PAGE_BYTES;
	return 0;
}

/* The pages of chunk a (n of them, from addr) that differ from b's; the same ones marked in the parent. */
static int share_chunk(struct rewriter *rw, const struct page_run *r, uint64_t addr, size_t n, struct herr *e)
{
	size_t i = 0;

	while (i < n) {
		bool same = !memcmp(rw->a + i * PAGE_BYTES, rw->b + i * PAGE_BYTES, PAGE_BYTES);
		size_t j = i + 1;

		while (j < n && same == !memcmp(rw->a + j * PAGE_BYTES, rw->b + j * PAGE_BYTES, PAGE_BYTES))
			j++;
		if (emit_out(rw, addr + i * PAGE_BYTES, j - i, same ? PE_PARENT : r->flags, e))
			return -1;
		if (same) {
			rw->st.shared_pages += j - i;
			rw->changed = true;
		} else if (write_out(rw, rw->a + i * PAGE_BYTES, (j - i) * PAGE_BYTES, e)) {
			return -1;
		} else {
			rw->st.own_pages += j - i;
		}
		i = j;
	}
	return 0;
}

/* [lo, hi) of run r, which the parent holds too (run p): compared page by page. */
static int compare(struct rewriter *rw, const struct page_run *r, const struct page_run *p, uint64_t lo,
		   uint64_t hi, struct herr *e)
{
	for (uint64_t at = lo; at < hi; at += CHUNK_BYTES) {
		size_t len = hi - at < CHUNK_BYTES ? hi - at : CHUNK_BYTES;

		if (pagemap_read(r, at, rw->a, len, e) || pagemap_read(p, at, rw->b, len, e) ||
		    share_chunk(rw, r, at, len / PAGE_BYTES, e))
			return -1;
	}
	return 0;
}

/* Held run r of a new checkpoint: its pages the parent holds with the same bytes are marked in it. */
static int share_held(struct rewriter *rw, const struct page_run *r, struct herr *e)
{
	const struct pagemap *pm = rw->parent;
	size_t k = pagemap_first_after(pm, r->start);
	uint64_t pos = r->start;

	while (pos < r->end) {
		const struct page_run *p = k < pm->n && pm->v[k].start < r->end ? &pm->v[k] : NULL;
		uint64_t hi;

		if (!p)
			return own(rw, r, pos, r->end, e);
		if (p->start > pos) {
			if (own(rw, r, pos, p->start, e))
				return -1;
			pos = p->start;
		}
		hi = p->end < r->end ? p->end : r->end;
		if (p->absent == PAGE_HELD ? compare(rw, r, p, pos, hi, e) : own(rw, r, pos, hi, e))
			return -1;
		pos = hi;
		k++;
	}
	return 0;
}

static int share_run(struct rewriter *rw, const struct page_run *r, struct herr *e)
{
	if (r->absent == PAGE_HELD && r->depth == 0)
		return share_held(rw, r, e);
	return emit_out(rw, r->start, (r->end - r->start) / PAGE_BYTES, r->flags, e);
}

/*
 * A run of a checkpoint standing on the one being deleted (depth 1): its
 * own pages and those it read from there are its own now; what it read
 * further up it reads from the new parent (depth 2 becomes 1).
 */
static int unshare_run(struct rewriter *rw, const struct page_run *r, struct herr *e)
{
	uint64_t pages = (r->end - r->start) / PAGE_BYTES;

	if (r->depth == 1 && r->absent == PAGE_HELD) {
		rw->changed = true;
		return own(rw, r, r->start, r->end, e);
	}
	if (r->depth == 1) {
		/* in the parent, which lacks it: re-linked, it would read the grandparent's older bytes */
		herr_set(e, EC(IMAGE_DAMAGED), ENOENT, "its %s reads the pages at %#llx from the checkpoint deleted, which "
			 "does not hold them (its images are damaged); delete this checkpoint first",
			 rw->name, (unsigned long long)r->start);
		return -1;
	}
	if (r->depth == 0 && r->absent == PAGE_HELD)
		return own(rw, r, r->start, r->end, e);
	if (r->depth == 0)
		return emit_out(rw, r->start, pages, r->flags, e);
	rw->st.shared_pages += pages;	/* further up: read from the new parent as from the old */
	return emit_out(rw, r->start, pages, PE_PARENT, e);
}

static int damaged_head(const char *name, struct herr *e)
{
	herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s has no head naming its pages", name);
	return -1;
}

/* The old pagemap's magics, pages id and count field (already read whole by pagemap_load). */
static int read_head(int dirfd, const char *name, struct map_head *h, struct herr *e)
{
	ProtobufCMessage *msg = NULL;
	struct image_buf b;
	int r, ret = -1;

	if (image_load(dirfd, name, IMG_PAGEMAP_MAGIC, &b, e))
		goto out;
	memcpy(h->magic, b.data, sizeof(h->magic));
	r = image_next_msg(&b, &checkpoint__criu__v1__pagemap_head__descriptor, &msg, e);
	if (r <= 0 || !((PagemapHead *)msg)->has_pages_id) {
		if (r == 0 || msg)
			damaged_head(name, e);
		goto out;
	}
	h->pages_id = ((PagemapHead *)msg)->pages_id;
	protobuf_c_message_free_unpacked(msg, NULL);
	msg = NULL;
	r = image_next_msg(&b, &checkpoint__criu__v1__pagemap_entry__descriptor, &msg, e);
	if (r < 0)
		goto out;
	h->wide = r > 0 && ((PagemapEntry *)msg)->has_nr_pages;
	ret = 0;
out:
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
	image_release(&b);
	return ret;
}

/* A pages file of an id no file of the checkpoint has yet (O_EXCL). */
static int open_new_pages(struct rewriter *rw, uint32_t old_id, struct herr *e)
{
	char name[40];

	for (uint32_t id = old_id + 1, tries = 0; tries < 4096; id++, tries++) {
		snprintf(name, sizeof(name), "pages-%u.img", id);
		rw->out_fd = openat(rw->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (rw->out_fd >= 0) {
			rw->out_id = id;
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	herr_perror(e, EC(INTERNAL), errno, "cannot create a new pages file for %s", rw->name);
	return -1;
}

static int append_msg(struct sbuf *b, const ProtobufCMessage *m, struct herr *e)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t hdr[4], *data = malloc(len ? len : 1);
	int ret;

	if (!data)
		return nomem(e);
	protobuf_c_message_pack(m, data);
	put_le32(hdr, (uint32_t)len);
	ret = sbuf_add(b, (const char *)hdr, sizeof(hdr)) || sbuf_add(b, (const char *)data, len) ? nomem(e) : 0;
	free(data);
	return ret;
}

/* The new pagemap's bytes: the old magics, a head naming the new pages file, the runs. */
static int encode_map(const struct rewriter *rw, const struct map_head *h, struct sbuf *b, struct herr *e)
{
	PagemapHead head = CHECKPOINT__CRIU__V1__PAGEMAP_HEAD__INIT;

	head.has_pages_id = true;
	head.pages_id = rw->out_id;
	if (sbuf_add(b, (const char *)h->magic, sizeof(h->magic)))
		return nomem(e);
	if (append_msg(b, &head.base, e))
		return -1;
	for (size_t i = 0; i < rw->n; i++) {
		PagemapEntry pe = CHECKPOINT__CRIU__V1__PAGEMAP_ENTRY__INIT;

		pe.has_vaddr = pe.has_flags = pe.has_compat_nr_pages = true;
		pe.vaddr = rw->v[i].start;
		pe.flags = rw->v[i].flags;
		pe.compat_nr_pages = h->wide ? 0 : (uint32_t)rw->v[i].pages;
		pe.has_nr_pages = h->wide;
		pe.nr_pages = rw->v[i].pages;
		if (append_msg(b, &pe.base, e))
			return -1;
	}
	return 0;
}

/* The new pagemap renamed over the old one (the new pages synced first), then the old pages removed. */
static int put_in_place(struct rewriter *rw, const struct map_head *h, struct herr *e)
{
	struct sbuf b = { 0 };
	char old[40];
	int ret = -1;

	if (fsync(rw->out_fd)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot sync the new pages of %s", rw->name);
		return -1;
	}
	if (encode_map(rw, h, &b, e))
		goto out;
	/* its writer has the directory to itself (page_rewrite.h): what a killed one left is of no use */
	remove_temps_at(rw->dirfd, rw->name);
	if (replace_file_at(rw->dirfd, rw->name, b.p, b.len)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot write the new %s", rw->name);
		goto out;
	}
	/* the rename on disk before the file the old pagemap names goes */
	if (fsync(rw->dirfd))
		fprintf(stderr, "checkpoint-helper: cannot sync a checkpoint directory: %s\n", strerror(errno));
	snprintf(old, sizeof(old), "pages-%u.img", h->pages_id);
	if (unlinkat(rw->dirfd, old, 0) && errno != ENOENT)
		fprintf(stderr, "checkpoint-helper: cannot remove the old %s: %s\n", old, strerror(errno));
	ret = 0;
out:
	sbuf_free(&b);
	return ret;
}

/* One walk over the runs; changed: what the walk found worth writing. */
static int walk(struct rewriter *rw, const struct pagemap *m, struct herr *e)
{
	rw->a = malloc(CHUNK_BYTES);
	rw->b = malloc(CHUNK_BYTES);
	if (!rw->a || !rw->b)
		return nomem(e);
	for (size_t k = 0; k < m->n; k++) {
		const struct page_run *r = &m->v[k];

		if (rw->parent && r->depth > 0) {
			rw->changed = false;	/* already standing on a parent: left as it is, whole */
			return 0;
		}
		if (rw->parent ? share_run(rw, r, e) : unshare_run(rw, r, e))
			return -1;
	}
	return 0;
}

/* Whether any run of m is read from its parent itself (what a delete of the parent hands over). */
static bool reads_parent(const struct pagemap *m)
{
	for (size_t k = 0; k < m->n; k++)
		if (m->v[k].depth == 1)
			return true;
	return false;
}

/* The pages a pagemap holds itself (one left as it was: what it keeps). */
static uint64_t held_pages(const struct pagemap *m)
{
	uint64_t n = 0;

	for (size_t k = 0; k < m->n; k++)
		if (m->v[k].absent == PAGE_HELD && m->v[k].depth == 0)
			n += (m->v[k].end - m->v[k].start) / PAGE_BYTES;
	return n;
}

int page_rewrite(int dirfd, const char *name, const struct pagemap *parent, struct share_stats *st, struct herr *e)
{
	struct rewriter rw = { .dirfd = dirfd, .name = name, .parent = parent, .out_fd = -1 };
	char created[40] = "";
	struct map_head h;
	struct pagemap m;
	int ret = -1;

	if (pagemap_load(dirfd, name, false, &m, e))
		return -1;
	if (!parent && !reads_parent(&m)) {
		st->own_pages += held_pages(&m);	/* nothing to take in: left as it is, not copied */
		pagemap_free(&m);
		return 0;
	}
	if (read_head(dirfd, name, &h, e) || open_new_pages(&rw, h.pages_id, e))
		goto out;
	snprintf(created, sizeof(created), "pages-%u.img", rw.out_id);
	if (walk(&rw, &m, e))
		goto out;
	if (rw.changed) {
		if (put_in_place(&rw, &h, e))
			goto out;
		created[0] = '\0';	/* in use now */
		st->shared_pages += rw.st.shared_pages;
	}
	st->own_pages += rw.changed ? rw.st.own_pages : held_pages(&m);
	ret = 0;
out:
	if (created[0])
		unlinkat(dirfd, created, 0);
	if (rw.out_fd >= 0)
		close(rw.out_fd);
	free(rw.a);
	free(rw.b);
	free(rw.v);
	pagemap_free(&m);
	return ret;
}

static bool is_pagemap(const char *name, bool processes_only)
{
	const char *p = name + strlen("pagemap-");

	if (strncmp(name, "pagemap-", strlen("pagemap-")) || !str_ends_with(name, ".img"))
		return false;
	if (!processes_only)
		return true;
	while (*p >= '0' && *p <= '9')
		p++;
	return p > name + strlen("pagemap-") && !strcmp(p, ".img");
}

static int names_add(struct pagemap_names *l, const char *name)
{
	if (array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)))
		return -1;
	l->v[l->n++] = arena_strdup(name);
	return 0;
}

int pagemap_names(int dirfd, bool processes_only, struct pagemap_names *out, struct herr *e)
{
	int fd = dup(dirfd);
	struct dirent *de;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		herr_perror(e, EC(INTERNAL), errno, "cannot list a checkpoint's images");
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (!is_pagemap(de->d_name, processes_only))
			continue;
		if (out->n == MAX_PAGEMAPS) {
			/* not a part: a pagemap left out would read another checkpoint's pages once re-linked */
			closedir(d);
			herr_set(e, EC(IMAGE_DAMAGED), E2BIG, "the checkpoint has more than %u pagemaps, which cannot be",
				 MAX_PAGEMAPS);
			return -1;
		}
		if (names_add(out, de->d_name)) {
			closedir(d);
			return nomem(e);
		}
	}
	closedir(d);
	return 0;
}
