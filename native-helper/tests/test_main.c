/* SPDX-License-Identifier: MIT */
/*
 * Tests of main.c: the helper itself (its sanitized build, CKPT_HELPER_SAN)
 * run as a child with pipes: its arguments, frames in and out, a request it
 * cannot decode, a frame too long, its end at EOF and at SIGTERM, and the
 * programs it launched killed when it goes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "framing.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

#define OP(x) CHECKPOINT__HELPER__V1__REQUEST__OP_##x
#define RESULT(x) CHECKPOINT__HELPER__V1__RESPONSE__RESULT_##x
#define WAIT_MS 20000		/* for an answer, or an end: the sanitized helper is slow to start */

static char store[] = "/tmp/ckpt-main-XXXXXX";

struct helper {
	pid_t pid;
	int in, out, err;	/* its stdin (written), stdout and stderr (read) */
	struct frame_reader fr;
};

/* Starts the helper with args (NULL-terminated, after its name); false when it could not. */
static bool helper_start(struct helper *h, char *const *args)
{
	const char *path = getenv("CKPT_HELPER_SAN");
	char *argv[8] = { "checkpoint-helper" };
	int in[2], out[2], err[2];

	memset(h, 0, sizeof(*h));
	h->pid = -1;
	for (size_t i = 0; args[i] && i + 2 < ARRAY_SIZE(argv); i++)
		argv[i + 1] = args[i];
	CHECK(path != NULL);
	if (!path || pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return false;
	h->pid = fork();
	if (h->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(path, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	h->in = in[1];
	h->out = out[0];
	h->err = err[0];
	return h->pid > 0;
}

/* Waits for the helper's end (killed after WAIT_MS); its wait status, its stderr in *err (malloc'd). */
static int helper_end(struct helper *h, char **err)
{
	uint64_t deadline = now_us() + WAIT_MS * 1000ull;
	int status = -1;

	if (h->in >= 0)
		close(h->in);
	while (waitpid(h->pid, &status, WNOHANG) == 0) {
		if (now_us() > deadline) {
			CHECK(!"the helper ended in time");
			kill(h->pid, SIGKILL);
		}
		sleep_ms(5);
	}
	if (err)
		CHECK_INT(read_fd(h->err, err, NULL, 1 << 20), ==, 0);
	close(h->out);
	close(h->err);
	frame_reader_free(&h->fr);
	return status;
}

static void send_bytes(struct helper *h, const void *data, size_t len)
{
	CHECK_INT(write_all(h->in, data, len), ==, 0);
}

/* Sends req framed, in one write or (pieces) a byte a write. */
static void send_framed(struct helper *h, const Request *req, bool pieces)
{
	size_t len = checkpoint__helper__v1__request__get_packed_size(req);
	uint8_t *buf = malloc(4 + len);

	put_le32(buf, len);
	checkpoint__helper__v1__request__pack(req, buf + 4);
	for (size_t i = 0; pieces && i < 4 + len; i++) {
		send_bytes(h, buf + i, 1);
		sleep_ms(1);
	}
	if (!pieces)
		send_bytes(h, buf, 4 + len);
	free(buf);
}

/* The next message the helper writes, decoded; NULL at its end or after WAIT_MS. */
static HelperMessage *next_message(struct helper *h)
{
	uint64_t deadline = now_us() + WAIT_MS * 1000ull;
	const uint8_t *payload;
	uint8_t buf[65536];
	HelperMessage *m;
	size_t len;

	while (frame_next(&h->fr, &payload, &len, MAX_OUT_FRAME_BYTES) == 0) {
		struct pollfd pfd = { h->out, POLLIN, 0 };
		ssize_t n;

		if (now_us() > deadline || poll(&pfd, 1, 100) < 0)
			return NULL;
		if (!pfd.revents)
			continue;
		n = read(h->out, buf, sizeof(buf));
		if (n <= 0 || frame_feed(&h->fr, buf, n))
			return NULL;
	}
	m = checkpoint__helper__v1__helper_message__unpack(NULL, len, payload);
	frame_pop(&h->fr);
	CHECK(m != NULL);
	return m;
}

/* The next response (events before it skipped); NULL when none came. */
static HelperMessage *next_response(struct helper *h)
{
	HelperMessage *m;

	while ((m = next_message(h)) && m->kind_case != CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_RESPONSE)
		msg_free(m);
	CHECK(m != NULL);
	return m;
}

static void send_hello(struct helper *h, uint32_t id, bool pieces)
{
	Checkpoint__Helper__V1__HelloRequest hello = CHECKPOINT__HELPER__V1__HELLO_REQUEST__INIT;
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;

	req.id = id;
	req.op_case = OP(HELLO);
	req.hello = &hello;
	send_framed(h, &req, pieces);
}

/* The answer to hello id, from the helper h: its own pid, the store it was given. */
static void check_hello(struct helper *h, uint32_t id)
{
	HelperMessage *m = next_response(h);
	const Response *r = answer_of(m, RESULT(HELLO));

	CHECK(r != NULL);
	CHECK_UINT(r ? r->id : 0, ==, id);
	CHECK_UINT(r ? r->hello->helper_pid : 0, ==, h->pid);
	CHECK_STR(r ? r->hello->store_dir : NULL, ==, store);
	CHECK_STR(r ? r->hello->helper_version : NULL, ==, VERSION);
	msg_free(m);
}

/* The next answer is the protocol error errnum (id 0: no request was decoded), saying words. */
static void check_protocol_error(struct helper *h, int errnum, const char *words)
{
	HelperMessage *m = next_response(h);

	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK_UINT(m ? m->response->id : 1, ==, 0);
	CHECK_INT(err_code(m) >= 0 ? m->response->error->errno_value : 0, ==, errnum);
	CHECK(err_mentions(m, words));
	msg_free(m);
}

/* The helper ended as it should: exited (not killed) with code; its stderr holds words (NULL: none asked). */
static void check_end(struct helper *h, int code, const char *words)
{
	char *err = NULL;
	int status = helper_end(h, &err);

	CHECK(WIFEXITED(status));
	CHECK_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, ==, code);
	if (words)
		CHECK_CONTAINS(err, words);
	free(err);
}

static char *const store_args[] = { "--store", store, NULL };

static void test_requests(void)
{
	static const uint8_t garbage[] = { 3, 0, 0, 0, 0xff, 0xff, 0xff }, empty[] = { 0, 0, 0, 0 };
	struct helper h;

	test_case("hello framed in, answered framed out");
	CHECK(helper_start(&h, store_args));
	send_hello(&h, 5, false);
	check_hello(&h, 5);
	test_case("a request that cannot be decoded: refused, and the helper goes on");
	send_bytes(&h, garbage, sizeof(garbage));
	check_protocol_error(&h, EPROTO, "the request could not be decoded as a Request message");
	send_hello(&h, 6, false);
	check_hello(&h, 6);
	test_case("an empty frame: a request of no operation");
	send_bytes(&h, empty, sizeof(empty));
	check_protocol_error(&h, EINVAL, "names no operation");
	test_case("a request in pieces, then two in one write");
	send_hello(&h, 7, true);
	check_hello(&h, 7);
	send_hello(&h, 8, false);
	send_hello(&h, 9, false);
	check_hello(&h, 8);
	check_hello(&h, 9);
	test_case("EOF on stdin: the helper exits 0");
	check_end(&h, 0, NULL);
}

static void test_frame_too_long(void)
{
	uint8_t hdr[4];
	struct helper h;

	test_case("a frame announced over 16 MiB: framing is lost, the helper says so and exits");
	CHECK(helper_start(&h, store_args));
	put_le32(hdr, MAX_FRAME_BYTES + 1);
	send_bytes(&h, hdr, sizeof(hdr));
	check_protocol_error(&h, EMSGSIZE, "a frame longer than 16 MiB was refused; the helper stops");
	check_end(&h, 1, NULL);
}

static void test_sigterm(void)
{
	struct helper h;

	test_case("SIGTERM: the helper exits");
	CHECK(helper_start(&h, store_args));
	send_hello(&h, 10, false);
	check_hello(&h, 10);
	CHECK_INT(kill(h.pid, SIGTERM), ==, 0);
	check_end(&h, 0, NULL);
}

/* A program it launched dies with it: killed at its exit. */
static void test_launched_killed(void)
{
	LaunchRequest launch = CHECKPOINT__HELPER__V1__LAUNCH_REQUEST__INIT;
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	char *args[] = { "1000" };
	struct proc_stat st;
	HelperMessage *m;
	struct helper h;
	pid_t pid;

	test_case("a launched program, then EOF");
	CHECK(helper_start(&h, store_args));
	launch.program = "/bin/sleep";
	launch.args = args;
	launch.n_args = ARRAY_SIZE(args);
	req.id = 11;
	req.op_case = OP(LAUNCH);
	req.launch = &launch;
	send_framed(&h, &req, false);
	m = next_response(&h);
	pid = answer_of(m, RESULT(LAUNCH)) ? m->response->launch->root_pid : -1;
	msg_free(m);
	CHECK_INT(pid, >, 0);
	CHECK(pid_exists(pid));
	check_end(&h, 0, NULL);
	test_case("the launched program after the helper's end: gone, or dead and not yet reaped by its new parent");
	if (pid > 0 && !read_proc_stat(pid, &st))
		CHECK_INT(st.state, ==, 'Z');
}

static void test_arguments(void)
{
	static const struct {
		const char *what;
		char *args[4];
		int code;
		const char *out, *err;
	} cases[] = {
		{ "--version", { "--version" }, 0, "checkpoint-helper " VERSION "\n", "" },
		{ "--help", { "--help" }, 0, "usage: checkpoint-helper [--store DIR] [--criu PATH]", "" },
		{ "an argument it does not know", { "--bogus" }, 2, "", "usage: checkpoint-helper" },
		{ "--store without its directory", { "--store" }, 2, "", "usage: checkpoint-helper" },
		{ "a relative --store", { "--store", "relative" }, 2, "", "--store needs an absolute path" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct helper h;
		char *out = NULL, *err = NULL;
		int status;

		test_case("%s", cases[i].what);
		CHECK(helper_start(&h, cases[i].args));
		CHECK_INT(read_fd(h.out, &out, NULL, 1 << 20), ==, 0);
		status = helper_end(&h, &err);
		CHECK(WIFEXITED(status));
		CHECK_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, ==, cases[i].code);
		CHECK_CONTAINS(out, cases[i].out);
		CHECK_CONTAINS(err, cases[i].err);
		free(out);
		free(err);
	}
}

/* A --criu that is not executable is not refused at the start: hello tells it. */
static void test_criu_asked(void)
{
	char *args[] = { "--store", store, "--criu", "relative/criu", NULL };
	HelperMessage *m;
	struct helper h;

	test_case("a --criu that is not an absolute executable");
	CHECK(helper_start(&h, args));
	send_hello(&h, 12, false);
	m = next_response(&h);
	CHECK(answer_of(m, RESULT(HELLO)) != NULL);
	CHECK_CONTAINS(answer_of(m, RESULT(HELLO)) ? m->response->hello->criu_problem : NULL,
		       "the CRIU asked for, relative/criu, is not the absolute path");
	msg_free(m);
	check_end(&h, 0, NULL);
}

TEST_GROUP(main)
{
	CHECK(mkdtemp(store) != NULL);
	test_requests();
	test_frame_too_long();
	test_sigterm();
	test_launched_killed();
	test_arguments();
	test_criu_asked();
	CHECK_INT(remove_tree(store), ==, 0);
	CHECK(no_children());
	arena_free_all();
}
