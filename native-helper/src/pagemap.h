/* SPDX-License-Identifier: MIT */
/*
 * The pages a checkpoint holds of a process (pagemap-<pid>.img) or of a
 * shared memory object (pagemap-shmem-<id>.img), and where their bytes are:
 * runs of addresses (offsets into the object for shared memory), each in a
 * pages-<n>.img of this checkpoint or, for runs marked in the parent, of the
 * checkpoint the "parent" link names (and so on up the chain). Runs CRIU
 * left for a lazy restore, or whose parent is gone, are there without bytes;
 * what no run covers the checkpoint does not hold at all.
 */
#ifndef CKPT_PAGEMAP_H
#define CKPT_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "lists.h"

#define PAGE_BYTES 4096u
/* Runs of one pagemap, at most: what even a terabyte of memory fragmented page by page is not near. */
#define PAGEMAP_MAX_RUNS (1u << 21)
/* Parent links followed at most: CRIU's incremental chains are far shorter. */
#define PAGEMAP_MAX_PARENTS 32

#define PE_PARENT 1u
#define PE_LAZY 2u
#define PE_PRESENT 4u

enum page_absent {
	PAGE_HELD = 0,
	PAGE_LAZY,		/* PE_LAZY without PE_PRESENT: left for a lazy restore */
	PAGE_PARENT_MISSING,	/* PE_PARENT, but no parent holds it */
	PAGE_IN_PARENT,		/* while loading only: PE_PARENT, not looked up yet */
};

struct page_run {
	uint64_t start, end;	/* page-aligned, start < end */
	int fd;			/* the pages file holding them, -1 when absent */
	uint64_t off;		/* where start's bytes are in fd */
	enum page_absent absent;
	uint32_t flags;		/* the PE_* flags of the entry that says so */
	uint32_t depth;		/* which checkpoint says so: 0 this one, 1 its parent, ... */
};

struct pagemap {
	struct page_run *v;	/* sorted, disjoint */
	size_t n, cap;
	struct fdlist fds;	/* pages files and parent directories, closed by pagemap_free */
};

/*
 * Reads image name (pagemap-104.img, pagemap-shmem-5.img) of the checkpoint
 * directory dirfd, with its parents' where runs are in the parent. A
 * missing image is an empty map when optional (a process with no memory
 * dumped), else IMAGE_DAMAGED.
 */
int pagemap_load(int dirfd, const char *name, bool optional, struct pagemap *m, struct herr *e);
/* The bytes [addr, addr + len) of held run r (within it), read whole; IMAGE_DAMAGED when they cannot be. */
int pagemap_read(const struct page_run *r, uint64_t addr, void *buf, size_t len, struct herr *e);
/* Index of the first run that ends after addr (m->n when none does). */
size_t pagemap_first_after(const struct pagemap *m, uint64_t addr);
void pagemap_free(struct pagemap *m);

#endif
