/* SPDX-License-Identifier: MIT */
/* Tests of util.c: randomness, time, words, text, order. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "check.h"

/* The first byte of s that is not a lower-case hex digit, or its length. */
static size_t hex_span(const char *s)
{
	return strspn(s, "0123456789abcdef");
}

/* nhex digits and a NUL, hex only, whatever nhex is up to 64; more is refused. */
static void test_random_hex(void)
{
	static const size_t lens[] = { 0, 1, 2, 15, 16, 63, 64 };
	char out[80], other[80];

	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		test_case("%zu digits", lens[i]);
		memset(out, 'X', sizeof(out));
		CHECK_INT(random_hex(out, lens[i]), ==, 0);
		CHECK_UINT(strlen(out), ==, lens[i]);
		CHECK_UINT(hex_span(out), ==, lens[i]);
		CHECK(out[lens[i] + 1] == 'X');	/* nothing written past the NUL */
	}
	test_case("two draws");
	CHECK_INT(random_hex(out, 32), ==, 0);
	CHECK_INT(random_hex(other, 32), ==, 0);
	CHECK_STR(out, !=, other);
	test_case("65 digits");
	memset(out, 'X', sizeof(out));
	CHECK_INT(random_hex(out, 65), ==, -1);
	CHECK(out[0] == 'X');
}

/* Both digits of every random byte are used: in 100 draws of 64 each of the 16 shows. */
static void test_random_hex_digits(void)
{
	int seen[2][16] = { { 0 } };
	char out[65];

	for (int i = 0; i < 100; i++) {
		CHECK_INT(random_hex(out, 64), ==, 0);
		for (int j = 0; j < 64; j++) {
			const char *d = strchr("0123456789abcdef", out[j]);

			if (d)
				seen[j & 1][d - "0123456789abcdef"]++;
		}
	}
	for (int half = 0; half < 2; half++) {
		for (int d = 0; d < 16; d++) {
			test_case("digit %x at %s places", d, half ? "odd" : "even");
			CHECK_INT(seen[half][d], >, 0);
		}
	}
}

/* "YYYYmmdd-HHMMSS" of now in UTC: the same as strftime of a time read around it. */
static void test_utc_stamp(void)
{
	char got[32], before[32], after[32];
	time_t t0, t1;
	struct tm tm;

	test_case("utc_stamp");
	t0 = time(NULL);
	utc_stamp(got, sizeof(got));
	t1 = time(NULL);
	strftime(before, sizeof(before), "%Y%m%d-%H%M%S", gmtime_r(&t0, &tm));
	strftime(after, sizeof(after), "%Y%m%d-%H%M%S", gmtime_r(&t1, &tm));
	CHECK_UINT(strlen(got), ==, 15);
	CHECK_UINT(strspn(got, "0123456789"), ==, 8);
	CHECK(got[8] == '-');
	CHECK_UINT(strspn(got + 9, "0123456789"), ==, 6);
	if (strcmp(got, before))
		CHECK_STR(got, ==, after);
	else
		CHECK_STR(got, ==, before);
}

static void test_plural(void)
{
	static const struct { size_t n; const char *want; } cases[] = {
		{ 0, "processes" }, { 1, "process" }, { 2, "processes" }, { SIZE_MAX, "processes" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("%zu", cases[i].n);
		CHECK_STR(plural(cases[i].n, "process", "processes"), ==, cases[i].want);
	}
}

/* Text of at most max bytes, tab the only control character allowed. */
static void test_valid_text(void)
{
	static const struct { const char *what, *s; size_t max; bool want; } cases[] = {
		{ "11 bytes, at most 20", "hello world", 20, true },
		{ "11 bytes, at most 5", "hello world", 5, false },
		{ "5 bytes, at most 5", "hello", 5, true },
		{ "6 bytes, at most 5", "hello!", 5, false },
		{ "empty", "", 0, true },
		{ "NULL", NULL, 0, true },
		{ "a tab", "a\tb", 5, true },
		{ "UTF-8", "\xc3\xa9 \xc3\xbc", 10, true },
		{ "SOH", "a\x01", 5, false },
		{ "a newline", "a\nb", 5, false },
		{ "a carriage return", "a\rb", 5, false },
		{ "an escape sequence", "\x1b[31mred", 20, false },
		{ "US (0x1f)", "a\x1f", 5, false },
		{ "DEL (0x7f), a control character too", "a\x7f" "b", 5, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("%s", cases[i].what);
		CHECK_INT(valid_text(cases[i].s, cases[i].max), ==, cases[i].want);
	}
}

static void test_str_ends_with(void)
{
	static const struct { const char *s, *suffix; bool want; } cases[] = {
		{ "x.partial", ".partial", true }, { ".partial", ".partial", true },
		{ "partial", ".partial", false }, { "x.partial.tmp", ".partial", false },
		{ "abc", "", true }, { "", "", true }, { "", "a", false }, { "x", "xx", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("\"%s\" ends with \"%s\"", cases[i].s, cases[i].suffix);
		CHECK_INT(str_ends_with(cases[i].s, cases[i].suffix), ==, cases[i].want);
	}
}

/* The sign of the order of a and b, values far apart included (a difference would overflow an int). */
static void test_cmp_u64(void)
{
	static const uint64_t v[] = { 0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffffull, 1ull << 32, 1ull << 63,
				      UINT64_MAX - 1, UINT64_MAX };
	uint64_t sorted[] = { UINT64_MAX, 5, 1ull << 40, 0, 5, 1ull << 63, 3 };
	const uint64_t want[] = { 0, 3, 5, 5, 1ull << 40, 1ull << 63, UINT64_MAX };

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(v); j++) {
			test_case("%llu and %llu", (unsigned long long)v[i], (unsigned long long)v[j]);
			CHECK_INT(cmp_u64(&v[i], &v[j]), ==, (i > j) - (i < j));
		}
	}
	test_case("qsort");
	qsort(sorted, ARRAY_SIZE(sorted), sizeof(sorted[0]), cmp_u64);
	CHECK(!memcmp(sorted, want, sizeof(want)));
	CHECK(bsearch(&want[4], sorted, ARRAY_SIZE(sorted), sizeof(sorted[0]), cmp_u64) == &sorted[4]);
}

/* The monotonic clock never goes back, and sleep_ms sleeps at least that long. */
static void test_clocks(void)
{
	uint64_t t0 = now_us(), prev = t0, t1, ms = now_unix_ms();
	int back = 0;

	test_case("clocks");
	for (int i = 0; i < 10000; i++) {
		uint64_t t = now_us();

		back += t < prev;
		prev = t;
	}
	CHECK_INT(back, ==, 0);
	sleep_ms(20);
	t1 = now_us();
	CHECK_UINT(t1 - t0, >=, 20000);
	CHECK_UINT(t1 - t0, <, 5000000);
	/* the wall clock in ms agrees with time() */
	CHECK_UINT(ms / 1000, >=, (uint64_t)time(NULL) - 2);
	CHECK_UINT(ms / 1000, <=, (uint64_t)time(NULL));
}

/* poll_pause: 100 us, doubling, at most 5 ms; it sleeps at least as long as it says. */
static void test_poll_pause(void)
{
	static const unsigned want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
	unsigned us = 0;

	test_case("poll_pause");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t t0 = now_us();

		poll_pause(&us);
		CHECK_UINT(us, ==, want[i]);
		CHECK_UINT(now_us() - t0, >=, want[i]);
	}
}

TEST_GROUP(util)
{
	test_random_hex();
	test_random_hex_digits();
	test_utc_stamp();
	test_plural();
	test_valid_text();
	test_str_ends_with();
	test_cmp_u64();
	test_clocks();
	test_poll_pause();
}
