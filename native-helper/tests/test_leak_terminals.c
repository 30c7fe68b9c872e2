/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_terminals.c: the detector of terminals on real ptys (a tree
 * forked here, outside children holding the other sides or leading the
 * session) and on the console. Every child is killed and reaped; the test
 * process is a child subreaper meanwhile.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "arena.h"
#include "leak_scan.h"
#include "leak_terminals.h"
#include "leaks.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* The leak of terminal name, checked to be found (test_case names it). */
static struct leak *tty_leak(struct host_scan *s, const char *what, const char *name)
{
	struct leak *lk = leak_find(s, LK(TTY), name);

	test_case("%s (%s)", what, name);
	CHECK(lk != NULL);
	return lk;
}

/* pid holds the terminal through a descriptor, told as "fd N (what)". */
static void check_fd_holder(const struct leak_holder *v, size_t n, pid_t pid, const char *what)
{
	bool found = false;

	for (size_t i = 0; i < n && !found; i++)
		found = v[i].pid == pid && v[i].has_fd && !strcmp(v[i].how, arena_printf("fd %d (%s)", v[i].fd, what));
	CHECK(found);
}

/* ---- a dangling pty, and the tree's own -------------------------------------------- */

struct tty_fixture {
	int dangling_master;		/* its slave goes to the tree, the master outside */
	char dangling_slave[64];
	int own_master;			/* the tree's own pty: both sides inside */
	char own_slave[64];
};

static void tree_ttys(void *arg, int report)
{
	struct tty_fixture *t = arg;

	close(t->dangling_master);
	if (open(t->dangling_slave, O_RDWR | O_NOCTTY) < 0)
		_exit(1);
	/* root keeps the own master and makes the own slave its controlling terminal */
	if (open(t->own_slave, O_RDWR) < 0)
		_exit(1);
	report_int(report, 1);
}

static void outside_ttys(void *arg, int report)
{
	struct tty_fixture *t = arg;

	close(t->own_master);
	report_int(report, 1);
}

static void check_dangling(struct host_scan *s, const struct tty_fixture *t, pid_t root, pid_t outside)
{
	struct leak *lk = tty_leak(s, "a slave whose master is outside", t->dangling_slave);

	if (lk) {
		test_case("%s: holders", t->dangling_slave);
		check_fd_holder(lk->inside, lk->ninside, root, "pty slave");
		CHECK(holds(lk->outside, lk->noutside, outside,
			    arena_printf("fd %d (pty master)", t->dangling_master)));
		CHECK(lk->standalone);
		CHECK_INT(lk->default_policy, ==, LP(FAIL));
		CHECK(has_choice(lk, LP(EXTERNAL), "--shell-job"));
		CHECK_CONTAINS(lk->criu, "dangling tty");
		CHECK_CONTAINS(lk->summary, "its master is held outside the tree");
	}
	test_case("the controlling terminal whose master and session leader are the tree's");
	CHECK(leak_find(s, LK(TTY), t->own_slave) == NULL);
}

static void test_dangling(void)
{
	struct tty_fixture t = { 0 };
	pid_t root, outside;
	struct host_scan s;

	test_case("a dangling pty, and the tree's own");
	t.dangling_master = open_pty(t.dangling_slave, sizeof(t.dangling_slave));
	t.own_master = open_pty(t.own_slave, sizeof(t.own_slave));
	CHECK_INT(t.dangling_master, >=, 0);
	CHECK_INT(t.own_master, >=, 0);
	if (t.dangling_master < 0 || t.own_master < 0)
		return;
	outside = spawn_ready(outside_ttys, &t, NEW_GROUP);
	root = spawn_ready(tree_ttys, &t, NEW_SESSION);
	close(t.dangling_master);
	close(t.own_master);
	CHECK_INT(root, >, 0);
	CHECK_INT(outside, >, 0);
	if (root > 0 && outside > 0 && SCAN_OK(root, &s)) {
		check_dangling(&s, &t, root, outside);
		leaks_scan_free(&s);
	}
	end_all((pid_t[]){ root, outside }, 2);
}

/* ---- the tree holds the master, the outside uses the terminal -------------------------- */

struct master_fixture {
	int master;
	char slave[64];
};

static void master_tree(void *arg, int report)
{
	(void)arg;
	report_int(report, 1);		/* keeps the master */
}

/* A session of its own on the slave, its controlling terminal. */
static void slave_outside(void *arg, int report)
{
	struct master_fixture *m = arg;

	close(m->master);
	report_int(report, open(m->slave, O_RDWR));
}

static void test_master_in_tree(void)
{
	struct master_fixture m;
	pid_t root = -1, outside = -1;
	struct host_scan s;
	struct leak *lk;

	test_case("the tree holds the master");
	m.master = open_pty(m.slave, sizeof(m.slave));
	CHECK_INT(m.master, >=, 0);
	if (m.master < 0)
		return;
	outside = spawn_ready(slave_outside, &m, NEW_SESSION);
	root = spawn_ready(master_tree, &m, NEW_SESSION);
	close(m.master);
	CHECK_INT(root, >, 0);
	CHECK_INT(outside, >, 0);
	if (root > 0 && outside > 0 && SCAN_OK(root, &s)) {
		lk = tty_leak(&s, "a master in the tree, its slave outside", m.slave);
		if (lk) {
			CHECK(holds(lk->inside, lk->ninside, root, arena_printf("fd %d (pty master)", m.master)));
			check_fd_holder(lk->outside, lk->noutside, outside, "pty slave");
			CHECK(holds(lk->outside, lk->noutside, outside, "controlling terminal"));
			CHECK(!lk->standalone);
			CHECK_INT(lk->default_policy, ==, LP(FAIL));
			CHECK_STR(lk->summary, ==, arena_printf("the tree holds the master of %s, which outside "
								"processes use", m.slave));
			CHECK_CONTAINS(lk->criu, "dumped silently");
		}
		leaks_scan_free(&s);
	}
	end_all((pid_t[]){ root, outside }, 2);
}

/* ---- a session led from outside ------------------------------------------------------ */

struct leader_fixture {
	int master, slave;
	char slave_path[64];
};

static int close_tty(void *arg)
{
	struct leader_fixture *l = arg;

	close(l->master);
	close(l->slave);		/* the controlling terminal stays */
	return 0;
}

/* Leads a session on the pty (its controlling terminal), holds the master; its child is the tree. */
static void leader(void *arg, int report)
{
	struct leader_fixture *l = arg;
	pid_t child;

	l->slave = open(l->slave_path, O_RDWR);
	if (l->slave < 0)
		_exit(1);
	child = spawn_call(close_tty, l, NULL);
	report_int(report, child > 0 ? child : -1);
}

static void check_leader(struct host_scan *s, const struct leader_fixture *l, pid_t root, pid_t lead)
{
	struct leak *lk = tty_leak(s, "a controlling terminal whose session leader is outside", l->slave_path);

	if (!lk)
		return;
	CHECK(holds(lk->inside, lk->ninside, root, "controlling terminal"));
	CHECK_UINT(lk->ninside, ==, 1);
	CHECK(holds(lk->outside, lk->noutside, lead, "session leader, on this controlling terminal"));
	CHECK(holds(lk->outside, lk->noutside, lead, arena_printf("fd %d (pty master)", l->master)));
	CHECK(lk->standalone);
	CHECK_INT(lk->default_policy, ==, LP(FAIL));
	CHECK_CONTAINS(lk->summary, "its master is held outside the tree");
	CHECK_CONTAINS(lk->summary, arena_printf("the session leader pid %d (", lead));
	CHECK_CONTAINS(lk->criu, "--shell-job");
}

static void test_outside_leader(void)
{
	struct leader_fixture l = { .slave = -1 };
	struct host_scan s;
	int64_t root = -1;
	pid_t lead;

	test_case("a session led from outside");
	l.master = open_pty(l.slave_path, sizeof(l.slave_path));
	CHECK_INT(l.master, >=, 0);
	if (l.master < 0)
		return;
	lead = spawn_value(leader, &l, NEW_SESSION, &root);
	close(l.master);
	CHECK_INT(lead, >, 0);
	CHECK_INT(root, >, 0);
	if (root > 0 && SCAN_OK(root, &s)) {
		check_leader(&s, &l, root, lead);
		leaks_scan_free(&s);
	}
	end_all(&lead, 1);
}

/* ---- a terminal of the host's --------------------------------------------------------- */

static void console_tree(void *arg, int report)
{
	(void)arg;
	report_int(report, open("/dev/console", O_RDWR | O_NOCTTY));
}

static void test_console(void)
{
	struct host_scan s;
	struct leak *lk;
	int report;
	pid_t root = spawn(console_tree, NULL, NEW_SESSION, &report);
	int64_t fd = read_int(report);

	close(report);
	test_case("the console");
	CHECK_INT(root, >, 0);
	if (fd < 0)
		fprintf(stderr, "test_leak_terminals: /dev/console cannot be opened here; that part is skipped\n");
	if (root > 0 && fd >= 0 && SCAN_OK(root, &s)) {
		lk = tty_leak(&s, "a device of the host's", "/dev/console");
		if (lk) {
			CHECK(holds(lk->inside, lk->ninside, root, arena_printf("fd %lld (terminal)", (long long)fd)));
			CHECK(lk->standalone);
			CHECK_INT(lk->default_policy, ==, LP(FAIL));
			CHECK_CONTAINS(lk->summary, "a device of the host's");
			CHECK(has_choice(lk, LP(EXTERNAL), "--shell-job"));
		}
		leaks_scan_free(&s);
	}
	end_all(&root, 1);
}

TEST_GROUP(leak_terminals)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_dangling();
	test_master_in_tree();
	test_outside_leader();
	test_console();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	arena_free_all();
}
