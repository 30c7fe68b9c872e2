/* SPDX-License-Identifier: MIT */
/*
 * The channel to the client: responses and events, framed on the helper's
 * stdout (g_out_fd). Events carry the id of the request they belong to.
 */
#ifndef CKPT_CHANNEL_H
#define CKPT_CHANNEL_H

#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

/* Where frames go: a copy of stdout, made by main before stdout is pointed at /dev/null. */
extern int g_out_fd;

/* -1 with errno (EMSGSIZE: over the frame limit, so the caller may answer otherwise). */
int send_helper_message(HelperMessage *m);
int send_response(Response *r);
/* Sends ev, whose kind the caller set, as an event of request id. */
int send_event(uint32_t id, Event *ev);
void emit_progress(uint32_t id, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void emit_tree_state(uint32_t id, pid_t root, int state);

#endif
