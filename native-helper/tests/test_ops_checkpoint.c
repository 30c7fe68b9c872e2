/* SPDX-License-Identifier: MIT */
/*
 * Tests of ops_checkpoint.c through the dispatch: what dump, restore, list,
 * delete, rename, image_files, read_image and core refuse, in words; CRIU
 * unavailable; and the answers they marshal of the engines and the store
 * (the fake CRIU of service.h stands in for CRIU).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "channel.h"
#include "config.h"
#include "fileio.h"
#include "manifest.h"
#include "ops_checkpoint.h"
#include "store.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

#define OP(x) CHECKPOINT__HELPER__V1__REQUEST__OP_##x
#define RESULT(x) CHECKPOINT__HELPER__V1__RESPONSE__RESULT_##x
#define FREE_PID 4194001	/* a pid no process has */

typedef Checkpoint__Helper__V1__DeleteRequest DeleteRequest;
typedef Checkpoint__Helper__V1__ImageFilesRequest ImageFilesRequest;
typedef Checkpoint__Helper__V1__ListRequest ListRequest;

static char store[] = "/tmp/ckpt-opsck-XXXXXX";

/* The error's message, NULL when the answer is no error. */
static const char *error_text(const HelperMessage *m)
{
	return err_code(m) >= 0 ? m->response->error->message : NULL;
}

/* The answer is an error of code saying words; freed. */
static void check_error(HelperMessage *m, int code, const char *words)
{
	CHECK_INT(err_code(m), ==, code);
	CHECK_CONTAINS(error_text(m), words);
	msg_free(m);
}

/* Uses CRIU at path (NULL: none found), probed afresh as hello would. */
static void use_criu(const char *path)
{
	g_cfg.criu_path = g_cfg.criu_asked = path;
	config_criu(true);
}

/* A request that names a checkpoint: restore, delete, rename (to name), image_files or read_image. */
static HelperMessage *ask_id(int op, const char *id, const char *name)
{
	RestoreRequest restore = CHECKPOINT__HELPER__V1__RESTORE_REQUEST__INIT;
	DeleteRequest del = CHECKPOINT__HELPER__V1__DELETE_REQUEST__INIT;
	RenameRequest rename = CHECKPOINT__HELPER__V1__RENAME_REQUEST__INIT;
	ImageFilesRequest files = CHECKPOINT__HELPER__V1__IMAGE_FILES_REQUEST__INIT;
	ReadImageRequest read = CHECKPOINT__HELPER__V1__READ_IMAGE_REQUEST__INIT;
	CoreRequest core = CHECKPOINT__HELPER__V1__CORE_REQUEST__INIT;
	void *msg[] = { [OP(RESTORE)] = &restore, [OP(DELETE)] = &del, [OP(RENAME)] = &rename,
			[OP(IMAGE_FILES)] = &files, [OP(READ_IMAGE)] = &read, [OP(CORE)] = &core };
	size_t nevents;

	restore.checkpoint_id = del.checkpoint_id = rename.checkpoint_id = (char *)id;
	files.checkpoint_id = read.checkpoint_id = core.checkpoint_id = (char *)id;
	rename.name = (char *)name;
	return ask(60 + op, op, msg[op], &nevents);
}

static HelperMessage *ask_dump_stopped(pid_t root, const char *name, LeakRule **rules, size_t nrules,
				       DebuggerStop *stop)
{
	DumpRequest r = CHECKPOINT__HELPER__V1__DUMP_REQUEST__INIT;
	size_t nevents;

	r.debugger_stop = stop;
	r.root_pid = root;
	r.name = (char *)name;
	r.leave_running = true;
	r.policy = rules;
	r.n_policy = nrules;
	return ask(62, OP(DUMP), &r, &nevents);
}

static HelperMessage *ask_dump(pid_t root, const char *name, LeakRule **rules, size_t nrules)
{
	return ask_dump_stopped(root, name, rules, nrules, NULL);
}

/* A dump of root with its namespaces warned about (see namespaces_warned). */
static HelperMessage *ask_dump_warned(pid_t root, const char *name)
{
	size_t n;
	LeakRule **rules = namespaces_warned(&n);

	return ask_dump(root, name, rules, n);
}

/* ---- refused in words ----------------------------------------------------------- */

/* The checks alone (as the fuzz targets run them): no CRIU, no process and no checkpoint are looked for. */
static void test_request_checks(void)
{
	DumpRequest d = CHECKPOINT__HELPER__V1__DUMP_REQUEST__INIT;
	CoreRequest c = CHECKPOINT__HELPER__V1__CORE_REQUEST__INIT;
	LeakRule bad = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT, *rules[] = { &bad };
	Response ok = CHECKPOINT__HELPER__V1__RESPONSE__INIT, refused = CHECKPOINT__HELPER__V1__RESPONSE__INIT;

	test_case("request checks: dump");
	use_criu(NULL);
	d.root_pid = NO_PID;
	d.name = "";
	CHECK_INT(dump_request_check(&d, &ok), ==, 0);
	bad.policy = LP(FAIL);
	d.policy = rules;
	d.n_policy = 1;
	CHECK_INT(dump_request_check(&d, &refused), ==, -1);
	CHECK(refused.error && strstr(refused.error->message, "policy rule 0 names no leak kind (0)"));
	test_case("request checks: core");
	c.checkpoint_id = "no-such-checkpoint";
	CHECK_INT(core_request_check(&c, &ok), ==, 0);
	c.pid = -1;
	refused.error = NULL;
	CHECK_INT(core_request_check(&c, &refused), ==, -1);
	CHECK(refused.error && strstr(refused.error->message, "-1 is no pid"));
	CHECK_INT(ok.result_case, ==, CHECKPOINT__HELPER__V1__RESPONSE__RESULT__NOT_SET);
	CHECK_INT(lseek(g_out_fd, 0, SEEK_CUR), ==, 0);
	arena_free_all();
}

static void test_dump_refused(void)
{
	LeakRule bad = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT, *rules[] = { &bad };
	DebuggerStop stop = CHECKPOINT__HELPER__V1__DEBUGGER_STOP__INIT;

	test_case("dump refused: no root, pid 1, this helper or its ancestors");
	check_error(ask_dump(0, "", NULL, 0), EC(BAD_REQUEST), "root_pid must be a pid above 1");
	check_error(ask_dump(-5, "", NULL, 0), EC(BAD_REQUEST), "not -5");
	check_error(ask_dump(1, "", NULL, 0), EC(BAD_REQUEST), "1 is the init of the pid namespace");
	check_error(ask_dump(getpid(), "", NULL, 0), EC(BAD_REQUEST), "this helper or one of its ancestors");
	check_error(ask_dump(getppid(), "", NULL, 0), EC(BAD_REQUEST), "checkpointing it would take this helper");
	/* a dump refuses the names a rename refuses: one rule for both */
	test_case("dump refused: a name with a control character");
	check_error(ask_dump(NO_PID, "a\nb", NULL, 0), EC(BAD_REQUEST), "control characters");
	test_case("dump refused: a debugger stop without a thread, or with control characters");
	stop.pid = 5;
	check_error(ask_dump_stopped(NO_PID, "", NULL, 0, &stop), EC(BAD_REQUEST),
		    "debugger_stop needs a positive pid and tid, not 5 and 0");
	stop.tid = 6;
	stop.location = "a\x1b[2Jb";
	check_error(ask_dump_stopped(NO_PID, "", NULL, 0, &stop), EC(BAD_REQUEST),
		    "debugger_stop: reason (at most 256 bytes) and location (at most 1024) must be text");
	test_case("dump refused: a rule of no kind");
	bad.policy = LP(FAIL);
	check_error(ask_dump(NO_PID, "", rules, 1), EC(BAD_REQUEST), "policy rule 0 names no leak kind (0)");
	test_case("dump refused: no CRIU");
	use_criu(NULL);
	check_error(ask_dump(NO_PID, "", NULL, 0), EC(CRIU_UNAVAILABLE), "CRIU was not found");
	CHECK_INT(dir_entries(store), ==, 0);
}

/* Every request that names a checkpoint refuses an id that cannot name one, and finds none of one that does not exist. */
static void test_ids_refused(void)
{
	static const int ops[] = { OP(RESTORE), OP(DELETE), OP(RENAME), OP(IMAGE_FILES), OP(READ_IMAGE), OP(CORE) };
	static const char *const bad[] = { "", "../etc", ".hidden", "a/b", "a b" };

	use_criu(fake_criu("fail"));
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
			test_case("op %d of id \"%s\"", ops[i], bad[k]);
			check_error(ask_id(ops[i], bad[k], "x"), EC(BAD_REQUEST), "invalid checkpoint id: 1-64 characters");
		}
		test_case("op %d of an unknown checkpoint", ops[i]);
		check_error(ask_id(ops[i], "nope", "x"), EC(NOT_FOUND), "no checkpoint nope");
	}
	test_case("rename refused: a name with a control character");
	check_error(ask_id(OP(RENAME), "nope", "\x1b[31m"), EC(BAD_REQUEST), "invalid checkpoint name");
	test_case("restore refused: no CRIU");
	use_criu(NULL);
	check_error(ask_id(OP(RESTORE), "nope", NULL), EC(CRIU_UNAVAILABLE), "CRIU was not found");
	fake_criu(NULL);
	CHECK_INT(dir_entries(store), ==, 0);
}

/* ---- answers ------------------------------------------------------------------- */

/* What CRIU said reached the answer: its message, its log lines, where the log was kept (under dir). */
static void check_criu_said(HelperMessage *m, const char *dir)
{
	const Error *err = err_code(m) >= 0 ? m->response->error : NULL;

	CHECK_INT(err_code(m), ==, EC(CRIU_FAILED));
	CHECK_STR(err ? err->criu_message : NULL, ==, "Error (criu/fake.c:1): fake: nothing was done");
	CHECK_UINT(err ? err->n_criu_log : 0, ==, 2);
	CHECK_STR(err && err->n_criu_log == 2 ? err->criu_log[1] : NULL, ==,
		  "(00.000002) Error (criu/fake.c:1): fake: nothing was done");
	CHECK_CONTAINS(err ? err->criu_log_path : NULL, dir);
	msg_free(m);
}

static void test_failed_in_criu(pid_t root)
{
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	CheckpointProcess p = CHECKPOINT__HELPER__V1__CHECKPOINT_PROCESS__INIT, *pp = &p;
	char dir[4400];

	use_criu(fake_criu("fail"));
	test_case("a dump CRIU failed");
	snprintf(dir, sizeof(dir), "%s/.failed/", store);
	check_criu_said(ask_dump_warned(root, ""), dir);
	test_case("a restore CRIU failed");
	p.pid = FREE_PID;
	p.comm = "gone";
	c.manifest_version = MANIFEST_VERSION;
	c.id = "stored";
	c.root_pid = FREE_PID;
	c.processes = &pp;
	c.n_processes = 1;
	CHECK_INT(checkpoint_put(store, "stored", &c), ==, 0);
	snprintf(dir, sizeof(dir), "%s/.logs/stored-", store);
	check_criu_said(ask_id(OP(RESTORE), "stored", NULL), dir);
	fake_criu(NULL);
	CHECK_INT(remove_tree(store), ==, 0);
}

/* A dump refused for its leaks: the leaks whose policy is fail come with the error. */
static void test_leaks_refused(void)
{
	struct pipe_pair pp;
	HelperMessage *m;

	test_case("a dump refused for its leaks");
	use_criu(fake_criu("ok"));
	CHECK(pipe_pair_start(&pp, LP(FAIL)));
	m = ask_dump(pp.tree, "", pp.rules, 1);
	CHECK_INT(err_code(m), ==, EC(LEAKS_REFUSED));
	CHECK(err_code(m) >= 0 && leak_named(m->response->error->leaks, m->response->error->n_leaks, LK(PIPE),
					     pp.resource));
	msg_free(m);
	pipe_pair_end(&pp);
	fake_criu(NULL);
	CHECK_INT(dir_entries(store), ==, -1);	/* not even made */
}

static const ListResult *listed(const HelperMessage *m)
{
	return answer_of(m, RESULT(LIST)) ? m->response->list : NULL;
}

/* A checkpoint taken, listed, renamed, its files listed, deleted. */
static void test_life(pid_t root)
{
	ListRequest list = CHECKPOINT__HELPER__V1__LIST_REQUEST__INIT;
	HelperMessage *m;
	char id[MAX_ID_LEN + 1] = "";

	DebuggerStop stop = CHECKPOINT__HELPER__V1__DEBUGGER_STOP__INIT;
	size_t nrules;
	LeakRule **rules = namespaces_warned(&nrules);

	use_criu(fake_criu("ok"));
	test_case("dumped");
	stop.pid = root;
	stop.tid = root;
	stop.reason = "breakpoint";
	stop.location = "main (x.c:3)";
	m = ask_dump_stopped(root, "mine", rules, nrules, &stop);
	CHECK(answer_of(m, RESULT(DUMP)) != NULL);
	if (answer_of(m, RESULT(DUMP)) && m->response->dump->checkpoint) {
		const DebuggerStop *kept = m->response->dump->checkpoint->debugger_stop;

		CHECK_STR(m->response->dump->checkpoint->name, ==, "mine");
		CHECK_INT(kept ? kept->tid : 0, ==, root);
		CHECK_STR(kept ? kept->location : NULL, ==, "main (x.c:3)");
		snprintf(id, sizeof(id), "%s", m->response->dump->checkpoint->id);
	}
	msg_free(m);
	fake_criu(NULL);
	test_case("listed");
	m = ask(63, OP(LIST), &list, NULL);
	CHECK_UINT(listed(m) ? listed(m)->n_checkpoints : 0, ==, 1);
	CHECK_STR(listed(m) && listed(m)->n_checkpoints ? listed(m)->checkpoints[0]->id : NULL, ==, id);
	CHECK_STR(listed(m) && listed(m)->n_checkpoints && listed(m)->checkpoints[0]->debugger_stop ?
		  listed(m)->checkpoints[0]->debugger_stop->reason : NULL, ==, "breakpoint");
	msg_free(m);
	test_case("renamed");
	m = ask_id(OP(RENAME), id, "renamed");
	CHECK_STR(answer_of(m, RESULT(RENAME)) ? m->response->rename->checkpoint->name : NULL, ==, "renamed");
	msg_free(m);
	test_case("its files");
	m = ask_id(OP(IMAGE_FILES), id, NULL);
	CHECK_UINT(answer_of(m, RESULT(IMAGE_FILES)) ? m->response->image_files->n_files : 0, ==, 4);
	msg_free(m);
	test_case("deleted");
	m = ask_id(OP(DELETE), id, NULL);
	CHECK_STR(answer_of(m, RESULT(DELETE)) ? m->response->delete_->checkpoint_id : NULL, ==, id);
	msg_free(m);
	CHECK_INT(dir_entries(store), ==, 0);
}

/* A store that cannot be read is said so; one that is not there yet holds nothing. */
static void test_list_store(void)
{
	ListRequest list = CHECKPOINT__HELPER__V1__LIST_REQUEST__INIT;
	char saved[sizeof(g_cfg.store)];
	HelperMessage *m;
	int fd;

	memcpy(saved, g_cfg.store, sizeof(saved));
	test_case("a store not made yet");
	snprintf(g_cfg.store, sizeof(g_cfg.store), "%s/not-yet", store);
	m = ask(65, OP(LIST), &list, NULL);
	CHECK_UINT(listed(m) ? listed(m)->n_checkpoints : 1, ==, 0);
	msg_free(m);
	test_case("a store that is a file");
	fd = open(g_cfg.store, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	close(fd);
	check_error(ask(66, OP(LIST), &list, NULL), EC(INTERNAL), "cannot read the checkpoint store");
	unlink(g_cfg.store);
	memcpy(g_cfg.store, saved, sizeof(saved));
}

static void checkpoint_ops_tests(void)
{
	char *argv[] = { "/bin/sleep", "1000", NULL };
	pid_t root;

	out_reset();
	test_request_checks();
	test_dump_refused();
	test_ids_refused();
	test_list_store();
	root = launch_program(argv, 62);
	CHECK_INT(root, >, 0);
	if (root > 0) {
		test_failed_in_criu(root);
		test_leaks_refused();
		test_life(root);
		programs_end(&root, 1);
	}
	CHECK(no_children());
}

TEST_GROUP(ops_checkpoint)
{
	struct helper_config saved = g_cfg;

	CHECK(store_make(store));
	with_out_file(checkpoint_ops_tests);
	CHECK_INT(remove_tree(store), ==, 0);
	g_cfg = saved;
	config_criu(true);
	arena_free_all();
}
