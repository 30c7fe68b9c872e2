/* SPDX-License-Identifier: MIT */
/* Reading processes from /proc. */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "proc.h"
#include "wire.h"

/*
 * Parses one /proc/PID/stat line. comm sits between the first '(' and the
 * LAST ')', since it may hold spaces and parentheses itself.
 */
int parse_proc_stat(const char *buf, struct proc_stat *st)
{
	const char *open, *close;
	size_t clen;
	char state;
	int ppid, pgid, sid, tty;
	long pid;
	char *end;

	memset(st, 0, sizeof(*st));
	pid = strtol(buf, &end, 10);
	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (end == buf || pid <= 0 || !open || !close || close < open)
		goto bad;
	clen = close - open - 1;
	if (clen >= sizeof(st->comm))
		clen = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, clen);
	st->comm[clen] = '\0';
	if (sscanf(close + 1, " %c %d %d %d %d", &state, &ppid, &pgid, &sid, &tty) != 5)
		goto bad;
	/* starttime and vsize are the 22nd and 23rd fields; 12 fields lie between tty_nr and them */
	if (sscanf(close + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
		   "%" SCNu64 " %" SCNu64, &st->start_ticks, &st->vsize) != 2)
		st->vsize = 0;
	st->pid = pid;
	st->state = state;
	st->ppid = ppid;
	st->pgid = pgid;
	st->sid = sid;
	st->tty_nr = (uint32_t)tty;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int read_proc_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], *buf = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, &buf, NULL, 65536))
		return -1;
	ret = parse_proc_stat(buf, st);
	free(buf);
	return ret;
}

bool pid_exists(pid_t pid)
{
	char path[64];

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	return access(path, F_OK) == 0;
}

bool proc_gone(pid_t pid)
{
	struct proc_stat st;

	return read_proc_stat(pid, &st) || st.state == 'Z' || st.state == 'X';
}

pid_t next_pid(DIR *d)
{
	struct dirent *de;

	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (!*end && pid > 0)
			return pid;
	}
	return 0;
}

pid_t next_proc(DIR *d, struct proc_stat *st)
{
	pid_t pid;

	while ((pid = next_pid(d)))
		if (!read_proc_stat(pid, st))
			return pid;
	return 0;
}

/*
 * tty_nr packs the device number as the kernel's new_encode_dev():
 * minor bits 0-7 and 20-31, major bits 8-19.
 */
int decode_tty_nr(uint32_t tty_nr, char *out, size_t outlen)
{
	unsigned major = (tty_nr >> 8) & 0xfff;
	unsigned minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);

	out[0] = '\0';
	if (tty_nr == 0)
		return 0;
	if (major >= 136 && major <= 143)
		snprintf(out, outlen, "/dev/pts/%u", (major - 136) * 256 + minor);
	else if (major == 4 && minor < 64)
		snprintf(out, outlen, "/dev/tty%u", minor);
	else if (major == 4)
		snprintf(out, outlen, "/dev/ttyS%u", minor - 64);
	else if (major == 5 && minor == 0)
		snprintf(out, outlen, "/dev/tty");
	else if (major == 5 && minor == 1)
		snprintf(out, outlen, "/dev/console");
	else if (major == 5 && minor == 2)
		snprintf(out, outlen, "/dev/ptmx");
	else if (major == 3)
		snprintf(out, outlen, "/dev/tty%c%x", "pqrstuvwxyzabcde"[(minor >> 4) & 0xf], minor & 0xf);
	else
		return -1;	/* a device we do not name; tty_nr still tells */
	return 0;
}

struct proc_entry {
	pid_t pid, ppid;
};

static int scan_all(struct proc_entry **out, size_t *n)
{
	struct proc_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	struct proc_stat st;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -1;
	while (next_proc(d, &st)) {
		if (array_grow((void **)&v, &cap, cnt + 1, sizeof(*v))) {
			free(v);
			closedir(d);
			errno = ENOMEM;
			return -1;
		}
		v[cnt].pid = st.pid;
		v[cnt].ppid = st.ppid;
		cnt++;
	}
	closedir(d);
	*out = v;
	*n = cnt;
	return 0;
}

int proc_tree(pid_t root, struct pidlist *out, struct herr *e)
{
	struct proc_entry *all = NULL;
	size_t n = 0;
	int ret = -1;

	out->n = 0;
	if (scan_all(&all, &n)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read /proc");
		goto out;
	}
	if (!pid_exists(root)) {
		herr_set(e, EC(NO_SUCH_PROCESS), ESRCH, "process %d does not exist", root);
		goto out;
	}
	if (pidlist_add(out, root))
		goto nomem;
	/* breadth first: out grows while we walk it */
	for (size_t i = 0; i < out->n; i++)
		for (size_t j = 0; j < n; j++)
			if (all[j].ppid == out->v[i] && all[j].pid != out->v[i] &&
			    !pidlist_has(out, all[j].pid) && pidlist_add(out, all[j].pid))
				goto nomem;
	ret = 0;
	goto out;
nomem:
	herr_set(e, EC(INTERNAL), ENOMEM, "out of memory listing processes");
out:
	free(all);
	return ret;
}

int proc_all(struct pidlist *out, struct herr *e)
{
	DIR *d = opendir("/proc");
	pid_t pid;

	if (!d) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read /proc");
		return -1;
	}
	while ((pid = next_pid(d)))
		if (pidlist_add(out, pid)) {
			closedir(d);
			herr_set(e, EC(INTERNAL), ENOMEM, "out of memory listing processes");
			return -1;
		}
	closedir(d);
	return 0;
}

bool is_self_or_ancestor(pid_t pid)
{
	pid_t p = getpid();

	/* a pid namespace's init has ppid 0 */
	for (int depth = 0; p > 0 && depth < MAX_TREE_DEPTH; depth++) {
		struct proc_stat st;

		if (p == pid)
			return true;
		if (read_proc_stat(p, &st))
			return false;
		p = st.ppid;
	}
	return false;
}

void parse_cmdline(const char *buf, size_t len, char ***argv, size_t *argc)
{
	char *copy = arena_alloc(len + 1);	/* zeroed: copy[len] ends a last argument that has no NUL */
	size_t n = 0;
	char **v;

	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			n++;
	if (len && buf[len - 1] != '\0')
		n++;	/* a program may write over its arguments, their last NUL too */
	if (len)
		memcpy(copy, buf, len);
	/* the arguments point into one copy: a megabyte of NULs is two allocations, not a million */
	v = arena_alloc((n + 1) * sizeof(*v));
	for (size_t i = 0, k = 0; k < n; k++) {
		v[k] = copy + i;
		i += strlen(copy + i) + 1;
	}
	*argv = v;
	*argc = n;
}

int read_cmdline(pid_t pid, char ***argv, size_t *argc)
{
	char path[64], *buf = NULL;
	size_t len = 0;

	*argv = NULL;
	*argc = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (read_file(path, &buf, &len, 1 << 20))
		return -1;
	parse_cmdline(buf, len, argv, argc);
	free(buf);
	return 0;
}

uint32_t read_uid(pid_t pid)
{
	char path[64], *buf = NULL, *p;
	uint32_t uid = (uint32_t)-1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, &buf, NULL, 1 << 20))
		return uid;
	p = strstr(buf, "\nUid:");
	if (p)
		uid = strtoul(p + 5, NULL, 10);
	free(buf);
	return uid;
}

uint64_t ns_inode(pid_t pid, const char *ns)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	if (stat(path, &st))
		return 0;
	return st.st_ino;
}

const char *const ns_names[NS_KINDS] = { "uts", "ipc", "net", "mnt", "pid", "user", "cgroup", "time" };

/* The inode in a namespace link's text: "uts:[4026531838]". */
static uint64_t ns_link_inode(const char *link)
{
	const char *open = strchr(link, '[');

	return open ? strtoull(open + 1, NULL, 10) : 0;
}

/*
 * The namespace links, read relative to one directory descriptor: for a
 * thousand processes (a leak scan, ps of the host) this is about half the
 * time of a stat per link.
 */
void read_ns_inodes(pid_t pid, uint64_t ino[NS_KINDS])
{
	char path[64], link[64];
	int dfd;

	memset(ino, 0, NS_KINDS * sizeof(*ino));
	snprintf(path, sizeof(path), "/proc/%d/ns", pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	for (int i = 0; i < NS_KINDS; i++) {
		ssize_t n = readlinkat(dfd, ns_names[i], link, sizeof(link) - 1);

		link[n > 0 ? n : 0] = '\0';
		ino[i] = ns_link_inode(link);
	}
	close(dfd);
}

/* A thread's name (comm), or "" when it cannot be read (it may have just ended). */
static char *thread_name(pid_t pid, long tid)
{
	char path[64], *buf = NULL, *name;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%ld/comm", pid, tid);
	if (read_file(path, &buf, &len, 64))
		return arena_strdup("");
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\0'))
		len--;
	buf[len] = '\0';
	name = arena_strdup(buf);
	free(buf);
	return name;
}

void read_threads(pid_t pid, struct proc_threads *t)
{
	char path[64];
	struct dirent *de;
	size_t cap_tids = 0, cap_names = 0;
	DIR *d;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		long tid = strtol(de->d_name, NULL, 10);

		if (tid <= 0)
			continue;
		t->tids = arena_grow(t->tids, t->n, &cap_tids, sizeof(*t->tids));
		t->names = arena_grow(t->names, t->n, &cap_names, sizeof(*t->names));
		t->names[t->n] = thread_name(pid, tid);
		t->tids[t->n++] = tid;
	}
	closedir(d);
}
