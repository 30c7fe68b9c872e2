/* SPDX-License-Identifier: MIT */
/* CRIU's image files read as untrusted input, entry by entry. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "image_entries.h"
#include "util.h"
#include "wire.h"

/* Opens name in dirfd: a regular file of at most IMG_MAX_BYTES, no symbolic link followed. */
static int open_image_file(int dirfd, const char *name, struct herr *e)
{
	struct stat st;
	int fd = open_regular_at(dirfd, name, &st);

	if (fd < 0) {
		if (errno == ENOENT)
			herr_set(e, EC(IMAGE_DAMAGED), errno, "the checkpoint has no %s: its images are incomplete",
				 name);
		else if (errno == EINVAL || errno == ELOOP)
			herr_set(e, EC(IMAGE_DAMAGED), errno, "the checkpoint's %s is not a regular file", name);
		else
			herr_perror(e, EC(INTERNAL), errno, "cannot open the checkpoint's %s", name);
		return -1;
	}
	if ((uint64_t)st.st_size > IMG_MAX_BYTES) {
		herr_set(e, EC(IMAGE_DAMAGED), EFBIG, "the checkpoint's %s is %llu bytes, more than an image can be "
			 "(%u MiB)", name, (unsigned long long)st.st_size, IMG_MAX_BYTES >> 20);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

int image_load(int dirfd, const char *name, uint32_t magic, struct image_buf *b, struct herr *e)
{
	char *data = NULL;
	int fd;

	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
	fd = open_image_file(dirfd, name, e);
	if (fd < 0)
		return -1;
	if (read_fd(fd, &data, &b->len, IMG_MAX_BYTES)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot read the checkpoint's %s", name);
		close(fd);
		return -1;
	}
	close(fd);
	b->data = (uint8_t *)data;
	if (b->len < 8 || get_le32(b->data) != IMG_COMMON_MAGIC || get_le32(b->data + 4) != magic) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s is not the CRIU image its name says "
			 "(%zu bytes, magics %#x %#x; %#x %#x expected)", name, b->len,
			 b->len >= 4 ? get_le32(b->data) : 0, b->len >= 8 ? get_le32(b->data + 4) : 0,
			 IMG_COMMON_MAGIC, magic);
		return -1;
	}
	b->pos = 8;
	return 0;
}

int image_next(struct image_buf *b, const uint8_t **p, size_t *n, struct herr *e)
{
	uint32_t len;

	if (b->pos == b->len)
		return 0;
	if (b->len - b->pos < 4) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s ends in the middle of an entry's "
			 "length (offset %zu of %zu bytes)", b->name, b->pos, b->len);
		return -1;
	}
	len = get_le32(b->data + b->pos);
	if (len > b->len - b->pos - 4) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s is cut short: the entry at offset %zu "
			 "says %u bytes, %zu are left", b->name, b->pos, len, b->len - b->pos - 4);
		return -1;
	}
	*p = b->data + b->pos + 4;
	*n = len;
	b->pos += 4 + (size_t)len;
	return 1;
}

int image_next_msg(struct image_buf *b, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out,
		   struct herr *e)
{
	size_t at = b->pos, n = 0;
	const uint8_t *p = NULL;
	int r = image_next(b, &p, &n, e);

	*out = NULL;
	if (r <= 0)
		return r;
	*out = protobuf_c_message_unpack(d, NULL, n, p);
	if (!*out) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s has an entry that does not decode "
			 "(offset %zu, %zu bytes)", b->name, at, n);
		return -1;
	}
	return 1;
}

ProtobufCMessage *image_read_one(int dirfd, const char *name, uint32_t magic, const ProtobufCMessageDescriptor *d,
				 struct herr *e)
{
	struct image_buf b;
	ProtobufCMessage *m = NULL;
	int r = image_load(dirfd, name, magic, &b, e);

	if (r == 0)
		r = image_next_msg(&b, d, &m, e);
	if (r == 0)
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s holds no entry", name);
	image_release(&b);
	return r > 0 ? m : NULL;
}

void image_release(struct image_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->pos = 0;
}

static int file_entry_each(const ProtobufCMessage *m, bool old, image_file_fn fn, void *arg, struct herr *e)
{
	const Checkpoint__Criu__V1__FileEntry *fe = (const Checkpoint__Criu__V1__FileEntry *)m;
	const Checkpoint__Criu__V1__RegularFile *rf = (const Checkpoint__Criu__V1__RegularFile *)m;

	if (old)
		return fn(rf, NULL, rf->id, arg, e);
	if (fe->reg)
		return fn(fe->reg, NULL, fe->has_id ? fe->id : fe->reg->id, arg, e);
	if (fe->memfd)
		return fn(NULL, fe->memfd, fe->has_id ? fe->id : fe->memfd->id, arg, e);
	return 0;
}

int image_files_each(int dirfd, image_file_fn fn, void *arg, struct herr *e)
{
	const ProtobufCMessageDescriptor *d = &checkpoint__criu__v1__file_entry__descriptor;
	ProtobufCMessage *m;
	struct image_buf b;
	bool old = false;
	int r = image_load(dirfd, "files.img", IMG_FILES_MAGIC, &b, e);

	if (r && e->errnum == ENOENT) {
		image_release(&b);
		old = true;
		d = &checkpoint__criu__v1__regular_file__descriptor;
		r = image_load(dirfd, "reg-files.img", IMG_REG_FILES_MAGIC, &b, e);
		if (r && e->errnum == ENOENT)
			herr_set(e, EC(IMAGE_DAMAGED), ENOENT, "the checkpoint has no files.img: its images are "
				 "incomplete");
	}
	while (!r && (r = image_next_msg(&b, d, &m, e)) > 0) {
		r = file_entry_each(m, old, fn, arg, e);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	image_release(&b);
	return r < 0 ? -1 : r;
}

/* The varint at *p (before end), *p moved past it; false when it runs past end or over 10 bytes. */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; *p < end && shift < 70; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

size_t image_field_count(const uint8_t *p, size_t n, unsigned field)
{
	const uint8_t *end = p + n;
	size_t count = 0;
	uint64_t key, len;

	while (p < end) {
		if (!varint(&p, end, &key))
			return SIZE_MAX;
		count += key >> 3 == field;
		switch (key & 7) {
		case 0:
			if (!varint(&p, end, &len))
				return SIZE_MAX;
			break;
		case 1:
		case 5:
			len = (key & 7) == 1 ? 8 : 4;
			if (len > (size_t)(end - p))
				return SIZE_MAX;
			p += len;
			break;
		case 2:
			if (!varint(&p, end, &len) || len > (size_t)(end - p))
				return SIZE_MAX;
			p += len;
			break;
		default:
			return SIZE_MAX;	/* groups (long deprecated) or no wire type */
		}
	}
	return count;
}
