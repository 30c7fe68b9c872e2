/* SPDX-License-Identifier: MIT */
/*
 * Tests of store.c's sweep of what dumps that did not end left behind
 * (<id>.partial): finished images become checkpoints, the rest goes, and a
 * directory a dump still holds is left alone; and of deletes, which hide a
 * checkpoint before removing it (what a killed one hid is swept too).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "check.h"
#include "fileio.h"
#include "manifest.h"
#include "store.h"
#include "util.h"
#include "wire.h"

static char sweep_store[] = "/tmp/ckpt-sweep-XXXXXX";

/* <store>/<dir> as a dump leaves it: a first manifest (unless bare), CRIU's stats-dump when it finished. */
static void put_partial(const char *dir, bool finished, bool bare)
{
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	const char *path = arena_printf("%s/%s", sweep_store, dir);
	struct herr e = { 0 };
	int fd;

	c.id = arena_strdup(dir);
	c.created_unix_ms = 1000;
	c.root_pid = 7;
	c.provisional = true;
	CHECK_INT(mkdir(path, 0700), ==, 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!bare)
		CHECK_OK(manifest_write(fd, &c, &e), &e);
	CHECK_INT(write_file_at(fd, "pages-1.img", "pages", 5), ==, 0);
	if (finished)
		CHECK_INT(write_file_at(fd, "stats-dump", "stats", 5), ==, 0);
	close(fd);
}

static bool exists(const char *name)
{
	struct stat st;

	return lstat(arena_printf("%s/%s", sweep_store, name), &st) == 0;
}

/* The listing after the sweep: "id" or "id!" (damaged) or "id?" (provisional), by id. */
static const char *listing(void)
{
	ListResult res = CHECKPOINT__HELPER__V1__LIST_RESULT__INIT;
	struct herr e = { 0 };
	const char *ids = "";

	CHECK_OK(store_list(sweep_store, &res, &e), &e);
	for (size_t i = 0; i < res.n_checkpoints; i++) {
		const Checkpoint *c = res.checkpoints[i];

		ids = arena_printf("%s%s%s%s", ids, i ? " " : "", c->id, c->damaged[0] ? "!" : c->provisional ? "?" : "");
	}
	return ids;
}

static void test_sweep(void)
{
	int held;

	test_case("what dumps left: finished (with and without a manifest), unfinished, one still written");
	CHECK(mkdtemp(sweep_store) != NULL);
	put_partial("done.partial", true, false);
	put_partial("nomanifest.partial", true, true);
	put_partial("cut.partial", false, false);
	put_partial("writing.partial", false, false);
	put_partial("taken.partial", true, false);
	CHECK_INT(mkdir(arena_printf("%s/taken", sweep_store), 0700), ==, 0);
	held = open(arena_printf("%s/writing.partial", sweep_store), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(flock(held, LOCK_EX), ==, 0);

	test_case("finished images listed (provisional, or damaged without a manifest); unfinished ones removed");
	CHECK_STR(listing(), ==, "nomanifest! taken! done?");
	CHECK(!exists("done.partial") && exists("done/pages-1.img"));
	CHECK(!exists("nomanifest.partial") && exists("nomanifest/stats-dump"));
	CHECK(!exists("cut.partial"));
	test_case("a directory a dump holds is left alone; one whose id is taken stays as it is");
	CHECK(exists("writing.partial/pages-1.img"));
	CHECK(exists("taken.partial/stats-dump"));

	test_case("once its dump lets go, the next sweep removes it");
	close(held);
	store_sweep_partial(sweep_store);
	CHECK(!exists("writing.partial"));
	test_case("no store: nothing to sweep");
	store_sweep_partial(arena_printf("%s/absent", sweep_store));
	CHECK_INT(remove_tree(sweep_store), ==, 0);
	arena_free_all();
}

/* A checkpoint id whose dump finished (its manifest the first one: provisional). */
static int put_checkpoint(const char *id)
{
	put_partial(id, true, false);
	return open(arena_printf("%s/%s", sweep_store, id), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void test_delete(void)
{
	struct herr e = { 0 };
	Checkpoint *c;
	int fd, held;

	CHECK(mkdtemp(sweep_store) != NULL);
	test_case("a delete leaves nothing, hidden or not");
	fd = put_checkpoint("gone");
	CHECK_OK(store_delete(sweep_store, "gone", &e), &e);
	CHECK(!exists("gone") && !exists(".deleted-gone"));

	test_case("a reader that opened it before reads its manifest after: deleted, not damaged");
	c = manifest_read_at(fd, sweep_store, "gone", &e);
	CHECK(c == NULL);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	CHECK_STR(e.msg, ==, arena_printf("no checkpoint gone in %s any more: it was deleted meanwhile", sweep_store));
	close(fd);

	test_case("what a killed delete hid is not listed, and removed by the next listing unless a delete holds it");
	close(put_checkpoint(".deleted-cut"));
	close(put_checkpoint(".deleted-busy"));
	close(put_checkpoint("kept"));
	held = open(arena_printf("%s/.deleted-busy", sweep_store), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(flock(held, LOCK_EX), ==, 0);
	CHECK_STR(listing(), ==, "kept?");
	CHECK(!exists(".deleted-cut"));
	CHECK(exists(".deleted-busy/stats-dump"));
	close(held);
	store_sweep_partial(sweep_store);
	CHECK(!exists(".deleted-busy"));

	test_case("a checkpoint deleted again where a killed delete of the same id left it hidden");
	close(put_checkpoint(".deleted-kept"));
	CHECK_OK(store_delete(sweep_store, "kept", &e), &e);
	CHECK(!exists("kept") && !exists(".deleted-kept"));
	CHECK_STR(listing(), ==, "");
	CHECK_INT(remove_tree(sweep_store), ==, 0);
	arena_free_all();
}

TEST_GROUP(store_sweep)
{
	test_sweep();
	memcpy(sweep_store + strlen(sweep_store) - 6, "XXXXXX", 6);
	test_delete();
}
