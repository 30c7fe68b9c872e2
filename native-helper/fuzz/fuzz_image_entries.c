/* SPDX-License-Identifier: MIT */
/*
 * CRIU's image files as the helper reads them (image_entries.c): the input
 * is written as a file of a checkpoint directory in the sandbox, loaded
 * with the magic of one image kind, walked entry by entry (image_next,
 * image_field_count on each) and walked again decoding each entry with that
 * kind's message (image_next_msg), then read as a single-entry image
 * (image_read_one). The first input byte chooses the kind.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "criu-images.pb-c.h"
#include "err.h"
#include "image_entries.h"
#include "sandbox.h"
#include "util.h"

struct image_kind {
	const char *name;	/* as in a checkpoint directory */
	uint32_t magic;
	const ProtobufCMessageDescriptor *entry;
};

/* The images the helper reads, with the message of their entries (pagemap's after its head). */
static const struct image_kind kinds[] = {
	{ "pstree.img", IMG_PSTREE_MAGIC, &checkpoint__criu__v1__process_tree_entry__descriptor },
	{ "core-1.img", IMG_CORE_MAGIC, &checkpoint__criu__v1__core__descriptor },
	{ "mm-1.img", IMG_MM_MAGIC, &checkpoint__criu__v1__memory_map__descriptor },
	{ "pagemap-1.img", IMG_PAGEMAP_MAGIC, &checkpoint__criu__v1__pagemap_entry__descriptor },
	{ "files.img", IMG_FILES_MAGIC, &checkpoint__criu__v1__file_entry__descriptor },
	{ "reg-files.img", IMG_REG_FILES_MAGIC, &checkpoint__criu__v1__regular_file__descriptor },
	{ "memfd.img", IMG_MEMFD_INODE_MAGIC, &checkpoint__criu__v1__memfd_inode__descriptor },
};

/* Each entry as raw bytes, with the counts of the fields the helper counts before decoding (1..16). */
static void walk_raw(int dirfd, const struct image_kind *k)
{
	struct image_buf b = { 0 };
	struct herr e = { 0 };
	const uint8_t *p;
	size_t n;

	if (!image_load(dirfd, k->name, k->magic, &b, &e)) {
		while (image_next(&b, &p, &n, &e) > 0) {
			for (unsigned field = 1; field <= 16; field++)
				image_field_count(p, n, field);
		}
	}
	image_release(&b);
}

/* Each entry decoded (the first of a pagemap is its head). */
static void walk_decoded(int dirfd, const struct image_kind *k)
{
	const ProtobufCMessageDescriptor *d = k->magic == IMG_PAGEMAP_MAGIC
		? &checkpoint__criu__v1__pagemap_head__descriptor : k->entry;
	struct image_buf b = { 0 };
	struct herr e = { 0 };
	ProtobufCMessage *m;

	if (!image_load(dirfd, k->name, k->magic, &b, &e)) {
		while (image_next_msg(&b, d, &m, &e) > 0) {
			protobuf_c_message_free_unpacked(m, NULL);
			d = k->entry;
		}
	}
	image_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct image_kind *k;
	struct herr e = { 0 };
	ProtobufCMessage *one;
	int dirfd;

	if (size < 1)
		return 0;
	k = &kinds[data[0] % ARRAY_SIZE(kinds)];
	dirfd = sandbox_dirfd();
	sandbox_write(dirfd, k->name, data + 1, size - 1);
	walk_raw(dirfd, k);
	walk_decoded(dirfd, k);
	one = image_read_one(dirfd, k->name, k->magic, k->entry, &e);
	if (one)
		protobuf_c_message_free_unpacked(one, NULL);
	return 0;
}
