/* SPDX-License-Identifier: MIT */
/* Claims on freeze cgroups (freeze_claim.h): lock files, and the sweep of those a dead helper left. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fileio.h"
#include "lists.h"
#include "freeze_claim.h"
#include "proc.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"

/* The helper's end of its watcher's pipe: above what any fork of the helper keeps. */
#define WATCH_FD 1000
/* How long the watcher waits for its helper to be gone after its pipe's end: an exit takes less. */
#define WATCH_GONE_MS 10000

static char claim_dir[512] = FREEZE_CLAIM_DIR;

/* A stop claim's name ends so, and its text starts so (a freeze claim's with its cgroup layout, a number). */
#define STOP_CLAIM_SUFFIX ".stopped"
#define STOP_CLAIM_HEADER "stopped\n"
/* A claim on the processes a helper let out of a freeze stopped: this, then the helper's pid. */
#define RELEASED_CLAIM_PREFIX "released-"

void freeze_claim_dir_set(const char *dir)
{
	snprintf(claim_dir, sizeof(claim_dir), "%s", dir);
}

/* The claim file name (in claim_dir) holding text, locked: its descriptor, or -1 with e saying what of root. */
static int claim_write(const char *name, const char *text, pid_t root, const char *what, struct herr *e)
{
	/* not waiting: a claim held by another helper means it holds the tree */
	int fd = fault_at("claim-write") ? -1 : lock_file_in(claim_dir, name);

	if (fd < 0 && errno == EWOULDBLOCK) {
		herr_set(e, EC(BUSY), EWOULDBLOCK, "the %s of process %d is claimed by another helper (another session of "
			 "Checkpoint Debugger on this host); try again when that is done, or end that session", what, root);
		return -1;
	}
	if (fd < 0 || ftruncate(fd, 0) || write_all(fd, text, strlen(text))) {
		herr_perror(e, EC(INTERNAL), errno, "cannot claim the %s of process %d (%s/%s)", what, root, claim_dir, name);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int freeze_claim_take(pid_t root, int layout, const char *cgroup, struct herr *e)
{
	char name[32], text[4200];
	int fd;

	snprintf(name, sizeof(name), "%d", root);
	snprintf(text, sizeof(text), "%d\n%s\n", layout, cgroup);
	fd = claim_write(name, text, root, "freeze", e);
	if (fd < 0 && e->code == EC(BUSY))
		herr_set(e, EC(BUSY), EWOULDBLOCK, "the tree of process %d is frozen by another helper (another session "
			 "of Checkpoint Debugger on this host): thaw it from there, or end that session (its tree thaws "
			 "then)", root);
	return fd;
}

/* Now, in the clock ticks after boot that /proc/PID/stat's start times count in. */
static uint64_t boot_ticks_now(void)
{
	uint64_t hz = (uint64_t)sysconf(_SC_CLK_TCK);
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * hz + (uint64_t)ts.tv_nsec * hz / 1000000000u;
}

/*
 * A stop claim's text: its header, when it was made ("since"), then a pid a
 * line, each with its start time once the processes exist (exact).
 */
static char *stop_claim_text(const pid_t *pids, size_t n, bool exact)
{
	struct sbuf text = { 0 };
	struct proc_stat st;

	sbuf_printf(&text, STOP_CLAIM_HEADER "since %" PRIu64 "\n", boot_ticks_now());
	for (size_t i = 0; i < n; i++) {
		if (!exact)
			sbuf_printf(&text, "%d\n", pids[i]);
		else if (read_proc_stat(pids[i], &st) == 0)
			sbuf_printf(&text, "%d %" PRIu64 "\n", pids[i], st.start_ticks);
	}
	return text.p;	/* NULL: out of memory */
}

int stop_claim_take(pid_t root, const pid_t *pids, size_t n, struct herr *e)
{
	char name[32], *text = stop_claim_text(pids, n, false);
	int fd = -1;

	snprintf(name, sizeof(name), "%d" STOP_CLAIM_SUFFIX, root);
	if (text)
		fd = claim_write(name, text, root, "stop", e);
	else
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
	free(text);
	return fd;
}

/* A claim held at fd given a new text, in place (its lock stays held): 0, or -1 with errno. */
static int claim_rewrite(int fd, const char *text)
{
	ssize_t n = (ssize_t)strlen(text);

	if (ftruncate(fd, 0) || pwrite(fd, text, n, 0) != n)
		return -1;
	return 0;
}

void stop_claim_settle(int fd, const pid_t *pids, size_t n)
{
	char *text = stop_claim_text(pids, n, true);

	if (fd < 0 || !text || claim_rewrite(fd, text))
		fprintf(stderr, "checkpoint-helper: cannot write the start times of the restored processes into their "
			"stop claim: a sweep may continue a stopped process that took one of their pids\n");
	free(text);
}

/* claim_dir/name goes, then its descriptor (and the lock with it). */
static void claim_drop(const char *name, int fd)
{
	char path[600];

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", claim_dir, name);
	unlink(path);
	close(fd);
}

void stop_claim_drop(pid_t root, int fd)
{
	char name[32];

	snprintf(name, sizeof(name), "%d" STOP_CLAIM_SUFFIX, root);
	claim_drop(name, fd);
}

/* This helper's claim on the processes it let out of a freeze stopped (released_claim_add), and their pids. */
static int released_fd = -1;
static struct pidlist released;

int released_claim_add(const pid_t *pids, size_t n, struct herr *e)
{
	char name[48], *text;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		if (!pidlist_has(&released, pids[i]) && pidlist_add(&released, pids[i])) {
			herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
			return -1;
		}
	text = stop_claim_text(released.v, released.n, true);
	if (!text) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
		return -1;
	}
	snprintf(name, sizeof(name), RELEASED_CLAIM_PREFIX "%d", getpid());
	if (released_fd < 0) {
		released_fd = claim_write(name, text, getpid(), "processes let go of stopped", e);
		ret = released_fd < 0 ? -1 : 0;
	} else if (claim_rewrite(released_fd, text)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot claim the processes let go of stopped (%s/%s)", claim_dir, name);
		ret = -1;
	}
	free(text);
	return ret;
}

void released_claim_forget(void)
{
	if (released_fd >= 0)
		close(released_fd);
	released_fd = -1;
	pidlist_free(&released);
}

/* A stop claim's lines after its header: when it was made, then its processes (continue_claimed's). */
static int parse_stop(char *text, struct claim *c)
{
	char *save = NULL, *l = strtok_r(text, "\n", &save), *end;

	if (!l || strncmp(l, "since ", 6))
		return 0;	/* no time it was made: no process is known to be its own */
	c->since = strtoull(l + 6, NULL, 10);
	while ((l = strtok_r(NULL, "\n", &save)) && c->nprocs < CLAIM_MAX_PROCS) {
		long pid = strtol(l, &end, 10);
		struct claim_proc *p;

		if (end == l || pid <= 0 || pid > INT_MAX)
			continue;	/* no process: cut to a pid_t, a number past it would name another */
		while (*end == ' ')
			end++;
		if (array_grow((void **)&c->procs, &c->cap, c->nprocs + 1, sizeof(*c->procs)))
			return -1;
		p = &c->procs[c->nprocs++];
		p->pid = (pid_t)pid;
		p->has_start = *end != '\0';
		p->start = p->has_start ? strtoull(end, NULL, 10) : 0;
	}
	return 0;
}

int claim_parse(const char *text, struct claim *c)
{
	char *nl, *end;
	long layout;

	memset(c, 0, sizeof(*c));
	c->text = strdup(text);
	if (!c->text)
		return -1;
	if (!strncmp(c->text, STOP_CLAIM_HEADER, strlen(STOP_CLAIM_HEADER))) {
		c->kind = CLAIM_STOP;
		return parse_stop(c->text + strlen(STOP_CLAIM_HEADER), c);
	}
	/* the layout as sscanf's %d read it (blanks first), but a number past an int is no layout */
	nl = strchr(c->text, '\n');
	layout = strtol(c->text, &end, 10);
	if (!nl || end == c->text || layout < INT_MIN || layout > INT_MAX) {
		errno = EINVAL;
		return -1;
	}
	c->kind = CLAIM_FREEZE;
	c->layout = (int)layout;
	c->cgroup = nl + 1;
	c->cgroup[strcspn(c->cgroup, "\n")] = '\0';
	return 0;
}

void claim_free(struct claim *c)
{
	free(c->text);
	free(c->procs);
	memset(c, 0, sizeof(*c));
}

/* Whether the process p of a stop claim made at since is one it left stopped (its own start time, when known). */
static bool left_stopped(const struct claim_proc *p, uint64_t since)
{
	struct proc_stat st;

	if (p->pid <= 1 || read_proc_stat(p->pid, &st) || st.state != 'T')
		return false;
	return p->has_start ? st.start_ticks == p->start : st.start_ticks >= since;
}

/*
 * An unheld stop claim's processes: let out of the stop a dead helper left
 * them in; only those still stopped that are theirs (the start time written
 * once CRIU made them, or started since the claim), never another process
 * that took a pid since.
 */
static void continue_claimed(const struct claim *c)
{
	for (size_t i = 0; i < c->nprocs; i++) {
		pid_t pid = c->procs[i].pid;

		if (left_stopped(&c->procs[i], c->since) && kill(pid, SIGCONT) == 0)
			fprintf(stderr, "checkpoint-helper: continued process %d, left stopped by a helper that ended\n", pid);
	}
}

bool freeze_claim_held(pid_t root)
{
	char path[600];
	int fd;
	bool held;

	snprintf(path, sizeof(path), "%s/%d", claim_dir, root);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

void freeze_claim_drop(pid_t root, int fd)
{
	char name[32];

	snprintf(name, sizeof(name), "%d", root);
	claim_drop(name, fd);
}

/* A freeze cgroup this helper could have made: absolute, under /sys/fs/cgroup, its last part ours. */
static bool is_freeze_cgroup(const char *cgroup)
{
	const char *last = strrchr(cgroup, '/');

	return !strncmp(cgroup, "/sys/fs/cgroup/", 15) && !strstr(cgroup, "/../") && last &&
	       !strncmp(last + 1, FREEZE_PREFIX, strlen(FREEZE_PREFIX));
}

/* Thaws cgroup, moves its processes to its parent cgroup (where the tree's root was) and removes it. */
static void thaw_and_remove(int layout, const char *cgroup)
{
	char path[4300], parent[4300], *buf = NULL, *save = NULL;

	snprintf(path, sizeof(path), "%s/%s", cgroup, layout == CGL(V2) ? "cgroup.freeze" : "freezer.state");
	write_str_path(path, layout == CGL(V2) ? "0" : "THAWED");
	snprintf(parent, sizeof(parent), "%.*s/cgroup.procs", (int)(strrchr(cgroup, '/') - cgroup), cgroup);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	if (read_file(path, &buf, NULL, 1 << 20) == 0) {
		for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			write_str_path(parent, l);
		free(buf);
	}
	for (int i = 0; i < 50 && rmdir(cgroup) && errno != ENOENT; i++)
		sleep_ms(10);
}

/* An unheld claim acted on: its processes continued, or its cgroup thawed (when a freeze cgroup); 1 when such. */
static int claim_act(const struct claim *c)
{
	if (c->kind == CLAIM_STOP) {
		continue_claimed(c);
		return 1;
	}
	if (!is_freeze_cgroup(c->cgroup))
		return 0;
	thaw_and_remove(c->layout, c->cgroup);
	fprintf(stderr, "checkpoint-helper: thawed %s, left frozen by a helper that ended\n", c->cgroup);
	return 1;
}

/* The claim at name of dirfd, when no helper holds it: acted on, gone; 1 when it was such. Text no claim stays. */
static int sweep_one(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW), ret = 0;
	struct claim c = { 0 };
	char *text = NULL;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && read_fd(fd, &text, NULL, CLAIM_MAX_TEXT) == 0 &&
	    claim_parse(text, &c) == 0) {
		ret = claim_act(&c);
		unlinkat(dirfd, name, 0);
	}
	claim_free(&c);
	free(text);
	close(fd);
	return ret;
}

int freeze_claim_sweep(void)
{
	int dirfd = open(claim_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	DIR *d = dirfd >= 0 ? fdopendir(dirfd) : NULL;
	struct dirent *de;

	if (!d) {
		if (dirfd >= 0)
			close(dirfd);
		return 0;	/* no claim ever made here */
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n += sweep_one(dirfd, de->d_name);
	closedir(d);
	return n;
}

/*
 * The watcher: waits for the end of its helper's pipe (fd 3), then for the
 * helper to be gone whole (its pidfd, fd 4: readable once it has exited,
 * its files released). The pipe's end alone is not enough: an exiting
 * process releases its files one by one, the pipe's possibly before its
 * claims' locks, and a sweep then would find them still held.
 */
static void __attribute__((noreturn)) watch(int rfd, int helper)
{
	struct pollfd gone = { .fd = 4, .events = POLLIN };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	ssize_t n;
	char c;

	setsid();
	signal(SIGHUP, SIG_IGN);
	/* not the helper's protocol pipes: its client would wait for their end as long as this lives */
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(rfd, 3) < 0 ||
	    dup2(helper, 4) < 0)
		_exit(1);
	syscall(SYS_close_range, 5, ~0U, 0);
	do {
		n = read(3, &c, 1);
	} while (n > 0 || (n < 0 && errno == EINTR));
	while (poll(&gone, 1, WATCH_GONE_MS) < 0 && errno == EINTR)
		;
	freeze_claim_sweep();
	_exit(0);
}

int freeze_claim_watch(void)
{
	int p[2], keep, rfd, self, helper = -1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	/* high: a fork that keeps low descriptors (the lazy supervisor) must not hold the helper's end */
	keep = fcntl(p[1], F_DUPFD_CLOEXEC, WATCH_FD);
	/* 10 and above: moved to 3 and 4 in the watcher without clobbering each other */
	rfd = fcntl(p[0], F_DUPFD_CLOEXEC, 10);
	close(p[0]);
	close(p[1]);
	self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (self >= 0) {
		helper = fcntl(self, F_DUPFD_CLOEXEC, 10);
		close(self);
	}
	pid = keep >= 0 && rfd >= 0 && helper >= 0 ? fork() : -1;
	if (pid == 0)
		watch(rfd, helper);
	if (rfd >= 0)
		close(rfd);
	if (helper >= 0)
		close(helper);
	if (pid < 0 && keep >= 0)
		close(keep);
	return pid < 0 ? -1 : 0;	/* keep stays open, unused, until the helper ends */
}
