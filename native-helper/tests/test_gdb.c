/* SPDX-License-Identifier: MIT */
/* Tests of gdb.c: gdb's version told, and the gdb of this root file system probed. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gdb.h"
#include "util.h"
#include "check.h"

static void test_parse(void)
{
	static const struct { const char *text, *version; int major, minor; bool ok; } cases[] = {
		{ "GNU gdb (Debian 16.3-1) 16.3\nCopyright (C) 2024", "16.3", 16, 3, true },
		{ "GNU gdb (Ubuntu 12.1-0ubuntu1~22.04.2) 12.1\n", "12.1", 12, 1, true },
		{ "GNU gdb (GDB) 14.2.90.20240526-git\n", "14.2.90.20240526-git", 14, 2, true },
		{ "GNU gdb (GDB) Fedora Linux 15.1-1.fc41 \n", "15.1-1.fc41", 15, 1, true },
		{ "GNU gdb 13.1", "13.1", 13, 1, true },
		{ "lldb version 17.0.6", "", 0, 0, false },
		{ "GNU gdb (Debian)\n", "", 0, 0, false },
		{ "", "", 0, 0, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct gdb_info gi;

		memset(&gi, 0, sizeof(gi));
		test_case("\"%.40s\"", cases[i].text);
		CHECK_INT(gdb_parse_version(cases[i].text, &gi), ==, cases[i].ok ? 0 : -1);
		CHECK_STR(gi.version, ==, cases[i].version);
		CHECK_INT(gi.major, ==, cases[i].major);
		CHECK_INT(gi.minor, ==, cases[i].minor);
	}
}

/* The root file system of the target (and of these tests) has trixie's gdb 16, with Python. */
static void test_probe(void)
{
	struct gdb_info gi;

	test_case("the gdb installed");
	CHECK_INT(gdb_probe(&gi), ==, 0);
	CHECK_STR(gi.problem, ==, "");
	CHECK_INT(gi.major, >=, GDB_DAP_MAJOR);
	CHECK_INT(access(gi.path, X_OK), ==, 0);
	CHECK(str_ends_with(gi.path, "/gdb"));
}

TEST_GROUP(gdb)
{
	test_parse();
	test_probe();
}
