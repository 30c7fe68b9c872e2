/* SPDX-License-Identifier: MIT */
/* What a process's core holds, area by area. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_layout.h"
#include "lists.h"
#include "wire.h"

static int nomem(struct herr *e)
{
	herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
	return -1;
}

static uint32_t seg_flags(const struct core_vma *v)
{
	return (v->prot & PROT_READ ? PF_R : 0) | (v->prot & PROT_WRITE ? PF_W : 0) |
	       (v->prot & PROT_EXEC ? PF_X : 0);
}

/* A segment without contents over [start, end) of area v. */
static int add_gap(struct core_layout *l, const struct core_vma *v, uint64_t start, uint64_t end, struct herr *e)
{
	if (array_grow((void **)&l->segs, &l->segs_cap, l->nsegs + 1, sizeof(*l->segs)))
		return nomem(e);
	l->segs[l->nsegs++] = (struct core_seg){ .vaddr = start, .memsz = end - start, .flags = seg_flags(v),
						  .copy = l->ncopies };
	return 0;
}

/*
 * [start, end) of area v held at off in fd, counted in *pages: the last
 * segment grows when it is held and ends at start.
 */
static int add_held(struct core_layout *l, const struct core_vma *v, uint64_t start, uint64_t end, int fd,
		    uint64_t off, uint64_t *pages, struct herr *e)
{
	struct core_seg *s = l->nsegs ? &l->segs[l->nsegs - 1] : NULL;
	struct core_copy *c = l->ncopies ? &l->copies[l->ncopies - 1] : NULL;

	if (!s || !s->filesz || s->vaddr < v->start || s->vaddr + s->memsz != start) {
		if (add_gap(l, v, start, start, e))
			return -1;
		s = &l->segs[l->nsegs - 1];
		c = NULL;
	}
	s->memsz += end - start;
	s->filesz = s->memsz;
	*pages += (end - start) / PAGE_BYTES;
	if (c && c->fd == fd && c->off + c->len == off) {
		c->len += end - start;
		return 0;
	}
	if (array_grow((void **)&l->copies, &l->copies_cap, l->ncopies + 1, sizeof(*l->copies)))
		return nomem(e);
	l->copies[l->ncopies++] = (struct core_copy){ .fd = fd, .off = off, .len = end - start };
	s->ncopy++;
	return 0;
}

static void count_absent(struct core_layout *l, const struct page_run *r, uint64_t bytes)
{
	if (r->absent == PAGE_LAZY)
		l->pages_lazy += bytes / PAGE_BYTES;
	else
		l->pages_parent_missing += bytes / PAGE_BYTES;
}

/*
 * Area v from address from on; its pages are those of m from base on (its
 * start's address, or its offset into a shared object).
 */
static int plan_area(struct core_layout *l, const struct core_vma *v, const struct pagemap *m, uint64_t base,
		     uint64_t from, struct herr *e)
{
	uint64_t end = base + (v->end - v->start), pos = from;

	base -= v->start;	/* an address's place in m is base + the address (unsigned, so it wraps right) */
	for (size_t k = m ? pagemap_first_after(m, base + from) : 0; m && k < m->n && m->v[k].start < end; k++) {
		const struct page_run *r = &m->v[k];
		uint64_t lo = r->start > base + from ? r->start : base + from, hi = r->end < end ? r->end : end;

		if (r->absent) {
			count_absent(l, r, hi - lo);
			continue;
		}
		if (lo - base > pos && add_gap(l, v, pos, lo - base, e))
			return -1;
		if (add_held(l, v, lo - base, hi - base, r->fd, r->off + (lo - r->start), &l->pages_held, e))
			return -1;
		pos = hi - base;
	}
	return pos < v->end ? add_gap(l, v, pos, v->end, e) : 0;
}

/*
 * The mapped ELF file whose first page the core takes from it (see
 * core_layout.h), open; -1 when there is none, or it is not the file that
 * was checkpointed.
 */
static int elf_header_fd(struct core_layout *l, const struct core_vma *v)
{
	uint8_t page[PAGE_BYTES];
	struct stat st;
	int fd;

	if (!v->path || v->pgoff || !(v->prot & PROT_READ) || stat(v->path, &st) || !S_ISREG(st.st_mode))
		return -1;
	fd = open(v->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (v->file_size && (uint64_t)st.st_size != v->file_size) ||
	    pread(fd, page, sizeof(page), 0) != (ssize_t)sizeof(page) || memcmp(page, "\177ELF", 4) ||
	    (v->build_id && !memmem(page, sizeof(page), v->build_id, v->build_id_len)) || fdlist_add(&l->files, fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Area v: its ELF header from the file when the checkpoint names nothing of its first page, then the rest. */
static int plan_vma(struct core_layout *l, const struct core_vma *v, const struct pagemap *m, uint64_t base,
		    struct herr *e)
{
	size_t k = m ? pagemap_first_after(m, base) : 0;
	int fd = -1;

	if (m && (k == m->n || m->v[k].start > base))
		fd = elf_header_fd(l, v);
	if (fd < 0)
		return plan_area(l, v, m, base, v->start, e);
	if (add_held(l, v, v->start, v->start + PAGE_BYTES, fd, 0, &l->pages_from_files, e))
		return -1;
	return plan_area(l, v, m, base, v->start + PAGE_BYTES, e);
}

/* The pagemap of shared memory object shmid, read once for all the areas that map it. */
static const struct pagemap *shared_map(int dirfd, struct core_layout *l, uint64_t shmid, struct herr *e)
{
	char name[48];

	for (size_t i = 0; i < l->nshm; i++)
		if (l->shm[i].shmid == shmid)
			return &l->shm[i].map;
	if (array_grow((void **)&l->shm, &l->shm_cap, l->nshm + 1, sizeof(*l->shm))) {
		nomem(e);
		return NULL;
	}
	snprintf(name, sizeof(name), "pagemap-shmem-%llu.img", (unsigned long long)shmid);
	l->shm[l->nshm].shmid = shmid;
	if (pagemap_load(dirfd, name, true, &l->shm[l->nshm].map, e))
		return NULL;
	return &l->shm[l->nshm++].map;
}

int core_layout_plan(int dirfd, const struct core_proc *p, struct core_layout *l, struct herr *e)
{
	char name[40];

	memset(l, 0, sizeof(*l));
	snprintf(name, sizeof(name), "pagemap-%d.img", p->pid);
	if (pagemap_load(dirfd, name, true, &l->own, e))
		return -1;
	for (size_t i = 0; i < p->nvmas; i++) {
		const struct core_vma *v = &p->vmas[i];
		const struct pagemap *m = v->pages == VMA_PAGES_OWN ? &l->own : NULL;

		if (v->pages == VMA_PAGES_SHARED) {
			m = shared_map(dirfd, l, v->shmid, e);
			if (!m)
				return -1;
		}
		if (plan_vma(l, v, m, v->pages == VMA_PAGES_SHARED ? v->pgoff : v->start, e))
			return -1;
	}
	return 0;
}

size_t core_layout_read(const struct core_layout *l, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;

	for (size_t k = pagemap_first_after(&l->own, addr); done < len && k < l->own.n; k++) {
		const struct page_run *r = &l->own.v[k];
		uint64_t at = addr + done, n = len - done;
		ssize_t got;

		if (r->start > at || r->fd < 0)
			break;
		if (n > r->end - at)
			n = r->end - at;
		got = pread(r->fd, (char *)buf + done, n, (off_t)(r->off + (at - r->start)));
		if (got <= 0)
			break;
		done += got;
		if ((uint64_t)got < n)
			break;
	}
	return done;
}

void core_layout_free(struct core_layout *l)
{
	pagemap_free(&l->own);
	fdlist_close(&l->files);
	for (size_t i = 0; i < l->nshm; i++)
		pagemap_free(&l->shm[i].map);
	free(l->shm);
	free(l->segs);
	free(l->copies);
	memset(l, 0, sizeof(*l));
}
