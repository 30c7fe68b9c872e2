/* SPDX-License-Identifier: MIT */
/* Tests of framing.c: frames read from the peer's bytes, frames written. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framing.h"
#include "util.h"
#include "check.h"

/* The next frame is the len bytes of want. */
static void expect_frame(struct frame_reader *fr, const char *want, size_t len)
{
	const uint8_t *p = NULL;
	size_t got = 0;

	CHECK_INT(frame_next(fr, &p, &got, MAX_FRAME_BYTES), ==, 1);
	CHECK_UINT(got, ==, len);
	if (p && got == len)
		CHECK(!memcmp(p, want, len));
	frame_pop(fr);
}

/* No complete frame yet. */
static void expect_none(struct frame_reader *fr)
{
	const uint8_t *p;
	size_t len;

	CHECK_INT(frame_next(fr, &p, &len, MAX_FRAME_BYTES), ==, 0);
}

static void test_frames_in(void)
{
	struct frame_reader fr = { 0 };
	uint8_t two[4 + 3 + 4 + 2], empty[4];

	put_le32(two, 3);
	memcpy(two + 4, "abc", 3);
	put_le32(two + 7, 2);
	memcpy(two + 11, "de", 2);
	test_case("two frames in one buffer");
	CHECK_INT(frame_feed(&fr, two, sizeof(two)), ==, 0);
	expect_frame(&fr, "abc", 3);
	expect_frame(&fr, "de", 2);
	expect_none(&fr);
	CHECK_UINT(fr.len, ==, 0);

	test_case("byte by byte");
	for (size_t i = 0; i < 7; i++) {
		test_case("byte by byte: %zu bytes fed", i);
		expect_none(&fr);
		CHECK_INT(frame_feed(&fr, two + i, 1), ==, 0);
	}
	test_case("byte by byte: the first frame complete");
	expect_frame(&fr, "abc", 3);

	test_case("a frame and the start of the next");
	CHECK_INT(frame_feed(&fr, two + 7, 5), ==, 0);
	expect_none(&fr);
	CHECK_UINT(fr.len, ==, 5);
	CHECK_INT(frame_feed(&fr, two + 12, 1), ==, 0);
	expect_frame(&fr, "de", 2);

	test_case("an empty frame (an empty Request)");
	put_le32(empty, 0);
	CHECK_INT(frame_feed(&fr, empty, 4), ==, 0);
	expect_frame(&fr, "", 0);
	frame_reader_free(&fr);
	CHECK(fr.buf == NULL);
	CHECK_UINT(fr.len, ==, 0);
	CHECK_UINT(fr.cap, ==, 0);
}

static void test_frame_limit(void)
{
	struct frame_reader fr = { 0 };
	const uint8_t *p;
	uint8_t hdr[4];
	size_t len;

	test_case("one byte over the limit: refused from its header alone");
	put_le32(hdr, MAX_FRAME_BYTES + 1);
	CHECK_INT(frame_feed(&fr, hdr, 4), ==, 0);
	errno = 0;
	CHECK_INT(frame_next(&fr, &p, &len, MAX_FRAME_BYTES), ==, -1);
	CHECK_INT(errno, ==, EMSGSIZE);
	test_case("the limit is the caller's");
	CHECK_INT(frame_next(&fr, &p, &len, MAX_FRAME_BYTES + 1), ==, 0);
	frame_reader_free(&fr);

	test_case("exactly the limit: waits for the rest");
	put_le32(hdr, MAX_FRAME_BYTES);
	CHECK_INT(frame_feed(&fr, hdr, 4), ==, 0);
	CHECK_INT(frame_next(&fr, &p, &len, MAX_FRAME_BYTES), ==, 0);
	frame_reader_free(&fr);
}

/* Reads what a pipe holds (at most max bytes) into buf; returns how many. */
static size_t drain_pipe(int fd, uint8_t *buf, size_t max)
{
	size_t got = 0;
	ssize_t n;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += n;
	return got;
}

static void test_frames_out(void)
{
	uint8_t buf[64];
	uint8_t *big;
	int p[2];

	CHECK_INT(pipe(p), ==, 0);
	test_case("a frame: the length little-endian, then the payload");
	CHECK_INT(write_frame(p[1], (const uint8_t *)"hello", 5), ==, 0);
	CHECK_UINT(drain_pipe(p[0], buf, sizeof(buf)), ==, 9);
	CHECK_UINT(get_le32(buf), ==, 5);
	CHECK(!memcmp(buf + 4, "hello", 5));

	test_case("an empty frame: its length alone");
	CHECK_INT(write_frame(p[1], buf, 0), ==, 0);
	CHECK_UINT(drain_pipe(p[0], buf, sizeof(buf)), ==, 4);
	CHECK_UINT(get_le32(buf), ==, 0);

	test_case("over the output limit: refused, nothing written");
	big = calloc(1, MAX_OUT_FRAME_BYTES + 1);
	errno = 0;
	CHECK_INT(write_frame(p[1], big, MAX_OUT_FRAME_BYTES + 1), ==, -1);
	CHECK_INT(errno, ==, EMSGSIZE);
	CHECK_UINT(drain_pipe(p[0], buf, sizeof(buf)), ==, 0);
	free(big);

	test_case("the peer gone: the write's error (SIGPIPE ignored, as the helper does)");
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	CHECK_INT(write_frame(p[1], (const uint8_t *)"x", 1), ==, -1);
	CHECK_INT(errno, ==, EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

TEST_GROUP(framing)
{
	test_frames_in();
	test_frame_limit();
	test_frames_out();
}
