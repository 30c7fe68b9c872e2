/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_kcmp.c: task state (fd table, fs info, address space) a
 * real child shares with its parent through clone, found with kcmp when
 * the parent is outside the tree, and not when both are in it.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "leak_kcmp.h"
#include "leak_scan.h"
#include "leaks.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

__attribute__((no_sanitize_address))
static int sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

/* A child sharing what the clone flags at arg say with its parent (not a thread). */
static int clone_sharing(void *arg)
{
	size_t size = 256 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (stack == MAP_FAILED)
		return -1;
	return clone(sleeper, stack + size, *(int *)arg | SIGCHLD, NULL);
}

/* The leak of what of pid r, checked to be found (test_case names it) with the parent p outside. */
static void check_shared(struct host_scan *s, const char *what, pid_t r, pid_t p)
{
	struct leak *lk = leak_find(s, LK(SHARED_TASK), arena_printf("%s of pid %d", what, r));

	test_case("%s of pid %d", what, r);
	CHECK(lk != NULL);
	if (!lk)
		return;
	CHECK_INT(lk->default_policy, ==, LP(FAIL));
	CHECK(has_choice(lk, LP(WARN), ""));
	CHECK_UINT(lk->nchoices, ==, 2);
	CHECK_UINT(lk->ninside, ==, 1);
	CHECK(holds(lk->inside, 1, r, NULL));
	CHECK_UINT(lk->noutside, ==, 1);
	CHECK(holds(lk->outside, 1, p, "shares it"));
	CHECK_CONTAINS(lk->summary, what);
	CHECK_CONTAINS(lk->summary, arena_printf("of pid %d is also that of 1 process outside the tree, pid %d among "
						 "them", r, p));
}

static void test_shared_tasks(void)
{
	static const char *const what[] = { "fd table", "fs info", "address space" };
	int flags = CLONE_VM | CLONE_FILES | CLONE_FS, child = 0;
	pid_t p = spawn_call(clone_sharing, &flags, &child), r = child, f = spawn_call(NULL, NULL, NULL);
	struct host_scan s;

	test_case("fd table, fs info and address space shared");
	CHECK_INT(p, >, 0);
	CHECK_INT(r, >, 0);
	CHECK_INT(f, >, 0);
	if (p <= 0 || r <= 0 || f <= 0)
		goto out;
	if (SCAN_OK(r, &s)) {
		CHECK_UINT(count_kind(&s, LK(SHARED_TASK)), ==, 3);
		for (size_t i = 0; i < ARRAY_SIZE(what); i++)
			check_shared(&s, what[i], r, p);
		leaks_scan_free(&s);
	}
	test_case("shared within the tree: no leak");
	CHECK_INT(SCAN_COUNT(p, LK(SHARED_TASK)), ==, 0);
	test_case("a plain fork child shares nothing");
	CHECK_INT(SCAN_COUNT(f, LK(SHARED_TASK)), ==, 0);
out:
	reap_grandchild(r);
	reap(p);
	reap(f);
}

/* fs info alone: its own descriptors and memory, though as many and as big as its parent's. */
static void test_fs_only(void)
{
	int flags = CLONE_FS, child = 0;
	pid_t p = spawn_call(clone_sharing, &flags, &child), r = child;
	struct host_scan s;

	test_case("fs info alone");
	CHECK_INT(p, >, 0);
	CHECK_INT(r, >, 0);
	if (p > 0 && r > 0 && SCAN_OK(r, &s)) {
		CHECK_UINT(count_kind(&s, LK(SHARED_TASK)), ==, 1);
		check_shared(&s, "fs info", r, p);
		leaks_scan_free(&s);
	}
	reap_grandchild(r);
	reap(p);
}

TEST_GROUP(leak_kcmp)
{
	test_shared_tasks();
	test_fs_only();
	arena_free_all();
}
