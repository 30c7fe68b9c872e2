/* SPDX-License-Identifier: MIT */
/* Tests of reply.c: errors as the wire carries them, and the checks of what a request names. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "reply.h"
#include "store.h"
#include "util.h"
#include "wire.h"
#include "check.h"

/* resp is an error of code, errno errnum, saying msg. */
static void check_error(const Response *resp, int code, int errnum, const char *msg)
{
	CHECK_INT(resp->result_case, ==, CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR);
	if (resp->result_case != CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR)
		return;
	CHECK_INT(resp->error->code, ==, code);
	CHECK_INT(resp->error->errno_value, ==, errnum);
	CHECK_STR(resp->error->message, ==, msg);
}

static void test_error(void)
{
	struct herr e = { .code = EC(NOT_FOUND), .errnum = ENOENT, .msg = "no checkpoint x" };
	Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	Error *err;

	test_case("an error as it was");
	err = reply_error(&resp, &e);
	CHECK(err == resp.error);
	check_error(&resp, EC(NOT_FOUND), ENOENT, "no checkpoint x");
	CHECK(resp.error->message != e.msg);	/* a copy: e may go */
	test_case("an error without a code is INTERNAL");
	e.code = 0;
	reply_error(&resp, &e);
	check_error(&resp, EC(INTERNAL), ENOENT, "no checkpoint x");
	test_case("a bad request, formatted");
	reply_bad_request(&resp, "root_pid must be %s, not %d", "positive", -3);
	check_error(&resp, EC(BAD_REQUEST), EINVAL, "root_pid must be positive, not -3");
	arena_free_all();
}

static const char id_words[] = "invalid checkpoint id: 1-64 characters of A-Z a-z 0-9 . _ -, not starting with a dot";
static const char name_words[] = "invalid checkpoint name: at most 256 bytes, and no control characters but tab";

static void test_check_id(void)
{
	static const char *const good[] = { "20260101-120000-ab12", "a.b_c-D9" };
	static const char *const bad[] = { NULL, "", ".hidden", "a/b", "a b", "..",
		"12345678901234567890123456789012345678901234567890123456789012345" };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;

		test_case("id %s", good[i]);
		CHECK_INT(reply_check_id(good[i], &resp), ==, 0);
		CHECK_INT(resp.result_case, ==, CHECKPOINT__HELPER__V1__RESPONSE__RESULT__NOT_SET);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;

		test_case("id %s", bad[i] ? bad[i] : "NULL");
		CHECK_INT(reply_check_id(bad[i], &resp), ==, -1);
		check_error(&resp, EC(BAD_REQUEST), EINVAL, id_words);
	}
	arena_free_all();
}

static void test_check_name(void)
{
	char longest[MAX_NAME_LEN + 2];
	const struct {
		const char *what, *name;
		bool ok;
	} cases[] = {
		{ "none", NULL, true }, { "empty", "", true }, { "a tab and UTF-8", "a\tb é", true },
		{ "256 bytes", longest + 1, true }, { "257 bytes", longest, false },
		{ "a newline", "a\nb", false }, { "an escape", "\x1b[31mred", false },
	};

	memset(longest, 'n', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;

		test_case("name: %s", cases[i].what);
		CHECK_INT(reply_check_name(cases[i].name, &resp), ==, cases[i].ok ? 0 : -1);
		if (cases[i].ok)
			CHECK_INT(resp.result_case, ==, CHECKPOINT__HELPER__V1__RESPONSE__RESULT__NOT_SET);
		else
			check_error(&resp, EC(BAD_REQUEST), EINVAL, name_words);
	}
	arena_free_all();
}

static void test_check_path(void)
{
	char longest[4097];
	const struct {
		const char *what, *path;
		bool required;
		const char *words;	/* NULL: accepted */
	} cases[] = {
		{ "absolute", "/bin/true", true, NULL },
		{ "4095 bytes", longest + 1, true, NULL },
		{ "optional and absent", NULL, false, NULL },
		{ "optional and empty", "", false, NULL },
		{ "required and absent", NULL, true, "program is required: an absolute path" },
		{ "required and empty", "", true, "program is required: an absolute path" },
		{ "relative", "bin/true", false, "program must be an absolute path of at most 4095 bytes, not "
		  "\"bin/true\"" },
		{ "4096 bytes: quoted up to 200", longest, true, NULL },
	};

	memset(longest, 'p', sizeof(longest) - 1);
	longest[0] = longest[1] = '/';
	longest[sizeof(longest) - 1] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
		const char *words = cases[i].words;
		bool refused = words || cases[i].path == longest;

		test_case("path: %s", cases[i].what);
		if (cases[i].path == longest)
			words = arena_printf("program must be an absolute path of at most 4095 bytes, not \"%.200s\"",
					     longest);
		CHECK_INT(reply_check_path("program", cases[i].path, cases[i].required, &resp), ==, refused ? -1 : 0);
		if (refused)
			check_error(&resp, EC(BAD_REQUEST), EINVAL, words);
		else
			CHECK_INT(resp.result_case, ==, CHECKPOINT__HELPER__V1__RESPONSE__RESULT__NOT_SET);
	}
	arena_free_all();
}

TEST_GROUP(reply)
{
	test_error();
	test_check_id();
	test_check_name();
	test_check_path();
}
