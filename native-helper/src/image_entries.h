/* SPDX-License-Identifier: MIT */
/*
 * CRIU's image files read as untrusted input: a file of a checkpoint
 * directory read whole (up to its real size and a limit), its magics
 * checked, then its entries (a u32 little-endian length, then a protobuf
 * message) walked one by one, every length checked against what is left.
 * Damage is refused in words that name the file and the offset, with
 * IMAGE_DAMAGED; a missing file too (a checkpoint's images come as a whole).
 */
#ifndef CKPT_IMAGE_ENTRIES_H
#define CKPT_IMAGE_ENTRIES_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "criu-images.pb-c.h"
#include "err.h"

#define IMG_COMMON_MAGIC 0x54564319u
#define IMG_PSTREE_MAGIC 0x50273030u
#define IMG_CORE_MAGIC 0x55053847u
#define IMG_MM_MAGIC 0x57492820u
#define IMG_PAGEMAP_MAGIC 0x56084025u
#define IMG_FILES_MAGIC 0x56303138u
#define IMG_REG_FILES_MAGIC 0x50363636u
#define IMG_MEMFD_INODE_MAGIC 0x48453499u

/* What one metadata image may weigh: far above any real one (an mm image of 65,536 areas is ~3 MiB). */
#define IMG_MAX_BYTES (64u << 20)

struct image_buf {
	char name[64];		/* "core-104.img", for messages */
	uint8_t *data;		/* the whole file (malloc'd) */
	size_t len;
	size_t pos;		/* where the next entry's length is */
};

/*
 * Reads image name of the checkpoint directory dirfd (a regular file, not
 * through a symbolic link) and checks its two magics, the second magic;
 * b->pos is then at the first entry. Release b in any case.
 */
int image_load(int dirfd, const char *name, uint32_t magic, struct image_buf *b, struct herr *e);
/* The next entry's message: 1 with *p and *n, 0 past the last one, -1 when it runs past the end of the file. */
int image_next(struct image_buf *b, const uint8_t **p, size_t *n, struct herr *e);
/* The same, decoded with d (free it with protobuf_c_message_free_unpacked); -1 when it does not decode. */
int image_next_msg(struct image_buf *b, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out,
		   struct herr *e);
/* The first entry of a single-entry image (core, mm), decoded; NULL with e when there is none. */
ProtobufCMessage *image_read_one(int dirfd, const char *name, uint32_t magic, const ProtobufCMessageDescriptor *d,
				 struct herr *e);
void image_release(struct image_buf *b);
/*
 * What image_files_each gives for each file of a checkpoint: a regular file
 * or a memfd (the other NULL) and its file id; non-zero stops the walk.
 */
typedef int (*image_file_fn)(const Checkpoint__Criu__V1__RegularFile *reg,
			     const Checkpoint__Criu__V1__MemfdFile *memfd, uint32_t id, void *arg, struct herr *e);
/*
 * Walks the files of the checkpoint at dirfd: files.img (regular files and
 * memfds), or reg-files.img in images older than files.img (regular files
 * only). 0, or -1 with e (IMAGE_DAMAGED with neither), or fn's non-zero.
 */
int image_files_each(int dirfd, image_file_fn fn, void *arg, struct herr *e);
/*
 * How many times field occurs at the top level of the protobuf message in p
 * (n bytes), read from the wire before anything is decoded (so a count can
 * be refused before it is allocated for); SIZE_MAX when p is no message.
 */
size_t image_field_count(const uint8_t *p, size_t n, unsigned field);

#endif
