/* SPDX-License-Identifier: MIT */
/*
 * Tests of the locks of page_share.c: a reader holding a chain (a restore,
 * a page diff) keeps a delete of a checkpoint in it waiting, and the delete
 * goes on, handing the pages over, once the reader lets go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "lists.h"
#include "page_share.h"
#include "page_unshare.h"
#include "pagemap.h"
#include "store.h"
#include "util.h"
#include "check.h"
#include "service.h"
#include "synth.h"

static char store[] = "/tmp/ckpt-share-locks-XXXXXX";

/* Whether another open of checkpoint id could lock it exclusively now (as a delete does). */
static bool lockable(const char *id)
{
	int fd = open(arena_printf("%s/%s", store, id), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static bool exists(const char *id)
{
	struct stat st;

	return stat(arena_printf("%s/%s", store, id), &st) == 0;
}

/* Deletes checkpoint id in a child process (exit status 0 when it went through). */
static pid_t delete_in_child(const char *id)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct herr e = { 0 };

		/* not the parent's locks: a helper of its own, as another session would be */
		syscall(SYS_close_range, 3, ~0U, 0);
		_exit(page_unshare_delete(store, id, &e) ? 1 : 0);
	}
	return pid;
}

static void test_held_chain(void)
{
	struct share_stats st;
	struct fdlist held;
	struct herr e = { 0 };
	int a = synth_in_store(store, "a", NULL), b = synth_in_store(store, "b", NULL), status = -1;
	pid_t child;

	test_case("a chain held for reading: neither it nor its parent can be locked for a delete");
	CHECK_INT(page_share(b, "a", &st, &e), ==, 0);
	CHECK_UINT(st.shared_pages, >, 0);
	CHECK_INT(share_chain_hold(store, b, "b", &held, &e), ==, 0);
	CHECK_UINT(held.n, ==, 2);
	CHECK(!lockable("a"));
	CHECK(!lockable("b"));

	test_case("a delete of the parent waits for the reader, then hands its pages over");
	child = delete_in_child("a");
	sleep_ms(300);
	CHECK(exists("a"));
	fdlist_close(&held);
	CHECK_INT(waitpid(child, &status, 0), ==, child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!exists("a"));
	CHECK_INT(faccessat(b, "parent", F_OK, AT_SYMLINK_NOFOLLOW), ==, -1);
	CHECK(lockable("b"));
	close(a);
	close(b);
	arena_free_all();
}

static void test_no_parent(void)
{
	struct fdlist held;
	struct herr e = { 0 };
	int c = synth_in_store(store, "c", NULL);

	test_case("a checkpoint standing on nothing: itself held");
	CHECK_INT(share_chain_hold(store, c, "c", &held, &e), ==, 0);
	CHECK_UINT(held.n, ==, 1);
	CHECK(!lockable("c"));
	fdlist_close(&held);
	CHECK(lockable("c"));
	close(c);
	arena_free_all();
}

/*
 * A reader of checkpoint id in a child process, as another session's
 * restore would be: it says on the pipe once id is open, then waits for
 * the chain's locks. Exit status: how many checkpoints it held, or 100 +
 * the error code.
 */
static pid_t hold_in_child(const char *id, int *opened)
{
	int pipefd[2];
	pid_t pid;
	char byte;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct fdlist held;
		struct herr e = { 0 };
		int fd;

		/* not the parent's descriptors: their locks would stay held by this copy */
		if (dup2(pipefd[1], 3) != 3 || syscall(SYS_close_range, 4, ~0U, 0))
			_exit(98);
		fd = open(arena_printf("%s/%s", store, id), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || write(3, "o", 1) != 1)
			_exit(99);
		_exit(share_chain_hold(store, fd, id, &held, &e) ? 100 + e.code : (int)held.n);
	}
	*opened = pid > 0 && read(pipefd[0], &byte, 1) == 1;
	close(pipefd[0]);
	close(pipefd[1]);
	return pid;
}

static int exit_status(pid_t pid)
{
	int status = -1;

	if (pid <= 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A delete that has a checkpoint's lock before a reader: the reader, once
 * it has the lock, must not read a removed directory (CRIU read empty
 * images so) nor a chain re-linked past a removed parent.
 */
static void test_deleted_while_waiting(void)
{
	struct share_stats st;
	struct herr e = { 0 };
	int d = synth_in_store(store, "d", NULL), k = synth_in_store(store, "k", NULL), p = synth_in_store(store, "p", NULL);
	int q = synth_in_store(store, "q", NULL), opened = 0;
	pid_t reader;

	test_case("a checkpoint removed while a reader waited for its lock: the reader says it is gone");
	CHECK_INT(flock(d, LOCK_EX), ==, 0);
	reader = hold_in_child("d", &opened);
	CHECK(opened);
	sleep_ms(100);
	CHECK_INT(store_delete(store, "d", &e), ==, 0);
	close(d);
	CHECK_INT(exit_status(reader), ==, 100 + EC(NOT_FOUND));

	test_case("a checkpoint hidden by a delete killed then, while a reader waited: the reader says it is gone");
	CHECK_INT(flock(k, LOCK_EX), ==, 0);
	reader = hold_in_child("k", &opened);
	CHECK(opened);
	sleep_ms(100);
	CHECK_INT(renameat(AT_FDCWD, arena_printf("%s/k", store), AT_FDCWD, arena_printf("%s/.deleted-k", store)), ==, 0);
	close(k);
	CHECK_INT(exit_status(reader), ==, 100 + EC(NOT_FOUND));
	CHECK_INT(remove_tree(arena_printf("%s/.deleted-k", store)), ==, 0);

	test_case("its parent removed (and its pages handed over) meanwhile: the reader holds the new chain");
	CHECK_INT(page_share(q, "p", &st, &e), ==, 0);
	CHECK_UINT(st.shared_pages, >, 0);
	CHECK_INT(flock(p, LOCK_EX), ==, 0);
	reader = hold_in_child("q", &opened);
	CHECK(opened);
	sleep_ms(100);
	CHECK_OK(page_unshare_children(store, "p", p, &e), &e);
	CHECK_OK(store_delete(store, "p", &e), &e);
	close(p);
	CHECK_INT(exit_status(reader), ==, 1);
	close(q);
	arena_free_all();
}

/* The link text of checkpoint id's parent link ("" when none; arena). */
static const char *link_of(const char *id)
{
	char text[4096];
	ssize_t n = readlink(arena_printf("%s/%s/parent", store, id), text, sizeof(text) - 1);

	text[n > 0 ? n : 0] = '\0';
	return arena_strdup(text);
}

/*
 * Parent links written otherwise than "../<id>" (absolute, by hand): the
 * delete still finds who stands on it (by the directory the link opens),
 * and gives them the deleted one's own link.
 */
static void test_links_written_otherwise(void)
{
	struct share_stats st;
	struct herr e = { 0 };
	int f = synth_in_store(store, "f", NULL), g = synth_in_store(store, "g", NULL), h = synth_in_store(store, "h", NULL);
	const char *to_f = arena_printf("%s/f", store);

	test_case("f <- g <- h, g's link absolute, h's \"./../g\"");
	CHECK_INT(page_share(g, "f", &st, &e), ==, 0);
	CHECK_INT(page_share(h, "g", &st, &e), ==, 0);
	CHECK_INT(unlinkat(g, "parent", 0), ==, 0);
	CHECK_INT(symlinkat(to_f, g, "parent"), ==, 0);
	CHECK_INT(unlinkat(h, "parent", 0), ==, 0);
	CHECK_INT(symlinkat("./../g", h, "parent"), ==, 0);
	test_case("g deleted: h found, and given g's own link (to f)");
	CHECK_OK(page_unshare_delete(store, "g", &e), &e);
	CHECK(!exists("g"));
	CHECK_STR(link_of("h"), ==, to_f);
	test_case("f deleted: h found by its absolute link, and stands on nothing");
	CHECK_OK(page_unshare_delete(store, "f", &e), &e);
	CHECK(!exists("f"));
	CHECK_STR(link_of("h"), ==, "");
	close(f);
	close(g);
	close(h);
	arena_free_all();
}

TEST_GROUP(page_unshare)
{
	CHECK(mkdtemp(store) != NULL);
	test_held_chain();
	test_no_parent();
	test_deleted_while_waiting();
	test_links_written_otherwise();
	CHECK_INT(remove_tree(store), ==, 0);
	arena_free_all();
}
