/* SPDX-License-Identifier: MIT */
/*
 * A checkpoint's process as the core writer reads it: core_proc_load (the
 * process tree, each thread's core, the open files, mm) and core_layout_plan
 * (its pagemap, the pages), over a checkpoint directory in the sandbox that
 * holds the fixture's real images, one of them replaced by the input. The
 * first input byte chooses which; the start of each memory area is then
 * read as the core's contents would be (core_layout_read).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core_layout.h"
#include "core_proc.h"
#include "err.h"
#include "fileio.h"
#include "sandbox.h"
#include "util.h"

/* The images the reading walks, in the fixture (its process is pid 53). */
static const char *const replaced[] = {
	"pstree.img", "core-53.img", "mm-53.img", "files.img", "pagemap-53.img", "inventory.img",
};

static struct fixture_image {
	char *data;
	size_t len;
} originals[ARRAY_SIZE(replaced)];

static int ckpt_dirfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4400];
	struct dirent *de;
	DIR *d = opendir(FUZZ_FIXTURES "/checkpoint");

	(void)argc;
	(void)argv;
	if (!d) {
		perror("fuzz_core: " FUZZ_FIXTURES "/checkpoint");
		abort();
	}
	ckpt_dirfd = sandbox_subdir("checkpoint");
	while ((de = readdir(d))) {
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/checkpoint/%s", FUZZ_FIXTURES, de->d_name);
			sandbox_copy(path, ckpt_dirfd, de->d_name);
		}
	}
	closedir(d);
	for (size_t i = 0; i < ARRAY_SIZE(replaced); i++) {
		if (read_file_at(ckpt_dirfd, replaced[i], &originals[i].data, &originals[i].len, 1 << 20)) {
			perror(replaced[i]);
			abort();
		}
	}
	return 0;
}

/* The segments of the loaded process, and the first page of each of its areas. */
static void plan(const struct core_proc *p)
{
	static uint8_t page[4096];
	struct core_layout l = { 0 };
	struct herr e = { 0 };

	if (!core_layout_plan(ckpt_dirfd, p, &l, &e)) {
		for (size_t i = 0; i < p->nvmas; i++)
			core_layout_read(&l, p->vmas[i].start, page, sizeof(page));
	}
	core_layout_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_proc p;
	struct herr e = { 0 };
	size_t which;

	if (size < 1)
		return 0;
	which = data[0] % ARRAY_SIZE(replaced);
	for (size_t i = 0; i < ARRAY_SIZE(replaced); i++) {
		if (i == which)
			sandbox_write(ckpt_dirfd, replaced[i], data + 1, size - 1);
		else
			sandbox_write(ckpt_dirfd, replaced[i], (const uint8_t *)originals[i].data, originals[i].len);
	}
	if (!core_proc_load(ckpt_dirfd, 0, &p, &e))
		plan(&p);
	core_proc_free(&p);
	return 0;
}
