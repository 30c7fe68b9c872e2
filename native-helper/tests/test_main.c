/* SPDX-License-Identifier: MIT */
/* Unit tests of the helper's pure parts; run by `make test` under ASan+UBSan. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"
#include "stats.pb-c.h"

static int passed, failed;

#define CHECK(cond) do {							\
	if (cond) {								\
		passed++;							\
	} else {								\
		failed++;							\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
	}									\
} while (0)

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static void test_framing(void)
{
	struct frame_reader fr = { 0 };
	const uint8_t *p;
	size_t len;
	uint8_t two[4 + 3 + 4 + 2];
	uint8_t big[4];

	/* two frames in one buffer */
	put_le32(two, 3);
	memcpy(two + 4, "abc", 3);
	put_le32(two + 7, 2);
	memcpy(two + 11, "de", 2);
	CHECK(frame_feed(&fr, two, sizeof(two)) == 0);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 1);
	CHECK(len == 3 && !memcmp(p, "abc", 3));
	frame_pop(&fr);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 1);
	CHECK(len == 2 && !memcmp(p, "de", 2));
	frame_pop(&fr);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 0);

	/* partial reads: byte by byte */
	for (size_t i = 0; i < 7; i++) {
		CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 0);
		frame_feed(&fr, two + i, 1);
	}
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 1);
	CHECK(len == 3 && !memcmp(p, "abc", 3));
	frame_pop(&fr);

	/* empty frame (an empty Request) */
	put_le32(big, 0);
	frame_feed(&fr, big, 4);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 1 && len == 0);
	frame_pop(&fr);

	/* oversize refused from its header alone */
	put_le32(big, MAX_FRAME_BYTES + 1);
	frame_feed(&fr, big, 4);
	errno = 0;
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == -1 && errno == EMSGSIZE);
	frame_reader_free(&fr);

	/* exactly the maximum is accepted once complete (header check only here) */
	put_le32(big, MAX_FRAME_BYTES);
	frame_feed(&fr, big, 4);
	CHECK(frame_next(&fr, &p, &len, MAX_FRAME_BYTES) == 0);
	frame_reader_free(&fr);
}

static void test_ids(void)
{
	char long_id[MAX_ID_LEN + 2];

	CHECK(valid_checkpoint_id("20260101-120000-ab12"));
	CHECK(valid_checkpoint_id("a.b_c-D9"));
	CHECK(!valid_checkpoint_id(""));
	CHECK(!valid_checkpoint_id(NULL));
	CHECK(!valid_checkpoint_id(".hidden"));
	CHECK(!valid_checkpoint_id(".."));
	CHECK(!valid_checkpoint_id("a/b"));
	CHECK(!valid_checkpoint_id("../etc"));
	CHECK(!valid_checkpoint_id("a b"));
	CHECK(!valid_checkpoint_id("a\nb"));
	memset(long_id, 'a', MAX_ID_LEN);
	long_id[MAX_ID_LEN] = '\0';
	CHECK(valid_checkpoint_id(long_id));
	long_id[MAX_ID_LEN] = 'a';
	long_id[MAX_ID_LEN + 1] = '\0';
	CHECK(!valid_checkpoint_id(long_id));
	CHECK(valid_text("hello world", 20));
	CHECK(!valid_text("hello world", 5));
	CHECK(!valid_text("a\x01", 5));
}

static void test_proc_stat(void)
{
	struct proc_stat st;

	CHECK(parse_proc_stat("1234 (my (odd) prog) S 1 1234 1234 34816 1234 4194560 0 0", &st) == 0);
	CHECK(st.pid == 1234);
	CHECK(!strcmp(st.comm, "my (odd) prog"));
	CHECK(st.state == 'S' && st.ppid == 1 && st.pgid == 1234 && st.sid == 1234);
	CHECK(st.tty_nr == 34816);
	CHECK(parse_proc_stat("7 (a) b) R 0 0 0 0", &st) == 0);
	CHECK(!strcmp(st.comm, "a) b") && st.state == 'R');
	CHECK(parse_proc_stat("9 () Z 3 4 5 0", &st) == 0);
	CHECK(!strcmp(st.comm, "") && st.state == 'Z' && st.ppid == 3);
	CHECK(parse_proc_stat("garbage", &st) == -1);
	CHECK(parse_proc_stat("12 (x) S", &st) == -1);
	/* our own stat parses, and matches getpid */
	CHECK(read_proc_stat(getpid(), &st) == 0 && st.pid == getpid());
}

static void test_tty(void)
{
	char out[64];

	CHECK(decode_tty_nr(0, out, sizeof(out)) == 0 && !strcmp(out, ""));
	CHECK(decode_tty_nr(34816, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/0"));
	CHECK(decode_tty_nr((136 << 8) | 3, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/3"));
	/* pts 300 = major 137 minor 44 */
	CHECK(decode_tty_nr((137 << 8) | 44, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/300"));
	/* minor above 255: bits 20-31 */
	CHECK(decode_tty_nr((136 << 8) | (0x1 << 20) | 0x02, out, sizeof(out)) == 0 &&
	      !strcmp(out, "/dev/pts/258"));
	CHECK(decode_tty_nr((4 << 8) | 1, out, sizeof(out)) == 0 && !strcmp(out, "/dev/tty1"));
	CHECK(decode_tty_nr((4 << 8) | 64, out, sizeof(out)) == 0 && !strcmp(out, "/dev/ttyS0"));
	CHECK(decode_tty_nr((5 << 8) | 1, out, sizeof(out)) == 0 && !strcmp(out, "/dev/console"));
	CHECK(decode_tty_nr((99 << 8) | 1, out, sizeof(out)) == -1 && !strcmp(out, ""));
}

static void test_json(void)
{
	struct sbuf b = { 0 };

	json_escape(&b, "plain");
	CHECK(!strcmp(b.p, "\"plain\""));
	b.len = 0;
	json_escape(&b, "q\"b\\n\nt\tc\x01\x1f" "\x7f" "é");
	CHECK(!strcmp(b.p, "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f\\u007fé\""));
	b.len = 0;
	json_escape(&b, NULL);
	CHECK(!strcmp(b.p, "\"\""));
	sbuf_free(&b);
}

static void test_manifest_json(void)
{
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	CheckpointProcess p = CHECKPOINT__HELPER__V1__CHECKPOINT_PROCESS__INIT;
	CheckpointProcess *pp = &p;
	char *argv[] = { "python3", "-c", "print(\"hi\")" };
	struct sbuf b = { 0 };

	c.id = "x";
	c.name = "na\"me";
	c.processes = &pp;
	c.n_processes = 1;
	p.pid = 5;
	p.comm = "py";
	p.cmdline = argv;
	p.n_cmdline = 3;
	CHECK(manifest_json(&c, &b) == 0);
	CHECK(strstr(b.p, "\"name\": \"na\\\"me\"") != NULL);
	CHECK(strstr(b.p, "[\"python3\", \"-c\", \"print(\\\"hi\\\")\"]") != NULL);
	CHECK(strstr(b.p, "\"pages_written\": 0") != NULL);
	sbuf_free(&b);
}

static void test_stats(void)
{
	DumpStatsEntry d = DUMP_STATS_ENTRY__INIT;
	StatsEntry se = STATS_ENTRY__INIT;
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
	n = stats_entry__get_packed_size(&se);
	CHECK(n + 12 <= sizeof(buf));
	put_le32(buf, 0x55105940);
	put_le32(buf + 4, 0x57093306);
	put_le32(buf + 8, n);
	stats_entry__pack(&se, buf + 12);
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

int main(void)
{
	test_framing();
	test_ids();
	test_proc_stat();
	test_tty();
	test_json();
	test_manifest_json();
	test_stats();
	test_log_extract();
	arena_free_all();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
