/* SPDX-License-Identifier: MIT */
/* Framing of the wire protocol: u32 little-endian length + one message. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "lists.h"
#include "framing.h"
#include "util.h"

int frame_feed(struct frame_reader *r, const void *data, size_t n)
{
	if (array_grow((void **)&r->buf, &r->cap, r->len + n, 1))
		return -1;
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return 0;
}

int frame_next(struct frame_reader *r, const uint8_t **payload, size_t *len, size_t max)
{
	uint32_t n;

	if (r->len < 4)
		return 0;
	n = get_le32(r->buf);
	if (n > max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (r->len - 4 < n)
		return 0;
	*payload = r->buf + 4;
	*len = n;
	return 1;
}

/* Drops the frame frame_next just returned. */
void frame_pop(struct frame_reader *r)
{
	uint32_t n = get_le32(r->buf);

	memmove(r->buf, r->buf + 4 + n, r->len - 4 - n);
	r->len -= 4 + n;
}

void frame_reader_free(struct frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

int write_frame(int fd, const uint8_t *payload, size_t len)
{
	uint8_t hdr[4] = { len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, (len >> 24) & 0xff };

	if (len > MAX_OUT_FRAME_BYTES) {
		errno = EMSGSIZE;
		return -1;
	}
	if (write_all(fd, hdr, 4))
		return -1;
	return write_all(fd, payload, len);
}
