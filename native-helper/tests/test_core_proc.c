/* SPDX-License-Identifier: MIT */
/* Tests of core_proc.c: a process of the synthetic checkpoint, and what is refused. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_proc.h"
#include "criu-images.pb-c.h"
#include "fileio.h"
#include "image_entries.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "synth.h"

static char base[] = "/tmp/ckpt-coreproc-XXXXXX";
static unsigned dirs;

/* A new directory with the synthetic checkpoint as o makes it. */
static int fresh(const struct synth_opts *o)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", dirs++);
	return synth_dir(base, name, o);
}

static void test_loaded(void)
{
	int dirfd = fresh(NULL);
	struct core_proc p;
	struct herr e = { 0 };

	test_case("the root, asked for as pid 0");
	CHECK_OK(core_proc_load(dirfd, 0, &p, &e), &e);
	CHECK_INT(p.pid, ==, SYNTH_PID);
	CHECK_INT(p.ppid, ==, 1);
	CHECK_INT(p.pgid, ==, 100);
	CHECK_INT(p.sid, ==, 90);
	CHECK_UINT(p.nthreads, ==, 2);
	CHECK_INT(p.threads[0].tid, ==, SYNTH_PID);
	CHECK_INT(p.threads[1].tid, ==, SYNTH_TID);
	CHECK_STR(p.exe, ==, SYNTH_PROGRAM);
	CHECK_STR(core_proc_task(&p)->comm, ==, "synth");
	test_case("its areas: files, shared memory, what is never in the images");
	CHECK_UINT(p.nvmas, ==, 5);
	CHECK_STR(p.vmas[0].path, ==, SYNTH_PROGRAM);
	CHECK_INT(p.vmas[0].pages, ==, VMA_PAGES_OWN);
	CHECK_UINT(p.vmas[1].pgoff, ==, 0x2000);
	CHECK_STR(p.vmas[2].path, ==, NULL);
	CHECK_INT(p.vmas[3].pages, ==, VMA_PAGES_NONE);
	CHECK_INT(p.vmas[4].pages, ==, VMA_PAGES_SHARED);
	CHECK_UINT(p.vmas[4].shmid, ==, 5);
	CHECK_UINT(p.vmas[4].prot, ==, 3);
	core_proc_free(&p);
	close(dirfd);
}

static void test_reg_files(void)
{
	Checkpoint__Criu__V1__RegularFile rf = CHECKPOINT__CRIU__V1__REGULAR_FILE__INIT;
	ProtobufCMessage *v[] = { (ProtobufCMessage *)&rf };
	int dirfd = fresh(NULL);
	struct core_proc p;
	struct herr e = { 0 };

	test_case("images older than files.img: reg-files.img");
	rf.id = 1;
	rf.has_id = 1;
	rf.name = "/usr/bin/older";
	CHECK_INT(unlinkat(dirfd, "files.img", 0), ==, 0);
	synth_image(dirfd, "reg-files.img", IMG_REG_FILES_MAGIC, v, 1);
	CHECK_OK(core_proc_load(dirfd, SYNTH_PID, &p, &e), &e);
	CHECK_STR(p.exe, ==, "/usr/bin/older");
	CHECK_STR(p.vmas[1].path, ==, "/usr/bin/older");
	core_proc_free(&p);
	test_case("neither");
	CHECK_INT(unlinkat(dirfd, "reg-files.img", 0), ==, 0);
	CHECK_INT(core_proc_load(dirfd, SYNTH_PID, &p, &e), ==, -1);
	CHECK_STR(e.msg, ==, "the checkpoint has no files.img: its images are incomplete");
	core_proc_free(&p);
	close(dirfd);
}

static void no_core(int dirfd)
{
	CHECK_INT(unlinkat(dirfd, "core-101.img", 0), ==, 0);
}

static void no_files(int dirfd)
{
	synth_image(dirfd, "files.img", IMG_FILES_MAGIC, NULL, 0);
}

static void bad_tree(int dirfd)
{
	synth_file(dirfd, "pstree.img", "\x19\x43\x56\x54\x30\x30\x27\x50\x04\x00\x00\x00\xff\xff\xff", 15);
}

/* Process 100 with no thread at all (found by fuzz_core: its empty list was copied from NULL). */
static void threadless_tree(int dirfd)
{
	synth_file(dirfd, "pstree.img", "\x19\x43\x56\x54\x30\x30\x27\x50\x02\x00\x00\x00\x08\x64", 14);
}

/* An mm entry of 1,048,577 empty areas (2 bytes each on the wire): refused before they are decoded. */
static void too_many_areas(int dirfd)
{
	size_t n = (1u << 20) + 1, len = 8 + 4 + 2 * n;
	uint8_t *buf = calloc(1, len);

	put_le32(buf, IMG_COMMON_MAGIC);
	put_le32(buf + 4, IMG_MM_MAGIC);
	put_le32(buf + 8, (uint32_t)(2 * n));
	for (size_t i = 0; i < n; i++)
		buf[12 + 2 * i] = 0x72;	/* field 14 (vmas), length-delimited, 0 bytes */
	synth_file(dirfd, "mm-100.img", buf, len);
	free(buf);
}

static void test_refused(void)
{
	static const struct synth_opts aarch64 = { .mtype = 3 }, compat = { .compat = true },
					unsorted = { .vmas_unsorted = true };
	static const struct {
		const char *what;
		pid_t pid;
		const struct synth_opts *o;
		void (*change)(int dirfd);
		int code;
		const char *words;
	} cases[] = {
		{ "a pid the checkpoint has not", 999, NULL, NULL, EC(NOT_FOUND),
		  "the checkpoint holds no process 999; its processes are 100, 300" },
		{ "a thread's id", SYNTH_TID, NULL, NULL, EC(NOT_FOUND), "holds no process 101" },
		{ "a zombie", SYNTH_ZOMBIE, NULL, NULL, EC(UNSUPPORTED),
		  "process 300 was a zombie when it was checkpointed: it has no memory or registers" },
		{ "another architecture", SYNTH_PID, &aarch64, NULL, EC(UNSUPPORTED),
		  "process 100 was checkpointed on AARCH64; core files are written for x86_64 processes only" },
		{ "a 32-bit process", SYNTH_PID, &compat, NULL, EC(UNSUPPORTED),
		  "process 100 is a 32-bit program (thread 101 ran in compat mode)" },
		{ "areas out of order", SYNTH_PID, &unsorted, NULL, EC(IMAGE_DAMAGED),
		  "mm-100.img has a memory area that cannot be: 0x400000-0x402000 at offset 0, after one that "
		  "ends at 0x604000" },
		{ "a thread's image missing", SYNTH_PID, NULL, no_core, EC(IMAGE_DAMAGED),
		  "the checkpoint has no core-101.img: its images are incomplete" },
		{ "a mapped file files.img has not", SYNTH_PID, NULL, no_files, EC(IMAGE_DAMAGED),
		  "mm-100.img maps file 1 at 0x400000, which its files.img does not have" },
		{ "more areas than a process can have", SYNTH_PID, NULL, too_many_areas, EC(IMAGE_DAMAGED),
		  "mm-100.img says process 100 had 1048577 memory areas; more than 1048576 cannot be" },
		{ "a tree entry cut short", SYNTH_PID, NULL, bad_tree, EC(IMAGE_DAMAGED),
		  "pstree.img is cut short: the entry at offset 8 says 4 bytes, 3 are left" },
		{ "a process without threads", SYNTH_PID, NULL, threadless_tree, EC(IMAGE_DAMAGED),
		  "pstree.img has a process that cannot be (pid 100, 0 threads)" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int dirfd = fresh(cases[i].o);
		struct core_proc p;
		struct herr e = { 0 };

		test_case("%s", cases[i].what);
		if (cases[i].change)
			cases[i].change(dirfd);
		CHECK_INT(core_proc_load(dirfd, cases[i].pid, &p, &e), ==, -1);
		CHECK_INT(e.code, ==, cases[i].code);
		CHECK_CONTAINS(e.msg, cases[i].words);
		core_proc_free(&p);
		close(dirfd);
	}
}

TEST_GROUP(core_proc)
{
	if (!mkdtemp(base)) {
		CHECK(!"mkdtemp");
		return;
	}
	test_loaded();
	test_reg_files();
	test_refused();
	remove_tree(base);
}
