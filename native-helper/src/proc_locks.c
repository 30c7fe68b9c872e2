/* SPDX-License-Identifier: MIT */
/* File locks as /proc shows them: /proc/locks, and the "lock:" lines of a descriptor's fdinfo. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "lists.h"
#include "proc_locks.h"

/* Skips one word and the blanks after it. */
static const char *next_word(const char *p)
{
	while (*p && *p != ' ' && *p != '\t')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static void copy_word(char *out, size_t len, const char *p)
{
	size_t n = strcspn(p, " \t\n");

	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

int parse_lock_line(const char *line, struct lock_line *l)
{
	const char *p = line;
	unsigned long long ino, start;
	char *end;
	int n = 0;

	memset(l, 0, sizeof(*l));
	while (*p == ' ')
		p++;
	strtol(p, &end, 10);
	if (end == p || *end != ':')
		goto bad;
	p = next_word(end);
	if (!strncmp(p, "->", 2)) {
		l->waiter = true;
		p = next_word(p);
	}
	copy_word(l->cls, sizeof(l->cls), p);
	p = next_word(next_word(p));		/* the class, then ADVISORY/ACTIVE/... */
	copy_word(l->type, sizeof(l->type), p);
	p = next_word(p);
	l->pid = strtol(p, &end, 10);
	if (end == p || !l->cls[0] || !l->type[0])
		goto bad;
	p = next_word(end);
	if (!strncmp(p, "<none>", 6)) {
		p = next_word(p);
	} else {
		if (sscanf(p, "%x:%x:%llu%n", &l->major, &l->minor, &ino, &n) != 3)
			goto bad;
		l->ino = ino;
		l->has_inode = true;
		p = next_word(p + n);
	}
	start = strtoull(p, &end, 10);
	if (end == p)
		goto bad;
	l->start = start;
	p = next_word(end);
	l->to_eof = !strncmp(p, "EOF", 3);
	if (!l->to_eof) {
		l->end = strtoull(p, &end, 10);
		if (end == p)
			goto bad;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

bool lock_line_same(const struct lock_line *a, const struct lock_line *b)
{
	return !strcmp(a->cls, b->cls) && !strcmp(a->type, b->type) && a->pid == b->pid &&
	       a->major == b->major && a->minor == b->minor && a->ino == b->ino && a->start == b->start &&
	       a->to_eof == b->to_eof && a->end == b->end;
}

/*
 * A read fills a page of the seq_file unless the list ended, so one that
 * leaves room for another line ended it.
 */
char *read_proc_locks(void)
{
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap), *p;
	int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);

	while (buf && fd >= 0) {
		ssize_t r = read(fd, buf + n, cap - n - 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (n += r, r + 256 < 4096))
			break;
		if (n + 4096 + 1 > cap) {
			p = cap >= (64u << 20) ? NULL : realloc(buf, cap * 2);
			if (!p)
				break;	/* what was read */
			buf = p;
			cap *= 2;
		}
	}
	if (fd >= 0)
		close(fd);
	if (buf)
		buf[n] = '\0';
	return buf;
}

bool lock_line_same_file(const struct lock_line *a, const struct lock_line *b)
{
	return a->major == b->major && a->minor == b->minor && a->ino == b->ino;
}

/* The next line of a text, NULL after the last. */
static const char *next_line(const char *p)
{
	p = strchr(p, '\n');
	return p ? p + 1 : NULL;
}

int fdinfo_locks(pid_t pid, int fd, struct lock_line **v, size_t *n)
{
	char path[64], *buf = NULL;
	size_t cap = 0;
	int ret = 0;

	*v = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_file(path, &buf, NULL, 1 << 20))
		return 0;	/* closed meanwhile: it holds nothing */
	for (const char *p = buf; p && !ret; p = next_line(p)) {
		struct lock_line l;

		if (strncmp(p, "lock:\t", 6) || parse_lock_line(p + 6, &l))
			continue;
		ret = array_grow((void **)v, &cap, *n + 1, sizeof(**v));
		if (!ret)
			(*v)[(*n)++] = l;
	}
	free(buf);
	return ret;
}
