/* SPDX-License-Identifier: MIT */
/* Tests of arena.c: a request's allocations, zeroed, copied, formatted and grown. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "util.h"
#include "check.h"

/* The first byte of p[0 .. n) that is not zero, or n. */
static size_t first_nonzero(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !p[i])
		i++;
	return i;
}

/* Zeroed, aligned for any type and not shared, whatever the size, before and after the arena is freed. */
static void test_alloc(void)
{
	static const size_t sizes[] = { 0, 1, 7, 16, 4096, 100000 };
	unsigned char *prev = NULL;

	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
			unsigned char *p = arena_alloc(sizes[i]);

			test_case("round %d, %zu bytes", round, sizes[i]);
			CHECK(p != NULL);
			CHECK(p != prev);
			CHECK_UINT((uintptr_t)p % _Alignof(max_align_t), ==, 0);
			CHECK_UINT(first_nonzero(p, sizes[i]), ==, sizes[i]);
			memset(p, 0xa5, sizes[i]);	/* all of it is the caller's (ASan says otherwise) */
			prev = p;
		}
		arena_free_all();
		prev = NULL;
	}
}

static void test_strdup(void)
{
	const char *s = "checkpoint";
	char *a = arena_strdup(s), *b = arena_strdup(s), *empty = arena_strdup(NULL);

	test_case("arena_strdup");
	CHECK_STR(a, ==, s);
	CHECK(a != s);
	CHECK(a != b);
	a[0] = 'C';
	CHECK_STR(b, ==, "checkpoint");	/* copies of their own */
	CHECK_STR(empty, ==, "");
	CHECK_STR(arena_strdup(""), ==, "");
}

/* Short and long results, however long the text formatted is. */
static void test_printf(void)
{
	static const size_t lens[] = { 0, 1, 511, 512, 4096, 70000 };
	char long_text[70001], want[70100];

	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		char *got;

		test_case("%zu bytes", lens[i]);
		memset(long_text, 'x', lens[i]);
		long_text[lens[i]] = '\0';
		snprintf(want, sizeof(want), "<%s|%d>", long_text, -42);
		got = arena_printf("<%s|%d>", long_text, -42);
		CHECK_UINT(strlen(got), ==, lens[i] + 6);
		CHECK_STR(got, ==, want);
	}
}

/* Appending one at a time: the capacity doubles from 8, and every element is kept. */
static void test_grow(void)
{
	size_t cap = 0, n, want_cap = 8;
	int *v = NULL;

	for (n = 0; n < 300; n++) {
		int *before = v;
		size_t old_cap = cap;

		test_case("element %zu", n);
		while (want_cap <= n)
			want_cap *= 2;
		v = arena_grow(v, n, &cap, sizeof(*v));
		CHECK_UINT(cap, ==, want_cap);
		if (n < old_cap)
			CHECK(v == before);	/* room left: the same array */
		else
			CHECK(v != before);
		v[n] = (int)n * 3;
	}
	test_case("after 300");
	for (n = 0; n < 300 && v[n] == (int)n * 3; n++)
		;
	CHECK_UINT(n, ==, 300);
}

/* Growing a copy from capacity 0 with nothing in it. */
static void test_grow_empty(void)
{
	size_t cap = 0;
	long *v = arena_grow(NULL, 0, &cap, sizeof(*v));

	test_case("arena_grow from nothing");
	CHECK(v != NULL);
	CHECK_UINT(cap, ==, 8);
	CHECK_UINT(first_nonzero((unsigned char *)v, 8 * sizeof(*v)), ==, 8 * sizeof(*v));
}

TEST_GROUP(arena)
{
	test_alloc();
	test_strdup();
	test_printf();
	test_grow();
	test_grow_empty();
}
