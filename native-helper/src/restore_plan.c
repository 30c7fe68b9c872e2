/* SPDX-License-Identifier: MIT */
/*
 * What a restore hands CRIU for the leaks the dump gave it as external: the
 * same pipes, reopened through their outside holders, the same terminals
 * (inherit_fd), and the namespaces to join (join_ns) or inherit (a net
 * namespace dumped as --external).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "leaks.h"
#include "proc.h"
#include "restore_plan.h"

/*
 * The same pipe, reopened through an outside holder's descriptor, in the
 * direction the tree used it. Opening a pipe through /proc gives a new
 * file of the same pipe, as a FIFO's path would.
 */
static int reopen_pipe(const Leak *l, int *fd, struct herr *e)
{
	const LeakHolder *in = l->n_inside ? l->inside[0] : NULL;
	int mode = in && in->writable && !in->readable ? O_WRONLY : in && in->readable && !in->writable
		   ? O_RDONLY : O_RDWR;

	for (size_t i = 0; i < l->n_outside; i++) {
		const LeakHolder *h = l->outside[i];
		char path[64], link[128];
		ssize_t n;

		if (!h->has_fd)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", h->pid, h->fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, l->resource))
			continue;	/* the pid or the descriptor is something else now */
		*fd = open(path, mode | O_NONBLOCK | O_CLOEXEC);
		if (*fd < 0)
			continue;
		if (fcntl(*fd, F_SETFL, mode) == 0)
			return 0;
		close(*fd);
	}
	herr_set(e, EC(EXTERNAL_GONE), ENOENT, "%s was handed to CRIU as external, but none of the outside "
		 "processes that held it (pid %d%s) holds it any more; restore needs the same pipe; a "
		 "checkpoint with the policy warn for it restores a new pipe instead", l->resource,
		 l->n_outside ? l->outside[0]->pid : 0, l->n_outside > 1 ? " and others" : "");
	return -1;
}

/* A live process in namespace ino (not 0): a recorded outside holder, else any. */
static pid_t ns_holder(const Leak *l, const char *ns, uint64_t ino)
{
	pid_t pid, found = 0;
	DIR *d;

	for (size_t i = 0; i < l->n_outside; i++)
		if (ns_inode(l->outside[i]->pid, ns) == ino)
			return l->outside[i]->pid;
	d = opendir("/proc");
	if (!d)
		return 0;
	while (!found && (pid = next_pid(d)))
		if (pid > 1 && pid != getpid() && ns_inode(pid, ns) == ino)
			found = pid;
	closedir(d);
	return found;
}

/* CRIU restores what it dumped under key from fd (an --inherit-fd entry). */
static void plan_inherit(struct restore_plan *p, const char *key, int fd)
{
	InheritFd *in = arena_alloc(sizeof(*in));

	inherit_fd__init(in);
	in->key = (char *)key;
	in->fd = fd;
	p->inherit[p->ninherit++] = in;
}

/*
 * A descriptor of the namespace a leak names, opened through a process in it
 * now: held, it keeps the namespace even if that process (a member of the
 * tree a restore kills first, say) is gone by the time CRIU enters it.
 */
static int open_namespace(const Leak *l, struct restore_plan *p, struct herr *e)
{
	const char *ns = ns_names[l->kind - LK(UTS_NS)];
	unsigned long long ino = leak_ns_inode(l);
	char path[64];
	pid_t pid;
	int fd;

	if (!ino) {
		herr_set(e, EC(BAD_REQUEST), 0, "the manifest's leak %s names no namespace inode", l->resource);
		return -1;
	}
	pid = ns_holder(l, ns, ino);
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	fd = pid ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		herr_set(e, EC(EXTERNAL_GONE), ENOENT, "the %s namespace %s was handed to CRIU as external (the "
			 "restored tree goes back in it), but no process is in it any more", ns, l->resource);
		return -1;
	}
	p->fds[p->nfds++] = fd;
	return fd;
}

/* An external net namespace of the dump's --external entries: inherited by its key. */
static bool net_dumped_external(const Leak *l, const DumpOptions *o)
{
	const char *entry = l->kind == LK(NET_NS) ? leak_net_external(l) : NULL;

	for (size_t i = 0; entry && o && i < o->n_external; i++)
		if (!strcmp(o->external[i], entry))
			return true;
	return false;
}

/* The restored tree goes back in the namespace: inherited (net, dumped as external) or joined. */
static int plan_namespace(const Leak *l, const DumpOptions *o, struct restore_plan *p, struct herr *e)
{
	int fd = open_namespace(l, p, e);
	JoinNamespace *j;

	if (fd < 0)
		return -1;
	if (net_dumped_external(l, o)) {
		plan_inherit(p, l->resource, fd);
		return 0;
	}
	j = arena_alloc(sizeof(*j));
	join_namespace__init(j);
	j->ns = (char *)ns_names[l->kind - LK(UTS_NS)];
	j->ns_file = arena_printf("/proc/%d/fd/%d", getpid(), fd);	/* CRIU opens it while we hold it */
	p->join[p->njoin++] = j;
	return 0;
}

static int plan_inherit_pipe(const Leak *l, struct restore_plan *p, struct herr *e)
{
	int fd;

	if (reopen_pipe(l, &fd, e))
		return -1;
	p->fds[p->nfds++] = fd;
	plan_inherit(p, l->resource, fd);
	return 0;
}

/* One terminal is handed in once, however many leaks name it. */
static bool tty_planned(const struct restore_plan *p, const Leak *l)
{
	for (size_t i = 0; i < p->ntty; i++)
		if (!strcmp(p->ttys[i], l->resource))
			return true;
	return false;
}

static bool joinable(int kind)
{
	return kind == LK(UTS_NS) || kind == LK(IPC_NS) || kind == LK(NET_NS) || kind == LK(TIME_NS) ||
	       kind == LK(USER_NS);
}

static bool is_output_pipe(const Leak *l, const OutputPipes *o)
{
	char a[32], b[32];

	if (!o)
		return false;
	snprintf(a, sizeof(a), "pipe:[%u]", o->stdout_pipe_id);
	snprintf(b, sizeof(b), "pipe:[%u]", o->stderr_pipe_id);
	return !strcmp(l->resource, a) || !strcmp(l->resource, b);
}

/*
 * A terminal handed to CRIU as external (--shell-job): the restored session
 * gets the same terminal, opened by its path, keyed as CRIU names an
 * external tty: tty[rdev:dev] of the terminal as stat shows it.
 */
static int plan_inherit_tty(const Leak *l, struct restore_plan *p, struct herr *e)
{
	struct stat st;
	int fd;

	if (strncmp(l->resource, "/dev/", 5))
		return 0;	/* a terminal the helper cannot name: CRIU says what it misses */
	fd = open(l->resource, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISCHR(st.st_mode)) {
		herr_set(e, EC(EXTERNAL_GONE), errno, "the terminal %s was handed to CRIU as external "
			 "(--shell-job), but it cannot be opened any more (%s); the process that held its "
			 "other side is probably gone", l->resource, strerror(errno ? errno : ENOTTY));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	p->fds[p->nfds++] = fd;
	p->ttys[p->ntty++] = l->resource;
	plan_inherit(p, arena_printf("tty[%x:%x]", (unsigned)st.st_rdev, (unsigned)st.st_dev), fd);
	return 0;
}

int leaks_restore_plan(const LeakReport *r, const DumpOptions *o, const OutputPipes *output,
		       struct restore_plan *p, struct herr *e)
{
	size_t n = r ? r->n_leaks : 0;

	memset(p, 0, sizeof(*p));
	p->inherit = arena_alloc((n + 1) * sizeof(*p->inherit));
	p->join = arena_alloc((n + 1) * sizeof(*p->join));
	p->fds = arena_alloc((n + 1) * sizeof(*p->fds));
	p->ttys = arena_alloc((n + 1) * sizeof(*p->ttys));
	for (size_t i = 0; i < n; i++) {
		const Leak *l = r->leaks[i];
		int ret = 0;

		if (l->policy != LP(EXTERNAL))
			continue;
		if (l->kind == LK(PIPE) && !is_output_pipe(l, output))
			ret = plan_inherit_pipe(l, p, e);
		else if (l->kind == LK(TTY) && !tty_planned(p, l))
			ret = plan_inherit_tty(l, p, e);
		else if (joinable(l->kind) && !l->host_own)
			ret = plan_namespace(l, o, p, e);
		if (ret) {
			restore_plan_close(p);
			return -1;
		}
	}
	return 0;
}

void restore_plan_close(struct restore_plan *p)
{
	for (size_t i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	p->nfds = 0;
}
