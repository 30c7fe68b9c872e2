/* SPDX-License-Identifier: MIT */
/* Tests of image.c: image files listed and read through the service. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "fileio.h"
#include "image.h"
#include "store.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

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
	CHECK(mkdir(path, 0700) == 0);
}

static void mk_file(const char *rel, const void *data, size_t len)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", store_dir, rel);
	CHECK(write_file_at(AT_FDCWD, path, data, len) == 0);
}

static void mk_link(const char *rel, const char *target)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", store_dir, rel);
	CHECK(symlink(target, path) == 0);
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
	CHECK(mkfifo(path, 0600) == 0);
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

static void test_image_files(void)
{
	const ImageFilesResult *r;
	HelperMessage *m;
	const char *no_parent[] = { "elsewhere", "dotdot", "self", "to-file", PARENT_ID };

	m = ask_files(CK_ID);
	r = files_of(m);
	CHECK(r != NULL);
	if (r) {
		CHECK(r->n_files == 3);
		if (r->n_files == 3) {
			CHECK(!strcmp(r->files[0]->name, "core-1.img") && r->files[0]->size == 10);
			CHECK(!strcmp(r->files[1]->name, "empty.img") && r->files[1]->size == 0);
			CHECK(!strcmp(r->files[2]->name, "pages-1.img") && r->files[2]->size == PAGES_SIZE);
		}
		CHECK(!strcmp(r->parent_id, PARENT_ID));
	}
	msg_free(m);

	for (size_t i = 0; i < ARRAY_SIZE(no_parent); i++) {
		m = ask_files(no_parent[i]);
		r = files_of(m);
		CHECK(r && !strcmp(r->parent_id, "") && r->n_files == 0);
		msg_free(m);
	}

	m = ask_files("../etc");
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "invalid checkpoint id"));
	msg_free(m);
	m = ask_files("");
	CHECK(err_code(m) == EC(BAD_REQUEST));
	msg_free(m);
	m = ask_files("nope");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "no checkpoint nope"));
	msg_free(m);
	m = ask_files("linked");	/* a symlink to a checkpoint is not one */
	CHECK(err_code(m) == EC(NOT_FOUND));
	msg_free(m);
	m = ask_files("plainfile");
	CHECK(err_code(m) == EC(NOT_FOUND));
	msg_free(m);
}

static void test_read_image(void)
{
	ByteRange rs[9];
	const struct { const char *file; uint64_t offset; uint32_t length; } want[9] = {
		{ "pages-1.img", 0, 16 },
		{ "core-1.img", 2, 3 },
		{ "pages-1.img", PAGES_SIZE - 10, 100 },	/* crosses the end: 10 bytes */
		{ "pages-1.img", PAGES_SIZE, 5 },		/* exactly at the end: none */
		{ "pages-1.img", 2 * PAGES_SIZE, 5 },		/* past the end: none */
		{ "pages-1.img", UINT64_MAX, 4 },
		{ "empty.img", 0, 10 },
		{ "core-1.img", 0, 0 },
		{ "pages-1.img", 5000, 1 },
	};
	const ReadImageResult *r;
	HelperMessage *m;
	bool ok = true;

	for (size_t i = 0; i < ARRAY_SIZE(rs); i++) {
		checkpoint__helper__v1__byte_range__init(&rs[i]);
		rs[i].file = (char *)want[i].file;
		rs[i].offset = want[i].offset;
		rs[i].length = want[i].length;
	}
	m = ask_read(CK_ID, rs, ARRAY_SIZE(rs));
	r = data_of(m);
	CHECK(r && r->n_data == ARRAY_SIZE(rs));
	if (r && r->n_data == ARRAY_SIZE(rs)) {
		CHECK(r->data[0].len == 16);
		for (size_t i = 0; i < 16 && r->data[0].len == 16; i++)
			ok = ok && r->data[0].data[i] == pattern(i);
		CHECK(ok);
		CHECK(r->data[1].len == 3 && !memcmp(r->data[1].data, "234", 3));
		CHECK(r->data[2].len == 10 && r->data[2].data[9] == pattern(PAGES_SIZE - 1) &&
		      r->data[2].data[0] == pattern(PAGES_SIZE - 10));
		CHECK(r->data[3].len == 0);
		CHECK(r->data[4].len == 0);
		CHECK(r->data[5].len == 0);
		CHECK(r->data[6].len == 0);
		CHECK(r->data[7].len == 0);
		CHECK(r->data[8].len == 1 && r->data[8].data[0] == pattern(5000));
	}
	msg_free(m);

	/* no ranges: an empty answer */
	m = ask_read(CK_ID, NULL, 0);
	CHECK(data_of(m) && data_of(m)->n_data == 0);
	msg_free(m);
}

static void test_read_image_refused(void)
{
	static const char *bad_names[] = { "../x", "a/b", ".hidden", "", ".", "..", "/etc/passwd" };
	static const char *not_regular[] = { "link.img", "sub", "fifo.img", "parent" };
	char long_name[MAX_IMAGE_NAME + 2];
	ByteRange two[2];
	HelperMessage *m;

	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		m = ask_read1(CK_ID, bad_names[i], 0, 1);
		CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, bad_names[i]));
		msg_free(m);
	}
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	m = ask_read1(CK_ID, long_name, 0, 1);
	CHECK(err_code(m) == EC(BAD_REQUEST));
	msg_free(m);
	long_name[MAX_IMAGE_NAME] = '\0';	/* 255 bytes: a valid name, but no such file */
	m = ask_read1(CK_ID, long_name, 0, 1);
	CHECK(err_code(m) == EC(NOT_FOUND));
	msg_free(m);
	for (size_t i = 0; i < ARRAY_SIZE(not_regular); i++) {
		m = ask_read1(CK_ID, not_regular[i], 0, 1);
		CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, not_regular[i]) &&
		      err_mentions(m, "not a regular file"));
		msg_free(m);
	}
	m = ask_read1(CK_ID, "missing.img", 0, 1);
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "missing.img"));
	msg_free(m);

	/* one bad range fails the whole request */
	checkpoint__helper__v1__byte_range__init(&two[0]);
	checkpoint__helper__v1__byte_range__init(&two[1]);
	two[0].file = "core-1.img";
	two[0].length = 4;
	two[1].file = "../x";
	two[1].length = 1;
	m = ask_read(CK_ID, two, 2);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "range 1"));
	msg_free(m);

	/* byte limit: 16 MiB in all */
	two[1].file = "pages-1.img";
	two[0].length = MAX_READ_BYTES / 2;
	two[1].length = MAX_READ_BYTES / 2 + 1;
	m = ask_read(CK_ID, two, 2);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "16 MiB"));
	msg_free(m);
	two[1].length = MAX_READ_BYTES / 2;
	m = ask_read(CK_ID, two, 2);
	CHECK(data_of(m) && data_of(m)->data[0].len == 10 && data_of(m)->data[1].len == PAGES_SIZE);
	msg_free(m);

	m = ask_read1("../" CK_ID, "core-1.img", 0, 1);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "invalid checkpoint id"));
	msg_free(m);
	m = ask_read1("nope", "core-1.img", 0, 1);
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "no checkpoint nope"));
	msg_free(m);
	m = ask_read1("linked", "core-1.img", 0, 1);
	CHECK(err_code(m) == EC(NOT_FOUND));
	msg_free(m);
}

static void test_read_image_ranges_limit(void)
{
	size_t n = MAX_READ_RANGES + 1;
	ByteRange *rs = calloc(n, sizeof(*rs));
	const ReadImageResult *r;
	HelperMessage *m;
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		checkpoint__helper__v1__byte_range__init(&rs[i]);
		rs[i].file = i & 1 ? "core-1.img" : "pages-1.img";
		rs[i].offset = i % 10;
		rs[i].length = 1;
	}
	m = ask_read(CK_ID, rs, n);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "4096"));
	msg_free(m);
	m = ask_read(CK_ID, rs, n - 1);
	r = data_of(m);
	CHECK(r && r->n_data == n - 1);
	for (size_t i = 0; r && i < r->n_data; i++)
		ok = ok && r->data[i].len == 1 &&
		     r->data[i].data[0] == (i & 1 ? (uint8_t)('0' + i % 10) : pattern(i % 10));
	CHECK(ok);
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
	bool ok = true;

	mk_dir("many");
	for (int i = 0; i < NFILES; i++) {
		char rel[64], body[32];

		snprintf(names[i], sizeof(names[i]), "f%03d.img", i);
		snprintf(rel, sizeof(rel), "many/%s", names[i]);
		snprintf(body, sizeof(body), "file %03d", i);
		mk_file(rel, body, strlen(body));
	}
	for (int i = 0; i < 2 * NFILES; i++) {
		checkpoint__helper__v1__byte_range__init(&rs[i]);
		rs[i].file = names[i % NFILES];
		rs[i].offset = 5;
		rs[i].length = 3;
	}
	m = ask_read("many", rs, ARRAY_SIZE(rs));
	r = data_of(m);
	CHECK(r && r->n_data == ARRAY_SIZE(rs));
	for (size_t i = 0; r && i < r->n_data; i++) {
		char want[8];

		snprintf(want, sizeof(want), "%03zu", i % NFILES);
		ok = ok && r->data[i].len == 3 && !memcmp(r->data[i].data, want, 3);
	}
	CHECK(ok);
	msg_free(m);
	m = ask_files("many");
	CHECK(files_of(m) && files_of(m)->n_files == NFILES &&
	      !strcmp(files_of(m)->files[0]->name, "f000.img") &&
	      !strcmp(files_of(m)->files[NFILES - 1]->name, "f149.img"));
	msg_free(m);
}

/* The largest answer (16 MiB of data) still fits in a frame the helper writes. */
static void test_read_image_max(void)
{
	char path[4400];
	const ReadImageResult *r;
	HelperMessage *m;
	int fd;

	mk_dir("big");
	snprintf(path, sizeof(path), "%s/big/pages-1.img", store_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, MAX_READ_BYTES + 100) == 0);
	CHECK(pwrite(fd, "end", 3, MAX_READ_BYTES - 3) == 3);
	close(fd);
	m = ask_read1("big", "pages-1.img", 0, MAX_READ_BYTES);
	r = data_of(m);
	CHECK(r && r->n_data == 1 && r->data[0].len == MAX_READ_BYTES);
	if (r && r->n_data == 1 && r->data[0].len == MAX_READ_BYTES)
		CHECK(r->data[0].data[0] == 0 && !memcmp(r->data[0].data + MAX_READ_BYTES - 3, "end", 3));
	msg_free(m);
}

static void test_image_names(void)
{
	CHECK(valid_image_name("pages-1.img"));
	CHECK(valid_image_name("a"));
	CHECK(!valid_image_name(NULL));
	CHECK(!valid_image_name(""));
	CHECK(!valid_image_name("."));
	CHECK(!valid_image_name(".."));
	CHECK(!valid_image_name(".x"));
	CHECK(!valid_image_name("a/b"));
	CHECK(!valid_image_name("a/"));
}

static void test_images(void)
{
	image_store_setup();
	test_image_names();
	test_image_files();
	test_read_image();
	test_read_image_refused();
	test_read_image_ranges_limit();
	test_read_image_many_files();
	test_read_image_max();
	CHECK(remove_tree(store_dir) == 0);
}

TEST_GROUP(image)
{
	with_out_file(test_images);
}
