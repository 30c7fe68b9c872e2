/* SPDX-License-Identifier: MIT */
/* Fault injection points (fault.h): a small table filled from the command line. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "util.h"

struct fault {
	char point[FAULT_NAME_MAX + 1];
	int errnum;
};

static struct fault faults[FAULT_MAX_POINTS];
static size_t nfaults;

static const struct {
	const char *name;
	int errnum;
} ERRNO_NAMES[] = { { "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS }, { "EACCES", EACCES } };

/* The action KILL: the helper dies there, as by kill -9 (errno values are positive). */
#define FAULT_KILL (-2)
/* The action PAUSE: the helper stops there a while, then goes on (a slow disk; a race made wide). */
#define FAULT_PAUSE (-3)

static int errno_of(const char *s)
{
	char *end;
	long v;

	if (!strcmp(s, "KILL"))
		return FAULT_KILL;
	if (!strcmp(s, "PAUSE"))
		return FAULT_PAUSE;

	for (size_t i = 0; i < sizeof(ERRNO_NAMES) / sizeof(ERRNO_NAMES[0]); i++)
		if (!strcmp(s, ERRNO_NAMES[i].name))
			return ERRNO_NAMES[i].errnum;
	v = strtol(s, &end, 10);
	return *s && !*end && v > 0 && v < 4096 ? (int)v : -1;
}

int fault_add(const char *spec)
{
	const char *eq = strchr(spec, '=');
	size_t len = eq ? (size_t)(eq - spec) : 0;
	int errnum = eq ? errno_of(eq + 1) : -1;

	if (!len || len > FAULT_NAME_MAX || errnum == -1 || nfaults == FAULT_MAX_POINTS)
		return -1;
	memcpy(faults[nfaults].point, spec, len);
	faults[nfaults].point[len] = '\0';
	faults[nfaults++].errnum = errnum;
	return 0;
}

int fault_at(const char *point)
{
	for (size_t i = 0; i < nfaults; i++)
		if (!strcmp(faults[i].point, point)) {
			if (faults[i].errnum == FAULT_KILL)
				kill(getpid(), SIGKILL);
			if (faults[i].errnum == FAULT_PAUSE) {
				sleep_ms(FAULT_PAUSE_MS);
				return 0;
			}
			errno = faults[i].errnum;
			return faults[i].errnum;
		}
	return 0;
}

void fault_clear(void)
{
	nfaults = 0;
}
