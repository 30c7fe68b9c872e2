/* SPDX-License-Identifier: MIT */
/*
 * The PT_NOTE segment of a process's core, in the order gdb's own gcore
 * writes it: NT_PRPSINFO; for each thread, the leader first (the thread gdb
 * selects), NT_PRSTATUS then NT_FPREGSET, NT_X86_XSTATE and NT_SIGINFO
 * (notes after a NT_PRSTATUS belong to its thread); then NT_AUXV (the saved
 * auxiliary vector as the kernel lays it out: pairs of u64 ending with
 * AT_NULL; gdb places a PIE program and the vDSO by it) and NT_FILE (every
 * area mapping a regular file, with its offset: gdb reads what the core
 * does not hold of them from the files).
 *
 * Each descriptor is laid out as the x86_64 kernel does (fs/binfmt_elf.c),
 * written byte by byte in little-endian order whatever the host's structs:
 * NT_PRSTATUS (struct elf_prstatus: the signal a stopped process is
 * stopped by, the thread's pending and blocked signals, the ids, the
 * general registers in user_regs_struct order), NT_FPREGSET (the FXSAVE
 * area), NT_X86_XSTATE (the XSAVE area in the standard layout: the FXSAVE
 * area with XCR0 in its software-reserved bytes at 464, where gdb reads
 * it, the XSAVE header, then each component the image holds at its fixed
 * offset, the note sized as gdb recognises the layout: 832 with AVX, 1088
 * with MPX, 2688 with AVX-512, 2696 with PKRU) and NT_SIGINFO.
 */
#ifndef CKPT_CORE_NOTES_H
#define CKPT_CORE_NOTES_H

#include "core_proc.h"
#include "err.h"
#include "sbuf.h"

#define NT_PRSTATUS 1
#define NT_FPREGSET 2
#define NT_PRPSINFO 3
#define NT_AUXV 6
#define NT_X86_XSTATE 0x202
#define NT_SIGINFO 0x53494749
#define NT_FILE 0x46494c45

/* Descriptors: struct elf_prstatus, user_fpregs_struct, the XSAVE area (largest), siginfo_t, elf_prpsinfo. */
#define PRSTATUS_BYTES 336
#define FPREGSET_BYTES 512
#define XSTATE_MAX_BYTES 2696
#define SIGINFO_BYTES 128
#define PRPSINFO_BYTES 136
#define PSARGS_BYTES 80
/* Words of a saved auxiliary vector: far above the kernel's (AT_VECTOR_SIZE). */
#define AUXV_MAX_WORDS 512

/* Appends the notes of p to b; psargs is its command line as ps shows it (at most 79 bytes kept). */
int core_notes_build(const struct core_proc *p, const char *psargs, struct sbuf *b, struct herr *e);

#endif
