/* SPDX-License-Identifier: MIT */
/* Leak detection: placeholder until this file's detectors land. */
#include "leaks.h"

int detect_namespaces(struct host_scan *s, struct herr *e)
{
	(void)s;
	(void)e;
	return 0;
}

int detect_relatives(struct host_scan *s, struct herr *e)
{
	(void)s;
	(void)e;
	return 0;
}

int detect_shared_tasks(struct host_scan *s, struct herr *e)
{
	(void)s;
	(void)e;
	return 0;
}

