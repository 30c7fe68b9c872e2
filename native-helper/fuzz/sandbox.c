/* SPDX-License-Identifier: MIT */
/* The fuzz targets' sandbox directory and muted channel (see sandbox.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel.h"
#include "fileio.h"
#include "sandbox.h"

static char sandbox_path[4096];
static int sandbox_fd = -1;

/* A fuzz target cannot go on without its files: it stops with the reason. */
static void sandbox_die(const char *what, const char *path)
{
	fprintf(stderr, "fuzz sandbox: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path))
		fprintf(stderr, "fuzz sandbox: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* At exit: the sandbox and all the targets wrote in it, children before their directory. */
static void sandbox_remove(void)
{
	if (sandbox_fd >= 0)
		close(sandbox_fd);
	nftw(sandbox_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *sandbox_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (sandbox_path[0])
		return sandbox_path;
	snprintf(sandbox_path, sizeof(sandbox_path), "%s/ckpt-fuzz-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	if (!mkdtemp(sandbox_path))
		sandbox_die("cannot make", sandbox_path);
	sandbox_fd = open(sandbox_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sandbox_fd < 0)
		sandbox_die("cannot open", sandbox_path);
	atexit(sandbox_remove);
	return sandbox_path;
}

int sandbox_dirfd(void)
{
	sandbox_dir();
	return sandbox_fd;
}

int sandbox_subdir(const char *name)
{
	char path[4400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", sandbox_dir(), name);
	for (char *s = strchr(path + strlen(sandbox_path) + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = 0;
		if (mkdir(path, 0700) && errno != EEXIST)
			sandbox_die("cannot make", path);
		if (!s)
			break;
		*s = '/';
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		sandbox_die("cannot open", path);
	return fd;
}

void sandbox_write(int dirfd, const char *name, const uint8_t *data, size_t n)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		sandbox_die("cannot create", name);
	if (write_all(fd, data, n))
		sandbox_die("cannot write", name);
	close(fd);
}

void sandbox_copy(const char *from, int dirfd, const char *name)
{
	char *buf = NULL;
	size_t len = 0;

	if (read_file(from, &buf, &len, 64u << 20))
		sandbox_die("cannot read", from);
	sandbox_write(dirfd, name, (const uint8_t *)buf, len);
	free(buf);
}

void sandbox_mute_channel(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		sandbox_die("cannot open", "/dev/null");
	g_out_fd = fd;
}

char *sandbox_string(const uint8_t *data, size_t n)
{
	char *text = malloc(n + 1);

	if (text) {
		if (n)
			memcpy(text, data, n);
		text[n] = '\0';
	}
	return text;
}

char *sandbox_text(const uint8_t *data, size_t size)
{
	return size ? sandbox_string(data + 1, size - 1) : NULL;
}
