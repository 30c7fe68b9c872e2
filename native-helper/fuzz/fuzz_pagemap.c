/* SPDX-License-Identifier: MIT */
/*
 * A process's pagemap as the helper reads it (pagemap.c): the input is
 * pagemap-1.img of a checkpoint directory in the sandbox that also holds a
 * real pages-1.img and a parent checkpoint (the fixture's own pagemap and
 * pages), so runs may be held, lazy or in the parent. Every held run then
 * has its first and last page read (pagemap_read), and the map is searched
 * (pagemap_first_after) at each run's bounds.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"
#include "pagemap.h"
#include "sandbox.h"

static int child_dirfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int parent = sandbox_subdir("parent");

	(void)argc;
	(void)argv;
	sandbox_copy(FUZZ_FIXTURES "/checkpoint/pagemap-53.img", parent, "pagemap-1.img");
	sandbox_copy(FUZZ_FIXTURES "/checkpoint/pages-1.img", parent, "pages-1.img");
	close(parent);
	child_dirfd = sandbox_subdir("child");
	sandbox_copy(FUZZ_FIXTURES "/checkpoint/pages-1.img", child_dirfd, "pages-1.img");
	if (symlinkat("../parent", child_dirfd, "parent")) {
		perror("fuzz_pagemap: the parent link");
		abort();
	}
	return 0;
}

/* The first and the last page of held run r; the rest of the map is searched at its bounds. */
static void read_run(const struct pagemap *m, const struct page_run *r)
{
	static uint8_t page[PAGE_BYTES];
	struct herr e = { 0 };

	pagemap_first_after(m, r->start);
	pagemap_first_after(m, r->end);
	if (r->absent != PAGE_HELD)
		return;
	pagemap_read(r, r->start, page, PAGE_BYTES, &e);
	pagemap_read(r, r->end - PAGE_BYTES, page, PAGE_BYTES, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pagemap m = { 0 };
	struct herr e = { 0 };

	sandbox_write(child_dirfd, "pagemap-1.img", data, size);
	if (!pagemap_load(child_dirfd, "pagemap-1.img", false, &m, &e)) {
		for (size_t i = 0; i < m.n; i++)
			read_run(&m, &m.v[i]);
	}
	pagemap_free(&m);
	return 0;
}
