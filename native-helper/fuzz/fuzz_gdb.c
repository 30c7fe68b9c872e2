/* SPDX-License-Identifier: MIT */
/*
 * What the helper reads of gdb and of the client's gdb traffic: gdb's
 * --version text (gdb_parse_version), and the DAP messages a gdb_send
 * request carries, which must be whole before they are written to gdb
 * (dap_messages_length). The first input byte chooses; the rest is the text.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdb.h"
#include "gdb_run.h"
#include "sandbox.h"

/* Whole messages are a prefix of what was given, never more. */
static void dap(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);	/* exactly size bytes: a read past them is ASan's */
	ssize_t whole;

	if (!copy)
		return;
	memcpy(copy, data, size);
	whole = dap_messages_length(copy, size);
	if (whole > (ssize_t)size) {
		fprintf(stderr, "dap_messages_length: %zd bytes of whole messages in %zu\n", whole, size);
		abort();
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdb_info gi;
	char *text;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		dap(data + 1, size - 1);
		return 0;
	}
	text = sandbox_text(data, size);
	if (!text)
		return 0;
	memset(&gi, 0, sizeof(gi));
	gdb_parse_version(text, &gi);
	free(text);
	return 0;
}
