/* SPDX-License-Identifier: MIT */
/* The supervisor of a lazy restore's daemon: a fork of the helper that outlives it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "arena.h"
#include "fileio.h"
#include "lazy_supervisor.h"
#include "lists.h"
#include "proc.h"

#define MAX_LOG_BYTES (64u << 20)
#define MAX_HELD 4096		/* userfaultfds held: one per restored process */
#define MAX_KILLED 4096		/* pids a failed daemon's supervisor names */

/* The supervisor's descriptors, moved where it knows them: its lock, the daemon's readiness, the helper's go. */
enum { LOCK_FD = 3, READY_FD = 4, GO_FD = 5 };
#define READY_FD_TEXT "4"		/* READY_FD, as the daemon's --status-fd */

char *lazy_lock_path(const char *store, const char *id)
{
	return arena_printf("%s/" LAZY_DIR "/%s", store, id);
}

static void __attribute__((noreturn)) run_daemon(const struct lazy_params *p, const struct lazy_restore *l)
{
	char *argv[] = { "criu", "lazy-pages", "--images-dir", (char *)p->images, "--work-dir", (char *)l->work,
			 "--log-file", DAEMON_LOG, "--status-fd", READY_FD_TEXT, NULL };

	close(LOCK_FD);		/* the lock is the supervisor's: it ends with the supervisor */
	close(GO_FD);
	execv(p->criu, argv);
	_exit(127);
}

/* Its own session (the helper's end, or its SSH session's, must not end it), stdio on /dev/null, three descriptors kept. */
static int own_session(int lock_fd, int ready_fd, int go_fd)
{
	sigset_t none;
	int null = open("/dev/null", O_RDWR);
	int lock = fcntl(lock_fd, F_DUPFD, 10), ready = fcntl(ready_fd, F_DUPFD, 10), go = fcntl(go_fd, F_DUPFD, 10);
	struct rlimit files;

	/* room for a copy of every restored process's userfaultfd */
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	setsid();
	if (null < 0 || lock < 0 || ready < 0 || go < 0)
		return -1;
	if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(lock, LOCK_FD) < 0 ||
	    dup2(ready, READY_FD) < 0 || dup2(go, GO_FD) < 0)
		return -1;
	return (int)syscall(SYS_close_range, GO_FD + 1, ~0U, 0);
}

int lazy_wait_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* A restored process, known by its pid and its start time (a later process with the pid is another). */
struct restored {
	pid_t pid;
	uint64_t start_ticks;
};

/*
 * The restored processes, once the restore is done: the checkpoint's pids
 * that started after the supervisor (their pids were free, or killed,
 * before the restore).
 */
static size_t note_restored(const struct lazy_params *p, uint64_t since, struct restored *r)
{
	size_t n = 0;

	for (size_t i = 0; i < p->npids; i++) {
		struct proc_stat st;

		if (read_proc_stat(p->pids[i], &st) == 0 && st.start_ticks >= since)
			r[n++] = (struct restored){ p->pids[i], st.start_ticks };
	}
	return n;
}

/* Kills the restored processes that are still themselves, with what they forked since; killed gets their pids. */
static size_t kill_restored(const struct restored *r, size_t nr, pid_t *killed, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < nr; i++) {
		struct pidlist tree = { 0 };
		struct proc_stat st;
		struct herr e = { 0 };

		if (read_proc_stat(r[i].pid, &st) || st.start_ticks != r[i].start_ticks || proc_tree(r[i].pid, &tree, &e))
			continue;
		for (size_t k = 0; k < tree.n; k++)
			if (kill(tree.v[k], SIGKILL) == 0 && n < max)
				killed[n++] = tree.v[k];
		pidlist_free(&tree);
	}
	return n;
}

/* The userfaultfds among the daemon's descriptors, copied into held (at most MAX_HELD); how many. */
static size_t take_uffds(pid_t daemon, int pidfd, int *held)
{
	char path[64], link[64];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", daemon);
	d = opendir(path);
	while (d && (de = readdir(d)) && n < MAX_HELD) {
		ssize_t len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		int fd;

		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, "anon_inode:[userfaultfd]"))
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (fd >= 0)
			held[n++] = fd;
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * Waits for the helper's word on the restore: a byte once it went ahead,
 * EOF when it did not (or the helper is gone). Then, when the daemon still
 * runs, copies of the restored processes' userfaultfds, which it holds by
 * then: while they are open a fault waits instead of getting a zero page,
 * so a daemon that dies leaves the tree waiting until it is killed, never
 * running on wrong memory.
 */
static size_t hold_uffds(pid_t daemon, int pidfd, int *held)
{
	char go = 0;

	/* a byte, or EOF: the helper gave the restore up (it kills this group then) or is gone (the restore may be done) */
	while (read(GO_FD, &go, 1) < 0 && errno == EINTR)
		;
	return pidfd >= 0 ? take_uffds(daemon, pidfd, held) : 0;	/* none when the daemon has ended */
}

/* The daemon's wait status; one that runs past LAZY_DAEMON_MAX_MS is killed (*timed_out). */
static int wait_daemon(pid_t daemon, int pidfd, bool *timed_out)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int r = 1;

	*timed_out = false;
	while (pidfd >= 0 && (r = poll(&pfd, 1, LAZY_DAEMON_MAX_MS)) < 0 && errno == EINTR)
		;
	if (r == 0) {
		*timed_out = true;
		kill(daemon, SIGKILL);
	}
	return lazy_wait_status(daemon);
}

static void describe_end(char *out, size_t len, pid_t daemon, int status, bool timed_out)
{
	if (timed_out)
		snprintf(out, len, "did not finish in %d s and was killed", LAZY_DAEMON_MAX_MS / 1000);
	else if (daemon < 0)
		snprintf(out, len, "could not be started (fork: %s)", strerror(errno));
	else if (status < 0)
		snprintf(out, len, "could not be waited for");
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		snprintf(out, len, "could not be run (exit status 127)");
	else if (WIFEXITED(status))
		snprintf(out, len, "ended with exit status %d", WEXITSTATUS(status));
	else
		snprintf(out, len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* The daemon's log and lazy-pages.status ("ok", or how it ended, then "killed: PIDS") beside the restore's log. */
static void keep_logs(const struct lazy_params *p, const struct lazy_restore *l, const char *end,
		      const pid_t *killed, size_t nkilled)
{
	char status[1024];
	int dir = open(p->logs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t n;

	if (dir < 0)
		return;
	copy_file_at(AT_FDCWD, arena_printf("%s/" DAEMON_LOG, l->work), dir, DAEMON_LOG, MAX_LOG_BYTES);
	n = (size_t)snprintf(status, sizeof(status), "%s\nkilled:", end);
	for (size_t i = 0; i < nkilled && n < sizeof(status) - 16; i++)
		n += (size_t)snprintf(status + n, sizeof(status) - n, " %d", killed[i]);
	if (n < sizeof(status) - 1)
		status[n++] = '\n';
	write_file_at(dir, STATUS_FILE, status, n);
	close(dir);
}

void lazy_supervise(const struct lazy_params *p, const struct lazy_restore *l, int lock_fd, int ready_fd, int go_fd)
{
	struct proc_stat self = { 0 };
	struct restored *restored = calloc(p->npids + 1, sizeof(*restored));
	pid_t *killed = calloc(MAX_KILLED, sizeof(*killed));
	int *held = calloc(MAX_HELD, sizeof(*held));
	size_t nkilled = 0, nheld = 0, nrestored = 0;
	bool timed_out = false, ok;
	char end[256] = "ok";
	int status = -1;
	pid_t daemon;

	if (own_session(lock_fd, ready_fd, go_fd) || read_proc_stat(getpid(), &self) || !restored || !killed || !held)
		_exit(2);
	daemon = fork();
	if (daemon == 0)
		run_daemon(p, l);
	close(READY_FD);
	if (daemon > 0) {
		int pidfd = (int)syscall(SYS_pidfd_open, daemon, 0);

		nheld = hold_uffds(daemon, pidfd, held);
		nrestored = note_restored(p, self.start_ticks, restored);
		status = wait_daemon(daemon, pidfd, &timed_out);
		if (pidfd >= 0)
			close(pidfd);
	}
	ok = daemon > 0 && status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok) {
		nkilled = kill_restored(restored, nrestored, killed, MAX_KILLED);
		describe_end(end, sizeof(end), daemon, status, timed_out);
	}
	for (size_t i = 0; i < nheld; i++)
		close(held[i]);	/* the last copies: faults (of a tree that lives on) are served as usual again */
	keep_logs(p, l, end, killed, nkilled);
	remove_tree(l->work);
	unlink(lazy_lock_path(p->store, p->id));	/* while the lock is held: a free lock means the file is gone */
	_exit(ok ? 0 : 1);
}
