/* SPDX-License-Identifier: MIT */
/*
 * Tests of restore_plan.c: what a restore hands CRIU for the leaks a dump
 * gave it as external: pipes reopened through a live outside holder (the
 * test's own descriptors), terminals by their path, namespaces joined or
 * inherited through a process in them; and what it refuses.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "restore_plan.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* A report of one leak, l. */
struct one_leak {
	LeakReport r;
	Leak l, *leaks[1];
	LeakHolder in, out, *ins[1], *outs[1];
};

static void one_leak(struct one_leak *o, int kind, const char *resource)
{
	checkpoint__helper__v1__leak_report__init(&o->r);
	checkpoint__helper__v1__leak__init(&o->l);
	checkpoint__helper__v1__leak_holder__init(&o->in);
	checkpoint__helper__v1__leak_holder__init(&o->out);
	o->l.kind = kind;
	o->l.resource = (char *)resource;
	o->l.policy = LP(EXTERNAL);
	o->ins[0] = &o->in;
	o->outs[0] = &o->out;
	o->leaks[0] = &o->l;
	o->r.leaks = o->leaks;
	o->r.n_leaks = 1;
}

/* The leak's outside holder is the test's descriptor fd. */
static void held_by_test(struct one_leak *o, int fd)
{
	o->out.pid = getpid();
	o->out.has_fd = true;
	o->out.fd = fd;
	o->l.outside = o->outs;
	o->l.n_outside = 1;
}

/*
 * The pipe p[0] is of, which the tree wrote (or read), external; its
 * outside holder is the test's other end.
 */
static void pipe_leak(struct one_leak *o, const int p[2], bool written)
{
	one_leak(o, LK(PIPE), arena_printf("pipe:[%llu]", (unsigned long long)fd_inode(p[0])));
	o->l.inside = o->ins;
	o->l.n_inside = 1;
	o->in.writable = written;
	o->in.readable = !written;
	held_by_test(o, written ? p[0] : p[1]);
}

/* The plan has closed its descriptors. */
static void check_closed(struct restore_plan *plan, const int *fds, size_t n)
{
	restore_plan_close(plan);
	CHECK_UINT(plan->nfds, ==, 0);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(fcntl(fds[i], F_GETFD), ==, -1);
}

/* ---- pipes ---------------------------------------------------------------------------- */

/* The tree wrote: the plan's descriptor is the same pipe's write end, reopened through the outside reader. */
static void test_pipe_written(void)
{
	struct one_leak o;
	struct restore_plan plan;
	struct herr e = { 0 };
	char buf[4] = "";
	int p[2] = { -1, -1 };

	test_case("a pipe the tree wrote");
	CHECK_OK(pipe(p), NULL);
	pipe_leak(&o, p, true);			/* the outside reader holds it */
	CHECK_OK(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), &e);
	CHECK_UINT(plan.ninherit, ==, 1);
	CHECK_UINT(plan.nfds, ==, 1);
	CHECK_UINT(plan.njoin, ==, 0);
	if (plan.ninherit == 1 && plan.nfds == 1) {
		CHECK_STR(plan.inherit[0]->key, ==, o.l.resource);
		CHECK_INT(plan.inherit[0]->fd, ==, plan.fds[0]);
		CHECK_INT(write(plan.fds[0], "ok", 2), ==, 2);	/* the same pipe, write end */
		CHECK_INT(read(p[0], buf, 2), ==, 2);
		CHECK_STR(buf, ==, "ok");
		CHECK_INT(fcntl(plan.fds[0], F_GETFL) & (O_NONBLOCK | O_ACCMODE), ==, O_WRONLY);
		check_closed(&plan, plan.fds, 1);
	}
	test_case("a pipe, not external: nothing to do");
	o.l.policy = LP(WARN);
	CHECK_OK(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), &e);
	CHECK_UINT(plan.ninherit, ==, 0);
	CHECK_UINT(plan.nfds, ==, 0);
	o.l.policy = LP(EXTERNAL);
	test_case("a pipe the holder let go");
	close(p[0]);
	close(p[1]);
	CHECK_INT(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(EXTERNAL_GONE));
	CHECK_CONTAINS(e.msg, "holds it any more");
	CHECK_CONTAINS(e.msg, arena_printf("(pid %d)", getpid()));
	CHECK_UINT(plan.nfds, ==, 0);
}

/* The tree read: the read end, reopened through the outside writer; holders that no longer hold it are passed over. */
static void test_pipe_read(void)
{
	struct one_leak o;
	LeakHolder other = CHECKPOINT__HELPER__V1__LEAK_HOLDER__INIT, no_fd = CHECKPOINT__HELPER__V1__LEAK_HOLDER__INIT;
	LeakHolder *outs[3] = { &no_fd, &other };
	struct restore_plan plan;
	struct herr e = { 0 };
	char buf[4] = "";
	int p[2] = { -1, -1 }, q[2] = { -1, -1 };

	test_case("a pipe the tree read");
	CHECK_OK(pipe(p), NULL);
	CHECK_OK(pipe(q), NULL);
	pipe_leak(&o, p, false);		/* the outside writer holds it */
	no_fd.pid = getpid();			/* a holder without a descriptor */
	other.pid = getpid();
	other.has_fd = true;
	other.fd = q[1];			/* another pipe now */
	outs[2] = &o.out;
	o.l.outside = outs;
	o.l.n_outside = 3;
	CHECK_OK(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), &e);
	CHECK_UINT(plan.nfds, ==, 1);
	if (plan.nfds == 1) {
		CHECK_INT(write(p[1], "ok", 2), ==, 2);
		CHECK_INT(read(plan.fds[0], buf, 2), ==, 2);	/* the same pipe, read end */
		CHECK_STR(buf, ==, "ok");
		CHECK_INT(fcntl(plan.fds[0], F_GETFL) & (O_NONBLOCK | O_ACCMODE), ==, O_RDONLY);
		check_closed(&plan, plan.fds, 1);
	}
	test_case("a pipe whose only holder holds another now");
	outs[0] = &other;
	o.l.n_outside = 1;
	CHECK_INT(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(EXTERNAL_GONE));
	for (int i = 0; i < 2; i++) {
		close(p[i]);
		close(q[i]);
	}
}

/* ---- namespaces ------------------------------------------------------------------------ */

/* A net namespace dumped as external (an --external entry) is inherited by its key; without the entry, joined. */
static void test_net_external(void)
{
	DumpOptions opt = CHECKPOINT__HELPER__V1__DUMP_OPTIONS__INIT;
	struct restore_plan plan;
	struct herr e = { 0 };
	struct one_leak o;
	char *external[1];
	struct stat st, held;

	test_case("a net namespace dumped as external");
	CHECK_OK(stat("/proc/self/ns/net", &st), NULL);
	one_leak(&o, LK(NET_NS), arena_printf("net:[%lu]", (unsigned long)st.st_ino));
	external[0] = arena_printf("net[%lu]:%s", (unsigned long)st.st_ino, o.l.resource);
	opt.external = external;
	opt.n_external = 1;
	CHECK_OK(leaks_restore_plan(&o.r, &opt, NULL, &plan, &e), &e);
	CHECK_UINT(plan.ninherit, ==, 1);
	CHECK_UINT(plan.njoin, ==, 0);
	if (plan.ninherit == 1) {
		CHECK_STR(plan.inherit[0]->key, ==, o.l.resource);
		CHECK_INT(plan.inherit[0]->fd, ==, plan.fds[0]);
		CHECK_OK(fstat(plan.inherit[0]->fd, &held), NULL);
		CHECK_UINT(held.st_ino, ==, st.st_ino);
	}
	restore_plan_close(&plan);
	test_case("a net namespace from before the --external entry: joined");
	opt.n_external = 0;
	CHECK_OK(leaks_restore_plan(&o.r, &opt, NULL, &plan, &e), &e);
	CHECK_UINT(plan.ninherit, ==, 0);
	CHECK_UINT(plan.njoin, ==, 1);
	restore_plan_close(&plan);
	test_case("the host's own net namespace: nothing to do");
	o.l.host_own = true;
	CHECK_OK(leaks_restore_plan(&o.r, &opt, NULL, &plan, &e), &e);
	CHECK_UINT(plan.njoin, ==, 0);
	CHECK_UINT(plan.nfds, ==, 0);
}

/* A namespace given as external is joined through a descriptor the helper holds. */
static void check_join(int kind, const char *ns)
{
	struct restore_plan plan;
	struct herr e = { 0 };
	struct one_leak o;
	struct stat st, held;

	test_case("the %s namespace, joined", ns);
	CHECK_OK(stat(arena_printf("/proc/self/ns/%s", ns), &st), NULL);
	one_leak(&o, kind, arena_printf("%s:[%lu]", ns, (unsigned long)st.st_ino));
	CHECK_OK(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), &e);
	CHECK_UINT(plan.njoin, ==, 1);
	CHECK_UINT(plan.nfds, ==, 1);
	CHECK_UINT(plan.ninherit, ==, 0);
	if (plan.njoin == 1 && plan.nfds == 1) {
		/* so that the namespace outlives the process it was found in */
		CHECK_STR(plan.join[0]->ns, ==, ns);
		CHECK_STR(plan.join[0]->ns_file, ==, arena_printf("/proc/%d/fd/%d", getpid(), plan.fds[0]));
		CHECK_OK(fstat(plan.fds[0], &held), NULL);
		CHECK_UINT(held.st_ino, ==, st.st_ino);
		check_closed(&plan, plan.fds, 1);
	}
}

static void test_join(void)
{
	struct restore_plan plan;
	struct herr e = { 0 };
	struct one_leak o;

	check_join(LK(UTS_NS), "uts");
	check_join(LK(IPC_NS), "ipc");
	test_case("a namespace no process is in");
	one_leak(&o, LK(UTS_NS), "uts:[1]");
	CHECK_INT(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(EXTERNAL_GONE));
	CHECK_CONTAINS(e.msg, "no process is in it any more");
	test_case("a namespace leak that names no inode");
	o.l.resource = "uts:[x]";
	CHECK_INT(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(BAD_REQUEST));
	test_case("a mount namespace: not one CRIU joins");
	one_leak(&o, LK(MNT_NS), "mnt:[1]");
	CHECK_OK(leaks_restore_plan(&o.r, NULL, NULL, &plan, &e), &e);
	CHECK_UINT(plan.njoin, ==, 0);
	CHECK_UINT(plan.nfds, ==, 0);
	test_case("no report");
	CHECK_OK(leaks_restore_plan(NULL, NULL, NULL, &plan, &e), &e);
	CHECK_UINT(plan.ninherit, ==, 0);
	CHECK_UINT(plan.njoin, ==, 0);
}

/* ---- terminals and the program's own output ------------------------------------------------ */

static void check_tty_key(struct restore_plan *plan, const char *pts)
{
	struct stat st;

	CHECK_OK(stat(pts, &st), NULL);
	CHECK_UINT(plan->ninherit, ==, 1);
	CHECK_UINT(plan->nfds, ==, 1);
	CHECK_UINT(plan->ntty, ==, 1);
	if (plan->ninherit == 1 && plan->ntty == 1) {
		CHECK_STR(plan->inherit[0]->key, ==, arena_printf("tty[%x:%x]", (unsigned)st.st_rdev,
								  (unsigned)st.st_dev));
		CHECK_STR(plan->ttys[0], ==, pts);
	}
}

/* The program's own output pipes are the restore's to reconnect; a terminal is reopened by its path, once. */
static void test_tty_and_output(void)
{
	LeakReport r = CHECKPOINT__HELPER__V1__LEAK_REPORT__INIT;
	OutputPipes out = CHECKPOINT__HELPER__V1__OUTPUT_PIPES__INIT;
	Leak pipe_leak = CHECKPOINT__HELPER__V1__LEAK__INIT, tty = CHECKPOINT__HELPER__V1__LEAK__INIT;
	Leak session = CHECKPOINT__HELPER__V1__LEAK__INIT;
	Leak *leaks[3] = { &pipe_leak, &tty, &session };
	struct restore_plan plan;
	struct herr e = { 0 };
	char pts[64];
	int master = open_pty(pts, sizeof(pts));

	test_case("a terminal and the program's output");
	CHECK_INT(master, >=, 0);
	if (master < 0)
		return;
	out.stdout_pipe_id = 42;
	pipe_leak.kind = LK(PIPE);
	pipe_leak.resource = "pipe:[42]";	/* no holder: planning it would fail */
	tty.kind = session.kind = LK(TTY);
	tty.resource = session.resource = pts;	/* two leaks, one terminal */
	pipe_leak.policy = tty.policy = session.policy = LP(EXTERNAL);
	r.leaks = leaks;
	r.n_leaks = 3;
	CHECK_OK(leaks_restore_plan(&r, NULL, &out, &plan, &e), &e);
	check_tty_key(&plan, pts);
	restore_plan_close(&plan);
	test_case("the pipe, not the program's output");
	CHECK_INT(leaks_restore_plan(&r, NULL, NULL, &plan, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(EXTERNAL_GONE));
	test_case("a terminal that is gone");
	tty.resource = session.resource = "/dev/pts/999999";
	r.leaks = leaks + 1;
	r.n_leaks = 2;
	CHECK_INT(leaks_restore_plan(&r, NULL, NULL, &plan, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(EXTERNAL_GONE));
	CHECK_CONTAINS(e.msg, "cannot be opened");
	test_case("a terminal the helper cannot name");
	tty.resource = session.resource = "tty 4:70";
	CHECK_OK(leaks_restore_plan(&r, NULL, NULL, &plan, &e), &e);
	CHECK_UINT(plan.ninherit, ==, 0);
	close(master);
}

TEST_GROUP(restore_plan)
{
	test_pipe_written();
	test_pipe_read();
	test_net_external();
	test_join();
	test_tty_and_output();
	arena_free_all();
}
