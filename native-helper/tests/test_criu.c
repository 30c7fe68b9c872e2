/* SPDX-License-Identifier: MIT */
/*
 * Tests of criu.c: finding CRIU, probing what is not CRIU,
 * the RPC exchange with a program that is not CRIU, what CRIU can dump by
 * version, the network lock, stats-dump and CRIU's log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "arena.h"
#include "criu.h"
#include "fileio.h"
#include "spawn.h"
#include "util.h"
#include "criu-images.pb-c.h"
#include "check.h"
#include "service.h"

/* A temporary directory for the programs and logs of these tests. */
static char dir[] = "/tmp/ckpt-criu-XXXXXX";

static void test_criu_find(void)
{
	const char *tool = put_file(dir, "ckpt-criu", 0755, "#!/bin/sh\n");
	const char *plain = put_file(dir, "ckpt-plain", 0644, "not executable\n");
	const char *want = find_program("criu");
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	test_case("none configured: the installed one, in a buffer of its own");
	want = want ? arena_strdup(want) : NULL;
	CHECK_STR(criu_find(NULL), ==, want);
	CHECK(!want || criu_find(NULL) != find_program("criu"));
	test_case("configured: taken as given when it is an absolute executable");
	CHECK(criu_find(tool) == tool);
	CHECK_STR(criu_find("/bin/true"), ==, "/bin/true");
	test_case("configured, and refused");
	CHECK_STR(criu_find(plain), ==, NULL);
	CHECK_STR(criu_find("bin/true"), ==, NULL);
	test_case("configured relative: refused even where it names an executable");
	CHECK_INT(chdir(dir), ==, 0);
	CHECK_STR(criu_find("ckpt-criu"), ==, NULL);
	CHECK_STR(criu_find("./ckpt-criu"), ==, NULL);
	CHECK_INT(fchdir(cwd), ==, 0);
	close(cwd);
	CHECK_STR(criu_find("/no/such/criu"), ==, NULL);
	CHECK_STR(criu_find(""), ==, NULL);
}

/* ---- probing what is not CRIU ------------------------------------------------- */

static void test_probe_refused(void)
{
	struct criu_info ci;
	char asked[5000];

	memset(&ci, 'x', sizeof(ci));
	test_case("no CRIU anywhere");
	CHECK_INT(criu_probe(&ci, NULL, NULL), ==, -1);
	CHECK(ci.probed);
	CHECK_STR(ci.path, ==, "");
	CHECK_STR(ci.version, ==, "");
	CHECK_CONTAINS(ci.problem, "CRIU was not found (looked in /usr/sbin");
	CHECK_CONTAINS(ci.problem, "install criu 4.1 or newer");
	test_case("a --criu that is not an absolute executable");
	CHECK_INT(criu_probe(&ci, NULL, "criu"), ==, -1);
	CHECK_CONTAINS(ci.problem, "the CRIU asked for, criu, is not the absolute path of an executable file");
	test_case("a --criu too long for the sentence: cut, and the cut shows");
	memset(asked, 'a', sizeof(asked) - 1);
	asked[sizeof(asked) - 1] = '\0';
	CHECK_INT(criu_probe(&ci, NULL, asked), ==, -1);
	CHECK_UINT(strlen(ci.problem), ==, sizeof(ci.problem) - 1);
	CHECK(str_ends_with(ci.problem, "..."));
	test_case("a program that is not CRIU");
	CHECK_INT(criu_probe(&ci, "/bin/false", "/bin/false"), ==, -1);
	CHECK_STR(ci.path, ==, "/bin/false");
	CHECK_STR(ci.version, ==, "");
	CHECK_INT(ci.major, ==, 0);
	CHECK_INT(ci.mem_track, ==, false);
	CHECK_INT(ci.lazy_pages, ==, false);
	CHECK_INT(ci.pidfd_store, ==, false);
	CHECK_CONTAINS(ci.problem, "CRIU at /bin/false did not answer a VERSION request (CRIU ");
	CHECK_CONTAINS(ci.problem, "older than 3.0 or broken");
	CHECK(no_children());
}

/* ---- the exchange ------------------------------------------------------------- */

/*
 * A "criu" that writes what it was started with (its arguments, then its
 * open descriptors) and exits without answering.
 */
static void test_call(void)
{
	const char *out = arena_printf("%s/swrk.out", dir);
	const char *fake = put_file(dir, "fake-criu", 0755, arena_printf("#!/bin/sh\necho \"$1 $2\" > %s\n"
								      "exec ls /proc/self/fd >> %s\n", out, out));
	CriuReq req = CRIU_REQ__INIT;
	CriuResp unset = CRIU_RESP__INIT, *resp = &unset;
	struct herr e = { 0 };
	int fds = count_fds(), kept = fcntl(0, F_DUPFD_CLOEXEC, 200), other = fcntl(0, F_DUPFD, 210), sk = -1;
	char *text = NULL;

	req.type = CRIU_REQ_TYPE__VERSION;
	test_case("no CRIU");
	CHECK_INT(criu_call(NULL, &req, NULL, 0, NULL, NULL, &resp, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(CRIU_UNAVAILABLE));
	CHECK_STR(e.msg, ==, "CRIU was not found on this host");
	CHECK(resp == NULL);
	test_case("a program that exits without an answer");
	CHECK_INT(criu_call(fake, &req, &kept, 1, NULL, NULL, &resp, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK(resp == NULL);
	CHECK(no_children());
	test_case("what it was started with: swrk and its socket; descriptors: 0-2, the socket, those kept");
	CHECK_INT(read_file(out, &text, NULL, 1 << 16), ==, 0);
	CHECK_INT(text ? sscanf(text, "swrk %d", &sk) : 0, ==, 1);
	CHECK_CONTAINS(text, arena_printf("\n%d\n", sk));
	CHECK_CONTAINS(text, "\n200\n");
	CHECK(!strstr(text ? text : "", "\n210\n"));
	free(text);
	test_case("a program that cannot be executed");
	CHECK_INT(criu_call(put_file(dir, "plain", 0644, ""), &req, NULL, 0, NULL, NULL, &resp, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK(no_children());
	test_case("a CRIU that never answers: stopped at the limit, said in words, nothing left running");
	criu_set_call_limit(300);
	CHECK_INT(criu_call(put_file(dir, "hangs", 0755, "#!/bin/sh\nexec sleep 1000\n"), &req, NULL, 0, NULL, NULL,
			    &resp, &e), ==, -1);
	criu_set_call_limit(CRIU_CALL_MAX_MS);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK_INT(e.errnum, ==, ETIMEDOUT);
	CHECK_STR(e.msg, ==, "CRIU did not answer within 0.3 s: it was stopped (killed), what it was doing left unfinished");
	CHECK(no_children());
	close(kept);
	close(other);
	CHECK_INT(count_fds(), ==, fds);
}

/* ---- what CRIU can do --------------------------------------------------------- */

/* Linux >= 6.16 refuses SO_PASSCRED on inet sockets (what CRIU 4.1 asks of each). */
static bool kernel_refuses_passcred(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 16);
}

static void test_inet_dumpable(void)
{
	static const struct {
		int major, minor;
		const char *version;
		bool old;
	} cases[] = {
		{ 3, 19, "3.19", true }, { 4, 1, "4.1.1", true }, { 4, 2, "4.2", false }, { 5, 0, "5.0", false },
	};
	bool refused = kernel_refuses_passcred();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct criu_info ci = { .major = cases[i].major, .minor = cases[i].minor };
		struct herr e = { 0 };
		bool no = cases[i].old && refused;

		test_case("CRIU %s on a kernel that %s SO_PASSCRED on inet sockets", cases[i].version,
			  refused ? "refuses" : "allows");
		snprintf(ci.version, sizeof(ci.version), "%s", cases[i].version);
		CHECK_INT(criu_inet_dumpable(&ci, &e), ==, no ? -1 : 0);
		CHECK_INT(e.code, ==, no ? EC(CRIU_UNAVAILABLE) : 0);
		CHECK_INT(e.errnum, ==, no ? EOPNOTSUPP : 0);
		if (no) {
			CHECK_CONTAINS(e.msg, arena_printf("CRIU %s cannot dump TCP or UDP sockets", cases[i].version));
			CHECK_CONTAINS(e.msg, "Use CRIU 4.2 or newer");
		}
	}
}

static void test_network_lock(void)
{
	struct herr e = { 0 };
	int method = -1;

	if (find_program("iptables")) {
		test_case("iptables is there: CRIU's default");
		CHECK_OK(criu_network_lock("/bin/false", &method, &e), &e);
		CHECK_INT(method, ==, 0);
		return;
	}
	test_case("no iptables, a CRIU that says it locks with nftables");
	CHECK_OK(criu_network_lock("/bin/true", &method, &e), &e);
	CHECK_INT(method, ==, CRIU_NETWORK_LOCK_METHOD__NFTABLES);
	test_case("no iptables, a CRIU that cannot");
	CHECK_INT(criu_network_lock("/bin/false", &method, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(CRIU_UNAVAILABLE));
	CHECK_CONTAINS(e.msg, "install iptables");
	CHECK(no_children());
}

/* ---- stats and logs ----------------------------------------------------------- */

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
	d.has_pages_scanned = d.has_pages_written = d.has_pages_lazy = d.has_pages_skipped_parent = true;
	d.pages_scanned = 5000000000ull;
	d.pages_written = 77;
	d.pages_lazy = 8;
	d.pages_skipped_parent = 9;
	se.dump = &d;
	n = checkpoint__criu__v1__stats__get_packed_size(&se);
	CHECK_UINT(n + 12, <=, sizeof(buf));
	put_le32(buf, 0x55105940);
	put_le32(buf + 4, 0x57093306);
	put_le32(buf + 8, n);
	checkpoint__criu__v1__stats__pack(&se, buf + 12);
	test_case("stats-dump");
	CHECK_INT(decode_stats(buf, n + 12, &out), ==, 0);
	CHECK_UINT(out.freezing_time_us, ==, 11);
	CHECK_UINT(out.frozen_time_us, ==, 22);
	CHECK_UINT(out.memdump_time_us, ==, 33);
	CHECK_UINT(out.memwrite_time_us, ==, 44);
	CHECK_UINT(out.pages_scanned, ==, 5000000000ull);
	CHECK_UINT(out.pages_written, ==, 77);
	CHECK_UINT(out.pages_lazy, ==, 8);
	CHECK_UINT(out.pages_skipped_parent, ==, 9);
	test_case("stats-dump cut short");
	CHECK_INT(decode_stats(buf, n + 11, &out), ==, -1);
	CHECK_INT(decode_stats(buf, 8, &out), ==, -1);
	test_case("stats-dump with another image's magic");
	put_le32(buf + 4, 0x54564319);
	errno = 0;
	CHECK_INT(decode_stats(buf, n + 12, &out), ==, -1);
	CHECK_INT(errno, ==, EINVAL);
}

static void test_log_extract(void)
{
	const char *log =
		"(00.001) a\n(00.002) b\n(00.003) c\n(00.004) d\n"
		"(00.005) Error (criu/x.c:1): boom\n"
		"(00.006) e\n(00.007) Warn (criu/y.c:2): careful\n"
		"(00.008) Error (criu/z.c:3): second\n";
	/* b c d Error, then e Warn Error: three lines of context before each Error, the Warn among them */
	static const char *const want[] = {
		"(00.002) b", "(00.003) c", "(00.004) d", "(00.005) Error (criu/x.c:1): boom",
		"(00.006) e", "(00.007) Warn (criu/y.c:2): careful", "(00.008) Error (criu/z.c:3): second",
	};
	char first[256], **lines;
	size_t n;

	CHECK_INT(criu_log_extract(put_file(dir, "a.log", 0600, log), &lines, &n, first, sizeof(first)), ==, 0);
	CHECK_STR(first, ==, "(00.005) Error (criu/x.c:1): boom");
	CHECK_UINT(n, ==, ARRAY_SIZE(want));
	for (size_t i = 0; i < n && i < ARRAY_SIZE(want); i++) {
		test_case("log line %zu", i);
		CHECK_STR(lines[i], ==, want[i]);
	}
	test_case("a log that is not there");
	CHECK_INT(criu_log_extract(arena_printf("%s/none.log", dir), &lines, &n, first, sizeof(first)), ==, -1);
	CHECK_UINT(n, ==, 0);
	CHECK(lines == NULL);
	CHECK_STR(first, ==, "");
}

/* At most 40 lines: the errors with their context first, then the warnings nearest the end. */
static void test_log_cap(void)
{
	char *log = "", first[256], **lines;
	size_t n;

	for (int i = 0; i < 60; i++)
		log = arena_printf("%s(00.%03d) Warn (criu/w.c:%d): warning %d\n", log, i, i, i);
	log = arena_printf("%s(01.000) plain\n(01.001) Error (criu/e.c:1): the end\n", log);
	CHECK_INT(criu_log_extract(put_file(dir, "long.log", 0600, log), &lines, &n, first, sizeof(first)), ==, 0);
	CHECK_UINT(n, ==, 40);
	CHECK_STR(first, ==, "(01.001) Error (criu/e.c:1): the end");
	/* 4 lines for the error and its context (warnings 58 and 59 among them): room for 36 more */
	test_case("the first line kept: warning 22, the 36th warning from the end but the two in the context");
	CHECK_STR(n ? lines[0] : NULL, ==, "(00.022) Warn (criu/w.c:22): warning 22");
	test_case("the last line kept: the error");
	CHECK_STR(n ? lines[n - 1] : NULL, ==, "(01.001) Error (criu/e.c:1): the end");
}

TEST_GROUP(criu)
{
	CHECK(mkdtemp(dir) != NULL);
	test_criu_find();
	test_probe_refused();
	test_call();
	test_inet_dumpable();
	test_network_lock();
	test_stats();
	test_log_extract();
	test_log_cap();
	CHECK_INT(remove_tree(dir), ==, 0);
	arena_free_all();
}
