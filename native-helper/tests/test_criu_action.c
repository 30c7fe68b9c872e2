/* SPDX-License-Identifier: MIT */
/*
 * Tests of criu_action.c: the leak policy's options checked, the options a
 * dump and a restore share, CRIU's notifications as progress, and a
 * failure read back from CRIU's answer and log.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "criu_action.h"
#include "fileio.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

static void test_options_valid(void)
{
	static const struct {
		const char *what;
		size_t n;		/* entries, all "mnt[/data]:data" but the one at bad */
		size_t bad;
		const char *bad_entry;	/* NULL: none bad */
		const char *words;	/* NULL: valid */
	} cases[] = {
		{ "64 entries", MAX_EXTERNAL, 0, NULL, NULL },
		{ "65 entries", MAX_EXTERNAL + 1, 0, NULL, "65 external entries; at most 64 are accepted" },
		{ "an empty entry", 3, 1, "", "external entry 1 is empty, too long (max 512) or holds control" },
		{ "a control character", 2, 0, "mnt[/a]:\x1b", "external entry 0 is empty" },
		{ "a tab is text", 1, 0, "mnt[/a]:\ta", NULL },
		{ "513 bytes", 1, 0, "*", "external entry 0 is empty, too long" },
		{ "512 bytes", 1, 0, "=", NULL },
	};
	char *v[MAX_EXTERNAL + 1], longest[MAX_EXTERNAL_LEN + 2];
	struct herr e = { 0 };

	test_case("no options");
	CHECK_OK(criu_options_valid(NULL, &e), &e);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		DumpOptions o = CHECKPOINT__HELPER__V1__DUMP_OPTIONS__INIT;
		const char *bad = cases[i].bad_entry;

		test_case("%s", cases[i].what);
		for (size_t k = 0; k < cases[i].n; k++)
			v[k] = "mnt[/data]:data";
		if (bad && (bad[0] == '*' || bad[0] == '=')) {
			memset(longest, 'x', sizeof(longest));
			longest[bad[0] == '*' ? MAX_EXTERNAL_LEN + 1 : MAX_EXTERNAL_LEN] = '\0';
			bad = longest;
		}
		if (bad)
			v[cases[i].bad] = (char *)bad;
		o.external = v;
		o.n_external = cases[i].n;
		memset(&e, 0, sizeof(e));
		CHECK_INT(criu_options_valid(&o, &e), ==, cases[i].words ? -1 : 0);
		CHECK_INT(e.code, ==, cases[i].words ? EC(BAD_REQUEST) : 0);
		if (cases[i].words)
			CHECK_CONTAINS(e.msg, cases[i].words);
	}
}

/* What both actions set, whatever the policy decided. */
static void check_common(const CriuOpts *opts, const char *log_file)
{
	CHECK_STR(opts->log_file, ==, log_file);
	CHECK(opts->has_log_level);
	CHECK_INT(opts->log_level, ==, 4);
	CHECK(opts->has_manage_cgroups);
	CHECK(opts->manage_cgroups);
	CHECK(opts->has_manage_cgroups_mode);
	CHECK_INT(opts->manage_cgroups_mode, ==, CRIU_CG_MODE__IGNORE);
	CHECK(opts->has_notify_scripts);
	CHECK(opts->notify_scripts);
}

/* The policy's options: tcp_established and shell_job set when tcp_shell, the others never. */
static void check_leak_options(const CriuOpts *opts, bool tcp_shell)
{
	CHECK_INT(opts->has_tcp_established, ==, tcp_shell);
	CHECK_INT(opts->tcp_established, ==, tcp_shell);
	CHECK_INT(opts->has_shell_job, ==, tcp_shell);
	CHECK_INT(opts->shell_job, ==, tcp_shell);
	CHECK_INT(opts->has_ext_unix_sk, ==, false);	/* a false one is left to CRIU */
	CHECK_INT(opts->ext_unix_sk, ==, false);
	CHECK_INT(opts->has_file_locks, ==, false);
	CHECK_INT(opts->file_locks, ==, false);
}

static void test_opts_common(void)
{
	static char *external[] = { "mnt[/data]:data", "net[4026532247]:net" };
	DumpOptions o = CHECKPOINT__HELPER__V1__DUMP_OPTIONS__INIT;
	CriuOpts opts = CRIU_OPTS__INIT;

	test_case("no policy, CRIU's network lock");
	criu_opts_common(&opts, "dump.log", NULL, 0);
	check_common(&opts, "dump.log");
	check_leak_options(&opts, false);
	CHECK_UINT(opts.n_external, ==, 0);
	CHECK(!opts.has_network_lock);

	test_case("what the policy decided, locked with nftables");
	o.tcp_established = o.shell_job = true;
	o.external = external;
	o.n_external = ARRAY_SIZE(external);
	opts = (CriuOpts)CRIU_OPTS__INIT;
	criu_opts_common(&opts, "restore.log", &o, CRIU_NETWORK_LOCK_METHOD__NFTABLES);
	check_common(&opts, "restore.log");
	check_leak_options(&opts, true);
	CHECK_UINT(opts.n_external, ==, 2);
	CHECK(opts.external == external);
	CHECK(opts.has_network_lock);
	CHECK_INT(opts.network_lock, ==, CRIU_NETWORK_LOCK_METHOD__NFTABLES);
}

static void test_notify_progress(void)
{
	HelperMessage *v[4];
	size_t n;

	out_reset();
	criu_notify_progress(31, "post-dump");
	n = out_frames(v, ARRAY_SIZE(v));
	CHECK_UINT(n, ==, 1);
	if (n == 1) {
		const Event *ev = v[0]->event;

		CHECK_INT(ev ? ev->kind_case : 0, ==, CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRESS);
		CHECK_UINT(ev ? ev->request_id : 0, ==, 31);
		CHECK_STR(ev && ev->progress ? ev->progress->stage : NULL, ==, "post-dump");
		CHECK_STR(ev && ev->progress ? ev->progress->message : NULL, ==, "CRIU: post-dump");
		msg_free(v[0]);
	}
}

/* ---- failures in words ------------------------------------------------------ */

#define RLIMIT_LINE "(00.000100) Error (criu/util.c:1234): Can't set RLIMIT_NOFILE to 1048576: Operation not " \
		    "permitted"

static const char failure_log[] =
	"(00.000050) Version: 4.1.1\n"
	RLIMIT_LINE "\n"
	"(00.000200) Dumping task 4242\n"
	"(00.000300) Error (criu/sk-unix.c:666): unix: Connected external socket\n"
	"(00.000400) Error (criu/cr-dump.c:1): Dumping FAILED.\n";

static const struct failure_case {
	const char *what;
	bool log;			/* the log above is there */
	const char *errmsg;		/* CRIU's cr_errmsg; NULL: no answer at all */
	int cr_errno;
	const char *message;		/* the line that explains it */
	int errnum;
} failure_cases[] = {
	{ "no answer: the first real error of the log, its time stamp stripped", true, NULL, 0,
	  "Error (criu/sk-unix.c:666): unix: Connected external socket", 0 },
	{ "CRIU's own message first, its trailing newline dropped", true, "Connected external socket\n", 71,
	  "Connected external socket", 71 },
	{ "CRIU's message the RLIMIT_NOFILE one: the log's next error", true, RLIMIT_LINE, 1,
	  "Error (criu/sk-unix.c:666): unix: Connected external socket", 1 },
	{ "no log, no message", false, "", 0, "see its log", 0 },
	{ "no log, the RLIMIT_NOFILE message alone: better than nothing", false, RLIMIT_LINE, 0, RLIMIT_LINE, 0 },
};

static void check_failure(const struct failure_case *c, const char *log, const char *kept)
{
	CriuResp r = CRIU_RESP__INIT;
	struct criu_failure *f;
	struct herr e = { 0 };

	r.cr_errmsg = (char *)c->errmsg;
	r.has_cr_errno = c->cr_errno != 0;
	r.cr_errno = c->cr_errno;
	f = criu_failure_read("checkpoint PID 4242", c->errmsg ? &r : NULL, log, kept, &e);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK_INT(e.errnum, ==, c->errnum);
	CHECK_STR(e.msg, ==, arena_printf("CRIU could not checkpoint PID 4242: %s", c->message));
	CHECK_STR(f->message, ==, c->message);
	CHECK_STR(f->log_path, ==, kept ? kept : "");
	CHECK_UINT(f->nlog, ==, c->log ? 4 : 0);	/* every line but the RLIMIT_NOFILE one */
	for (size_t i = 0; i < f->nlog; i++)
		CHECK(!strstr(f->log[i], "RLIMIT_NOFILE"));
	CHECK_STR(f->nlog ? f->log[f->nlog - 1] : NULL, ==, c->log ? "(00.000400) Error (criu/cr-dump.c:1): "
		  "Dumping FAILED." : NULL);
}

static void test_failure_read(void)
{
	char dir[] = "/tmp/ckpt-action-XXXXXX";
	const char *log, *none;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	log = arena_printf("%s/dump.log", dir);
	none = arena_printf("%s/none.log", dir);
	fd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK_INT(write(fd, failure_log, strlen(failure_log)), ==, strlen(failure_log));
	close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(failure_cases); i++) {
		const struct failure_case *c = &failure_cases[i];

		test_case("%s", c->what);
		check_failure(c, c->log ? log : none, i % 2 ? "/var/kept/dump.log" : NULL);
	}
	CHECK_INT(remove_tree(dir), ==, 0);
	arena_free_all();
}

static void action_tests(void)
{
	test_notify_progress();
}

TEST_GROUP(criu_action)
{
	test_options_valid();
	test_opts_common();
	with_out_file(action_tests);
	test_failure_read();
}
