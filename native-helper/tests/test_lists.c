/* SPDX-License-Identifier: MIT */
/* Tests of lists.c: arrays grown, pids listed, descriptors held and closed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "lists.h"
#include "util.h"
#include "check.h"

/* The capacity array_grow gives from none, for need elements. */
static size_t doubled_from_64(size_t need)
{
	size_t cap = 64;

	while (cap < need)
		cap *= 2;
	return cap;
}

/* Room for need elements: from 64 up, doubling; what was in the array is kept. */
static void test_array_grow(void)
{
	static const size_t needs[] = { 1, 64, 65, 128, 129, 1000, 1000, 5000 };
	size_t cap = 0, filled = 0, kept;
	long *v = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(needs); i++) {
		size_t want = doubled_from_64(needs[i]), old_cap = cap;
		long *before = v;

		test_case("need %zu after capacity %zu", needs[i], cap);
		if (want < cap)
			want = cap;	/* it never shrinks */
		CHECK_INT(array_grow((void **)&v, &cap, needs[i], sizeof(*v)), ==, 0);
		CHECK_UINT(cap, ==, want);
		if (needs[i] <= old_cap)
			CHECK(v == before);	/* room enough: not moved */
		for (kept = 0; kept < filled && v[kept] == (long)kept * 7; kept++)
			;
		CHECK_UINT(kept, ==, filled);
		for (; filled < needs[i]; filled++)
			v[filled] = (long)filled * 7;
	}
	free(v);
}

/* An array that is big enough already is left as it is, capacity 0 asked or not. */
static void test_array_grow_enough(void)
{
	size_t cap = 10;
	char buf[10], *v = buf;

	test_case("array_grow with room enough");
	CHECK_INT(array_grow((void **)&v, &cap, 10, 1), ==, 0);
	CHECK(v == buf);
	CHECK_UINT(cap, ==, 10);
	CHECK_INT(array_grow((void **)&v, &cap, 0, 1), ==, 0);
	CHECK(v == buf);
	CHECK_UINT(cap, ==, 10);
}

/*
 * A need whose bytes do not fit a size_t is out of memory, and the array is
 * as it was (a wrapped capacity would realloc to nothing and free it, or
 * double forever).
 */
static void test_array_grow_overflow(void)
{
	static const struct { const char *what; size_t need, size; } cases[] = {
		{ "need above SIZE_MAX / 2 bytes of 1", SIZE_MAX / 2 + 2, 1 },
		{ "need * size wraps to 0", ((size_t)1 << 61) + 1, 8 },
		{ "need SIZE_MAX of 2", SIZE_MAX, 2 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t cap = 0;
		long *v = NULL;

		test_case("%s", cases[i].what);
		CHECK_INT(array_grow((void **)&v, &cap, 4, sizeof(*v)), ==, 0);
		v[3] = 42;
		errno = 0;
		CHECK_INT(array_grow((void **)&v, &cap, cases[i].need, cases[i].size), ==, -1);
		CHECK_INT(errno, ==, ENOMEM);
		CHECK_UINT(cap, ==, 64);
		CHECK_INT(v[3], ==, 42);	/* still the array's, not freed */
		free(v);
	}
}

static void test_pidlist(void)
{
	struct pidlist l = { 0 };
	size_t n;

	test_case("pidlist filled");
	CHECK(!pidlist_has(&l, 1));
	for (pid_t pid = 100; pid < 400; pid += 2)
		CHECK_INT(pidlist_add(&l, pid), ==, 0);
	CHECK_UINT(l.n, ==, 150);
	for (n = 0; n < l.n && l.v[n] == 100 + 2 * (pid_t)n; n++)
		;
	CHECK_UINT(n, ==, 150);	/* in the order added */
	for (pid_t pid = 98; pid < 402; pid++) {
		test_case("pid %d", (int)pid);
		CHECK_INT(pidlist_has(&l, pid), ==, pid >= 100 && pid < 400 && pid % 2 == 0);
	}
	test_case("freed");
	pidlist_free(&l);
	CHECK(l.v == NULL);
	CHECK_UINT(l.n, ==, 0);
	CHECK_UINT(l.cap, ==, 0);
	CHECK(!pidlist_has(&l, 100));
	CHECK_INT(pidlist_add(&l, 7), ==, 0);	/* usable again */
	CHECK(pidlist_has(&l, 7));
	pidlist_free(&l);
}

/* Whether fd is an open descriptor of this process. */
static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* Every descriptor held is closed, and the list is empty again. */
static void test_fdlist_close(void)
{
	struct fdlist l = { 0 };
	int held[80];

	for (size_t i = 0; i < ARRAY_SIZE(held); i += 2) {
		test_case("pipe %zu", i / 2);
		CHECK_INT(pipe2(held + i, O_CLOEXEC), ==, 0);
		CHECK_INT(fdlist_add(&l, held[i]), ==, 0);
		CHECK_INT(fdlist_add(&l, held[i + 1]), ==, 0);
	}
	test_case("held");
	CHECK_UINT(l.n, ==, ARRAY_SIZE(held));
	fdlist_close(&l);
	for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
		test_case("descriptor %d", held[i]);
		CHECK(!is_open(held[i]));
	}
	test_case("emptied");
	CHECK(l.v == NULL);
	CHECK_UINT(l.n, ==, 0);
	CHECK_UINT(l.cap, ==, 0);
	fdlist_close(&l);	/* an empty list: nothing to do */
	CHECK_UINT(l.n, ==, 0);
}

TEST_GROUP(lists)
{
	test_array_grow();
	test_array_grow_enough();
	test_array_grow_overflow();
	test_pidlist();
	test_fdlist_close();
}
