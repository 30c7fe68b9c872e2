/* SPDX-License-Identifier: MIT */
/*
 * Tests of ops.c, the dispatch: an operation it does not know answered
 * BAD_REQUEST, every answer with its request's id, and an answer over the
 * frame limit replaced by an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "manifest.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

#define OP(x) CHECKPOINT__HELPER__V1__REQUEST__OP_##x

static void test_unknown_op(void)
{
	static const struct {
		int op;
		const char *words;
	} cases[] = {
		{ CHECKPOINT__HELPER__V1__REQUEST__OP__NOT_SET, "request 7 names no operation this helper knows (op 0)" },
		{ 99, "request 7 names no operation this helper knows (op 99)" },
		{ -1, "request 7 names no operation this helper knows (op -1)" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		Checkpoint__Helper__V1__ListRequest list = CHECKPOINT__HELPER__V1__LIST_REQUEST__INIT;
		HelperMessage *m;

		test_case("op %d", cases[i].op);
		m = ask(7, cases[i].op, &list, NULL);
		CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
		CHECK_INT(err_code(m) >= 0 ? m->response->error->errno_value : 0, ==, EINVAL);
		CHECK_STR(err_code(m) >= 0 ? m->response->error->message : NULL, ==, cases[i].words);
		msg_free(m);
	}
}

/* Each answer carries its request's id, whatever the request and however it ends. */
static void test_ids(void)
{
	Checkpoint__Helper__V1__HelloRequest hello = CHECKPOINT__HELPER__V1__HELLO_REQUEST__INIT;
	Checkpoint__Helper__V1__ListRequest list = CHECKPOINT__HELPER__V1__LIST_REQUEST__INIT;
	Checkpoint__Helper__V1__PsRequest ps = CHECKPOINT__HELPER__V1__PS_REQUEST__INIT;
	Checkpoint__Helper__V1__DeleteRequest del = CHECKPOINT__HELPER__V1__DELETE_REQUEST__INIT;
	Checkpoint__Helper__V1__FreezeRequest freeze = CHECKPOINT__HELPER__V1__FREEZE_REQUEST__INIT;
	const struct {
		uint32_t id;
		int op;
		void *msg;
		bool events;
	} cases[] = {
		{ 0, OP(HELLO), &hello, false }, { 1, OP(LIST), &list, false }, { 2, OP(PS), &ps, false },
		{ 12345, OP(DELETE), &del, false }, { UINT32_MAX, OP(FREEZE), &freeze, true },
		{ 0x80000000u, 77, &list, false },
	};

	ps.root_pid = getpid();
	del.checkpoint_id = "../no";
	freeze.root_pid = 4194000;	/* refused after its progress event */
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t nevents = 0;
		HelperMessage *m = ask(cases[i].id, cases[i].op, cases[i].msg, &nevents);

		test_case("request %u (op %d)", cases[i].id, cases[i].op);
		CHECK_UINT(m && m->response ? m->response->id : 0, ==, cases[i].id);
		CHECK_UINT(nevents, ==, cases[i].events);	/* the events' ids are checked by ask */
		msg_free(m);
	}
}

/*
 * A list whose answer is longer than a frame may be: two checkpoints with
 * manifests of 9 MiB each (a command line that long).
 */
static void test_too_big(void)
{
	char store[] = "/tmp/ckpt-ops-XXXXXX", *arg = malloc(9u << 20);
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	CheckpointProcess p = CHECKPOINT__HELPER__V1__CHECKPOINT_PROCESS__INIT, *pp = &p;
	Checkpoint__Helper__V1__ListRequest list = CHECKPOINT__HELPER__V1__LIST_REQUEST__INIT;
	HelperMessage *m;

	CHECK(arg != NULL);
	CHECK(store_make(store));
	if (!arg)
		return;
	memset(arg, 'a', (9u << 20) - 1);
	arg[(9u << 20) - 1] = '\0';
	p.pid = 4242;
	p.comm = "big";
	p.cmdline = &arg;
	p.n_cmdline = 1;
	c.manifest_version = MANIFEST_VERSION;
	c.root_pid = 4242;
	c.processes = &pp;
	c.n_processes = 1;
	for (int i = 0; i < 2; i++) {
		c.id = i ? "big-2" : "big-1";
		CHECK_INT(checkpoint_put(store, c.id, &c), ==, 0);
	}
	free(arg);
	test_case("an answer over the frame limit");
	stderr_quiet(true);
	m = ask(41, OP(LIST), &list, NULL);
	stderr_quiet(false);
	CHECK_INT(err_code(m), ==, EC(INTERNAL));
	CHECK_INT(err_code(m) >= 0 ? m->response->error->errno_value : 0, ==, EMSGSIZE);
	CHECK_STR(err_code(m) >= 0 ? m->response->error->message : NULL, ==,
		  "the answer to request 41 is longer than the 17825792-byte frame limit");
	msg_free(m);
	CHECK_INT(remove_tree(store), ==, 0);
}

static void ops_tests(void)
{
	test_unknown_op();
	test_ids();
	test_too_big();
}

TEST_GROUP(ops)
{
	char saved[sizeof(g_cfg.store)];

	memcpy(saved, g_cfg.store, sizeof(saved));
	with_out_file(ops_tests);
	memcpy(g_cfg.store, saved, sizeof(saved));
}
