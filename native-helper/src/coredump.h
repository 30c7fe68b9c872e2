/* SPDX-License-Identifier: MIT */
/*
 * An ELF core file of one process of a checkpoint, written from its images
 * on the target (the pages never leave it): what gdb needs to show every
 * thread's source-level frames and locals with the program, as the x86_64
 * kernel writes a core (fs/binfmt_elf.c). The file is core-<pid>.elf in the
 * checkpoint directory, written under a temporary name, synced, and renamed
 * into place (store_put_file): a reader sees the old core or the new one.
 *
 * Layout: the ELF header, the program headers (PT_NOTE first, then the
 * PT_LOADs of core_layout.h, in address order), the notes (core_notes.h),
 * then, page-aligned, the contents of the segments that have any; past
 * 65,534 segments the count is in a section header at the end (PN_XNUM), as
 * the kernel does.
 */
#ifndef CKPT_COREDUMP_H
#define CKPT_COREDUMP_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define EHDR_BYTES 64
#define PHDR_BYTES 56
#define SHDR_BYTES 64
#define PN_XNUM 0xffff

struct coredump_params {
	uint32_t request;	/* the request its progress events go with */
	const char *store;
	const char *id;		/* valid (valid_checkpoint_id) */
	pid_t pid;		/* 0: the checkpoint's root */
};

struct coredump_outcome {
	pid_t pid;
	const char *file;	/* "core-<pid>.elf" (arena memory, as the strings below) */
	const char *path;	/* its absolute path */
	const char *exe;	/* the program, "" when the images name none */
	uint64_t size;
	uint32_t threads, segments;
	uint64_t pages_written, pages_lazy, pages_parent_missing, pages_from_files;
	uint64_t write_us;
};

int coredump_write(const struct coredump_params *p, struct coredump_outcome *out, struct herr *e);

#endif
