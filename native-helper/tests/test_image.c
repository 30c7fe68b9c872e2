/* SPDX-License-Identifier: MIT */
/* Tests of image.c: image files listed and read through the service. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "fileio.h"
#include "criu-images.pb-c.h"
#include "image.h"
#include "image_entries.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"
#include "synth.h"

/* ---- image_files / read_image, through handle_request on a temp store ---- */

#define CK_ID "20260101-120000-ab12"
#define PARENT_ID "20260101-110000-0000"
#define PAGES_SIZE 10000

typedef Checkpoint__Helper__V1__ImageFilesRequest ImageFilesRequest;

static char store_dir[] = "/tmp/ckpt-store-XXXXXX";
static uint8_t pattern(size_t i)
{
	return (i * 7 + 3) & 0xff;
}

static void mk_dir(const char *rel)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", store_dir, rel);
	CHECK_INT(mkdir(path, 0700), ==, 0);
}

static void mk_file(const char *rel, const void *data, size_t len)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", store_dir, rel);
	CHECK_INT(write_file_at(AT_FDCWD, path, data, len), ==, 0);
}

static void mk_link(const char *rel, const char *target)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", store_dir, rel);
	CHECK_INT(symlink(target, path), ==, 0);
}

static HelperMessage *ask_files(const char *id)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	ImageFilesRequest r = CHECKPOINT__HELPER__V1__IMAGE_FILES_REQUEST__INIT;

	r.checkpoint_id = (char *)id;
	req.id = 41;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_IMAGE_FILES;
	req.image_files = &r;
	return roundtrip(&req);
}

static const ImageFilesResult *files_of(const HelperMessage *m)
{
	if (!m || !m->response || m->response->result_case != CHECKPOINT__HELPER__V1__RESPONSE__RESULT_IMAGE_FILES)
		return NULL;
	return m->response->image_files;
}

static HelperMessage *ask_read(const char *id, ByteRange *ranges, size_t n)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	ReadImageRequest r = CHECKPOINT__HELPER__V1__READ_IMAGE_REQUEST__INIT;
	ByteRange **v = calloc(n + 1, sizeof(*v));
	HelperMessage *m;

	for (size_t i = 0; i < n; i++)
		v[i] = &ranges[i];
	r.checkpoint_id = (char *)id;
	r.ranges = v;
	r.n_ranges = n;
	req.id = 42;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_READ_IMAGE;
	req.read_image = &r;
	m = roundtrip(&req);
	free(v);
	return m;
}

static HelperMessage *ask_read1(const char *id, const char *file, uint64_t offset, uint32_t length)
{
	ByteRange r = CHECKPOINT__HELPER__V1__BYTE_RANGE__INIT;

	r.file = (char *)file;
	r.offset = offset;
	r.length = length;
	return ask_read(id, &r, 1);
}

static const ReadImageResult *data_of(const HelperMessage *m)
{
	if (!m || !m->response || m->response->result_case != CHECKPOINT__HELPER__V1__RESPONSE__RESULT_READ_IMAGE)
		return NULL;
	return m->response->read_image;
}

static void image_store_setup(void)
{
	uint8_t pages[PAGES_SIZE];
	char path[4400];

	for (size_t i = 0; i < sizeof(pages); i++)
		pages[i] = pattern(i);
	test_case("the store made");
	CHECK(mkdtemp(store_dir) != NULL);
	snprintf(g_cfg.store, sizeof(g_cfg.store), "%s", store_dir);
	mk_dir(PARENT_ID);
	mk_dir(CK_ID);
	mk_file(CK_ID "/pages-1.img", pages, sizeof(pages));
	mk_file(CK_ID "/core-1.img", "0123456789", 10);
	mk_file(CK_ID "/empty.img", "", 0);
	mk_file(CK_ID "/.hidden", "x", 1);
	mk_dir(CK_ID "/sub");
	mk_link(CK_ID "/link.img", "core-1.img");
	snprintf(path, sizeof(path), "%s/" CK_ID "/fifo.img", store_dir);
	CHECK_INT(mkfifo(path, 0600), ==, 0);
	mk_link(CK_ID "/parent", "../" PARENT_ID "/");
	/* parent links that name no checkpoint of this store */
	mk_dir("elsewhere");
	mk_link("elsewhere/parent", "/tmp/other-store/other-id");
	mk_dir("dotdot");
	mk_link("dotdot/parent", "../..");
	mk_dir("self");
	mk_link("self/parent", "../self");
	mk_dir("to-file");
	mk_file("plainfile", "x", 1);
	mk_link("to-file/parent", "../plainfile");
	/* not checkpoint directories */
	mk_link("linked", CK_ID);
}

/* The error message of answer m, NULL when m is not an error. */
static const char *err_text(const HelperMessage *m)
{
	return err_code(m) >= 0 ? m->response->error->message : NULL;
}

/* A request that is refused: what it was, and what the error says. */
struct refusal {
	const char *what, *id;
	int code;
	const char *words;	/* NULL: whatever the message */
};

/* m is an error as r says; m is freed. */
static void check_refusal(HelperMessage *m, const struct refusal *r)
{
	test_case("%s", r->what);
	CHECK_INT(err_code(m), ==, r->code);
	if (r->words)
		CHECK_CONTAINS(err_text(m), r->words);
	msg_free(m);
}

/* "name size, ..." of a listing (arena). */
static const char *listing(const ImageFilesResult *r)
{
	const char *all = "";

	for (size_t i = 0; r && i < r->n_files; i++)
		all = arena_printf("%s%s%s %llu", all, i ? ", " : "", r->files[i]->name,
				   (unsigned long long)r->files[i]->size);
	return all;
}

static void test_image_files(void)
{
	static const char *no_parent[] = { "elsewhere", "dotdot", "self", "to-file", PARENT_ID };
	static const struct refusal refused[] = {
		{ "id ../etc", "../etc", EC(BAD_REQUEST), "invalid checkpoint id" },
		{ "an empty id", "", EC(BAD_REQUEST), NULL },
		{ "no such checkpoint", "nope", EC(NOT_FOUND), "no checkpoint nope" },
		{ "a symbolic link to a checkpoint", "linked", EC(NOT_FOUND), NULL },	/* not one */
		{ "a file", "plainfile", EC(NOT_FOUND), NULL },
	};
	const ImageFilesResult *r;
	HelperMessage *m;

	test_case("the files of " CK_ID);
	m = ask_files(CK_ID);
	r = files_of(m);
	CHECK(r != NULL);
	CHECK_STR(listing(r), ==, "core-1.img 10, empty.img 0, pages-1.img 10000");
	CHECK_STR(r ? r->parent_id : NULL, ==, PARENT_ID);
	msg_free(m);

	for (size_t i = 0; i < ARRAY_SIZE(no_parent); i++) {
		test_case("no parent in %s", no_parent[i]);
		m = ask_files(no_parent[i]);
		r = files_of(m);
		CHECK(r != NULL);
		CHECK_STR(r ? r->parent_id : NULL, ==, "");
		CHECK_STR(listing(r), ==, "");
		msg_free(m);
	}
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		check_refusal(ask_files(refused[i].id), &refused[i]);
}

/* Byte off of an image file of CK_ID, as image_store_setup wrote it. */
static uint8_t byte_of(const char *file, uint64_t off)
{
	return strcmp(file, "core-1.img") ? pattern(off) : (uint8_t)('0' + off);
}

/* The first byte of d that is not the file's from offset on (d->len when none). */
static size_t first_wrong(const ProtobufCBinaryData *d, const char *file, uint64_t offset)
{
	size_t i = 0;

	while (i < d->len && d->data[i] == byte_of(file, offset + i))
		i++;
	return i;
}

static void test_read_image(void)
{
	static const struct { const char *file; uint64_t offset; uint32_t length; size_t want; } want[9] = {
		{ "pages-1.img", 0, 16, 16 },
		{ "core-1.img", 2, 3, 3 },
		{ "pages-1.img", PAGES_SIZE - 10, 100, 10 },	/* crosses the end: 10 bytes */
		{ "pages-1.img", PAGES_SIZE, 5, 0 },		/* exactly at the end: none */
		{ "pages-1.img", 2 * PAGES_SIZE, 5, 0 },	/* past the end: none */
		{ "pages-1.img", UINT64_MAX, 4, 0 },
		{ "empty.img", 0, 10, 0 },
		{ "core-1.img", 0, 0, 0 },
		{ "pages-1.img", 5000, 1, 1 },
	};
	ByteRange rs[9];
	const ReadImageResult *r;
	HelperMessage *m;

	for (size_t i = 0; i < ARRAY_SIZE(rs); i++) {
		checkpoint__helper__v1__byte_range__init(&rs[i]);
		rs[i].file = (char *)want[i].file;
		rs[i].offset = want[i].offset;
		rs[i].length = want[i].length;
	}
	test_case("9 ranges");
	m = ask_read(CK_ID, rs, ARRAY_SIZE(rs));
	r = data_of(m);
	CHECK(r != NULL);
	CHECK_UINT(r ? r->n_data : 0, ==, ARRAY_SIZE(rs));
	for (size_t i = 0; r && i < r->n_data && i < ARRAY_SIZE(rs); i++) {
		test_case("range %zu: %s at %llu, %u bytes", i, want[i].file, (unsigned long long)want[i].offset,
			  want[i].length);
		CHECK_UINT(r->data[i].len, ==, want[i].want);
		CHECK_UINT(first_wrong(&r->data[i], want[i].file, want[i].offset), ==, r->data[i].len);
	}
	msg_free(m);

	test_case("no ranges: an empty answer");
	m = ask_read(CK_ID, NULL, 0);
	CHECK(data_of(m) != NULL);
	CHECK_UINT(data_of(m) ? data_of(m)->n_data : 99, ==, 0);
	msg_free(m);
}

static void test_read_image_refused_names(void)
{
	static const char *bad_names[] = { "../x", "a/b", ".hidden", "", ".", "..", "/etc/passwd" };
	static const char *not_regular[] = { "link.img", "sub", "fifo.img", "parent" };
	char long_name[MAX_IMAGE_NAME + 2];
	HelperMessage *m;

	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		test_case("file \"%s\"", bad_names[i]);
		m = ask_read1(CK_ID, bad_names[i], 0, 1);
		CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
		CHECK_CONTAINS(err_text(m), bad_names[i]);
		msg_free(m);
	}
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	test_case("a name of %d bytes", MAX_IMAGE_NAME + 1);
	m = ask_read1(CK_ID, long_name, 0, 1);
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	msg_free(m);
	long_name[MAX_IMAGE_NAME] = '\0';	/* 255 bytes: a valid name, but no such file */
	test_case("a name of %d bytes", MAX_IMAGE_NAME);
	m = ask_read1(CK_ID, long_name, 0, 1);
	CHECK_INT(err_code(m), ==, EC(NOT_FOUND));
	msg_free(m);
	for (size_t i = 0; i < ARRAY_SIZE(not_regular); i++) {
		test_case("%s, not a regular file", not_regular[i]);
		m = ask_read1(CK_ID, not_regular[i], 0, 1);
		CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
		CHECK_CONTAINS(err_text(m), not_regular[i]);
		CHECK_CONTAINS(err_text(m), "not a regular file");
		msg_free(m);
	}
	test_case("no such file");
	m = ask_read1(CK_ID, "missing.img", 0, 1);
	CHECK_INT(err_code(m), ==, EC(NOT_FOUND));
	CHECK_CONTAINS(err_text(m), "missing.img");
	msg_free(m);
}

static void test_read_image_refused(void)
{
	static const struct refusal refused[] = {
		{ "id ../" CK_ID, "../" CK_ID, EC(BAD_REQUEST), "invalid checkpoint id" },
		{ "no such checkpoint", "nope", EC(NOT_FOUND), "no checkpoint nope" },
		{ "a symbolic link to a checkpoint", "linked", EC(NOT_FOUND), NULL },
	};
	ByteRange two[2];
	HelperMessage *m;

	/* one bad range fails the whole request */
	checkpoint__helper__v1__byte_range__init(&two[0]);
	checkpoint__helper__v1__byte_range__init(&two[1]);
	two[0].file = "core-1.img";
	two[0].length = 4;
	two[1].file = "../x";
	two[1].length = 1;
	test_case("one bad range of two");
	m = ask_read(CK_ID, two, 2);
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(err_text(m), "range 1");
	msg_free(m);

	/* byte limit: 16 MiB in all */
	test_case("a byte over 16 MiB");
	two[1].file = "pages-1.img";
	two[0].length = MAX_READ_BYTES / 2;
	two[1].length = MAX_READ_BYTES / 2 + 1;
	m = ask_read(CK_ID, two, 2);
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(err_text(m), "16 MiB");
	msg_free(m);
	test_case("16 MiB");
	two[1].length = MAX_READ_BYTES / 2;
	m = ask_read(CK_ID, two, 2);
	CHECK_UINT(data_of(m) ? data_of(m)->n_data : 0, ==, 2);
	if (data_of(m) && data_of(m)->n_data == 2) {
		CHECK_UINT(data_of(m)->data[0].len, ==, 10);
		CHECK_UINT(data_of(m)->data[1].len, ==, PAGES_SIZE);
	}
	msg_free(m);

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		check_refusal(ask_read1(refused[i].id, "core-1.img", 0, 1), &refused[i]);
}

static void test_read_image_ranges_limit(void)
{
	size_t n = MAX_READ_RANGES + 1, i;
	ByteRange *rs = calloc(n, sizeof(*rs));
	const ReadImageResult *r;
	HelperMessage *m;

	for (i = 0; i < n; i++) {
		checkpoint__helper__v1__byte_range__init(&rs[i]);
		rs[i].file = i & 1 ? "core-1.img" : "pages-1.img";
		rs[i].offset = i % 10;
		rs[i].length = 1;
	}
	test_case("%zu ranges", n);
	m = ask_read(CK_ID, rs, n);
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(err_text(m), "4096");
	msg_free(m);
	test_case("%zu ranges", n - 1);
	m = ask_read(CK_ID, rs, n - 1);
	r = data_of(m);
	CHECK_UINT(r ? r->n_data : 0, ==, n - 1);
	for (i = 0; r && i < r->n_data; i++)
		if (r->data[i].len != 1 || first_wrong(&r->data[i], rs[i].file, rs[i].offset) != 1)
			break;
	CHECK_UINT(i, ==, n - 1);	/* the first range that is not its byte */
	msg_free(m);
	free(rs);
}

/* More distinct files than the descriptor cache holds, visited twice. */
static void test_read_image_many_files(void)
{
	enum { NFILES = 150 };
	ByteRange rs[2 * NFILES];
	char names[NFILES][32];
	const ReadImageResult *r;
	HelperMessage *m;
	size_t i;

	test_case("%d files", NFILES);
	mk_dir("many");
	for (int k = 0; k < NFILES; k++) {
		char rel[64], body[32];

		snprintf(names[k], sizeof(names[k]), "f%03d.img", k);
		snprintf(rel, sizeof(rel), "many/%s", names[k]);
		snprintf(body, sizeof(body), "file %03d", k);
		mk_file(rel, body, strlen(body));
	}
	for (i = 0; i < 2 * NFILES; i++) {
		checkpoint__helper__v1__byte_range__init(&rs[i]);
		rs[i].file = names[i % NFILES];
		rs[i].offset = 5;
		rs[i].length = 3;
	}
	m = ask_read("many", rs, ARRAY_SIZE(rs));
	r = data_of(m);
	CHECK_UINT(r ? r->n_data : 0, ==, ARRAY_SIZE(rs));
	for (i = 0; r && i < r->n_data; i++) {
		char want[8];

		snprintf(want, sizeof(want), "%03zu", i % NFILES);
		if (r->data[i].len != 3 || memcmp(r->data[i].data, want, 3))
			break;
	}
	CHECK_UINT(i, ==, ARRAY_SIZE(rs));	/* the first range that is not its file's */
	msg_free(m);
	m = ask_files("many");
	CHECK_UINT(files_of(m) ? files_of(m)->n_files : 0, ==, NFILES);
	if (files_of(m) && files_of(m)->n_files == NFILES) {
		CHECK_STR(files_of(m)->files[0]->name, ==, "f000.img");
		CHECK_STR(files_of(m)->files[NFILES - 1]->name, ==, "f149.img");
	}
	msg_free(m);
}

/* The largest answer (16 MiB of data) still fits in a frame the helper writes. */
static void test_read_image_max(void)
{
	char path[4400];
	const ReadImageResult *r;
	HelperMessage *m;
	int fd;

	test_case("16 MiB in one range");
	mk_dir("big");
	snprintf(path, sizeof(path), "%s/big/pages-1.img", store_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(ftruncate(fd, MAX_READ_BYTES + 100), ==, 0);
	CHECK_INT(pwrite(fd, "end", 3, MAX_READ_BYTES - 3), ==, 3);
	close(fd);
	m = ask_read1("big", "pages-1.img", 0, MAX_READ_BYTES);
	r = data_of(m);
	CHECK_UINT(r ? r->n_data : 0, ==, 1);
	CHECK_UINT(r && r->n_data == 1 ? r->data[0].len : 0, ==, MAX_READ_BYTES);
	if (r && r->n_data == 1 && r->data[0].len == MAX_READ_BYTES) {
		CHECK_INT(r->data[0].data[0], ==, 0);
		CHECK(!memcmp(r->data[0].data + MAX_READ_BYTES - 3, "end", 3));
	}
	msg_free(m);
}

static void test_image_names(void)
{
	static const struct { const char *name; bool want; } cases[] = {
		{ "pages-1.img", true }, { "a", true }, { NULL, false }, { "", false }, { ".", false },
		{ "..", false }, { ".x", false }, { "a/b", false }, { "a/", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("name \"%s\"", cases[i].name ? cases[i].name : "(NULL)");
		CHECK_INT(valid_image_name(cases[i].name), ==, cases[i].want);
	}
}

#define MAPPED_ID "20260101-130000-ab13"

/* A range of a file the checkpoint mapped, by path. */
static HelperMessage *ask_mapped(const char *id, const char *path, uint64_t offset, uint32_t length)
{
	ByteRange r = CHECKPOINT__HELPER__V1__BYTE_RANGE__INIT;

	r.file = (char *)path;
	r.offset = offset;
	r.length = length;
	r.mapped_file = true;
	return ask_read(id, &r, 1);
}

/* MAPPED_ID's files.img names these paths (each a regular file it mapped); the first, returned, is not UTF-8. */
static const char *mapped_setup(void)
{
	static char lib[4400];	/* not the arena's: each request frees that */
	Checkpoint__Criu__V1__RegularFile rf[4];
	Checkpoint__Criu__V1__FileEntry fe[4];
	ProtobufCMessage *v[4];
	const char *names[4];
	int dirfd;

	names[0] = arena_printf("%s/lib\xff\x1bx.so", store_dir);
	names[1] = arena_printf("%s/gone.so", store_dir);
	names[2] = arena_printf("%s/" CK_ID, store_dir);	/* a directory */
	names[3] = "/dev/zero";
	mk_file("lib\xff\x1bx.so", "\x7f" "ELF-mapped", 11);
	mk_dir(MAPPED_ID);
	for (size_t i = 0; i < ARRAY_SIZE(fe); i++) {
		checkpoint__criu__v1__regular_file__init(&rf[i]);
		checkpoint__criu__v1__file_entry__init(&fe[i]);
		rf[i].name = (char *)names[i];
		fe[i].reg = &rf[i];
		v[i] = (ProtobufCMessage *)&fe[i];
	}
	dirfd = open(arena_printf("%s/" MAPPED_ID, store_dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	synth_image(dirfd, "files.img", IMG_FILES_MAGIC, v, ARRAY_SIZE(v));
	close(dirfd);
	snprintf(lib, sizeof(lib), "%s", names[0]);
	return lib;
}

/* Files the checkpoint mapped, read from the target's file system by their paths' bytes; no other file. */
static void test_read_mapped(void)
{
	const char *lib = mapped_setup();
	const ReadImageResult *r;
	HelperMessage *m;

	test_case("a mapped file whose path is not UTF-8: its bytes");
	m = ask_mapped(MAPPED_ID, lib, 1, 3);
	r = data_of(m);
	CHECK(r && r->n_data == 1 && r->data[0].len == 3 && !memcmp(r->data[0].data, "ELF", 3));
	msg_free(m);
	test_case("a file the checkpoint does not name: refused");
	m = ask_mapped(MAPPED_ID, "/etc/shadow", 0, 10);
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(err_text(m), "checkpoint " MAPPED_ID " names no file /etc/shadow");
	msg_free(m);
	test_case("a relative path: refused");
	m = ask_mapped(MAPPED_ID, "lib.so", 0, 10);
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(err_text(m), "absolute path");
	msg_free(m);
	test_case("named, gone since: NOT_FOUND");
	m = ask_mapped(MAPPED_ID, arena_printf("%s/gone.so", store_dir), 0, 10);
	CHECK_INT(err_code(m), ==, EC(NOT_FOUND));
	CHECK_CONTAINS(err_text(m), "is not there (gone from the target since)");
	msg_free(m);
	test_case("named, a directory or a device now: refused, not read");
	m = ask_mapped(MAPPED_ID, arena_printf("%s/" CK_ID, store_dir), 0, 10);
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	msg_free(m);
	m = ask_mapped(MAPPED_ID, "/dev/zero", 0, 10);
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(err_text(m), "which checkpoint " MAPPED_ID " mapped, is not a regular file");
	msg_free(m);
	test_case("a checkpoint without files.img: its images are incomplete");
	m = ask_mapped(CK_ID, lib, 0, 10);
	CHECK_INT(err_code(m), ==, EC(IMAGE_DAMAGED));
	msg_free(m);
}

static void test_images(void)
{
	image_store_setup();
	test_image_names();
	test_image_files();
	test_read_image();
	test_read_image_refused_names();
	test_read_image_refused();
	test_read_image_ranges_limit();
	test_read_image_many_files();
	test_read_image_max();
	test_read_mapped();
	test_case("cleaned up");
	CHECK_INT(remove_tree(store_dir), ==, 0);
}

TEST_GROUP(image)
{
	with_out_file(test_images);
}
