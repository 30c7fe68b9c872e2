/* SPDX-License-Identifier: MIT */
/* GDB run for the client: DAP messages in, its output told as events, its end made sure of. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "channel.h"
#include "fileio.h"
#include "gdb_run.h"
#include "util.h"
#include "wire.h"

#define MAX_DAP_HEADER 1024		/* bytes of one message's header block */
#define TAIL 1024			/* bytes of stderr kept for the end's message */
#define DRAIN_READS 16			/* reads of what an ended gdb left in its pipe */

enum { READ_END, WRITE_END };

struct gdb_run {
	uint32_t id;
	uint32_t request_id;		/* of the start: its events carry it */
	pid_t pid;
	int in, out, err;		/* gdb's stdin (to write), stdout and stderr (to read); -1 once closed */
	char tail[TAIL];		/* the end of its stderr, a ring */
	size_t ntail;
	struct gdb_run *next;
};

static struct gdb_run *gdbs;
static uint32_t last_id;
static bool quiet;			/* the helper is ending: events have nowhere to go */

/* The disconnect a gdb gets before it is stopped: it detaches and lets the program run. */
static const char disconnect_body[] =
	"{\"seq\":2147483647,\"type\":\"request\",\"command\":\"disconnect\",\"arguments\":{\"terminateDebuggee\":false}}";

/* ---- the list ------------------------------------------------------------ */

static size_t gdb_count(void)
{
	size_t n = 0;

	for (struct gdb_run *g = gdbs; g; g = g->next)
		n++;
	return n;
}

static struct gdb_run *find_id(uint32_t id)
{
	for (struct gdb_run *g = gdbs; g; g = g->next)
		if (g->id == id)
			return g;
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void forget(struct gdb_run *g)
{
	struct gdb_run **pp;

	for (pp = &gdbs; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	close_fd(&g->in);
	close_fd(&g->out);
	close_fd(&g->err);
	free(g);
}

/* ---- DAP framing ------------------------------------------------------------ */

/* The body length a header block (up to its blank line, excluded) announces; -1 when none. */
static long header_length(const char *h, size_t n)
{
	static const char name[] = "Content-Length:";
	long len = -1;

	for (size_t i = 0; i < n;) {
		const char *line = h + i, *eol = memmem(line, n - i, "\r\n", 2);
		size_t ll = eol ? (size_t)(eol - line) : n - i;

		if (ll > sizeof(name) - 1 && !strncasecmp(line, name, sizeof(name) - 1)) {
			char num[32];
			size_t k = ll - (sizeof(name) - 1);

			if (k >= sizeof(num))
				return -1;
			memcpy(num, line + sizeof(name) - 1, k);
			num[k] = '\0';
			len = strtol(num, NULL, 10);
		}
		i += ll + 2;
	}
	return len;
}

ssize_t dap_messages_length(const uint8_t *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const char *head = (const char *)data + off;
		size_t room = len - off < MAX_DAP_HEADER ? len - off : MAX_DAP_HEADER;
		const char *end = memmem(head, room, "\r\n\r\n", 4);
		long body;

		if (!end)
			return -1;
		body = header_length(head, end - head);
		if (body < 0 || (size_t)body > len - off - (end - head) - 4)
			return -1;
		off += (end - head) + 4 + body;
	}
	return (ssize_t)off;
}

/* ---- starting ------------------------------------------------------------ */

static void close_pair(int p[2])
{
	close_fd(&p[READ_END]);
	close_fd(&p[WRITE_END]);
}

/* The child: its own session, stdio the pipes, nothing else open, dead with the helper. */
static void gdb_child(const char *path, int in, int out, int err, pid_t helper)
{
	char *argv[] = { "gdb", "-q", "-nx", "-i=dap", NULL };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != helper)
		_exit(127);	/* the helper is gone already */
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	execv(path, argv);
	_exit(127);
}

static int open_pipes(int in[2], int out[2], int err[2], struct herr *e)
{
	if (pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0)
		return 0;
	herr_perror(e, EC(INTERNAL), errno, "cannot create gdb's pipes");
	close_pair(in);
	close_pair(out);
	return -1;
}

static struct gdb_run *adopt(pid_t pid, uint32_t request_id, int in, int out, int err)
{
	struct gdb_run *g = calloc(1, sizeof(*g));

	if (!g) {
		fprintf(stderr, "checkpoint-helper: out of memory\n");
		abort();
	}
	g->id = ++last_id;
	g->request_id = request_id;
	g->pid = pid;
	g->in = in;
	g->out = out;
	g->err = err;
	fcntl(out, F_SETFL, O_NONBLOCK);
	fcntl(err, F_SETFL, O_NONBLOCK);
	g->next = gdbs;
	gdbs = g;
	return g;
}

int gdb_run_start(const char *path, uint32_t request_id, uint32_t *id, pid_t *pid, struct herr *e)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	pid_t helper = getpid();

	if (gdb_count() >= MAX_GDBS) {
		herr_set(e, EC(BAD_REQUEST), EMFILE, "this helper already runs %d gdbs; stop one first", MAX_GDBS);
		return -1;
	}
	if (open_pipes(in, out, err, e))
		return -1;
	*pid = fork();
	if (*pid == 0)
		gdb_child(path, in[READ_END], out[WRITE_END], err[WRITE_END], helper);
	if (*pid < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot fork to start gdb");
		close_pair(in);
		close_pair(out);
		close_pair(err);
		return -1;
	}
	close_fd(&in[READ_END]);
	close_fd(&out[WRITE_END]);
	close_fd(&err[WRITE_END]);
	*id = adopt(*pid, request_id, in[WRITE_END], out[READ_END], err[READ_END])->id;
	return 0;
}

/* ---- feeding and reading --------------------------------------------------- */

int gdb_run_send(uint32_t id, const uint8_t *data, size_t len, struct herr *e)
{
	struct gdb_run *g = find_id(id);

	if (!g || g->in < 0) {
		herr_set(e, EC(NOT_FOUND), ENOENT, "no gdb %u runs in this helper (it ended, or was never started)", id);
		return -1;
	}
	if (dap_messages_length(data, len) != (ssize_t)len) {
		herr_set(e, EC(BAD_REQUEST), EINVAL, "what was sent to gdb %u is not whole DAP messages (a "
			 "Content-Length header, a blank line and that many bytes, each)", id);
		return -1;
	}
	if (write_all(g->in, data, len)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot write to gdb %u", id);
		return -1;
	}
	return 0;
}

static void emit_output(const struct gdb_run *g, const uint8_t *data, size_t len)
{
	Event ev = CHECKPOINT__HELPER__V1__EVENT__INIT;
	Checkpoint__Helper__V1__GdbOutput o = CHECKPOINT__HELPER__V1__GDB_OUTPUT__INIT;

	if (quiet)
		return;
	o.gdb_id = g->id;
	o.data.data = (uint8_t *)data;
	o.data.len = len;
	ev.kind_case = CHECKPOINT__HELPER__V1__EVENT__KIND_GDB_OUTPUT;
	ev.gdb_output = &o;
	send_event(g->request_id, &ev);
}

static void keep_tail(struct gdb_run *g, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		g->tail[g->ntail++ % TAIL] = data[i];
}

/* Reads once from fd of g: > 0 bytes handled, 0 at its end (closed), -1 when empty now. */
static ssize_t pump(struct gdb_run *g, int *fd)
{
	static uint8_t buf[65536];
	ssize_t n;

	do {
		n = read(*fd, buf, sizeof(buf));
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		if (fd == &g->out)
			emit_output(g, buf, n);
		else
			keep_tail(g, buf, n);
		return n;
	}
	if (n < 0 && errno == EAGAIN)
		return -1;
	close_fd(fd);
	return 0;
}

size_t gdb_run_poll_fds(struct pollfd *pfd, size_t max)
{
	size_t n = 0;

	for (struct gdb_run *g = gdbs; g; g = g->next) {
		if (g->out >= 0 && n < max)
			pfd[n++] = (struct pollfd){ g->out, POLLIN, 0 };
		if (g->err >= 0 && n < max)
			pfd[n++] = (struct pollfd){ g->err, POLLIN, 0 };
	}
	return n;
}

void gdb_run_poll_done(const struct pollfd *pfd, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (struct gdb_run *g = gdbs; g; g = g->next) {
			if (pfd[k].fd == g->out) {
				pump(g, &g->out);
				break;
			}
			if (pfd[k].fd == g->err) {
				pump(g, &g->err);
				break;
			}
		}
	}
}

/* ---- its end ------------------------------------------------------------- */

/* The stderr tail in order, printable (arena-free: a static buffer). */
static const char *tail_text(const struct gdb_run *g)
{
	static char text[TAIL + 1];
	size_t n = g->ntail < TAIL ? g->ntail : TAIL, start = g->ntail < TAIL ? 0 : g->ntail % TAIL;

	for (size_t i = 0; i < n; i++) {
		char c = g->tail[(start + i) % TAIL];

		text[i] = (c == '\n' || c == '\t' || ((unsigned char)c >= 0x20 && c != 0x7f)) ? c : '?';
	}
	text[n] = '\0';
	return text;
}

static void emit_exit(const struct gdb_run *g, int status)
{
	Event ev = CHECKPOINT__HELPER__V1__EVENT__INIT;
	Checkpoint__Helper__V1__GdbExit x = CHECKPOINT__HELPER__V1__GDB_EXIT__INIT;

	if (quiet)
		return;
	x.gdb_id = g->id;
	x.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	x.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	x.stderr_tail = (char *)tail_text(g);
	ev.kind_case = CHECKPOINT__HELPER__V1__EVENT__KIND_GDB_EXIT;
	ev.gdb_exit = &x;
	send_event(g->request_id, &ev);
}

/* What an ended gdb left in its pipes: bounded, so a descendant writing on cannot hold its end back. */
static void drain(struct gdb_run *g)
{
	for (int k = 0; k < DRAIN_READS && g->out >= 0 && pump(g, &g->out) > 0; k++)
		;
	for (int k = 0; k < DRAIN_READS && g->err >= 0 && pump(g, &g->err) > 0; k++)
		;
}

bool gdb_run_reaped(pid_t pid, int status)
{
	for (struct gdb_run *g = gdbs; g; g = g->next) {
		if (g->pid != pid)
			continue;
		drain(g);
		emit_exit(g, status);
		forget(g);
		return true;
	}
	return false;
}

/* Waits for gdb to end, up to ms; then it is killed. */
static int wait_end(pid_t pid, unsigned ms)
{
	uint64_t deadline = now_us() + ms * 1000ull;
	unsigned pause = 0;
	int status = 0;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_us() < deadline)
		poll_pause(&pause);
	if (r == 0) {
		kill(pid, SIGKILL);
		while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
	}
	return status;
}

/*
 * Asks gdb to disconnect (whole messages only were written, so this one is
 * whole too), then waits; at_once: kills it instead.
 */
static int end_gdb(struct gdb_run *g, bool at_once)
{
	char head[64];
	int status;

	if (at_once)
		kill(g->pid, SIGKILL);
	else if (g->in >= 0) {
		snprintf(head, sizeof(head), "Content-Length: %zu\r\n\r\n", sizeof(disconnect_body) - 1);
		if (write_all(g->in, head, strlen(head)) == 0)
			write_all(g->in, disconnect_body, sizeof(disconnect_body) - 1);
	}
	close_fd(&g->in);
	status = wait_end(g->pid, GDB_STOP_MS);
	drain(g);
	return status;
}

int gdb_run_stop(uint32_t id, bool at_once, int *status, struct herr *e)
{
	struct gdb_run *g = find_id(id);

	if (!g) {
		herr_set(e, EC(NOT_FOUND), ENOENT, "no gdb %u runs in this helper (it ended, or was never started)", id);
		return -1;
	}
	*status = end_gdb(g, at_once);
	forget(g);
	return 0;
}

void gdb_run_stop_all(void)
{
	quiet = true;
	while (gdbs) {
		end_gdb(gdbs, false);
		forget(gdbs);
	}
}
