/* SPDX-License-Identifier: MIT */
/* Leak detection: placeholder until this file's detectors land. */
#include "leaks.h"

int detect_files(struct host_scan *s, struct herr *e)
{
	(void)s;
	(void)e;
	return 0;
}

int detect_file_locks(struct host_scan *s, struct herr *e)
{
	(void)s;
	(void)e;
	return 0;
}

void fd_table_free(struct fd_table *t)
{
	(void)t;
}
