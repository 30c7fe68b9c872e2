/* SPDX-License-Identifier: MIT */
/* Framing of the wire protocol: a u32 little-endian length, then one message. */
#ifndef CKPT_FRAMING_H
#define CKPT_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#define MAX_FRAME_BYTES (16u * 1024 * 1024)
/*
 * Frames the helper writes: a read_image answer carries up to MAX_READ_BYTES
 * of data plus a few bytes of framing per range, so it may exceed the request
 * limit a little (the client accepts 64 MiB).
 */
#define MAX_OUT_FRAME_BYTES (MAX_FRAME_BYTES + (1u << 20))

struct frame_reader {
	uint8_t *buf;
	size_t len;
	size_t cap;
};

/* Appends bytes read from the peer. */
int frame_feed(struct frame_reader *r, const void *data, size_t n);
/*
 * Returns 1 and the payload of the next complete frame (valid until
 * frame_pop/frame_feed), 0 when more bytes are needed, -1 with errno EMSGSIZE when
 * the next frame is longer than max.
 */
int frame_next(struct frame_reader *r, const uint8_t **payload, size_t *len, size_t max);
void frame_pop(struct frame_reader *r);
void frame_reader_free(struct frame_reader *r);
/* One frame of len bytes; EMSGSIZE beyond MAX_OUT_FRAME_BYTES. */
int write_frame(int fd, const uint8_t *payload, size_t len);

#endif
