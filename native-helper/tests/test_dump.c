/* SPDX-License-Identifier: MIT */
/*
 * Tests of dump.c, the engine, where CRIU is not needed or not itself:
 * refusals before CRIU (no such process, leaks whose policy is fail), an
 * exchange with a program that is not CRIU, and the fake CRIU of
 * service.h failing or succeeding. On failure nothing is left in the store
 * but CRIU's log, and the tree runs as it did.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "dump.h"
#include "fault.h"
#include "fileio.h"
#include "manifest.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"

#define DUMP_ID 71

static char store[] = "/tmp/ckpt-dump-XXXXXX";

static int dump(pid_t root, LeakRule **rules, size_t nrules, const struct criu_info *ci, struct dump_outcome *out,
		struct herr *e)
{
	struct dump_params p = { .request = DUMP_ID, .root = root, .leave_running = true, .rules = rules,
				 .nrules = nrules, .store = store, .criu = ci };

	memset(e, 0, sizeof(*e));
	out_reset();
	return dump_run(&p, out, e);
}

/* The process runs (not stopped, not dead). */
static void check_runs(pid_t pid)
{
	struct proc_stat st = { .state = '?' };

	CHECK_INT(read_proc_stat(pid, &st), ==, 0);
	/* sleeping in its loop, or (under load) caught between two sleeps */
	CHECK(st.state == 'S' || st.state == 'R');
}

static void test_no_process(void)
{
	struct criu_info ci = criu_at("/bin/false");
	struct dump_outcome out;
	struct herr e;

	test_case("a pid no process has");
	CHECK_INT(dump(NO_PID, NULL, 0, &ci, &out, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NO_SUCH_PROCESS));
	CHECK_STR(e.msg, ==, "process 4194000 does not exist");
	CHECK(out.checkpoint == NULL);
	CHECK_STR(events_told(), ==, "GONE 4194000, ");
	CHECK_INT(dir_entries(store), ==, 0);
}

/* A dump of root with its namespaces warned about (see namespaces_warned). */
static int dump_warned(pid_t root, const struct criu_info *ci, struct dump_outcome *out, struct herr *e)
{
	size_t n;
	LeakRule **rules = namespaces_warned(&n);

	return dump(root, rules, n, ci, out, e);
}

/* Another dump of the tree under way (its lock held): said in words, nothing scanned, frozen or written. */
static void test_dump_under_way(pid_t root)
{
	struct criu_info ci = criu_at(fake_criu("ok"));
	int fd = open(arena_printf("%s/%d", DUMP_LOCK_DIR, root), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct dump_outcome out;
	struct herr e;

	test_case("a dump of the tree already under way: the second says so");
	CHECK_INT(fd >= 0 ? flock(fd, LOCK_EX) : -1, ==, 0);
	CHECK_INT(dump_warned(root, &ci, &out, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BUSY));
	CHECK_STR(e.msg, ==, arena_printf("a dump or a restore of the tree of process %d is already under way (another request, or "
					  "another session); try again when it is done", root));
	CHECK_STR(events_told(), ==, arena_printf("RUNNING %d, ", root));	/* as it was: nothing scanned or frozen */
	CHECK_INT(dir_entries(store), ==, 0);
	check_runs(root);
	test_case("the other done: it goes");
	close(fd);
	CHECK_OK(dump_warned(root, &ci, &out, &e), &e);
	fake_criu(NULL);
	if (out.checkpoint)
		CHECK_INT(remove_tree(out.checkpoint->path), ==, 0);
}

/* A pipe to a process outside the tree, its policy fail: refused before anything is frozen or written. */
static void test_leaks_refused(void)
{
	struct criu_info ci = criu_at("/bin/false");
	struct dump_outcome out;
	struct pipe_pair pp;
	struct herr e;

	test_case("a leak whose policy is fail");
	CHECK(pipe_pair_start(&pp, LP(FAIL)));
	CHECK_INT(dump(pp.tree, pp.rules, 1, &ci, &out, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(LEAKS_REFUSED));
	CHECK_CONTAINS(e.msg, pp.resource);
	CHECK(leak_named(out.refused, out.nrefused, LK(PIPE), pp.resource) != NULL);
	for (size_t i = 0; i < out.nrefused; i++) {
		test_case("refused leak %zu: %s", i, out.refused[i]->resource);
		CHECK_INT(out.refused[i]->policy, ==, LP(FAIL));
	}
	test_case("a leak whose policy is fail: nothing written, the tree runs");
	CHECK(out.checkpoint == NULL);
	CHECK_STR(events_told(), ==, arena_printf("leak-scan, RUNNING %d, ", pp.tree));
	CHECK_INT(dir_entries(store), ==, 0);
	check_runs(pp.tree);
	check_runs(pp.outside);
	pipe_pair_end(&pp);
}

/* What a failed dump leaves: no .partial, no checkpoint, the tree running. */
static void check_nothing_kept(pid_t root, int entries)
{
	CHECK_INT(dir_entries(store), ==, entries);
	CHECK_INT(dir_entries(arena_printf("%s/.failed", store)), ==, entries ? 1 : -1);
	check_runs(root);
}

/* A program that is not CRIU: the exchange fails, and nothing is kept. */
static void test_exchange_fails(pid_t root)
{
	struct criu_info ci = criu_at("/bin/false");
	struct dump_outcome out;
	struct herr e;

	test_case("a CRIU that answers nothing");
	CHECK_INT(dump_warned(root, &ci, &out, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK_CONTAINS(e.msg, "CRIU ");
	CHECK(out.checkpoint == NULL);
	CHECK(out.criu == NULL);
	CHECK_STR(events_told(), ==, arena_printf("leak-scan, CHECKPOINTING %d, dumping, RUNNING %d, ", root,
						  root));
	check_nothing_kept(root, 0);
}

/* The fake CRIU fails the dump: its words, its log kept in .failed, nothing else. */
static void test_criu_fails(pid_t root)
{
	struct criu_info ci = criu_at(fake_criu("fail"));
	struct dump_outcome out;
	struct herr e;
	char *log = NULL;

	test_case("CRIU fails the dump");
	CHECK_INT(dump_warned(root, &ci, &out, &e), ==, -1);
	fake_criu(NULL);
	CHECK_INT(e.code, ==, EC(CRIU_FAILED));
	CHECK_STR(e.msg, ==, arena_printf("CRIU could not checkpoint PID %d: Error (criu/fake.c:1): fake: nothing "
					  "was done", root));
	CHECK(out.checkpoint == NULL);
	CHECK(out.criu != NULL);
	if (out.criu) {
		CHECK_STR(out.criu->message, ==, "Error (criu/fake.c:1): fake: nothing was done");
		CHECK_UINT(out.criu->nlog, ==, 2);
		CHECK_CONTAINS(out.criu->log_path, "-dump.log");
		CHECK_CONTAINS(out.criu->log_path, arena_printf("%s/.failed/", store));
		CHECK_INT(read_file(out.criu->log_path, &log, NULL, 1 << 16), ==, 0);
		CHECK_CONTAINS(log, "fake: nothing was done");
		free(log);
	}
	check_nothing_kept(root, 1);
	CHECK_INT(remove_tree(arena_printf("%s/.failed", store)), ==, 0);
}

/* The inode of the pipe pid's descriptor fd is. */
static uint32_t pipe_inode(pid_t pid, int fd)
{
	struct stat st;

	return stat(arena_printf("/proc/%d/fd/%d", pid, fd), &st) ? 0 : (uint32_t)st.st_ino;
}

static void check_manifest(const Checkpoint *ck, pid_t root)
{
	const CheckpointProcess *p = ck->n_processes ? ck->processes[0] : NULL;

	CHECK_STR(ck->path, ==, arena_printf("%s/%s", store, ck->id));
	CHECK_STR(ck->name, ==, "sleep");	/* none asked: the root's command */
	CHECK_INT(ck->root_pid, ==, root);
	CHECK_UINT(ck->n_processes, ==, 1);
	CHECK_INT(p ? p->pid : 0, ==, root);
	CHECK_STR(p ? p->comm : NULL, ==, "sleep");
	CHECK_UINT(p ? p->n_cmdline : 0, ==, 2);
	CHECK_STR(p && p->n_cmdline == 2 ? p->cmdline[1] : NULL, ==, "1000");
	CHECK_STR(ck->criu_version, ==, "4.1.1");
	CHECK_STR(ck->helper_version, ==, VERSION);
	CHECK(ck->leave_running);
	CHECK(ck->leaks && ck->leaks->rescanned);	/* the scan again at post-dump */
	CHECK(ck->output_pipes != NULL);
	CHECK_UINT(ck->output_pipes ? ck->output_pipes->stdout_pipe_id : 0, ==, pipe_inode(root, 1));
	CHECK_UINT(ck->output_pipes ? ck->output_pipes->stderr_pipe_id : 0, ==, pipe_inode(root, 2));
	CHECK_UINT(ck->stats ? ck->stats->criu_wall_time_us : 0, >, 0);
	CHECK_UINT(ck->size_bytes, >, 0);
}

/* The fake CRIU dumps: the checkpoint is in the store, its manifest says what it is, the tree runs. */
static void test_dumped(pid_t root)
{
	struct criu_info ci = criu_at(fake_criu("ok"));
	struct dump_outcome out;
	struct herr e;
	const Checkpoint *ck, *read;

	test_case("CRIU dumps");
	CHECK_OK(dump_warned(root, &ci, &out, &e), &e);
	fake_criu(NULL);
	ck = out.checkpoint;
	CHECK(ck != NULL);
	if (!ck)
		return;
	CHECK_STR(events_told(), ==, arena_printf("leak-scan, CHECKPOINTING %d, dumping, post-dump, leak-rescan, "
						  "writing-manifest, RUNNING %d, ", root, root));
	check_manifest(ck, root);
	CHECK_INT(dir_entries(store), ==, 1);	/* no .partial */
	/* the images, CRIU's log and both manifests */
	CHECK_INT(dir_entries(ck->path), ==, 4);
	read = manifest_read(store, ck->id, &e);
	CHECK_STR(read ? read->id : NULL, ==, ck->id);
	CHECK_UINT(read ? read->created_unix_ms : 0, ==, ck->created_unix_ms);
	check_runs(root);
	CHECK_INT(remove_tree(ck->path), ==, 0);
}

/* The final manifest cannot be written (a full disk): the checkpoint is listed with the first one. */
static void test_final_manifest_fails(pid_t root)
{
	struct criu_info ci = criu_at(fake_criu("ok"));
	struct dump_outcome out;
	struct herr e;
	const Checkpoint *read;

	test_case("the final manifest cannot be written: the first stays, provisional; the checkpoint is listed");
	CHECK_INT(fault_add("manifest-final=ENOSPC"), ==, 0);
	CHECK_OK(dump_warned(root, &ci, &out, &e), &e);
	fault_clear();
	fake_criu(NULL);
	CHECK(out.checkpoint && out.checkpoint->provisional);
	if (!out.checkpoint)
		return;
	read = manifest_read(store, out.checkpoint->id, &e);
	CHECK(read && read->provisional);
	CHECK_UINT(read && read->stats ? read->stats->criu_wall_time_us : 1, ==, 0);	/* the figures are missing */
	CHECK_INT(read ? read->root_pid : 0, ==, root);
	check_runs(root);
	CHECK_INT(remove_tree(out.checkpoint->path), ==, 0);
}

/* A dump whose CRIU ended the tree, then failed: its complete images stay (all there is of the program). */
static void test_images_kept(void)
{
	char *argv[] = { "/bin/sleep", "1000", NULL };
	pid_t root = launch_program(argv, DUMP_ID);
	struct criu_info ci = criu_at(fake_criu("ok-ends"));
	struct dump_outcome out;
	struct herr e;

	test_case("CRIU ended the tree, the dump failed after it: the images are kept, and the error says where");
	CHECK_INT(fault_add("rename-final=EIO"), ==, 0);
	CHECK_INT(dump_warned(root, &ci, &out, &e), ==, -1);
	fault_clear();
	fake_criu(NULL);
	CHECK_CONTAINS(e.msg, "CRIU had ended the program: its complete images are kept in ");
	CHECK_CONTAINS(e.msg, ".partial, and listed as checkpoint ");
	CHECK_INT(dir_entries(store), ==, 1);	/* the .partial, with its first manifest */
	programs_end(&root, 1);
	CHECK_INT(remove_tree(store), ==, 0);
	CHECK_INT(mkdir(store, 0700), ==, 0);

	test_case("CRIU ended the tree and finished (stats-dump), its answer lost: the images are kept");
	root = launch_program(argv, DUMP_ID);
	ci = criu_at(fake_criu("ok-ends-lost"));
	CHECK_INT(dump_warned(root, &ci, &out, &e), ==, -1);
	fake_criu(NULL);
	CHECK_CONTAINS(e.msg, "CRIU had ended the program: its complete images are kept in ");
	CHECK_INT(dir_entries(store), ==, 1);
	programs_end(&root, 1);
	CHECK_INT(remove_tree(store), ==, 0);
	CHECK_INT(mkdir(store, 0700), ==, 0);

	test_case("CRIU finished, its answer lost, the tree running: nothing is kept, the program runs on");
	root = launch_program(argv, DUMP_ID);
	ci = criu_at(fake_criu("ok-lost"));
	CHECK_INT(dump_warned(root, &ci, &out, &e), ==, -1);
	fake_criu(NULL);
	CHECK_INT(dir_entries(store), ==, 0);
	check_runs(root);
	programs_end(&root, 1);

	test_case("CRIU left the tree running, the dump failed after it: nothing is kept, the program runs on");
	root = launch_program(argv, DUMP_ID);
	ci = criu_at(fake_criu("ok"));
	CHECK_INT(fault_add("rename-final=EIO"), ==, 0);
	CHECK_INT(dump_warned(root, &ci, &out, &e), ==, -1);
	fault_clear();
	fake_criu(NULL);
	CHECK_INT(dir_entries(store), ==, 0);
	check_runs(root);
	programs_end(&root, 1);
}

static void dump_tests(void)
{
	char *argv[] = { "/bin/sleep", "1000", NULL };
	pid_t root;

	test_no_process();
	test_leaks_refused();
	root = launch_program(argv, DUMP_ID);
	CHECK_INT(root, >, 0);
	if (root > 0) {
		test_exchange_fails(root);
		test_criu_fails(root);
		test_dump_under_way(root);
		test_dumped(root);
		test_final_manifest_fails(root);
		programs_end(&root, 1);
	}
	test_images_kept();
	CHECK(no_children());	/* CRIU's children too */
	arena_free_all();
}

TEST_GROUP(dump)
{
	CHECK(mkdtemp(store) != NULL);
	with_out_file(dump_tests);
	CHECK_INT(remove_tree(store), ==, 0);
	arena_free_all();
}
