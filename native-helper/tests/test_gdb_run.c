/* SPDX-License-Identifier: MIT */
/*
 * Tests of gdb_run.c with the gdb of the root file system: DAP messages in,
 * its answers and events out as GdbOutput events, a process attached and let
 * go of when gdb is stopped (detached, not traced any more, running), its
 * own end told, and what is not whole DAP messages refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "channel.h"
#include "children.h"
#include "fileio.h"
#include "gdb.h"
#include "gdb_run.h"
#include "proc.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

#define GDB_REQUEST 71

/* "Content-Length: N\r\n\r\n" and body (arena memory). */
static const char *dap(const char *body)
{
	return arena_printf("Content-Length: %zu\r\n\r\n%s", strlen(body), body);
}

static void test_messages_length(void)
{
	const char *one = dap("{\"seq\":1}"), *two = arena_printf("%s%s", one, dap("{}"));
	const struct { const char *what, *data; ssize_t want; } cases[] = {
		{ "one message", one, (ssize_t)strlen(one) },
		{ "two messages", two, (ssize_t)strlen(two) },
		{ "nothing", "", 0 },
		{ "a header alone", "Content-Length: 9\r\n\r\n", -1 },
		{ "a body cut short", "Content-Length: 9\r\n\r\n{\"seq\"", -1 },
		{ "a body running on", "Content-Length: 2\r\n\r\n{}{", -1 },
		{ "no length", "Content-Type: x\r\n\r\n{}", -1 },
		{ "another header first, the length's name in another case", "X: y\r\ncontent-length: 2\r\n\r\n{}",
		  (ssize_t)strlen("X: y\r\ncontent-length: 2\r\n\r\n{}") },
		{ "a header without its blank line", "Content-Length: 2\r\n{}", -1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("%s", cases[i].what);
		CHECK_INT(dap_messages_length((const uint8_t *)cases[i].data, strlen(cases[i].data)), ==, cases[i].want);
	}
}

/* What gdb id wrote so far, from its GdbOutput events (arena memory). */
static const char *gdb_said(uint32_t id)
{
	HelperMessage *v[512];
	size_t n = out_frames(v, ARRAY_SIZE(v));
	struct sbuf b = { 0 };
	const char *text;

	for (size_t i = 0; i < n; i++) {
		const Event *ev = v[i]->kind_case == CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_EVENT ? v[i]->event : NULL;

		if (ev && ev->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_GDB_OUTPUT && ev->gdb_output->gdb_id == id) {
			CHECK_INT(ev->request_id, ==, GDB_REQUEST);
			sbuf_add(&b, (const char *)ev->gdb_output->data.data, ev->gdb_output->data.len);
		}
		msg_free(v[i]);
	}
	text = arena_strdup(sbuf_text(&b));
	sbuf_free(&b);
	return text;
}

/* Reads the gdbs' output as the main loop does until gdb id said needle (or 20 s). */
static bool wait_said(uint32_t id, const char *needle)
{
	uint64_t deadline = now_us() + 20 * 1000000ull;

	while (!strstr(gdb_said(id), needle) && now_us() < deadline) {
		struct pollfd pfd[2 * MAX_GDBS];
		size_t n = gdb_run_poll_fds(pfd, ARRAY_SIZE(pfd));

		if (poll(pfd, n, 200) > 0)
			gdb_run_poll_done(pfd, n);
	}
	return strstr(gdb_said(id), needle) != NULL;
}

static void send_dap(uint32_t id, const char *body)
{
	const char *msg = dap(body);
	struct herr e = { 0 };

	CHECK_OK(gdb_run_send(id, (const uint8_t *)msg, strlen(msg), &e), &e);
}

static uint32_t start_gdb(pid_t *pid)
{
	const struct gdb_info *gi;
	static struct gdb_info probed;
	struct herr e = { 0 };
	uint32_t id = 0;

	if (!probed.path[0])
		gdb_probe(&probed);
	gi = &probed;
	CHECK_STR(gi->problem, ==, "");
	CHECK_OK(gdb_run_start(gi->path, GDB_REQUEST, &id, pid, &e), &e);
	return id;
}

/* The tracer of pid (TracerPid), -1 when it cannot be read. */
static pid_t tracer_of(pid_t pid)
{
	char path[64], *buf = NULL, *p;
	pid_t tracer = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, &buf, NULL, 1 << 20))
		return -1;
	p = strstr(buf, "\nTracerPid:");
	if (p)
		tracer = strtol(p + 11, NULL, 10);
	free(buf);
	return tracer;
}

/* A gdb started and attached over DAP to child (stopped by it); its id, 0 when it did not come so far. */
static uint32_t gdb_attached(pid_t child, pid_t *gdb)
{
	uint32_t id = start_gdb(gdb);

	CHECK_INT(child, >, 0);
	CHECK_UINT(id, >, 0);
	if (!id)
		return 0;
	send_dap(id, "{\"seq\":1,\"type\":\"request\",\"command\":\"initialize\",\"arguments\":{\"adapterID\":\"t\"}}");
	CHECK(wait_said(id, "\"command\": \"initialize\"") || wait_said(id, "\"command\":\"initialize\""));
	send_dap(id, arena_printf("{\"seq\":2,\"type\":\"request\",\"command\":\"attach\",\"arguments\":{\"pid\":%d}}",
				  child));
	send_dap(id, "{\"seq\":3,\"type\":\"request\",\"command\":\"configurationDone\"}");
	CHECK(wait_said(id, "\"stopped\""));
	CHECK_INT(tracer_of(child), ==, *gdb);
	return id;
}

/*
 * A sleeping child attached by gdb over DAP, then gdb stopped: it detaches
 * (the child is not traced any more and runs), and ends. at_once: gdb let
 * go from its repl first, and is killed at once.
 */
static void test_attach_and_stop(bool at_once)
{
	char *argv[] = { "sleep", "60", NULL };
	pid_t child = spawn_exec("/bin/sleep", argv), gdb = 0;
	struct herr e = { 0 };
	struct proc_stat st;
	int status = -1;
	uint32_t id;

	test_case("gdb attaches the child (then stops %s)", at_once ? "at once" : "as told");
	id = gdb_attached(child, &gdb);
	if (at_once) {
		send_dap(id, "{\"seq\":4,\"type\":\"request\",\"command\":\"evaluate\","
			     "\"arguments\":{\"expression\":\"detach\",\"context\":\"repl\"}}");
		/* its answer may not come (none after a multi-threaded process's detach): "terminated" says it let go */
		CHECK(wait_said(id, "\"terminated\""));
		CHECK_INT(tracer_of(child), ==, 0);
	}
	test_case("gdb stopped: it detached, and ended");
	CHECK_OK(gdb_run_stop(id, at_once, &status, &e), &e);
	CHECK(at_once ? WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL : WIFEXITED(status) || WIFSIGNALED(status));
	CHECK_INT(tracer_of(child), ==, 0);
	CHECK_INT(read_proc_stat(child, &st), ==, 0);
	/* let go of, not left stopped: asleep again, or (just woken by the detach) on its way there */
	CHECK(st.state == 'S' || st.state == 'R');
	CHECK_INT(kill(gdb, 0), ==, -1);
	CHECK_INT(gdb_run_stop(id, false, &status, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* What is not whole DAP messages is refused, and gdb goes on; a gdb that is not there is named. */
static void test_refused(void)
{
	static const char cut[] = "Content-Length: 40\r\n\r\n{\"seq\":1";
	pid_t gdb = 0;
	uint32_t id = start_gdb(&gdb);
	struct herr e = { 0 };
	int status;

	test_case("a message cut in two");
	CHECK_INT(gdb_run_send(id, (const uint8_t *)cut, strlen(cut), &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(e.msg, "is not whole DAP messages");
	test_case("gdb goes on");
	send_dap(id, "{\"seq\":1,\"type\":\"request\",\"command\":\"initialize\",\"arguments\":{\"adapterID\":\"t\"}}");
	CHECK(wait_said(id, "initialize"));
	test_case("a gdb that is not there");
	CHECK_INT(gdb_run_send(id + 1000, (const uint8_t *)"", 0, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	CHECK_STR(e.msg, ==, arena_printf("no gdb %u runs in this helper (it ended, or was never started)", id + 1000));
	CHECK_OK(gdb_run_stop(id, false, &status, &e), &e);
}

/* The GdbExit event of gdb id, NULL when none was told (arena memory: a copy). */
static const char *exit_told(uint32_t id, int *signal)
{
	HelperMessage *v[512];
	size_t n = out_frames(v, ARRAY_SIZE(v));
	const char *tail = NULL;

	for (size_t i = 0; i < n; i++) {
		const Event *ev = v[i]->kind_case == CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_EVENT ? v[i]->event : NULL;

		if (ev && ev->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_GDB_EXIT && ev->gdb_exit->gdb_id == id) {
			tail = arena_strdup(ev->gdb_exit->stderr_tail);
			*signal = ev->gdb_exit->signal;
		}
		msg_free(v[i]);
	}
	return tail;
}

/* gdb ending on its own (killed here): reaped as the main loop reaps, its end told, it is forgotten. */
static void test_own_end(void)
{
	pid_t gdb = 0;
	uint32_t id = start_gdb(&gdb);
	uint64_t deadline = now_us() + 10 * 1000000ull;
	struct herr e = { 0 };
	int signal = 0;

	test_case("gdb killed");
	out_reset();
	CHECK_INT(kill(gdb, SIGKILL), ==, 0);
	while (pid_exists(gdb) && now_us() < deadline) {
		reap_children();
		sleep_ms(5);
	}
	CHECK(!pid_exists(gdb));
	CHECK(exit_told(id, &signal) != NULL);
	CHECK_INT(signal, ==, SIGKILL);
	CHECK_INT(gdb_run_send(id, (const uint8_t *)"", 0, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
}

/* At the helper's end every gdb goes, quietly. */
static void test_stop_all(void)
{
	pid_t a = 0, b = 0;

	test_case("two gdbs at the helper's end");
	start_gdb(&a);
	start_gdb(&b);
	out_reset();
	gdb_run_stop_all();
	CHECK_INT(kill(a, 0), ==, -1);
	CHECK_INT(kill(b, 0), ==, -1);
	CHECK_STR(events_told(), ==, "");
}

static void gdb_run_tests(void)
{
	signal(SIGPIPE, SIG_IGN);	/* as the helper: a gdb gone is an error, not the end */
	test_attach_and_stop(false);
	test_attach_and_stop(true);
	test_refused();
	test_own_end();
	test_stop_all();
	CHECK(no_children());
	signal(SIGPIPE, SIG_DFL);
}

TEST_GROUP(gdb_run)
{
	test_messages_length();
	with_out_file(gdb_run_tests);
	arena_free_all();
}
