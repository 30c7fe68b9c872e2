/* SPDX-License-Identifier: MIT */
/*
 * The TCP connections a checkpoint saved, as a restore reads them before it
 * kills anything (tcp_saved_read): files.img and one tcp-stream image in a
 * checkpoint directory of the sandbox, matched against a leak report of one
 * TCP leak with the policy SAVE. The input is split so:
 *
 *   u32 le  the inode of the stream image: it is tcp-stream-<ino hex>.img
 *   u16 le  R, then R bytes: the leak's resource ("tcp A -> B")
 *   u32 le  S, then S bytes: the tcp-stream image
 *   the rest: files.img
 *
 * (a length past the input takes what is left). A seed whose files.img
 * names that connection with that inode reaches the stream image. What
 * comes out is checked: every connection is the report's.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"
#include "tcp_restore.h"
#include "util.h"
#include "wire.h"

struct input {
	const uint8_t *p;
	size_t left;
};

/* The next n bytes (fewer when the input ends first); *got how many. */
static const uint8_t *take(struct input *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	*got = n < in->left ? n : in->left;
	in->p += *got;
	in->left -= *got;
	return p;
}

/* A little-endian number of n bytes (2 or 4); 0 when the input ends before it. */
static uint32_t take_le(struct input *in, size_t n)
{
	size_t got;
	const uint8_t *p = take(in, n, &got);

	if (got < n)
		return 0;
	return n == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : get_le32(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	Leak leak = CHECKPOINT__HELPER__V1__LEAK__INIT, *leaks[1] = { &leak };
	LeakReport report = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	struct tcp_saved saved = { 0 };
	struct herr e = { 0 };
	uint32_t ino = take_le(&in, 4);
	size_t n;
	const uint8_t *p = take(&in, take_le(&in, 2), &n);
	char stream[40];

	leak.kind = LK(TCP);
	leak.policy = LP(SAVE);
	leak.resource = sandbox_string(p, n);
	report.n_leaks = 1;
	report.leaks = leaks;
	snprintf(stream, sizeof(stream), "tcp-stream-%x.img", ino);
	p = take(&in, take_le(&in, 4), &n);
	sandbox_write(sandbox_dirfd(), stream, p, n);
	p = take(&in, in.left, &n);
	sandbox_write(sandbox_dirfd(), "files.img", p, n);
	if (leak.resource && tcp_saved_read(sandbox_dirfd(), "fuzzed", &report, &saved, &e) == 0)
		for (size_t i = 0; i < saved.n; i++)
			if (strcmp(saved.v[i].resource, leak.resource))
				abort();
	tcp_saved_free(&saved);
	free(leak.resource);
	unlinkat(sandbox_dirfd(), stream, 0);	/* the next input starts with none */
	return 0;
}
