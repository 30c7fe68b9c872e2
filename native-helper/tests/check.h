/* SPDX-License-Identifier: MIT */
/*
 * The unit tests' checks and groups.
 *
 * A failed check prints where it is, the case it was in (test_case) and
 * the values it compared:
 *   FAIL tests/test_proc.c:42 [comm with parentheses]: st.ppid == 1 (st.ppid = 0, 1 = 1)
 * A test file defines its groups with TEST_GROUP(name) { ... }; they
 * register themselves and run in the order of their names.
 */
#ifndef CKPT_CHECK_H
#define CKPT_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

extern int passed, failed;

/* The case the checks that follow are in, until the next; every group starts with none. */
void test_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void check_true(bool ok, const char *expr, const char *file, int line);
void check_int(bool ok, const char *expr, const char *a, long long va, const char *b, long long vb,
	       const char *file, int line);
void check_uint(bool ok, const char *expr, const char *a, unsigned long long va, const char *b,
		unsigned long long vb, const char *file, int line);
void check_str(bool ok, const char *expr, const char *a, const char *va, const char *b, const char *vb,
	       const char *file, int line);
void check_ok(int ret, const struct herr *e, const char *expr, const char *file, int line);

/* Any condition. */
#define CHECK(cond) check_true((cond), #cond, __FILE__, __LINE__)

/* Signed integers (pids, descriptors, counts, return values): CHECK_INT(n, ==, 3). */
#define CHECK_INT(a, op, b) do {							\
	long long check_a_ = (long long)(a), check_b_ = (long long)(b);			\
	check_int(check_a_ op check_b_, #a " " #op " " #b, #a, check_a_, #b, check_b_,	\
		  __FILE__, __LINE__);							\
} while (0)

/* Unsigned integers (sizes, inodes, offsets): printed in decimal. */
#define CHECK_UINT(a, op, b) do {							\
	unsigned long long check_a_ = (unsigned long long)(a);				\
	unsigned long long check_b_ = (unsigned long long)(b);				\
	check_uint(check_a_ op check_b_, #a " " #op " " #b, #a, check_a_, #b, check_b_,	\
		   __FILE__, __LINE__);							\
} while (0)

/* Strings by strcmp (NULL is only equal to NULL): CHECK_STR(name, ==, "cat"). */
#define CHECK_STR(a, op, b) do {							\
	const char *check_a_ = (a), *check_b_ = (b);					\
	int check_c_ = check_a_ && check_b_ ? strcmp(check_a_, check_b_)		\
					     : (check_a_ != NULL) - (check_b_ != NULL);	\
	check_str(check_c_ op 0, #a " " #op " " #b, #a, check_a_, #b, check_b_,		\
		  __FILE__, __LINE__);							\
} while (0)

/* haystack holds needle (haystack NULL fails). */
#define CHECK_CONTAINS(haystack, needle) do {						\
	const char *check_h_ = (haystack), *check_n_ = (needle);			\
	check_str(check_h_ && strstr(check_h_, check_n_), #haystack " contains " #needle,	\
		  #haystack, check_h_, #needle, check_n_, __FILE__, __LINE__);		\
} while (0)

/* A call that returns 0 on success and fills e on failure: its message is printed. */
#define CHECK_OK(call, e) check_ok((call), (e), #call, __FILE__, __LINE__)

struct test_group {
	const char *name;
	void (*run)(void);
	struct test_group *next;
};

void test_register(struct test_group *g);

#define TEST_GROUP(name)								\
	static void group_##name(void);							\
	static struct test_group name##_group = { #name, group_##name, NULL };		\
	__attribute__((constructor)) static void name##_register(void)			\
	{										\
		test_register(&name##_group);						\
	}										\
	static void group_##name(void)

#endif
