/* SPDX-License-Identifier: MIT */
/* Tests of channel.c: responses and events framed on g_out_fd, decoded back. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "framing.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

#define KIND(x) CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_##x
#define EVENT(x) CHECKPOINT__HELPER__V1__EVENT__KIND_##x

/* The one frame written since out_reset, decoded; NULL when there is not exactly one. */
static HelperMessage *one_frame(void)
{
	HelperMessage *v[2];
	size_t n = out_frames(v, ARRAY_SIZE(v));

	CHECK_UINT(n, ==, 1);
	for (size_t i = 1; i < n; i++)
		msg_free(v[i]);
	return n ? v[0] : NULL;
}

/* The one frame is an event of request id and kind; returned decoded (msg_free it). */
static HelperMessage *one_event(uint32_t id, int kind)
{
	HelperMessage *m = one_frame();
	const Event *ev = m && m->kind_case == KIND(EVENT) ? m->event : NULL;

	CHECK(ev != NULL);
	CHECK_UINT(ev ? ev->request_id : 0, ==, id);
	CHECK_INT(ev ? (int)ev->kind_case : -1, ==, kind);
	return m;
}

static void test_response(void)
{
	Response r = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	Error err = CHECKPOINT__HELPER__V1__ERROR__INIT;
	HelperMessage *m;

	test_case("a response");
	r.id = 7;
	err.code = EC(NOT_FOUND);
	err.message = "no checkpoint x";
	r.result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR;
	r.error = &err;
	out_reset();
	CHECK_INT(send_response(&r), ==, 0);
	m = one_frame();
	CHECK_INT(m ? (int)m->kind_case : -1, ==, KIND(RESPONSE));
	CHECK_UINT(err_code(m) >= 0 ? m->response->id : 0, ==, 7);
	CHECK_INT(err_code(m), ==, EC(NOT_FOUND));
	CHECK(err_mentions(m, "no checkpoint x"));
	msg_free(m);
}

static void test_events(void)
{
	Event ev = CHECKPOINT__HELPER__V1__EVENT__INIT;
	ProgramExit x = CHECKPOINT__HELPER__V1__PROGRAM_EXIT__INIT;
	char longer[700];
	HelperMessage *m;

	test_case("an event takes the request's id");
	x.root_pid = 42;
	x.exit_code = 3;
	ev.request_id = 99;
	ev.kind_case = EVENT(PROGRAM_EXIT);
	ev.program_exit = &x;
	out_reset();
	CHECK_INT(send_event(8, &ev), ==, 0);
	m = one_event(8, EVENT(PROGRAM_EXIT));
	CHECK_INT(m && m->event->program_exit ? m->event->program_exit->exit_code : -1, ==, 3);
	msg_free(m);

	test_case("progress, formatted");
	out_reset();
	emit_progress(9, "dumping", "CRIU is checkpointing the tree of process %d", 1234);
	m = one_event(9, EVENT(PROGRESS));
	CHECK_STR(m ? m->event->progress->stage : NULL, ==, "dumping");
	CHECK_STR(m ? m->event->progress->message : NULL, ==, "CRIU is checkpointing the tree of process 1234");
	msg_free(m);

	test_case("progress cut at 511 bytes");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	out_reset();
	emit_progress(10, "long", "%s", longer);
	m = one_event(10, EVENT(PROGRESS));
	CHECK_UINT(m ? strlen(m->event->progress->message) : 0, ==, 511);
	msg_free(m);

	test_case("a tree's state");
	out_reset();
	emit_tree_state(11, 4242, TS(FROZEN));
	m = one_event(11, EVENT(TREE_STATE));
	CHECK_INT(m ? m->event->tree_state->root_pid : 0, ==, 4242);
	CHECK_INT(m ? m->event->tree_state->state : 0, ==, TS(FROZEN));
	msg_free(m);
}

/* Over the frame limit: EMSGSIZE, so the caller may answer otherwise, and nothing written. */
static void test_too_big(void)
{
	Response r = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	Error err = CHECKPOINT__HELPER__V1__ERROR__INIT;
	char *big = malloc(MAX_OUT_FRAME_BYTES + 1);

	test_case("an answer over the frame limit");
	CHECK(big != NULL);
	if (!big)
		return;
	memset(big, 'b', MAX_OUT_FRAME_BYTES);
	big[MAX_OUT_FRAME_BYTES] = '\0';
	err.message = big;
	r.result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR;
	r.error = &err;
	out_reset();
	stderr_quiet(true);
	errno = 0;
	CHECK_INT(send_response(&r), ==, -1);
	CHECK_INT(errno, ==, EMSGSIZE);
	stderr_quiet(false);
	CHECK_INT(lseek(g_out_fd, 0, SEEK_CUR), ==, 0);
	free(big);
}

/* The output gone: -1 with the write's errno (its complaint on stderr kept out of the test's output). */
static void test_closed(void)
{
	Response r = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	int out = g_out_fd;

	test_case("the output closed");
	g_out_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	stderr_quiet(true);
	errno = 0;
	CHECK_INT(send_response(&r), ==, -1);
	CHECK_INT(errno, ==, EBADF);
	stderr_quiet(false);
	close(g_out_fd);
	g_out_fd = out;
}

static void channel_tests(void)
{
	test_response();
	test_events();
	test_too_big();
	test_closed();
}

TEST_GROUP(channel)
{
	with_out_file(channel_tests);
}
