/* SPDX-License-Identifier: MIT */
/* Tests of core_notes.c: the notes of the synthetic process, byte by byte where gdb reads them. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_notes.h"
#include "core_proc.h"
#include "fileio.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "synth.h"

#define MAX_NOTES 16
#define PSARGS "synth --flag "

static char base[] = "/tmp/ckpt-notes-XXXXXX";
static unsigned dirs;

struct built {
	struct sbuf b;
	struct note_read v[MAX_NOTES];
	size_t n;
	struct herr e;
	int ret;
};

/* The notes of process 100 of the synthetic checkpoint o makes. */
static void build(const struct synth_opts *o, struct built *out)
{
	char name[16];
	struct core_proc p;
	int fd;

	memset(out, 0, sizeof(*out));
	snprintf(name, sizeof(name), "%u", dirs++);
	fd = synth_dir(base, name, o);
	CHECK_OK(core_proc_load(fd, SYNTH_PID, &p, &out->e), &out->e);
	out->ret = core_notes_build(&p, PSARGS, &out->b, &out->e);
	out->n = notes_parse((const uint8_t *)out->b.p, out->b.len, out->v, MAX_NOTES);
	core_proc_free(&p);
	close(fd);
}

static void test_order(const struct built *x)
{
	static const struct { const char *name; uint32_t type; size_t len; } want[] = {
		{ "CORE", NT_PRPSINFO, PRPSINFO_BYTES },
		{ "CORE", NT_PRSTATUS, PRSTATUS_BYTES }, { "CORE", NT_FPREGSET, FPREGSET_BYTES },
		{ "LINUX", NT_X86_XSTATE, 832 }, { "CORE", NT_SIGINFO, SIGINFO_BYTES },
		{ "CORE", NT_PRSTATUS, PRSTATUS_BYTES }, { "CORE", NT_FPREGSET, FPREGSET_BYTES },
		{ "CORE", NT_SIGINFO, SIGINFO_BYTES },
		{ "CORE", NT_AUXV, 64 }, { "CORE", NT_FILE, 16 + 2 * 24 + 2 * sizeof(SYNTH_PROGRAM) },
	};

	CHECK_UINT(x->n, ==, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want) && i < x->n; i++) {
		test_case("note %zu", i);
		CHECK_STR(x->v[i].name, ==, want[i].name);
		CHECK_UINT(x->v[i].type, ==, want[i].type);
		CHECK_UINT(x->v[i].len, ==, want[i].len);
	}
	test_case("notes padded to 4 bytes, nothing after the last");
	CHECK_UINT(x->b.len % 4, ==, 0);
	CHECK(x->n && (const char *)x->v[x->n - 1].desc + (x->v[x->n - 1].len + 3) / 4 * 4 == x->b.p + x->b.len);
}

/* struct elf_prstatus of a thread: its signals, the ids, its registers (base + field number). */
static void check_prstatus(const uint8_t *d, pid_t tid, uint64_t sigpend, uint64_t sighold, uint64_t base_reg)
{
	CHECK_UINT(get_le32(d), ==, 19);		/* pr_info.si_signo: SIGSTOP */
	CHECK_UINT(le16_at(d + 12), ==, 19);		/* pr_cursig */
	CHECK_UINT(le64_at(d + 16), ==, sigpend);
	CHECK_UINT(le64_at(d + 24), ==, sighold);
	CHECK_UINT(get_le32(d + 32), ==, tid);
	CHECK_UINT(get_le32(d + 36), ==, 1);		/* ppid */
	CHECK_UINT(get_le32(d + 40), ==, 100);		/* pgrp */
	CHECK_UINT(get_le32(d + 44), ==, 90);		/* sid */
	for (unsigned k = 0; k < 27; k++)
		CHECK_UINT(le64_at(d + 112 + 8 * k), ==, base_reg + k + 1);
	CHECK_UINT(get_le32(d + 328), ==, 1);		/* pr_fpvalid */
}

static void test_threads(const struct built *x)
{
	test_case("NT_PRSTATUS of thread 100: SIGUSR1 pending, the task's mask (r15 first, gs last)");
	check_prstatus(x->v[1].desc, SYNTH_PID, 1u << 9, 0x4, 0x1000);
	test_case("NT_PRSTATUS of thread 101: its own mask");
	check_prstatus(x->v[5].desc, SYNTH_TID, 0, 0x2, 0x2000);
	test_case("NT_SIGINFO: the signal that stopped the process");
	CHECK_UINT(get_le32(x->v[4].desc), ==, 19);
	CHECK_UINT(get_le32(x->v[7].desc), ==, 19);
}

static void test_fpu(const struct built *x)
{
	const uint8_t *fp = x->v[2].desc, *xs = x->v[3].desc;
	bool same = true;

	test_case("NT_FPREGSET: the FXSAVE area");
	CHECK_UINT(le16_at(fp), ==, 0x37f);
	CHECK_UINT(le16_at(fp + 2), ==, 0x1234);
	CHECK_UINT(le16_at(fp + 4), ==, 0x56);
	CHECK_UINT(le16_at(fp + 6), ==, 0x78);
	CHECK_UINT(le64_at(fp + 8), ==, 0x1122334455667788ull);
	CHECK_UINT(le64_at(fp + 16), ==, 0x99aabbccddeeff00ull);
	CHECK_UINT(get_le32(fp + 24), ==, 0x1f80);
	CHECK_UINT(get_le32(fp + 28), ==, 0xffbf);
	for (size_t i = 0; i < 32; i++)
		same = same && get_le32(fp + 32 + 4 * i) == 0x31000 + i;
	for (size_t i = 0; i < 64; i++)
		same = same && get_le32(fp + 160 + 4 * i) == 0x32000 + i;
	CHECK(same);
	test_case("NT_X86_XSTATE: the same FXSAVE area, XCR0 at 464, the header, AVX at 576");
	CHECK(!memcmp(fp, xs, 464));
	CHECK_UINT(le64_at(xs + 464), ==, 0x7);
	CHECK_UINT(le64_at(xs + 512), ==, 0x7);
	CHECK_UINT(le64_at(xs + 520), ==, 0);	/* xcomp_bv: the standard layout */
	for (size_t i = 0; i < 64; i++)
		same = same && get_le32(xs + 576 + 4 * i) == 0x33000 + i;
	CHECK(same);
	test_case("thread 101: FXSAVE only");
	CHECK_UINT(le16_at(x->v[6].desc), ==, 0x27f);
	CHECK_UINT(get_le32(x->v[6].desc + 32), ==, 0);
}

/* The XSAVE note with AVX-512 (and PKRU): the size and offsets gdb knows the standard layout by. */
static void test_avx512(void)
{
	static const struct synth_opts avx512 = { .avx512 = true }, pkru = { .avx512 = true, .pkru = true };
	struct built x;

	test_case("AVX-512");
	build(&avx512, &x);
	CHECK_OK(x.ret, &x.e);
	CHECK_UINT(x.v[3].len, ==, 2688);
	CHECK_UINT(le64_at(x.v[3].desc + 464), ==, 0xe7);
	CHECK_UINT(le64_at(x.v[3].desc + 1088), ==, 0x34000);		/* k0 */
	CHECK_UINT(le64_at(x.v[3].desc + 1152 + 8 * 63), ==, 0x35000 + 63);	/* zmm15's last word */
	CHECK_UINT(le64_at(x.v[3].desc + 1664 + 8 * 127), ==, 0x36000 + 127);	/* zmm31's last word */
	sbuf_free(&x.b);
	test_case("AVX-512 and PKRU");
	build(&pkru, &x);
	CHECK_UINT(x.v[3].len, ==, 2696);
	CHECK_UINT(le64_at(x.v[3].desc + 464), ==, 0x2e7);
	CHECK_UINT(get_le32(x.v[3].desc + 2688), ==, 0x37000);
	sbuf_free(&x.b);
}

static void test_process(const struct built *x)
{
	const uint8_t *ps = x->v[0].desc, *av = x->v[8].desc, *f = x->v[9].desc;

	test_case("NT_PRPSINFO: stopped, nice -5, ids, name, command line");
	CHECK_INT(ps[0], ==, 3);
	CHECK_INT(ps[1], ==, 'T');
	CHECK_INT((int8_t)ps[3], ==, -5);
	CHECK_UINT(le64_at(ps + 8), ==, 0x400040);
	CHECK_UINT(get_le32(ps + 16), ==, 1000);
	CHECK_UINT(get_le32(ps + 20), ==, 1001);
	CHECK_UINT(get_le32(ps + 24), ==, SYNTH_PID);
	CHECK_STR((const char *)ps + 40, ==, "synth");
	CHECK_STR((const char *)ps + 56, ==, PSARGS);
	test_case("NT_AUXV: the pairs, then AT_NULL, which CRIU leaves out");
	CHECK_UINT(le64_at(av), ==, 3);
	CHECK_UINT(le64_at(av + 8), ==, 0x400040);
	CHECK_UINT(le64_at(av + 32), ==, 6);
	CHECK_UINT(le64_at(av + 40), ==, 4096);
	CHECK_UINT(le64_at(av + 48), ==, 0);
	CHECK_UINT(le64_at(av + 56), ==, 0);
	test_case("NT_FILE: the areas that map the program, offsets in pages, then the paths");
	CHECK_UINT(le64_at(f), ==, 2);
	CHECK_UINT(le64_at(f + 8), ==, 4096);
	CHECK_UINT(le64_at(f + 16), ==, SYNTH_TEXT);
	CHECK_UINT(le64_at(f + 24), ==, SYNTH_TEXT + 0x2000);
	CHECK_UINT(le64_at(f + 32), ==, 0);
	CHECK_UINT(le64_at(f + 40), ==, SYNTH_DATA);
	CHECK_UINT(le64_at(f + 56), ==, 2);
	CHECK_STR((const char *)f + 64, ==, SYNTH_PROGRAM);
	CHECK_STR((const char *)f + 64 + sizeof(SYNTH_PROGRAM), ==, SYNTH_PROGRAM);
}

static void test_refused(void)
{
	static const struct {
		const char *what;
		struct synth_opts o;
		const char *words;
	} cases[] = {
		{ "an auxiliary vector of an odd number of words", { .auxv_words = 7 },
		  "mm-100.img has a saved auxiliary vector of 7 words, which cannot be" },
		{ "a huge auxiliary vector", { .auxv_words = 600 }, "of 600 words, which cannot be (pairs, at most 512" },
		{ "an AVX component of the wrong size", { .ymmh_words = 60 },
		  "core-100.img has 60 words of AVX (ymmh_space); 64 expected" },
	};
	struct built x;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("%s", cases[i].what);
		build(&cases[i].o, &x);
		CHECK_INT(x.ret, ==, -1);
		CHECK_INT(x.e.code, ==, EC(IMAGE_DAMAGED));
		CHECK_CONTAINS(x.e.msg, cases[i].words);
		sbuf_free(&x.b);
	}
}

TEST_GROUP(core_notes)
{
	struct built x;

	if (!mkdtemp(base)) {
		CHECK(!"mkdtemp");
		return;
	}
	build(NULL, &x);
	CHECK_OK(x.ret, &x.e);
	test_order(&x);
	if (x.n >= 10) {
		test_threads(&x);
		test_fpu(&x);
		test_process(&x);
	}
	sbuf_free(&x.b);
	test_avx512();
	test_refused();
	remove_tree(base);
}
