/* SPDX-License-Identifier: MIT */
/* A growable string, and JSON written into one (manifest.json). */
#ifndef CKPT_SBUF_H
#define CKPT_SBUF_H

#include <stddef.h>

struct sbuf {
	char *p;		/* NUL-terminated once anything was added; NULL before */
	size_t len;
	size_t cap;
};

/* Each returns 0, or -1 when out of memory (b is as it was). */
int sbuf_add(struct sbuf *b, const char *data, size_t n);
int sbuf_puts(struct sbuf *b, const char *s);
int sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_free(struct sbuf *b);
/* The text so far ("" when nothing was added). */
const char *sbuf_text(const struct sbuf *b);

/* Appends s as a JSON string literal (with quotes). Bytes >= 0x80 pass as is. */
int json_escape(struct sbuf *b, const char *s);

#endif
