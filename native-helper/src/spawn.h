/* SPDX-License-Identifier: MIT */
/* Programs of the host found and run as the helper's children: no shell, no inherited descriptors. */
#ifndef CKPT_SPAWN_H
#define CKPT_SPAWN_H

#include <stddef.h>

/* The first executable name in the usual system directories or PATH (a static buffer), or NULL. */
const char *find_program(const char *name);
/*
 * Runs path with argv (argv[0] included, NULL-terminated), stdin and stderr
 * on /dev/null, and waits for it. Its stdout, up to max bytes, is in *out
 * (malloc'd, NUL-terminated; NULL when out is NULL: then to /dev/null as
 * well, and NULL when it wrote more: its output is not read further, so it
 * ends by SIGPIPE if it writes on). Returns its exit status (0-255), 128 +
 * the signal that ended it, or -1 with errno when it could not be run.
 */
int run_program(const char *path, char *const argv[], char **out, size_t max);

#endif
