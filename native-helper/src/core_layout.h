/* SPDX-License-Identifier: MIT */
/*
 * What a process's core holds, area by area: the PT_LOAD segments and the
 * bytes of the checkpoint each is made of. Every memory area becomes one
 * segment, or several where the checkpoint holds some of its pages and not
 * others: a stretch it holds is a segment whose contents are those pages
 * (copied from the pages images, this checkpoint's or a parent's); a
 * stretch it does not hold is a segment without contents (p_filesz 0),
 * which gdb reads from the file the area maps (NT_FILE, or the program and
 * its libraries) and, for anonymous memory never touched, as zeros. So the
 * core holds no byte the checkpoint does not, and no zeros it need not, but
 * one kind of page: as the kernel does, the first page of an ELF file an
 * area maps from its start (its headers, where AT_PHDR points: gdb places a
 * PIE program by them) is read from the file on the target when the
 * checkpoint does not hold it, if the file is still the one checkpointed
 * (its recorded size, its build-id in that page).
 */
#ifndef CKPT_CORE_LAYOUT_H
#define CKPT_CORE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "core_proc.h"
#include "err.h"
#include "pagemap.h"

/* p_flags */
#define PF_X 1u
#define PF_W 2u
#define PF_R 4u

/* A stretch of a pages image. */
struct core_copy {
	int fd;
	uint64_t off, len;
};

struct core_seg {
	uint64_t vaddr, memsz;
	uint64_t filesz;	/* memsz, or 0: not in the checkpoint */
	uint32_t flags;		/* PF_* */
	uint64_t offset;	/* of the contents in the core: set by the writer */
	size_t copy, ncopy;	/* the contents: copies[copy], ... */
};

struct shm_map {
	uint64_t shmid;
	struct pagemap map;
};

struct core_layout {
	struct core_seg *segs;
	size_t nsegs, segs_cap;
	struct core_copy *copies;
	size_t ncopies, copies_cap;
	struct pagemap own;		/* pagemap-<pid>.img */
	struct shm_map *shm;		/* the shared memory objects the areas map */
	size_t nshm, shm_cap;
	struct fdlist files;		/* the mapped files read for their ELF headers */
	uint64_t pages_held;		/* in the core's contents, from the checkpoint */
	uint64_t pages_from_files;	/* in the core's contents, ELF headers from the mapped files */
	uint64_t pages_lazy, pages_parent_missing;	/* named by the checkpoint, not held */
};

/* The segments of process p of the checkpoint open at dirfd. */
int core_layout_plan(int dirfd, const struct core_proc *p, struct core_layout *l, struct herr *e);
/* Up to len bytes of p's own memory at addr, as far as the checkpoint holds them; how many. */
size_t core_layout_read(const struct core_layout *l, uint64_t addr, void *buf, size_t len);
void core_layout_free(struct core_layout *l);

#endif
