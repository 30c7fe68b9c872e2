/* SPDX-License-Identifier: MIT */
/*
 * Programs the helper launched (or restored with their output): starting
 * them, reading their stdout and stderr pipes from the main loop, reporting
 * their end.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "channel.h"
#include "kill.h"
#include "program.h"
#include "proc.h"
#include "util.h"
#include "wire.h"

enum { OUT, ERR };

struct program {
	pid_t root;
	uint32_t request_id;	/* of the launch or restore: its events carry it */
	int fd[2];		/* read ends of stdout and stderr; -1 once at EOF */
	uint32_t pipe_id[2];	/* the pipes' inodes: CRIU names them pipe:[ID] */
	bool exited;
	struct program *next;
};

static struct program *programs;
static bool quiet;	/* exiting: the client is gone, events have nowhere to go */

/* What the child reports through the CLOEXEC pipe when it cannot exec. */
enum launch_stage { STAGE_SETUP = 1, STAGE_CWD, STAGE_EXEC };

struct launch_failure {
	int stage;
	int errnum;
};

/* ---- events --------------------------------------------------------------- */

static void emit_output(const struct program *p, int stream, const uint8_t *data, size_t len)
{
	Event ev = CHECKPOINT__HELPER__V1__EVENT__INIT;
	ProgramOutput o = CHECKPOINT__HELPER__V1__PROGRAM_OUTPUT__INIT;

	if (quiet)
		return;
	o.root_pid = p->root;
	o.stream = stream == OUT ? CHECKPOINT__HELPER__V1__OUTPUT_STREAM__OUTPUT_STREAM_STDOUT
				 : CHECKPOINT__HELPER__V1__OUTPUT_STREAM__OUTPUT_STREAM_STDERR;
	o.data.data = (uint8_t *)data;
	o.data.len = len;
	ev.kind_case = CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_OUTPUT;
	ev.program_output = &o;
	send_event(p->request_id, &ev);
}

static void emit_exit(const struct program *p, int status)
{
	Event ev = CHECKPOINT__HELPER__V1__EVENT__INIT;
	ProgramExit x = CHECKPOINT__HELPER__V1__PROGRAM_EXIT__INIT;

	if (quiet)
		return;
	x.root_pid = p->root;
	x.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	x.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	ev.kind_case = CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_EXIT;
	ev.program_exit = &x;
	send_event(p->request_id, &ev);
}

/* ---- the list --------------------------------------------------------------- */

static size_t program_count(void)
{
	size_t n = 0;

	for (struct program *p = programs; p; p = p->next)
		n++;
	return n;
}

bool program_room(void)
{
	return program_count() < MAX_PROGRAMS;
}

static struct program *find_running(pid_t root)
{
	for (struct program *p = programs; p; p = p->next)
		if (p->root == root && !p->exited)
			return p;
	return NULL;
}

/* Forgets p once nothing is left to report: its end, and both streams' EOF. */
static void maybe_forget(struct program *p)
{
	struct program **pp;

	if (!p->exited || p->fd[OUT] >= 0 || p->fd[ERR] >= 0)
		return;
	for (pp = &programs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	free(p);
}

static uint32_t pipe_id_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint32_t)st.st_ino;
}

/* Takes the read ends: non-blocking, read from the main loop. */
void program_adopt(pid_t root, uint32_t id, int out_fd, int err_fd)
{
	struct program *p = calloc(1, sizeof(*p));

	if (!p) {
		fprintf(stderr, "checkpoint-helper: out of memory\n");
		abort();
	}
	p->root = root;
	p->request_id = id;
	p->fd[OUT] = out_fd;
	p->fd[ERR] = err_fd;
	for (int i = OUT; i <= ERR; i++) {
		fcntl(p->fd[i], F_SETFL, O_NONBLOCK);
		p->pipe_id[i] = pipe_id_of(p->fd[i]);
	}
	p->next = programs;
	programs = p;
}

int program_pipe_ids(pid_t pid, uint32_t *out_id, uint32_t *err_id)
{
	/* a descendant of a program inherited its pipes: the nearest program up the tree */
	for (int depth = 0; pid > 1 && depth < MAX_TREE_DEPTH; depth++) {
		struct program *p = find_running(pid);
		struct proc_stat st;

		if (p) {
			*out_id = p->pipe_id[OUT];
			*err_id = p->pipe_id[ERR];
			return 0;
		}
		if (read_proc_stat(pid, &st))
			return -1;
		pid = st.ppid;
	}
	return -1;
}

/* ---- reading output ------------------------------------------------------- */

/* Reads once from a stream: > 0 bytes sent, 0 at its end (closed), -1 when empty now. */
static ssize_t pump(struct program *p, int stream)
{
	static uint8_t buf[65536];
	ssize_t n;

	do {
		n = read(p->fd[stream], buf, sizeof(buf));
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		emit_output(p, stream, buf, n);
		return n;
	}
	if (n < 0 && errno == EAGAIN)
		return -1;
	/* EOF, or an error that ends the stream just the same */
	close(p->fd[stream]);
	p->fd[stream] = -1;
	return 0;
}

/*
 * What an ended root wrote is at most a full pipe (1 MiB by default,
 * fs.pipe-max-size): bounded, so a descendant writing on cannot hold back
 * the report of the end.
 */
#define DRAIN_READS 16

static void drain(struct program *p)
{
	for (int i = OUT; i <= ERR; i++)
		for (int k = 0; k < DRAIN_READS && p->fd[i] >= 0 && pump(p, i) > 0; k++)
			;
}

size_t program_poll_fds(struct pollfd *pfd, size_t max)
{
	size_t n = 0;

	for (struct program *p = programs; p; p = p->next)
		for (int i = OUT; i <= ERR; i++)
			if (p->fd[i] >= 0 && n < max)
				pfd[n++] = (struct pollfd){ p->fd[i], POLLIN, 0 };
	return n;
}

static struct program *owner_of(int fd, int *stream)
{
	for (struct program *p = programs; p; p = p->next) {
		for (int i = OUT; i <= ERR; i++) {
			if (p->fd[i] == fd) {
				*stream = i;
				return p;
			}
		}
	}
	return NULL;
}

void program_poll_done(const struct pollfd *pfd, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct program *p;
		int stream;

		if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		p = owner_of(pfd[k].fd, &stream);
		if (!p)
			continue;
		pump(p, stream);
		maybe_forget(p);
	}
}

void program_reaped(pid_t pid, int status)
{
	struct program *p = find_running(pid);

	if (!p)
		return;
	/* what it wrote before it ended comes before its end */
	drain(p);
	emit_exit(p, status);
	p->exited = true;
	maybe_forget(p);
}

void program_kill_all(void)
{
	struct pidlist roots = { 0 };

	quiet = true;
	/* killing reaps, and reaping forgets programs: the roots first */
	for (struct program *p = programs; p; p = p->next)
		if (!p->exited)
			pidlist_add(&roots, p->root);
	for (size_t i = 0; i < roots.n; i++) {
		struct pidlist killed = { 0 };
		struct herr e = { 0 };

		if (pid_exists(roots.v[i]) && kill_tree(roots.v[i], &killed, &e))
			fprintf(stderr, "checkpoint-helper: %s\n", e.msg);
		pidlist_free(&killed);
	}
	pidlist_free(&roots);
	while (programs) {
		struct program *p = programs;

		programs = p->next;
		for (int i = OUT; i <= ERR; i++)
			if (p->fd[i] >= 0)
				close(p->fd[i]);
		free(p);
	}
}

/* ---- launching ------------------------------------------------------------ */

/* Marks every descriptor from lowfd on close-on-exec. */
static int cloexec_from(int lowfd)
{
	struct dirent *de;
	DIR *d;

	if (syscall(SYS_close_range, lowfd, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	/* kernels before 5.11: every open descriptor, by name */
	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (fd >= lowfd && fd != dirfd(d) && fcntl(fd, F_SETFD, FD_CLOEXEC))
			break;
	}
	closedir(d);
	return de ? -1 : 0;
}

static void child_fail(int report, int stage)
{
	struct launch_failure f = { stage, errno };

	if (write(report, &f, sizeof(f)) != sizeof(f))
		_exit(126);
	_exit(127);
}

/*
 * The child: a session of its own (no controlling terminal, what CRIU dumps
 * without shell_job), stdin /dev/null, stdout and stderr the pipes, nothing
 * else open after exec. The helper's descriptors 0-2 are always open, so
 * every pipe end here is above 2 and the dup2s cannot overwrite one another.
 */
static void launch_child(const struct launch_spec *s, int out_w, int err_w, int report)
{
	sigset_t none;
	int null;

	/* the helper blocks signals for its signalfd and ignores SIGPIPE: exec keeps both */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* the helper's 077 is for checkpoint images, not for the program's files */
	umask(022);
	if (setsid() < 0)
		child_fail(report, STAGE_SETUP);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		child_fail(report, STAGE_SETUP);
	/* report stays open until exec succeeds: its EOF tells the helper so */
	if (cloexec_from(3))
		child_fail(report, STAGE_SETUP);
	if (chdir(s->cwd))
		child_fail(report, STAGE_CWD);
	/* traced, the exec stops it with SIGTRAP before its first instruction */
	if (s->stopped && ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		child_fail(report, STAGE_SETUP);
	execve(s->program, s->argv, s->envp);
	child_fail(report, STAGE_EXEC);
}

static int launch_error_code(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		return EC(NOT_FOUND);
	case EACCES:
	case EPERM:
		return EC(NOT_PERMITTED);
	case ENOMEM:
	case EAGAIN:
	case EMFILE:
	case ENFILE:
		return EC(INTERNAL);
	default:
		return EC(BAD_REQUEST);
	}
}

static void launch_failed(const struct launch_spec *s, const struct launch_failure *f, struct herr *e)
{
	int code = launch_error_code(f->errnum);

	switch (f->stage) {
	case STAGE_CWD:
		herr_perror(e, code, f->errnum, "cannot start %s: cannot change to directory %s", s->program,
			 s->cwd);
		break;
	case STAGE_EXEC:
		herr_perror(e, code, f->errnum, "cannot execute %s", s->program);
		break;
	default:
		herr_perror(e, EC(INTERNAL), f->errnum, "cannot start %s: setting up its process failed",
			 s->program);
	}
}

/* Reads the child's report: 0 when exec succeeded (EOF), 1 with f filled, -1 on error. */
static int read_report(int fd, struct launch_failure *f)
{
	ssize_t n;

	do {
		n = read(fd, f, sizeof(*f));
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n == sizeof(*f))
		return 1;
	if (n > 0)
		errno = EPROTO;
	return -1;
}

#define STOP_WAIT_MS 1000

/* The SIGSTOP a detach hands over takes a moment: the caller gets the program stopped. */
static int wait_job_stop(pid_t pid, const char *program, struct herr *e)
{
	uint64_t deadline = now_us() + STOP_WAIT_MS * 1000ull;
	unsigned pause = 0;
	struct proc_stat st;

	while (read_proc_stat(pid, &st) == 0 && st.state != 'T') {
		if (now_us() > deadline) {
			herr_set(e, EC(INTERNAL), 0, "%s did not stop at its start (state %c)", program, st.state);
			return -1;
		}
		poll_pause(&pause);
	}
	return 0;
}

/*
 * The child stopped in its exec (PTRACE_TRACEME): let go into a
 * job-control stop, where a debugger can attach and SIGCONT lets it run.
 */
static int hand_over_stopped(pid_t pid, const char *program, struct herr *e)
{
	int status;

	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR) {
			herr_perror(e, EC(INTERNAL), errno, "cannot wait for %s to stop at its start", program);
			return -1;
		}
	if (!WIFSTOPPED(status)) {
		herr_set(e, EC(INTERNAL), 0, "%s ended at its start (%s %d)", program,
			 WIFSIGNALED(status) ? "signal" : "exit status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		return -1;
	}
	if (ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)SIGSTOP)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot leave %s stopped at its start", program);
		return -1;
	}
	return wait_job_stop(pid, program, e);
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		p[i] = -1;
	}
}

int program_pipes_open(int out[2], int err[2], struct herr *e)
{
	if (pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0)
		return 0;
	herr_perror(e, EC(INTERNAL), errno, "cannot create the program's output pipes");
	close_pair(out);
	return -1;
}

int program_launch(const struct launch_spec *s, uint32_t id, pid_t *pid, struct herr *e)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, report[2] = { -1, -1 };
	struct launch_failure f;
	int ret = -1, r;

	*pid = -1;
	if (!program_room()) {
		herr_set(e, EC(BAD_REQUEST), EMFILE, "this helper already reads the output of %d programs; "
			 "kill one first", MAX_PROGRAMS);
		return -1;
	}
	if (program_pipes_open(out, err, e))
		return -1;
	if (pipe2(report, O_CLOEXEC)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot create a pipe");
		goto out;
	}
	*pid = fork();
	if (*pid < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot fork to start %s", s->program);
		goto out;
	}
	if (*pid == 0)
		launch_child(s, out[1], err[1], report[1]);
	close(report[1]);
	report[1] = -1;
	r = read_report(report[0], &f);
	if (r != 0) {
		if (r < 0) {
			/* the child's fate is unknown: it must not run unreported */
			herr_perror(e, EC(INTERNAL), errno, "cannot learn whether %s started", s->program);
			kill(*pid, SIGKILL);
		} else {
			launch_failed(s, &f, e);
		}
		/* the child ends at once (or was killed): reaped here, never a zombie */
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
		*pid = -1;
		goto out;
	}
	if (s->stopped && hand_over_stopped(*pid, s->program, e)) {
		kill(*pid, SIGKILL);
		while (waitpid(*pid, NULL, __WALL) < 0 && errno == EINTR)
			;
		*pid = -1;
		goto out;
	}
	program_adopt(*pid, id, out[0], err[0]);
	out[0] = err[0] = -1;
	ret = 0;
out:
	close_pair(out);
	close_pair(err);
	close_pair(report);
	return ret;
}
