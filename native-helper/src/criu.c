/* SPDX-License-Identifier: MIT */
/* Talking to CRIU over `criu swrk <fd>` (RPC), reading its logs and stats. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "arena.h"
#include "criu.h"
#include "criu-images.pb-c.h"
#include "fileio.h"
#include "lists.h"
#include "spawn.h"
#include "util.h"

#define STATS_SVC_MAGIC 0x55105940u
#define STATS_MAGIC 0x57093306u
#define MAX_CRIU_MSG (8u << 20)

static unsigned call_limit_ms = CRIU_CALL_MAX_MS;

/* The configured path, or the first executable criu in the usual places or PATH. */
const char *criu_find(const char *configured)
{
	static char found[4096];
	const char *p;

	if (configured)	/* exec'd as given: a relative path would depend on the helper's cwd */
		return configured[0] == '/' && access(configured, X_OK) == 0 ? configured : NULL;
	p = find_program("criu");
	return p ? strcpy(found, p) : NULL;	/* find_program's buffer is reused */
}

/* `criu check --feature NAME` says yes (exit status 0). */
static bool criu_has_feature(const char *criu, const char *feature)
{
	char *argv[] = { "criu", "check", "--feature", (char *)feature, NULL };

	return run_program(criu, argv, NULL, 0) == 0;
}

int criu_inet_dumpable(const struct criu_info *ci, struct herr *e)
{
	int fd, v;
	socklen_t n = sizeof(v);
	bool refused;

	if (ci->major > 4 || (ci->major == 4 && ci->minor >= 2))
		return 0;
	/* what CRIU 4.1 asks of every socket it dumps */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	refused = fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, &n) && errno == EOPNOTSUPP;
	if (fd >= 0)
		close(fd);
	if (!refused)
		return 0;
	herr_set(e, EC(CRIU_UNAVAILABLE), EOPNOTSUPP, "CRIU %s cannot dump TCP or UDP sockets on this kernel: it "
		 "asks every socket for SO_PASSCRED, which Linux refuses on inet sockets since 6.16 "
		 "(checkpoint-restore/criu#2705). Use CRIU 4.2 or newer (ckpt --criu PATH, or criuPath of the "
		 "target in checkpoint.targets)", ci->version);
	return -1;
}

int criu_network_lock(const char *criu, int *method, struct herr *e)
{
	*method = 0;	/* CRIU's default: iptables */
	if (find_program("iptables"))
		return 0;
	if (criu_has_feature(criu, "network_lock_nftables")) {
		*method = CRIU_NETWORK_LOCK_METHOD__NFTABLES;
		return 0;
	}
	herr_set(e, EC(CRIU_UNAVAILABLE), ENOENT, "saving TCP connections (tcp=save) needs CRIU's network lock, "
		 "and this target has neither iptables nor a CRIU that locks with nftables: install iptables, "
		 "or a CRIU built with nftables");
	return -1;
}

/* Child side of the fork: stdio to /dev/null, only keep_fds and sk survive exec. */
static void criu_child(const char *path, int sk, const int *keep, size_t nkeep)
{
	char fdnum[16];
	char *argv[] = { "criu", "swrk", fdnum, NULL };
	sigset_t all;
	int null;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();	/* no controlling terminal, own process group */
	null = open("/dev/null", O_RDWR);
	if (null < 0)
		_exit(127);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	if (null > 2)
		close(null);
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (fcntl(sk, F_SETFD, 0))
		_exit(127);
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] >= 0 && fcntl(keep[i], F_SETFD, 0))
			_exit(127);
	snprintf(fdnum, sizeof(fdnum), "%d", sk);
	execv(path, argv);
	_exit(127);
}

static int send_req(int sk, CriuReq *req, struct herr *e)
{
	size_t len = criu_req__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	ssize_t w;
	int ret = -1;

	if (!buf) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
		return -1;
	}
	criu_req__pack(req, buf);
	do {
		w = send(sk, buf, len, MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	if (w != (ssize_t)len) {
		herr_perror(e, EC(CRIU_FAILED), errno, "cannot send a request to CRIU");
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* Waits until sk can be read, up to deadline_us (now_us): 0, or -1 with e (timed out: ETIMEDOUT). */
static int wait_readable(int sk, uint64_t deadline_us, struct herr *e)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };

	for (;;) {
		uint64_t now = now_us();
		int n = poll(&p, 1, now >= deadline_us ? 0 : (int)((deadline_us - now + 999) / 1000));

		if (n > 0)
			return 0;
		if (n == 0) {
			herr_set(e, EC(CRIU_FAILED), ETIMEDOUT, "CRIU did not answer within %.1f s: it was stopped (killed), "
				 "what it was doing left unfinished", call_limit_ms / 1000.0);
			return -1;
		}
		if (errno != EINTR) {
			herr_perror(e, EC(INTERNAL), errno, "cannot wait for CRIU");
			return -1;
		}
	}
}

static int recv_resp(int sk, uint64_t deadline_us, CriuResp **resp, struct herr *e)
{
	uint8_t *buf = NULL;
	ssize_t len;
	int ret = -1;

	if (wait_readable(sk, deadline_us, e))
		return -1;
	do {
		len = recv(sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	} while (len < 0 && errno == EINTR);
	if (len <= 0) {
		herr_set(e, EC(CRIU_FAILED), len ? errno : EPIPE,
			 "CRIU closed the connection without an answer (it may have crashed)%s%s",
			 len ? ": " : "", len ? strerror(errno) : "");
		goto out;
	}
	if ((size_t)len > MAX_CRIU_MSG) {
		herr_set(e, EC(CRIU_FAILED), EMSGSIZE, "CRIU sent a %zd byte message", len);
		goto out;
	}
	buf = malloc(len);
	if (!buf) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
		goto out;
	}
	if (recv(sk, buf, len, 0) != len) {
		herr_perror(e, EC(CRIU_FAILED), errno, "cannot read CRIU's answer");
		goto out;
	}
	*resp = criu_resp__unpack(NULL, len, buf);
	if (!*resp) {
		herr_set(e, EC(CRIU_FAILED), EPROTO, "CRIU's answer could not be decoded");
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* Waits for the criu child itself: never waitpid(-1), so its status is ours. */
static void wait_criu(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

int criu_call(const char *criu_path, CriuReq *req, const int *keep_fds, size_t nkeep,
	      criu_notify_fn notify, void *arg, CriuResp **resp, struct herr *e)
{
	int sks[2] = { -1, -1 };
	uint64_t deadline_us = now_us() + (uint64_t)call_limit_ms * 1000;
	CriuResp *r = NULL;
	pid_t pid = -1;
	int ret = -1;

	*resp = NULL;
	if (!criu_path) {
		herr_set(e, EC(CRIU_UNAVAILABLE), ENOENT, "CRIU was not found on this host");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sks)) {
		herr_perror(e, EC(INTERNAL), errno, "socketpair");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot fork for CRIU");
		goto out;
	}
	if (pid == 0)
		criu_child(criu_path, sks[1], keep_fds, nkeep);
	close(sks[1]);
	sks[1] = -1;
	if (send_req(sks[0], req, e))
		goto out;
	for (;;) {
		if (recv_resp(sks[0], deadline_us, &r, e))
			goto out;
		if (r->type != CRIU_REQ_TYPE__NOTIFY)
			break;
		{
			CriuReq ack = CRIU_REQ__INIT;

			if (notify && r->notify && r->notify->script)
				notify(r->notify->script, arg);
			ack.type = CRIU_REQ_TYPE__NOTIFY;
			ack.has_notify_success = true;
			ack.notify_success = true;
			criu_resp__free_unpacked(r, NULL);
			r = NULL;
			if (send_req(sks[0], &ack, e))
				goto out;
		}
	}
	*resp = r;
	r = NULL;
	ret = 0;
out:
	if (r)
		criu_resp__free_unpacked(r, NULL);
	if (sks[0] >= 0)
		close(sks[0]);
	if (sks[1] >= 0)
		close(sks[1]);
	if (pid > 0 && e->errnum == ETIMEDOUT && ret)
		kill(pid, SIGKILL);	/* a CRIU that hangs would keep the helper, and the tree, waiting for ever */
	if (pid > 0)
		wait_criu(pid);
	return ret;
}

void criu_set_call_limit(unsigned ms)
{
	call_limit_ms = ms;
}

static int criu_simple(const char *path, CriuReqType type, CriuResp **resp, struct herr *e)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuFeatures feat = CRIU_FEATURES__INIT;

	req.type = type;
	if (type == CRIU_REQ_TYPE__FEATURE_CHECK) {
		feat.has_mem_track = feat.has_lazy_pages = feat.has_pidfd_store = true;
		feat.mem_track = feat.lazy_pages = feat.pidfd_store = true;
		req.features = &feat;
	}
	return criu_call(path, &req, NULL, 0, NULL, NULL, resp, e);
}

#define NEED_MSG "CRIU >= 4.1 is needed on kernels >= 6.13 (vvar_vclock): install criu 4.1 or newer " \
		 "(Debian trixie has 4.1.1)"

int criu_probe(struct criu_info *ci, const char *path, const char *asked)
{
	struct herr e = { 0 };
	CriuResp *r = NULL;

	memset(ci, 0, sizeof(*ci));
	ci->probed = true;
	if (!path && asked) {
		if (snprintf(ci->problem, sizeof(ci->problem), "the CRIU asked for, %s, is not the absolute "
			     "path of an executable file on the target: give the path of a criu binary (4.1 or "
			     "newer), or none to use the one installed", asked) >= (int)sizeof(ci->problem))
			mark_truncated(ci->problem, sizeof(ci->problem));
		return -1;
	}
	if (!path) {
		snprintf(ci->problem, sizeof(ci->problem),
			 "CRIU was not found (looked in /usr/sbin, /usr/bin, /usr/local/sbin, /usr/local/bin and "
			 "PATH); " NEED_MSG);
		return -1;
	}
	snprintf(ci->path, sizeof(ci->path), "%s", path);
	if (criu_simple(path, CRIU_REQ_TYPE__VERSION, &r, &e) || !r->success || !r->version) {
		if (snprintf(ci->problem, sizeof(ci->problem),
			     "CRIU at %s did not answer a VERSION request (%s), so it is older than 3.0 or broken; "
			     NEED_MSG, path, e.msg[0] ? e.msg : "no version in its answer") >= (int)sizeof(ci->problem))
			mark_truncated(ci->problem, sizeof(ci->problem));
		goto out;
	}
	ci->major = r->version->major_number;
	ci->minor = r->version->minor_number;
	ci->sublevel = r->version->has_sublevel ? r->version->sublevel : 0;
	if (r->version->has_sublevel)
		snprintf(ci->version, sizeof(ci->version), "%d.%d.%d", ci->major, ci->minor, ci->sublevel);
	else
		snprintf(ci->version, sizeof(ci->version), "%d.%d", ci->major, ci->minor);
	criu_resp__free_unpacked(r, NULL);
	r = NULL;
	if (ci->major < 4 || (ci->major == 4 && ci->minor < 1))
		snprintf(ci->problem, sizeof(ci->problem), "CRIU %s at %s is too old; " NEED_MSG,
			 ci->version, path);
	if (criu_simple(path, CRIU_REQ_TYPE__FEATURE_CHECK, &r, &e) == 0 && r->features) {
		ci->mem_track = r->features->has_mem_track && r->features->mem_track;
		ci->lazy_pages = r->features->has_lazy_pages && r->features->lazy_pages;
		ci->pidfd_store = r->features->has_pidfd_store && r->features->pidfd_store;
	}
out:
	if (r)
		criu_resp__free_unpacked(r, NULL);
	return ci->problem[0] ? -1 : 0;
}

#define LOG_CAP 40
enum { LOG_DROP, LOG_WARN, LOG_ERROR };	/* what a log line is kept as */

/* Splits buf (modified) into its lines; *n of them (malloc'd), NULL when out of memory. */
static char **split_lines(char *buf, size_t *n)
{
	char *line, *save = NULL, **all = NULL;
	size_t cap = 0;

	*n = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (array_grow((void **)&all, &cap, *n + 1, sizeof(*all))) {
			free(all);
			return NULL;
		}
		all[(*n)++] = line;
	}
	return all ? all : calloc(1, sizeof(*all));
}

/* Marks each Error line with three lines of context, and the Warn lines nearest the end that fit. */
static void mark_kept(char **all, size_t nall, unsigned char *keep, char *first_err, size_t first_len)
{
	size_t nerr = 0, room;

	for (size_t i = 0; i < nall; i++) {
		if (strstr(all[i], "Error")) {
			for (size_t k = i >= 3 ? i - 3 : 0; k <= i; k++)
				keep[k] = LOG_ERROR;
			if (first_err && first_len && !first_err[0])
				snprintf(first_err, first_len, "%s", all[i]);
		} else if (strstr(all[i], "Warn") && !keep[i]) {
			keep[i] = LOG_WARN;
		}
	}
	/* errors first; the warnings nearest the end fill what room is left */
	for (size_t i = 0; i < nall; i++)
		nerr += keep[i] == LOG_ERROR;
	room = nerr < LOG_CAP ? LOG_CAP - nerr : 0;
	for (size_t i = nall; i-- > 0;) {
		if (keep[i] != LOG_WARN)
			continue;
		if (room)
			room--;
		else
			keep[i] = LOG_DROP;
	}
}

int criu_log_extract(const char *path, char ***lines, size_t *n, char *first_err, size_t first_len)
{
	char *buf = NULL, **all = NULL, **v;
	unsigned char *keep = NULL;
	size_t nall = 0, cnt = 0;
	int ret = -1;

	*lines = NULL;
	*n = 0;
	if (first_err && first_len)
		first_err[0] = '\0';
	if (read_file(path, &buf, NULL, 64 << 20))
		return -1;
	all = split_lines(buf, &nall);
	keep = calloc(nall + 1, sizeof(*keep));
	if (!all || !keep)
		goto out;
	mark_kept(all, nall, keep, first_err, first_len);
	v = arena_alloc(LOG_CAP * sizeof(*v));
	for (size_t i = 0; i < nall && cnt < LOG_CAP; i++)
		if (keep[i])
			v[cnt++] = arena_strdup(all[i]);
	*lines = v;
	*n = cnt;
	ret = 0;
out:
	free(keep);
	free(all);
	free(buf);
	return ret;
}

int decode_stats(const uint8_t *buf, size_t len, DumpStats *out)
{
	Checkpoint__Criu__V1__Stats *se;
	uint32_t n;

	if (len < 12 || get_le32(buf) != STATS_SVC_MAGIC || get_le32(buf + 4) != STATS_MAGIC)
		goto bad;
	n = get_le32(buf + 8);
	if (n > len - 12)
		goto bad;
	se = checkpoint__criu__v1__stats__unpack(NULL, n, buf + 12);
	if (!se)
		goto bad;
	if (se->dump) {
		Checkpoint__Criu__V1__DumpStats *d = se->dump;

		out->freezing_time_us = d->freezing_time;
		out->frozen_time_us = d->frozen_time;
		out->memdump_time_us = d->memdump_time;
		out->memwrite_time_us = d->memwrite_time;
		out->pages_scanned = d->pages_scanned;
		out->pages_skipped_parent = d->pages_skipped_parent;
		out->pages_written = d->pages_written;
		out->pages_lazy = d->pages_lazy;
	}
	checkpoint__criu__v1__stats__free_unpacked(se, NULL);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
