/* SPDX-License-Identifier: MIT */
/*
 * The helper's readers of /proc text, fed synthetic lines: a process's stat
 * (parse_proc_stat, then decode_tty_nr of its tty), a line of /proc/locks or
 * of an fdinfo (parse_lock_line), a line of maps (parse_maps_line) and the
 * lines of /proc/sysvipc/{shm,sem,msg}, and a process's cmdline
 * (parse_cmdline). The first input byte chooses the reader; the rest is its
 * text, NUL-terminated as the readers get it, but for cmdline: its bytes as
 * they are (NULs among them), in a buffer of exactly their length.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "leak_maps.h"
#include "leak_sysv.h"
#include "proc.h"
#include "proc_locks.h"
#include "sandbox.h"

/* A stat line, and the terminal its tty_nr names. */
static void stat_line(const char *text)
{
	struct proc_stat st;
	char tty[64];

	if (parse_proc_stat(text, &st) == 0)
		decode_tty_nr(st.tty_nr, tty, sizeof(tty));
}

/* A lock line, compared with itself as the leak detector compares two. */
static void lock_line(const char *text)
{
	struct lock_line l;

	if (parse_lock_line(text, &l) == 0) {
		lock_line_same(&l, &l);
		lock_line_same_file(&l, &l);
	}
}

/*
 * A cmdline's arguments, checked against its bytes: each argument and its
 * NUL are the bytes in order, a last one without its NUL given one.
 */
static void cmdline(const uint8_t *data, size_t size)
{
	char *bytes = malloc(size ? size : 1), **argv;
	size_t argc, total = 0;

	if (!bytes)
		return;
	memcpy(bytes, data, size);
	parse_cmdline(bytes, size, &argv, &argc);
	for (size_t k = 0; k < argc; k++) {
		size_t n = strlen(argv[k]);

		if (total + n > size || memcmp(argv[k], bytes + total, n) || (total + n < size && bytes[total + n]))
			abort();
		total += n + 1;
	}
	if (argv[argc] || total != size + (size && bytes[size - 1] != '\0'))
		abort();
	free(bytes);
	arena_free_all();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sysv_line sv;
	struct maps_line m;
	char *text;

	if (size < 1)
		return 0;
	if (data[0] % 7 == 6) {	/* bytes, not text: apart */
		cmdline(data + 1, size - 1);
		return 0;
	}
	text = sandbox_text(data, size);
	if (!text)
		return 0;
	switch (data[0] % 7) {
	case 0:
		stat_line(text);
		break;
	case 1:
		lock_line(text);
		break;
	case 2:
		parse_maps_line(text, size - 1, &m);	/* a length: maps lines are not NUL-terminated */
		break;
	case 3:
		parse_sysv_shm(text, &sv);
		break;
	case 4:
		parse_sysv_sem(text, &sv);
		break;
	default:
		parse_sysv_msg(text, &sv);
		break;
	}
	free(text);
	return 0;
}
