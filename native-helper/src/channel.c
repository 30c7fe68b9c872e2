/* SPDX-License-Identifier: MIT */
/* The channel to the client: responses and events, framed on stdout. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "framing.h"

int g_out_fd = 1;

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
