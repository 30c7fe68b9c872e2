/* SPDX-License-Identifier: MIT */
/*
 * Tests of pid_origin.c: a running process at a checkpoint's pid is the
 * checkpoint's program when it is the process the checkpoint was taken of,
 * or one restored there (recorded), and not another of the same name that
 * took the pid over.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "check.h"
#include "fileio.h"
#include "pid_origin.h"

static char origin_dir[] = "/tmp/ckpt-origin-XXXXXX";

/* Where the record of the process restored at pid is (arena). */
static const char *record_of(pid_t pid)
{
	return arena_printf("%s/restored/%d", origin_dir, pid);
}

/* A child that waits to be killed: a process to record and compare. */
static pid_t waiting_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void end_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A checkpoint's record of the process st describes, its start time start_ticks. */
static CheckpointProcess as_checkpointed(const struct proc_stat *st, uint64_t start_ticks)
{
	CheckpointProcess p = CHECKPOINT__HELPER__V1__CHECKPOINT_PROCESS__INIT;

	p.pid = st->pid;
	p.comm = (char *)st->comm;
	p.start_ticks = start_ticks;
	return p;
}

/* A checkpoint of one process, p (listed in procs[0]), its root, run with command line args (NULL-ended). */
static Checkpoint checkpoint_of(CheckpointProcess *p, CheckpointProcess *procs[1], char **args)
{
	Checkpoint ck = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;

	procs[0] = p;
	p->cmdline = args;
	for (p->n_cmdline = 0; args[p->n_cmdline];)
		p->n_cmdline++;
	ck.root_pid = p->pid;
	ck.processes = procs;
	ck.n_processes = 1;
	return ck;
}

static void test_origin(void)
{
	static char *args_a[] = { "prog", "a.conf", NULL }, *args_b[] = { "prog", "b.conf", NULL };
	pid_t child = waiting_child();
	struct proc_stat st;
	CheckpointProcess p, q, *procs_ck[1], *procs_other[1];
	Checkpoint ck, other;
	char *text = NULL;

	CHECK_INT(read_proc_stat(child, &st), ==, 0);
	test_case("the process the checkpoint was taken of: its start time");
	p = as_checkpointed(&st, st.start_ticks);
	ck = checkpoint_of(&p, procs_ck, args_a);
	CHECK(pid_origin_is_checkpoints(&ck, &p, &st));
	test_case("a manifest without start times: the name decides");
	p.start_ticks = 0;
	CHECK(pid_origin_is_checkpoints(&ck, &p, &st));
	test_case("another name: never");
	p.start_ticks = st.start_ticks;
	p.comm = "other";
	CHECK(!pid_origin_is_checkpoints(&ck, &p, &st));
	test_case("the same name, another start time, not restored: another process took the pid");
	p = as_checkpointed(&st, st.start_ticks + 1000);
	ck = checkpoint_of(&p, procs_ck, args_a);
	CHECK(!pid_origin_is_checkpoints(&ck, &p, &st));
	test_case("restored at that pid (recorded): the checkpoint's program");
	pid_origin_record_restored(&ck, &child, 1);
	CHECK(pid_origin_is_checkpoints(&ck, &p, &st));
	test_case("restored there as another program of the same name and pid (another command line): not this one's");
	q = as_checkpointed(&st, st.start_ticks + 2000);
	other = checkpoint_of(&q, procs_other, args_b);
	CHECK(!pid_origin_is_checkpoints(&other, &q, &st));
	pid_origin_record_restored(&other, &child, 1);
	CHECK(pid_origin_is_checkpoints(&other, &q, &st));
	CHECK(!pid_origin_is_checkpoints(&ck, &p, &st));
	test_case("a damaged record, or one without its program (an older helper's), proves nothing");
	CHECK_INT(write_file_at(AT_FDCWD, record_of(child), "12x\n", 4), ==, 0);
	CHECK(!pid_origin_is_checkpoints(&ck, &p, &st));
	text = arena_printf("%llu\n", (unsigned long long)st.start_ticks);
	CHECK_INT(write_file_at(AT_FDCWD, record_of(child), text, strlen(text)), ==, 0);
	CHECK(!pid_origin_is_checkpoints(&ck, &p, &st));
	text = arena_printf("%llu 0123456789abcdef trailing\n", (unsigned long long)st.start_ticks);
	CHECK_INT(write_file_at(AT_FDCWD, record_of(child), text, strlen(text)), ==, 0);
	CHECK(!pid_origin_is_checkpoints(&ck, &p, &st));
	test_case("a record of an earlier holder of the pid proves nothing");
	CHECK_INT(write_file_at(AT_FDCWD, record_of(child), "1 0\n", 4), ==, 0);
	CHECK(!pid_origin_is_checkpoints(&ck, &p, &st));
	end_child(child);
	test_case("a process gone before its record: none written");
	pid_origin_record_restored(&ck, &child, 1);
	CHECK_INT(read_file_at(AT_FDCWD, record_of(child), &text, NULL, 64), ==, 0);
	CHECK_STR(text, ==, "1 0\n");
	free(text);
}

TEST_GROUP(pid_origin)
{
	CHECK(mkdtemp(origin_dir) != NULL);
	pid_origin_dir_set(arena_printf("%s/restored", origin_dir));
	test_origin();
	pid_origin_dir_set(RESTORED_DIR);
	CHECK_INT(remove_tree(origin_dir), ==, 0);
	arena_free_all();
}
