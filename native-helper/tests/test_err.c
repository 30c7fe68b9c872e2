/* SPDX-License-Identifier: MIT */
/* Tests of err.c: errors set with and without errno's words, cut messages. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "err.h"
#include "util.h"
#include "wire.h"
#include "check.h"

#define MSG_MAX (sizeof(((struct herr *)0)->msg) - 1)	/* bytes a message keeps */

/* n bytes of 'a' .. 'z' over and over, and a NUL: text whose cut shows where it was. */
static void letters(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = 'a' + i % 26;
	buf[n] = '\0';
}

static void test_set(void)
{
	struct herr e = { 0 };

	test_case("herr_set");
	herr_set(&e, EC(NOT_FOUND), ENOENT, "no checkpoint %s in %s", "x1", "/store");
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	CHECK_INT(e.errnum, ==, ENOENT);
	CHECK_STR(e.msg, ==, "no checkpoint x1 in /store");	/* no errno words */

	/* a second error replaces the first whole */
	herr_set(&e, EC(BAD_REQUEST), 0, "bad");
	CHECK_INT(e.code, ==, EC(BAD_REQUEST));
	CHECK_INT(e.errnum, ==, 0);
	CHECK_STR(e.msg, ==, "bad");
}

static void test_perror(void)
{
	static const int errs[] = { ENOENT, EACCES, EFBIG, ELOOP, 0 };
	struct herr e = { 0 };
	char want[sizeof(e.msg)];

	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		test_case("errno %d", errs[i]);
		herr_perror(&e, EC(INTERNAL), errs[i], "cannot open %s", "manifest.pb");
		snprintf(want, sizeof(want), "cannot open manifest.pb: %s", strerror(errs[i]));
		CHECK_INT(e.code, ==, EC(INTERNAL));
		CHECK_INT(e.errnum, ==, errs[i]);
		CHECK_STR(e.msg, ==, want);
	}
}

/* A message of len bytes (before errno's words when with_errno), as it is kept. */
static void set_long(struct herr *e, size_t len, bool with_errno)
{
	char text[3000];

	letters(text, len);
	herr_fmt(e, EC(INTERNAL), EIO, with_errno, "%s", text);
}

/*
 * The longest message stays whole, with errno's words or without; one byte
 * more is cut to end with "...", and what is kept is its start.
 */
static void test_cut(void)
{
	const char *words = strerror(EIO);
	size_t room = MSG_MAX - strlen(": ") - strlen(words);	/* the longest that fits with the words */
	const struct { size_t len; bool with_errno, cut; } cases[] = {
		{ MSG_MAX, false, false }, { MSG_MAX + 1, false, true }, { MSG_MAX + 2, false, true },
		{ 2 * MSG_MAX, false, true }, { room, true, false }, { room + 1, true, true },
		{ MSG_MAX - 1, true, true }, { MSG_MAX, true, true }, { MSG_MAX + 100, true, true },
	};
	struct herr e = { 0 };
	char text[3000];

	letters(text, sizeof(text) - 1);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t kept = cases[i].cut ? MSG_MAX - 3 : cases[i].len;

		test_case("%zu bytes%s", cases[i].len, cases[i].with_errno ? " and errno" : "");
		set_long(&e, cases[i].len, cases[i].with_errno);
		CHECK_UINT(strlen(e.msg), ==, MSG_MAX);
		CHECK_INT(e.errnum, ==, EIO);
		CHECK(!memcmp(e.msg, text, kept < cases[i].len ? kept : cases[i].len));
		if (cases[i].cut)
			CHECK_STR(e.msg + MSG_MAX - 3, ==, "...");
		else if (cases[i].with_errno)
			CHECK_STR(e.msg + room, ==, arena_printf(": %s", words));
		else
			CHECK(!strstr(e.msg, "..."));
	}
}

/* The last bytes of a cut buffer become "..." (with its NUL); a buffer too small for that is left. */
static void test_mark_truncated(void)
{
	char buf[10] = "abcdefghi", tiny[4] = "abc", five[5] = "abcd";

	test_case("mark_truncated");
	mark_truncated(buf, sizeof(buf));
	CHECK_STR(buf, ==, "abcdef...");
	mark_truncated(five, sizeof(five));
	CHECK_STR(five, ==, "a...");
	mark_truncated(tiny, sizeof(tiny));
	CHECK_STR(tiny, ==, "abc");
}

/* In a child: a NULL e is ignored, so the child exits 0 (a write through NULL would kill it). */
static void test_null_ignored(void)
{
	int status = -1;
	pid_t pid = fork();

	test_case("a NULL herr");
	if (pid == 0) {
		herr_set(NULL, EC(INTERNAL), EIO, "nobody reads %s", "this");
		herr_perror(NULL, EC(INTERNAL), EIO, "nor %s", "this");
		_exit(0);
	}
	CHECK_INT(pid, >, 0);
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK_INT(status, ==, 0);
}

TEST_GROUP(err)
{
	test_set();
	test_perror();
	test_cut();
	test_mark_truncated();
	test_null_ignored();
}
