/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz targets share: a directory of their own for the files the
 * helper's readers take by name (a dirfd and a name, as in a checkpoint
 * directory), gone when the target exits, and the answers of the service
 * sent nowhere. Nothing here stands in for the code under test.
 */
#ifndef CKPT_FUZZ_SANDBOX_H
#define CKPT_FUZZ_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

/*
 * The path of this process's sandbox directory (made, and removed at exit,
 * once); the fuzz target aborts when it cannot be made, since no input could
 * reach the code under test.
 */
const char *sandbox_dir(void);
/* A descriptor of sandbox_dir(), open for the life of the process. */
int sandbox_dirfd(void);
/* Makes the directory name (and its parents) under the sandbox; returns its descriptor. */
int sandbox_subdir(const char *name);
/* Replaces file name of directory dirfd with the n bytes at data; aborts when it cannot. */
void sandbox_write(int dirfd, const char *name, const uint8_t *data, size_t n);
/* Copies file from (a path outside) into directory dirfd as name; aborts when it cannot. */
void sandbox_copy(const char *from, int dirfd, const char *name);
/*
 * The n bytes at data as a string: a malloc'd copy of exactly those bytes
 * and a NUL, so that a read past them is ASan's to see; NULL when memory is
 * short.
 */
char *sandbox_string(const uint8_t *data, size_t n);
/* The input after its first byte (which picks what to feed) so; NULL when size is 0 or memory is short. */
char *sandbox_text(const uint8_t *data, size_t size);
/* Points the service's frames (g_out_fd) at /dev/null: the targets check behaviour, not answers. */
void sandbox_mute_channel(void);

#endif
