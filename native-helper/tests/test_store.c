/* SPDX-License-Identifier: MIT */
/* Tests of store.c: ids; the store made, listed, opened, deleted from; rename through the service; pruning. */
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
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "fileio.h"
#include "manifest.h"
#include "store.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

static void test_ids(void)
{
	static const struct { const char *what, *id; bool want; } cases[] = {
		{ "a dump's id", "20260101-120000-ab12", true },
		{ "every kind of character", "a.b_c-D9", true },
		{ "one character", "x", true },
		{ "a partial dump", "x.partial", true },
		{ "empty", "", false },
		{ "NULL", NULL, false },
		{ "hidden", ".hidden", false },
		{ "..", "..", false },
		{ "a slash", "a/b", false },
		{ "a parent", "../etc", false },
		{ "a space", "a b", false },
		{ "a newline", "a\nb", false },
		{ "a colon", "a:b", false },
		{ "UTF-8", "\xc3\xa9", false },
	};
	char long_id[MAX_ID_LEN + 2];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("%s", cases[i].what);
		CHECK_INT(valid_checkpoint_id(cases[i].id), ==, cases[i].want);
	}
	test_case("%d characters", MAX_ID_LEN);
	memset(long_id, 'a', MAX_ID_LEN);
	long_id[MAX_ID_LEN] = '\0';
	CHECK(valid_checkpoint_id(long_id));
	test_case("%d characters", MAX_ID_LEN + 1);
	long_id[MAX_ID_LEN] = 'a';
	long_id[MAX_ID_LEN + 1] = '\0';
	CHECK(!valid_checkpoint_id(long_id));
}

/* ---- the store on disk ------------------------------------------------------ */

static char list_store[] = "/tmp/ckpt-list-XXXXXX";

/* <list_store>/<dir> with a manifest of checkpoint id, created at ms. */
static void put_checkpoint(const char *dir, const char *id, uint64_t ms)
{
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	const char *path = arena_printf("%s/%s", list_store, dir);
	struct herr e = { 0 };
	int fd;

	c.id = (char *)id;
	c.created_unix_ms = ms;
	c.root_pid = 7;
	CHECK_INT(mkdir(path, 0700), ==, 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_OK(manifest_write(fd, &c, &e), &e);
	close(fd);
}

/* The ids store_list gives, in its order, a space between ("" when none; arena). */
static const char *listed(const char *store)
{
	ListResult res = CHECKPOINT__HELPER__V1__LIST_RESULT__INIT;
	struct herr e = { 0 };
	const char *ids = "";

	CHECK_OK(store_list(store, &res, &e), &e);
	/* a damaged one ("!": its manifest cannot be read) first: no time is known of it */
	for (size_t i = 0; i < res.n_checkpoints; i++)
		ids = arena_printf("%s%s%s%s", ids, i ? " " : "", res.checkpoints[i]->id,
				   res.checkpoints[i]->damaged[0] ? "!" : "");
	return ids;
}

/* Checkpoint id of the list store is listed as damaged, its reason holding why, its path its directory. */
static void check_damaged(const char *id, const char *why)
{
	ListResult res = CHECKPOINT__HELPER__V1__LIST_RESULT__INIT;
	struct herr e = { 0 };
	const Checkpoint *c = NULL;

	CHECK_OK(store_list(list_store, &res, &e), &e);
	for (size_t i = 0; i < res.n_checkpoints; i++)
		if (!strcmp(res.checkpoints[i]->id, id))
			c = res.checkpoints[i];
	CHECK_CONTAINS(c ? c->damaged : "", why);
	CHECK_STR(c ? c->path : NULL, ==, arena_printf("%s/%s", list_store, id));
}

/* An error e with this code, errno and message. */
static void check_err(const struct herr *e, int code, int errnum, const char *msg)
{
	CHECK_INT(e->code, ==, code);
	CHECK_INT(e->errnum, ==, errnum);
	CHECK_STR(e->msg, ==, msg);
}

/* <top>/<rel> is a directory of mode 0700. */
static void check_private_dir(const char *top, const char *rel)
{
	struct stat st = { 0 };

	CHECK_INT(stat(arena_printf("%s/%s", top, rel), &st), ==, 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_UINT(st.st_mode & 07777, ==, 0700);
}

/* Made 0700 with its parents, made private when it is not, refused when it is not a directory. */
static void test_prepare(void)
{
	char top[] = "/tmp/ckpt-prepare-XXXXXX";
	struct herr e = { 0 };
	const char *path;

	CHECK(mkdtemp(top) != NULL);
	test_case("a new store");
	CHECK_OK(store_prepare(arena_printf("%s/a/b/store", top), &e), &e);
	check_private_dir(top, "a");
	check_private_dir(top, "a/b/store");
	test_case("a store open to all");
	CHECK_INT(chmod(arena_printf("%s/a/b/store", top), 0755), ==, 0);
	CHECK_OK(store_prepare(arena_printf("%s/a/b/store", top), &e), &e);
	check_private_dir(top, "a/b/store");
	test_case("a file");
	path = arena_printf("%s/file", top);
	CHECK_INT(write_file_at(AT_FDCWD, path, "x", 1), ==, 0);
	CHECK_INT(store_prepare(path, &e), ==, -1);
	check_err(&e, EC(INTERNAL), ENOTDIR, arena_printf("the checkpoint store %s is not a directory", path));
	test_case("under a file");
	path = arena_printf("%s/file/store", top);
	CHECK_INT(store_prepare(path, &e), ==, -1);
	check_err(&e, EC(INTERNAL), ENOTDIR,
		  arena_printf("cannot create the checkpoint store %s: %s", path, strerror(ENOTDIR)));
	CHECK_INT(remove_tree(top), ==, 0);
}
/*
 * The finished checkpoints, oldest first and by id at the same time; not
 * a dump's .partial, a hidden or invalid name, a directory without a
 * manifest or with one that does not decode, a file.
 */
static void test_list(void)
{
	const char *not_listed[] = { "d.partial", ".hidden", "bad name" };

	test_case("the store made");
	put_checkpoint("c", "c", 300);
	put_checkpoint("a", "a", 100);
	/* three at the same time: their order is the ids', not the directory's */
	put_checkpoint("b1", "b1", 200);
	put_checkpoint("b2", "b2", 200);
	put_checkpoint("b3", "b3", 200);
	for (size_t i = 0; i < ARRAY_SIZE(not_listed); i++)
		put_checkpoint(not_listed[i], "d", 50);
	/* a copy of a's directory: its own checkpoint, named by its directory, not by what its manifest says */
	put_checkpoint("a-copy", "a", 100);
	CHECK_INT(mkdir(arena_printf("%s/bare", list_store), 0700), ==, 0);
	CHECK_INT(mkdir(arena_printf("%s/garbage", list_store), 0700), ==, 0);
	CHECK_INT(write_file_at(AT_FDCWD, arena_printf("%s/garbage/manifest.pb", list_store), "\xff\xff", 2), ==, 0);
	CHECK_INT(write_file_at(AT_FDCWD, arena_printf("%s/file", list_store), "x", 1), ==, 0);
	test_case("listed: a directory whose manifest cannot be read is listed as damaged, with why");
	CHECK_STR(listed(list_store), ==, "bare! garbage! a a-copy b1 b2 b3 c");
	check_damaged("bare", "cannot read the manifest of checkpoint bare in");
	check_damaged("garbage", "the manifest of checkpoint garbage cannot be decoded");
	test_case("no store yet");
	CHECK_STR(listed(arena_printf("%s/absent", list_store)), ==, "");
	test_case("a store with no checkpoint, only the logs");
	CHECK_INT(mkdir_p(arena_printf("%s/empty/.logs", list_store), 0700), ==, 0);
	CHECK_STR(listed(arena_printf("%s/empty", list_store)), ==, "");
}

/* A store that cannot be read (a file) is an error, not an empty list. */
static void test_list_fails(void)
{
	ListResult res = CHECKPOINT__HELPER__V1__LIST_RESULT__INIT;
	const char *path = arena_printf("%s/file", list_store);
	struct herr e = { 0 };

	test_case("a file as the store");
	CHECK_INT(store_list(path, &res, &e), ==, -1);
	check_err(&e, EC(INTERNAL), ENOTDIR,
		  arena_printf("cannot read the checkpoint store %s: %s", path, strerror(ENOTDIR)));
	CHECK_UINT(res.n_checkpoints, ==, 0);
}

/*
 * A checkpoint's directory, and what is not one: a symbolic link to one
 * (O_DIRECTORY sees the link itself: ENOTDIR), a file, nothing.
 */
static void test_open(void)
{
	static const struct { const char *id; int errnum; } refused[] = {
		{ "linked", ENOTDIR }, { "file", ENOTDIR }, { "nope", ENOENT },
	};
	int fds = count_fds(), fd;
	struct herr e = { 0 };
	struct stat st = { 0 };

	test_case("a checkpoint");
	fd = checkpoint_open(list_store, "a", &e);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(fstat(fd, &st), ==, 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(faccessat(fd, "manifest.pb", F_OK, 0), ==, 0);
	close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		test_case("%s", refused[i].id);
		CHECK_INT(checkpoint_open(list_store, refused[i].id, &e), ==, -1);
		check_err(&e, EC(NOT_FOUND), refused[i].errnum,
			  arena_printf("no checkpoint %s in %s", refused[i].id, list_store));
	}
	CHECK_INT(count_fds(), ==, fds);
}

/* Gone whole, and from the list; what is not a checkpoint directory is left as it is. */
static void test_delete(void)
{
	static const char *refused[] = { "nope", "linked", "file" };
	struct herr e = { 0 };
	struct stat st;

	test_case("a checkpoint");
	CHECK_INT(mkdir(arena_printf("%s/c/sub", list_store), 0700), ==, 0);
	CHECK_INT(write_file_at(AT_FDCWD, arena_printf("%s/c/sub/pages-1.img", list_store), "p", 1), ==, 0);
	CHECK_OK(store_delete(list_store, "c", &e), &e);
	CHECK_INT(lstat(arena_printf("%s/c", list_store), &st), ==, -1);
	CHECK_STR(listed(list_store), ==, "bare! empty! garbage! a a-copy b1 b2 b3");
	CHECK_INT(symlink("a", arena_printf("%s/linked", list_store)), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		test_case("%s", refused[i]);
		CHECK_INT(store_delete(list_store, refused[i], &e), ==, -1);
		check_err(&e, EC(NOT_FOUND), ENOENT, arena_printf("no checkpoint %s in %s", refused[i], list_store));
	}
	test_case("what was refused is there");
	CHECK_INT(lstat(arena_printf("%s/linked", list_store), &st), ==, 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK_INT(lstat(arena_printf("%s/file", list_store), &st), ==, 0);
	CHECK_INT(lstat(arena_printf("%s/a/manifest.pb", list_store), &st), ==, 0);
}

static void test_store_dir(void)
{
	CHECK(mkdtemp(list_store) != NULL);
	test_list();
	test_list_fails();
	test_delete();
	test_open();
	test_case("cleaned up");
	CHECK_INT(remove_tree(list_store), ==, 0);
}

/* ---- rename, through handle_request on a temp store ----------------------- */

#define RN_ID "20260102-130000-cd34"

static char rename_store[] = "/tmp/ckpt-rename-XXXXXX";

/* A manifest with every field set, as a dump of a launched program writes it. */
struct manifest_fixture {
	Checkpoint c;
	CheckpointProcess p[2], *pp[2];
	DumpOptions options;
	DumpStats stats;
	OutputPipes pipes;
	char path[4400];
};

static char *fixture_argv[] = { "/opt/workload", "family", "/tmp/w" };

static char *fixture_external[] = { "mnt[/data]:data" };

static void fixture_init(struct manifest_fixture *f)
{
	checkpoint__helper__v1__checkpoint__init(&f->c);
	checkpoint__helper__v1__dump_options__init(&f->options);
	checkpoint__helper__v1__dump_stats__init(&f->stats);
	checkpoint__helper__v1__output_pipes__init(&f->pipes);
	for (int i = 0; i < 2; i++) {
		checkpoint__helper__v1__checkpoint_process__init(&f->p[i]);
		f->p[i].pid = 4242 + i;
		f->p[i].ppid = i ? 4242 : 1;
		f->p[i].comm = "workload";
		f->p[i].cmdline = fixture_argv;
		f->p[i].n_cmdline = ARRAY_SIZE(fixture_argv);
		f->pp[i] = &f->p[i];
	}
	f->options.tcp_established = f->options.file_locks = true;
	f->options.external = fixture_external;
	f->options.n_external = ARRAY_SIZE(fixture_external);
	f->stats.frozen_time_us = 1234;
	f->stats.pages_written = 77;
	f->stats.criu_wall_time_us = 5678;
	f->pipes.stdout_pipe_id = 11;
	f->pipes.stderr_pipe_id = 12;
	snprintf(f->path, sizeof(f->path), "%s/%s", rename_store, RN_ID);
	f->c.manifest_version = MANIFEST_VERSION;
	f->c.id = RN_ID;
	f->c.name = "before";
	f->c.created_unix_ms = 1767358800123ull;
	f->c.root_pid = 4242;
	f->c.processes = f->pp;
	f->c.n_processes = 2;
	f->c.criu_version = "4.1.1";
	f->c.leave_running = true;
	f->c.options = &f->options;
	f->c.stats = &f->stats;
	f->c.path = f->path;
	f->c.size_bytes = 123456;
	f->c.hostname = "target";
	f->c.kernel_release = "6.12.0";
	f->c.helper_version = "0.1.0";
	f->c.output_pipes = &f->pipes;
}

/* <rename_store>/<id>, made as a dump makes it, with the manifest of c. */
static void rename_checkpoint_setup(const char *id, const Checkpoint *c)
{
	char path[4400];
	struct herr e = { 0 };
	int fd;

	snprintf(path, sizeof(path), "%s/%s", rename_store, id);
	CHECK_INT(mkdir(path, 0700), ==, 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(write_file_at(fd, "pages-1.img", "pages", 5), ==, 0);
	CHECK_OK(manifest_write(fd, c, &e), &e);
	close(fd);
}

static HelperMessage *ask_rename(const char *id, const char *name)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;
	RenameRequest r = CHECKPOINT__HELPER__V1__RENAME_REQUEST__INIT;

	r.checkpoint_id = (char *)id;
	r.name = (char *)name;
	req.id = 61;
	req.op_case = CHECKPOINT__HELPER__V1__REQUEST__OP_RENAME;
	req.rename = &r;
	return roundtrip(&req);
}

static const Checkpoint *renamed(const HelperMessage *m)
{
	if (!m || !m->response || m->response->result_case != CHECKPOINT__HELPER__V1__RESPONSE__RESULT_RENAME ||
	    !m->response->rename)
		return NULL;
	return m->response->rename->checkpoint;
}

/* The error message of answer m, NULL when m is not an error. */
static const char *err_text(const HelperMessage *m)
{
	return err_code(m) >= 0 ? m->response->error->message : NULL;
}

/* m is an error with this code whose message holds words, and more when not NULL; m is freed. */
static void check_refused(HelperMessage *m, int code, const char *words, const char *more)
{
	CHECK_INT(err_code(m), ==, code);
	CHECK_CONTAINS(err_text(m), words);
	if (more)
		CHECK_CONTAINS(err_text(m), more);
	msg_free(m);
}

/* c as manifest.pb holds it (arena). */
static const uint8_t *packed(const Checkpoint *c, size_t *len)
{
	uint8_t *pb;

	*len = checkpoint__helper__v1__checkpoint__get_packed_size(c);
	pb = arena_alloc(*len);
	checkpoint__helper__v1__checkpoint__pack(c, pb);
	return pb;
}

/* file of checkpoint RN_ID holds exactly the len bytes of want, mode 0600. */
static void check_file(const char *file, const void *want, size_t len)
{
	const char *path = arena_printf("%s/%s/%s", rename_store, RN_ID, file);
	struct stat st = { 0 };
	char *buf = NULL;
	size_t n = 0;

	CHECK_INT(read_file(path, &buf, &n, 1 << 20), ==, 0);
	CHECK_UINT(n, ==, len);
	CHECK(buf && n == len && !memcmp(buf, want, len));
	CHECK_INT(stat(path, &st), ==, 0);
	CHECK_UINT(st.st_mode & 07777, ==, 0600);
	free(buf);
}

/* Both manifests of checkpoint RN_ID are exactly those of c, beside its image: no temporary file is left. */
static void check_manifest(const Checkpoint *c)
{
	size_t len;
	const uint8_t *pb = packed(c, &len);
	struct sbuf json = { 0 };

	CHECK_INT(manifest_json(c, &json), ==, 0);
	check_file("manifest.pb", pb, len);
	check_file("manifest.json", json.p, json.len);
	sbuf_free(&json);
	/* no temporary file is ever left behind */
	CHECK_INT(dir_entries(arena_printf("%s/%s", rename_store, RN_ID)), ==, 3);
}

/* The answer m's manifest is c, field for field (the same bytes); m is freed. */
static void check_answer(HelperMessage *m, const Checkpoint *c)
{
	const Checkpoint *got = renamed(m);
	size_t got_len = 0, want_len;
	const uint8_t *want = packed(c, &want_len), *have = got ? packed(got, &got_len) : NULL;

	CHECK(got != NULL);
	CHECK_STR(got ? got->name : NULL, ==, c->name);
	CHECK_UINT(got_len, ==, want_len);
	CHECK(have && got_len == want_len && !memcmp(have, want, want_len));
	msg_free(m);
}

static void test_rename(struct manifest_fixture *f)
{
	char longest[MAX_NAME_LEN + 1];
	const struct { const char *what; char *name; } names[] = {
		{ "a tab and UTF-8", "after\twith a tab, \xc3\xa9" },
		{ "256 bytes", longest },
		{ "empty: the name cleared", "" },
	};

	memset(longest, 'n', MAX_NAME_LEN);
	longest[MAX_NAME_LEN] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		test_case("%s", names[i].what);
		f->c.name = names[i].name;
		check_answer(ask_rename(RN_ID, names[i].name), &f->c);
		check_manifest(&f->c);
	}
}

/* A refused rename: what it asked, and what the error says. */
struct refusal {
	const char *what, *id, *name;
	int code;
	const char *words, *more;
};

static void test_rename_refused(const struct manifest_fixture *f)
{
	char too_long[MAX_NAME_LEN + 2];
	const struct refusal refused[] = {
		{ "id ../etc", "../etc", "x", EC(BAD_REQUEST), "invalid checkpoint id", NULL },
		{ "an empty id", "", "x", EC(BAD_REQUEST), "invalid checkpoint id", NULL },
		{ "id .hidden", ".hidden", "x", EC(BAD_REQUEST), "invalid checkpoint id", NULL },
		{ "id a/b", "a/b", "x", EC(BAD_REQUEST), "invalid checkpoint id", NULL },
		{ "id a b", "a b", "x", EC(BAD_REQUEST), "invalid checkpoint id", NULL },
		{ "an id of 65", "12345678901234567890123456789012345678901234567890123456789012345", "x",
		  EC(BAD_REQUEST), "invalid checkpoint id", NULL },
		{ "a name of 257 bytes", RN_ID, too_long, EC(BAD_REQUEST), "256 bytes", NULL },
		{ "a newline", RN_ID, "a\nb", EC(BAD_REQUEST), "control characters", NULL },
		{ "an escape sequence", RN_ID, "\x1b[31mred", EC(BAD_REQUEST), "control characters", NULL },
		{ "SOH", RN_ID, "nul\x01", EC(BAD_REQUEST), "control characters", NULL },
		{ "no such checkpoint", "nope", "x", EC(NOT_FOUND), "no checkpoint nope", NULL },
		/* a symlink to a checkpoint is not one */
		{ "a symbolic link", "linked", "x", EC(NOT_FOUND), "linked", NULL },
		{ "a directory without a manifest", "bare", "x", EC(NOT_FOUND), "bare", "manifest" },
		/* a dump still writing it: named by the directory, or by the id it will have */
		{ "a dump's .partial", "writing.partial", "x", EC(NOT_FOUND), "writing.partial",
		  "still being written" },
		{ "the id a dump will give", "writing", "x", EC(NOT_FOUND), "no checkpoint writing ",
		  "still being written" },
	};

	memset(too_long, 'n', MAX_NAME_LEN + 1);
	too_long[MAX_NAME_LEN + 1] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		test_case("%s", refused[i].what);
		check_refused(ask_rename(refused[i].id, refused[i].name), refused[i].code, refused[i].words,
			      refused[i].more);
	}
	test_case("after the refusals");
	check_manifest(&f->c);
}

/*
 * Writes that fail (root passes any permission check, but not a file size
 * limit): the new manifest.pb cannot be written, or it can and
 * manifest.json cannot. Either way the old manifest stays, and no
 * temporary file. The limit leaves room for the answer in the output file.
 */
static void test_rename_write_fails(const struct manifest_fixture *f)
{
	struct manifest_fixture next = *f;
	struct rlimit saved, lim;
	size_t pb_len;
	HelperMessage *m;

	next.c.name = "never";
	pb_len = checkpoint__helper__v1__checkpoint__get_packed_size(&next.c);
	test_case("a file size limit");
	CHECK_UINT(pb_len, >, 200);	/* above the size of the error answer */
	CHECK_INT(getrlimit(RLIMIT_FSIZE, &saved), ==, 0);
	signal(SIGXFSZ, SIG_IGN);
	for (int i = 0; i < 2; i++) {
		test_case("%s cannot be written", i ? "manifest.json" : "manifest.pb");
		lim.rlim_cur = i ? pb_len : pb_len - 1;
		lim.rlim_max = saved.rlim_max;
		CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), ==, 0);
		m = ask_rename(RN_ID, next.c.name);
		CHECK_INT(setrlimit(RLIMIT_FSIZE, &saved), ==, 0);
		CHECK_INT(err_code(m) >= 0 ? m->response->error->errno_value : -1, ==, EFBIG);
		check_refused(m, EC(INTERNAL), RN_ID, "manifest");
		check_manifest(&f->c);
	}
	signal(SIGXFSZ, SIG_DFL);
}

/* n entries in dir where a failed dump's log and a restore's work directory with its log alternate, oldest first. */
static void make_logs(const char *dir, int n)
{
	for (int i = 0; i < n; i++) {
		char *path = arena_printf("%s/20260101-0000%02d-abcd%s", dir, i, i % 2 ? "-dump.log" : "");

		test_case("log %d", i);
		if (i % 2) {
			CHECK_INT(write_file_at(AT_FDCWD, path, "", 0), ==, 0);
			continue;
		}
		CHECK_INT(mkdir(path, 0700), ==, 0);
		CHECK_INT(write_file_at(AT_FDCWD, arena_printf("%s/restore.log", path), "", 0), ==, 0);
	}
}

/* The entries of dir, sorted, a space between (arena). */
static const char *sorted_entries(const char *dir)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	const char *all = n < 0 ? "(none)" : "";

	for (int i = 0; i < n; i++) {
		all = arena_printf("%s%s%s", all, i ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return all;
}

/* The newest KEPT_LOGS logs and work directories stay; older ones go, files and directories alike. */
static void test_prune(void)
{
	char dir[] = "/tmp/ckpt-prune-XXXXXX";
	const char *want = ". .. .hidden";

	CHECK(mkdtemp(dir) != NULL);
	make_logs(dir, KEPT_LOGS + 5);
	for (int i = 5; i < KEPT_LOGS + 5; i++)	/* the oldest kept: 5 */
		want = arena_printf("%s 20260101-0000%02d-abcd%s", want, i, i % 2 ? "-dump.log" : "");
	test_case("%d kept of %d", KEPT_LOGS, KEPT_LOGS + 5);
	CHECK_INT(mkdir(arena_printf("%s/.hidden", dir), 0700), ==, 0);
	CHECK_INT(store_prune(dir, KEPT_LOGS), ==, 0);
	CHECK_STR(sorted_entries(dir), ==, want);
	test_case("none kept");
	CHECK_INT(store_prune(dir, 0), ==, 0);
	CHECK_STR(sorted_entries(dir), ==, ". .. .hidden");
	test_case("no directory, or a file");
	CHECK_INT(store_prune(arena_printf("%s/absent", dir), 1), ==, 0);
	CHECK_INT(write_file_at(AT_FDCWD, arena_printf("%s/file", dir), "x", 1), ==, 0);
	CHECK_INT(store_prune(arena_printf("%s/file", dir), 1), ==, -1);
	CHECK_INT(remove_tree(dir), ==, 0);
}

/* A temporary file of len bytes in dirfd, its name in tmp. */
static void put_temp(int dirfd, size_t len, char *tmp, size_t tmplen)
{
	char data[512] = { 0 };
	int fd = open_temp_at(dirfd, "core-1.elf", tmp, tmplen);

	CHECK_INT(fd, >=, 0);
	CHECK_INT(write_all(fd, data, len), ==, 0);
	close(fd);
}

static uint64_t size_of(const char *store, const char *id)
{
	Checkpoint *c = manifest_read(store, id, NULL);

	return c ? c->size_bytes : 0;
}

/* A file the helper adds to a checkpoint: in place, counted once in the manifest's size, replaced whole. */
static void test_put_file(void)
{
	char store[] = "/tmp/ckpt-put-XXXXXX", tmp[128];
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	struct herr e = { 0 };
	struct stat st;
	int dirfd;

	CHECK(mkdtemp(store) != NULL);
	c.id = "ck";
	c.root_pid = 5;
	c.size_bytes = 1000;
	CHECK_INT(checkpoint_put(store, "ck", &c), ==, 0);
	dirfd = checkpoint_open(store, "ck", &e);
	test_case("a new file: in place, counted");
	put_temp(dirfd, 300, tmp, sizeof(tmp));
	CHECK_OK(store_put_file(dirfd, store, "ck", tmp, "core-1.elf", &e), &e);
	CHECK_INT(fstatat(dirfd, tmp, &st, 0), ==, -1);
	CHECK_INT(fstatat(dirfd, "core-1.elf", &st, 0), ==, 0);
	CHECK_UINT(size_of(store, "ck"), ==, 1300);
	test_case("replaced by a smaller one: counted once");
	put_temp(dirfd, 100, tmp, sizeof(tmp));
	CHECK_OK(store_put_file(dirfd, store, "ck", tmp, "core-1.elf", &e), &e);
	CHECK_UINT(size_of(store, "ck"), ==, 1100);
	test_case("a checkpoint without a manifest: the file in place, nothing counted");
	CHECK_INT(unlinkat(dirfd, "manifest.pb", 0), ==, 0);
	put_temp(dirfd, 200, tmp, sizeof(tmp));
	CHECK_OK(store_put_file(dirfd, store, "ck", tmp, "core-1.elf", &e), &e);
	CHECK_INT(fstatat(dirfd, "core-1.elf", &st, 0), ==, 0);
	CHECK_UINT(st.st_size, ==, 200);
	test_case("no such temporary file");
	CHECK_INT(store_put_file(dirfd, store, "ck", ".gone", "core-2.elf", &e), ==, -1);
	CHECK_CONTAINS(e.msg, "cannot stat the new core-2.elf of checkpoint ck");
	test_case("the checkpoint deleted while its file was written: not put anywhere, NOT_FOUND");
	put_temp(dirfd, 200, tmp, sizeof(tmp));
	CHECK_INT(remove_tree(arena_printf("%s/ck", store)), ==, 0);
	CHECK_INT(store_put_file(dirfd, store, "ck", tmp, "core-3.elf", &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	CHECK_CONTAINS(e.msg, "no checkpoint ck in");
	close(dirfd);
	CHECK_INT(remove_tree(store), ==, 0);
	arena_free_all();
}

static void test_renames(void)
{
	struct manifest_fixture f;
	char path[4400];

	test_case("a store with a checkpoint to rename");
	CHECK(mkdtemp(rename_store) != NULL);
	snprintf(g_cfg.store, sizeof(g_cfg.store), "%s", rename_store);
	fixture_init(&f);
	rename_checkpoint_setup(RN_ID, &f.c);
	snprintf(path, sizeof(path), "%s/linked", rename_store);
	CHECK_INT(symlink(RN_ID, path), ==, 0);
	snprintf(path, sizeof(path), "%s/bare", rename_store);
	CHECK_INT(mkdir(path, 0700), ==, 0);
	snprintf(path, sizeof(path), "%s/writing.partial", rename_store);
	CHECK_INT(mkdir(path, 0700), ==, 0);
	test_rename(&f);
	test_rename_refused(&f);
	test_rename_write_fails(&f);
	test_case("cleaned up");
	CHECK_INT(remove_tree(rename_store), ==, 0);
	arena_free_all();
}

TEST_GROUP(store)
{
	test_ids();
	test_prepare();
	test_store_dir();
	with_out_file(test_renames);
	test_put_file();
	test_prune();
}
