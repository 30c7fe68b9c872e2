/* SPDX-License-Identifier: MIT */
/*
 * checkpoint-helper: runs on the target host, reads framed Request messages
 * on stdin, answers framed HelperMessage messages on stdout, drives CRIU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "channel.h"
#include "children.h"
#include "config.h"
#include "criu.h"
#include "framing.h"
#include "fault.h"
#include "freeze_claim.h"
#include "gdb_run.h"
#include "ops.h"
#include "program.h"
#include "store.h"
#include "util.h"
#include "wire.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: checkpoint-helper [--store DIR] [--criu PATH] [--fault POINT=ERRNO|KILL|PAUSE]...\n"
		   "       checkpoint-helper --version\n"
		   "Speaks length-prefixed protobuf (proto/helper.proto) on stdin/stdout.\n");
}

static int parse_args(int argc, char **argv)
{
	snprintf(g_cfg.store, sizeof(g_cfg.store), "%s", DEFAULT_STORE);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--version")) {
			printf("checkpoint-helper %s\n", VERSION);
			exit(0);
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--store") && i + 1 < argc) {
			const char *s = argv[++i];

			if (s[0] != '/' || strlen(s) >= 3000) {
				fprintf(stderr, "checkpoint-helper: --store needs an absolute path\n");
				return -1;
			}
			snprintf(g_cfg.store, sizeof(g_cfg.store), "%s", s);
		} else if (!strcmp(a, "--criu") && i + 1 < argc) {
			g_cfg.criu_path = argv[++i];
		} else if (!strcmp(a, "--fault") && i + 1 < argc) {
			/* tests only: a point of the helper fails as if the system had said so */
			if (fault_add(argv[++i])) {
				fprintf(stderr, "checkpoint-helper: --fault needs POINT=ERRNO (ENOSPC, EIO, ... or a number), POINT=KILL or POINT=PAUSE\n");
				return -1;
			}
		} else {
			usage(stderr);
			return -1;
		}
	}
	/* a --criu that is not executable is told in hello's criu_problem, not here: nobody reads stderr */
	g_cfg.criu_asked = g_cfg.criu_path;
	g_cfg.criu_path = criu_find(g_cfg.criu_asked);
	return 0;
}

static int setup_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd;
}

/* Answers a request that cannot be read (id 0: no request was decoded). */
static void protocol_error(int errnum, const char *msg)
{
	Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	Error err = CHECKPOINT__HELPER__V1__ERROR__INIT;

	err.code = EC(BAD_REQUEST);
	err.errno_value = errnum;
	err.message = (char *)msg;
	resp.result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR;
	resp.error = &err;
	send_response(&resp);
}

/* Handles every complete frame in the buffer; -1 when framing is lost. */
static int drain_frames(struct frame_reader *fr)
{
	const uint8_t *payload;
	size_t len;
	int r;

	while ((r = frame_next(fr, &payload, &len, MAX_FRAME_BYTES)) == 1) {
		Request *req = checkpoint__helper__v1__request__unpack(NULL, len, payload);

		if (!req) {
			protocol_error(EPROTO, "the request could not be decoded as a Request message");
		} else {
			handle_request(req);
			checkpoint__helper__v1__request__free_unpacked(req, NULL);
		}
		frame_pop(fr);
	}
	if (r < 0) {
		protocol_error(EMSGSIZE, "a frame longer than 16 MiB was refused; the helper stops, since framing is lost");
		return -1;
	}
	return 0;
}

/* Returns 1 when the helper must stop (SIGTERM, SIGINT, SIGHUP). */
static int handle_signals(int sfd)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap_children();
		else
			stop = 1;
	}
	return stop;
}

/*
 * One loop for requests (stdin), signals (signalfd) and the output pipes of
 * launched programs. Their output is read first: a program that ended
 * (SIGCHLD) has what it wrote reported before its end.
 */
static int main_loop(int sfd)
{
	struct frame_reader fr = { 0 };
	uint8_t buf[65536];
	int ret = 0;

	for (;;) {
		struct pollfd pfd[2 + 2 * MAX_PROGRAMS + 2 * MAX_GDBS] = { { 0, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		size_t nprog = program_poll_fds(pfd + 2, 2 * MAX_PROGRAMS);
		size_t ngdb = gdb_run_poll_fds(pfd + 2 + nprog, 2 * MAX_GDBS);
		ssize_t n;

		if (poll(pfd, 2 + nprog + ngdb, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = 1;
			break;
		}
		program_poll_done(pfd + 2, nprog);
		gdb_run_poll_done(pfd + 2 + nprog, ngdb);
		if (pfd[1].revents & POLLIN && handle_signals(sfd))
			break;
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(0, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;	/* EOF: the client went away */
		if (frame_feed(&fr, buf, n)) {
			ret = 1;
			break;
		}
		if (drain_frames(&fr)) {
			ret = 1;
			break;
		}
	}
	frame_reader_free(&fr);
	return ret;
}

/* Descriptors 0-2 open, so no pipe or file the helper opens lands there. */
static int ensure_stdio(void)
{
	int fd;

	do {
		fd = open("/dev/null", O_RDWR);
	} while (fd >= 0 && fd <= 2);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* stdout carries frames only (g_out_fd): stdio's buffers and children's output go to /dev/null. */
static int take_stdout(void)
{
	int null;

	g_out_fd = dup(1);
	if (g_out_fd < 0)
		return -1;
	fcntl(g_out_fd, F_SETFD, FD_CLOEXEC);
	null = open("/dev/null", O_WRONLY);
	if (null >= 0) {
		dup2(null, 1);
		close(null);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int sfd, ret;

	if (ensure_stdio() || parse_args(argc, argv))
		return 2;
	umask(077);
	if (take_stdout())
		return 1;
	fcntl(0, F_SETFD, FD_CLOEXEC);
	fcntl(2, F_SETFD, FD_CLOEXEC);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		fprintf(stderr, "checkpoint-helper: cannot become a child subreaper: %s\n", strerror(errno));
	sfd = setup_signals();
	if (sfd < 0) {
		fprintf(stderr, "checkpoint-helper: signalfd: %s\n", strerror(errno));
		return 1;
	}
	/* trees a helper that ended left frozen (killed, its connection dropped): thawed before anything else */
	freeze_claim_sweep();
	/* and what dumps that did not end left in the store: finished images listed, the rest removed */
	store_sweep_partial(g_cfg.store);
	if (freeze_claim_watch())
		fprintf(stderr, "checkpoint-helper: cannot start the freeze watcher: %s\n", strerror(errno));
	ret = main_loop(sfd);
	/* gdbs first: detached, they take their breakpoints out of the programs */
	gdb_run_stop_all();
	/* killed before their trees are thawed: a thawed tree dies at once */
	program_kill_all();
	frozen_release_all();
	reap_children();
	close(sfd);
	return ret;
}
