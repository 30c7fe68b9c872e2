/* SPDX-License-Identifier: MIT */
/* Tests of pagemap.c: which pages a checkpoint holds and where, its parents' included. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu-images.pb-c.h"
#include "fileio.h"
#include "image_entries.h"
#include "pagemap.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "synth.h"

typedef Checkpoint__Criu__V1__PagemapEntry PagemapEntry;

#define OLD (1u << 8)		/* a run as CRIU before 4.2 wrote it (compat_nr_pages) */
#define NO_FLAGS (1u << 9)	/* a run of images older than the flags field */
#define IN_PARENT (1u << 10)	/* ... marked with in_parent */

struct run {
	uint64_t vaddr, pages;
	unsigned how;		/* PE_* and the bits above */
};

static void put_map(int dirfd, const char *name, uint32_t pages_id, const struct run *r, size_t n)
{
	Checkpoint__Criu__V1__PagemapHead head = CHECKPOINT__CRIU__V1__PAGEMAP_HEAD__INIT;
	PagemapEntry *e = calloc(n + 1, sizeof(*e));
	ProtobufCMessage **m = calloc(n + 1, sizeof(*m));

	head.pages_id = pages_id;
	head.has_pages_id = 1;
	m[0] = (ProtobufCMessage *)&head;
	for (size_t i = 0; i < n; i++) {
		checkpoint__criu__v1__pagemap_entry__init(&e[i]);
		e[i].vaddr = r[i].vaddr;
		e[i].has_vaddr = 1;
		if (r[i].how & OLD) {
			e[i].compat_nr_pages = (uint32_t)r[i].pages;
			e[i].has_compat_nr_pages = 1;
		} else {
			e[i].nr_pages = r[i].pages;
			e[i].has_nr_pages = 1;
		}
		e[i].flags = r[i].how & 7;
		e[i].has_flags = !(r[i].how & NO_FLAGS);
		e[i].in_parent = e[i].has_in_parent = !!(r[i].how & IN_PARENT);
		m[i + 1] = (ProtobufCMessage *)&e[i];
	}
	synth_image(dirfd, name, IMG_PAGEMAP_MAGIC, m, n + 1);
	free(e);
	free(m);
}

/* pages-<id>.img of pages pages, page k filled with mark + k. */
static void put_pages(int dirfd, uint32_t id, size_t pages, uint8_t mark)
{
	uint8_t *buf = malloc(pages * PAGE_BYTES + 1);
	char name[32];

	for (size_t k = 0; k < pages; k++)
		memset(buf + k * PAGE_BYTES, mark + k, PAGE_BYTES);
	snprintf(name, sizeof(name), "pages-%u.img", id);
	synth_file(dirfd, name, buf, pages * PAGE_BYTES);
	free(buf);
}

static int sub_dir(const char *dir, const char *name)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK_INT(mkdir(path, 0700), ==, 0);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The first byte of run r's pages: which pages file, which page (through pagemap_read). */
static int first_byte(const struct page_run *r)
{
	struct herr e = { 0 };
	uint8_t b = 0;

	return r->fd >= 0 && pagemap_read(r, r->start, &b, 1, &e) == 0 ? b : -1;
}

/* A run whose pages file ends before its bytes: refused, in words. */
static void test_read_short(void)
{
	struct page_run r = { .start = 0x1000, .end = 0x3000, .fd = open("/dev/null", O_RDONLY | O_CLOEXEC) };
	struct herr e = { 0 };
	uint8_t buf[16];

	test_case("pagemap_read: a pages file that ends before the run's bytes");
	CHECK_INT(pagemap_read(&r, 0x2000, buf, sizeof(buf), &e), ==, -1);
	CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
	CHECK_STR(e.msg, ==, "a pages image ends before the page at 0x2000 that its pagemap says it holds");
	close(r.fd);
}

static void check_run(const struct pagemap *m, size_t i, uint64_t start, uint64_t end, enum page_absent absent,
		      int byte)
{
	test_case("run %zu", i);
	CHECK_UINT(m->n, >, i);
	if (m->n <= i)
		return;
	CHECK_UINT(m->v[i].start, ==, start);
	CHECK_UINT(m->v[i].end, ==, end);
	CHECK_INT(m->v[i].absent, ==, absent);
	CHECK_INT(first_byte(&m->v[i]), ==, byte);
}

static void test_versions(const char *dir)
{
	const struct run r[] = { { 0x1000, 1, PE_PRESENT }, { 0x2000, 2, PE_PRESENT | OLD }, { 0x5000, 1, PE_LAZY },
				 { 0x6000, 1, PE_LAZY | PE_PRESENT }, { 0x8000, 1, NO_FLAGS },
				 { 0x9000, 1, NO_FLAGS | IN_PARENT } };
	int dirfd = sub_dir(dir, "versions");
	struct pagemap m;
	struct herr e = { 0 };

	put_map(dirfd, "pagemap-1.img", 3, r, ARRAY_SIZE(r));
	put_pages(dirfd, 3, 5, 0x10);
	test_case("CRIU 4.2 and 4.1 runs, lazy ones, and images older than flags");
	CHECK_OK(pagemap_load(dirfd, "pagemap-1.img", false, &m, &e), &e);
	CHECK_UINT(m.n, ==, 5);
	check_run(&m, 0, 0x1000, 0x4000, PAGE_HELD, 0x10);	/* joined: one after the other in pages-3.img */
	check_run(&m, 1, 0x5000, 0x6000, PAGE_LAZY, -1);
	check_run(&m, 2, 0x6000, 0x7000, PAGE_HELD, 0x13);
	check_run(&m, 3, 0x8000, 0x9000, PAGE_HELD, 0x14);
	check_run(&m, 4, 0x9000, 0xa000, PAGE_PARENT_MISSING, -1);	/* no parent link */
	pagemap_free(&m);
	close(dirfd);
}

/*
 * Three checkpoints, each the parent of the one before: the pages come from
 * whichever holds them; one that no parent holds is missing.
 */
static void test_parents(const char *dir)
{
	const struct run r0[] = { { 0x1000, 3, PE_PARENT }, { 0x4000, 1, PE_PRESENT } };
	const struct run r1[] = { { 0x1000, 1, PE_PRESENT }, { 0x2000, 1, PE_PARENT | PE_LAZY } };
	const struct run r2[] = { { 0x2000, 1, PE_PRESENT } };
	int l0 = sub_dir(dir, "l0"), l1 = sub_dir(dir, "l1"), l2 = sub_dir(dir, "l2");
	struct pagemap m;
	struct herr e = { 0 };

	put_map(l0, "pagemap-9.img", 1, r0, ARRAY_SIZE(r0));
	put_pages(l0, 1, 1, 0xa0);
	put_map(l1, "pagemap-9.img", 1, r1, ARRAY_SIZE(r1));
	put_pages(l1, 1, 1, 0xb0);
	put_map(l2, "pagemap-9.img", 7, r2, ARRAY_SIZE(r2));
	put_pages(l2, 7, 1, 0xc0);
	CHECK_INT(symlinkat("../l1", l0, "parent"), ==, 0);
	CHECK_INT(symlinkat("../l2", l1, "parent"), ==, 0);
	test_case("a chain of parents");
	CHECK_OK(pagemap_load(l0, "pagemap-9.img", false, &m, &e), &e);
	CHECK_UINT(m.n, ==, 4);
	check_run(&m, 0, 0x1000, 0x2000, PAGE_HELD, 0xb0);
	check_run(&m, 1, 0x2000, 0x3000, PAGE_HELD, 0xc0);
	check_run(&m, 2, 0x3000, 0x4000, PAGE_PARENT_MISSING, -1);	/* in no parent */
	check_run(&m, 3, 0x4000, 0x5000, PAGE_HELD, 0xa0);
	pagemap_free(&m);
	test_case("a parent link that loops: followed %d times, then missing", PAGEMAP_MAX_PARENTS);
	CHECK_INT(unlinkat(l2, "pagemap-9.img", 0), ==, 0);
	put_map(l2, "pagemap-9.img", 7, r0, 1);
	CHECK_INT(symlinkat(".", l2, "parent"), ==, 0);
	CHECK_OK(pagemap_load(l0, "pagemap-9.img", false, &m, &e), &e);
	check_run(&m, 1, 0x2000, 0x4000, PAGE_PARENT_MISSING, -1);	/* joined with 0x3000's */
	pagemap_free(&m);
	close(l0);
	close(l1);
	close(l2);
}

/* pagemap-1.img of dirfd with runs r is refused in words holding words. */
static void check_refused(int dirfd, const struct run *r, size_t n, const char *words)
{
	struct pagemap m;
	struct herr e = { 0 };

	if (r)
		put_map(dirfd, "pagemap-1.img", 1, r, n);
	CHECK_INT(pagemap_load(dirfd, "pagemap-1.img", true, &m, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
	CHECK_CONTAINS(e.msg, words);
	CHECK_UINT(m.n, ==, 0);
}

static void test_refused(const char *dir)
{
	const struct run unaligned[] = { { 0x1001, 1, PE_PRESENT } };
	const struct run overlap[] = { { 0x1000, 2, PE_PRESENT }, { 0x2000, 1, PE_PRESENT } };
	const struct run wrap[] = { { 0xfffffffffffff000ull, 2, PE_LAZY } };
	const struct run two[] = { { 0x1000, 2, PE_PRESENT } };
	int dirfd = sub_dir(dir, "refused");
	struct pagemap m;
	struct herr e = { 0 };

	test_case("missing, and optional: nothing held");
	CHECK_OK(pagemap_load(dirfd, "pagemap-1.img", true, &m, &e), &e);
	CHECK_UINT(m.n, ==, 0);
	pagemap_free(&m);
	test_case("missing, and needed");
	CHECK_INT(pagemap_load(dirfd, "pagemap-1.img", false, &m, &e), ==, -1);
	CHECK_CONTAINS(e.msg, "the checkpoint has no pagemap-1.img");
	test_case("an address inside a page");
	check_refused(dirfd, unaligned, 1, "pagemap-1.img has a run that cannot be: 1 pages at 0x1001");
	test_case("overlapping runs");
	check_refused(dirfd, overlap, 2, "1 pages at 0x2000 (after one that ends at 0x3000)");
	test_case("a run past the end of the address space");
	check_refused(dirfd, wrap, 1, "2 pages at 0xfffffffffffff000");
	test_case("no pages image");
	check_refused(dirfd, two, 1, "pagemap-1.img names pages-1.img, which cannot be opened");
	test_case("a pages image shorter than the runs");
	put_pages(dirfd, 1, 1, 0);
	check_refused(dirfd, NULL, 0, "pages-1.img holds 4096 bytes; pagemap-1.img says 8192");
	test_case("no head");
	synth_image(dirfd, "pagemap-1.img", IMG_PAGEMAP_MAGIC, NULL, 0);
	check_refused(dirfd, NULL, 0, "pagemap-1.img has no head naming its pages");
	close(dirfd);
}

TEST_GROUP(pagemap)
{
	char dir[] = "/tmp/ckpt-pagemap-XXXXXX";

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	test_versions(dir);
	test_parents(dir);
	test_refused(dir);
	test_read_short();
	remove_tree(dir);
}
