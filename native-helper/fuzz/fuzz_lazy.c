/* SPDX-License-Identifier: MIT */
/*
 * The files of a lazy restore that lazy.c reads back: a supervisor's
 * lazy-pages.status (lazy_status_parse: how the daemon ended, the pids it
 * killed) and a busy lock file's pids (lazy_lock_names, against a few pids
 * around the edges of what a pid can be). The first input byte chooses the
 * reader; the rest is its text, NUL-terminated as read_file gives it. What
 * comes out is checked: how is one line, never empty and within its
 * buffer; the killed pids are pids.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lazy.h"
#include "sandbox.h"

static void status(const char *text)
{
	struct lazy_status st;
	size_t n;

	lazy_status_parse(text, &st);
	n = strnlen(st.how, sizeof(st.how));
	if (n == 0 || n == sizeof(st.how) || strchr(st.how, '\n') || st.nkilled > LAZY_STATUS_KILLED_MAX)
		abort();
	for (size_t i = 0; i < st.nkilled; i++)
		if (st.killed[i] <= 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const pid_t pids[] = { 1, 2, 4194304, INT32_MAX };
	char *text;

	if (size < 1)
		return 0;
	text = sandbox_text(data, size);
	if (!text)
		return 0;
	if (data[0] % 2 == 0)
		status(text);
	else
		lazy_lock_names(text, pids, sizeof(pids) / sizeof(*pids));
	free(text);
	return 0;
}
