/* SPDX-License-Identifier: MIT */
/* Tests of framing.c: frames in and out. */
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

#include "framing.h"
#include "util.h"
#include "check.h"


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

TEST_GROUP(framing)
{
	test_framing();
}
