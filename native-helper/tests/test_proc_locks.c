/* SPDX-License-Identifier: MIT */
/*
 * Tests of proc_locks.c: the lock lines of /proc/locks and fdinfo, parsed
 * and compared, and read from /proc for locks the test takes itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proc_locks.h"
#include "util.h"
#include "check.h"

/* ---- parsing ------------------------------------------------------------------------ */

static void test_parse(void)
{
	static const struct {
		const char *line;
		bool waiter;
		const char *cls, *type;
		pid_t pid;
		unsigned major, minor;
		uint64_t ino;
		bool has_inode;
		uint64_t start;
		bool to_eof;
		uint64_t end;
	} good[] = {
		{ "2: POSIX  ADVISORY  WRITE 10867 fe:00:2146992 5 14", false, "POSIX", "WRITE", 10867, 0xfe, 0,
		  2146992, true, 5, false, 14 },
		{ "3: -> FLOCK  ADVISORY  WRITE 10908 fe:00:2146986 0 EOF", true, "FLOCK", "WRITE", 10908, 0xfe, 0,
		  2146986, true, 0, true, 0 },
		{ "1: OFDLCK ADVISORY  READ  -1 08:11:123 0 EOF", false, "OFDLCK", "READ", -1, 8, 0x11, 123, true,
		  0, true, 0 },
		{ "12: LEASE  ACTIVE    READ  77 00:2d:9 0 EOF", false, "LEASE", "READ", 77, 0, 0x2d, 9, true, 0,
		  true, 0 },
		{ "4: POSIX  ADVISORY  WRITE 5 <none>:0 0 EOF", false, "POSIX", "WRITE", 5, 0, 0, 0, false, 0, true,
		  0 },
		{ "7: POSIX  ADVISORY  READ 42 103:02:1311 100 EOF", false, "POSIX", "READ", 42, 0x103, 2, 1311, true,
		  100, true, 0 },
		/* an fdinfo "lock:" line, after its prefix */
		{ "1: FLOCK  ADVISORY  WRITE 10867 fe:00:2146986 0 EOF", false, "FLOCK", "WRITE", 10867, 0xfe, 0,
		  2146986, true, 0, true, 0 },
		{ "  5: POSIX  ADVISORY  WRITE 9 08:01:2 18446744073709551615 18446744073709551615", false, "POSIX",
		  "WRITE", 9, 8, 1, 2, true, UINT64_MAX, false, UINT64_MAX },
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct lock_line l;

		test_case("\"%s\"", good[i].line);
		CHECK_OK(parse_lock_line(good[i].line, &l), NULL);
		CHECK_INT(l.waiter, ==, good[i].waiter);
		CHECK_STR(l.cls, ==, good[i].cls);
		CHECK_STR(l.type, ==, good[i].type);
		CHECK_INT(l.pid, ==, good[i].pid);
		CHECK_UINT(l.major, ==, good[i].major);
		CHECK_UINT(l.minor, ==, good[i].minor);
		CHECK_UINT(l.ino, ==, good[i].ino);
		CHECK_INT(l.has_inode, ==, good[i].has_inode);
		CHECK_UINT(l.start, ==, good[i].start);
		CHECK_INT(l.to_eof, ==, good[i].to_eof);
		CHECK_UINT(l.end, ==, good[i].end);
	}
}

static void test_parse_bad(void)
{
	static const char *const bad[] = {
		"", "POSIX ADVISORY WRITE 1 08:01:2 0 EOF", "x: POSIX  ADVISORY  WRITE 1 08:01:2 0 EOF",
		"1 POSIX  ADVISORY  WRITE 1 08:01:2 0 EOF", "1: POSIX  ADVISORY  WRITE x 08:01:2 0 EOF",
		"1: POSIX  ADVISORY  WRITE 7 08:01 0 EOF", "1: POSIX  ADVISORY  WRITE 7 08:01:2",
		"1: POSIX  ADVISORY  WRITE 7 08:01:2 0", "1: POSIX  ADVISORY  WRITE 7 08:01:2 x EOF",
		"1: POSIX  ADVISORY  WRITE 7 08:01:2 0 x", "1:", "1: ->",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct lock_line l;

		test_case("\"%s\"", bad[i]);
		errno = 0;
		CHECK_INT(parse_lock_line(bad[i], &l), ==, -1);
		CHECK_INT(errno, ==, EINVAL);
	}
}

/* Each field a lock is told by makes two locks differ; the file alone makes two locks of one file. */
static void test_same(void)
{
	static const char base[] = "1: POSIX  ADVISORY  WRITE 10 08:01:77 5 14";
	static const struct {
		const char *line;
		bool same, same_file;
	} cases[] = {
		{ "9: POSIX  ADVISORY  WRITE 10 08:01:77 5 14", true, true },	/* the number is the list's */
		{ "1: FLOCK  ADVISORY  WRITE 10 08:01:77 5 14", false, true },
		{ "1: POSIX  ADVISORY  READ 10 08:01:77 5 14", false, true },
		{ "1: POSIX  ADVISORY  WRITE 11 08:01:77 5 14", false, true },
		{ "1: POSIX  ADVISORY  WRITE 10 08:01:77 6 14", false, true },
		{ "1: POSIX  ADVISORY  WRITE 10 08:01:77 5 15", false, true },
		{ "1: POSIX  ADVISORY  WRITE 10 08:01:77 5 EOF", false, true },
		{ "1: POSIX  ADVISORY  WRITE 10 08:01:78 5 14", false, false },
		{ "1: POSIX  ADVISORY  WRITE 10 08:02:77 5 14", false, false },
		{ "1: POSIX  ADVISORY  WRITE 10 09:01:77 5 14", false, false },
	};
	struct lock_line a, b;

	test_case("\"%s\"", base);
	CHECK_OK(parse_lock_line(base, &a), NULL);
	CHECK(lock_line_same(&a, &a));
	CHECK(lock_line_same_file(&a, &a));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("\"%s\" against \"%s\"", cases[i].line, base);
		CHECK_OK(parse_lock_line(cases[i].line, &b), NULL);
		CHECK_INT(lock_line_same(&a, &b), ==, cases[i].same);
		CHECK_INT(lock_line_same(&b, &a), ==, cases[i].same);
		CHECK_INT(lock_line_same_file(&a, &b), ==, cases[i].same_file);
	}
}

/* ---- /proc ---------------------------------------------------------------------------- */

struct locked {
	char path[64];
	int fd;
	struct stat st;
};

static int lock_open(struct locked *k, const char *name)
{
	snprintf(k->path, sizeof(k->path), "/tmp/ckpt-proc-locks-%s-%d", name, getpid());
	k->fd = open(k->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	return k->fd < 0 || fstat(k->fd, &k->st) ? -1 : 0;
}

static void lock_close(struct locked *k)
{
	if (k->fd >= 0)
		close(k->fd);
	unlink(k->path);
}

/* The one lock fdinfo shows for k, as expected. */
static void check_fdinfo(const struct locked *k, const char *cls, const char *type, pid_t pid, uint64_t start,
			 bool to_eof, uint64_t end)
{
	struct lock_line *v = NULL;
	size_t n = 0;

	test_case("fdinfo_locks of %s (%s %s)", k->path, cls, type);
	CHECK_OK(fdinfo_locks(getpid(), k->fd, &v, &n), NULL);
	CHECK_UINT(n, ==, 1);
	if (n == 1) {
		CHECK_STR(v[0].cls, ==, cls);
		CHECK_STR(v[0].type, ==, type);
		CHECK_INT(v[0].pid, ==, pid);
		CHECK_UINT(v[0].ino, ==, k->st.st_ino);
		CHECK_UINT(v[0].major, ==, major(k->st.st_dev));
		CHECK_UINT(v[0].minor, ==, minor(k->st.st_dev));
		CHECK_UINT(v[0].start, ==, start);
		CHECK_INT(v[0].to_eof, ==, to_eof);
		CHECK_UINT(v[0].end, ==, end);
	}
	free(v);
}

/* Every line of /proc/locks parses; the flock on k is among them. */
static void check_proc_locks(const struct locked *k)
{
	char *buf = read_proc_locks(), *line, *save = NULL;
	const char *unparsed = NULL;
	size_t found = 0, nbad = 0;

	test_case("read_proc_locks");
	CHECK(buf != NULL);
	for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		struct lock_line l;

		if (parse_lock_line(line, &l)) {
			unparsed = unparsed ? unparsed : line;
			nbad++;
			continue;
		}
		found += !strcmp(l.cls, "FLOCK") && l.pid == getpid() && l.ino == k->st.st_ino && !l.waiter;
	}
	test_case("read_proc_locks: lines that do not parse, the first: \"%s\"", unparsed ? unparsed : "");
	CHECK_UINT(nbad, ==, 0);
	test_case("read_proc_locks: the flock on %s", k->path);
	CHECK_UINT(found, ==, 1);
	free(buf);
}

static void test_real_locks(void)
{
	struct locked fl = { .fd = -1 }, posix = { .fd = -1 }, ofd = { .fd = -1 }, none = { .fd = -1 };
	struct flock range = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 10 };
	struct flock whole = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	struct lock_line *v = NULL;
	size_t n = 1;

	test_case("taking the locks");
	CHECK_OK(lock_open(&fl, "flock"), NULL);
	CHECK_OK(lock_open(&posix, "posix"), NULL);
	CHECK_OK(lock_open(&ofd, "ofd"), NULL);
	CHECK_OK(lock_open(&none, "none"), NULL);
	CHECK_OK(flock(fl.fd, LOCK_SH), NULL);
	CHECK_OK(fcntl(posix.fd, F_SETLK, &range), NULL);
	CHECK_OK(fcntl(ofd.fd, F_OFD_SETLK, &whole), NULL);
	check_fdinfo(&fl, "FLOCK", "READ", getpid(), 0, true, 0);
	check_fdinfo(&posix, "POSIX", "WRITE", getpid(), 5, false, 14);
	check_fdinfo(&ofd, "OFDLCK", "READ", -1, 0, true, 0);
	test_case("fdinfo_locks of a file without locks");
	CHECK_OK(fdinfo_locks(getpid(), none.fd, &v, &n), NULL);
	CHECK_UINT(n, ==, 0);
	CHECK(v == NULL);
	test_case("fdinfo_locks of a descriptor that is not open");
	n = 1;
	CHECK_OK(fdinfo_locks(getpid(), 9999, &v, &n), NULL);
	CHECK_UINT(n, ==, 0);
	CHECK(v == NULL);
	check_proc_locks(&fl);
	lock_close(&fl);
	lock_close(&posix);
	lock_close(&ofd);
	lock_close(&none);
}

TEST_GROUP(proc_locks)
{
	test_parse();
	test_parse_bad();
	test_same();
	test_real_locks();
}
