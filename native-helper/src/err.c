/* SPDX-License-Identifier: MIT */
/* Errors carried up to the request that failed. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

void herr_fmt(struct herr *e, int code, int errnum, bool with_errno, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (!e)
		return;
	e->code = code;
	e->errnum = errnum;
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n < sizeof(e->msg) && with_errno)
		n += snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
	if (n >= sizeof(e->msg))
		mark_truncated(e->msg, sizeof(e->msg));
}

void mark_truncated(char *buf, size_t size)
{
	if (size > 4)
		memcpy(buf + size - 4, "...", 4);
}
