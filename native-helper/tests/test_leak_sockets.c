/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_sockets.c: the detector on real sockets (unix pairs and
 * datagram sockets across the tree's border, TCP over loopback, UDP, a
 * listener in another network namespace), and what it costs. Every child
 * is killed and reaped; the test process is a child subreaper meanwhile.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/in.h>

#include "arena.h"
#include "fd_table.h"
#include "leak_scan.h"
#include "leak_sockets.h"
#include "leaks.h"
#include "proc.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

static const char *sock_res(uint64_t ino)
{
	return arena_printf("socket:[%llu]", (unsigned long long)ino);
}

/* The leak of socket ino, checked to be found (test_case names it). */
static struct leak *sock_leak(struct host_scan *s, const char *what, uint64_t ino)
{
	struct leak *lk = leak_find(s, LK(UNIX_SOCKET), sock_res(ino));

	test_case("%s (%s)", what, sock_res(ino));
	CHECK(lk != NULL);
	return lk;
}

/* ---- unix streams ------------------------------------------------------------------ */

struct unix_fixture {
	int across[2];		/* stream: [0] in the tree, [1] outside */
	int own[2];		/* datagram: both in the tree */
	int hidden[2];		/* stream: [0] in the tree, [1] kept by the test process only */
};

static void unix_tree(void *arg, int report)
{
	struct unix_fixture *u = arg;

	close(u->across[1]);
	close(u->hidden[1]);
	spawn_call(NULL, NULL, NULL);	/* holds the own pair too */
	report_int(report, 1);
}

static void unix_outside(void *arg, int report)
{
	struct unix_fixture *u = arg;

	close(u->across[0]);
	close(u->own[0]);
	close(u->own[1]);
	close(u->hidden[0]);
	close(u->hidden[1]);
	report_int(report, 1);
}

static int unix_open(struct unix_fixture *u)
{
	return socketpair(AF_UNIX, SOCK_STREAM, 0, u->across) || socketpair(AF_UNIX, SOCK_DGRAM, 0, u->own) ||
	       socketpair(AF_UNIX, SOCK_STREAM, 0, u->hidden) ? -1 : 0;
}

static void check_unix(struct host_scan *s, const uint64_t across[2], const uint64_t own[2], uint64_t hidden,
		       pid_t root, pid_t outside)
{
	struct leak *lk = sock_leak(s, "a stream whose peer is outside", across[0]);
	const struct leak_holder *h;
	const struct leak_choice *c;

	if (lk) {
		CHECK_INT(lk->default_policy, ==, LP(FAIL));
		CHECK(!lk->standalone);
		h = holder(lk->outside, lk->noutside, outside);
		CHECK(h != NULL);
		if (h) {
			CHECK(h->has_fd);
			CHECK_CONTAINS(h->how, sock_res(across[1]));
		}
		CHECK(holder(lk->inside, lk->ninside, root) != NULL);
		c = choice(lk, LP(EXTERNAL));
		CHECK(c != NULL);
		if (c) {
			CHECK_STR(c->criu_option, ==, "--ext-unix-sk");
			CHECK_CONTAINS(c->effect, "half of a stream");
		}
		CHECK_CONTAINS(lk->summary, "stream");
		CHECK_CONTAINS(lk->criu, "External socket is used");
	}
	test_case("the outside end is not the tree's: no leak of its own");
	CHECK(leak_find(s, LK(UNIX_SOCKET), sock_res(across[1])) == NULL);
	test_case("both ends in the tree: no leak");
	CHECK(leak_find(s, LK(UNIX_SOCKET), sock_res(own[0])) == NULL);
	CHECK(leak_find(s, LK(UNIX_SOCKET), sock_res(own[1])) == NULL);
	/* the peer only the helper holds: unknown, a leak by itself */
	lk = sock_leak(s, "a peer no process the helper sees holds", hidden);
	if (lk) {
		CHECK(lk->standalone);
		CHECK_UINT(lk->noutside, ==, 0);
		CHECK_CONTAINS(lk->summary, "no process the helper can see");
	}
}

static void test_unix(void)
{
	struct unix_fixture u;
	uint64_t across[2], own[2], hidden;
	pid_t root, outside;
	struct host_scan s;

	test_case("unix streams");
	CHECK_OK(unix_open(&u), NULL);
	for (int i = 0; i < 2; i++) {
		across[i] = fd_inode(u.across[i]);
		own[i] = fd_inode(u.own[i]);
	}
	hidden = fd_inode(u.hidden[0]);
	outside = spawn_ready(unix_outside, &u, NEW_GROUP);
	root = spawn_ready(unix_tree, &u, NEW_SESSION);
	close(u.across[0]);
	close(u.across[1]);
	close(u.own[0]);
	close(u.own[1]);
	close(u.hidden[0]);			/* hidden[1] stays here: the helper's, never a holder */
	CHECK_INT(root, >, 0);
	CHECK_INT(outside, >, 0);
	if (root > 0 && outside > 0 && SCAN_OK(root, &s)) {
		check_unix(&s, across, own, hidden, root, outside);
		leaks_scan_free(&s);
	}
	close(u.hidden[1]);
	end_all((pid_t[]){ root, outside }, 2);
}

/* ---- unix datagrams -------------------------------------------------------------------- */

/*
 * Made by the test, then shared out: the tree's receiver (bound to a path)
 * and an outside sender connected to it; a tree socket connected to an
 * outside one bound to a path; a tree socket connected to an unnamed
 * outside one.
 */
struct dgram_fixture {
	char recv_path[64], out_path[64];
	int recv, sender;		/* in the tree; outside, sends to recv */
	int out_named, to_named;	/* outside, bound; in the tree, connected to it */
	int pair[2];			/* [0] in the tree, [1] outside: unnamed */
	uint64_t recv_ino, sender_ino, to_named_ino, pair_ino;	/* the descriptors are closed before the scan */
};

/* A datagram socket bound to path (bind), or connected to it; -1 when it cannot be had. */
static int dgram_at(const char *path, bool bind_it)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (bind_it)
		unlink(path);
	if (fd >= 0 && (bind_it ? bind : connect)(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static int dgram_open(struct dgram_fixture *d)
{
	snprintf(d->recv_path, sizeof(d->recv_path), "/tmp/ckpt-dgram-recv-%d", getpid());
	snprintf(d->out_path, sizeof(d->out_path), "/tmp/ckpt-dgram-out-%d", getpid());
	d->recv = dgram_at(d->recv_path, true);
	d->sender = dgram_at(d->recv_path, false);
	d->out_named = dgram_at(d->out_path, true);
	d->to_named = dgram_at(d->out_path, false);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, d->pair))
		return -1;
	d->recv_ino = fd_inode(d->recv);
	d->sender_ino = fd_inode(d->sender);
	d->to_named_ino = fd_inode(d->to_named);
	d->pair_ino = fd_inode(d->pair[0]);
	return d->recv < 0 || d->sender < 0 || d->out_named < 0 || d->to_named < 0 ? -1 : 0;
}

static void dgram_close(struct dgram_fixture *d)
{
	int fds[] = { d->recv, d->sender, d->out_named, d->to_named, d->pair[0], d->pair[1] };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	unlink(d->recv_path);
	unlink(d->out_path);
}

static void dgram_tree(void *arg, int report)
{
	struct dgram_fixture *d = arg;

	close(d->sender);
	close(d->out_named);
	close(d->pair[1]);
	report_int(report, 1);
}

static void dgram_outside(void *arg, int report)
{
	struct dgram_fixture *d = arg;

	close(d->recv);
	close(d->to_named);
	close(d->pair[0]);
	report_int(report, 1);
}

static void check_dgram_peers(struct host_scan *s, const struct dgram_fixture *d, pid_t outside)
{
	const struct leak_choice *c;
	struct leak *lk;

	lk = sock_leak(s, "connected to an outside socket bound to a path", d->to_named_ino);
	if (lk) {
		CHECK_INT(lk->default_policy, ==, LP(FAIL));
		CHECK(holder(lk->outside, lk->noutside, outside) != NULL);
		CHECK_CONTAINS(lk->summary, "a unix datagram socket whose peer");
		CHECK_CONTAINS(lk->summary, d->out_path);
		c = choice(lk, LP(EXTERNAL));
		CHECK(c != NULL);
		if (c)
			CHECK_CONTAINS(c->effect, arena_printf("connects it to %s again", d->out_path));
	}
	lk = sock_leak(s, "connected to an unnamed outside socket", d->pair_ino);
	if (lk) {
		c = choice(lk, LP(EXTERNAL));
		CHECK(c != NULL);
		if (c)
			CHECK_CONTAINS(c->effect, "name-less external socket");
	}
}

static void check_dgram(struct host_scan *s, const struct dgram_fixture *d, pid_t root, pid_t outside)
{
	struct leak *lk = sock_leak(s, "a receiver an outside socket sends to", d->recv_ino);
	const struct leak_holder *h;

	if (lk) {
		CHECK_INT(lk->default_policy, ==, LP(WARN));
		CHECK(!lk->standalone);
		CHECK(has_choice(lk, LP(IGNORE), ""));
		CHECK(has_choice(lk, LP(FAIL), ""));
		CHECK(!choice(lk, LP(EXTERNAL)));
		CHECK(holder(lk->inside, lk->ninside, root) != NULL);
		h = holder(lk->outside, lk->noutside, outside);
		CHECK(h != NULL);
		if (h) {
			CHECK_INT(h->fd, ==, d->sender);
			CHECK_CONTAINS(h->how, arena_printf("%s, which sends to it", sock_res(d->sender_ino)));
		}
		CHECK_CONTAINS(lk->summary, arena_printf("datagram socket (%s) shared with 1 outside process",
							 d->recv_path));
	}
	check_dgram_peers(s, d, outside);
}

static void test_unix_dgram(void)
{
	struct dgram_fixture d = { .pair = { -1, -1 } };
	pid_t root = -1, outside = -1;
	struct host_scan s;

	test_case("unix datagrams");
	CHECK_OK(dgram_open(&d), NULL);
	if (d.recv >= 0 && d.sender >= 0 && d.out_named >= 0 && d.to_named >= 0 && d.pair[0] >= 0) {
		outside = spawn_ready(dgram_outside, &d, NEW_GROUP);
		root = spawn_ready(dgram_tree, &d, NEW_SESSION);
	}
	dgram_close(&d);			/* bound names stay the sockets' */
	CHECK_INT(root, >, 0);
	CHECK_INT(outside, >, 0);
	if (root > 0 && outside > 0 && SCAN_OK(root, &s)) {
		check_dgram(&s, &d, root, outside);
		leaks_scan_free(&s);
	}
	end_all((pid_t[]){ root, outside }, 2);
}

/* ---- TCP and UDP ------------------------------------------------------------ */

static int bound(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(uint16_t port, uint16_t *local)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	*local = ntohs(a.sin_port);
	return fd;
}

struct inet_fixture {
	uint16_t port;		/* the tree's listener */
};

/* Listens, reports the port and UDP's, accepts two connections, reports again. */
static void inet_tree(void *arg, int report)
{
	uint16_t port, udp_port, local;
	int l = bound(SOCK_STREAM, &port), u = bound(SOCK_DGRAM, &udp_port);

	(void)arg;
	if (l < 0 || u < 0 || listen(l, 8))
		_exit(1);
	report_int(report, port);
	report_int(report, udp_port);
	if (accept(l, NULL, NULL) < 0)		/* the outside client */
		_exit(1);
	/* a connection whose both ends are in the tree */
	if (connect_to(port, &local) < 0 || accept(l, NULL, NULL) < 0)
		_exit(1);
	report_int(report, local);
}

static void inet_outside(void *arg, int report)
{
	struct inet_fixture *f = arg;
	uint16_t local;

	if (connect_to(f->port, &local) < 0)
		_exit(1);
	report_int(report, local);
}

/* The leak of kind with this resource, checked to be found (test_case names it). */
static struct leak *inet_leak(struct host_scan *s, int kind, const char *resource)
{
	struct leak *lk = leak_find(s, kind, resource);

	test_case("%s", resource);
	CHECK(lk != NULL);
	return lk;
}

static void check_tcp_outside(struct host_scan *s, pid_t outside, uint16_t port, uint16_t client)
{
	struct leak *lk = inet_leak(s, LK(TCP), arena_printf("tcp 127.0.0.1:%u -> 127.0.0.1:%u", port, client));
	const struct leak_choice *c;
	const struct leak_holder *h;

	if (!lk)
		return;
	CHECK(lk->standalone);
	CHECK_INT(lk->default_policy, ==, LP(FAIL));
	c = choice(lk, LP(SAVE));
	CHECK(c != NULL);
	if (c)
		CHECK_STR(c->criu_option, ==, "--tcp-established");
	h = holder(lk->outside, lk->noutside, outside);
	CHECK(h != NULL);
	if (h) {
		CHECK(h->has_fd);
		CHECK_CONTAINS(h->how, "the other end");
	}
	CHECK_CONTAINS(lk->summary, "established");
	CHECK_CONTAINS(lk->summary, "outside");
}

static void check_inet(struct host_scan *s, pid_t root, pid_t outside, uint16_t port, uint16_t client,
		       uint16_t udp_port, uint16_t inner)
{
	struct leak *lk;

	lk = inet_leak(s, LK(TCP), arena_printf("tcp listen 127.0.0.1:%u", port));
	if (lk) {
		CHECK(lk->standalone);
		CHECK_INT(lk->default_policy, ==, LP(WARN));
		CHECK(choice(lk, LP(IGNORE)) != NULL);
		CHECK(choice(lk, LP(FAIL)) != NULL);
		CHECK(holder(lk->inside, lk->ninside, root) != NULL);
	}
	check_tcp_outside(s, outside, port, client);
	/* both ends inside: still a leak (the kernel holds the state), the peer named as inside */
	lk = inet_leak(s, LK(TCP), arena_printf("tcp 127.0.0.1:%u -> 127.0.0.1:%u", inner, port));
	if (lk) {
		CHECK_UINT(lk->noutside, ==, 0);
		CHECK_CONTAINS(lk->summary, "in the tree too");
	}
	inet_leak(s, LK(TCP), arena_printf("tcp 127.0.0.1:%u -> 127.0.0.1:%u", port, inner));
	lk = inet_leak(s, LK(UDP), arena_printf("udp 127.0.0.1:%u", udp_port));
	if (lk) {
		CHECK(lk->standalone);
		CHECK_INT(lk->default_policy, ==, LP(WARN));
		CHECK_CONTAINS(lk->summary, "bound to");
	}
}

static void test_inet(void)
{
	struct inet_fixture f = { 0 };
	uint16_t client = 0, udp_port, inner;
	pid_t root, outside = -1;
	struct host_scan s;
	int report, creport;

	test_case("TCP and UDP");
	root = spawn(inet_tree, NULL, NEW_SESSION, &report);
	f.port = read_int(report);
	udp_port = read_int(report);
	CHECK_INT(root, >, 0);
	CHECK_INT(f.port, >, 0);
	if (f.port > 0) {
		outside = spawn(inet_outside, &f, NEW_GROUP, &creport);
		client = read_int(creport);
		close(creport);
	}
	inner = read_int(report);
	close(report);
	CHECK_INT(outside, >, 0);
	CHECK_INT(client, >, 0);
	CHECK_INT(inner, >, 0);
	if (root > 0 && SCAN_OK(root, &s)) {
		check_inet(&s, root, outside, f.port, client, udp_port, inner);
		leaks_scan_free(&s);
	}
	end_all((pid_t[]){ root, outside }, 2);
}

/* ---- another network namespace ---------------------------------------------- */

static void netns_tree(void *arg, int report)
{
	struct sockaddr_in a = { .sin_family = AF_INET };	/* any address: lo is down there */
	socklen_t len = sizeof(a);
	int fd;

	(void)arg;
	if (unshare(CLONE_NEWNET)) {
		report_int(report, 0);	/* not possible here */
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		_exit(1);
	report_int(report, ntohs(a.sin_port));
}

static void test_netns(void)
{
	uint64_t before = ns_inode(getpid(), "net");
	struct host_scan s;
	int64_t port;
	pid_t root;

	test_case("another network namespace");
	root = spawn_value(netns_tree, NULL, NEW_SESSION, &port);
	CHECK_INT(root, >, 0);
	CHECK_INT(port, >=, 0);
	if (port == 0)
		fprintf(stderr, "test_leak_sockets: no network namespace could be made; that part is skipped\n");
	if (port > 0 && SCAN_OK(root, &s)) {
		struct leak *lk = inet_leak(&s, LK(TCP), arena_printf("tcp listen 0.0.0.0:%lld", (long long)port));

		if (lk)
			CHECK(holder(lk->inside, lk->ninside, root) != NULL);
		leaks_scan_free(&s);
	}
	test_case("the helper came back to its network namespace");
	CHECK_UINT(ns_inode(getpid(), "net"), ==, before);
	end_all(&root, 1);
}

/* ---- cost --------------------------------------------------------------------- */

/* fd_table_read + detect_sockets on this host, for a small tree: printed, and bounded loosely. */
static void test_cost(void)
{
	struct unix_fixture u;
	struct herr e = { 0 };
	struct host_scan s;
	uint64_t t0, us;
	pid_t root;

	test_case("cost");
	CHECK_OK(unix_open(&u), NULL);
	root = spawn_ready(unix_tree, &u, NEW_SESSION);
	for (int i = 0; i < 2; i++) {
		close(u.across[i]);
		close(u.own[i]);
		close(u.hidden[i]);
	}
	CHECK_INT(root, >, 0);
	if (root > 0 && HOST_READ_OK(root, &s, false)) {
		t0 = now_us();
		CHECK_OK(fd_table_read(&s, &e), &e);
		CHECK_OK(detect_sockets(&s, &e), &e);
		us = now_us() - t0;
		fprintf(stderr, "test_leak_sockets: fd_table_read + detect_sockets: %zu processes (%zu in the tree), "
			"%u descriptors (%zu kept), %llu us\n", s.nprocs, s.tree_procs, s.descriptors,
			s.fds ? s.fds->n : 0, (unsigned long long)us);
		CHECK_UINT(us, <, 2000000);	/* under sanitizers; the target is 100 ms for all detectors */
		leaks_scan_free(&s);
	}
	end_all(&root, 1);
}

TEST_GROUP(leak_sockets)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_unix();
	test_unix_dgram();
	test_inet();
	test_netns();
	test_cost();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	arena_free_all();
}
