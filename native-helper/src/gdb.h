/* SPDX-License-Identifier: MIT */
/*
 * GDB on this host, the engine of source-level debugging: the client starts
 * it (`gdb -i=dap`) over its own channel; the helper only tells whether it
 * is there, which, and whether its DAP interpreter can serve.
 */
#ifndef CKPT_GDB_H
#define CKPT_GDB_H

#include <stddef.h>

#define GDB_DAP_MAJOR 14		/* the first gdb with a DAP interpreter */

struct gdb_info {
	char path[4096];		/* "" when none was found */
	char version[64];		/* "16.3"; "" when it could not be told */
	int major, minor;
	char problem[512];		/* why it cannot serve, with what to do; "" when it can */
};

/* Parses the first line of `gdb --version` ("GNU gdb (Debian 16.3-1) 16.3") into gi's version. */
int gdb_parse_version(const char *text, struct gdb_info *gi);
/* Finds gdb and asks it what it is; gi->problem says what is missing. -1 when it cannot serve. */
int gdb_probe(struct gdb_info *gi);

#endif
