/* SPDX-License-Identifier: MIT */
/* Tests of store.c: ids, rename through the service, pruning. */
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
	CHECK(mkdir(path, 0700) == 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write_file_at(fd, "pages-1.img", "pages", 5) == 0);
	CHECK(manifest_write(fd, c, &e) == 0);
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

/* Whether file of checkpoint RN_ID holds exactly the len bytes of want, mode 0600. */
static bool file_is(const char *file, const void *want, size_t len)
{
	char path[4400], *buf = NULL;
	struct stat st;
	size_t n = 0;
	bool same;

	snprintf(path, sizeof(path), "%s/%s/%s", rename_store, RN_ID, file);
	if (read_file(path, &buf, &n, 1 << 20) || stat(path, &st))
		return false;
	same = n == len && !memcmp(buf, want, len) && (st.st_mode & 07777) == 0600;
	free(buf);
	return same;
}

/* Whether both manifests of checkpoint RN_ID are exactly those of c. */
static bool manifest_is(const Checkpoint *c)
{
	size_t len = checkpoint__helper__v1__checkpoint__get_packed_size(c);
	uint8_t *pb = malloc(len + 1);
	struct sbuf json = { 0 };
	bool same;

	checkpoint__helper__v1__checkpoint__pack(c, pb);
	CHECK(manifest_json(c, &json) == 0);
	same = file_is("manifest.pb", pb, len) && file_is("manifest.json", json.p, json.len);
	free(pb);
	sbuf_free(&json);
	return same;
}

/* Whether the answer's manifest is c, field for field (the same bytes). */
static bool answer_is(const HelperMessage *m, const Checkpoint *c)
{
	const Checkpoint *got = renamed(m);
	size_t len = checkpoint__helper__v1__checkpoint__get_packed_size(c);
	uint8_t *want = malloc(len + 1), *have = NULL;
	bool same = false;

	if (got && checkpoint__helper__v1__checkpoint__get_packed_size(got) == len) {
		have = malloc(len + 1);
		checkpoint__helper__v1__checkpoint__pack(c, want);
		checkpoint__helper__v1__checkpoint__pack(got, have);
		same = !memcmp(want, have, len);
	}
	free(want);
	free(have);
	return same;
}

/* Entries of checkpoint RN_ID: no temporary file is ever left behind. */
static int rename_dir_entries(void)
{
	char path[4400];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", rename_store, RN_ID);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_rename(struct manifest_fixture *f)
{
	char longest[MAX_NAME_LEN + 1];
	HelperMessage *m;

	m = ask_rename(RN_ID, "after\twith a tab, é");
	f->c.name = "after\twith a tab, é";
	CHECK(answer_is(m, &f->c));
	CHECK(manifest_is(&f->c));
	CHECK(rename_dir_entries() == 3);
	msg_free(m);

	memset(longest, 'n', MAX_NAME_LEN);
	longest[MAX_NAME_LEN] = '\0';
	m = ask_rename(RN_ID, longest);
	f->c.name = longest;
	CHECK(answer_is(m, &f->c) && manifest_is(&f->c));
	msg_free(m);

	/* empty clears the name */
	m = ask_rename(RN_ID, "");
	f->c.name = "";
	CHECK(answer_is(m, &f->c) && manifest_is(&f->c));
	CHECK(rename_dir_entries() == 3);
	msg_free(m);
}

static void test_rename_refused(const struct manifest_fixture *f)
{
	static const char *bad_ids[] = { "../etc", "", ".hidden", "a/b", "a b",
		"12345678901234567890123456789012345678901234567890123456789012345" };
	static const char *bad_names[] = { "a\nb", "\x1b[31mred", "nul\x01" };
	char too_long[MAX_NAME_LEN + 2];
	HelperMessage *m;

	for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
		m = ask_rename(bad_ids[i], "x");
		CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "invalid checkpoint id"));
		msg_free(m);
	}
	memset(too_long, 'n', MAX_NAME_LEN + 1);
	too_long[MAX_NAME_LEN + 1] = '\0';
	m = ask_rename(RN_ID, too_long);
	CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "256 bytes"));
	msg_free(m);
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		m = ask_rename(RN_ID, bad_names[i]);
		CHECK(err_code(m) == EC(BAD_REQUEST) && err_mentions(m, "control characters"));
		msg_free(m);
	}
	CHECK(manifest_is(&f->c));

	m = ask_rename("nope", "x");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "no checkpoint nope"));
	msg_free(m);
	m = ask_rename("linked", "x");	/* a symlink to a checkpoint is not one */
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "linked"));
	msg_free(m);
	m = ask_rename("bare", "x");	/* a directory without a manifest */
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "bare") && err_mentions(m, "manifest"));
	msg_free(m);
	/* a dump still writing it: named by the directory, or by the id it will have */
	m = ask_rename("writing.partial", "x");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "writing.partial") &&
	      err_mentions(m, "still being written"));
	msg_free(m);
	m = ask_rename("writing", "x");
	CHECK(err_code(m) == EC(NOT_FOUND) && err_mentions(m, "no checkpoint writing ") &&
	      err_mentions(m, "still being written"));
	msg_free(m);
	CHECK(manifest_is(&f->c));
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
	CHECK(pb_len > 200);	/* above the size of the error answer */
	CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
	signal(SIGXFSZ, SIG_IGN);
	for (int i = 0; i < 2; i++) {
		lim.rlim_cur = i ? pb_len : pb_len - 1;
		lim.rlim_max = saved.rlim_max;
		CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
		m = ask_rename(RN_ID, next.c.name);
		CHECK(setrlimit(RLIMIT_FSIZE, &saved) == 0);
		CHECK(err_code(m) == EC(INTERNAL) && err_mentions(m, RN_ID) && err_mentions(m, "manifest") &&
		      m->response->error->errno_value == EFBIG);
		CHECK(manifest_is(&f->c));
		CHECK(rename_dir_entries() == 3);
		msg_free(m);
	}
	signal(SIGXFSZ, SIG_DFL);
}

/* The newest KEPT_LOGS logs and work directories stay; older ones go, files and directories alike. */
static void test_prune(void)
{
	char dir[] = "/tmp/ckpt-prune-XXXXXX";
	struct dirent **left = NULL;
	int n;

	CHECK(mkdtemp(dir) != NULL);
	for (int i = 0; i < KEPT_LOGS + 5; i++) {
		/* alternately a failed dump's log and a restore's work directory with its log, oldest first */
		char *path = arena_printf("%s/20260101-0000%02d-abcd%s", dir, i, i % 2 ? "-dump.log" : "");

		if (i % 2)
			CHECK(close(open(path, O_WRONLY | O_CREAT, 0600)) == 0);
		else
			CHECK(mkdir(path, 0700) == 0 && close(open(arena_printf("%s/restore.log", path), O_WRONLY | O_CREAT, 0600)) == 0);
	}
	CHECK(mkdir(arena_printf("%s/.hidden", dir), 0700) == 0);
	CHECK(store_prune(dir, KEPT_LOGS) == 0);
	n = scandir(dir, &left, NULL, alphasort);
	CHECK(n == KEPT_LOGS + 3);	/* ".", ".." and ".hidden" too */
	for (int i = 0; i < n; i++) {
		if (i == 3)
			CHECK(!strncmp(left[i]->d_name, "20260101-000005-abcd", 20));	/* the oldest kept: 5 */
		free(left[i]);
	}
	free(left);
	CHECK(store_prune(arena_printf("%s/absent", dir), 1) == 0);
	CHECK(remove_tree(dir) == 0);
}

static void test_renames(void)
{
	struct manifest_fixture f;
	char path[4400];

	CHECK(mkdtemp(rename_store) != NULL);
	snprintf(g_cfg.store, sizeof(g_cfg.store), "%s", rename_store);
	fixture_init(&f);
	rename_checkpoint_setup(RN_ID, &f.c);
	snprintf(path, sizeof(path), "%s/linked", rename_store);
	CHECK(symlink(RN_ID, path) == 0);
	snprintf(path, sizeof(path), "%s/bare", rename_store);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/writing.partial", rename_store);
	CHECK(mkdir(path, 0700) == 0);
	test_rename(&f);
	test_rename_refused(&f);
	test_rename_write_fails(&f);
	CHECK(remove_tree(rename_store) == 0);
	arena_free_all();
}

TEST_GROUP(store)
{
	test_ids();
	with_out_file(test_renames);
	test_prune();
}
