/* SPDX-License-Identifier: MIT */
/*
 * The shared mappings of a process, for the memory leak detectors: asked
 * for with PROCMAP_QUERY (Linux 6.11: a few microseconds a process), or
 * before it, read from the text of /proc/PID/maps and parsed (the kernel
 * takes tens of microseconds a process to write it).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "leak_maps.h"

#define MAX_MAPS_BYTES (64u << 20)	/* a process with more is skipped */

/* A number in base at p, ending before lim; *next is after it. No sign, no leading space. */
static int number(const char *p, const char *lim, int base, unsigned long long *v, const char **next)
{
	char *end;

	if (p >= lim || !isxdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*v = strtoull(p, &end, base);
	if (end == p || end > lim || errno)
		return -1;
	*next = end;
	return 0;
}

/* "7f1c2000-7f1c4000 rw-s 00000000 08:01 1234      /srv/data.db" */
int parse_maps_line(const char *line, size_t len, struct maps_line *m)
{
	const char *p = line, *lim = line + len;
	unsigned long long v[6];

	memset(m, 0, sizeof(*m));
	if (number(p, lim, 16, &v[0], &p) || p >= lim || *p++ != '-' || number(p, lim, 16, &v[1], &p))
		goto bad;
	if (lim - p < 7 || p[0] != ' ' || p[5] != ' ')
		goto bad;
	memcpy(m->perms, p + 1, 4);
	p += 6;
	if (number(p, lim, 16, &v[2], &p) || p >= lim || *p++ != ' ' ||
	    number(p, lim, 16, &v[3], &p) || p >= lim || *p++ != ':' ||
	    number(p, lim, 16, &v[4], &p) || p >= lim || *p++ != ' ' ||
	    number(p, lim, 10, &v[5], &p) || (p < lim && *p != ' '))
		goto bad;
	while (p < lim && *p == ' ')
		p++;
	while (lim > p && (lim[-1] == '\n' || lim[-1] == ' '))
		lim--;
	m->start = v[0];
	m->end = v[1];
	m->offset = v[2];
	m->major = v[3];
	m->minor = v[4];
	m->inode = v[5];
	m->path = p;
	m->path_len = lim - p;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

bool leak_maps_text;

static int mapbuf_room(struct mapbuf *b)
{
	size_t ncap = b->cap ? b->cap * 2 : 65536;
	char *p;

	if (b->cap - b->len > 4096)
		return 0;
	if (ncap > MAX_MAPS_BYTES) {
		errno = EFBIG;
		return -1;
	}
	p = realloc(b->p, ncap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = ncap;
	return 0;
}

static int read_text(int fd, struct mapbuf *b)
{
	b->len = 0;
	for (;;) {
		ssize_t n;

		if (mapbuf_room(b))
			return -1;
		n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += n;
	}
	b->p[b->len] = '\0';
	return 0;
}

/* Calls fn for each shared mapping ('s' in the perms) of p's maps in b. */
static void each_shared(const struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg)
{
	const char *line = b->p, *lim = b->p + b->len;

	while (line < lim) {
		const char *nl = memchr(line, '\n', lim - line);
		size_t len = (nl ? nl : lim) - line;
		const char *sp = memchr(line, ' ', len);
		struct maps_line m;

		/* most mappings are private: look at the perms before parsing */
		if (sp && (size_t)(sp - line) + 4 < len && sp[4] == 's' && !parse_maps_line(line, len, &m))
			fn(arg, p, &m);
		line += len + 1;
	}
}

#define QUERY_UNSUPPORTED (-2)

static bool no_query;		/* PROCMAP_QUERY is not in this kernel */

#ifdef PROCMAP_QUERY
#define QUERY_SHARED (PROCMAP_QUERY_COVERING_OR_NEXT_VMA | PROCMAP_QUERY_VMA_SHARED | PROCMAP_QUERY_FILE_BACKED_VMA)

static void query_line(const struct procmap_query *q, const char *name, struct maps_line *m)
{
	memset(m, 0, sizeof(*m));
	m->start = q->vma_start;
	m->end = q->vma_end;
	m->offset = q->vma_offset;
	m->inode = q->inode;
	m->major = q->dev_major;
	m->minor = q->dev_minor;
	m->perms[0] = q->vma_flags & PROCMAP_QUERY_VMA_READABLE ? 'r' : '-';
	m->perms[1] = q->vma_flags & PROCMAP_QUERY_VMA_WRITABLE ? 'w' : '-';
	m->perms[2] = q->vma_flags & PROCMAP_QUERY_VMA_EXECUTABLE ? 'x' : '-';
	m->perms[3] = q->vma_flags & PROCMAP_QUERY_VMA_SHARED ? 's' : 'p';
	m->path = name;
	m->path_len = q->vma_name_size ? strnlen(name, q->vma_name_size) : 0;
}

/*
 * Calls fn for each shared file-backed mapping of the maps file fd, as
 * PROCMAP_QUERY finds them one after the other. QUERY_UNSUPPORTED when the
 * kernel has no PROCMAP_QUERY.
 */
static int query_shared(int fd, struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg)
{
	uint64_t addr = 0;

	for (bool first = true;; first = false) {
		struct procmap_query q = { .size = sizeof(q), .query_flags = QUERY_SHARED, .query_addr = addr,
					   .vma_name_size = sizeof(b->name),
					   .vma_name_addr = (uintptr_t)b->name };
		struct maps_line m;
		int r = ioctl(fd, PROCMAP_QUERY, &q);

		if (r && errno == E2BIG) {
			/* a name longer than a path: the mapping without it */
			q.vma_name_size = 0;
			q.vma_name_addr = 0;
			r = ioctl(fd, PROCMAP_QUERY, &q);
		}
		if (r && first && (errno == ENOTTY || errno == EINVAL))
			return QUERY_UNSUPPORTED;
		if (r)
			return errno == ENOENT ? 0 : -1;	/* ENOENT: no further mapping */
		query_line(&q, b->name, &m);
		fn(arg, p, &m);
		if (q.vma_end <= addr)
			return 0;
		addr = q.vma_end;
	}
}
#else
static int query_shared(int fd, struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg)
{
	(void)fd, (void)b, (void)p, (void)fn, (void)arg;
	return QUERY_UNSUPPORTED;	/* built with headers older than Linux 6.11 */
}
#endif

int read_each_shared(struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = QUERY_UNSUPPORTED;
	if (!leak_maps_text && !no_query)
		ret = query_shared(fd, b, p, fn, arg);
	if (ret == QUERY_UNSUPPORTED) {
		no_query |= !leak_maps_text;	/* before Linux 6.11: the text, from now on */
		ret = read_text(fd, b);
		if (!ret)
			each_shared(b, p, fn, arg);
	}
	close(fd);
	return ret;
}

static bool path_starts(const struct maps_line *m, const char *prefix)
{
	size_t n = strlen(prefix);

	return m->path_len >= n && !memcmp(m->path, prefix, n);
}

enum map_class map_class(const struct maps_line *m)
{
	if (m->perms[3] != 's' || !m->path_len)
		return MC_NONE;
	if (path_starts(m, "/SYSV") && m->path_len >= 13)
		return MC_SYSV;		/* "/SYSV%08x (deleted)", the inode is the shmid (0 is one) */
	if (!m->inode)
		return MC_NONE;
	if (path_starts(m, "/dev/zero") || path_starts(m, "[anon_shmem") || path_starts(m, "/memfd:") ||
	    path_starts(m, "/anon_hugepage"))
		return MC_ANON;
	if (path_starts(m, "anon_inode:") || m->path[0] == '[')
		return MC_NONE;		/* one inode for every anon inode file; the kernel's mappings */
	return MC_FILE;
}

struct leak_holder map_holder(const struct maps_line *m, char *how, size_t len, const char *verb)
{
	struct leak_holder h = { .how = how, .readable = m->perms[0] == 'r', .writable = m->perms[1] == 'w' };

	snprintf(how, len, "%s at 0x%lx-0x%lx%s", verb, m->start, m->end, h.writable ? "" : " (read-only)");
	return h;
}

void map_hold_outside(struct host_scan *s, struct leak *lk, pid_t *last, const struct host_proc *p,
		      const struct maps_line *m, const char *verb)
{
	struct leak_holder h;
	char how[96];

	if (*last == p->pid)
		return;
	*last = p->pid;
	h = map_holder(m, how, sizeof(how), verb);
	leak_hold_counted(s, lk, p->pid, &h);
}

void mapbuf_free(struct mapbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
