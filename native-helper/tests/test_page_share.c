/* SPDX-License-Identifier: MIT */
/*
 * Tests of page_share.c on checkpoints written in a temporary store, their
 * pagemaps as CRIU 4.1 (compat_nr_pages) and 4.2 (nr_pages) write them:
 * sharing over a parent, deleting the middle and the root of a chain, a
 * delete refused during a lazy restore, chain lengths, damaged images. Every
 * page is read back through pagemap_load and compared with its bytes before.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "criu-images.pb-c.h"
#include "fileio.h"
#include "image_entries.h"
#include "lists.h"
#include "manifest.h"
#include "page_share.h"
#include "page_unshare.h"
#include "pagemap.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"
#include "synth.h"

typedef Checkpoint__Criu__V1__PagemapHead PagemapHead;
typedef Checkpoint__Criu__V1__PagemapEntry PagemapEntry;

#define PAGE PAGE_BYTES
#define WIDE (1u << 8)			/* the count in nr_pages, compat_nr_pages 0 (CRIU 4.2) */
#define MAX_ENTRIES 32
#define MAX_VIEW 32
#define HUGE_LAZY ((1ull << 32) + 3)	/* pages: a count only nr_pages holds */
#define MAP "pagemap-100.img"

static char store[] = "/tmp/ckpt-page-share-XXXXXX";
static struct fdlist dirs;	/* the checkpoint directories the tests opened */

struct run {
	uint64_t vaddr, pages;
	uint32_t flags;		/* PE_* and WIDE */
	const char *ver;	/* a held run: each page's version, a letter a page */
};

/* ---- writing ---------------------------------------------------------------- */

/* A page's bytes: pages of one address are alike when of the same version, else differ throughout. */
static void page_bytes(uint64_t addr, char ver, uint8_t *p)
{
	for (size_t i = 0; i < PAGE; i++)
		p[i] = (uint8_t)((addr >> 12) * 13 + i * 3 + (unsigned char)ver * 101);
}

static bool held(const struct run *r)
{
	return (r->flags & PE_PRESENT) && !(r->flags & PE_PARENT);
}

/* Image name of dirfd: runs r under a head naming pages-<id>.img, and that file with the held pages in order. */
static void put_map(int dirfd, const char *name, uint32_t id, const struct run *r, size_t n)
{
	PagemapHead head = CHECKPOINT__CRIU__V1__PAGEMAP_HEAD__INIT;
	PagemapEntry e[MAX_ENTRIES];
	ProtobufCMessage *m[MAX_ENTRIES + 1] = { &head.base };
	uint8_t *pages = malloc(MAX_VIEW * PAGE), *at = pages;

	head.has_pages_id = 1;
	head.pages_id = id;
	for (size_t i = 0; i < n && i < MAX_ENTRIES; i++) {
		checkpoint__criu__v1__pagemap_entry__init(&e[i]);
		e[i].has_vaddr = e[i].has_flags = e[i].has_compat_nr_pages = 1;
		e[i].vaddr = r[i].vaddr;
		e[i].flags = r[i].flags & 7;
		e[i].compat_nr_pages = r[i].flags & WIDE ? 0 : (uint32_t)r[i].pages;
		e[i].has_nr_pages = !!(r[i].flags & WIDE);
		e[i].nr_pages = r[i].pages;
		m[i + 1] = &e[i].base;
		for (size_t k = 0; held(&r[i]) && k < r[i].pages; k++, at += PAGE)
			page_bytes(r[i].vaddr + k * PAGE, r[i].ver[k], at);
	}
	synth_image(dirfd, name, IMG_PAGEMAP_MAGIC, m, n + 1);
	synth_file(dirfd, arena_printf("pages-%u.img", id), pages, at - pages);
	free(pages);
}

/*
 * Checkpoint id of the store, made (with a manifest of process 100, none for
 * a .partial) with pagemap-100.img of runs r under pages id 1; its descriptor.
 */
static int ckpt_n(const char *id, const struct run *r, size_t n)
{
	const char *path = arena_printf("%s/%s", store, id);
	struct fixture f;
	int fd;

	if (str_ends_with(id, ".partial"))
		CHECK_INT(mkdir(path, 0700), ==, 0);
	else
		CHECK_INT(checkpoint_put(store, id, fixture(&f, id, SYNTH_PID, 0, "synth")), ==, 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(fd, >=, 0);
	fdlist_add(&dirs, fd);
	put_map(fd, MAP, 1, r, n);
	return fd;
}

#define ckpt(id, runs) ckpt_n(id, runs, ARRAY_SIZE(runs))

static void share(int dirfd, const char *parent, uint64_t shared, uint64_t own)
{
	struct share_stats st;
	struct herr e = { 0 };

	CHECK_OK(page_share(dirfd, parent, &st, &e), &e);
	CHECK_UINT(st.shared_pages, ==, shared);
	CHECK_UINT(st.own_pages, ==, own);
}

/* ---- reading back ------------------------------------------------------------ */

/* The pagemap names pages-<id>.img and holds exactly the entries want, each counted where it says (WIDE or not). */
static void check_entries(int dirfd, const char *name, uint32_t id, const struct run *want, size_t n)
{
	struct herr e = { 0 };
	ProtobufCMessage *msg = NULL;
	struct image_buf b;
	size_t i = 0;

	CHECK_OK(image_load(dirfd, name, IMG_PAGEMAP_MAGIC, &b, &e), &e);
	CHECK_INT(image_next_msg(&b, &checkpoint__criu__v1__pagemap_head__descriptor, &msg, &e), ==, 1);
	CHECK_UINT(msg ? ((PagemapHead *)msg)->pages_id : 0, ==, id);
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
	for (; msg && image_next_msg(&b, &checkpoint__criu__v1__pagemap_entry__descriptor, &msg, &e) > 0; i++) {
		const PagemapEntry *pe = (const PagemapEntry *)msg;
		const struct run *w = i < n ? &want[i] : &(struct run){ 0 };
		bool wide = w->flags & WIDE;

		CHECK_UINT(pe->vaddr, ==, w->vaddr);
		CHECK_UINT(pe->flags, ==, w->flags & 7);
		CHECK_INT(pe->has_nr_pages, ==, wide);
		CHECK_UINT(wide ? pe->nr_pages : pe->compat_nr_pages, ==, w->pages);
		CHECK_UINT(wide ? pe->compat_nr_pages : 0, ==, 0);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	CHECK_UINT(i, ==, n);
	image_release(&b);
}

/* What pagemap_load makes of a pagemap: each held page with its bytes, each other run whole. */
struct piece {
	uint64_t start, end;
	int absent, depth;
};

struct view {
	size_t n;
	struct piece p[MAX_VIEW];
	uint8_t data[MAX_VIEW][PAGE];
};

/* The view of image name of dirfd (empty, the failure told, when it cannot be read). */
static struct view *view_load(int dirfd, const char *name)
{
	struct view *v = arena_alloc(sizeof(*v));
	struct herr e = { 0 };
	struct pagemap m;

	CHECK_OK(pagemap_load(dirfd, name, false, &m, &e), &e);
	for (size_t k = 0; k < m.n; k++) {
		const struct page_run *r = &m.v[k];
		bool page = r->absent == PAGE_HELD;

		for (uint64_t at = r->start; at < r->end && v->n < MAX_VIEW; at = page ? at + PAGE : r->end, v->n++) {
			v->p[v->n] = (struct piece){ at, page ? at + PAGE : r->end, (int)r->absent, (int)r->depth };
			if (page)
				CHECK_INT(pread_full(r->fd, v->data[v->n], PAGE, r->off + (at - r->start)), ==, PAGE);
		}
	}
	CHECK_UINT(v->n, <, MAX_VIEW);
	pagemap_free(&m);
	return v;
}

/* Image name of dirfd reads as before did: the same pages held, with the same bytes, the same runs not held. */
static struct view *check_reads_as(int dirfd, const char *name, const struct view *before)
{
	struct view *v = view_load(dirfd, name);

	CHECK_UINT(v->n, ==, before->n);
	for (size_t i = 0; i < v->n && i < before->n; i++) {
		CHECK_UINT(v->p[i].start, ==, before->p[i].start);
		CHECK_UINT(v->p[i].end, ==, before->p[i].end);
		CHECK_INT(v->p[i].absent, ==, before->p[i].absent);
		CHECK(!memcmp(v->data[i], before->data[i], PAGE));
	}
	return v;
}

/* The piece holding addr (depth and absent -1 when there is none). */
static const struct piece *piece_at(const struct view *v, uint64_t addr)
{
	static const struct piece none = { 0, 0, -1, -1 };

	for (size_t i = 0; i < v->n; i++)
		if (v->p[i].start <= addr && addr < v->p[i].end)
			return &v->p[i];
	return &none;
}

/* The pages at addr (n of them) are read from depth. */
static void check_depths(const struct view *v, const uint64_t *addr, size_t n, int depth)
{
	for (size_t i = 0; i < n; i++) {
		test_case("the page at %#llx read from depth %d", (unsigned long long)addr[i], depth);
		CHECK_INT(piece_at(v, addr[i])->depth, ==, depth);
	}
}

/* Every held page of runs r reads from v with the bytes its version gives. */
static void check_holds(const struct view *v, const struct run *r, size_t n)
{
	uint8_t page[PAGE];

	for (size_t i = 0; i < n; i++)
		for (uint64_t k = 0; held(&r[i]) && k < r[i].pages; k++) {
			uint64_t addr = r[i].vaddr + k * PAGE;
			const struct piece *p = piece_at(v, addr);

			test_case("the page at %#llx holds its bytes", (unsigned long long)addr);
			page_bytes(addr, r[i].ver[k], page);
			CHECK(p->absent == PAGE_HELD && !memcmp(v->data[p - v->p], page, PAGE));
		}
}

static int not_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
}

/* ":size:hash" of a file, "->target" of a link. */
static const char *contents(int dirfd, const char *name)
{
	uint64_t h = 1469598103934665603ull;
	char *data = NULL, target[256];
	size_t len = 0;
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

	if (n >= 0)
		return arena_printf("->%.*s", (int)n, target);
	if (read_file_at(dirfd, name, &data, &len, 1 << 24))
		return ":?";
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)data[i]) * 1099511628211ull;
	free(data);
	return arena_printf(":%zu:%llx", len, (unsigned long long)h);
}

/* The entries of dirfd, sorted, with a comma between; with their contents when full. */
static const char *listing(int dirfd, bool full)
{
	struct dirent **v;
	int n = scandirat(dirfd, ".", &v, not_dots, alphasort);
	const char *s = "";

	if (n < 0)
		return "?";
	for (int i = 0; i < n; i++) {
		s = arena_printf("%s%s%s%s", s, i ? "," : "", v[i]->d_name, full ? contents(dirfd, v[i]->d_name) : "");
		free(v[i]);
	}
	free(v);
	return s;
}

/* "../<id>" of the parent link of dirfd, "" when there is none. */
static const char *link_of(int dirfd)
{
	const char *c = contents(dirfd, "parent");

	return c[0] == '-' ? c + 2 : "";
}

static bool exists(const char *id)
{
	return access(arena_printf("%s/%s", store, id), F_OK) == 0;
}

/* ---- sharing ---------------------------------------------------------------- */

static const struct run a_runs[] = {
	{ 0x10000, 4, PE_PRESENT, "aaaa" }, { 0x20000, 2, PE_PRESENT | PE_LAZY, "aa" }, { 0x30000, 1, PE_LAZY, NULL },
	{ 0x70000, 1, PE_PRESENT, "a" }, { 0x72000, 1, PE_PRESENT, "a" }, { 0x80000, 1, PE_PRESENT, "a" },
};
static const struct run b_runs[] = {
	{ 0x10000, 4, PE_PRESENT, "abba" }, { 0x20000, 2, PE_PRESENT | PE_LAZY, "ab" }, { 0x30000, 1, PE_PRESENT, "a" },
	{ 0x40000, 1, PE_PRESENT, "a" }, { 0x50000, 1, PE_LAZY, NULL }, { 0x70000, 3, PE_PRESENT, "aaa" },
};
static const struct run b_shared[] = {
	{ 0x10000, 1, PE_PARENT, NULL }, { 0x11000, 2, PE_PRESENT, NULL }, { 0x13000, 1, PE_PARENT, NULL },
	{ 0x20000, 1, PE_PARENT, NULL }, { 0x21000, 1, PE_PRESENT | PE_LAZY, NULL }, { 0x30000, 1, PE_PRESENT, NULL },
	{ 0x40000, 1, PE_PRESENT, NULL }, { 0x50000, 1, PE_LAZY, NULL },
	{ 0x70000, 1, PE_PARENT, NULL }, { 0x71000, 1, PE_PRESENT, NULL }, { 0x72000, 1, PE_PARENT, NULL },
};
static const struct run shm_runs[] = { { 0x1000, 1, PE_PRESENT, "s" } };
static const struct run two_a[] = { { 0x10000, 2, PE_PRESENT, "aa" } };
static const struct run two_b[] = { { 0x10000, 2, PE_PRESENT, "ab" } };
static const struct run three_a[] = { { 0x10000, 3, PE_PRESENT, "aaa" } };

/*
 * B over A (process 100 in both): its pages alike in A marked there, the
 * others kept with their entries' flags (A's lazy-only page and the page A
 * lacks too) in pages-3.img (2 is its shared memory's), pages-1.img gone.
 */
static void test_share_over_parent(void)
{
	static const uint64_t own_at[] = { 0x11000, 0x12000, 0x21000, 0x30000, 0x40000, 0x71000 };
	static const uint64_t parent_at[] = { 0x10000, 0x13000, 0x20000, 0x70000, 0x72000 };
	int a = ckpt("A", a_runs), b = ckpt("B", b_runs);
	const char *a_was = listing(a, true), *shm_was;
	struct view *before, *after;

	test_case("a new checkpoint over its parent: the pages alike marked in the parent");
	put_map(b, "pagemap-shmem-5.img", 2, shm_runs, 1);
	before = view_load(b, MAP);
	shm_was = arena_printf("%s%s", contents(b, "pagemap-shmem-5.img"), contents(b, "pages-2.img"));
	share(b, "A", ARRAY_SIZE(parent_at), ARRAY_SIZE(own_at));
	CHECK_STR(link_of(b), ==, "../A");
	CHECK_STR(listing(b, false), ==, "manifest.json,manifest.pb,pagemap-100.img,pagemap-shmem-5.img,pages-2.img,"
		  "pages-3.img,parent");
	check_entries(b, MAP, 3, b_shared, ARRAY_SIZE(b_shared));
	CHECK_CONTAINS(contents(b, "pages-3.img"), arena_printf(":%zu:", ARRAY_SIZE(own_at) * PAGE));
	CHECK_STR(arena_printf("%s%s", contents(b, "pagemap-shmem-5.img"), contents(b, "pages-2.img")), ==, shm_was);
	CHECK_STR(listing(a, true), ==, a_was);

	test_case("the new checkpoint read back: the same bytes, from the parent or its own");
	after = check_reads_as(b, MAP, before);
	check_holds(after, b_runs, ARRAY_SIZE(b_runs));
	check_depths(after, parent_at, ARRAY_SIZE(parent_at), 1);
	check_depths(after, own_at, ARRAY_SIZE(own_at), 0);
	test_case("the lazy-only page kept");
	CHECK_INT(piece_at(after, 0x50000)->depth, ==, 0);
	CHECK_INT(piece_at(after, 0x50000)->absent, ==, PAGE_LAZY);
}

/* Nothing in common: other bytes at every address A holds, and a process A has no pagemap of. */
static void test_nothing_shared(void)
{
	static const struct run b_map[] = { { 0x10000, 2, PE_PRESENT, "bc" }, { 0x20000, 1, PE_LAZY, NULL } };
	int b = ckpt("N2", b_map);
	struct view *before = view_load(b, MAP);
	const char *was;

	test_case("nothing in common with the parent: the checkpoint left as it was, without a link");
	ckpt("N1", two_a);
	put_map(b, "pagemap-200.img", 2, two_a, 1);
	was = listing(b, true);
	share(b, "N1", 0, 4);	/* own: the pages of both processes */
	CHECK_STR(listing(b, true), ==, was);
	CHECK_STR(link_of(b), ==, "");
	check_entries(b, MAP, 1, b_map, ARRAY_SIZE(b_map));
	check_reads_as(b, MAP, before);
}

/*
 * CRIU 4.2's pagemaps over a parent CRIU 4.1 wrote: the counts stay in
 * nr_pages (compat_nr_pages 0), lazy-only entries as they were, one of more
 * pages than 32 bits count among them.
 */
static void test_wide_and_lazy(void)
{
	static const struct run b_map[] = {
		{ 0x10000, 3, PE_PRESENT | WIDE, "aba" }, { 0x20000, 2, PE_LAZY | WIDE, NULL },
		{ 0x40000, 1, PE_PRESENT | PE_LAZY | WIDE, "a" }, { 0x100000000000ull, HUGE_LAZY, PE_LAZY | WIDE, NULL },
	};
	static const struct run want[] = {
		{ 0x10000, 1, PE_PARENT | WIDE, NULL }, { 0x11000, 1, PE_PRESENT | WIDE, NULL },
		{ 0x12000, 1, PE_PARENT | WIDE, NULL }, { 0x20000, 2, PE_LAZY | WIDE, NULL },
		{ 0x40000, 1, PE_PRESENT | PE_LAZY | WIDE, NULL }, { 0x100000000000ull, HUGE_LAZY, PE_LAZY | WIDE, NULL },
	};
	static const uint64_t own_at[] = { 0x11000, 0x40000 };
	int b = ckpt("W2", b_map);
	struct view *before = view_load(b, MAP), *after;

	test_case("CRIU 4.2's counts kept in nr_pages, over a parent of CRIU 4.1");
	ckpt("W1", three_a);
	share(b, "W1", 2, 2);
	check_entries(b, MAP, 2, want, ARRAY_SIZE(want));
	CHECK_CONTAINS(contents(b, "pages-2.img"), arena_printf(":%zu:", ARRAY_SIZE(own_at) * PAGE));
	test_case("lazy-only entries kept as they were");
	after = check_reads_as(b, MAP, before);
	CHECK_UINT(piece_at(after, 0x100000000000ull)->end, ==, 0x100000000000ull + HUGE_LAZY * PAGE);
	CHECK_INT(piece_at(after, 0x100000000000ull)->absent, ==, PAGE_LAZY);
	CHECK_INT(piece_at(after, 0x21000)->absent, ==, PAGE_LAZY);
	CHECK_INT(piece_at(after, 0x12000)->depth, ==, 1);
}

/* A pagemap with a run already marked in a parent (no dump of the helper writes one) is left whole. */
static void test_already_in_parent(void)
{
	static const struct run b_map[] = {
		{ 0x10000, 1, PE_PRESENT, "a" }, { 0x11000, 1, PE_PARENT, NULL }, { 0x12000, 1, PE_PRESENT, "b" },
	};
	int b = ckpt("P2", b_map);
	const char *was = listing(b, true);
	struct view *before = view_load(b, MAP);

	test_case("a run already in a parent: the pagemap left as it is, all its runs kept");
	ckpt("P1", three_a);
	share(b, "P1", 0, 2);
	CHECK_STR(listing(b, true), ==, was);
	CHECK_STR(link_of(b), ==, "");
	check_reads_as(b, MAP, before);
}

/* ---- deleting --------------------------------------------------------------- */

static const struct run chain_a[] = { { 0x10000, 4, PE_PRESENT, "aaaa" }, { 0x20000, 1, PE_PRESENT, "a" } };
static const struct run chain_b[] = { { 0x10000, 4, PE_PRESENT, "abba" }, { 0x20000, 1, PE_PRESENT, "a" } };
static const struct run chain_c[] = {
	{ 0x10000, 4, PE_PRESENT, "abca" }, { 0x20000, 1, PE_PRESENT, "a" }, { 0x30000, 1, PE_PRESENT, "c" },
};
static const struct run chain_d[] = { { 0x10000, 2, PE_PRESENT, "ab" } };
static const struct run shm_c[] = { { 0x1000, 1, PE_PARENT, NULL } };
/* C's pages: those B read from A, the one it read from B itself, its own */
static const uint64_t c_in_a[] = { 0x10000, 0x13000, 0x20000 }, c_in_b[] = { 0x11000 }, c_own[] = { 0x12000, 0x30000 };

/* CA <- CB <- CC and CD.partial over CB; the views of CC and CD.partial before any delete. */
struct chain {
	int c, d;
	struct view *c100, *cshm, *d100;
};

static void build_chain(struct chain *ch)
{
	int b = ckpt("CB", chain_b);

	ckpt("CA", chain_a);
	ch->c = ckpt("CC", chain_c);
	ch->d = ckpt("CD.partial", chain_d);
	test_case("a chain built by sharing: B over A, C and D.partial over B");
	share(b, "CA", 3, 2);
	share(ch->c, "CB", 4, 2);
	share(ch->d, "CB", 2, 0);
	/* shared memory is never shared by a dump: written so, C reading its page from B */
	put_map(b, "pagemap-shmem-5.img", 20, shm_runs, 1);
	put_map(ch->c, "pagemap-shmem-5.img", 21, shm_c, 1);
	ch->c100 = view_load(ch->c, MAP);
	ch->cshm = view_load(ch->c, "pagemap-shmem-5.img");
	ch->d100 = view_load(ch->d, MAP);
	check_holds(ch->c100, chain_c, ARRAY_SIZE(chain_c));
	check_depths(ch->c100, c_in_a, ARRAY_SIZE(c_in_a), 2);
	check_depths(ch->c100, c_in_b, ARRAY_SIZE(c_in_b), 1);
	check_depths(ch->c100, c_own, ARRAY_SIZE(c_own), 0);
	test_case("C's shared memory and D.partial read from B");
	CHECK_INT(piece_at(ch->cshm, 0x1000)->depth, ==, 1);
	CHECK_INT(piece_at(ch->d100, 0x10000)->depth, ==, 2);
	CHECK_INT(piece_at(ch->d100, 0x11000)->depth, ==, 1);
}

static void check_manifest(const char *id, const char *parent, uint64_t least)
{
	struct herr e = { 0 };
	Checkpoint *m = manifest_read(store, id, &e);

	CHECK(m != NULL);
	CHECK_STR(m ? m->parent : NULL, ==, parent);
	CHECK_UINT(m ? m->size_bytes : 0, >=, least);
	/* the size of the files then: the manifest has changed since, by a few bytes */
	CHECK_UINT(m ? m->size_bytes : UINT64_MAX, <=, dir_size(arena_printf("%s/%s", store, id)) + 256);
}

/* B deleted: C and D.partial stand on A, what they read from B (B's own pages and A's) read as before. */
static void test_delete_middle(const struct chain *ch)
{
	struct herr e = { 0 };
	struct view *v;

	test_case("the middle of a chain deleted: its children stand on its parent");
	CHECK_OK(page_unshare_delete(store, "CB", &e), &e);
	CHECK(!exists("CB"));
	CHECK_STR(link_of(ch->c), ==, "../CA");
	CHECK_STR(link_of(ch->d), ==, "../CA");
	CHECK_STR(listing(ch->c, false), ==, "manifest.json,manifest.pb,pagemap-100.img,pagemap-shmem-5.img,"
		  "pages-22.img,pages-3.img,parent");
	CHECK_STR(listing(ch->d, false), ==, "pagemap-100.img,pages-3.img,parent");
	v = check_reads_as(ch->c, MAP, ch->c100);
	check_holds(v, chain_c, ARRAY_SIZE(chain_c));
	check_depths(v, c_in_a, ARRAY_SIZE(c_in_a), 1);
	check_depths(v, c_in_b, ARRAY_SIZE(c_in_b), 0);
	check_depths(v, c_own, ARRAY_SIZE(c_own), 0);
	test_case("C's shared memory holds the page it read from B");
	v = check_reads_as(ch->c, "pagemap-shmem-5.img", ch->cshm);
	check_holds(v, shm_runs, 1);
	CHECK_INT(piece_at(v, 0x1000)->depth, ==, 0);
	test_case("D.partial too");
	v = check_reads_as(ch->d, MAP, ch->d100);
	CHECK_INT(piece_at(v, 0x10000)->depth, ==, 1);
	CHECK_INT(piece_at(v, 0x11000)->depth, ==, 0);
	test_case("C's manifest: its new parent and size");
	check_manifest("CC", "CA", 4 * PAGE);
}

/* A deleted under C and D.partial: they hold every page themselves, no link left. */
static void test_delete_root(const struct chain *ch)
{
	static const uint64_t all[] = { 0x10000, 0x11000, 0x12000, 0x13000, 0x20000, 0x30000 };
	struct herr e = { 0 };
	struct view *v;

	test_case("the root deleted under its children: self-contained");
	CHECK_OK(page_unshare_delete(store, "CA", &e), &e);
	CHECK(!exists("CA"));
	CHECK_STR(link_of(ch->c), ==, "");
	CHECK_STR(link_of(ch->d), ==, "");
	CHECK_STR(listing(ch->c, false), ==, "manifest.json,manifest.pb,pagemap-100.img,pagemap-shmem-5.img,"
		  "pages-22.img,pages-4.img");
	CHECK_STR(listing(ch->d, false), ==, "pagemap-100.img,pages-4.img");
	v = check_reads_as(ch->c, MAP, ch->c100);
	check_holds(v, chain_c, ARRAY_SIZE(chain_c));
	check_depths(v, all, ARRAY_SIZE(all), 0);
	check_reads_as(ch->c, "pagemap-shmem-5.img", ch->cshm);
	v = check_reads_as(ch->d, MAP, ch->d100);
	check_holds(v, chain_d, ARRAY_SIZE(chain_d));
	check_depths(v, all, 2, 0);
	test_case("C's manifest: no parent");
	check_manifest("CC", "", 7 * PAGE);
	test_case("a checkpoint nothing stands on, and one that is not there");
	CHECK_OK(page_unshare_delete(store, "CC", &e), &e);
	CHECK(!exists("CC"));
	CHECK_INT(page_unshare_delete(store, "CC", &e), ==, -1);
	CHECK_INT(e.code, ==, EC(NOT_FOUND));
}

/* A lazy restore reads the checkpoint (its supervisor's lock held): the delete refused, nothing changed. */
static void test_busy(void)
{
	int a = ckpt("L1", two_a), b = ckpt("L2", two_b), lock;
	struct view *before = view_load(b, MAP);
	const char *a_was, *b_was;
	struct herr e = { 0 };

	share(b, "L1", 1, 1);
	CHECK_INT(mkdir_p(arena_printf("%s/.lazy", store), 0700), ==, 0);
	lock = open(arena_printf("%s/.lazy/L1", store), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK_INT(flock(lock, LOCK_EX), ==, 0);
	a_was = listing(a, true);
	b_was = listing(b, true);
	test_case("a checkpoint being restored lazily: its delete refused, nothing changed");
	CHECK_INT(page_unshare_delete(store, "L1", &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BUSY));
	CHECK_CONTAINS(e.msg, "checkpoint L1 is being restored lazily");
	CHECK(exists("L1"));
	CHECK_STR(listing(a, true), ==, a_was);
	CHECK_STR(listing(b, true), ==, b_was);
	test_case("the restore over: deleted, its child self-contained");
	close(lock);
	CHECK_OK(page_unshare_delete(store, "L1", &e), &e);
	CHECK(!exists("L1"));
	CHECK_STR(link_of(b), ==, "");
	check_reads_as(b, MAP, before);
}

/* ---- chains and damage ------------------------------------------------------ */

/* Directory name of base, made, with a parent link to link (NULL: none); its descriptor. */
static int sub_dir(const char *base, const char *name, const char *link)
{
	int fd;

	CHECK_INT(mkdir(arena_printf("%s/%s", base, name), 0700), ==, 0);
	fd = open(arena_printf("%s/%s", base, name), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(fd, >=, 0);
	fdlist_add(&dirs, fd);
	if (link)
		CHECK_INT(symlinkat(link, fd, "parent"), ==, 0);
	return fd;
}

static void test_chain_length(void)
{
	const char *base = arena_printf("%s/len", store);
	int fd[SHARE_MAX_CHAIN + 2];

	CHECK_INT(mkdir(base, 0700), ==, 0);
	for (int i = 0; i < SHARE_MAX_CHAIN + 2; i++)
		fd[i] = sub_dir(base, arena_printf("l%d", i), i ? arena_printf("../l%d", i - 1) : NULL);
	test_case("no link, a chain, one as long as it may be, one longer");
	CHECK_UINT(share_chain_length(fd[0]), ==, 0);
	CHECK_UINT(share_chain_length(fd[3]), ==, 3);
	CHECK_UINT(share_chain_length(fd[SHARE_MAX_CHAIN]), ==, SHARE_MAX_CHAIN);
	CHECK_UINT(share_chain_length(fd[SHARE_MAX_CHAIN + 1]), ==, SHARE_MAX_CHAIN + 1);
	test_case("a link to itself, a cycle of two, a link to nothing");
	CHECK_UINT(share_chain_length(sub_dir(base, "self", ".")), ==, SHARE_MAX_CHAIN + 1);
	sub_dir(base, "y", "../x");
	CHECK_UINT(share_chain_length(sub_dir(base, "x", "../y")), ==, SHARE_MAX_CHAIN + 1);
	CHECK_UINT(share_chain_length(sub_dir(base, "gone", "../nothere")), ==, 0);
}

/* page_share of dirfd over parent fails, the image damaged in words; dirfd as it was, without a link. */
static void check_refused(int dirfd, const char *parent, const char *words)
{
	const char *was = listing(dirfd, true);
	struct share_stats st;
	struct herr e = { 0 };

	CHECK_INT(page_share(dirfd, parent, &st, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
	CHECK_CONTAINS(e.msg, words);
	CHECK_UINT(st.shared_pages, ==, 0);
	CHECK_STR(listing(dirfd, true), ==, was);
	CHECK_STR(link_of(dirfd), ==, "");
}

/* pages-<n>.img of checkpoint id cut to len bytes. */
static void cut_pages(const char *id, uint32_t n, off_t len)
{
	CHECK_INT(truncate(arena_printf("%s/%s/pages-%u.img", store, id, n), len), ==, 0);
}

/* A pages file shorter than its pagemap says, the new checkpoint's or its parent's. */
static void test_damaged(void)
{
	int b = ckpt("D2", two_b), own = ckpt("D3", two_b);
	struct view *before = view_load(b, MAP);

	ckpt("D1", two_a);
	test_case("the new checkpoint's pages file too short: refused, left as it was");
	cut_pages("D3", 1, PAGE);
	check_refused(own, "D1", "pages-1.img holds 4096 bytes; pagemap-100.img says 8192");
	test_case("the parent's pages file too short: refused, the new checkpoint left as it was");
	cut_pages("D1", 1, PAGE);
	check_refused(b, "D1", "pages-1.img holds 4096 bytes; pagemap-100.img says 8192");
	check_reads_as(b, MAP, before);
}

/*
 * Two processes, the parent's pages of the second too short: whichever
 * comes first, the new checkpoint reads as it did, and stands on the parent
 * only when its first process was rewritten.
 */
static void test_damaged_second(void)
{
	int a = ckpt("E1", two_a), b = ckpt("E2", two_b);
	struct view *b100 = view_load(b, MAP), *b200;
	const char *now, *as_was = "manifest.json,manifest.pb,pagemap-100.img,pagemap-200.img,pages-1.img,pages-2.img";
	struct share_stats st;
	struct herr e = { 0 };

	put_map(a, "pagemap-200.img", 2, two_a, 1);
	cut_pages("E1", 2, 0);
	put_map(b, "pagemap-200.img", 2, two_a, 1);
	b200 = view_load(b, "pagemap-200.img");
	test_case("one process of two shared before the other's parent turns out damaged");
	CHECK_INT(page_share(b, "E1", &st, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(IMAGE_DAMAGED));
	check_reads_as(b, MAP, b100);
	check_reads_as(b, "pagemap-200.img", b200);
	now = listing(b, false);
	if (strcmp(now, as_was))	/* process 100 came first: rewritten, standing on E1 */
		CHECK_STR(now, ==, "manifest.json,manifest.pb,pagemap-100.img,pagemap-200.img,pages-2.img,"
			  "pages-3.img,parent");
	CHECK_UINT(st.shared_pages, ==, strcmp(now, as_was) ? 1 : 0);
}

TEST_GROUP(page_share)
{
	struct chain ch;

	if (!mkdtemp(store)) {
		CHECK(!"mkdtemp");
		return;
	}
	test_share_over_parent();
	test_nothing_shared();
	test_wide_and_lazy();
	test_already_in_parent();
	build_chain(&ch);
	test_delete_middle(&ch);
	test_delete_root(&ch);
	test_busy();
	test_chain_length();
	test_damaged();
	test_damaged_second();
	fdlist_close(&dirs);
	CHECK_INT(remove_tree(store), ==, 0);
	arena_free_all();
}
