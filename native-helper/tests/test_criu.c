/* SPDX-License-Identifier: MIT */
/* Tests of criu.c: stats-dump and CRIU's log. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "criu.h"
#include "fileio.h"
#include "util.h"
#include "criu-images.pb-c.h"
#include "check.h"

static void test_stats(void)
{
	Checkpoint__Criu__V1__DumpStats d = CHECKPOINT__CRIU__V1__DUMP_STATS__INIT;
	Checkpoint__Criu__V1__Stats se = CHECKPOINT__CRIU__V1__STATS__INIT;
	DumpStats out = CHECKPOINT__HELPER__V1__DUMP_STATS__INIT;
	uint8_t buf[256];
	size_t n;

	d.has_freezing_time = d.has_frozen_time = d.has_memdump_time = d.has_memwrite_time = true;
	d.freezing_time = 11;
	d.frozen_time = 22;
	d.memdump_time = 33;
	d.memwrite_time = 44;
	d.has_pages_scanned = d.has_pages_written = d.has_pages_lazy = true;
	d.pages_scanned = 5000000000ull;
	d.pages_written = 77;
	d.pages_lazy = 8;
	se.dump = &d;
	n = checkpoint__criu__v1__stats__get_packed_size(&se);
	CHECK(n + 12 <= sizeof(buf));
	put_le32(buf, 0x55105940);
	put_le32(buf + 4, 0x57093306);
	put_le32(buf + 8, n);
	checkpoint__criu__v1__stats__pack(&se, buf + 12);
	CHECK(decode_stats(buf, n + 12, &out) == 0);
	CHECK(out.freezing_time_us == 11 && out.frozen_time_us == 22);
	CHECK(out.memdump_time_us == 33 && out.memwrite_time_us == 44);
	CHECK(out.pages_scanned == 5000000000ull && out.pages_written == 77 && out.pages_lazy == 8);
	/* truncated, wrong magic */
	CHECK(decode_stats(buf, n + 11, &out) == -1);
	CHECK(decode_stats(buf, 8, &out) == -1);
	put_le32(buf + 4, 0x54564319);
	CHECK(decode_stats(buf, n + 12, &out) == -1);
}

static void test_log_extract(void)
{
	char path[] = "/tmp/ckpt-log-XXXXXX";
	const char *log =
		"(00.001) a\n(00.002) b\n(00.003) c\n(00.004) d\n"
		"(00.005) Error (criu/x.c:1): boom\n"
		"(00.006) e\n(00.007) Warn (criu/y.c:2): careful\n"
		"(00.008) Error (criu/z.c:3): second\n";
	char first[256], **lines;
	size_t n;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, log, strlen(log)) == (ssize_t)strlen(log));
	close(fd);
	CHECK(criu_log_extract(path, &lines, &n, first, sizeof(first)) == 0);
	CHECK(!strcmp(first, "(00.005) Error (criu/x.c:1): boom"));
	/* b c d Error, e Warn(already context of nothing) , Error: context e (Warn added) */
	CHECK(n == 7);
	if (n == 7) {
		CHECK(!strcmp(lines[0], "(00.002) b"));
		CHECK(!strcmp(lines[3], "(00.005) Error (criu/x.c:1): boom"));
		CHECK(!strcmp(lines[4], "(00.006) e"));
		CHECK(!strcmp(lines[5], "(00.007) Warn (criu/y.c:2): careful"));
		CHECK(!strcmp(lines[6], "(00.008) Error (criu/z.c:3): second"));
	}
	unlink(path);
	arena_free_all();
}

TEST_GROUP(criu)
{
	test_stats();
	test_log_extract();
}
