/* SPDX-License-Identifier: MIT */
/* Tests of image_entries.c: CRIU image files read as untrusted input. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu-images.pb-c.h"
#include "fileio.h"
#include "image_entries.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "synth.h"

typedef Checkpoint__Criu__V1__ProcessTreeEntry PstreeEntry;

static int make_dir(char *tmpl)
{
	if (!mkdtemp(tmpl))
		return -1;
	return open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* An image of the given bytes after the two magics. */
static void raw_image(int dirfd, const char *name, uint32_t magic, const uint8_t *body, size_t len)
{
	uint8_t buf[256];

	put_le32(buf, IMG_COMMON_MAGIC);
	put_le32(buf + 4, magic);
	if (len)
		memcpy(buf + 8, body, len);
	synth_file(dirfd, name, buf, 8 + len);
}

/* image_load of name fails with IMAGE_DAMAGED in words holding words. */
static void check_refused(int dirfd, const char *name, uint32_t magic, const char *words)
{
	struct image_buf b;
	struct herr e = { 0 };

	CHECK_INT(image_load(dirfd, name, magic, &b, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
	CHECK_CONTAINS(e.msg, words);
	image_release(&b);
}

/* Walks name's entries: -1 at the first bad one, else how many. */
static int count_entries(int dirfd, const char *name, struct herr *e)
{
	ProtobufCMessage *m;
	struct image_buf b;
	int r, n = 0;

	if (image_load(dirfd, name, IMG_PSTREE_MAGIC, &b, e)) {
		image_release(&b);
		return -1;
	}
	while ((r = image_next_msg(&b, &checkpoint__criu__v1__process_tree_entry__descriptor, &m, e)) > 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		n++;
	}
	image_release(&b);
	return r < 0 ? -1 : n;
}

static void test_good(int dirfd)
{
	PstreeEntry a = CHECKPOINT__CRIU__V1__PROCESS_TREE_ENTRY__INIT, b = a;
	ProtobufCMessage *v[] = { (ProtobufCMessage *)&a, (ProtobufCMessage *)&b };
	ProtobufCMessage *one;
	struct herr e = { 0 };

	a.pid = 5;
	a.has_pid = 1;
	synth_image(dirfd, "pstree.img", IMG_PSTREE_MAGIC, v, 2);
	test_case("two entries, the second empty");
	CHECK_INT(count_entries(dirfd, "pstree.img", &e), ==, 2);
	test_case("the first entry of a single-entry image");
	one = image_read_one(dirfd, "pstree.img", IMG_PSTREE_MAGIC,
			     &checkpoint__criu__v1__process_tree_entry__descriptor, &e);
	CHECK(one && ((PstreeEntry *)one)->pid == 5);
	if (one)
		protobuf_c_message_free_unpacked(one, NULL);
	test_case("an image with no entry, read as a single-entry image");
	synth_image(dirfd, "empty.img", IMG_PSTREE_MAGIC, NULL, 0);
	CHECK(!image_read_one(dirfd, "empty.img", IMG_PSTREE_MAGIC,
			      &checkpoint__criu__v1__process_tree_entry__descriptor, &e));
	CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
	CHECK_CONTAINS(e.msg, "the checkpoint's empty.img holds no entry");
}

static void test_entries_refused(int dirfd)
{
	static const struct {
		const char *what;
		uint8_t body[8];
		size_t len;
		const char *words;
	} cases[] = {
		{ "an entry's length cut in two", { 1, 0 }, 2,
		  "a.img ends in the middle of an entry's length (offset 8 of 10 bytes)" },
		{ "an entry longer than what is left", { 10, 0, 0, 0, 8, 1 }, 6,
		  "a.img is cut short: the entry at offset 8 says 10 bytes, 2 are left" },
		{ "a length of 4 GiB: refused, nothing allocated for it", { 0xff, 0xff, 0xff, 0xff, 8, 1 }, 6,
		  "says 4294967295 bytes, 2 are left" },
		{ "an entry that does not decode", { 2, 0, 0, 0, 0xff, 0xff }, 6,
		  "a.img has an entry that does not decode (offset 8, 2 bytes)" },
	};
	struct herr e = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("%s", cases[i].what);
		raw_image(dirfd, "a.img", IMG_PSTREE_MAGIC, cases[i].body, cases[i].len);
		CHECK_INT(count_entries(dirfd, "a.img", &e), ==, -1);
		CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
		CHECK_CONTAINS(e.msg, cases[i].words);
	}
}

static void test_files_refused(int dirfd)
{
	struct image_buf b;
	struct herr e = { 0 };
	int fd;

	test_case("missing: incomplete, errno ENOENT for the callers that allow it");
	CHECK_INT(image_load(dirfd, "core-7.img", IMG_CORE_MAGIC, &b, &e), ==, -1);
	CHECK_INT(e.errnum, ==, ENOENT);
	CHECK_STR(e.msg, ==, "the checkpoint has no core-7.img: its images are incomplete");
	test_case("another image's magic");
	raw_image(dirfd, "core-1.img", IMG_MM_MAGIC, NULL, 0);
	check_refused(dirfd, "core-1.img", IMG_CORE_MAGIC, "core-1.img is not the CRIU image its name says");
	test_case("shorter than its magics");
	synth_file(dirfd, "core-2.img", "\x19\x43", 2);
	check_refused(dirfd, "core-2.img", IMG_CORE_MAGIC, "(2 bytes, magics 0 0;");
	test_case("a directory");
	CHECK_INT(mkdirat(dirfd, "core-3.img", 0700), ==, 0);
	check_refused(dirfd, "core-3.img", IMG_CORE_MAGIC, "core-3.img is not a regular file");
	test_case("a symbolic link, not followed");
	CHECK_INT(symlinkat("core-1.img", dirfd, "core-4.img"), ==, 0);
	check_refused(dirfd, "core-4.img", IMG_CORE_MAGIC, "the checkpoint's core-4.img is not a regular file");
	test_case("larger than an image can be: refused before it is read");
	fd = openat(dirfd, "core-5.img", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK_INT(ftruncate(fd, (off_t)IMG_MAX_BYTES + 1), ==, 0);
	close(fd);
	check_refused(dirfd, "core-5.img", IMG_CORE_MAGIC, "core-5.img is 67108865 bytes, more than an image can be");
}

/* Fields counted on the wire, before anything is decoded. */
static void test_field_count(void)
{
	static const uint8_t msg[] = { 0x08, 0x96, 0x01, 0x72, 0x00, 0x72, 0x02, 0x08, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8,
				       0x1d, 1, 2, 3, 4, 0x72, 0x00 };
	static const struct { const char *what; uint8_t bytes[4]; size_t len; } bad[] = {
		{ "a varint that does not end", { 0x08, 0x80 }, 2 },
		{ "a length past the end", { 0x72, 0x05, 0x00 }, 3 },
		{ "a fixed64 cut short", { 0x11, 1, 2 }, 3 },
		{ "a group", { 0x73 }, 1 },
	};

	test_case("field 14 three times among a varint, a fixed64 and a fixed32; field 1 once (not the one inside a 14)");
	CHECK_UINT(image_field_count(msg, sizeof(msg), 14), ==, 3);
	CHECK_UINT(image_field_count(msg, sizeof(msg), 1), ==, 1);
	CHECK_UINT(image_field_count(msg, 0, 14), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		test_case("%s: no message", bad[i].what);
		CHECK_UINT(image_field_count(bad[i].bytes, bad[i].len, 14), ==, SIZE_MAX);
	}
}

/* image_files_each's visits, as text: "r<id>:<name> " or "m<id>:<inode> ". */
static int note_file(const Checkpoint__Criu__V1__RegularFile *reg, const Checkpoint__Criu__V1__MemfdFile *memfd,
		     uint32_t id, void *arg, struct herr *e)
{
	char *seen = arg;
	size_t n = strlen(seen);

	(void)e;
	if (reg)
		snprintf(seen + n, 256 - n, "r%u:%s ", id, reg->name ? reg->name : "");
	else
		snprintf(seen + n, 256 - n, "m%u:%u ", id, memfd->inode_id);
	return 0;
}

static void test_files_each(void)
{
	Checkpoint__Criu__V1__RegularFile rf = CHECKPOINT__CRIU__V1__REGULAR_FILE__INIT;
	Checkpoint__Criu__V1__MemfdFile mf = CHECKPOINT__CRIU__V1__MEMFD_FILE__INIT;
	Checkpoint__Criu__V1__FileEntry a = CHECKPOINT__CRIU__V1__FILE_ENTRY__INIT, b = a, c = a;
	ProtobufCMessage *v[] = { (ProtobufCMessage *)&a, (ProtobufCMessage *)&b, (ProtobufCMessage *)&c };
	char dir[] = "/tmp/ckpt-files-XXXXXX", seen[256] = "";
	struct herr e = { 0 };
	int dirfd = make_dir(dir);

	test_case("image_files_each: files.img's regular files and memfds, other entries passed over");
	rf.name = "/usr/bin/x";
	rf.id = 9;
	rf.has_id = 1;
	a.reg = &rf;
	a.has_id = 1;
	a.id = 3;
	mf.id = 4;
	mf.has_id = 1;
	mf.inode_id = 77;
	mf.has_inode_id = 1;
	b.memfd = &mf;
	synth_image(dirfd, "files.img", IMG_FILES_MAGIC, v, 3);
	CHECK_INT(image_files_each(dirfd, note_file, seen, &e), ==, 0);
	CHECK_STR(seen, ==, "r3:/usr/bin/x m4:77 ");
	test_case("image_files_each: reg-files.img in images older than files.img");
	CHECK_INT(unlinkat(dirfd, "files.img", 0), ==, 0);
	v[0] = (ProtobufCMessage *)&rf;
	synth_image(dirfd, "reg-files.img", IMG_REG_FILES_MAGIC, v, 1);
	seen[0] = '\0';
	CHECK_INT(image_files_each(dirfd, note_file, seen, &e), ==, 0);
	CHECK_STR(seen, ==, "r9:/usr/bin/x ");
	test_case("image_files_each: neither: the images are incomplete");
	CHECK_INT(unlinkat(dirfd, "reg-files.img", 0), ==, 0);
	CHECK_INT(image_files_each(dirfd, note_file, seen, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
	CHECK_CONTAINS(e.msg, "has no files.img");
	close(dirfd);
	remove_tree(dir);
}

TEST_GROUP(image_entries)
{
	char dir[] = "/tmp/ckpt-img-XXXXXX";
	int dirfd = make_dir(dir);

	CHECK_INT(dirfd, >=, 0);
	test_good(dirfd);
	test_entries_refused(dirfd);
	test_files_refused(dirfd);
	test_field_count();
	test_files_each();
	close(dirfd);
	remove_tree(dir);
}
