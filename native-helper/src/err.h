/* SPDX-License-Identifier: MIT */
/*
 * Errors carried up to the request that failed.
 *
 * Conventions: functions return 0 (or a count) on success and -1 on
 * failure; a failing function fills the caller's struct herr with an error
 * code of the wire protocol (EC(...) of wire.h), the errno involved and a
 * sentence of context a user can act on.
 */
#ifndef CKPT_ERR_H
#define CKPT_ERR_H

#include <stdbool.h>
#include <stddef.h>

struct herr {
	int code;		/* ERROR_CODE_* of the wire protocol */
	int errnum;		/* errno, 0 when not applicable */
	char msg[1024];
};

/* Fills e (when not NULL); with_errno adds ": <strerror(errnum)>", as CRIU's pr_perror does. */
void herr_fmt(struct herr *e, int code, int errnum, bool with_errno, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define herr_set(e, code, errnum, ...) herr_fmt(e, code, errnum, false, __VA_ARGS__)
#define herr_perror(e, code, errnum, ...) herr_fmt(e, code, errnum, true, __VA_ARGS__)
/* Ends a message cut at size bytes with "..." so the cut shows. */
void mark_truncated(char *buf, size_t size);

#endif
