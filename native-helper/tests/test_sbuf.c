/* SPDX-License-Identifier: MIT */
/* Tests of sbuf.c: a growable string, and JSON string literals written into one. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "util.h"
#include "check.h"

/* The JSON literal of the one byte c, as RFC 8259 writes it: the short escapes where there are. */
static void json_of_byte(unsigned char c, char *out, size_t len)
{
	static const char *const short_esc[0x20] = {
		['\b'] = "\\b", ['\t'] = "\\t", ['\n'] = "\\n", ['\f'] = "\\f", ['\r'] = "\\r",
	};

	if (c < 0x20 && short_esc[c])
		snprintf(out, len, "\"%s\"", short_esc[c]);
	else if (c < 0x20 || c == 0x7f)
		snprintf(out, len, "\"\\u%04x\"", c);
	else if (c == '"' || c == '\\')
		snprintf(out, len, "\"\\%c\"", c);
	else if (c >= 0x80)
		snprintf(out, len, "\"\\udc%02x\"", c);	/* alone, never valid UTF-8 */
	else
		snprintf(out, len, "\"%c\"", c);
}

/* Every byte but NUL alone: control characters escaped, quotes and backslashes too, a byte >= 0x80 (alone, not UTF-8) as \udcXX, the rest as it is. */
static void test_json_bytes(void)
{
	struct sbuf b = { 0 };
	char in[2] = "", want[16];

	for (int c = 1; c < 0x100; c++) {
		test_case("byte 0x%02x", c);
		in[0] = (char)c;
		json_of_byte((unsigned char)c, want, sizeof(want));
		CHECK_INT(json_escape(&b, in), ==, 0);
		CHECK_STR(sbuf_text(&b), ==, want);
		sbuf_free(&b);
	}
}

static void test_json_strings(void)
{
	static const struct { const char *what, *in, *want; } cases[] = {
		{ "plain", "plain", "\"plain\"" },
		{ "mixed", "q\"b\\n\nt\tc\x01\x1f" "\x7f" "é", "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f\\u007fé\"" },
		{ "NULL", NULL, "\"\"" },
		{ "empty", "", "\"\"" },
		{ "a path with quotes", "/tmp/\"x\"/y", "\"/tmp/\\\"x\\\"/y\"" },
		{ "an escape sequence", "\x1b[31mred", "\"\\u001b[31mred\"" },
		{ "a cut UTF-8 sequence", "a\xc3", "\"a\\udcc3\"" },
		{ "a name that is not UTF-8", "sl\xff" "eep", "\"sl\\udcffeep\"" },
		{ "valid 2, 3 and 4-byte sequences", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" },
		{ "an overlong slash", "\xc0\xaf", "\"\\udcc0\\udcaf\"" },
		{ "an encoded surrogate", "\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"" },
		{ "above U+10FFFF", "\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\"" },
		{ "a sequence cut by the end", "\xf0\x9f\x98", "\"\\udcf0\\udc9f\\udc98\"" },
	};
	struct sbuf b = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("%s", cases[i].what);
		CHECK_INT(json_escape(&b, cases[i].in), ==, 0);
		CHECK_STR(sbuf_text(&b), ==, cases[i].want);
		CHECK_UINT(b.len, ==, strlen(cases[i].want));
		sbuf_free(&b);
	}
	test_case("appended");
	CHECK_INT(sbuf_puts(&b, "[\"a\", "), ==, 0);
	CHECK_INT(json_escape(&b, "b\n"), ==, 0);
	CHECK_INT(sbuf_puts(&b, "]"), ==, 0);
	CHECK_STR(sbuf_text(&b), ==, "[\"a\", \"b\\n\"]");
	sbuf_free(&b);
}

/* Nothing added: "" and no memory; bytes added are kept, NULs among them, and always NUL-terminated. */
static void test_add(void)
{
	struct sbuf b = { 0 };

	test_case("sbuf_add");
	CHECK(b.p == NULL);
	CHECK_STR(sbuf_text(&b), ==, "");
	CHECK_INT(sbuf_add(&b, "ab\0cd", 5), ==, 0);
	CHECK_UINT(b.len, ==, 5);
	CHECK(!memcmp(b.p, "ab\0cd", 6));
	CHECK_INT(sbuf_add(&b, "", 0), ==, 0);
	CHECK_UINT(b.len, ==, 5);
	CHECK_INT(sbuf_puts(&b, "ef"), ==, 0);
	CHECK(!memcmp(b.p, "ab\0cdef", 8));
	CHECK_UINT(b.len, ==, 7);
	for (int i = 0; i < 1000; i++)
		sbuf_puts(&b, "0123456789");
	CHECK_UINT(b.len, ==, 7 + 10000);
	CHECK_UINT(strlen(b.p + 7), ==, 10000);
	CHECK_STR(b.p + 7 + 9990, ==, "0123456789");
	sbuf_free(&b);
	CHECK(b.p == NULL);
	CHECK_UINT(b.len, ==, 0);
	CHECK_UINT(b.cap, ==, 0);
	CHECK_STR(sbuf_text(&b), ==, "");
}

/* Formatted text on both sides of the 512-byte stack buffer, after what was there. */
static void test_printf(void)
{
	static const size_t lens[] = { 0, 1, 502, 503, 504, 505, 4096, 100000 };	/* 503: 511 bytes, 504: 512 */
	char *fill = malloc(100001), *want = malloc(100100);
	struct sbuf b = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		test_case("%zu bytes of %%s", lens[i]);
		memset(fill, 'f', lens[i]);
		fill[lens[i]] = '\0';
		snprintf(want, 100100, "head:[%s|%05d]", fill, 42);
		CHECK_INT(sbuf_puts(&b, "head:"), ==, 0);
		CHECK_INT(sbuf_printf(&b, "[%s|%05d]", fill, 42), ==, 0);
		CHECK_UINT(b.len, ==, strlen(want));
		CHECK_STR(sbuf_text(&b), ==, want);
		if (b.len == strlen(want))	/* the end, where a cut would show (a failure prints the start) */
			CHECK_STR(sbuf_text(&b) + b.len - 10, ==, want + b.len - 10);
		sbuf_free(&b);
	}
	free(fill);
	free(want);
}

TEST_GROUP(sbuf)
{
	test_json_bytes();
	test_json_strings();
	test_add();
	test_printf();
}
