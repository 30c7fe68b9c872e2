/* SPDX-License-Identifier: MIT */
/*
 * A checkpoint's manifest.pb as list, restore and page_diff read it
 * (manifest_read_at: decoded into the request's arena, refused when
 * damaged), then written out again as manifest.json (manifest_json), as a
 * rename does with what it read.
 */
#define _GNU_SOURCE
#include "arena.h"
#include "err.h"
#include "manifest.h"
#include "sandbox.h"
#include "sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf json = { 0 };
	struct herr e = { 0 };
	Checkpoint *c;

	sandbox_write(sandbox_dirfd(), "manifest.pb", data, size);
	c = manifest_read_at(sandbox_dirfd(), sandbox_dir(), "fuzzed", &e);
	if (c)
		manifest_json(c, &json);
	sbuf_free(&json);
	arena_free_all();
	return 0;
}
