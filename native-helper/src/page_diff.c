/* SPDX-License-Identifier: MIT */
/* Pages that differ between two checkpoints, compared where the images are. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "manifest.h"
#include "page_diff.h"
#include "page_share.h"
#include "pagemap.h"
#include "store.h"
#include "util.h"

#define CHUNK_PAGES 64u		/* read at a time from each side */

/* Where a walk over one pagemap is: its runs before i end at or before the address. */
struct cursor {
	const struct pagemap *m;
	size_t i;
};

struct diff_ctx {
	ProcessPageDiff *d;
	size_t cap;
	size_t total;		/* ranges of every process so far: the answer must fit a frame */
	bool fresh;		/* a new pair of runs began: ranges are not joined across runs (nor so across areas) */
	uint64_t bytes_read;
	uint8_t *buf_a, *buf_b;
};

/* The held run containing addr, or NULL; the cursor moves past runs that end before it. */
static const struct page_run *held_at(struct cursor *c, uint64_t addr)
{
	while (c->i < c->m->n && c->m->v[c->i].end <= addr)
		c->i++;
	if (c->i < c->m->n && c->m->v[c->i].start <= addr && c->m->v[c->i].absent == PAGE_HELD)
		return &c->m->v[c->i];
	return NULL;
}

/* Where the next run at or after addr starts (UINT64_MAX: none); cursor at addr already. */
static uint64_t next_start(const struct cursor *c, uint64_t addr)
{
	for (size_t i = c->i; i < c->m->n; i++)
		if (c->m->v[i].end > addr && c->m->v[i].absent == PAGE_HELD)
			return c->m->v[i].start > addr ? c->m->v[i].start : addr;
	return UINT64_MAX;
}

/* Adds pages [start, end) of kind, joining the last range when they follow it. */
static void add_range(struct diff_ctx *c, int kind, uint64_t start, uint64_t end, uint64_t bytes)
{
	ProcessPageDiff *d = c->d;
	PageDiffRange *last = d->n_ranges ? d->ranges[d->n_ranges - 1] : NULL;

	if (last && !c->fresh && (int)last->kind == kind && last->end == start) {
		last->end = end;
		last->bytes_differing += bytes;
		return;
	}
	c->fresh = false;
	if (d->n_ranges >= PAGE_DIFF_MAX_RANGES || c->total >= PAGE_DIFF_MAX_TOTAL_RANGES) {
		d->truncated = true;
		return;
	}
	c->total++;
	if (d->n_ranges == c->cap) {
		PageDiffRange **v = arena_alloc((c->cap * 2 + 16) * sizeof(*v));

		if (d->n_ranges)
			memcpy(v, d->ranges, d->n_ranges * sizeof(*v));
		d->ranges = v;
		c->cap = c->cap * 2 + 16;
	}
	last = arena_alloc(sizeof(*last));
	checkpoint__helper__v1__page_diff_range__init(last);
	last->start = start;
	last->end = end;
	last->kind = kind;
	last->bytes_differing = bytes;
	d->ranges[d->n_ranges++] = last;
}

static uint64_t bytes_differing(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint64_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += a[i] != b[i];
	return n;
}

/*
 * Whether both runs read addr's bytes from the same place of the same file:
 * pages one checkpoint shares with the other through a parent link, equal
 * without reading them.
 */
static bool same_place(const struct page_run *ra, const struct page_run *rb, uint64_t addr)
{
	struct stat sa, sb;

	return ra->off + (addr - ra->start) == rb->off + (addr - rb->start) && fstat(ra->fd, &sa) == 0 &&
	       fstat(rb->fd, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Pages [addr, end) held by both, compared a chunk at a time. */
static int compare_both(struct diff_ctx *c, const struct page_run *ra, const struct page_run *rb, uint64_t addr,
			uint64_t end, struct herr *e)
{
	if (same_place(ra, rb, addr)) {
		c->d->pages_compared += (end - addr) / PAGE_BYTES;
		return 0;
	}
	while (addr < end) {
		size_t len = end - addr < CHUNK_PAGES * PAGE_BYTES ? end - addr : CHUNK_PAGES * PAGE_BYTES;

		if (pagemap_read(ra, addr, c->buf_a, len, e) || pagemap_read(rb, addr, c->buf_b, len, e))
			return -1;
		c->bytes_read += 2 * len;
		for (size_t off = 0; off < len; off += PAGE_BYTES) {
			c->d->pages_compared++;
			if (!memcmp(c->buf_a + off, c->buf_b + off, PAGE_BYTES))
				continue;
			c->d->pages_changed++;
			add_range(c, PDK(CHANGED), addr + off, addr + off + PAGE_BYTES,
				  bytes_differing(c->buf_a + off, c->buf_b + off, PAGE_BYTES));
		}
		addr += len;
	}
	return 0;
}

/* Walks both maps in address order, segment by segment: held by both, by one, or by none. */
static int diff_maps(struct diff_ctx *c, const struct pagemap *ma, const struct pagemap *mb, struct herr *e)
{
	struct cursor ca = { ma, 0 }, cb = { mb, 0 };
	uint64_t addr = 0;

	for (;;) {
		const struct page_run *ra = held_at(&ca, addr), *rb = held_at(&cb, addr);
		uint64_t end;

		if (!ra && !rb) {
			uint64_t na = next_start(&ca, addr), nb = next_start(&cb, addr);

			addr = na < nb ? na : nb;
			if (addr == UINT64_MAX)
				return 0;
			continue;
		}
		c->fresh = true;
		end = ra ? ra->end : next_start(&ca, addr);
		if (rb ? rb->end < end : next_start(&cb, addr) < end)
			end = rb ? rb->end : next_start(&cb, addr);
		if (ra && rb && compare_both(c, ra, rb, addr, end, e))
			return -1;
		if (ra && !rb) {
			c->d->pages_only_a += (end - addr) / PAGE_BYTES;
			add_range(c, PDK(ONLY_A), addr, end, 0);
		} else if (rb && !ra) {
			c->d->pages_only_b += (end - addr) / PAGE_BYTES;
			add_range(c, PDK(ONLY_B), addr, end, 0);
		}
		addr = end;
	}
}

/* Pagemap name (of a process or a shared memory object) of both checkpoints, compared. */
static int diff_pagemap(int dir_a, int dir_b, const char *name, struct diff_ctx *c, struct herr *e)
{
	struct pagemap ma = { 0 }, mb = { 0 };
	int ret;

	ret = pagemap_load(dir_a, name, true, &ma, e) || pagemap_load(dir_b, name, true, &mb, e) ? -1 : 0;
	if (!ret)
		ret = diff_maps(c, &ma, &mb, e);
	pagemap_free(&ma);
	pagemap_free(&mb);
	return ret;
}

/* A new entry of the answer, the context's current one. */
static ProcessPageDiff *new_entry(struct diff_ctx *c)
{
	c->d = arena_alloc(sizeof(*c->d));
	checkpoint__helper__v1__process_page_diff__init(c->d);
	c->cap = 0;
	return c->d;
}

/* The shmid of a shared memory pagemap's name (pagemap-shmem-<shmid>.img), or false. */
static bool shmem_id(const char *name, uint64_t *shmid)
{
	const char *p = name + strlen("pagemap-shmem-");
	char *end;

	if (strncmp(name, "pagemap-shmem-", strlen("pagemap-shmem-")) || *p < '0' || *p > '9')
		return false;
	errno = 0;
	*shmid = strtoull(p, &end, 10);
	return errno == 0 && !strcmp(end, ".img");
}

/* The shared memory objects both hold (b's, found in a too), compared; at most MAX_SHMEM_OBJECTS. */
static int diff_shared_memory(int dir_a, int dir_b, struct diff_ctx *c, PageDiffResult *out, struct herr *e)
{
	int fd = openat(dir_b, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t cap = 0;
	int ret = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		herr_perror(e, EC(INTERNAL), errno, "cannot list the images of a checkpoint");
		return -1;
	}
	while (!ret && (de = readdir(d)) && out->n_shared_memory < MAX_SHMEM_OBJECTS) {
		uint64_t shmid;

		if (!shmem_id(de->d_name, &shmid) || faccessat(dir_a, de->d_name, F_OK, AT_SYMLINK_NOFOLLOW))
			continue;
		new_entry(c)->shmid = shmid;
		ret = diff_pagemap(dir_a, dir_b, de->d_name, c, e);
		out->shared_memory = arena_grow(out->shared_memory, out->n_shared_memory, &cap, sizeof(*out->shared_memory));
		out->shared_memory[out->n_shared_memory++] = c->d;
	}
	closedir(d);
	return ret;
}

static bool holds_pid(const Checkpoint *ck, int32_t pid)
{
	for (size_t i = 0; i < ck->n_processes; i++)
		if (ck->processes[i]->pid == pid)
			return true;
	return false;
}

static int open_both(const char *store, const char *a, const char *b, int dirs[2], Checkpoint *cks[2], struct herr *e)
{
	const char *ids[2] = { a, b };

	for (int i = 0; i < 2; i++) {
		if (store_check_finished(store, ids[i], e))
			return -1;
		cks[i] = manifest_read(store, ids[i], e);
		if (!cks[i])
			return -1;
		dirs[i] = checkpoint_open(store, ids[i], e);
		if (dirs[i] < 0)
			return -1;
	}
	return 0;
}

static int cmp_pid(const void *x, const void *y)
{
	const ProcessPageDiff *const *a = x, *const *b = y;

	return ((*a)->pid > (*b)->pid) - ((*a)->pid < (*b)->pid);
}

static int cmp_shmid(const void *x, const void *y)
{
	const ProcessPageDiff *const *a = x, *const *b = y;

	return ((*a)->shmid > (*b)->shmid) - ((*a)->shmid < (*b)->shmid);
}

int page_diff(const char *store, const char *a, const char *b, PageDiffResult *out, struct herr *e)
{
	int dirs[2] = { -1, -1 }, ret = -1;
	Checkpoint *cks[2] = { NULL, NULL };
	struct fdlist held[2] = { { 0 }, { 0 } };	/* both chains, locked shared: no delete re-links them meanwhile */
	struct diff_ctx c = { 0 };
	uint64_t t0 = now_us();

	c.buf_a = malloc(CHUNK_PAGES * PAGE_BYTES);
	c.buf_b = malloc(CHUNK_PAGES * PAGE_BYTES);
	if (!c.buf_a || !c.buf_b) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory for the page comparison");
		goto out;
	}
	if (open_both(store, a, b, dirs, cks, e) || share_chain_hold(store, dirs[0], a, &held[0], e) ||
	    share_chain_hold(store, dirs[1], b, &held[1], e))
		goto out;
	out->processes = arena_alloc((cks[1]->n_processes + 1) * sizeof(*out->processes));
	for (size_t i = 0; i < cks[1]->n_processes; i++) {
		int32_t pid = cks[1]->processes[i]->pid;

		if (!holds_pid(cks[0], pid))
			continue;
		new_entry(&c)->pid = pid;
		if (diff_pagemap(dirs[0], dirs[1], arena_printf("pagemap-%d.img", pid), &c, e))
			goto out;
		out->processes[out->n_processes++] = c.d;
	}
	qsort(out->processes, out->n_processes, sizeof(*out->processes), cmp_pid);
	if (diff_shared_memory(dirs[0], dirs[1], &c, out, e))
		goto out;
	qsort(out->shared_memory, out->n_shared_memory, sizeof(*out->shared_memory), cmp_shmid);
	out->bytes_read = c.bytes_read;
	out->wall_time_us = now_us() - t0;
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		fdlist_close(&held[i]);
		if (dirs[i] >= 0)
			close(dirs[i]);
	}
	free(c.buf_a);
	free(c.buf_b);
	return ret;
}
