/* SPDX-License-Identifier: MIT */
/* Framing of the wire protocol: u32 little-endian length + one message. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

int g_out_fd = 1;

int frame_feed(struct frame_reader *r, const void *data, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		uint8_t *p;

		while (cap < r->len + n)
			cap *= 2;
		p = realloc(r->buf, cap);
		if (!p)
			return -1;
		r->buf = p;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return 0;
}

/* The payload returned stays valid until frame_pop() or frame_feed(). */
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

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
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

int send_helper_message(HelperMessage *m)
{
	size_t len = checkpoint__helper__v1__helper_message__get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	int ret, err;

	if (!buf)
		return -1;
	checkpoint__helper__v1__helper_message__pack(m, buf);
	ret = write_frame(g_out_fd, buf, len);
	err = errno;
	if (ret)
		fprintf(stderr, "checkpoint-helper: cannot write to stdout: %s\n", strerror(err));
	free(buf);
	errno = err;	/* the caller may answer EMSGSIZE otherwise */
	return ret;
}

int send_response(Response *r)
{
	HelperMessage m = CHECKPOINT__HELPER__V1__HELPER_MESSAGE__INIT;

	m.kind_case = CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_RESPONSE;
	m.response = r;
	return send_helper_message(&m);
}

int send_event(uint32_t id, Event *ev)
{
	HelperMessage m = CHECKPOINT__HELPER__V1__HELPER_MESSAGE__INIT;

	ev->request_id = id;
	m.kind_case = CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_EVENT;
	m.event = ev;
	return send_helper_message(&m);
}

void emit_progress(uint32_t id, const char *stage, const char *fmt, ...)
{
	Event ev = CHECKPOINT__HELPER__V1__EVENT__INIT;
	Progress p = CHECKPOINT__HELPER__V1__PROGRESS__INIT;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p.stage = (char *)stage;
	p.message = msg;
	ev.kind_case = CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRESS;
	ev.progress = &p;
	send_event(id, &ev);
}

void emit_tree_state(uint32_t id, pid_t root, int state)
{
	Event ev = CHECKPOINT__HELPER__V1__EVENT__INIT;
	TreeStateChange t = CHECKPOINT__HELPER__V1__TREE_STATE_CHANGE__INIT;

	t.root_pid = root;
	t.state = state;
	ev.kind_case = CHECKPOINT__HELPER__V1__EVENT__KIND_TREE_STATE;
	ev.tree_state = &t;
	send_event(id, &ev);
}
