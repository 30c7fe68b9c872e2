/* SPDX-License-Identifier: MIT */
/* Tests of program.c: launching, output pipes, output and end as events, reaping. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "channel.h"
#include "children.h"
#include "lists.h"
#include "proc.h"
#include "program.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"
#include "service.h"

#define LAUNCH_ID 51

/* What the events of one program told (frames since out_reset). */
struct told {
	struct sbuf out, err;
	const ProgramExit *exit;
	bool exit_last;		/* its end came after all its output */
	size_t nframes;
	HelperMessage *v[64];
};

static void told_read(struct told *t, pid_t root, uint32_t id)
{
	memset(t, 0, sizeof(*t));
	t->nframes = out_frames(t->v, ARRAY_SIZE(t->v));
	for (size_t i = 0; i < t->nframes; i++) {
		const Event *ev = t->v[i]->event;

		test_case("event %zu of program %d", i, root);
		CHECK(ev != NULL);
		if (!ev)
			continue;
		CHECK_UINT(ev->request_id, ==, id);
		if (ev->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_OUTPUT) {
			const ProgramOutput *o = ev->program_output;

			CHECK_INT(o->root_pid, ==, root);
			CHECK(!t->exit);	/* nothing after the end */
			sbuf_add(o->stream == CHECKPOINT__HELPER__V1__OUTPUT_STREAM__OUTPUT_STREAM_STDOUT ? &t->out
				 : &t->err, (char *)o->data.data, o->data.len);
		} else if (ev->kind_case == CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_EXIT) {
			CHECK(!t->exit);	/* one end */
			t->exit = ev->program_exit;
			t->exit_last = i + 1 == t->nframes;
		}
	}
	test_case("the events of program %d", root);
}

static void told_free(struct told *t)
{
	for (size_t i = 0; i < t->nframes; i++)
		msg_free(t->v[i]);
	sbuf_free(&t->out);
	sbuf_free(&t->err);
}

/* The end told: exit code or signal, after the output. */
static void check_end(const struct told *t, pid_t root, int code, int sig)
{
	CHECK(t->exit != NULL);
	CHECK(t->exit_last);
	if (!t->exit)
		return;
	CHECK_INT(t->exit->root_pid, ==, root);
	CHECK_INT(t->exit->exit_code, ==, code);
	CHECK_INT(t->exit->signal, ==, sig);
}

/* A program run to its end: its output read, its end reported. */
static void run_program(pid_t pid)
{
	programs_read();
	programs_reap(&pid, 1);
}

static pid_t launch(const char *program, char *const *argv, char *const *envp, const char *cwd, struct herr *e)
{
	struct launch_spec s = { .program = program, .argv = argv, .envp = envp, .cwd = cwd };
	pid_t pid = 0;

	if (program_launch(&s, LAUNCH_ID, &pid, e))
		CHECK_INT(pid, ==, -1);
	return pid;
}

static void test_launch_output(void)
{
	char *argv[] = { "/bin/sh", "-c", "echo \"out $1 $A\"; pwd; echo err >&2; ls /proc/self/fd >&2; exit 7",
			 "sh", "one", NULL };
	char *env[] = { "A=a b", NULL };
	struct herr e = { 0 };
	struct told t;
	pid_t pid;

	out_reset();
	pid = launch("/bin/sh", argv, env, "/tmp", &e);
	CHECK_INT(pid, >, 0);
	if (pid <= 0)
		return;
	run_program(pid);
	told_read(&t, pid, LAUNCH_ID);
	CHECK_STR(sbuf_text(&t.out), ==, "out one a b\n/tmp\n");
	/* the listing's own descriptor is 3: nothing of the helper's leaked */
	CHECK_STR(sbuf_text(&t.err), ==, "err\n0\n1\n2\n3\n");
	check_end(&t, pid, 7, 0);
	told_free(&t);
	CHECK(no_children());
}

/* Waits until pid is a zombie (ended, not reaped). */
static bool wait_zombie(pid_t pid)
{
	uint64_t deadline = now_us() + 10 * 1000000ull;
	struct proc_stat st;

	while (now_us() < deadline) {
		if (read_proc_stat(pid, &st) || st.state == 'Z')
			return st.state == 'Z';
		sleep_ms(1);
	}
	return false;
}

/* Its pipes never polled: reaping reads what is left, and tells the end after it. */
static void test_reap_order(void)
{
	char *argv[] = { "/bin/sh", "-c", "echo one; echo two >&2; kill -TERM $$", NULL };
	char *env[] = { NULL };
	struct herr e = { 0 };
	struct told t;
	pid_t pid = launch("/bin/sh", argv, env, "/", &e);

	CHECK_INT(pid, >, 0);
	CHECK(wait_zombie(pid));
	out_reset();
	reap_children();
	told_read(&t, pid, LAUNCH_ID);
	CHECK_STR(sbuf_text(&t.out), ==, "one\n");
	CHECK_STR(sbuf_text(&t.err), ==, "two\n");
	check_end(&t, pid, 0, SIGTERM);
	told_free(&t);
	CHECK(no_children());
	CHECK_UINT(programs_pipes(), ==, 0);	/* forgotten: its pipes ended with it */
}

static const struct launch_fail {
	const char *program, *cwd;
	int code, errnum;
	const char *words;
} launch_fails[] = {
	{ "/etc/passwd", "/", EC(NOT_PERMITTED), EACCES, "cannot execute /etc/passwd: Permission denied" },
	{ "/etc/passwd/x", "/", EC(NOT_FOUND), ENOTDIR, "cannot execute /etc/passwd/x: Not a directory" },
	{ "/bin/true", "/etc/passwd", EC(NOT_FOUND), ENOTDIR,
	  "cannot start /bin/true: cannot change to directory /etc/passwd: Not a directory" },
	{ "/tmp/ckpt-noexec", "/", EC(BAD_REQUEST), ENOEXEC, "cannot execute /tmp/ckpt-noexec: Exec format error" },
};

/* An exec that fails is the launch's error, in words; no child is left, nothing is read. */
static void test_launch_fails(void)
{
	char *env[] = { NULL };
	int fd = open("/tmp/ckpt-noexec", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

	CHECK_INT(fd, >=, 0);
	CHECK_INT(write(fd, "\x01\x02\x03\x04", 4), ==, 4);	/* neither ELF nor #! */
	close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(launch_fails); i++) {
		const struct launch_fail *c = &launch_fails[i];
		char *argv[] = { (char *)c->program, NULL };
		struct herr e = { 0 };

		test_case("%s in %s", c->program, c->cwd);
		out_reset();
		CHECK_INT(launch(c->program, argv, env, c->cwd, &e), ==, -1);
		CHECK_INT(e.code, ==, c->code);
		CHECK_INT(e.errnum, ==, c->errnum);
		CHECK_STR(e.msg, ==, c->words);
		CHECK_INT(lseek(g_out_fd, 0, SEEK_CUR), ==, 0);	/* no event */
		CHECK_UINT(programs_pipes(), ==, 0);
		CHECK(no_children());
	}
	unlink("/tmp/ckpt-noexec");
}

/* The inode of the pipe pid's descriptor fd is, 0 when it cannot be read. */
static uint32_t pipe_inode(pid_t pid, int fd)
{
	struct stat st;

	return stat(arena_printf("/proc/%d/fd/%d", pid, fd), &st) ? 0 : (uint32_t)st.st_ino;
}

/* The pipes of a program: its own, its descendants', nobody else's. */
static void test_pipe_ids(void)
{
	char *argv[] = { "/bin/sh", "-c", "sleep 1000 & wait", NULL };
	char *env[] = { NULL };
	struct pidlist tree = { 0 };
	struct herr e = { 0 };
	uint32_t out = 0, err = 0;
	pid_t pid = launch("/bin/sh", argv, env, "/", &e);
	uint64_t deadline = now_us() + 10 * 1000000ull;

	CHECK_INT(pid, >, 0);
	while (pid > 0 && !proc_tree(pid, &tree, &e) && tree.n < 2 && now_us() < deadline)
		sleep_ms(1);
	CHECK_UINT(tree.n, ==, 2);	/* sh and its sleep */
	for (size_t i = 0; i < tree.n; i++) {
		test_case("process %zu of the program's tree", i);
		CHECK_INT(program_pipe_ids(tree.v[i], &out, &err), ==, 0);
		CHECK_UINT(out, ==, pipe_inode(pid, 1));
		CHECK_UINT(err, ==, pipe_inode(pid, 2));
		CHECK_UINT(out, !=, err);
		CHECK_UINT(out, !=, 0);
	}
	test_case("not a program's");
	CHECK_INT(program_pipe_ids(getpid(), &out, &err), ==, -1);
	CHECK_INT(program_pipe_ids(NO_PID, &out, &err), ==, -1);
	CHECK_INT(program_pipe_ids(1, &out, &err), ==, -1);
	programs_end(&pid, 1);
	pidlist_free(&tree);
	arena_free_all();
}

static void test_pipes_open(void)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	struct herr e = { 0 };
	char buf[8] = "";

	CHECK_OK(program_pipes_open(out, err, &e), &e);
	for (int i = 0; i < 2; i++) {
		test_case("pipe end %d", i);
		CHECK_INT(fcntl(out[i], F_GETFD), ==, FD_CLOEXEC);
		CHECK_INT(fcntl(err[i], F_GETFD), ==, FD_CLOEXEC);
	}
	test_case("each pipe carries its own bytes");
	CHECK_INT(write(out[1], "o", 1), ==, 1);
	CHECK_INT(write(err[1], "e", 1), ==, 1);
	CHECK_INT(read(out[0], buf, sizeof(buf)), ==, 1);
	CHECK_INT(read(err[0], buf + 1, sizeof(buf) - 1), ==, 1);
	CHECK_STR(buf, ==, "oe");
	for (int i = 0; i < 2; i++) {
		close(out[i]);
		close(err[i]);
	}
}

static void write_and_exit(void *arg, int report)
{
	const int *w = arg;

	(void)report;
	if (write(w[0], "adopted out", 11) != 11 || write(w[1], "adopted err", 11) != 11)
		_exit(1);
	_exit(5);
}

/* A restored program's pipes taken over: its output and end told with the restore's id. */
static void test_adopt(void)
{
	int out[2], err[2], w[2], report;
	struct herr e = { 0 };
	struct told t;
	pid_t pid;

	CHECK_OK(program_pipes_open(out, err, &e), &e);
	w[0] = out[1];
	w[1] = err[1];
	out_reset();
	pid = spawn(write_and_exit, w, SAME_GROUP, &report);
	close(report);
	close(out[1]);
	close(err[1]);
	CHECK_INT(pid, >, 0);
	program_adopt(pid, 77, out[0], err[0]);
	CHECK_UINT(programs_pipes(), ==, 2);
	run_program(pid);
	told_read(&t, pid, 77);
	CHECK_STR(sbuf_text(&t.out), ==, "adopted out");
	CHECK_STR(sbuf_text(&t.err), ==, "adopted err");
	check_end(&t, pid, 5, 0);
	told_free(&t);
}

/* MAX_PROGRAMS programs at most: one more is refused in words, and nothing of it is left. */
static void test_room(void)
{
	char *argv[] = { "/bin/sleep", "1000", NULL };
	char *env[] = { NULL };
	pid_t pids[MAX_PROGRAMS];
	struct herr e = { 0 };
	size_t n = 0;
	int fds;

	while (n < MAX_PROGRAMS && program_room() && (pids[n] = launch("/bin/sleep", argv, env, "/", &e)) > 0)
		n++;
	CHECK_UINT(n, ==, MAX_PROGRAMS);
	CHECK(!program_room());
	fds = count_fds();
	CHECK_INT(launch("/bin/sleep", argv, env, "/", &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BAD_REQUEST));
	CHECK_INT(e.errnum, ==, EMFILE);
	CHECK_STR(e.msg, ==, "this helper already reads the output of 64 programs; kill one first");
	CHECK_INT(count_fds(), ==, fds);
	programs_end(pids, n);
	CHECK(program_room());
}

/* Reads /proc/pid/status's line key ("State:", "TracerPid:"): its value, or "" */
static const char *status_line(pid_t pid, const char *key)
{
	static char line[256];
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	line[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			break;
		else
			line[0] = '\0';
	if (f)
		fclose(f);
	line[strcspn(line, "\n")] = '\0';
	return line[0] ? line + strlen(key) + 1 : "";
}

/* Stopped at its start: exec done, nothing of it run, not traced; SIGCONT lets it run to its end. */
static void test_launch_stopped(void)
{
	char *argv[] = { "/bin/sh", "-c", "echo ran", NULL };
	char *env[] = { NULL };
	struct launch_spec s = { .program = "/bin/sh", .argv = argv, .envp = env, .cwd = "/", .stopped = true };
	struct herr e = { 0 };
	char exe[64], target[256] = "";
	struct told t;
	pid_t pid = 0;

	test_case("a program launched stopped at its start");
	out_reset();
	CHECK_OK(program_launch(&s, LAUNCH_ID, &pid, &e), &e);
	if (pid <= 0)
		return;
	CHECK_STR(status_line(pid, "State:"), ==, "T (stopped)");
	CHECK_STR(status_line(pid, "TracerPid:"), ==, "0");
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	CHECK(readlink(exe, target, sizeof(target) - 1) > 0);
	CHECK(strstr(target, "sh") != NULL);
	sleep_ms(50);
	CHECK_STR(status_line(pid, "State:"), ==, "T (stopped)");
	kill(pid, SIGCONT);
	run_program(pid);
	told_read(&t, pid, LAUNCH_ID);
	CHECK_STR(sbuf_text(&t.out), ==, "ran\n");
	check_end(&t, pid, 0, 0);
	told_free(&t);
}

static void program_tests(void)
{
	test_launch_output();
	test_launch_stopped();
	test_reap_order();
	test_launch_fails();
	test_pipe_ids();
	test_pipes_open();
	test_adopt();
	test_room();
	CHECK_UINT(programs_pipes(), ==, 0);
	CHECK(no_children());
}

TEST_GROUP(program)
{
	with_out_file(program_tests);
}
