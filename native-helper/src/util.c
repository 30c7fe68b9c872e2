/* SPDX-License-Identifier: MIT */
/* Small utilities: errors, arena, strings, validation, files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

void herr_set(struct herr *e, int code, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	e->code = code;
	e->errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void herr_prefix(struct herr *e, const char *fmt, ...)
{
	char head[512], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	if (snprintf(e->msg, sizeof(e->msg), "%s: %s", head, old) >= (int)sizeof(e->msg))
		mark_truncated(e->msg, sizeof(e->msg));
}

void mark_truncated(char *buf, size_t size)
{
	if (size > 4)
		memcpy(buf + size - 4, "...", 4);
}

/* ---- arena: every allocation of one request, freed after the answer ---- */

struct arena_node {
	struct arena_node *prev;
	max_align_t data[];
};

static struct arena_node *arena_top;

void *arena_alloc(size_t size)
{
	struct arena_node *n = calloc(1, sizeof(*n) + size + 1);

	if (!n) {
		fprintf(stderr, "checkpoint-helper: out of memory\n");
		abort();
	}
	n->prev = arena_top;
	arena_top = n;
	return n->data;
}

char *arena_strdup(const char *s)
{
	size_t n = strlen(s ? s : "");
	char *p = arena_alloc(n + 1);

	memcpy(p, s ? s : "", n);
	return p;
}

char *arena_printf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	if (!fmt)	/* never; but UBSan's instrumentation makes GCC see the path */
		return arena_strdup("");
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = arena_alloc(n + 1);
	va_start(ap, fmt);
	vsnprintf(p, n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void arena_free_all(void)
{
	while (arena_top) {
		struct arena_node *p = arena_top->prev;

		free(arena_top);
		arena_top = p;
	}
}

/* ---- sbuf ---------------------------------------------------------------- */

int sbuf_add(struct sbuf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int sbuf_puts(struct sbuf *b, const char *s)
{
	return sbuf_add(b, s, strlen(s));
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(tmp))
		return sbuf_add(b, tmp, n);
	{
		char *big = malloc(n + 1);
		int ret;

		if (!big)
			return -1;
		va_start(ap, fmt);
		vsnprintf(big, n + 1, fmt, ap);
		va_end(ap);
		ret = sbuf_add(b, big, n);
		free(big);
		return ret;
	}
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Appends s as a JSON string literal (with quotes). Bytes >= 0x80 pass as is. */
int json_escape(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int ret = sbuf_add(b, "\"", 1);

	for (; *p && !ret; p++) {
		switch (*p) {
		case '"': ret = sbuf_add(b, "\\\"", 2); break;
		case '\\': ret = sbuf_add(b, "\\\\", 2); break;
		case '\n': ret = sbuf_add(b, "\\n", 2); break;
		case '\r': ret = sbuf_add(b, "\\r", 2); break;
		case '\t': ret = sbuf_add(b, "\\t", 2); break;
		case '\b': ret = sbuf_add(b, "\\b", 2); break;
		case '\f': ret = sbuf_add(b, "\\f", 2); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				ret = sbuf_printf(b, "\\u%04x", *p);
			else
				ret = sbuf_add(b, (const char *)p, 1);
		}
	}
	return ret ? ret : sbuf_add(b, "\"", 1);
}

/* ---- growable arrays ------------------------------------------------------ */

int array_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*v, ncap * size);
	if (!p)
		return -1;
	*v = p;
	*cap = ncap;
	return 0;
}

/* ---- pid lists ----------------------------------------------------------- */

int pidlist_add(struct pidlist *l, pid_t pid)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		pid_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = pid;
	return 0;
}

bool pidlist_has(const struct pidlist *l, pid_t pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == pid)
			return true;
	return false;
}

void pidlist_free(struct pidlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int fdlist_add(struct fdlist *l, int fd)
{
	if (array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)))
		return -1;
	l->v[l->n++] = fd;
	return 0;
}

void fdlist_close(struct fdlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		close(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* ---- validation ---------------------------------------------------------- */

bool valid_checkpoint_id(const char *id)
{
	size_t n;

	if (!id || !*id || id[0] == '.')
		return false;
	for (n = 0; id[n]; n++) {
		char c = id[n];

		if (n >= MAX_ID_LEN)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Bounded text without control characters other than tab. */
bool valid_text(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return true;
	for (n = 0; s[n]; n++) {
		if (n >= max)
			return false;
		if ((unsigned char)s[n] < 0x20 && s[n] != '\t')
			return false;
	}
	return true;
}

/* ---- files --------------------------------------------------------------- */

int read_fd(int fd, char **out, size_t *len, size_t max)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int ret = -1;

	for (;;) {
		ssize_t r;

		if (n + 4096 + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *p = realloc(buf, ncap);

			if (!p)
				goto out;
			buf = p;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		n += r;
		if (n > max) {
			errno = EFBIG;
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	if (len)
		*len = n;
	ret = 0;
out:
	if (ret) {
		int saved = errno;

		free(buf);
		errno = saved;
	}
	return ret;
}

int read_file_at(int dirfd, const char *name, char **out, size_t *len, size_t max)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY), ret, saved;

	if (fd < 0)
		return -1;
	ret = read_fd(fd, out, len, max);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int read_file(const char *path, char **out, size_t *len, size_t max)
{
	return read_file_at(AT_FDCWD, path, out, len, max);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= w;
	}
	return 0;
}

int write_file_at(int dirfd, const char *name, const void *data, size_t len)
{
	int fd, ret;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	ret = write_all(fd, data, len);
	if (close(fd) && !ret)
		ret = -1;
	return ret;
}

/*
 * Writes data to a new file ".<name>.<random>.tmp" in dirfd (mode 0600) and
 * syncs it, so that renaming it over name replaces name whole; tmp gets its
 * name. On failure the file is gone, and errno says why.
 */
int write_temp_at(int dirfd, const char *name, const void *data, size_t len, char *tmp, size_t tmplen)
{
	char rnd[17];
	int fd, ret, err;

	tmp[0] = '\0';
	if (random_hex(rnd, 16))
		return -1;
	if (snprintf(tmp, tmplen, ".%s.%s.tmp", name, rnd) >= (int)tmplen) {
		tmp[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	/* O_EXCL: never write into a file that is not this call's own */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		tmp[0] = '\0';
		return -1;
	}
	ret = write_all(fd, data, len) || fsync(fd) ? -1 : 0;
	err = errno;
	if (close(fd) && !ret) {
		ret = -1;
		err = errno;
	}
	if (ret) {
		unlinkat(dirfd, tmp, 0);
		tmp[0] = '\0';
		errno = err;
	}
	return ret;
}

/* Writes a short string to an existing (control) file, e.g. cgroup.procs. */
int write_str_path(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd, ret = -1;
	ssize_t w;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do {
		w = write(fd, s, len);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		goto out;
	if ((size_t)w != len) {
		errno = EIO;
		goto out;
	}
	ret = 0;
out:
	if (ret) {
		int saved = errno;

		close(fd);
		errno = saved;
		return ret;
	}
	return close(fd);
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -1;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) ? -1 : 0;
	return unlink(path) ? -1 : 0;
}

int remove_tree(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t size_acc;

static int size_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		size_acc += sb->st_size;
	return 0;
}

uint64_t dir_size(const char *path)
{
	size_acc = 0;
	nftw(path, size_one, 16, FTW_PHYS);
	return size_acc;
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
}

uint64_t now_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + ts.tv_nsec / 1000000;
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int random_hex(char *out, size_t nhex)
{
	unsigned char raw[32];
	size_t nb = (nhex + 1) / 2;

	if (nb > sizeof(raw) || getrandom(raw, nb, 0) != (ssize_t)nb)
		return -1;
	for (size_t i = 0; i < nhex; i++)
		out[i] = "0123456789abcdef"[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 0xf];
	out[nhex] = '\0';
	return 0;
}
