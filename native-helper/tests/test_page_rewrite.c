/* SPDX-License-Identifier: MIT */
/*
 * Tests of page_rewrite.c on its own (page_share.c's tests rewrite through
 * it too): unsharing takes in the pages a checkpoint reads from its parent
 * and leaves alone a pagemap that reads none; a parent that lacks pages its
 * child reads there is damage, refused with nothing changed; the pagemaps
 * of a checkpoint listed, those of processes or all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "page_rewrite.h"
#include "pagemap.h"
#include "wire.h"
#include "check.h"
#include "service.h"
#include "synth.h"

static char base[] = "/tmp/ckpt-page-rewrite-XXXXXX";

static off_t size_of(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) ? -1 : st.st_size;
}

/* The data page of synth's process as the checkpoint holds it: at which depth, with the right bytes. */
static void check_data_page(int dirfd, uint32_t depth)
{
	uint8_t page[PAGE_BYTES], want[PAGE_BYTES];
	struct pagemap m;
	struct herr e = { 0 };
	size_t k;

	CHECK_OK(pagemap_load(dirfd, "pagemap-100.img", false, &m, &e), &e);
	k = pagemap_first_after(&m, SYNTH_DATA_HELD);
	CHECK(k < m.n && m.v[k].start <= SYNTH_DATA_HELD && m.v[k].absent == PAGE_HELD);
	if (k < m.n && m.v[k].absent == PAGE_HELD) {
		CHECK_UINT(m.v[k].depth, ==, depth);
		CHECK_INT(pread_full(m.v[k].fd, page, sizeof(page), m.v[k].off + (SYNTH_DATA_HELD - m.v[k].start)), ==,
			  (int)sizeof(page));
		synth_page(SYNTH_DATA_HELD, want);
		CHECK(memcmp(page, want, sizeof(page)) == 0);
	}
	pagemap_free(&m);
}

static void test_take_in(void)
{
	static const struct synth_opts in_parent = { .data_in_parent = true };
	struct share_stats st = { 0 };
	struct herr e = { 0 };
	int parent = synth_dir(base, "p", NULL), child = synth_dir(base, "c", &in_parent);

	test_case("a pagemap reading a page from its parent takes it in: a new pages file, the page its own");
	CHECK_INT(symlinkat("../p", child, "parent"), ==, 0);
	check_data_page(child, 1);
	CHECK_OK(page_rewrite(child, "pagemap-100.img", NULL, &st, &e), &e);
	CHECK_INT(size_of(child, "pages-1.img"), ==, -1);	/* the old one gone */
	CHECK_INT(size_of(child, "pages-3.img"), ==, 3 * PAGE_BYTES);	/* 2 is the shared memory object's */
	CHECK_INT(unlinkat(child, "parent", 0), ==, 0);
	check_data_page(child, 0);

	test_case("a pagemap that reads nothing from its parent is left as it is");
	CHECK_INT(symlinkat("../p", child, "parent"), ==, 0);
	CHECK_OK(page_rewrite(child, "pagemap-100.img", NULL, &st, &e), &e);
	CHECK_INT(size_of(child, "pages-3.img"), ==, 3 * PAGE_BYTES);
	CHECK_INT(size_of(child, "pages-4.img"), ==, -1);
	close(parent);
	close(child);
	arena_free_all();
}

static void test_parent_lacks(void)
{
	static const struct synth_opts in_parent = { .data_in_parent = true };
	struct share_stats st = { 0 };
	struct herr e = { 0 };
	int child = synth_dir(base, "orphan", &in_parent);

	test_case("a parent that lacks a page its child reads there: refused, the images as they were");
	CHECK_INT(mkdirat(child, "empty", 0700), ==, 0);
	CHECK_INT(symlinkat("empty", child, "parent"), ==, 0);
	CHECK_INT(page_rewrite(child, "pagemap-100.img", NULL, &st, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
	CHECK(strstr(e.msg, "does not hold them") != NULL);
	CHECK_INT(size_of(child, "pages-1.img"), ==, 2 * PAGE_BYTES);
	CHECK_INT(size_of(child, "pages-3.img"), ==, -1);	/* the new one removed */
	close(child);
	arena_free_all();
}

static void test_names(void)
{
	struct pagemap_names all = { 0 }, processes = { 0 };
	struct herr e = { 0 };
	int dirfd = synth_dir(base, "names", NULL);

	test_case("the pagemaps of a checkpoint: of its processes, or with its shared memory objects'");
	CHECK_OK(pagemap_names(dirfd, true, &processes, &e), &e);
	CHECK_OK(pagemap_names(dirfd, false, &all, &e), &e);
	CHECK_UINT(processes.n, ==, 1);
	CHECK_STR(processes.n ? processes.v[0] : NULL, ==, "pagemap-100.img");
	CHECK_UINT(all.n, ==, 2);
	free(processes.v);
	free(all.v);
	close(dirfd);
	arena_free_all();
}

TEST_GROUP(page_rewrite)
{
	CHECK(mkdtemp(base) != NULL);
	test_take_in();
	test_parent_lacks();
	test_names();
	CHECK_INT(remove_tree(base), ==, 0);
	arena_free_all();
}
