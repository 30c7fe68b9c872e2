/* SPDX-License-Identifier: MIT */
/* Tests of children.c: each child reaped, its end told to whom it belongs (a program, a gdb) or to nobody. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "children.h"
#include "gdb.h"
#include "gdb_run.h"
#include "proc.h"
#include "util.h"
#include "check.h"
#include "service.h"

#define CHILDREN_REQUEST 72

/* Reaps as the main loop does until pid is gone (10 s at most). */
static void reap_until_gone(pid_t pid)
{
	uint64_t deadline = now_us() + 10 * 1000000ull;

	while (pid_exists(pid) && now_us() < deadline) {
		reap_children();
		sleep_ms(2);
	}
	CHECK(!pid_exists(pid));
}

static void children_tests(void)
{
	char *sleeper[] = { "sleep", "60", NULL }, *quick[] = { "/bin/true", NULL };
	struct gdb_info gi;
	struct herr e = { 0 };
	pid_t plain, program, gdb = 0;
	uint32_t id = 0;

	test_case("a child of nobody's: reaped, nothing told");
	plain = spawn_exec("/bin/sleep", sleeper);
	CHECK_INT(plain, >, 0);
	out_reset();
	kill(plain, SIGKILL);
	reap_until_gone(plain);
	CHECK_STR(events_told(), ==, "");
	test_case("a program's end, told");
	program = launch_program(quick, CHILDREN_REQUEST);
	CHECK_INT(program, >, 0);
	programs_read();
	out_reset();
	reap_until_gone(program);
	CHECK_STR(events_told(), ==, arena_printf("exit %d, ", program));
	test_case("a gdb's end, told (as a gdb's, not a program's)");
	CHECK_INT(gdb_probe(&gi), ==, 0);
	CHECK_OK(gdb_run_start(gi.path, CHILDREN_REQUEST, &id, &gdb, &e), &e);
	out_reset();
	kill(gdb, SIGKILL);
	reap_until_gone(gdb);
	CHECK_CONTAINS(events_told(), "gdb exit");
	CHECK(no_children());
}

TEST_GROUP(children)
{
	with_out_file(children_tests);
}
