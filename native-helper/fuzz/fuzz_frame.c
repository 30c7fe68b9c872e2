/* SPDX-License-Identifier: MIT */
/*
 * The frame reader (framing.c) as main.c drives it: the peer's bytes fed in
 * reads of any size, every complete frame taken, decoded as a Request (as
 * drain_frames does) and popped, until more bytes are needed or a frame is
 * refused as too long. The first input byte sets the size of the reads.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "framing.h"
#include "util.h"
#include "wire.h"

/* What frame_next hands out must lie in what was fed and say the length the prefix said. */
static void check_frame(const struct frame_reader *r, const uint8_t *payload, size_t len)
{
	if (payload != r->buf + 4 || len != get_le32(r->buf) || len > r->len - 4) {
		fprintf(stderr, "frame_next: a payload of %zu bytes at +%td of %zu fed\n", len, payload - r->buf,
			r->len);
		abort();
	}
}

/* Takes every complete frame; -1 once framing is lost (a frame over the limit). */
static int drain(struct frame_reader *r)
{
	const uint8_t *payload;
	size_t len;
	int ret;

	while ((ret = frame_next(r, &payload, &len, MAX_FRAME_BYTES)) == 1) {
		Request *req;

		check_frame(r, payload, len);
		req = checkpoint__helper__v1__request__unpack(NULL, len, payload);
		if (req)
			checkpoint__helper__v1__request__free_unpacked(req, NULL);
		frame_pop(r);
	}
	return ret < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_reader r = { 0 };
	size_t chunk;

	if (size < 1)
		return 0;
	chunk = data[0] ? data[0] : 65536;	/* 0: main.c's whole reads */
	data++;
	size--;
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (frame_feed(&r, data + off, n) || drain(&r))
			break;
	}
	frame_reader_free(&r);
	return 0;
}
