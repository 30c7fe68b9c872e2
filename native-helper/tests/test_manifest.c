/* SPDX-License-Identifier: MIT */
/*
 * Tests of manifest.c: manifest.json with and without a leak report;
 * manifest.pb and manifest.json written, read back, replaced; what cannot
 * be read refused in words.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "manifest.h"
#include "sbuf.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

#define ID "20260301-090000-ef56"

typedef Checkpoint__Helper__V1__LeakChange__What What;
#define WHAT(x) CHECKPOINT__HELPER__V1__LEAK_CHANGE__WHAT__WHAT_##x

static char store[] = "/tmp/ckpt-manifest-XXXXXX";

static char *py_argv[] = { "python3", "-c", "print(\"hi\")" };

/* A checkpoint of one process, without options, stats, output pipes or leak report. */
static void small_checkpoint(Checkpoint *c, CheckpointProcess *p, CheckpointProcess **pp)
{
	checkpoint__helper__v1__checkpoint__init(c);
	checkpoint__helper__v1__checkpoint_process__init(p);
	p->pid = 5;
	p->ppid = 1;
	p->comm = "py";
	p->cmdline = py_argv;
	p->n_cmdline = ARRAY_SIZE(py_argv);
	p->start_ticks = 18446744073709551615ull;	/* all 64 bits written */
	*pp = p;
	c->manifest_version = MANIFEST_VERSION;
	c->id = "x";
	c->name = "na\"me";
	c->created_unix_ms = 1767358800123ull;
	c->root_pid = 5;
	c->processes = pp;
	c->n_processes = 1;
	c->criu_version = "4.1.1";
	c->path = "/s/x";
	c->size_bytes = 10;
	c->hostname = "h";
	c->kernel_release = "k";
	c->helper_version = "v";
}

/* Every field, in its order: what the defaults of absent options and stats read as. */
static const char small_json[] =
	"{\n"
	"  \"manifest_version\": 1,\n"
	"  \"id\": \"x\",\n"
	"  \"name\": \"na\\\"me\",\n"
	"  \"created_unix_ms\": 1767358800123,\n"
	"  \"root_pid\": 5,\n"
	"  \"processes\": [\n"
	"    {\"pid\": 5, \"ppid\": 1, \"comm\": \"py\", \"cmdline\": [\"python3\", \"-c\", \"print(\\\"hi\\\")\"], \"start_ticks\": 18446744073709551615}\n"
	"  ],\n"
	"  \"criu_version\": \"4.1.1\",\n"
	"  \"leave_running\": false,\n"
	"  \"options\": {\"tcp_established\": false, \"ext_unix_sk\": false, \"shell_job\": false, "
	"\"file_locks\": false, \"external\": []},\n"
	"  \"stats\": {\"freezing_time_us\": 0, \"frozen_time_us\": 0, \"memdump_time_us\": 0, "
	"\"memwrite_time_us\": 0, \"pages_scanned\": 0, \"pages_skipped_parent\": 0, \"pages_written\": 0, "
	"\"pages_lazy\": 0, \"criu_wall_time_us\": 0},\n"
	"  \"path\": \"/s/x\",\n"
	"  \"size_bytes\": 10,\n"
	"  \"hostname\": \"h\",\n"
	"  \"kernel_release\": \"k\",\n"
	"  \"helper_version\": \"v\"\n"
	"}\n";

/* manifest.json of c, whole (malloc'd). */
static char *json_of(const Checkpoint *c)
{
	struct sbuf b = { 0 };

	CHECK_INT(manifest_json(c, &b), ==, 0);
	return b.p;
}

/* The next line of *s, without its newline (arena); NULL at the end. */
static const char *next_line(const char **s)
{
	const char *nl, *line;

	if (!*s || !**s)
		return NULL;
	nl = strchr(*s, '\n');
	line = nl ? arena_printf("%.*s", (int)(nl - *s), *s) : arena_strdup(*s);
	*s = nl ? nl + 1 : NULL;
	return line;
}

/* got is want, line for line: a failure names the line that differs. */
static void check_lines(const char *got, const char *want)
{
	const char *g, *w;
	int n = 0;

	CHECK(got != NULL);
	do {
		g = next_line(&got);
		w = next_line(&want);
		test_case("line %d", ++n);
		CHECK_STR(g, ==, w);
	} while (g && w);
}

static void test_json_small(void)
{
	CheckpointProcess p, *pp;
	Checkpoint c;
	char *json;

	test_case("one process, no leak report");
	small_checkpoint(&c, &p, &pp);
	json = json_of(&c);
	check_lines(json, small_json);
	free(json);

	test_case("no process");
	c.n_processes = 0;
	json = json_of(&c);
	CHECK_CONTAINS(json, "\"processes\": [],\n  \"criu_version\"");
	CHECK(!strstr(json, "\"leaks\""));
	CHECK(!strstr(json, "\"output_pipes\""));
	free(json);
}

/* ---- a checkpoint with everything, a leak report too (arena) ------------- */

static LeakHolder *holder(int pid, const char *comm, const char *how)
{
	LeakHolder *h = arena_alloc(sizeof(*h));

	checkpoint__helper__v1__leak_holder__init(h);
	h->pid = pid;
	h->comm = (char *)comm;
	h->how = (char *)how;
	return h;
}

static Leak *leak(int kind, const char *resource, int policy, int default_policy)
{
	Leak *l = arena_alloc(sizeof(*l));

	checkpoint__helper__v1__leak__init(l);
	l->kind = kind;
	l->resource = (char *)resource;
	l->summary = "s";
	l->policy = policy;
	l->default_policy = default_policy;
	return l;
}

static LeakRule *rule(int kind, const char *resource, int policy)
{
	LeakRule *r = arena_alloc(sizeof(*r));

	checkpoint__helper__v1__leak_rule__init(r);
	r->kind = kind;
	r->resource = (char *)resource;
	r->policy = policy;
	return r;
}

static LeakChange *change(What what, Leak *l, const char *detail)
{
	LeakChange *c = arena_alloc(sizeof(*c));

	checkpoint__helper__v1__leak_change__init(c);
	c->what = what;
	c->leak = l;
	c->detail = (char *)detail;
	return c;
}

/* n pointers, in an arena array. */
static void **ptrs(size_t n, ...)
{
	void **v = arena_alloc(n * sizeof(*v));
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		v[i] = va_arg(ap, void *);
	va_end(ap);
	return v;
}

/* Two leaks (one with every field), two rules, a change of each kind. */
static LeakReport *leak_report(void)
{
	LeakReport *r = arena_alloc(sizeof(*r));
	Leak *pipe = leak(LK(PIPE), "pipe:[123]", LP(WARN), LP(FAIL));
	Leak *uts = leak(LK(UTS_NS), "uts:[4026531838]", LP(IGNORE), LP(WARN));

	checkpoint__helper__v1__leak_report__init(r);
	pipe->summary = "a pipe to \"cat\"";
	pipe->n_inside = 1;
	pipe->inside = (LeakHolder **)ptrs(1, holder(7, "a", "fd 3"));
	pipe->n_outside = 1;
	pipe->outside = (LeakHolder **)ptrs(1, holder(9, "cat", "fd 0"));
	pipe->outside_count = 2;
	pipe->risk = "r";
	pipe->criu = "c";
	pipe->policy_note = "as asked";
	pipe->host_own = true;
	r->n_policy = 2;
	r->policy = (LeakRule **)ptrs(2, rule(LK(TCP), "tcp 127.0.0.1:1 -> 127.0.0.1:2", LP(SAVE)),
				      rule(LK(PIPE), "", LP(WARN)));
	r->n_leaks = 2;
	r->leaks = (Leak **)ptrs(2, pipe, uts);
	r->rescanned = true;
	r->rescan_problem = "pid 9 gone";
	r->n_changes = 3;
	r->changes = (LeakChange **)ptrs(3, change(WHAT(APPEARED), pipe, "d1"), change(WHAT(VANISHED), uts, "d2"),
					 change(WHAT(HOLDERS_CHANGED), NULL, "d3"));
	return r;
}

/* The end of manifest.json of a checkpoint with output pipes and leak_report(). */
static const char report_json[] =
	"  \"output_pipes\": {\"stdout_pipe_id\": 11, \"stderr_pipe_id\": 12},\n"
	"  \"leaks\": {\"policy\": [{\"kind\": \"tcp\", \"resource\": \"tcp 127.0.0.1:1 -> 127.0.0.1:2\", "
	"\"policy\": \"save\"}, {\"kind\": \"pipe\", \"policy\": \"warn\"}],\n"
	"    \"leaks\": [\n"
	"      {\"kind\": \"pipe\", \"resource\": \"pipe:[123]\", \"summary\": \"a pipe to \\\"cat\\\"\", "
	"\"inside\": [{\"pid\": 7, \"comm\": \"a\", \"how\": \"fd 3\"}], "
	"\"outside\": [{\"pid\": 9, \"comm\": \"cat\", \"how\": \"fd 0\"}], \"outside_count\": 2, "
	"\"risk\": \"r\", \"criu\": \"c\", \"policy\": \"warn\", \"default_policy\": \"fail\", "
	"\"policy_note\": \"as asked\", \"host_own\": true},\n"
	"      {\"kind\": \"uts-ns\", \"resource\": \"uts:[4026531838]\", \"summary\": \"s\", \"inside\": [], "
	"\"outside\": [], \"outside_count\": 0, \"risk\": \"\", \"criu\": \"\", \"policy\": \"ignore\", "
	"\"default_policy\": \"warn\"}],\n"
	"    \"rescanned\": true, \"rescan_problem\": \"pid 9 gone\",\n"
	"    \"changes\": [\n"
	"      {\"what\": \"appeared\", \"kind\": \"pipe\", \"resource\": \"pipe:[123]\", \"detail\": \"d1\"},\n"
	"      {\"what\": \"vanished\", \"kind\": \"uts-ns\", \"resource\": \"uts:[4026531838]\", "
	"\"detail\": \"d2\"},\n"
	"      {\"what\": \"holders changed\", \"kind\": \"\", \"resource\": \"\", \"detail\": \"d3\"}]}\n"
	"}\n";

/* small_checkpoint with options, stats, output pipes and leak_report(), as ID in the store (arena). */
static Checkpoint *full_checkpoint(void)
{
	Checkpoint *c = arena_alloc(sizeof(*c));
	CheckpointProcess *p = arena_alloc(sizeof(*p)), **pp = arena_alloc(sizeof(*pp));
	DumpOptions *o = arena_alloc(sizeof(*o));
	DumpStats *s = arena_alloc(sizeof(*s));
	OutputPipes *op = arena_alloc(sizeof(*op));

	small_checkpoint(c, p, pp);
	checkpoint__helper__v1__dump_options__init(o);
	checkpoint__helper__v1__dump_stats__init(s);
	checkpoint__helper__v1__output_pipes__init(op);
	o->shell_job = true;
	o->external = (char **)ptrs(2, "mnt[/data]:data", "dev[\"x\"]");
	o->n_external = 2;
	s->pages_written = 77;
	s->criu_wall_time_us = 5678;
	op->stdout_pipe_id = 11;
	op->stderr_pipe_id = 12;
	c->id = ID;
	c->path = arena_printf("%s/%s", store, ID);
	c->leave_running = true;
	c->options = o;
	c->stats = s;
	c->output_pipes = op;
	c->leaks = leak_report();
	return c;
}

static void test_json_report(void)
{
	Checkpoint *c = full_checkpoint();
	LeakReport empty = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	char *json = json_of(c);

	test_case("with a leak report");
	CHECK_CONTAINS(json, "\n  \"leave_running\": true,\n");
	CHECK_CONTAINS(json, "\n  \"options\": {\"tcp_established\": false, \"ext_unix_sk\": false, "
		       "\"shell_job\": true, \"file_locks\": false, "
		       "\"external\": [\"mnt[/data]:data\", \"dev[\\\"x\\\"]\"]},\n");
	CHECK_CONTAINS(json, "\"pages_written\": 77, \"pages_lazy\": 0, \"criu_wall_time_us\": 5678}");
	CHECK_CONTAINS(json, "\n  \"helper_version\": \"v\",\n  \"output_pipes\"");
	check_lines(strstr(json, "  \"output_pipes\""), report_json);
	free(json);

	test_case("with an empty leak report");
	c->leaks = &empty;
	json = json_of(c);
	CHECK(str_ends_with(json, "\n  \"leaks\": {\"policy\": [],\n    \"leaks\": [],\n    \"rescanned\": false,\n"
			    "    \"changes\": []}\n}\n"));
	free(json);
}

/* Where a debugger held the tree: after the output pipes, before the leaks; its words escaped. */
static void test_json_debugger_stop(void)
{
	Checkpoint *c = full_checkpoint();
	DebuggerStop stop = CHECKPOINT__HELPER__V1__DEBUGGER_STOP__INIT;
	char *json;

	test_case("stopped in a debugger");
	stop.pid = 40;
	stop.tid = 42;
	stop.reason = "breakpoint";
	stop.location = "advance (\"debuggee.c\":30)";
	c->debugger_stop = &stop;
	json = json_of(c);
	CHECK_CONTAINS(json, "\"stderr_pipe_id\": 12},\n  \"debugger_stop\": {\"pid\": 40, \"tid\": 42, "
		       "\"reason\": \"breakpoint\", \"location\": \"advance (\\\"debuggee.c\\\":30)\"},\n  \"leaks\"");
	free(json);
	test_case("not stopped in a debugger");
	c->debugger_stop = NULL;
	json = json_of(c);
	CHECK(!strstr(json, "debugger_stop"));
	free(json);
}

/* ---- on disk ------------------------------------------------------------- */

/* A new checkpoint directory <store>/<id>, open. */
static int checkpoint_dir(const char *id)
{
	const char *path = arena_printf("%s/%s", store, id);

	CHECK_INT(mkdir(path, 0700), ==, 0);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* c packed, as manifest.pb holds it (arena). */
static uint8_t *packed(const Checkpoint *c, size_t *len)
{
	uint8_t *pb;

	*len = checkpoint__helper__v1__checkpoint__get_packed_size(c);
	pb = arena_alloc(*len);
	checkpoint__helper__v1__checkpoint__pack(c, pb);
	return pb;
}

/* got is want, field for field: they pack to the same bytes. */
static void check_same(const Checkpoint *got, const Checkpoint *want)
{
	size_t got_len = 0, want_len;
	const uint8_t *w = packed(want, &want_len), *g = got ? packed(got, &got_len) : NULL;

	CHECK(got != NULL);
	CHECK_UINT(got_len, ==, want_len);
	CHECK(g && got_len == want_len && !memcmp(g, w, want_len));
}

/* The checkpoint open at dirfd has exactly the manifest of c: manifest.pb, manifest.json (0600), nothing else. */
static void check_on_disk(int dirfd, const Checkpoint *c)
{
	struct herr e = { 0 };
	char *json = json_of(c), *disk = NULL;
	struct stat st = { 0 };

	check_same(manifest_read_at(dirfd, store, c->id, &e), c);
	CHECK_INT(read_file_at(dirfd, "manifest.json", &disk, NULL, 1 << 20), ==, 0);
	CHECK_STR(disk, ==, json);
	CHECK_INT(fstatat(dirfd, "manifest.pb", &st, 0), ==, 0);
	CHECK_UINT(st.st_mode & 07777, ==, 0600);
	CHECK_INT(fstatat(dirfd, "manifest.json", &st, 0), ==, 0);
	CHECK_UINT(st.st_mode & 07777, ==, 0600);
	CHECK_UINT(dir_size(arena_printf("%s/%s", store, c->id)), ==,
		   checkpoint__helper__v1__checkpoint__get_packed_size(c) + strlen(json));
	free(json);
	free(disk);
}

/* Written, then read back by path and by directory: the same checkpoint. */
static void test_write_read(void)
{
	Checkpoint *c = full_checkpoint();
	struct herr e = { 0 };
	int dirfd = checkpoint_dir(ID);

	test_case("written and read");
	CHECK_OK(manifest_write(dirfd, c, &e), &e);
	check_on_disk(dirfd, c);
	check_same(manifest_read(store, ID, &e), c);
	test_case("replaced, and what a writer killed between its writes and renames left is removed");
	CHECK_INT(write_file_at(dirfd, ".manifest.pb.00112233aabbccdd.tmp", "half", 4), ==, 0);
	CHECK_INT(write_file_at(dirfd, ".manifest.json.00112233aabbccdd.tmp", "half", 4), ==, 0);
	c->name = "renamed";
	c->leaks = NULL;
	CHECK_OK(manifest_write(dirfd, c, &e), &e);
	check_on_disk(dirfd, c);
	check_same(manifest_read(store, ID, &e), c);
	close(dirfd);
}

/*
 * manifest_write where manifest.pb is a symbolic link (replaced, never
 * written through), or manifest.json a directory (the file is named, and why).
 */
static void test_write_fails(void)
{
	Checkpoint *c = full_checkpoint();
	struct herr e = { 0 };
	struct stat st;
	int dirfd;

	test_case("manifest.pb a symbolic link: the link is replaced, its target not written");
	dirfd = checkpoint_dir("linked-pb");
	CHECK_INT(symlinkat("elsewhere", dirfd, "manifest.pb"), ==, 0);
	CHECK_OK(manifest_write(dirfd, c, &e), &e);
	CHECK_INT(fstatat(dirfd, "manifest.pb", &st, AT_SYMLINK_NOFOLLOW), ==, 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(fstatat(dirfd, "elsewhere", &st, 0), ==, -1);
	close(dirfd);

	test_case("manifest.json a directory");
	dirfd = checkpoint_dir("dir-json");
	CHECK_INT(mkdirat(dirfd, "manifest.json", 0700), ==, 0);
	CHECK_INT(manifest_write(dirfd, c, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(INTERNAL));
	CHECK_INT(e.errnum, ==, EISDIR);
	CHECK_STR(e.msg, ==, arena_printf("cannot replace manifest.json of checkpoint %s: %s", c->id, strerror(EISDIR)));
	test_case("no temporary file left, no manifest.pb written");
	CHECK_INT(dir_entries(arena_printf("%s/dir-json", store)), ==, 1);
	close(dirfd);
}

/* manifest_write with files limited to limit bytes (SIGXFSZ ignored). */
static int replace_limited(int dirfd, const Checkpoint *c, rlim_t limit, struct herr *e)
{
	struct rlimit saved, lim;
	void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
	int ret;

	CHECK_INT(getrlimit(RLIMIT_FSIZE, &saved), ==, 0);
	lim = saved;
	lim.rlim_cur = limit;
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), ==, 0);
	ret = manifest_write(dirfd, c, e);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &saved), ==, 0);
	signal(SIGXFSZ, old);
	return ret;
}

/*
 * The new manifest.pb cannot be written, or it can and manifest.json
 * cannot: either way the old manifest stays whole, and no temporary file.
 */
static void test_replace_fails(void)
{
	Checkpoint *old = full_checkpoint(), *next = full_checkpoint();
	struct herr e = { 0 };
	int dirfd = checkpoint_dir("kept");
	size_t pb_len;
	char *next_json;

	old->id = next->id = "kept";
	/* as a read says them: the directory's */
	old->path = next->path = arena_printf("%s/kept", store);
	next->name = "a longer name than before";
	next_json = json_of(next);
	pb_len = checkpoint__helper__v1__checkpoint__get_packed_size(next);
	test_case("the old manifest");
	CHECK_OK(manifest_write(dirfd, old, &e), &e);
	CHECK_UINT(strlen(next_json), >, pb_len + 1);	/* a limit between the two sizes */
	for (int i = 0; i < 2; i++) {
		test_case("%s cannot be written", i ? "manifest.json" : "manifest.pb");
		memset(&e, 0, sizeof(e));
		CHECK_INT(replace_limited(dirfd, next, i ? pb_len + 1 : pb_len - 1, &e), ==, -1);
		CHECK_INT(e.code, ==, EC(INTERNAL));
		CHECK_INT(e.errnum, ==, EFBIG);
		CHECK_STR(e.msg, ==, arena_printf("cannot write the new manifest of checkpoint kept: %s",
						  strerror(EFBIG)));
		check_on_disk(dirfd, old);
	}
	free(next_json);
	close(dirfd);
}

/* A manifest.pb that does not decode: refused in words, by path and by directory. */
static void test_read_garbage(void)
{
	size_t len;
	const uint8_t *pb = packed(full_checkpoint(), &len);
	const struct { const char *what; const void *data; size_t len; } bad[] = {
		{ "cut by a byte", pb, len - 1 },
		{ "cut in half", pb, len / 2 },
		{ "0xff bytes", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12 },
		{ "a string longer than the file", "\x0a\x7f" "abc", 5 },
		{ "text", "{\"id\": \"x\"}\n", 13 },
	};
	int dirfd = checkpoint_dir("garbage");
	const char *want = "the manifest of checkpoint garbage cannot be decoded";
	struct herr e;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		test_case("%s", bad[i].what);
		CHECK_INT(write_file_at(dirfd, "manifest.pb", bad[i].data, bad[i].len), ==, 0);
		memset(&e, 0, sizeof(e));
		CHECK(manifest_read(store, "garbage", &e) == NULL);
		CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
		CHECK_INT(e.errnum, ==, EINVAL);
		CHECK_STR(e.msg, ==, want);
		memset(&e, 0, sizeof(e));
		CHECK(manifest_read_at(dirfd, store, "garbage", &e) == NULL);
		CHECK_STR(e.msg, ==, want);
	}
	close(dirfd);
}

/* What is not a regular file in manifest.pb's place is damage, said at once: a FIFO does not block, /dev/zero does not fill memory. */
static void test_not_regular(int dirfd)
{
	static const char *const kinds[] = { "a directory", "a FIFO", "a link to /dev/zero" };
	struct herr e = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		test_case("manifest.pb %s", kinds[i]);
		unlinkat(dirfd, "manifest.pb", i == 1 ? AT_REMOVEDIR : 0);
		if (i == 0)
			CHECK_INT(mkdirat(dirfd, "manifest.pb", 0700), ==, 0);
		else if (i == 1)
			CHECK_INT(mkfifoat(dirfd, "manifest.pb", 0600), ==, 0);
		else
			CHECK_INT(symlinkat("/dev/zero", dirfd, "manifest.pb"), ==, 0);
		CHECK(manifest_read(store, "bare", &e) == NULL);
		CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
		CHECK_STR(e.msg, ==, arena_printf("the manifest of checkpoint bare in %s is not a regular file (a link, "
						  "a FIFO or a device in its place): the checkpoint is damaged", store));
		CHECK(manifest_read_at(dirfd, store, "bare", &e) == NULL);
		CHECK_CONTAINS(e.msg, "is not a regular file");
	}
}

/* No checkpoint, one without a manifest, one whose manifest cannot be read. */
static void test_read_missing(void)
{
	struct herr e = { 0 };
	int dirfd;

	test_case("no checkpoint");
	CHECK(manifest_read(store, "nope", &e) == NULL);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	CHECK_INT(e.errnum, ==, ENOENT);
	CHECK_STR(e.msg, ==, arena_printf("no checkpoint nope in %s", store));

	test_case("no manifest");
	dirfd = checkpoint_dir("bare");
	CHECK(manifest_read(store, "bare", &e) == NULL);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	CHECK_STR(e.msg, ==, arena_printf("cannot read the manifest of checkpoint bare in %s: %s", store,
					  strerror(ENOENT)));
	memset(&e, 0, sizeof(e));
	CHECK(manifest_read_at(dirfd, store, "bare", &e) == NULL);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	CHECK_INT(e.errnum, ==, ENOENT);

	test_not_regular(dirfd);
	close(dirfd);
}


/* A manifest.pb over 16 MiB is not read at all. */
static void test_read_too_big(void)
{
	struct herr e = { 0 };
	int dirfd = checkpoint_dir("huge"), fd;

	test_case("16 MiB and a byte");
	fd = openat(dirfd, "manifest.pb", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK_INT(ftruncate(fd, (16 << 20) + 1), ==, 0);
	close(fd);
	CHECK(manifest_read(store, "huge", &e) == NULL);
	CHECK_INT(e.code, ==, EC(INTERNAL));
	CHECK_INT(e.errnum, ==, EFBIG);
	CHECK_CONTAINS(e.msg, "cannot read the manifest of checkpoint huge");
	close(dirfd);
}

/* The process at the checkpoint's root pid; none when the list lacks it. */
static void test_root_process(void)
{
	CheckpointProcess p, *pp;
	Checkpoint c;

	test_case("checkpoint_root_process");
	small_checkpoint(&c, &p, &pp);
	CHECK(checkpoint_root_process(&c) == &p);
	c.root_pid = 6;
	CHECK(checkpoint_root_process(&c) == NULL);
	c.n_processes = 0;
	CHECK(checkpoint_root_process(&c) == NULL);
}

TEST_GROUP(manifest)
{
	test_json_small();
	test_json_report();
	test_json_debugger_stop();
	test_root_process();
	CHECK(mkdtemp(store) != NULL);
	test_write_read();
	test_write_fails();
	test_replace_fails();
	test_read_garbage();
	test_read_missing();
	test_read_too_big();
	test_case("cleaned up");
	CHECK_INT(remove_tree(store), ==, 0);
}
