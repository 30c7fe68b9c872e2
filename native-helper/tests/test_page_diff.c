/* SPDX-License-Identifier: MIT */
/*
 * Tests of page_diff.c on synthetic checkpoints (synth.h): identical
 * images, a few bytes changed in one page (of a process, of a shared
 * memory object), a page held in the parent (not
 * read when the other side is that parent), a page held by one side only,
 * and checkpoints that are not there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "page_diff.h"
#include "wire.h"
#include "check.h"
#include "service.h"
#include "synth.h"

#define PAGE 4096u

static char store[] = "/tmp/ckpt-page-diff-XXXXXX";

/* A checkpoint of processes 100 and 300 (the manifest lists them) with synth's images. */
static void put(const char *id, const struct synth_opts *o)
{
	struct fixture f;
	int fd;

	CHECK_INT(checkpoint_put(store, id, fixture(&f, id, SYNTH_PID, SYNTH_ZOMBIE, "synth")), ==, 0);
	fd = open(arena_printf("%s/%s", store, id), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(fd, >=, 0);
	if (fd < 0)
		return;
	synth_checkpoint(fd, o);
	close(fd);
}

static const ProcessPageDiff *diff(const char *a, const char *b, PageDiffResult *r, struct herr *e)
{
	checkpoint__helper__v1__page_diff_result__init(r);
	memset(e, 0, sizeof(*e));
	if (page_diff(store, a, b, r, e))
		return NULL;
	CHECK_INT(r->n_processes, ==, 2);	/* the zombie too, with nothing held */
	return r->n_processes ? r->processes[0] : NULL;
}

static void test_same_and_changed(void)
{
	const ProcessPageDiff *d;
	PageDiffResult r;
	struct herr e;
	int fd;

	test_case("identical images: every held page compared, none changed");
	put("a", NULL);
	put("b", NULL);
	d = diff("a", "b", &r, &e);
	CHECK_OK(0, &e);
	if (d) {
		CHECK_INT(d->pid, ==, SYNTH_PID);
		CHECK_UINT(d->pages_compared, ==, 3);	/* the data page and two stack pages (the third is lazy) */
		CHECK_UINT(d->pages_changed, ==, 0);
		CHECK_UINT(d->n_ranges, ==, 0);
		CHECK_UINT(r.processes[1]->pages_compared, ==, 0);
		CHECK_UINT(r.bytes_read, ==, 2 * 4 * PAGE);	/* and the shared memory object's page */
	}
	CHECK_UINT(r.n_shared_memory, ==, 1);
	if (r.n_shared_memory == 1) {
		CHECK_UINT(r.shared_memory[0]->shmid, ==, 5);
		CHECK_INT(r.shared_memory[0]->pid, ==, 0);
		CHECK_UINT(r.shared_memory[0]->pages_compared, ==, 1);
		CHECK_UINT(r.shared_memory[0]->n_ranges, ==, 0);
	}

	test_case("a byte of the shared memory object's page changed: one range, at its offset in the object");
	fd = open(arena_printf("%s/b/pages-2.img", store), O_WRONLY | O_CLOEXEC);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(pwrite(fd, "Y", 1, 100), ==, 1);
	close(fd);
	d = diff("a", "b", &r, &e);
	CHECK_INT(d ? (int)d->n_ranges : -1, ==, 0);
	if (r.n_shared_memory == 1 && r.shared_memory[0]->n_ranges == 1) {
		CHECK_UINT(r.shared_memory[0]->pages_changed, ==, 1);
		CHECK_UINT(r.shared_memory[0]->ranges[0]->start, ==, PAGE);
		CHECK_UINT(r.shared_memory[0]->ranges[0]->end, ==, 2 * PAGE);
		CHECK_UINT(r.shared_memory[0]->ranges[0]->bytes_differing, ==, 1);
	} else {
		CHECK(!"one shared memory range");
	}

	test_case("five bytes of the last stack page changed: one range, five bytes");
	fd = open(arena_printf("%s/b/pages-1.img", store), O_WRONLY | O_CLOEXEC);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(pwrite(fd, "XXXXX", 5, 2 * PAGE + 10), ==, 5);
	close(fd);
	d = diff("a", "b", &r, &e);
	if (d && d->n_ranges == 1) {
		CHECK_UINT(d->pages_changed, ==, 1);
		CHECK_UINT(d->ranges[0]->start, ==, SYNTH_STACK + 2 * PAGE);
		CHECK_UINT(d->ranges[0]->end, ==, SYNTH_STACK + 3 * PAGE);
		CHECK_INT(d->ranges[0]->kind, ==, PDK(CHANGED));
		CHECK_UINT(d->ranges[0]->bytes_differing, ==, 5);
	} else {
		CHECK(!"one range");
	}
	arena_free_all();
}

static void test_parents_and_one_side(void)
{
	static const struct synth_opts child = { .data_in_parent = true };
	const ProcessPageDiff *d;
	PageDiffResult r;
	struct herr e;

	test_case("a page the child reads from its parent, compared with that parent: the same bytes, not read");
	put("child", &child);
	CHECK_INT(symlink("../a", arena_printf("%s/child/parent", store)), ==, 0);
	d = diff("a", "child", &r, &e);
	CHECK_OK(0, &e);
	if (d) {
		CHECK_UINT(d->pages_compared, ==, 3);
		CHECK_UINT(d->n_ranges, ==, 0);
		CHECK_UINT(r.bytes_read, ==, 2 * 3 * PAGE);	/* the two stack pages and the shared memory page only */
	}

	test_case("with another checkpoint, a page in the parent is compared from there");
	d = diff("b", "child", &r, &e);
	CHECK_OK(0, &e);
	if (d) {
		CHECK_UINT(d->pages_compared, ==, 3);
		CHECK_UINT(d->pages_changed, ==, 1);	/* b's five bytes */
		CHECK_UINT(r.bytes_read, ==, 2 * 4 * PAGE);
	}

	test_case("a page whose parent is gone is held by one side only");
	put("orphan", &child);
	d = diff("a", "orphan", &r, &e);
	if (d && d->n_ranges == 1) {
		CHECK_UINT(d->pages_compared, ==, 2);
		CHECK_UINT(d->pages_only_a, ==, 1);
		CHECK_INT(d->ranges[0]->kind, ==, PDK(ONLY_A));
		CHECK_UINT(d->ranges[0]->start, ==, SYNTH_DATA_HELD);
	} else {
		CHECK(!"one range");
	}
	d = diff("orphan", "a", &r, &e);
	CHECK_INT(d && d->n_ranges == 1 ? d->ranges[0]->kind : 0, ==, PDK(ONLY_B));

	test_case("a checkpoint that is not there");
	CHECK_INT(page_diff(store, "a", "nothere", &r, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
	arena_free_all();
}

TEST_GROUP(page_diff)
{
	CHECK(mkdtemp(store) != NULL);
	test_same_and_changed();
	test_parents_and_one_side();
	CHECK_INT(remove_tree(store), ==, 0);
	arena_free_all();
}
