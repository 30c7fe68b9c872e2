/* SPDX-License-Identifier: MIT */
/* Tests of ops_debug.c through the dispatch: gdb started, fed whole DAP messages only, stopped; in words when refused. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "gdb.h"
#include "wire.h"
#include "check.h"
#include "service.h"

#define OP(x) CHECKPOINT__HELPER__V1__REQUEST__OP_##x
#define RESULT(x) CHECKPOINT__HELPER__V1__RESPONSE__RESULT_##x

typedef Checkpoint__Helper__V1__GdbStartRequest GdbStartRequest;
typedef Checkpoint__Helper__V1__GdbSendRequest GdbSendRequest;
typedef Checkpoint__Helper__V1__GdbStopRequest GdbStopRequest;

static HelperMessage *ask_send(uint32_t id, const char *data)
{
	GdbSendRequest r = CHECKPOINT__HELPER__V1__GDB_SEND_REQUEST__INIT;

	r.gdb_id = id;
	r.data.data = (uint8_t *)data;
	r.data.len = strlen(data);
	return ask(82, OP(GDB_SEND), &r, NULL);
}

static HelperMessage *ask_stop(uint32_t id)
{
	GdbStopRequest r = CHECKPOINT__HELPER__V1__GDB_STOP_REQUEST__INIT;

	r.gdb_id = id;
	return ask(83, OP(GDB_STOP), &r, NULL);
}

static void ops_debug_tests(void)
{
	GdbStartRequest start = CHECKPOINT__HELPER__V1__GDB_START_REQUEST__INIT;
	static const char hello[] = "Content-Length: 2\r\n\r\n{}";
	struct gdb_info gi;
	HelperMessage *m;
	uint32_t id = 0;
	pid_t pid = 0;

	test_case("gdb_start");
	CHECK_INT(gdb_probe(&gi), ==, 0);
	m = ask(81, OP(GDB_START), &start, NULL);
	CHECK(answer_of(m, RESULT(GDB_START)) != NULL);
	if (answer_of(m, RESULT(GDB_START))) {
		id = m->response->gdb_start->gdb_id;
		pid = m->response->gdb_start->gdb_pid;
		CHECK_STR(m->response->gdb_start->gdb_version, ==, gi.version);
	}
	msg_free(m);
	CHECK_UINT(id, >, 0);
	CHECK_INT(pid > 0 ? kill(pid, 0) : -1, ==, 0);
	test_case("gdb_send of a whole message, and of a cut one");
	m = ask_send(id, hello);
	CHECK(answer_of(m, RESULT(GDB_SEND)) != NULL);
	msg_free(m);
	m = ask_send(id, "Content-Length: 5\r\n\r\n{}");
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK(err_mentions(m, "not whole DAP messages"));
	msg_free(m);
	test_case("gdb_stop");
	m = ask_stop(id);
	CHECK(answer_of(m, RESULT(GDB_STOP)) != NULL);
	msg_free(m);
	CHECK_INT(kill(pid, 0), ==, -1);
	test_case("a gdb that is not there");
	m = ask_stop(id);
	CHECK_INT(err_code(m), ==, EC(NOT_FOUND));
	CHECK(err_mentions(m, "no gdb"));
	msg_free(m);
	CHECK(no_children());
}

TEST_GROUP(ops_debug)
{
	signal(SIGPIPE, SIG_IGN);
	with_out_file(ops_debug_tests);
	signal(SIGPIPE, SIG_DFL);
}
