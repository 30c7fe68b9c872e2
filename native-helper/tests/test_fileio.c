/* SPDX-License-Identifier: MIT */
/* Tests of fileio.c: whole files in and out, directories made, removed and measured. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "util.h"
#include "check.h"
#include "service.h"

static char top[] = "/tmp/ckpt-fileio-XXXXXX";	/* the group's directory */

/* <top>/<rel> (arena). */
static const char *at_top(const char *rel)
{
	return arena_printf("%s/%s", top, rel);
}

/* A new directory <top>/<rel>, open; -1 when it cannot be made. */
static int new_dir(const char *rel)
{
	if (mkdir(at_top(rel), 0700))
		return -1;
	return open(at_top(rel), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* len bytes of a pattern that shows where a byte came from (arena). */
static char *pattern(size_t len)
{
	char *p = arena_alloc(len + 1);

	for (size_t i = 0; i < len; i++)
		p[i] = (char)(i * 7 + i / 251);
	return p;
}

/* A file written plainly (not by the code under test). */
static int plain_file(int dirfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, data, len) == (ssize_t)len ? 0 : -1;
	return close(fd) ? -1 : ret;
}

static int not_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
}

/* Entries of the directory open at dirfd, "." and ".." aside. */
static int entries(int dirfd)
{
	struct dirent **names = NULL;
	int n = scandirat(dirfd, ".", &names, not_dots, NULL);

	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return n;
}

/* name in dirfd holds exactly the len bytes of want, with mode 0600. */
static void check_file(int dirfd, const char *name, const void *want, size_t len)
{
	struct stat st = { 0 };
	char *got = NULL;
	size_t n = 0;

	CHECK_INT(read_file_at(dirfd, name, &got, &n, 1 << 24), ==, 0);
	CHECK_UINT(n, ==, len);
	CHECK(got && n == len && !memcmp(got, want, len));
	CHECK_INT(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), ==, 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_UINT(st.st_mode & 07777, ==, 0600);
	free(got);
}

/* Many writes' worth, through a file and a pipe; a write that cannot be made fails. */
static void test_write_all(int dirfd)
{
	size_t len = 300000;
	const char *data = pattern(len);
	int fd = openat(dirfd, "all", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), p[2];
	void (*old)(int);

	test_case("write_all");
	CHECK_INT(fd, >=, 0);
	CHECK_INT(write_all(fd, data, len), ==, 0);
	CHECK_INT(write_all(fd, data, 0), ==, 0);
	close(fd);
	check_file(dirfd, "all", data, len);
	CHECK_INT(pipe2(p, O_CLOEXEC), ==, 0);
	errno = 0;
	CHECK_INT(write_all(p[0], "x", 1), ==, -1);	/* the read end */
	CHECK_INT(errno, ==, EBADF);
	close(p[0]);
	old = signal(SIGPIPE, SIG_IGN);
	errno = 0;
	CHECK_INT(write_all(p[1], "x", 1), ==, -1);	/* no reader */
	CHECK_INT(errno, ==, EPIPE);
	signal(SIGPIPE, old);
	close(p[1]);
}

/*
 * Up to max bytes, whatever the size of the file against the reads' 4096:
 * one byte more is EFBIG, and *out is left as it was.
 */
static void test_read_fd_limit(int dirfd)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 10000, 100000 };
	char *sentinel = "untouched";

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		const char *data = pattern(sizes[i]);
		char *out = sentinel;
		size_t len = 12345;
		int fd;

		test_case("%zu bytes", sizes[i]);
		CHECK_INT(plain_file(dirfd, "sized", data, sizes[i]), ==, 0);
		fd = openat(dirfd, "sized", O_RDONLY | O_CLOEXEC);
		CHECK_INT(read_fd(fd, &out, &len, sizes[i]), ==, 0);
		CHECK_UINT(len, ==, sizes[i]);
		CHECK(out != sentinel && !memcmp(out, data, sizes[i]));
		CHECK(out != sentinel && out[sizes[i]] == '\0');
		if (out != sentinel)
			free(out);
		out = sentinel;
		CHECK_INT(lseek(fd, 0, SEEK_SET), ==, 0);
		errno = 0;
		if (sizes[i]) {
			CHECK_INT(read_fd(fd, &out, NULL, sizes[i] - 1), ==, -1);
			CHECK_INT(errno, ==, EFBIG);
			CHECK(out == sentinel);
		}
		close(fd);
	}
}

/* A pipe (no size to know ahead) read to its end; a descriptor that cannot be read fails. */
static void test_read_fd_pipe(void)
{
	const char *data = pattern(70000);
	char *out = NULL;
	size_t len = 0;
	int p[2];

	test_case("read_fd of a pipe");
	CHECK_INT(pipe2(p, O_CLOEXEC), ==, 0);
	CHECK_INT(fcntl(p[1], F_SETPIPE_SZ, 1 << 17), >=, 70000);
	CHECK_INT(write_all(p[1], data, 70000), ==, 0);
	close(p[1]);
	CHECK_INT(read_fd(p[0], &out, &len, 70000), ==, 0);
	CHECK_UINT(len, ==, 70000);
	CHECK(out && !memcmp(out, data, 70000));
	free(out);
	out = NULL;
	close(p[0]);
	errno = 0;
	CHECK_INT(read_fd(p[0], &out, &len, 10), ==, -1);	/* closed */
	CHECK_INT(errno, ==, EBADF);
	CHECK(out == NULL);
}

/* Relative to a directory, or a path; what fails says why and closes what it opened. */
static void test_read_file_at(int dirfd)
{
	int fds = count_fds();
	char *out = NULL;
	size_t len = 0;

	test_case("read_file_at");
	CHECK_INT(plain_file(dirfd, "hello", "hello\n", 6), ==, 0);
	CHECK_INT(read_file_at(dirfd, "hello", &out, &len, 100), ==, 0);
	CHECK_STR(out, ==, "hello\n");
	CHECK_UINT(len, ==, 6);
	free(out);
	out = NULL;
	CHECK_INT(read_file(at_top("io/hello"), &out, NULL, 6), ==, 0);
	CHECK_STR(out, ==, "hello\n");
	free(out);
	out = NULL;
	errno = 0;
	CHECK_INT(read_file_at(dirfd, "missing", &out, &len, 100), ==, -1);
	CHECK_INT(errno, ==, ENOENT);
	errno = 0;
	CHECK_INT(read_file_at(dirfd, "hello", &out, &len, 5), ==, -1);
	CHECK_INT(errno, ==, EFBIG);
	errno = 0;
	CHECK_INT(read_file_at(dirfd, ".", &out, &len, 100), ==, -1);
	CHECK_INT(errno, ==, EISDIR);
	CHECK(out == NULL);
	CHECK_INT(count_fds(), ==, fds);
}

/* A new file 0600 or an old one emptied; a symbolic link in its place is not followed. */
static void test_write_file_at(int dirfd)
{
	const char *long_data = pattern(5000);
	struct stat st;

	test_case("write_file_at");
	CHECK_INT(write_file_at(dirfd, "new", long_data, 5000), ==, 0);
	check_file(dirfd, "new", long_data, 5000);
	CHECK_INT(write_file_at(dirfd, "new", "short", 5), ==, 0);
	check_file(dirfd, "new", "short", 5);
	CHECK_INT(write_file_at(dirfd, "empty", "", 0), ==, 0);
	check_file(dirfd, "empty", "", 0);

	CHECK_INT(plain_file(dirfd, "target", "kept", 4), ==, 0);
	CHECK_INT(symlinkat("target", dirfd, "link"), ==, 0);
	CHECK_INT(symlinkat("nowhere", dirfd, "dangling"), ==, 0);
	errno = 0;
	CHECK_INT(write_file_at(dirfd, "link", "over", 4), ==, -1);
	CHECK_INT(errno, ==, ELOOP);
	check_file(dirfd, "target", "kept", 4);
	errno = 0;
	CHECK_INT(write_file_at(dirfd, "dangling", "over", 4), ==, -1);
	CHECK_INT(errno, ==, ELOOP);
	errno = 0;
	CHECK_INT(fstatat(dirfd, "nowhere", &st, 0), ==, -1);	/* not made through the link */
	CHECK_INT(errno, ==, ENOENT);
}

/* A copy as write_file_at writes; nothing made when the source is missing or too long. */
static void test_copy_file_at(int dirfd)
{
	const char *data = pattern(5000);
	struct stat st;

	test_case("copy_file_at");
	CHECK_INT(plain_file(dirfd, "original", data, 5000), ==, 0);
	CHECK_INT(copy_file_at(dirfd, "original", dirfd, "copy", 5000), ==, 0);
	check_file(dirfd, "copy", data, 5000);
	errno = 0;
	CHECK_INT(copy_file_at(dirfd, "original", dirfd, "cut", 4999), ==, -1);
	CHECK_INT(errno, ==, EFBIG);
	CHECK_INT(fstatat(dirfd, "cut", &st, 0), ==, -1);
	errno = 0;
	CHECK_INT(copy_file_at(dirfd, "missing", dirfd, "none", 5000), ==, -1);
	CHECK_INT(errno, ==, ENOENT);
	CHECK_INT(fstatat(dirfd, "none", &st, 0), ==, -1);
}

/* The name write_temp_at gives: ".<name>.<16 hex digits>.tmp". */
static void check_temp_name(const char *tmp, const char *name)
{
	size_t n = strlen(name);

	CHECK_UINT(strlen(tmp), ==, 1 + n + 1 + 16 + 4);
	CHECK(tmp[0] == '.' && !strncmp(tmp + 1, name, n) && tmp[1 + n] == '.');
	CHECK_UINT(strspn(tmp + n + 2, "0123456789abcdef"), ==, 16);
	CHECK(str_ends_with(tmp, ".tmp"));
}

/* Named as said, with the data, 0600; each call a file of its own. (That it is synced cannot be seen here.) */
static void test_write_temp_at(void)
{
	const char *data = pattern(9000);
	char tmp[64], other[64];
	int dirfd = new_dir("temp");

	test_case("write_temp_at");
	CHECK_INT(dirfd, >=, 0);
	CHECK_INT(write_temp_at(dirfd, "manifest.pb", data, 9000, tmp, sizeof(tmp)), ==, 0);
	check_temp_name(tmp, "manifest.pb");
	check_file(dirfd, tmp, data, 9000);
	CHECK_INT(write_temp_at(dirfd, "manifest.pb", "x", 1, other, sizeof(other)), ==, 0);
	CHECK_STR(other, !=, tmp);
	check_file(dirfd, other, "x", 1);
	CHECK_INT(entries(dirfd), ==, 2);
	close(dirfd);
}

/* A way for write_temp_at to fail. */
struct temp_failure {
	const char *what;
	bool bad_dir;		/* a descriptor that is not open */
	size_t name_len;	/* of the name: 250 is too long for the file system with the rest */
	size_t tmplen;		/* room for the temporary name */
	rlim_t fsize;		/* a file size limit, 0 for none */
	int want_errno;
};

/* write_temp_at of 100 bytes as f says; errno is its own. */
static int temp_fails(int dirfd, const struct temp_failure *f, char *tmp)
{
	char name[256];
	struct rlimit saved, lim;
	void (*old)(int);
	int ret, err;

	memset(name, 'n', f->name_len);
	name[f->name_len] = '\0';
	CHECK_INT(getrlimit(RLIMIT_FSIZE, &saved), ==, 0);
	lim = saved;
	if (f->fsize)
		lim.rlim_cur = f->fsize;
	old = signal(SIGXFSZ, SIG_IGN);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), ==, 0);
	ret = write_temp_at(f->bad_dir ? -1 : dirfd, name, pattern(100), 100, tmp, f->tmplen);
	err = errno;
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &saved), ==, 0);
	signal(SIGXFSZ, old);
	errno = err;
	return ret;
}

/* Whatever the failure, errno says it, the name is empty and no file is left. */
static void test_write_temp_at_fails(void)
{
	static const struct temp_failure failures[] = {
		{ "no room for the name", false, 11, 20, 0, ENAMETOOLONG },
		{ "a name too long for the file system", false, 250, 300, 0, ENAMETOOLONG },
		{ "no directory", true, 11, 64, 0, EBADF },
		{ "the data cannot be written", false, 11, 64, 10, EFBIG },
	};
	int dirfd = new_dir("temp-fails"), fds = count_fds();
	char tmp[300];

	test_case("write_temp_at failing");
	CHECK_INT(dirfd, >=, 0);
	for (size_t i = 0; i < ARRAY_SIZE(failures); i++) {
		test_case("%s", failures[i].what);
		memset(tmp, 'x', sizeof(tmp));
		errno = 0;
		CHECK_INT(temp_fails(dirfd, &failures[i], tmp), ==, -1);
		CHECK_INT(errno, ==, failures[i].want_errno);
		CHECK_STR(tmp, ==, "");
		CHECK_INT(entries(dirfd), ==, 0);
		CHECK_INT(count_fds(), ==, fds);
	}
	close(dirfd);
}

/* open_regular_at: a regular file opened; a link (ELOOP, wherever it leads), a FIFO, a directory or a device (EINVAL) not even opened. */
static void test_open_regular_at(int dirfd)
{
	static const struct { const char *name; int want_errno; } refused[] = {
		{ "or-link", ELOOP }, { "or-fifo", EINVAL }, { "or-dir", EINVAL }, { "or-zero", ELOOP }, { "or-absent", ENOENT },
	};
	struct stat st;
	int fd;

	test_case("open_regular_at");
	CHECK_INT(plain_file(dirfd, "or-regular", "12345", 5), ==, 0);
	CHECK_INT(symlinkat("or-regular", dirfd, "or-link"), ==, 0);
	CHECK_INT(mkfifoat(dirfd, "or-fifo", 0600), ==, 0);
	CHECK_INT(mkdirat(dirfd, "or-dir", 0700), ==, 0);
	CHECK_INT(symlinkat("/dev/zero", dirfd, "or-zero"), ==, 0);
	fd = open_regular_at(dirfd, "or-regular", &st);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(st.st_size, ==, 5);
	close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		test_case("open_regular_at of %s", refused[i].name);
		errno = 0;
		CHECK_INT(open_regular_at(dirfd, refused[i].name, &st), ==, -1);
		CHECK_INT(errno, ==, refused[i].want_errno);
	}
	test_case("open_regular_at of /dev/null: a device, EINVAL");
	CHECK_INT(open_regular_at(AT_FDCWD, "/dev/null", &st), ==, -1);
	CHECK_INT(errno, ==, EINVAL);
	unlinkat(dirfd, "or-link", 0);
	unlinkat(dirfd, "or-fifo", 0);
	unlinkat(dirfd, "or-zero", 0);
	unlinkat(dirfd, "or-dir", AT_REMOVEDIR);
	unlinkat(dirfd, "or-regular", 0);
}

/* replace_file_at: the name replaced whole, nothing else left; a rename that cannot be done leaves nothing. */
static void test_replace_file_at(void)
{
	int dirfd = new_dir("replace");

	test_case("replace_file_at: made, then replaced whole");
	CHECK_INT(replace_file_at(dirfd, "record", "first\n", 6), ==, 0);
	CHECK_INT(replace_file_at(dirfd, "record", "2\n", 2), ==, 0);
	check_file(dirfd, "record", "2\n", 2);
	CHECK_INT(entries(dirfd), ==, 1);
	test_case("replace_file_at over a directory: EISDIR, the directory and nothing else left");
	CHECK_INT(mkdirat(dirfd, "sub", 0700), ==, 0);
	errno = 0;
	CHECK_INT(replace_file_at(dirfd, "sub", "x", 1), ==, -1);
	CHECK_INT(errno, ==, EISDIR);
	CHECK_INT(entries(dirfd), ==, 2);
	close(dirfd);
}

/* remove_temps_at: the temporary files of that name (open_temp_at's), and nothing else. */
static void test_remove_temps_at(void)
{
	static const char *const kept[] = {
		"manifest.pb", ".manifest.pb.tmp", ".manifest.pb.x.tmp.keep", ".manifest.json.a1.tmp", "manifest.pb.a1.tmp",
		".manifest.pbx.a1.tmp",
	};
	int dirfd = new_dir("temps");
	char tmp[64];

	test_case("remove_temps_at");
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
		CHECK_INT(plain_file(dirfd, kept[i], "k", 1), ==, 0);
	CHECK_INT(write_temp_at(dirfd, "manifest.pb", "t", 1, tmp, sizeof(tmp)), ==, 0);
	CHECK_INT(plain_file(dirfd, ".manifest.pb.0011223344556677.tmp", "t", 1), ==, 0);
	CHECK_INT(entries(dirfd), ==, (int)ARRAY_SIZE(kept) + 2);
	remove_temps_at(dirfd, "manifest.pb");
	CHECK_INT(entries(dirfd), ==, (int)ARRAY_SIZE(kept));
	test_case("remove_temps_at: a descriptor that is no directory changes nothing");
	remove_temps_at(-1, "manifest.pb");
	close(dirfd);
}

/* A short string into a file that exists (a control file): never one made. */
static void test_write_str_path(int dirfd)
{
	struct stat st;

	test_case("write_str_path");
	CHECK_INT(plain_file(dirfd, "procs", "", 0), ==, 0);
	CHECK_INT(write_str_path(at_top("io/procs"), "12345"), ==, 0);
	check_file(dirfd, "procs", "12345", 5);
	errno = 0;
	CHECK_INT(write_str_path(at_top("io/absent"), "1"), ==, -1);
	CHECK_INT(errno, ==, ENOENT);
	CHECK_INT(fstatat(dirfd, "absent", &st, 0), ==, -1);
	errno = 0;
	CHECK_INT(write_str_path("/dev/full", "1"), ==, -1);
	CHECK_INT(errno, ==, ENOSPC);
	errno = 0;
	CHECK_INT(write_str_path(top, "1"), ==, -1);
	CHECK_INT(errno, ==, EISDIR);
}

/* <top>/<rel> is a directory of mode 0700. */
static void check_dir(const char *rel)
{
	struct stat st = { 0 };

	test_case("%s", rel);
	CHECK_INT(lstat(at_top(rel), &st), ==, 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_UINT(st.st_mode & 07777, ==, 0700);
}

/* Every missing directory of the path is made; what is there already is fine; a file on the way is not. */
static void test_mkdir_p(void)
{
	char too_long[4200];

	test_case("mkdir_p of a new path");
	CHECK_INT(mkdir_p(at_top("p/q/r"), 0700), ==, 0);
	check_dir("p");
	check_dir("p/q");
	check_dir("p/q/r");
	test_case("made again, and deeper");
	CHECK_INT(mkdir_p(at_top("p/q/r"), 0700), ==, 0);
	CHECK_INT(mkdir_p(at_top("p/q/r/s/"), 0700), ==, 0);
	check_dir("p/q/r/s");
	test_case("a file on the way");
	CHECK_INT(plain_file(AT_FDCWD, at_top("p/file"), "x", 1), ==, 0);
	errno = 0;
	CHECK_INT(mkdir_p(at_top("p/file/sub"), 0700), ==, -1);
	CHECK_INT(errno, ==, ENOTDIR);
	test_case("no path, or a path too long");
	CHECK_INT(mkdir_p("", 0700), ==, -1);
	memset(too_long, 'd', sizeof(too_long) - 1);
	too_long[0] = '/';
	too_long[sizeof(too_long) - 1] = '\0';
	errno = 0;
	CHECK_INT(mkdir_p(too_long, 0700), ==, -1);
	CHECK_INT(errno, ==, ENAMETOOLONG);
}

/*
 * A tree of directories, files, a fifo and symbolic links under <top>/<rel>:
 * one link to a file outside, one to a directory outside (<top>/outside),
 * whose file must outlive any walk that does not follow links.
 */
static void make_tree(const char *rel)
{
	char *big = pattern(4096);

	CHECK_INT(mkdir_p(at_top(arena_printf("%s/a/b/c", rel)), 0700), ==, 0);
	CHECK_INT(mkdir_p(at_top("outside"), 0700), ==, 0);
	CHECK_INT(plain_file(AT_FDCWD, at_top("outside/keep"), big, 1000), ==, 0);
	CHECK_INT(plain_file(AT_FDCWD, at_top(arena_printf("%s/ten", rel)), big, 10), ==, 0);
	CHECK_INT(plain_file(AT_FDCWD, at_top(arena_printf("%s/a/empty", rel)), "", 0), ==, 0);
	CHECK_INT(plain_file(AT_FDCWD, at_top(arena_printf("%s/a/b/c/page", rel)), big, 4096), ==, 0);
	CHECK_INT(mkfifo(at_top(arena_printf("%s/a/fifo", rel)), 0600), ==, 0);
	CHECK_INT(symlink(at_top("outside"), at_top(arena_printf("%s/a/b/to-dir", rel))), ==, 0);
	CHECK_INT(symlink(at_top("outside/keep"), at_top(arena_printf("%s/to-file", rel))), ==, 0);
}

/* All of it goes, and only it: what its links point to stays. */
static void test_remove_tree(void)
{
	struct stat st;

	test_case("a tree made");
	make_tree("doomed");
	test_case("removed");
	CHECK_INT(remove_tree(at_top("doomed")), ==, 0);
	errno = 0;
	CHECK_INT(lstat(at_top("doomed"), &st), ==, -1);
	CHECK_INT(errno, ==, ENOENT);
	CHECK_INT(lstat(at_top("outside/keep"), &st), ==, 0);
	CHECK_UINT(st.st_size, ==, 1000);
	test_case("a lone file, and nothing");
	CHECK_INT(plain_file(AT_FDCWD, at_top("lone"), "x", 1), ==, 0);
	CHECK_INT(remove_tree(at_top("lone")), ==, 0);
	CHECK_INT(lstat(at_top("lone"), &st), ==, -1);
	CHECK_INT(remove_tree(at_top("never-was")), ==, -1);
}

/* The sizes of the regular files under a path, links not followed; nothing there counts 0. */
static void test_dir_size(void)
{
	int fd;

	test_case("dir_size");
	make_tree("measured");
	CHECK_UINT(dir_size(at_top("measured")), ==, 10 + 0 + 4096);
	fd = open(at_top("measured/a/sparse"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK_INT(ftruncate(fd, 1 << 20), ==, 0);	/* its size, not its blocks */
	close(fd);
	CHECK_UINT(dir_size(at_top("measured")), ==, 10 + 4096 + (1 << 20));
	CHECK_UINT(dir_size(at_top("measured/ten")), ==, 10);
	CHECK_UINT(dir_size(at_top("never-was")), ==, 0);
}

static void test_flock_wait(int dirfd)
{
	int a = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), b = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t t0;

	test_case("flock_wait: shared with shared at once; exclusive waits, then says EWOULDBLOCK");
	CHECK_INT(flock_wait(a, LOCK_SH, 0), ==, 0);
	CHECK_INT(flock_wait(b, LOCK_SH, 0), ==, 0);
	flock(b, LOCK_UN);
	t0 = now_us();
	CHECK_INT(flock_wait(b, LOCK_EX, 100), ==, -1);
	CHECK_INT(errno, ==, EWOULDBLOCK);
	CHECK_UINT(now_us() - t0, >=, 100000);
	test_case("flock_wait: free again, at once");
	close(a);
	CHECK_INT(flock_wait(b, LOCK_EX, 100), ==, 0);
	close(b);
}

/* fd_is_at: the same file under that name, not one put in its place; sync_dir of a directory, not of nothing. */
static void test_fd_is_at(void)
{
	int fd;

	test_case("fd_is_at: the directory itself, by path and by name");
	make_tree("same");
	fd = open(at_top("same"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd_is_at(fd, AT_FDCWD, at_top("same")));
	test_case("fd_is_at: renamed away and another made in its place; then nothing there");
	CHECK_INT(rename(at_top("same"), at_top("moved")), ==, 0);
	CHECK_INT(mkdir(at_top("same"), 0700), ==, 0);
	CHECK(!fd_is_at(fd, AT_FDCWD, at_top("same")));
	CHECK(fd_is_at(fd, AT_FDCWD, at_top("moved")));
	CHECK_INT(remove_tree(at_top("moved")), ==, 0);
	CHECK(!fd_is_at(fd, AT_FDCWD, at_top("moved")));
	close(fd);
	test_case("sync_dir");
	CHECK_INT(sync_dir(at_top("same")), ==, 0);
	CHECK_INT(sync_dir(at_top("never-was")), ==, -1);
	CHECK_INT(errno, ==, ENOENT);
}

/* lock_file_in: its directory made, the lock held; another open of it refused with EWOULDBLOCK until let go of. */
static void test_lock_file_in(void)
{
	const char *dir = at_top("locks/deeper");
	int held, other;

	test_case("lock_file_in: made and held");
	held = lock_file_in(dir, "7");
	CHECK_INT(held, >=, 0);
	errno = 0;
	other = lock_file_in(dir, "7");
	CHECK_INT(other, ==, -1);
	CHECK_INT(errno, ==, EWOULDBLOCK);
	test_case("lock_file_in: let go of, taken again; the file stays");
	close(held);
	other = lock_file_in(dir, "7");
	CHECK_INT(other, >=, 0);
	close(other);
	CHECK_INT(access(at_top("locks/deeper/7"), F_OK), ==, 0);
}

TEST_GROUP(fileio)
{
	int dirfd;

	CHECK(mkdtemp(top) != NULL);
	dirfd = new_dir("io");
	CHECK_INT(dirfd, >=, 0);
	test_write_all(dirfd);
	test_read_fd_limit(dirfd);
	test_read_fd_pipe();
	test_read_file_at(dirfd);
	test_write_file_at(dirfd);
	test_copy_file_at(dirfd);
	test_write_temp_at();
	test_write_temp_at_fails();
	test_replace_file_at();
	test_open_regular_at(dirfd);
	test_remove_temps_at();
	test_write_str_path(dirfd);
	test_mkdir_p();
	test_remove_tree();
	test_dir_size();
	test_flock_wait(dirfd);
	test_fd_is_at();
	test_lock_file_in();
	close(dirfd);
	test_case("cleaned up");
	CHECK_INT(remove_tree(top), ==, 0);
}
