/* SPDX-License-Identifier: MIT */
/*
 * The tests' way into the service: a request through handle_request, with
 * the helper's output (g_out_fd) in a temporary file, and the frames it
 * wrote decoded back.
 */
#ifndef CKPT_TEST_SERVICE_H
#define CKPT_TEST_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "wire.h"

/* Empties the output file before a request. */
void out_reset(void);
/* The frames written to g_out_fd since out_reset, decoded (at most max). */
size_t out_frames(HelperMessage **v, size_t max);
/*
 * Runs req through the dispatch; returns the answer, the last frame written,
 * decoded. *nevents gets how many events came before it.
 */
HelperMessage *roundtrip_events(Request *req, size_t *nevents);
/* Runs req through the dispatch; returns the one frame it wrote, decoded. */
HelperMessage *roundtrip(Request *req);
void msg_free(HelperMessage *m);
/* The answer's error code, or -1 when it is not an error. */
int err_code(const HelperMessage *m);
/* The answer is an error whose message holds s. */
bool err_mentions(const HelperMessage *m, const char *s);
/* Open descriptors of this process (the one reading /proc/self/fd included). */
int count_fds(void);
/*
 * Runs fn with the helper's output going to a temporary file; checks that
 * every path fn takes, failing ones included, closed what it opened.
 */
void with_out_file(void (*fn)(void));
/* No child of this process is left unreaped. */
bool no_children(void);

#endif
