/* SPDX-License-Identifier: MIT */
/* Tests of core_layout.c: the segments of the synthetic process and the bytes they are made of. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "core_layout.h"
#include "core_proc.h"
#include "fileio.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "synth.h"

static char base[] = "/tmp/ckpt-layout-XXXXXX";

/* Process 100 and its segments; false when either failed. */
static bool plan(int dirfd, struct core_proc *p, struct core_layout *l)
{
	struct herr e = { 0 };
	int ret = core_proc_load(dirfd, SYNTH_PID, p, &e);

	CHECK_OK(ret, &e);
	if (!ret) {
		ret = core_layout_plan(dirfd, p, l, &e);
		CHECK_OK(ret, &e);
	}
	return ret == 0;
}

/* The segment at vaddr: its size, whether it has contents, and where its first copy's bytes come from. */
static void check_seg(const struct core_layout *l, uint64_t vaddr, uint64_t memsz, bool held, uint32_t flags)
{
	const struct core_seg *s = NULL;
	uint8_t b = 0;

	for (size_t i = 0; i < l->nsegs; i++)
		if (l->segs[i].vaddr == vaddr)
			s = &l->segs[i];
	test_case("the segment at %#llx", (unsigned long long)vaddr);
	CHECK(s);
	if (!s)
		return;
	CHECK_UINT(s->memsz, ==, memsz);
	CHECK_UINT(s->filesz, ==, held ? memsz : 0);
	CHECK_UINT(s->flags, ==, flags);
	CHECK_UINT(s->ncopy, ==, held ? 1 : 0);
	if (!held || !s->ncopy)
		return;
	CHECK_UINT(l->copies[s->copy].len, ==, memsz);
	CHECK_INT(pread(l->copies[s->copy].fd, &b, 1, (off_t)l->copies[s->copy].off), ==, 1);
	CHECK_UINT(b, ==, synth_byte(vaddr, 0));
}

static void test_segments(void)
{
	int dirfd = synth_dir(base, "plain", NULL);
	struct core_layout l = { 0 };
	struct core_proc p = { 0 };

	if (!plan(dirfd, &p, &l))
		goto out;
	test_case("a segment per stretch held or not, in address order");
	CHECK_UINT(l.nsegs, ==, 10);
	for (size_t i = 1; i < l.nsegs; i++)
		CHECK_UINT(l.segs[i].vaddr, >=, l.segs[i - 1].vaddr + l.segs[i - 1].memsz);
	CHECK_UINT(l.pages_held, ==, 4);
	CHECK_UINT(l.pages_lazy, ==, 1);
	CHECK_UINT(l.pages_parent_missing, ==, 0);
	check_seg(&l, SYNTH_TEXT, 0x2000, false, PF_R | PF_X);
	check_seg(&l, SYNTH_DATA, 0x1000, false, PF_R | PF_W);
	check_seg(&l, SYNTH_DATA_HELD, 0x1000, true, PF_R | PF_W);
	check_seg(&l, SYNTH_DATA + 0x2000, 0x2000, false, PF_R | PF_W);
	check_seg(&l, SYNTH_STACK, 0x1000, false, PF_R | PF_W);	/* lazy: not in the images */
	check_seg(&l, SYNTH_STACK + 0x1000, 0x2000, true, PF_R | PF_W);
	check_seg(&l, SYNTH_STACK + 0x3000, 0x1000, false, PF_R | PF_W);
	check_seg(&l, SYNTH_VVAR, 0x1000, false, PF_R);
	check_seg(&l, SYNTH_SHM, 0x1000, false, PF_R | PF_W);
	check_seg(&l, SYNTH_SHM + 0x1000, 0x1000, true, PF_R | PF_W);	/* from the object's pages */
out:
	core_layout_free(&l);
	core_proc_free(&p);
	close(dirfd);
}

static void test_read(void)
{
	int dirfd = synth_dir(base, "read", NULL);
	struct core_layout l = { 0 };
	struct core_proc p = { 0 };
	char buf[32];

	if (!plan(dirfd, &p, &l))
		goto out;
	test_case("the command line, in a held page");
	CHECK_UINT(core_layout_read(&l, p.mm->mm_arg_start, buf, sizeof(SYNTH_ARGS)), ==, sizeof(SYNTH_ARGS));
	CHECK(!memcmp(buf, SYNTH_ARGS, sizeof(SYNTH_ARGS)));
	test_case("a page left for a lazy restore: nothing");
	CHECK_UINT(core_layout_read(&l, SYNTH_STACK, buf, 8), ==, 0);
	test_case("up to the end of what is held");
	CHECK_UINT(core_layout_read(&l, SYNTH_STACK + 0x3000 - 4, buf, 8), ==, 4);
out:
	core_layout_free(&l);
	core_proc_free(&p);
	close(dirfd);
}

/* A page marked in the parent: from the parent's pages, or missing without one. */
static void test_parent(void)
{
	static const struct synth_opts child = { .data_in_parent = true };
	int older = synth_dir(base, "older", NULL), dirfd = synth_dir(base, "newer", &child);
	struct core_layout l = { 0 };
	struct core_proc p = { 0 };

	test_case("no parent");
	if (plan(dirfd, &p, &l)) {
		CHECK_UINT(l.pages_parent_missing, ==, 1);
		CHECK_UINT(l.nsegs, ==, 8);
		check_seg(&l, SYNTH_DATA, 0x4000, false, PF_R | PF_W);
	}
	core_layout_free(&l);
	core_proc_free(&p);
	test_case("the parent holds it");
	CHECK_INT(symlinkat("../older", dirfd, "parent"), ==, 0);
	if (plan(dirfd, &p, &l)) {
		CHECK_UINT(l.pages_parent_missing, ==, 0);
		CHECK_UINT(l.pages_held, ==, 4);
		check_seg(&l, SYNTH_DATA_HELD, 0x1000, true, PF_R | PF_W);
	}
	core_layout_free(&l);
	core_proc_free(&p);
	close(dirfd);
	close(older);
}

/* The program as a file here: ELF (or not), two pages, the build-id in its first page (or not). */
static const char *put_program(const char *name, bool elf, bool with_id)
{
	const char *path = arena_printf("%s/%s", base, name);
	uint8_t file[8192] = { 0 };

	if (elf)
		memcpy(file, "\177ELF\2\1\1", 7);
	if (with_id)
		memcpy(file + 0x358, SYNTH_BUILD_ID, 8);
	CHECK_INT(write_file_at(AT_FDCWD, path, file, sizeof(file)), ==, 0);
	return path;
}

/* The first page of the program, not in the checkpoint: from the file, when it is still the one checkpointed. */
static void test_elf_header(void)
{
	static const struct { const char *what; bool elf, id_in_file, id_recorded; uint64_t size; bool taken; } cases[] = {
		{ "the file as it was checkpointed", true, true, true, 8192, true },
		{ "no build-id recorded", true, false, false, 0, true },
		{ "another size: rebuilt since", true, true, true, 8193, false },
		{ "another build-id: rebuilt since", true, false, true, 8192, false },
		{ "not an ELF file", false, true, true, 8192, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct synth_opts o = { .program = put_program(arena_printf("prog%zu", i), cases[i].elf,
								cases[i].id_in_file),
					.program_size = cases[i].size, .build_id = cases[i].id_recorded };
		int dirfd = synth_dir(base, arena_printf("elf%zu", i), &o);
		struct core_layout l = { 0 };
		struct core_proc p = { 0 };
		uint8_t magic[4] = { 0 };

		test_case("%s", cases[i].what);
		if (plan(dirfd, &p, &l)) {
			CHECK_UINT(l.pages_from_files, ==, cases[i].taken);
			CHECK_UINT(l.pages_held, ==, 4);
			CHECK_UINT(l.segs[0].vaddr, ==, SYNTH_TEXT);
			CHECK_UINT(l.segs[0].memsz, ==, cases[i].taken ? 0x1000 : 0x2000);
			CHECK_UINT(l.segs[0].filesz, ==, cases[i].taken ? 0x1000 : 0);
			if (cases[i].taken && l.segs[0].ncopy == 1)
				CHECK_INT(pread(l.copies[l.segs[0].copy].fd, magic, 4, 0), ==, 4);
			CHECK(!cases[i].taken || !memcmp(magic, "\177ELF", 4));
			CHECK_UINT(l.segs[1].filesz, ==, 0);
		}
		core_layout_free(&l);
		core_proc_free(&p);
		close(dirfd);
	}
}

TEST_GROUP(core_layout)
{
	if (!mkdtemp(base)) {
		CHECK(!"mkdtemp");
		return;
	}
	test_segments();
	test_read();
	test_parent();
	test_elf_header();
	remove_tree(base);
	arena_free_all();
}
