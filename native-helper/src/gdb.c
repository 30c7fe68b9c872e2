/* SPDX-License-Identifier: MIT */
/* GDB on this host: whether it is there, which, and whether its DAP interpreter can serve. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gdb.h"
#include "spawn.h"

#define MAX_GDB_OUTPUT (64u << 10)
#define INSTALL "install gdb 14 or newer on the target (Debian and Ubuntu: apt-get install gdb)"

/* gi->problem, in words (cut with "..." when it is longer than its room). */
static void set_problem(struct gdb_info *gi, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_problem(struct gdb_info *gi, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(gi->problem, sizeof(gi->problem), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(gi->problem))
		mark_truncated(gi->problem, sizeof(gi->problem));
}

/* The version is the last word of the first line: distributions put their own in parentheses before it. */
int gdb_parse_version(const char *text, struct gdb_info *gi)
{
	size_t n = strcspn(text, "\n");
	const char *p = text + n;

	while (p > text && p[-1] == ' ')
		p--;
	while (p > text && p[-1] != ' ')
		p--;
	if (strncmp(text, "GNU gdb", 7) || sscanf(p, "%d.%d", &gi->major, &gi->minor) != 2) {
		errno = EINVAL;
		return -1;
	}
	snprintf(gi->version, sizeof(gi->version), "%.*s", (int)strcspn(p, " \n"), p);
	return 0;
}

/* Whether gdb was built with Python, which its DAP interpreter is written in. */
static int has_python(const char *path)
{
	char *argv[] = { "gdb", "--configuration", NULL }, *out = NULL;
	int ret = run_program(path, argv, &out, MAX_GDB_OUTPUT);

	ret = ret == 0 && out && strstr(out, "--with-python") && !strstr(out, "--with-python=no") ? 1 : 0;
	free(out);
	return ret;
}

static int version_of(struct gdb_info *gi)
{
	char *argv[] = { "gdb", "--version", NULL }, *out = NULL;
	int status = run_program(gi->path, argv, &out, MAX_GDB_OUTPUT), ret = -1;

	if (status == 0 && out && gdb_parse_version(out, gi) == 0)
		ret = 0;
	else
		set_problem(gi, "gdb at %s did not tell its version (gdb --version: %s); "
			 INSTALL, gi->path, status < 0 ? strerror(errno) : "not the answer of a GNU gdb");
	free(out);
	return ret;
}

int gdb_probe(struct gdb_info *gi)
{
	const char *path = find_program("gdb");

	memset(gi, 0, sizeof(*gi));
	if (!path) {
		set_problem(gi, "gdb was not found (looked in /usr/sbin, /usr/bin, "
			 "/usr/local/sbin, /usr/local/bin and PATH): sessions run without source-level debugging; "
			 INSTALL);
		return -1;
	}
	snprintf(gi->path, sizeof(gi->path), "%s", path);
	if (version_of(gi))
		return -1;
	if (gi->major < GDB_DAP_MAJOR)
		set_problem(gi, "gdb %s at %s has no DAP interpreter (gdb %d added it); "
			 INSTALL, gi->version, gi->path, GDB_DAP_MAJOR);
	else if (!has_python(gi->path))
		set_problem(gi, "gdb %s at %s was built without Python, which its DAP "
			 "interpreter needs; " INSTALL, gi->version, gi->path);
	return gi->problem[0] ? -1 : 0;
}
