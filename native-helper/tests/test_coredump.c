/* SPDX-License-Identifier: MIT */
/*
 * Tests of coredump.c through the service: the core of the synthetic
 * checkpoint's process (tests/synth.h) read back as gdb reads it (the ELF
 * header, the program headers, the segments' bytes), kept in the
 * checkpoint and counted in its size; what is refused, and that a refusal
 * leaves nothing behind.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "coredump.h"
#include "fileio.h"
#include "manifest.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"
#include "synth.h"

#define OP_CORE CHECKPOINT__HELPER__V1__REQUEST__OP_CORE
#define RESULT_CORE CHECKPOINT__HELPER__V1__RESPONSE__RESULT_CORE
#define PT_LOAD 1
#define PT_NOTE 4

static char store[] = "/tmp/ckpt-core-XXXXXX";

static HelperMessage *ask_core(const char *id, int pid, size_t *nevents)
{
	CoreRequest r = CHECKPOINT__HELPER__V1__CORE_REQUEST__INIT;
	size_t n;

	r.checkpoint_id = (char *)id;
	r.pid = pid;
	return ask(70, OP_CORE, &r, nevents ? nevents : &n);
}

static const CoreResult *core_of(const HelperMessage *m)
{
	const Response *r = answer_of(m, RESULT_CORE);

	return r ? r->core : NULL;
}

static uint64_t manifest_size(const char *id)
{
	struct herr e = { 0 };
	Checkpoint *c = manifest_read(store, id, &e);

	return c ? c->size_bytes : 0;
}

/* The answer is an error of code saying words; freed. */
static void check_error(HelperMessage *m, int code, const char *words)
{
	CHECK_INT(err_code(m), ==, code);
	CHECK(err_mentions(m, words));
	if (!err_mentions(m, words) && err_code(m) >= 0)
		fprintf(stderr, "    the error said: %s\n", m->response->error->message);
	msg_free(m);
}

/* The ELF header of a core for x86_64 with nphdrs program headers. */
static void check_header(const struct core_read *c, size_t nphdrs)
{
	const uint8_t *h = c->data;

	test_case("the ELF header");
	CHECK_UINT(c->len, >=, 64);
	if (c->len < 64)
		return;
	CHECK(!memcmp(h, "\177ELF\2\1\1", 7));
	CHECK_UINT(le16_at(h + 16), ==, 4);		/* ET_CORE */
	CHECK_UINT(le16_at(h + 18), ==, 62);		/* EM_X86_64 */
	CHECK_UINT(get_le32(h + 20), ==, 1);
	CHECK_UINT(le64_at(h + 32), ==, 64);		/* e_phoff */
	CHECK_UINT(le16_at(h + 52), ==, 64);
	CHECK_UINT(le16_at(h + 54), ==, 56);
	CHECK_UINT(le16_at(h + 56), ==, nphdrs < 0xffff ? nphdrs : 0xffff);
}

/* The PT_LOADs, one per stretch the checkpoint holds or not, and the held ones' bytes. */
static void check_segments(const struct core_read *c)
{
	static const struct { uint64_t vaddr, memsz; bool held; uint32_t flags; } want[] = {
		{ SYNTH_TEXT, 0x2000, false, 5 }, { SYNTH_DATA, 0x1000, false, 6 }, { SYNTH_DATA_HELD, 0x1000, true, 6 },
		{ SYNTH_DATA + 0x2000, 0x2000, false, 6 }, { SYNTH_STACK, 0x1000, false, 6 },
		{ SYNTH_STACK + 0x1000, 0x2000, true, 6 }, { SYNTH_STACK + 0x3000, 0x1000, false, 6 },
		{ SYNTH_VVAR, 0x1000, false, 4 }, { SYNTH_SHM, 0x1000, false, 6 }, { SYNTH_SHM + 0x1000, 0x1000, true, 6 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const uint8_t *ph = core_phdr(c, i + 1);
		uint64_t off = ph ? le64_at(ph + 8) : 0, size = ph ? le64_at(ph + 32) : 0;
		uint8_t page[4096];
		bool same = true;

		test_case("PT_LOAD %zu, at %#llx", i, (unsigned long long)want[i].vaddr);
		CHECK(ph);
		if (!ph)
			return;
		CHECK_UINT(get_le32(ph), ==, PT_LOAD);
		CHECK_UINT(get_le32(ph + 4), ==, want[i].flags);
		CHECK_UINT(le64_at(ph + 16), ==, want[i].vaddr);
		CHECK_UINT(le64_at(ph + 40), ==, want[i].memsz);
		CHECK_UINT(size, ==, want[i].held ? want[i].memsz : 0);
		CHECK_UINT(le64_at(ph + 48), ==, 4096);
		CHECK_UINT(off % 4096, ==, 0);
		CHECK_UINT(off + size, <=, c->len);
		for (uint64_t k = 0; off + size <= c->len && k < size; k += sizeof(page)) {
			synth_page(want[i].vaddr + k, page);
			same = same && !memcmp(c->data + off + k, page, sizeof(page));
		}
		CHECK(same);
	}
	test_case("nothing after the last segment");
	CHECK_UINT(core_phdr(c, ARRAY_SIZE(want) + 1) ? get_le32(core_phdr(c, ARRAY_SIZE(want) + 1)) : 0, !=, PT_LOAD);
}

static void check_file(const char *id, const CoreResult *r)
{
	char path[4400];
	struct core_read c;
	struct note_read notes[16];
	struct stat st;
	int dirfd;

	snprintf(path, sizeof(path), "%s/%s", store, id);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	test_case("core-100.elf: private, its size as told, counted in the checkpoint's size");
	CHECK_INT(fstatat(dirfd, "core-100.elf", &st, 0), ==, 0);
	CHECK_UINT(st.st_mode & 07777, ==, 0600);
	CHECK_UINT(st.st_size, ==, r->size_bytes);
	CHECK_UINT(manifest_size(id), ==, 1000 + r->size_bytes);
	CHECK(core_load(dirfd, "core-100.elf", &c));
	check_header(&c, 11);
	test_case("the notes come first, right after the program headers");
	CHECK_UINT(get_le32(core_phdr(&c, 0)), ==, PT_NOTE);
	CHECK_UINT(le64_at(core_phdr(&c, 0) + 8), ==, 64 + 11 * 56);
	CHECK_UINT(core_notes(&c, notes, 16), ==, 10);
	check_segments(&c);
	core_unload(&c);
	close(dirfd);
}

static void test_written(void)
{
	const char *id = "written";
	int dirfd = synth_in_store(store, id, NULL);
	int before = dir_entries(arena_printf("%s/%s", store, id));
	size_t nevents = 0;
	HelperMessage *m = ask_core(id, 0, &nevents);
	const CoreResult *r = core_of(m);
	uint64_t size;

	test_case("the root's core, as the answer tells it");
	CHECK(r);
	if (!r)
		goto out;
	CHECK_INT(r->pid, ==, SYNTH_PID);
	CHECK_STR(r->file, ==, "core-100.elf");
	CHECK_STR(r->path, ==, arena_printf("%s/%s/core-100.elf", store, id));
	CHECK_STR(r->executable, ==, SYNTH_PROGRAM);
	CHECK_UINT(r->threads, ==, 2);
	CHECK_UINT(r->segments, ==, 10);
	CHECK_UINT(r->pages_written, ==, 4);
	CHECK_UINT(r->pages_lazy, ==, 1);
	CHECK_UINT(r->pages_parent_missing, ==, 0);
	CHECK_UINT(nevents, ==, 1);
	CHECK_STR(events_told(), ==, "writing-core, ");
	CHECK_INT(dir_entries(arena_printf("%s/%s", store, id)), ==, before + 1);	/* the core, no temporary */
	check_file(id, r);
	size = r->size_bytes;
	msg_free(m);
	test_case("asked again: written again, in place, the checkpoint's size counting it once");
	m = ask_core(id, SYNTH_PID, NULL);
	CHECK_UINT(core_of(m) ? core_of(m)->size_bytes : 0, ==, size);
	CHECK_UINT(manifest_size(id), ==, 1000 + size);
	CHECK_INT(dir_entries(arena_printf("%s/%s", store, id)), ==, before + 1);
out:
	msg_free(m);
	close(dirfd);
}

static void test_refused(void)
{
	const char *id = "refused";
	int dirfd = synth_in_store(store, id, NULL);
	int before = dir_entries(arena_printf("%s/%s", store, id));

	test_case("a pid that cannot be");
	check_error(ask_core(id, -1, NULL), EC(BAD_REQUEST), "pid must be a process of the checkpoint, or 0 for its "
		    "root; -1 is no pid");
	check_error(ask_core(id, 4194305, NULL), EC(BAD_REQUEST), "4194305 is no pid");
	test_case("a process the checkpoint does not hold");
	check_error(ask_core(id, 999, NULL), EC(NOT_FOUND), "cannot write a core file of process 999 of checkpoint "
		    "refused: the checkpoint holds no process 999; its processes are 100, 300");
	test_case("a zombie");
	check_error(ask_core(id, SYNTH_ZOMBIE, NULL), EC(UNSUPPORTED), "process 300 was a zombie");
	test_case("a checkpoint still being written");
	CHECK_INT(mkdir(arena_printf("%s/%s.partial", store, id), 0700), ==, 0);
	check_error(ask_core(arena_printf("%s.partial", id), 0, NULL), EC(NOT_FOUND), "it is still being written");
	check_error(ask_core(id, 0, NULL), EC(NOT_FOUND), "no checkpoint refused in");	/* its dump goes on */
	CHECK_INT(rmdir(arena_printf("%s/%s.partial", store, id)), ==, 0);
	test_case("damaged images: refused, nothing left behind");
	CHECK_INT(truncate(arena_printf("%s/%s/pages-1.img", store, id), 4096), ==, 0);
	check_error(ask_core(id, 0, NULL), EC(IMAGE_DAMAGED), "cannot write a core file of its root process of "
		    "checkpoint refused: the checkpoint's pages-1.img holds 4096 bytes; pagemap-100.img says 12288");
	CHECK_INT(dir_entries(arena_printf("%s/%s", store, id)), ==, before);
	CHECK_UINT(manifest_size(id), ==, 1000);
	close(dirfd);
}

/* 65,535 areas and more: the count in the section header, as the kernel writes it (PN_XNUM). */
static void test_many_segments(void)
{
	static const struct synth_opts many = { .extra_vmas = 65535 };
	const char *id = "many";
	int dirfd = synth_in_store(store, id, &many);
	HelperMessage *m = ask_core(id, 0, NULL);
	const CoreResult *r = core_of(m);
	struct core_read c = { 0 };
	const uint8_t *sh;

	test_case("65,545 segments");
	CHECK_UINT(r ? r->segments : 0, ==, 65545);
	CHECK(core_load(dirfd, "core-100.elf", &c));
	check_header(&c, 65546);
	test_case("the extended count: one section header at e_shoff, sh_info the count");
	CHECK_UINT(c.len, >=, 64);
	if (c.len >= 64) {
		CHECK_UINT(le16_at(c.data + 58), ==, 64);	/* e_shentsize */
		CHECK_UINT(le16_at(c.data + 60), ==, 1);	/* e_shnum */
		CHECK_UINT(le64_at(c.data + 40), ==, c.len - 64);
		sh = c.data + c.len - 64;
		CHECK_UINT(get_le32(sh + 44), ==, 65546);
		CHECK_UINT(get_le32(core_phdr(&c, 65545)), ==, PT_LOAD);
		CHECK_UINT(le64_at(core_phdr(&c, 65545) + 16), ==, SYNTH_EXTRA + 2 * 65534 * 4096ull);
	}
	core_unload(&c);
	msg_free(m);
	close(dirfd);
}

static void coredump_tests(void)
{
	test_written();
	test_refused();
	test_many_segments();
}

TEST_GROUP(coredump)
{
	struct helper_config saved = g_cfg;

	CHECK(store_make(store));
	with_out_file(coredump_tests);
	CHECK_INT(remove_tree(store), ==, 0);
	g_cfg = saved;
	arena_free_all();
}
