/* SPDX-License-Identifier: MIT */
/* The leak tests' processes and lookups: see procs.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "fd_table.h"
#include "leaks.h"
#include "proc.h"
#include "util.h"
#include "check.h"
#include "procs.h"

/* ---- processes -------------------------------------------------------------- */

pid_t spawn(setup_fn fn, void *arg, int group, int *report)
{
	int rp[2];
	pid_t pid;

	if (pipe(rp))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(rp[0]);
		if (group == NEW_SESSION)
			setsid();
		else if (group == NEW_GROUP)
			setpgid(0, 0);
		fn(arg, rp[1]);
		close(rp[1]);
		/* its children stay until they are killed, then go: a test waits for that */
		for (;;)
			if (wait(NULL) < 0)
				pause();
	}
	close(rp[1]);
	*report = rp[0];
	if (pid < 0)
		close(rp[0]);
	return pid;
}

pid_t spawn_value(setup_fn fn, void *arg, int group, int64_t *first)
{
	int report;
	pid_t pid = spawn(fn, arg, group, &report);

	*first = -1;
	if (pid < 0)
		return -1;
	*first = read_int(report);
	close(report);
	if (*first < 0) {
		reap(pid);
		return -1;
	}
	return pid;
}

pid_t spawn_ready(setup_fn fn, void *arg, int group)
{
	int64_t first;

	return spawn_value(fn, arg, group, &first);
}

struct call {
	int (*fn)(void *);
	void *arg;
};

static void call_and_report(void *arg, int report)
{
	const struct call *c = arg;

	report_int(report, c->fn ? c->fn(c->arg) : 0);
}

pid_t spawn_call(int (*fn)(void *), void *arg, int *value)
{
	struct call c = { fn, arg };
	int64_t v;
	pid_t pid = spawn_value(call_and_report, &c, SAME_GROUP, &v);

	if (value)
		*value = v;
	return pid;
}

int64_t read_int(int fd)
{
	int64_t v = -1;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : -1;
}

void report_int(int fd, int64_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(1);
}

void reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

void end_all(const pid_t *groups, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (groups[i] > 0)
			kill(-groups[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

void reap_grandchild(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	for (int i = 0; i < 2000 && pid_exists(pid); i++)
		sleep_ms(1);
}

int join_ns(pid_t pid, const char *ns, int nstype)
{
	int self = ns_enter(pid, ns, nstype, 0);

	if (self < 0)
		return -1;
	close(self);		/* no way back: the caller stays */
	return 0;
}

/* ---- files and terminals ------------------------------------------------------ */

int open_pty(char *slave, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, slave, len)) {
		if (m >= 0)
			close(m);
		return -1;
	}
	return m;
}

uint64_t fd_inode(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

int make_file(char *path, off_t size)
{
	int fd = mkstemp(path);
	int ret = fd < 0 || ftruncate(fd, size) ? -1 : 0;

	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- a made-up host ------------------------------------------------------------ */

void fake_host(struct host_scan *s, struct host_proc procs[FAKE_PROCS])
{
	static const pid_t pids[FAKE_PROCS] = { 1, 10, 11, 20, 30 };

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < FAKE_PROCS; i++) {
		memset(&procs[i], 0, sizeof(procs[i]));
		procs[i].pid = pids[i];
		procs[i].ppid = pids[i] == 1 ? 0 : pids[i] == 11 ? 10 : 1;
		procs[i].state = 'S';
		snprintf(procs[i].comm, sizeof(procs[i].comm), "p%d", pids[i]);
		procs[i].in_tree = pids[i] == 10 || pids[i] == 11;
		procs[i].excluded = pids[i] == 30;
	}
	s->procs = procs;
	s->nprocs = FAKE_PROCS;
	s->tree_procs = 2;
	s->root = 10;
	s->self = 30;
	s->init = &procs[0];
}

void hold_many(struct host_scan *s, struct leak *lk, pid_t pid, int n, const char *how)
{
	for (int fd = 0; fd < n; fd++) {
		struct leak_holder h = { .how = how, .has_fd = true, .fd = fd };

		leak_hold_counted(s, lk, pid, &h);
	}
}

void fake_free(struct host_scan *s)
{
	free(s->leaks);
	s->leaks = NULL;
	s->nleaks = s->cap_leaks = 0;
}

/* ---- scans of real trees ------------------------------------------------------- */

bool scan_checked(pid_t root, struct host_scan *s, const char *file, int line)
{
	struct herr e = { 0 };
	int ret = leaks_scan(root, s, &e);

	check_ok(ret, &e, "leaks_scan(root, s, &e)", file, line);
	if (ret)
		leaks_scan_free(s);
	return ret == 0;
}

bool read_checked(pid_t root, struct host_scan *s, bool fds, const char *file, int line)
{
	struct herr e = { 0 };
	int ret = host_read(root, s, &e);

	if (!ret && fds)
		ret = fd_table_read(s, &e);
	check_ok(ret, &e, fds ? "host_read + fd_table_read" : "host_read(root, s, &e)", file, line);
	if (ret)
		leaks_scan_free(s);
	return ret == 0;
}

long scan_count(pid_t root, int kind, const char *file, int line)
{
	struct host_scan s;
	long n;

	if (!scan_checked(root, &s, file, line))
		return -1;
	n = count_kind(&s, kind);
	leaks_scan_free(&s);
	return n;
}

size_t count_kind(const struct host_scan *s, int kind)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nleaks; i++)
		n += s->leaks[i]->kind == kind;
	return n;
}

struct leak *leak_starting(const struct host_scan *s, int kind, const char *prefix)
{
	for (size_t i = 0; i < s->nleaks; i++)
		if (s->leaks[i]->kind == kind && !strncmp(s->leaks[i]->resource, prefix, strlen(prefix)))
			return s->leaks[i];
	return NULL;
}

/* ---- what a scan found --------------------------------------------------------- */

static const struct leak_holder *find_holder(const struct leak_holder *v, size_t n, pid_t pid, const char *how,
					     bool prefix)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].pid != pid)
			continue;
		if (!how || (prefix ? !strncmp(v[i].how, how, strlen(how)) : !strcmp(v[i].how, how)))
			return &v[i];
	}
	return NULL;
}

const struct leak_holder *holder(const struct leak_holder *v, size_t n, pid_t pid)
{
	return find_holder(v, n, pid, NULL, false);
}

bool holds(const struct leak_holder *v, size_t n, pid_t pid, const char *how)
{
	return find_holder(v, n, pid, how, false) != NULL;
}

bool holds_prefix(const struct leak_holder *v, size_t n, pid_t pid, const char *prefix)
{
	return find_holder(v, n, pid, prefix, true) != NULL;
}

const struct leak_choice *choice(const struct leak *lk, int policy)
{
	for (size_t i = 0; i < lk->nchoices; i++)
		if (lk->choices[i].policy == policy)
			return &lk->choices[i];
	return NULL;
}

bool has_choice(const struct leak *lk, int policy, const char *option)
{
	for (size_t i = 0; i < lk->nchoices; i++)
		if (lk->choices[i].policy == policy && (!option || !strcmp(lk->choices[i].criu_option, option)))
			return true;
	return false;
}

const char *file_resource(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		memset(&st, 0, sizeof(st));
	return arena_printf("%s (%u:%u inode %llu)", path, major(st.st_dev), minor(st.st_dev),
			    (unsigned long long)st.st_ino);
}
