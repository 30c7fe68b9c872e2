/* SPDX-License-Identifier: MIT */
/*
 * A claim file as the sweep of freeze_claim.c reads one a dead helper left:
 * the whole input is its text, NUL-terminated as read_fd gives it, parsed
 * (claim_parse) into a freeze claim (layout, cgroup) or a stop claim (since,
 * pids and start times). Only the parser: nothing is thawed, written to a
 * cgroup or signalled. What comes out is checked: a freeze claim's cgroup is
 * one line of the text; a stop claim's pids are pids, within the bound.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "freeze_claim.h"
#include "sandbox.h"

static void check(const char *text, const struct claim *c)
{
	if (c->kind == CLAIM_FREEZE && (strchr(c->cgroup, '\n') || !strstr(text, c->cgroup)))
		abort();
	if (c->kind == CLAIM_STOP && c->nprocs > CLAIM_MAX_PROCS)
		abort();
	for (size_t i = 0; c->kind == CLAIM_STOP && i < c->nprocs; i++)
		if (c->procs[i].pid <= 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = sandbox_string(data, size);
	struct claim c;

	if (!text)
		return 0;
	if (claim_parse(text, &c) == 0)
		check(text, &c);
	claim_free(&c);
	free(text);
	return 0;
}
