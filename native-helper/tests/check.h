/* SPDX-License-Identifier: MIT */
/* The unit tests' one assertion, and the test groups of each file. */
#ifndef CKPT_CHECK_H
#define CKPT_CHECK_H

#include <stdio.h>

extern int passed, failed;

#define CHECK(cond) do {							\
	if (cond) {								\
		passed++;							\
	} else {								\
		failed++;							\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
	}									\
} while (0)

void test_leaks(void);		/* tests/test_leaks.c */
void test_leak_tasks(void);	/* tests/test_leak_tasks.c */
void test_leak_memory(void);	/* tests/test_leak_memory.c */
void test_leak_files(void);	/* tests/test_leak_files.c */
void test_leak_sockets(void);	/* tests/test_leak_sockets.c */
void test_tcp_restore(void);	/* tests/test_tcp_restore.c */

#endif
