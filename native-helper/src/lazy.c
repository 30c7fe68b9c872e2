/* SPDX-License-Identifier: MIT */
/* Lazy restores: CRIU's lazy-pages daemon under a supervisor that outlives the helper. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "channel.h"
#include "criu.h"
#include "fileio.h"
#include "lazy.h"
#include "lazy_supervisor.h"
#include "proc.h"
#include "util.h"
#include "wire.h"

#define MAX_WATCHED 16

/* A supervisor this helper started, until it is reaped and told. */
struct watched {
	pid_t supervisor;
	uint32_t request;
	pid_t root;			/* 0 until the restore went ahead */
	bool ended;
	int status;
	uint64_t started_us;
	char *id, *logs;
};

static struct watched watched[MAX_WATCHED];

/* ---- starting ------------------------------------------------------------------- */

static struct watched *watched_find(pid_t supervisor)
{
	for (size_t i = 0; i < MAX_WATCHED; i++)
		if (watched[i].supervisor == supervisor && supervisor > 0)
			return &watched[i];
	return NULL;
}

static void watched_forget(struct watched *w)
{
	free(w->id);
	free(w->logs);
	memset(w, 0, sizeof(*w));
}

/* The file at path, open and locked: a supervisor that ends unlinks its file, which the lock may be of then. */
static int open_locked(const char *path, struct herr *e)
{
	for (int tries = 0; tries < 8; tries++) {
		int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		struct stat held, named;

		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			close(fd);
			herr_set(e, EC(BUSY), EBUSY, "this checkpoint is being restored lazily already: its pages are still "
				 "being copied in; try again in a moment");
			return -2;
		}
		if (fstat(fd, &held) == 0 && lstat(path, &named) == 0 && held.st_ino == named.st_ino &&
		    held.st_dev == named.st_dev)
			return fd;
		close(fd);	/* unlinked meanwhile: the lock is of no file; again */
	}
	errno = EAGAIN;
	return -1;
}

/* The lock file, locked, holding the checkpoint's pids (which lazy_wait_idle reads). */
static int take_lock(const struct lazy_params *p, struct herr *e)
{
	char *dir = arena_printf("%s/" LAZY_DIR, p->store), *path = lazy_lock_path(p->store, p->id), text[64];
	int fd;

	if (mkdir(dir, 0700) && errno != EEXIST)
		goto fail;
	fd = open_locked(path, e);
	if (fd == -2)
		return -1;
	if (fd < 0)
		goto fail;
	if (ftruncate(fd, 0))
		goto fail_fd;
	for (size_t i = 0; i < p->npids; i++) {
		int n = snprintf(text, sizeof(text), "%d\n", p->pids[i]);

		if (write_all(fd, text, (size_t)n))
			goto fail_fd;
	}
	return fd;
fail_fd:
	close(fd);
fail:
	herr_perror(e, EC(INTERNAL), errno, "cannot write %s", path);
	return -1;
}

static int make_work_dir(struct lazy_restore *l, struct herr *e)
{
	snprintf(l->work, sizeof(l->work), "/tmp/ckpt-lazy-XXXXXX");
	if (!mkdtemp(l->work)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot create a work directory for a lazy restore in /tmp");
		l->work[0] = '\0';
		return -1;
	}
	l->work_fd = open(l->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->work_fd < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot open %s", l->work);
		return -1;
	}
	return 0;
}

enum ready { READY, ENDED, TIMED_OUT };

/* READY once the daemon said it listens (a byte on its status fd); ENDED when it ended first. */
static enum ready wait_ready(int ready)
{
	struct pollfd pfd = { .fd = ready, .events = POLLIN };
	uint64_t deadline = now_us() + LAZY_READY_MS * 1000ull;
	char c;

	for (;;) {
		int left = (int)((deadline - now_us()) / 1000);

		if (now_us() >= deadline)
			return TIMED_OUT;
		if (poll(&pfd, 1, left > 0 ? left : 1) < 0 && errno != EINTR)
			return ENDED;
		if (pfd.revents)
			return read(ready, &c, 1) == 1 ? READY : ENDED;
	}
}

static void close_go(struct lazy_restore *l)
{
	if (l->go_fd >= 0)
		close(l->go_fd);
	l->go_fd = -1;
}

/* The first Error line of the daemon's log in buf, without its time stamp; "" when none. */
static const char *log_error(const char *log, char *buf, size_t len)
{
	char **lines;
	size_t n;
	const char *msg = buf, *stamp_end;

	buf[0] = '\0';
	criu_log_extract(log, &lines, &n, buf, len);
	stamp_end = buf[0] == '(' ? strstr(buf, ") ") : NULL;
	return stamp_end ? stamp_end + 2 : msg;
}

/* Why the daemon did not start, from what its supervisor left (it ends once the daemon has). */
static void not_ready(const struct lazy_params *p, struct lazy_restore *l, bool timed_out, struct herr *e)
{
	char *status = NULL, *log = arena_printf("%s/" DAEMON_LOG, p->logs), buf[512];
	struct lazy_status st;
	const char *first;

	close_go(l);	/* no restore: the supervisor has nothing to hold or kill */
	if (timed_out)
		kill(-l->supervisor, SIGKILL);
	lazy_wait_status(l->supervisor);
	read_file(arena_printf("%s/" STATUS_FILE, p->logs), &status, NULL, 4096);
	lazy_status_parse(status, &st);
	first = log_error(log, buf, sizeof(buf));
	herr_set(e, EC(CRIU_FAILED), timed_out ? ETIMEDOUT : EIO,
		 "CRIU's lazy-pages daemon for checkpoint %s %s%s%s; nothing was restored or killed. Its log: %s. "
		 "A full restore (without lazy pages) does not need it",
		 p->id, timed_out ? arena_printf("did not get ready in %d s", LAZY_READY_MS / 1000) : st.how,
		 first[0] ? ": " : "", first, log);
	free(status);
}

static struct watched *free_slot(struct herr *e)
{
	for (size_t i = 0; i < MAX_WATCHED; i++)
		if (!watched[i].supervisor)
			return &watched[i];
	herr_set(e, EC(BUSY), EBUSY, "this helper watches %d lazy restores already; try again once one is done, or "
		 "restore without lazy pages", MAX_WATCHED);
	return NULL;
}

/*
 * Closes the start's descriptors that are still open; after a failure, what
 * it made. The lock file is unlinked here only while this helper still
 * holds its lock (no supervisor took it): a supervisor unlinks its own.
 */
static void start_cleanup(const struct lazy_params *p, struct lazy_restore *l, int ready[2], int go[2], int lock,
			  bool failed, bool forked)
{
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (go[i] >= 0)
			close(go[i]);
	}
	if (failed && !forked && lock >= 0)
		unlink(lazy_lock_path(p->store, p->id));
	if (lock >= 0)
		close(lock);	/* the supervisor holds it now */
	if (failed)
		close_go(l);
	if (!failed || !l->work[0])
		return;
	if (l->work_fd >= 0)
		close(l->work_fd);
	l->work_fd = -1;
	remove_tree(l->work);
}

int lazy_start(const struct lazy_params *p, struct lazy_restore *l, struct herr *e)
{
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, lock = -1, ret = -1;
	struct watched *slot = free_slot(e);
	bool forked = false;
	enum ready how;

	memset(l, 0, sizeof(*l));
	l->work_fd = l->go_fd = -1;
	if (!slot)
		return -1;
	if (make_work_dir(l, e))
		goto out;
	lock = take_lock(p, e);
	if (lock < 0)
		goto out;
	/* go: a socket, so that telling a supervisor already gone is EPIPE, not SIGPIPE */
	if (pipe2(ready, O_CLOEXEC) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot create a pipe for the lazy-pages daemon");
		goto out;
	}
	l->started_us = now_us();
	l->supervisor = fork();
	if (l->supervisor == 0)
		lazy_supervise(p, l, lock, ready[1], go[0]);
	if (l->supervisor < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot fork for the lazy-pages daemon");
		l->supervisor = 0;
		goto out;
	}
	forked = true;
	close(ready[1]);
	ready[1] = -1;
	close(go[0]);
	go[0] = -1;
	l->go_fd = go[1];
	go[1] = -1;
	how = wait_ready(ready[0]);
	if (how != READY) {
		not_ready(p, l, how == TIMED_OUT, e);
		l->supervisor = 0;
		goto out;
	}
	*slot = (struct watched){ .supervisor = l->supervisor, .request = p->request, .started_us = l->started_us,
				  .id = strdup(p->id), .logs = strdup(p->logs) };
	ret = 0;
out:
	start_cleanup(p, l, ready, go, lock, ret != 0, forked);
	return ret;
}

void lazy_abort(struct lazy_restore *l, const struct lazy_params *p)
{
	struct watched *w = watched_find(l->supervisor);

	/* unlinked while its supervisor still holds the lock: a later restore's file is never this one */
	if (w && !w->ended) {
		unlink(lazy_lock_path(p->store, p->id));
		kill(-l->supervisor, SIGKILL);
		lazy_wait_status(l->supervisor);
	}
	if (w)
		watched_forget(w);
	close_go(l);
	if (l->work_fd >= 0)
		close(l->work_fd);
	l->work_fd = -1;
	remove_tree(l->work);
	l->supervisor = 0;
}

/* ---- the end -------------------------------------------------------------------- */

/* The first line of text at most len bytes from it (not its newline) into out; "" when there is none. */
static void first_line(const char *text, char *out, size_t len)
{
	size_t n;

	text += strspn(text, "\n");	/* as strtok read it: empty lines first are no line */
	n = strcspn(text, "\n");
	snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), text);
}

/* The "killed:" line of text, past its word; NULL when there is none. */
static const char *killed_line(const char *text)
{
	for (const char *l = text;; l++) {
		if (!strncmp(l, "killed:", 7))
			return l + 7;
		l = strchr(l, '\n');
		if (!l)
			return NULL;
	}
}

void lazy_status_parse(const char *text, struct lazy_status *s)
{
	const char *k;
	char *end;

	memset(s, 0, sizeof(*s));
	first_line(text ? text : "", s->how, sizeof(s->how));
	if (!s->how[0])
		snprintf(s->how, sizeof(s->how), "ended");	/* never a NULL for the message's %s */
	for (k = text ? killed_line(text) : NULL; k && s->nkilled < LAZY_STATUS_KILLED_MAX; k = end) {
		long pid = strtol(k, &end, 10);

		if (end == k || pid <= 0 || pid > INT32_MAX)
			break;	/* not a pid: one cut short to 32 bits would name another process */
		s->killed[s->nkilled++] = (int32_t)pid;
	}
}

static void send_end(const struct watched *w)
{
	Event ev = CHECKPOINT__HELPER__V1__EVENT__INIT;
	LazyRestoreEnd end = CHECKPOINT__HELPER__V1__LAZY_RESTORE_END__INIT;
	char *status = NULL, *log = arena_printf("%s/" DAEMON_LOG, w->logs), buf[512];
	struct lazy_status *st = arena_alloc(sizeof(*st));	/* its pids go in the event */
	const char *first = "";

	end.checkpoint_id = w->id;
	end.root_pid = w->root;
	end.ok = WIFEXITED(w->status) && WEXITSTATUS(w->status) == 0;
	end.wall_time_us = now_us() - w->started_us;
	end.log_path = log;
	if (!end.ok && read_file(arena_printf("%s/" STATUS_FILE, w->logs), &status, NULL, 4096) == 0) {
		lazy_status_parse(status, st);
		end.killed_pids = st->killed;
		end.n_killed_pids = st->nkilled;
		first = log_error(log, buf, sizeof(buf));
		end.message = arena_printf(
			"CRIU's lazy-pages daemon %s before every page of checkpoint %s was copied in%s%s; the restored "
			"processes were killed (%zu of them), since a page it did not copy would read as zeros. Its log: "
			"%s. Restore the checkpoint again (without lazy pages if this happens again)",
			st->how, w->id, first[0] ? ": " : "", first, end.n_killed_pids, log);
	} else if (!end.ok) {
		/* the supervisor itself was killed: its daemon may still run, and the tree with it */
		end.message = arena_printf(
			"the supervisor of the lazy restore of checkpoint %s (pid %d) ended without saying how its "
			"lazy-pages daemon did (%s %d): whether every page came in is not known; if the restored program "
			"misbehaves, restore the checkpoint again without lazy pages", w->id, w->supervisor,
			WIFSIGNALED(w->status) ? "killed by signal" : "exit status",
			WIFSIGNALED(w->status) ? WTERMSIG(w->status) : WEXITSTATUS(w->status));
	}
	ev.kind_case = CHECKPOINT__HELPER__V1__EVENT__KIND_LAZY_RESTORE_END;
	ev.lazy_restore_end = &end;
	send_event(w->request, &ev);
	free(status);
}

void lazy_watch(struct lazy_restore *l, pid_t root)
{
	struct watched *w = watched_find(l->supervisor);
	char go = 1;

	/* the restore is done: the supervisor takes its copies of the tree's userfaultfds */
	if (send(l->go_fd, &go, 1, MSG_NOSIGNAL) != 1 && errno != EPIPE && errno != ECONNRESET)
		fprintf(stderr, "checkpoint-helper: cannot tell the lazy restore's supervisor to go on: %s\n", strerror(errno));
	close_go(l);
	if (l->work_fd >= 0)
		close(l->work_fd);
	l->work_fd = -1;
	if (!w)
		return;
	w->root = root;
	if (w->ended) {
		send_end(w);
		watched_forget(w);
	}
}

bool lazy_reaped(pid_t pid, int status)
{
	struct watched *w = watched_find(pid);

	if (!w)
		return false;
	w->ended = true;
	w->status = status;
	if (w->root) {
		send_end(w);
		watched_forget(w);
	}
	return true;
}

/* ---- who is busy ---------------------------------------------------------------- */

/* An open lock file whose lock is held (a daemon still copies pages), else -1. */
static int open_held(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
		close(fd);	/* free: its supervisor is gone (the file is left by a killed one) */
		return -1;
	}
	return fd;
}

int lazy_check_idle(const char *store, const char *id, struct herr *e)
{
	int dir = open(arena_printf("%s/" LAZY_DIR, store), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = dir < 0 ? -1 : open_held(dir, id);

	if (dir >= 0)
		close(dir);
	if (fd < 0)
		return 0;
	close(fd);
	herr_set(e, EC(BUSY), EBUSY, "checkpoint %s is being restored lazily: CRIU's lazy-pages daemon still copies "
		 "its pages into the restored processes; try again in a moment, once they are all in", id);
	return -1;
}

bool lazy_lock_names(const char *text, const pid_t *pids, size_t npids)
{
	const char *s = text;
	bool any = false;
	char *end;

	while (*s && !any) {
		long pid = strtol(s, &end, 10);

		if (end == s)
			break;
		for (size_t i = 0; i < npids && !any; i++)
			any = pids[i] == pid;
		s = end;
	}
	return any;
}

static bool holds_any(int fd, const pid_t *pids, size_t npids)
{
	char *text = NULL;
	bool any;

	if (read_fd(fd, &text, NULL, 1 << 20))
		return true;	/* unreadable: assume it is about these */
	any = lazy_lock_names(text, pids, npids);
	free(text);
	return any;
}

/* The checkpoint whose lazy restore copies pages into one of pids ("" when none: a static buffer). */
static const char *busy_with(const char *store, const pid_t *pids, size_t npids)
{
	static char id[256];
	DIR *d = opendir(arena_printf("%s/" LAZY_DIR, store));
	struct dirent *de;

	id[0] = '\0';
	if (!d)
		return id;
	while (!id[0] && (de = readdir(d))) {
		int fd = de->d_name[0] == '.' ? -1 : open_held(dirfd(d), de->d_name);

		if (fd >= 0 && holds_any(fd, pids, npids))
			snprintf(id, sizeof(id), "%s", de->d_name);
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	return id;
}

int lazy_wait_idle(const char *store, const pid_t *pids, size_t npids, uint32_t request, struct herr *e)
{
	uint64_t deadline = now_us() + LAZY_WAIT_MS * 1000ull;
	bool told = false;
	unsigned pause = 0;
	const char *id;

	while ((id = busy_with(store, pids, npids))[0]) {
		if (!told)
			emit_progress(request, "lazy-pages", "waiting until the lazy restore of checkpoint %s has copied "
				      "every page in", id);
		told = true;
		if (now_us() > deadline) {
			herr_set(e, EC(BUSY), EBUSY, "the lazy restore of checkpoint %s still copies pages into these "
				 "processes after %d s; try again later, or kill its daemon (criu lazy-pages), which "
				 "kills the restored processes", id, LAZY_WAIT_MS / 1000);
			return -1;
		}
		poll_pause(&pause);
	}
	return 0;
}
