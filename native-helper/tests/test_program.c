/* SPDX-License-Identifier: MIT */
/* Tests of program.c: launching through the service, output and end as events. */
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

#include "channel.h"
#include "program.h"
#include "proc.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

static HelperMessage *ask_launch(const char *program, char **args, size_t nargs, const char *cwd, char **env,
				 size_t nenv, size_t *nevents)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	LaunchRequest r = CHECKPOINT__HELPER__V1__LAUNCH_REQUEST__INIT;

	r.program = (char *)program;
	r.args = args;
	r.n_args = nargs;
	r.cwd = (char *)cwd;
	r.env = env;
	r.n_env = nenv;
	req.id = 51;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_LAUNCH;
	req.launch = &r;
	return roundtrip_events(&req, nevents);
}

static HelperMessage *ask_launch1(const char *program, const char *cwd)
{
	size_t nevents;

	return ask_launch(program, NULL, 0, cwd, NULL, 0, &nevents);
}

static void test_launch_refused(void)
{
	char *env_bad[][1] = { { "NOEQUALS" }, { "=value" } };
	char *env_ok[] = { "A=1", "EMPTY=", "B==x" };
	char **many = calloc(MAX_LAUNCH_ARGS + 1, sizeof(*many));
	HelperMessage *m;
	size_t nevents;

	m = ask_launch1("", NULL);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "program is required"));
	msg_free(m);
	m = ask_launch1("bin/true", NULL);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "absolute path") && err_mentions(m, "bin/true"));
	msg_free(m);
	m = ask_launch1("/bin/true", "tmp");
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "cwd"));
	msg_free(m);
	for (size_t i = 0; i < ARRAY_SIZE(env_bad); i++) {
		m = ask_launch("/bin/true", NULL, 0, NULL, env_bad[i], 1, &nevents);
		CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "env entry 0"));
		msg_free(m);
	}
	for (size_t i = 0; many && i <= MAX_LAUNCH_ARGS; i++)
		many[i] = "x";
	m = ask_launch("/bin/true", many, MAX_LAUNCH_ARGS + 1, NULL, NULL, 0, &nevents);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "4096"));
	msg_free(m);
	m = ask_launch("/bin/true", NULL, 0, NULL, many, MAX_LAUNCH_ARGS + 1, &nevents);
	CHECK(err_code(m) == EC(BAD_REQUEST));
	msg_free(m);
	free(many);
	/* what passes validation but cannot start: the exec's errno, named, and no zombie */
	m = ask_launch("/no/such/program", NULL, 0, NULL, env_ok, ARRAY_SIZE(env_ok), &nevents);
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "/no/such/program") &&
	      m->response->error->errno_value == ENOENT);
	msg_free(m);
	m = ask_launch1("/tmp", NULL);
	CHECK(err_code(m) == EC(NOT_PERMITTED) && err_mentions(m, "cannot execute /tmp") &&
	      m->response->error->errno_value == EACCES);
	msg_free(m);
	m = ask_launch1("/bin/true", "/no/such/dir");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "/no/such/dir") && err_mentions(m, "/bin/true"));
	msg_free(m);
	CHECK(no_children());
}

/* What the main loop does for a program: read its pipes until they end, reap it. */
static void run_program(pid_t pid)
{
	uint64_t deadline = now_us() + 10 * 1000000ull;

	for (;;) {
		struct pollfd pfd[2 * MAX_PROGRAMS];
		size_t n = program_poll_fds(pfd, ARRAY_SIZE(pfd));

		if (!n || now_us() > deadline)
			break;
		CHECK(poll(pfd, n, 1000) >= 0);
		program_poll_done(pfd, n);
	}
	/* reaped as the main loop reaps at SIGCHLD: its end is reported */
	while (pid_exists(pid) && now_us() < deadline) {
		reap_children();
		sleep_ms(1);
	}
	CHECK(!pid_exists(pid));
}

static void test_launch_output(void)
{
	char *args[] = { "-c", "echo \"out $1 $A\"; pwd; echo err >&2; ls /proc/self/fd >&2; exit 7", "sh", "one" };
	char *env[] = { "A=a b" };
	HelperMessage *m, *v[16];
	struct sbuf out = { 0 }, err = { 0 };
	const ProgramExit *exit = NULL;
	size_t nevents, n;
	pid_t pid = -1;

	m = ask_launch("/bin/sh", args, ARRAY_SIZE(args), "/tmp", env, ARRAY_SIZE(env), &nevents);
	CHECK(m && m->response->result_case == CHECKPOINT__HELPER__V1__RESPONSE__RESULT_LAUNCH);
	if (m && m->response->launch)
		pid = m->response->launch->root_pid;
	msg_free(m);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	out_reset();
	run_program(pid);
	n = out_frames(v, ARRAY_SIZE(v));
	for (size_t i = 0; i < n; i++) {
		const Event *ev = v[i]->event;

		CHECK(ev && ev->request_id == 51);
		if (ev && ev->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_OUTPUT) {
			CHECK(ev->program_output->root_pid == pid && !exit);
			sbuf_add(ev->program_output->stream == CHECKPOINT__HELPER__V1__OUTPUT_STREAM__OUTPUT_STREAM_STDOUT
				 ? &out : &err, (char *)ev->program_output->data.data, ev->program_output->data.len);
		} else if (ev && ev->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_EXIT) {
			exit = ev->program_exit;
		}
	}
	CHECK(out.p && !strcmp(out.p, "out one a b\n/tmp\n"));
	/* the listing's own descriptor is 3: nothing of the helper's leaked */
	CHECK(err.p && !strcmp(err.p, "err\n0\n1\n2\n3\n"));
	CHECK(exit && exit == v[n - 1]->event->program_exit && exit->root_pid == pid && exit->exit_code == 7 &&
	      exit->signal == 0);
	for (size_t i = 0; i < n; i++)
		msg_free(v[i]);
	sbuf_free(&out);
	sbuf_free(&err);
	CHECK(no_children());
}

static void program_tests(void)
{
	test_launch_refused();
	test_launch_output();
}

TEST_GROUP(program)
{
	with_out_file(program_tests);
}
