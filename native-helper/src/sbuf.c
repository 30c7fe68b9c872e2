/* SPDX-License-Identifier: MIT */
/* A growable string, and JSON string literals written into one. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lists.h"
#include "sbuf.h"

int sbuf_add(struct sbuf *b, const char *data, size_t n)
{
	if (array_grow((void **)&b->p, &b->cap, b->len + n + 1, 1))
		return -1;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int sbuf_puts(struct sbuf *b, const char *s)
{
	return sbuf_add(b, s, strlen(s));
}

/* The formatted text when it is longer than sbuf_printf's stack buffer. */
static int sbuf_vprintf_long(struct sbuf *b, int n, const char *fmt, va_list ap)
{
	char *big = malloc(n + 1);
	int ret;

	if (!big)
		return -1;
	vsnprintf(big, n + 1, fmt, ap);
	ret = sbuf_add(b, big, n);
	free(big);
	return ret;
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n, ret;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(tmp))
		return sbuf_add(b, tmp, n);
	va_start(ap, fmt);
	ret = sbuf_vprintf_long(b, n, fmt, ap);
	va_end(ap);
	return ret;
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

const char *sbuf_text(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

/* The escape of one byte of a JSON string, or NULL when it goes as it is. */
static const char *json_escape_of(unsigned char c)
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\b': return "\\b";
	case '\f': return "\\f";
	default: return NULL;
	}
}

/*
 * The length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 when there is none.
 */
static size_t utf8_sequence_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	/* the NUL ending the string fails the range check: no read past it */
	for (size_t i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (p[i] < lo || p[i] > hi)
			return 0;
	return n;
}

/*
 * A JSON string of bytes from the system, which need not be UTF-8: valid
 * sequences go as they are, control characters escaped, and each byte that
 * is not part of valid UTF-8 as the lone surrogate \udc80..\udcff, as the
 * client decodes the same bytes (proto/helper.proto): the file stays valid
 * JSON and loses nothing.
 */
int json_escape(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int ret = sbuf_add(b, "\"", 1);

	while (*p && !ret) {
		const char *esc = json_escape_of(*p);
		size_t n = *p < 0x80 ? 1 : utf8_sequence_len(p);

		if (esc)
			ret = sbuf_puts(b, esc);
		else if (*p < 0x20 || *p == 0x7f)
			ret = sbuf_printf(b, "\\u%04x", *p);
		else if (n == 0)
			ret = sbuf_printf(b, "\\udc%02x", *p);
		else
			ret = sbuf_add(b, (const char *)p, n);
		p += n ? n : 1;
	}
	return ret ? ret : sbuf_add(b, "\"", 1);
}
