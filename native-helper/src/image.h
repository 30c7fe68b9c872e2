/* SPDX-License-Identifier: MIT */
/*
 * A checkpoint's image files, served to the client: the listing
 * (image_files) and byte ranges of them (read_image), for users who cannot
 * read the root-owned store themselves.
 */
#ifndef CKPT_IMAGE_H
#define CKPT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "wire.h"

#define MAX_IMAGE_NAME 255		/* bytes of an image file name */
#define MAX_READ_RANGES 4096u		/* ranges per read_image request */
#define MAX_READ_BYTES (16u << 20)	/* bytes per read_image request */

/* A plain name of a file directly in the checkpoint directory. */
bool valid_image_name(const char *name);
/* Lists the regular files of checkpoint id (valid), sorted by name. */
int image_files_list(const char *store, const char *id, ImageFilesResult *res, struct herr *e);
/* Reads the ranges of checkpoint id (valid) into res->data, one per range. */
int image_read_ranges(const char *store, const char *id, ByteRange *const *ranges, size_t n,
		      ReadImageResult *res, struct herr *e);

#endif
