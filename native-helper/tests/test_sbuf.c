/* SPDX-License-Identifier: MIT */
/* Tests of sbuf.c: JSON string literals. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbuf.h"
#include "check.h"

static void test_json(void)
{
	struct sbuf b = { 0 };

	json_escape(&b, "plain");
	CHECK(!strcmp(b.p, "\"plain\""));
	b.len = 0;
	json_escape(&b, "q\"b\\n\nt\tc\x01\x1f" "\x7f" "é");
	CHECK(!strcmp(b.p, "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f\\u007fé\""));
	b.len = 0;
	json_escape(&b, NULL);
	CHECK(!strcmp(b.p, "\"\""));
	sbuf_free(&b);
}

TEST_GROUP(sbuf)
{
	test_json();
}
