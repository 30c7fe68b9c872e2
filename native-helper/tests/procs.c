/* SPDX-License-Identifier: MIT */
/* The leak tests' processes and lookups: see procs.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
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

/* Spawns and waits for the child's first report, *first: see spawn_ready. */
static pid_t spawn_first(setup_fn fn, void *arg, int group, int64_t *first)
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

	return spawn_first(fn, arg, group, &first);
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
	pid_t pid = spawn_first(call_and_report, &c, SAME_GROUP, &v);

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

int join_ns(pid_t pid, const char *ns, int nstype)
{
	int self = ns_enter(pid, ns, nstype, 0);

	if (self < 0)
		return -1;
	close(self);		/* no way back: the caller stays */
	return 0;
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
