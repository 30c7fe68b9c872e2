/* SPDX-License-Identifier: MIT */
/* Unit tests of the helper's pure parts; run by `make test` under ASan+UBSan. */
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
#include "cgroup.h"
#include "channel.h"
#include "config.h"
#include "criu.h"
#include "err.h"
#include "fileio.h"
#include "framing.h"
#include "image.h"
#include "kill.h"
#include "lists.h"
#include "manifest.h"
#include "ops.h"
#include "proc.h"
#include "program.h"
#include "sbuf.h"
#include "store.h"
#include "util.h"
#include "wire.h"
#include "criu-images.pb-c.h"

#include "check.h"

int passed, failed;

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static void test_framing(void)
{
	struct frame_reader fr = { 0 };
	const uint8_t *p;
	size_t len;
	uint8_t two[4 + 3 + 4 + 2];
	uint8_t big[4];

	/* two frames in one buffer */
	put_le32(two, 3);
	memcpy(two + 4, "abc", 3);
	put_le32(two + 7, 2);
	memcpy(two + 11, "de", 2);
	CHECK(frame_feed(&fr, two, sizeof(two)) == 0);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 1);
	CHECK(len == 3 && !memcmp(p, "abc", 3));
	frame_pop(&fr);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 1);
	CHECK(len == 2 && !memcmp(p, "de", 2));
	frame_pop(&fr);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 0);

	/* partial reads: byte by byte */
	for (size_t i = 0; i < 7; i++) {
		CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 0);
		frame_feed(&fr, two + i, 1);
	}
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 1);
	CHECK(len == 3 && !memcmp(p, "abc", 3));
	frame_pop(&fr);

	/* empty frame (an empty Request) */
	put_le32(big, 0);
	frame_feed(&fr, big, 4);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 1 && len == 0);
	frame_pop(&fr);

	/* oversize refused from its header alone */
	put_le32(big, MAX_FRAME_BYTES + 1);
	frame_feed(&fr, big, 4);
	errno = 0;
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == -1 && errno == EMSGSIZE);
	frame_reader_free(&fr);

	/* exactly the maximum is accepted once complete (header check only here) */
	put_le32(big, MAX_FRAME_BYTES);
	frame_feed(&fr, big, 4);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 0);
	frame_reader_free(&fr);
}

static void test_ids(void)
{
	char long_id[MAX_ID_LEN + 2];

	CHECK(valid_checkpoint_id("20260101-120000-ab12"));
	CHECK(valid_checkpoint_id("a.b_c-D9"));
	CHECK(!valid_checkpoint_id(""));
	CHECK(!valid_checkpoint_id(NULL));
	CHECK(!valid_checkpoint_id(".hidden"));
	CHECK(!valid_checkpoint_id(".."));
	CHECK(!valid_checkpoint_id("a/b"));
	CHECK(!valid_checkpoint_id("../etc"));
	CHECK(!valid_checkpoint_id("a b"));
	CHECK(!valid_checkpoint_id("a\nb"));
	memset(long_id, 'a', MAX_ID_LEN);
	long_id[MAX_ID_LEN] = '\0';
	CHECK(valid_checkpoint_id(long_id));
	long_id[MAX_ID_LEN] = 'a';
	long_id[MAX_ID_LEN + 1] = '\0';
	CHECK(!valid_checkpoint_id(long_id));
	CHECK(valid_text("hello world", 20));
	CHECK(!valid_text("hello world", 5));
	CHECK(!valid_text("a\x01", 5));
}

static void test_proc_stat(void)
{
	struct proc_stat st;

	CHECK(parse_proc_stat("1234 (my (odd) prog) S 1 1234 1234 34816 1234 4194560 0 0", &st) == 0);
	CHECK(st.pid == 1234);
	CHECK(!strcmp(st.comm, "my (odd) prog"));
	CHECK(st.state == 'S' && st.ppid == 1 && st.pgid == 1234 && st.sid == 1234);
	CHECK(st.tty_nr == 34816);
	CHECK(parse_proc_stat("7 (a) b) R 0 0 0 0", &st) == 0);
	CHECK(!strcmp(st.comm, "a) b") && st.state == 'R');
	CHECK(parse_proc_stat("9 () Z 3 4 5 0", &st) == 0);
	CHECK(!strcmp(st.comm, "") && st.state == 'Z' && st.ppid == 3);
	CHECK(parse_proc_stat("garbage", &st) == -1);
	CHECK(parse_proc_stat("12 (x) S", &st) == -1);
	/* our own stat parses, and matches getpid */
	CHECK(read_proc_stat(getpid(), &st) == 0 && st.pid == getpid());
}

static void test_tty(void)
{
	char out[64];

	CHECK(decode_tty_nr(0, out, sizeof(out)) == 0 && !strcmp(out, ""));
	CHECK(decode_tty_nr(34816, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/0"));
	CHECK(decode_tty_nr((136 << 8) | 3, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/3"));
	/* pts 300 = major 137 minor 44 */
	CHECK(decode_tty_nr((137 << 8) | 44, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/300"));
	/* minor above 255: bits 20-31 */
	CHECK(decode_tty_nr((136 << 8) | (0x1 << 20) | 0x02, out, sizeof(out)) == 0 &&
	      !strcmp(out, "/dev/pts/258"));
	CHECK(decode_tty_nr((4 << 8) | 1, out, sizeof(out)) == 0 && !strcmp(out, "/dev/tty1"));
	CHECK(decode_tty_nr((4 << 8) | 64, out, sizeof(out)) == 0 && !strcmp(out, "/dev/ttyS0"));
	CHECK(decode_tty_nr((5 << 8) | 1, out, sizeof(out)) == 0 && !strcmp(out, "/dev/console"));
	CHECK(decode_tty_nr((99 << 8) | 1, out, sizeof(out)) == -1 && !strcmp(out, ""));
}

static void test_json(void)
{
	struct sbuf b = { 0 };

	json_escape(&b, "plain");
	CHECK(!strcmp(b.p, "\"plain\""));
	b.len = 0;
	json_escape(&b, "q\"b\\n\nt\tc\x01\x1f" "\x7f" "é");
	CHECK(!strcmp(b.p, "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f\\u007fé\""));
	b.len = 0;
	json_escape(&b, NULL);
	CHECK(!strcmp(b.p, "\"\""));
	sbuf_free(&b);
}

static void test_manifest_json(void)
{
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	CheckpointProcess p = CHECKPOINT__HELPER__V1__CHECKPOINT_PROCESS__INIT;
	CheckpointProcess *pp = &p;
	char *argv[] = { "python3", "-c", "print(\"hi\")" };
	struct sbuf b = { 0 };

	c.id = "x";
	c.name = "na\"me";
	c.processes = &pp;
	c.n_processes = 1;
	p.pid = 5;
	p.comm = "py";
	p.cmdline = argv;
	p.n_cmdline = 3;
	CHECK(manifest_json(&c, &b) == 0);
	CHECK(strstr(b.p, "\"name\": \"na\\\"me\"") != NULL);
	CHECK(strstr(b.p, "[\"python3\", \"-c\", \"print(\\\"hi\\\")\"]") != NULL);
	CHECK(strstr(b.p, "\"pages_written\": 0") != NULL);
	sbuf_free(&b);
}

static void test_stats(void)
{
	Checkpoint__Criu__V1__DumpStats d = CHECKPOINT__CRIU__V1__DUMP_STATS__INIT;
	Checkpoint__Criu__V1__Stats se = CHECKPOINT__CRIU__V1__STATS__INIT;
	DumpStats out = CHECKPOINT__HELPER__V1__DUMP_STATS__INIT;
	uint8_t buf[256];
	size_t n;

	d.has_freezing_time = d.has_frozen_time = d.has_memdump_time = d.has_memwrite_time = true;
	d.freezing_time = 11;
	d.frozen_time = 22;
	d.memdump_time = 33;
	d.memwrite_time = 44;
	d.has_pages_scanned = d.has_pages_written = d.has_pages_lazy = true;
	d.pages_scanned = 5000000000ull;
	d.pages_written = 77;
	d.pages_lazy = 8;
	se.dump = &d;
	n = checkpoint__criu__v1__stats__get_packed_size(&se);
	CHECK(n + 12 <= sizeof(buf));
	put_le32(buf, 0x55105940);
	put_le32(buf + 4, 0x57093306);
	put_le32(buf + 8, n);
	checkpoint__criu__v1__stats__pack(&se, buf + 12);
	CHECK(decode_stats(buf, n + 12, &out) == 0);
	CHECK(out.freezing_time_us == 11 && out.frozen_time_us == 22);
	CHECK(out.memdump_time_us == 33 && out.memwrite_time_us == 44);
	CHECK(out.pages_scanned == 5000000000ull && out.pages_written == 77 && out.pages_lazy == 8);
	/* truncated, wrong magic */
	CHECK(decode_stats(buf, n + 11, &out) == -1);
	CHECK(decode_stats(buf, 8, &out) == -1);
	put_le32(buf + 4, 0x54564319);
	CHECK(decode_stats(buf, n + 12, &out) == -1);
}

static void test_log_extract(void)
{
	char path[] = "/tmp/ckpt-log-XXXXXX";
	const char *log =
		"(00.001) a\n(00.002) b\n(00.003) c\n(00.004) d\n"
		"(00.005) Error (criu/x.c:1): boom\n"
		"(00.006) e\n(00.007) Warn (criu/y.c:2): careful\n"
		"(00.008) Error (criu/z.c:3): second\n";
	char first[256], **lines;
	size_t n;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, log, strlen(log)) == (ssize_t)strlen(log));
	close(fd);
	CHECK(criu_log_extract(path, &lines, &n, first, sizeof(first)) == 0);
	CHECK(!strcmp(first, "(00.005) Error (criu/x.c:1): boom"));
	/* b c d Error, e Warn(already context of nothing) , Error: context e (Warn added) */
	CHECK(n == 7);
	if (n == 7) {
		CHECK(!strcmp(lines[0], "(00.002) b"));
		CHECK(!strcmp(lines[3], "(00.005) Error (criu/x.c:1): boom"));
		CHECK(!strcmp(lines[4], "(00.006) e"));
		CHECK(!strcmp(lines[5], "(00.007) Warn (criu/y.c:2): careful"));
		CHECK(!strcmp(lines[6], "(00.008) Error (criu/z.c:3): second"));
	}
	unlink(path);
	arena_free_all();
}

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

static void out_reset(void)
{
	CHECK(ftruncate(g_out_fd, 0) == 0 && lseek(g_out_fd, 0, SEEK_SET) == 0);
}

/* The frames written to g_out_fd since out_reset, decoded (at most max). */
static size_t out_frames(HelperMessage **v, size_t max)
{
	off_t size = lseek(g_out_fd, 0, SEEK_CUR);
	uint8_t *buf = malloc(size > 0 ? size : 1);
	size_t got = 0, off = 0, n = 0;

	while (buf && got < (size_t)size) {
		ssize_t r = pread(g_out_fd, buf + got, size - got, got);

		if (r <= 0)
			break;
		got += r;
	}
	CHECK(buf && got == (size_t)size);
	while (buf && n < max && off + 4 <= got) {
		uint32_t len = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;

		if (len > got - off - 4)
			break;
		v[n] = checkpoint__helper__v1__helper_message__unpack(NULL, len, buf + off + 4);
		if (!v[n])
			break;
		n++;
		off += 4 + len;
	}
	CHECK(off == got);	/* whole frames only, all of them decoded */
	free(buf);
	return n;
}

static void msg_free(HelperMessage *m);

/*
 * Runs req through the dispatch; returns the answer, the last frame written,
 * decoded. *nevents gets how many events came before it.
 */
static HelperMessage *roundtrip_events(Request *req, size_t *nevents)
{
	HelperMessage *v[64], *m = NULL;
	size_t n;

	out_reset();
	handle_request(req);
	n = out_frames(v, ARRAY_SIZE(v));
	CHECK(n > 0);
	for (size_t i = 0; i + 1 < n; i++) {
		CHECK(v[i]->kind_case == CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_EVENT &&
		      v[i]->event->request_id == req->id);
		msg_free(v[i]);
	}
	if (n)
		m = v[n - 1];
	CHECK(m && m->kind_case == CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_RESPONSE &&
	      m->response->id == req->id);
	*nevents = n ? n - 1 : 0;
	return m;
}

/* Runs req through the dispatch; returns the one frame it wrote, decoded. */
static HelperMessage *roundtrip(Request *req)
{
	size_t nevents;
	HelperMessage *m = roundtrip_events(req, &nevents);

	CHECK(nevents == 0);
	return m;
}

static void msg_free(HelperMessage *m)
{
	if (m)
		checkpoint__helper__v1__helper_message__free_unpacked(m, NULL);
}

/* The answer's error code, or -1 when it is not an error. */
static int err_code(const HelperMessage *m)
{
	if (!m || !m->response || m->response->result_case != CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR)
		return -1;
	return m->response->error->code;
}

static bool err_mentions(const HelperMessage *m, const char *s)
{
	return err_code(m) >= 0 && m->response->error->message && strstr(m->response->error->message, s);
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

/* Open descriptors of this process (the one reading /proc/self/fd included). */
static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Runs fn with the helper's output going to a temporary file; checks that
 * every path fn takes, failing ones included, closed what it opened.
 */
static void with_out_file(void (*fn)(void))
{
	char tmp[] = "/tmp/ckpt-out-XXXXXX";
	int saved = g_out_fd, fds;

	g_out_fd = mkstemp(tmp);
	CHECK(g_out_fd >= 0);
	if (g_out_fd < 0) {
		g_out_fd = saved;
		return;
	}
	unlink(tmp);
	fds = count_fds();
	fn();
	CHECK(fds > 0 && count_fds() == fds);
	close(g_out_fd);
	g_out_fd = saved;
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

/* ---- rename, through handle_request on a temp store ----------------------- */

#define RN_ID "20260102-130000-cd34"

static char rename_store[] = "/tmp/ckpt-rename-XXXXXX";

/* A manifest with every field set, as a dump of a launched program writes it. */
struct manifest_fixture {
	Checkpoint c;
	CheckpointProcess p[2], *pp[2];
	DumpOptions options;
	DumpStats stats;
	OutputPipes pipes;
	char path[4400];
};

static char *fixture_argv[] = { "/opt/workload", "family", "/tmp/w" };
static char *fixture_external[] = { "mnt[/data]:data" };

static void fixture_init(struct manifest_fixture *f)
{
	checkpoint__helper__v1__checkpoint__init(&f->c);
	checkpoint__helper__v1__dump_options__init(&f->options);
	checkpoint__helper__v1__dump_stats__init(&f->stats);
	checkpoint__helper__v1__output_pipes__init(&f->pipes);
	for (int i = 0; i < 2; i++) {
		checkpoint__helper__v1__checkpoint_process__init(&f->p[i]);
		f->p[i].pid = 4242 + i;
		f->p[i].ppid = i ? 4242 : 1;
		f->p[i].comm = "workload";
		f->p[i].cmdline = fixture_argv;
		f->p[i].n_cmdline = ARRAY_SIZE(fixture_argv);
		f->pp[i] = &f->p[i];
	}
	f->options.tcp_established = f->options.file_locks = true;
	f->options.external = fixture_external;
	f->options.n_external = ARRAY_SIZE(fixture_external);
	f->stats.frozen_time_us = 1234;
	f->stats.pages_written = 77;
	f->stats.criu_wall_time_us = 5678;
	f->pipes.stdout_pipe_id = 11;
	f->pipes.stderr_pipe_id = 12;
	snprintf(f->path, sizeof(f->path), "%s/%s", rename_store, RN_ID);
	f->c.manifest_version = MANIFEST_VERSION;
	f->c.id = RN_ID;
	f->c.name = "before";
	f->c.created_unix_ms = 1767358800123ull;
	f->c.root_pid = 4242;
	f->c.processes = f->pp;
	f->c.n_processes = 2;
	f->c.criu_version = "4.1.1";
	f->c.leave_running = true;
	f->c.options = &f->options;
	f->c.stats = &f->stats;
	f->c.path = f->path;
	f->c.size_bytes = 123456;
	f->c.hostname = "target";
	f->c.kernel_release = "6.12.0";
	f->c.helper_version = "0.1.0";
	f->c.output_pipes = &f->pipes;
}

/* <rename_store>/<id>, made as a dump makes it, with the manifest of c. */
static void rename_checkpoint_setup(const char *id, const Checkpoint *c)
{
	char path[4400];
	struct herr e = { 0 };
	int fd;

	snprintf(path, sizeof(path), "%s/%s", rename_store, id);
	CHECK(mkdir(path, 0700) == 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write_file_at(fd, "pages-1.img", "pages", 5) == 0);
	CHECK(manifest_write(fd, c, &e) == 0);
	close(fd);
}

static HelperMessage *ask_rename(const char *id, const char *name)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	RenameRequest r = CHECKPOINT__HELPER__V1__RENAME_REQUEST__INIT;

	r.checkpoint_id = (char *)id;
	r.name = (char *)name;
	req.id = 61;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_RENAME;
	req.rename = &r;
	return roundtrip(&req);
}

static const Checkpoint *renamed(const HelperMessage *m)
{
	if (!m || !m->response || m->response->result_case != CHECKPOINT__HELPER__V1__RESPONSE__RESULT_RENAME ||
	    !m->response->rename)
		return NULL;
	return m->response->rename->checkpoint;
}

/* Whether file of checkpoint RN_ID holds exactly the len bytes of want, mode 0600. */
static bool file_is(const char *file, const void *want, size_t len)
{
	char path[4400], *buf = NULL;
	struct stat st;
	size_t n = 0;
	bool same;

	snprintf(path, sizeof(path), "%s/%s/%s", rename_store, RN_ID, file);
	if (read_file(path, &buf, &n, 1 << 20) || stat(path, &st))
		return false;
	same = n == len && !memcmp(buf, want, len) && (st.st_mode & 07777) == 0600;
	free(buf);
	return same;
}

/* Whether both manifests of checkpoint RN_ID are exactly those of c. */
static bool manifest_is(const Checkpoint *c)
{
	size_t len = checkpoint__helper__v1__checkpoint__get_packed_size(c);
	uint8_t *pb = malloc(len + 1);
	struct sbuf json = { 0 };
	bool same;

	checkpoint__helper__v1__checkpoint__pack(c, pb);
	CHECK(manifest_json(c, &json) == 0);
	same = file_is("manifest.pb", pb, len) && file_is("manifest.json", json.p, json.len);
	free(pb);
	sbuf_free(&json);
	return same;
}

/* Whether the answer's manifest is c, field for field (the same bytes). */
static bool answer_is(const HelperMessage *m, const Checkpoint *c)
{
	const Checkpoint *got = renamed(m);
	size_t len = checkpoint__helper__v1__checkpoint__get_packed_size(c);
	uint8_t *want = malloc(len + 1), *have = NULL;
	bool same = false;

	if (got && checkpoint__helper__v1__checkpoint__get_packed_size(got) == len) {
		have = malloc(len + 1);
		checkpoint__helper__v1__checkpoint__pack(c, want);
		checkpoint__helper__v1__checkpoint__pack(got, have);
		same = !memcmp(want, have, len);
	}
	free(want);
	free(have);
	return same;
}

/* Entries of checkpoint RN_ID: no temporary file is ever left behind. */
static int rename_dir_entries(void)
{
	char path[4400];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", rename_store, RN_ID);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_rename(struct manifest_fixture *f)
{
	char longest[MAX_NAME_LEN + 1];
	HelperMessage *m;

	m = ask_rename(RN_ID, "after\twith a tab, é");
	f->c.name = "after\twith a tab, é";
	CHECK(answer_is(m, &f->c));
	CHECK(manifest_is(&f->c));
	CHECK(rename_dir_entries() == 3);
	msg_free(m);

	memset(longest, 'n', MAX_NAME_LEN);
	longest[MAX_NAME_LEN] = '\0';
	m = ask_rename(RN_ID, longest);
	f->c.name = longest;
	CHECK(answer_is(m, &f->c) && manifest_is(&f->c));
	msg_free(m);

	/* empty clears the name */
	m = ask_rename(RN_ID, "");
	f->c.name = "";
	CHECK(answer_is(m, &f->c) && manifest_is(&f->c));
	CHECK(rename_dir_entries() == 3);
	msg_free(m);
}

static void test_rename_refused(const struct manifest_fixture *f)
{
	static const char *bad_ids[] = { "../etc", "", ".hidden", "a/b", "a b",
		"12345678901234567890123456789012345678901234567890123456789012345" };
	static const char *bad_names[] = { "a\nb", "\x1b[31mred", "nul\x01" };
	char too_long[MAX_NAME_LEN + 2];
	HelperMessage *m;

	for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
		m = ask_rename(bad_ids[i], "x");
		CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "invalid checkpoint id"));
		msg_free(m);
	}
	memset(too_long, 'n', MAX_NAME_LEN + 1);
	too_long[MAX_NAME_LEN + 1] = '\0';
	m = ask_rename(RN_ID, too_long);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "256 bytes"));
	msg_free(m);
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		m = ask_rename(RN_ID, bad_names[i]);
		CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "control characters"));
		msg_free(m);
	}
	CHECK(manifest_is(&f->c));

	m = ask_rename("nope", "x");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "no checkpoint nope"));
	msg_free(m);
	m = ask_rename("linked", "x");	/* a symlink to a checkpoint is not one */
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "linked"));
	msg_free(m);
	m = ask_rename("bare", "x");	/* a directory without a manifest */
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "bare") && err_mentions(m, "manifest"));
	msg_free(m);
	/* a dump still writing it: named by the directory, or by the id it will have */
	m = ask_rename("writing.partial", "x");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "writing.partial") &&
	      err_mentions(m, "still being written"));
	msg_free(m);
	m = ask_rename("writing", "x");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "no checkpoint writing ") &&
	      err_mentions(m, "still being written"));
	msg_free(m);
	CHECK(manifest_is(&f->c));
}

/* A dump refuses the names a rename refuses: one rule for both. */
static void test_dump_name_refused(void)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	DumpRequest r = CHECKPOINT__HELPER__V1__DUMP_REQUEST__INIT;
	HelperMessage *m;

	r.root_pid = getpid();
	r.name = "a\nb";
	req.id = 62;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_DUMP;
	req.dump = &r;
	m = roundtrip(&req);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "control characters"));
	msg_free(m);
}

/*
 * Writes that fail (root passes any permission check, but not a file size
 * limit): the new manifest.pb cannot be written, or it can and
 * manifest.json cannot. Either way the old manifest stays, and no
 * temporary file. The limit leaves room for the answer in the output file.
 */
static void test_rename_write_fails(const struct manifest_fixture *f)
{
	struct manifest_fixture next = *f;
	struct rlimit saved, lim;
	size_t pb_len;
	HelperMessage *m;

	next.c.name = "never";
	pb_len = checkpoint__helper__v1__checkpoint__get_packed_size(&next.c);
	CHECK(pb_len > 200);	/* above the size of the error answer */
	CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
	signal(SIGXFSZ, SIG_IGN);
	for (int i = 0; i < 2; i++) {
		lim.rlim_cur = i ? pb_len : pb_len - 1;
		lim.rlim_max = saved.rlim_max;
		CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
		m = ask_rename(RN_ID, next.c.name);
		CHECK(setrlimit(RLIMIT_FSIZE, &saved) == 0);
		CHECK(err_code(m) == EC(INTERNAL) && err_mentions(m, RN_ID) && err_mentions(m, "manifest") &&
		      m->response->error->errno_value == EFBIG);
		CHECK(manifest_is(&f->c));
		CHECK(rename_dir_entries() == 3);
		msg_free(m);
	}
	signal(SIGXFSZ, SIG_DFL);
}

/* The newest KEPT_LOGS logs and work directories stay; older ones go, files and directories alike. */
static void test_prune(void)
{
	char dir[] = "/tmp/ckpt-prune-XXXXXX";
	struct dirent **left = NULL;
	int n;

	CHECK(mkdtemp(dir) != NULL);
	for (int i = 0; i < KEPT_LOGS + 5; i++) {
		/* alternately a failed dump's log and a restore's work directory with its log, oldest first */
		char *path = arena_printf("%s/20260101-0000%02d-abcd%s", dir, i, i % 2 ? "-dump.log" : "");

		if (i % 2)
			CHECK(close(open(path, O_WRONLY | O_CREAT, 0600)) == 0);
		else
			CHECK(mkdir(path, 0700) == 0 && close(open(arena_printf("%s/restore.log", path), O_WRONLY | O_CREAT, 0600)) == 0);
	}
	CHECK(mkdir(arena_printf("%s/.hidden", dir), 0700) == 0);
	CHECK(store_prune(dir, KEPT_LOGS) == 0);
	n = scandir(dir, &left, NULL, alphasort);
	CHECK(n == KEPT_LOGS + 3);	/* ".", ".." and ".hidden" too */
	for (int i = 0; i < n; i++) {
		if (i == 3)
			CHECK(!strncmp(left[i]->d_name, "20260101-000005-abcd", 20));	/* the oldest kept: 5 */
		free(left[i]);
	}
	free(left);
	CHECK(store_prune(arena_printf("%s/absent", dir), 1) == 0);
	CHECK(remove_tree(dir) == 0);
}

static void test_renames(void)
{
	struct manifest_fixture f;
	char path[4400];

	CHECK(mkdtemp(rename_store) != NULL);
	snprintf(g_cfg.store, sizeof(g_cfg.store), "%s", rename_store);
	fixture_init(&f);
	rename_checkpoint_setup(RN_ID, &f.c);
	snprintf(path, sizeof(path), "%s/linked", rename_store);
	CHECK(symlink(RN_ID, path) == 0);
	snprintf(path, sizeof(path), "%s/bare", rename_store);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/writing.partial", rename_store);
	CHECK(mkdir(path, 0700) == 0);
	test_rename(&f);
	test_rename_refused(&f);
	test_dump_name_refused();
	test_rename_write_fails(&f);
	CHECK(remove_tree(rename_store) == 0);
	arena_free_all();
}

/* ---- launch / kill, through handle_request -------------------------------- */

typedef Checkpoint__Helper__V1__KillRequest KillRequest;

static HelperMessage *ask_launch(const char *program, char **args, size_t nargs, const char *cwd, char **env,
				 size_t nenv, size_t *nevents)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	LaunchRequest r = CHECKPOINT__HELPER__V1__LAUNCH_REQUEST__INIT;

	r.program = (char *)program;
	r.args = args;
	r.n_args = nargs;
	r.cwd = (char *)cwd;
	r.env = env;
	r.n_env = nenv;
	req.id = 51;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_LAUNCH;
	req.launch = &r;
	return roundtrip_events(&req, nevents);
}

static HelperMessage *ask_launch1(const char *program, const char *cwd)
{
	size_t nevents;

	return ask_launch(program, NULL, 0, cwd, NULL, 0, &nevents);
}

static HelperMessage *ask_kill(pid_t pid)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	KillRequest r = CHECKPOINT__HELPER__V1__KILL_REQUEST__INIT;
	size_t nevents;

	r.root_pid = pid;
	req.id = 52;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_KILL;
	req.kill = &r;
	return roundtrip_events(&req, &nevents);
}

/* No child of this process is left unreaped. */
static bool no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static void test_launch_refused(void)
{
	char *env_bad[][1] = { { "NOEQUALS" }, { "=value" } };
	char *env_ok[] = { "A=1", "EMPTY=", "B==x" };
	char **many = calloc(MAX_LAUNCH_ARGS + 1, sizeof(*many));
	HelperMessage *m;
	size_t nevents;

	m = ask_launch1("", NULL);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "program is required"));
	msg_free(m);
	m = ask_launch1("bin/true", NULL);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "absolute path") && err_mentions(m, "bin/true"));
	msg_free(m);
	m = ask_launch1("/bin/true", "tmp");
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "cwd"));
	msg_free(m);
	for (size_t i = 0; i < ARRAY_SIZE(env_bad); i++) {
		m = ask_launch("/bin/true", NULL, 0, NULL, env_bad[i], 1, &nevents);
		CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "env entry 0"));
		msg_free(m);
	}
	for (size_t i = 0; many && i <= MAX_LAUNCH_ARGS; i++)
		many[i] = "x";
	m = ask_launch("/bin/true", many, MAX_LAUNCH_ARGS + 1, NULL, NULL, 0, &nevents);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "4096"));
	msg_free(m);
	m = ask_launch("/bin/true", NULL, 0, NULL, many, MAX_LAUNCH_ARGS + 1, &nevents);
	CHECK(err_code(m) == EC(BAD_REQUEST));
	msg_free(m);
	free(many);
	/* what passes validation but cannot start: the exec's errno, named, and no zombie */
	m = ask_launch("/no/such/program", NULL, 0, NULL, env_ok, ARRAY_SIZE(env_ok), &nevents);
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "/no/such/program") &&
	      m->response->error->errno_value == ENOENT);
	msg_free(m);
	m = ask_launch1("/tmp", NULL);
	CHECK(err_code(m) == EC(NOT_PERMITTED) && err_mentions(m, "cannot execute /tmp") &&
	      m->response->error->errno_value == EACCES);
	msg_free(m);
	m = ask_launch1("/bin/true", "/no/such/dir");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "/no/such/dir") && err_mentions(m, "/bin/true"));
	msg_free(m);
	CHECK(no_children());
}

/* What the main loop does for a program: read its pipes until they end, reap it. */
static void run_program(pid_t pid)
{
	uint64_t deadline = now_us() + 10 * 1000000ull;

	for (;;) {
		struct pollfd pfd[2 * MAX_PROGRAMS];
		size_t n = program_poll_fds(pfd, ARRAY_SIZE(pfd));

		if (!n || now_us() > deadline)
			break;
		CHECK(poll(pfd, n, 1000) >= 0);
		program_poll_done(pfd, n);
	}
	/* reaped as the main loop reaps at SIGCHLD: its end is reported */
	while (pid_exists(pid) && now_us() < deadline) {
		reap_children();
		sleep_ms(1);
	}
	CHECK(!pid_exists(pid));
}

static void test_launch_output(void)
{
	char *args[] = { "-c", "echo \"out $1 $A\"; pwd; echo err >&2; ls /proc/self/fd >&2; exit 7", "sh", "one" };
	char *env[] = { "A=a b" };
	HelperMessage *m, *v[16];
	struct sbuf out = { 0 }, err = { 0 };
	const ProgramExit *exit = NULL;
	size_t nevents, n;
	pid_t pid = -1;

	m = ask_launch("/bin/sh", args, ARRAY_SIZE(args), "/tmp", env, ARRAY_SIZE(env), &nevents);
	CHECK(m && m->response->result_case == CHECKPOINT__HELPER__V1__RESPONSE__RESULT_LAUNCH);
	if (m && m->response->launch)
		pid = m->response->launch->root_pid;
	msg_free(m);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	out_reset();
	run_program(pid);
	n = out_frames(v, ARRAY_SIZE(v));
	for (size_t i = 0; i < n; i++) {
		const Event *ev = v[i]->event;

		CHECK(ev && ev->request_id == 51);
		if (ev && ev->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_OUTPUT) {
			CHECK(ev->program_output->root_pid == pid && !exit);
			sbuf_add(ev->program_output->stream == CHECKPOINT__HELPER__V1__OUTPUT_STREAM__OUTPUT_STREAM_STDOUT
				 ? &out : &err, (char *)ev->program_output->data.data, ev->program_output->data.len);
		} else if (ev && ev->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_EXIT) {
			exit = ev->program_exit;
		}
	}
	CHECK(out.p && !strcmp(out.p, "out one a b\n/tmp\n"));
	/* the listing's own descriptor is 3: nothing of the helper's leaked */
	CHECK(err.p && !strcmp(err.p, "err\n0\n1\n2\n3\n"));
	CHECK(exit && exit == v[n - 1]->event->program_exit && exit->root_pid == pid && exit->exit_code == 7 &&
	      exit->signal == 0);
	for (size_t i = 0; i < n; i++)
		msg_free(v[i]);
	sbuf_free(&out);
	sbuf_free(&err);
	CHECK(no_children());
}

static void test_kill_refused(void)
{
	const pid_t refused[] = { 1, 0, -7, getpid(), getppid() };
	HelperMessage *m;

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		m = ask_kill(refused[i]);
		CHECK(err_code(m) == EC(BAD_REQUEST));
		msg_free(m);
	}
	m = ask_kill(getppid());
	CHECK(err_mentions(m, "helper or one of its ancestors"));
	msg_free(m);
	m = ask_kill(4194000);
	CHECK(err_code(m) == EC(NO_SUCH_PROCESS) && err_mentions(m, "4194000"));
	msg_free(m);
}

/* A child that forks a grandchild; both wait for a signal. */
static pid_t family(pid_t *grandchild)
{
	int ready[2];
	pid_t child;

	*grandchild = -1;
	if (pipe(ready))
		return -1;
	child = fork();
	if (child == 0) {
		pid_t g = fork();

		if (g == 0)
			for (;;)
				pause();
		if (write(ready[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (child > 0 && read(ready[0], grandchild, sizeof(*grandchild)) != sizeof(*grandchild))
		*grandchild = -1;
	close(ready[0]);
	return child;
}

static void test_kill_tree(void)
{
	pid_t grandchild, child = family(&grandchild);
	struct proc_stat st;
	HelperMessage *m;
	const KillResult *r;

	CHECK(child > 0 && grandchild > 0);
	if (child <= 0 || grandchild <= 0)
		return;
	m = ask_kill(child);
	r = m && m->response->result_case == CHECKPOINT__HELPER__V1__RESPONSE__RESULT_KILL ? m->response->kill : NULL;
	CHECK(r && r->root_pid == child && r->n_killed_pids == 2);
	if (r && r->n_killed_pids == 2)
		CHECK(r->killed_pids[0] == child && r->killed_pids[1] == grandchild);
	msg_free(m);
	/* the child was ours to reap; the grandchild is gone or a zombie of its new parent */
	CHECK(!pid_exists(child));
	CHECK(read_proc_stat(grandchild, &st) || st.state == 'Z');
	CHECK(no_children());
}

static void test_programs(void)
{
	test_launch_refused();
	test_launch_output();
	test_kill_refused();
	test_kill_tree();
}

int main(void)
{
	test_framing();
	test_ids();
	test_proc_stat();
	test_tty();
	test_json();
	test_manifest_json();
	test_stats();
	test_log_extract();
	with_out_file(test_images);
	with_out_file(test_renames);
	test_prune();
	with_out_file(test_programs);
	test_leaks();
	test_leak_tasks();
	test_leak_memory();
	test_leak_files();
	test_leak_sockets();
	test_tcp_restore();
	arena_free_all();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
