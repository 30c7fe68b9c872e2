/* SPDX-License-Identifier: MIT */
/*
 * A small synthetic checkpoint for the tests of the core writer, written
 * with the project's image schemas as CRIU writes its images, and the core
 * files read back.
 *
 * The checkpoint: process 100 (the root; threads 100 and 101; stopped by
 * SIGSTOP) and process 300 (a zombie). Thread 100 has every register set to
 * 0x1000 + its field number (r15 = 0x1001, ..., gs = 0x101b), FXSAVE words
 * 0x31000 + i (st_space) and 0x32000 + i (xmm_space), and AVX state (ymmh
 * words 0x33000 + i); thread 101 has registers 0x2000 + n and no XSAVE
 * state. Process 100's memory areas (SYNTH_* below):
 *   program text   0x400000-0x402000  r-x  /usr/bin/synth at 0, nothing held
 *   program data   0x600000-0x604000  rw-  /usr/bin/synth at 0x2000, 0x601000 held
 *   stack          0x7ff000000000 +4 pages  rw-  page 0 lazy, pages 1-2 held
 *   vvar           0x7ff100000000 +1 page   r--
 *   shared memory  0x7ff200000000 +2 pages  rw-  object 5, its page 1 held
 * Each held page is filled with synth_byte(its address, i).
 */
#ifndef CKPT_TEST_SYNTH_H
#define CKPT_TEST_SYNTH_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

#define SYNTH_PID 100
#define SYNTH_TID 101
#define SYNTH_ZOMBIE 300
#define SYNTH_TEXT 0x400000ull
#define SYNTH_DATA 0x600000ull
#define SYNTH_DATA_HELD 0x601000ull
#define SYNTH_STACK 0x7ff000000000ull
#define SYNTH_VVAR 0x7ff100000000ull
#define SYNTH_SHM 0x7ff200000000ull
#define SYNTH_EXTRA 0x7ff300000000ull
#define SYNTH_PROGRAM "/usr/bin/synth"
#define SYNTH_BUILD_ID "\x11\x22\x33\x44\x55\x66\x77\x88"	/* as two words */
#define SYNTH_ARGS "synth\0--flag"	/* at SYNTH_STACK + 0x2000, in a held page */

/* What a test changes in the checkpoint before it is written. */
struct synth_opts {
	int mtype;		/* 0: x86_64 */
	bool compat;		/* thread 101 in 32-bit mode */
	size_t auxv_words;	/* 0: 6 (three pairs, no AT_NULL, as CRIU writes them) */
	size_t ymmh_words;	/* 0: 64 */
	bool avx512;		/* thread 100 has AVX-512 state too: words 0x34000 + i (k), 0x35000 + i (ZMM_Hi256), 0x36000 + i (Hi16_ZMM) */
	bool pkru;		/* and PKRU (0x37000, 0x37001) */
	bool vmas_unsorted;	/* the data area before the text */
	bool data_in_parent;	/* 0x601000 marked in the parent (and not in pages-1.img) */
	const char *program;	/* the program's path: NULL, SYNTH_PROGRAM (no such file) */
	uint64_t program_size;	/* its size as checkpointed, 0: not recorded */
	bool build_id;		/* its build-id recorded: SYNTH_BUILD_ID */
	size_t extra_vmas;	/* more one-page anonymous areas, none held, from SYNTH_EXTRA on (every other page) */
};

/* A manifest of up to two processes (pid 0: none), as a dump records them; tests change its parts. */
struct fixture {
	Checkpoint c;
	CheckpointProcess p[2], *pp[2];
	DumpOptions options;
	LeakReport leaks;
};

/* f filled: processes root (parent 1) and second (its child), both named comm; returns &f->c. */
Checkpoint *fixture(struct fixture *f, const char *id, pid_t root, pid_t second, const char *comm);

/* The byte at i of the held page at addr. */
static inline uint8_t synth_byte(uint64_t addr, size_t i)
{
	return (uint8_t)((addr >> 12) * 31 + i * 7 + 1);
}

/* A held page of the checkpoint (4096 bytes): the pattern, with the command line where it lies. */
void synth_page(uint64_t addr, uint8_t *page);
/* Writes image name in dirfd: the common magic, magic, then each message as a u32 length and its bytes. */
void synth_image(int dirfd, const char *name, uint32_t magic, ProtobufCMessage *const *msgs, size_t n);
/* name in dirfd with raw bytes. */
void synth_file(int dirfd, const char *name, const void *data, size_t len);
/* The synthetic checkpoint's images in dirfd (o NULL: as described above). */
void synth_checkpoint(int dirfd, const struct synth_opts *o);
/* Directory base/name (made) with the checkpoint's images; its descriptor. */
int synth_dir(const char *base, const char *name, const struct synth_opts *o);
/* A checkpoint directory dir/id with its images and a manifest of size_bytes 1000; its descriptor. */
int synth_in_store(const char *store, const char *id, const struct synth_opts *o);

/* ---- core files read back ---------------------------------------------------- */

struct core_read {
	uint8_t *data;
	size_t len;
};

struct note_read {
	const char *name;
	uint32_t type;
	const uint8_t *desc;
	size_t len;
};

/* The file name of dirfd, whole (false when it cannot be read). */
bool core_load(int dirfd, const char *name, struct core_read *c);
void core_unload(struct core_read *c);
uint64_t le64_at(const uint8_t *p);
uint16_t le16_at(const uint8_t *p);
/* Program header i (0: the PT_NOTE), NULL past the end of the file. */
const uint8_t *core_phdr(const struct core_read *c, size_t i);
/* The notes in p (len bytes), at most max of them into v; how many. */
size_t notes_parse(const uint8_t *p, size_t len, struct note_read *v, size_t max);
/* The notes of the PT_NOTE segment, at most max of them into v; how many. */
size_t core_notes(const struct core_read *c, struct note_read *v, size_t max);

#endif
