/* SPDX-License-Identifier: MIT */
/* Tests of spawn.c: programs found in the usual directories and PATH, and run with their output captured. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "spawn.h"
#include "util.h"
#include "check.h"
#include "service.h"

/* A temporary directory for the programs of these tests. */
static char dir[] = "/tmp/ckpt-spawn-XXXXXX";

static void test_find_program(void)
{
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	const char *tool = put_file(dir, "ckpt-tool", 0755, "#!/bin/sh\n");
	const char *found;

	put_file(dir, "ckpt-plain", 0644, "not executable\n");
	test_case("sh, in the usual directories");
	found = find_program("sh");
	CHECK_INT(found ? found[0] : 0, ==, '/');
	CHECK_CONTAINS(found, "/sh");
	CHECK_INT(found ? access(found, X_OK) : -1, ==, 0);
	test_case("a program only PATH has (relative and missing entries passed over)");
	setenv("PATH", arena_printf("relative::/no/such/dir:%s", dir), 1);
	CHECK_STR(find_program("ckpt-tool"), ==, tool);
	test_case("a file that is not executable, and one that is nowhere");
	CHECK_STR(find_program("ckpt-plain"), ==, NULL);
	CHECK_STR(find_program("ckpt-no-such-program"), ==, NULL);
	test_case("no PATH: the usual directories only");
	unsetenv("PATH");
	CHECK_STR(find_program("ckpt-tool"), ==, NULL);
	CHECK(find_program("sh") != NULL);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
}

/* What the program wrote, its exit status, its end by a signal, and what it is given. */
static void test_run_program(void)
{
	static const struct { const char *what, *script, *out; int status; } cases[] = {
		{ "its output and status 0", "echo one; echo two", "one\ntwo\n", 0 },
		{ "its exit status", "echo x; exit 3", "x\n", 3 },
		{ "killed by a signal: 128 + the signal", "kill -TERM $$", "", 128 + SIGTERM },
		{ "stdin is /dev/null", "cat; echo done", "done\n", 0 },
		{ "stderr goes nowhere", "echo err >&2; echo out", "out\n", 0 },
		{ "no descriptor of the helper's but 0-2", "ls /proc/self/fd | wc -l", "4\n", 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *argv[] = { "sh", "-c", (char *)cases[i].script, NULL }, *out = NULL;

		test_case("%s", cases[i].what);
		CHECK_INT(run_program("/bin/sh", argv, &out, 1 << 20), ==, cases[i].status);
		CHECK_STR(out, ==, cases[i].out);
		free(out);
	}
}

/*
 * A program that cannot be run says 127 as a failed exec does; output over
 * the limit is none, and more than a pipe holds leaves the writer to SIGPIPE.
 */
static void test_run_program_fails(void)
{
	char *argv[] = { "nope", NULL }, *big[] = { "sh", "-c", "head -c 200000 /dev/zero", NULL }, *out = NULL;
	char *quiet[] = { "sh", "-c", "echo lost", NULL };

	test_case("a program that is not there");
	CHECK_INT(run_program(arena_printf("%s/nope", dir), argv, &out, 100), ==, 127);
	CHECK_STR(out, ==, "");
	free(out);
	test_case("more output than asked for: none, and it is not read further");
	CHECK_INT(run_program("/bin/sh", big, &out, 100), ==, 128 + SIGPIPE);
	CHECK_STR(out, ==, NULL);
	test_case("no output wanted");
	CHECK_INT(run_program("/bin/sh", quiet, NULL, 0), ==, 0);
	CHECK(no_children());
}

TEST_GROUP(spawn)
{
	CHECK(mkdtemp(dir) != NULL);
	test_find_program();
	test_run_program();
	test_run_program_fails();
	CHECK_INT(remove_tree(dir), ==, 0);
	arena_free_all();
}
