/* SPDX-License-Identifier: MIT */
/*
 * One process of a checkpoint as its images describe it, for its core
 * file: its place in the tree (pstree.img), its threads' registers
 * (core-<tid>.img), its memory areas and saved auxiliary vector
 * (mm-<pid>.img) and the files they map (files.img, or reg-files.img in old
 * images; memfd.img). Everything is checked as it is read: a process the
 * checkpoint does not hold is NOT_FOUND, damage IMAGE_DAMAGED, another
 * architecture, a 32-bit process or one that is no longer alive (a zombie)
 * UNSUPPORTED.
 */
#ifndef CKPT_CORE_PROC_H
#define CKPT_CORE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "criu-images.pb-c.h"
#include "err.h"

typedef Checkpoint__Criu__V1__Core CoreEntry;
typedef Checkpoint__Criu__V1__MemoryMap MmEntry;

/* CRIU's vma status bits the core needs. */
#define VMA_AREA_VSYSCALL (1u << 2)
#define VMA_FILE_PRIVATE (1u << 6)
#define VMA_FILE_SHARED (1u << 7)
#define VMA_ANON_SHARED (1u << 8)
#define VMA_AREA_SYSVIPC (1u << 10)
#define VMA_AREA_VVAR (1u << 12)
#define VMA_AREA_MEMFD (1u << 14)

/* Where an area's pages are: the process's pagemap, or a shared memory object's. */
enum vma_pages {
	VMA_PAGES_OWN,		/* pagemap-<pid>.img */
	VMA_PAGES_SHARED,	/* pagemap-shmem-<shmid>.img, at offset pgoff */
	VMA_PAGES_NONE,		/* never in the images (vvar, vsyscall): left out of the core */
};

struct core_vma {
	uint64_t start, end, pgoff;
	uint32_t prot;		/* PROT_* */
	uint32_t status;	/* CRIU's VMA_* bits */
	enum vma_pages pages;
	uint64_t shmid;		/* VMA_PAGES_SHARED: the object */
	const char *path;	/* the regular file it maps (NT_FILE), else NULL */
	uint64_t file_size;	/* the file's size when it was checkpointed, 0 when not recorded */
	const uint8_t *build_id;	/* its ELF build-id as CRIU recorded it, NULL when none */
	size_t build_id_len;
};

struct core_thread {
	pid_t tid;
	CoreEntry *core;
};

struct core_proc {
	pid_t pid, ppid, pgid, sid;
	struct core_thread *threads;	/* the thread group leader first */
	size_t nthreads;
	MmEntry *mm;
	struct core_vma *vmas;		/* sorted, disjoint */
	size_t nvmas;
	const char *exe;		/* the program's path, NULL when the images name none */
	char **strings;			/* the paths and build-ids above, freed with the rest */
	size_t nstrings, strings_cap;
};

/* Process pid of the checkpoint open at dirfd (0: its root). */
int core_proc_load(int dirfd, pid_t pid, struct core_proc *p, struct herr *e);
/* The leader's task-wide part (tc): core_proc_load checked it is there. */
const Checkpoint__Criu__V1__TaskCore *core_proc_task(const struct core_proc *p);
void core_proc_free(struct core_proc *p);

#endif
