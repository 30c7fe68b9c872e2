/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of leak_sockets.c: the sock_diag decoding, and the detector on
 * real sockets (unix pairs across the tree's border, TCP over loopback, UDP,
 * a listener in another network namespace). Every child is killed and
 * reaped; the test process is a child subreaper meanwhile.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>

#include "arena.h"
#include "fd_table.h"
#include "leak_scan.h"
#include "leak_sockets.h"
#include "leaks.h"
#include "lists.h"
#include "sock_diag.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"

/* ---- decoding ----------------------------------------------------------------- */

static size_t put_attr(uint8_t *p, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)p;

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	return RTA_ALIGN(a->rta_len);
}

static void test_unix_decode(void)
{
	uint8_t buf[512] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct unix_diag_msg *m = NLMSG_DATA(h);
	uint8_t *p = (uint8_t *)(m + 1);
	static const char abstract[] = "\0ckpt\0x";	/* sizeof - 1: the name's bytes */
	uint32_t peer = 4242;
	struct sock_entry e;

	m->udiag_family = AF_UNIX;
	m->udiag_type = SOCK_STREAM;
	m->udiag_state = 1;
	m->udiag_ino = 777;
	p += put_attr(p, UNIX_DIAG_NAME, abstract, sizeof(abstract) - 1);
	p += put_attr(p, UNIX_DIAG_PEER, &peer, sizeof(peer));
	h->nlmsg_len = p - buf;
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	CHECK(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e) == 0);
	CHECK(e.family == AF_UNIX && e.type == SOCK_STREAM && e.ino == 777 && e.peer == 4242);
	CHECK(!strcmp(e.name, "@ckpt@x"));

	/* a path: up to its NUL */
	p = (uint8_t *)(m + 1);
	p += put_attr(p, UNIX_DIAG_NAME, "/run/a.sock\0\0", 13);
	h->nlmsg_len = p - buf;
	CHECK(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e) == 0 && !strcmp(e.name, "/run/a.sock") && e.peer == 0);

	CHECK(sock_diag_parse(AF_UNIX, h, NLMSG_LENGTH(0) - 1, &e) == -1);	/* shorter than a header */
	CHECK(sock_diag_parse(AF_UNIX, h, h->nlmsg_len - 1, &e) == -1);		/* cut */
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*m) - 1);
	CHECK(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e) == -1);		/* no room for the message */
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	h->nlmsg_type = NLMSG_ERROR;
	CHECK(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e) == -1);
}

static void test_inet_decode(void)
{
	uint8_t buf[256] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct inet_diag_msg *m = NLMSG_DATA(h);
	struct sock_entry e;
	char text[64];

	h->nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	m->idiag_family = AF_INET6;
	m->idiag_state = 1;
	m->idiag_inode = 99;
	m->id.idiag_sport = htons(5000);
	m->id.idiag_dport = htons(41234);
	inet_pton(AF_INET6, "::1", m->id.idiag_src);
	inet_pton(AF_INET6, "fe80::2", m->id.idiag_dst);
	CHECK(sock_diag_parse(AF_INET6, h, h->nlmsg_len, &e) == 0);
	CHECK(e.family == AF_INET6 && e.state == 1 && e.ino == 99 && e.sport == 5000 && e.dport == 41234);
	sock_addr_text(e.family, e.src, e.sport, text, sizeof(text));
	CHECK(!strcmp(text, "[::1]:5000"));
	sock_addr_text(e.family, e.dst, e.dport, text, sizeof(text));
	CHECK(!strcmp(text, "[fe80::2]:41234"));

	m->idiag_family = AF_INET;
	memset(m->id.idiag_src, 0, sizeof(m->id.idiag_src));
	inet_pton(AF_INET, "127.0.0.1", m->id.idiag_src);
	CHECK(sock_diag_parse(AF_INET, h, h->nlmsg_len, &e) == 0);
	sock_addr_text(e.family, e.src, e.sport, text, sizeof(text));
	CHECK(!strcmp(text, "127.0.0.1:5000"));
	m->idiag_family = AF_UNIX;		/* not an inet answer */
	CHECK(sock_diag_parse(AF_INET, h, h->nlmsg_len, &e) == -1);
}

/* ---- real sockets ------------------------------------------------------------- */

static uint64_t sock_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static const char *sock_res(uint64_t ino)
{
	return arena_printf("socket:[%llu]", (unsigned long long)ino);
}

/* ---- unix ---------------------------------------------------------------------- */

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

static void test_unix(void)
{
	struct unix_fixture u;
	uint64_t across0, across1, own0, own1, hidden0;
	pid_t root, outside, groups[2];
	struct herr e = { 0 };
	struct host_scan s;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, u.across) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, u.own) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, u.hidden) == 0);
	across0 = sock_ino(u.across[0]);
	across1 = sock_ino(u.across[1]);
	own0 = sock_ino(u.own[0]);
	own1 = sock_ino(u.own[1]);
	hidden0 = sock_ino(u.hidden[0]);
	outside = spawn_ready(unix_outside, &u, NEW_GROUP);
	root = spawn_ready(unix_tree, &u, NEW_SESSION);
	close(u.across[0]);
	close(u.across[1]);
	close(u.own[0]);
	close(u.own[1]);
	close(u.hidden[0]);			/* hidden[1] stays here: the helper's, never a holder */
	CHECK(root > 0 && outside > 0);
	if (leaks_scan(root, &s, &e) == 0) {
		struct leak *lk = leak_find(&s, LK(UNIX_SOCKET), sock_res(across0));
		const struct leak_holder *h;
		const struct leak_choice *c;

		CHECK(lk && lk->default_policy == LP(FAIL) && !lk->standalone);
		if (lk) {
			h = holder(lk->outside, lk->noutside, outside);
			CHECK(h && h->has_fd && strstr(h->how, sock_res(across1)));
			CHECK(holder(lk->inside, lk->ninside, root) != NULL);
			c = choice(lk, LP(EXTERNAL));
			CHECK(c && !strcmp(c->criu_option, "--ext-unix-sk") && strstr(c->effect, "half of a stream"));
			CHECK(strstr(lk->summary, "stream") && strstr(lk->criu, "External socket is used"));
		}
		/* the other end, outside, is not the tree's: no leak of its own */
		CHECK(leak_find(&s, LK(UNIX_SOCKET), sock_res(across1)) == NULL);
		/* both ends in the tree */
		CHECK(!leak_find(&s, LK(UNIX_SOCKET), sock_res(own0)) && !leak_find(&s, LK(UNIX_SOCKET), sock_res(own1)));
		/* the peer only the helper holds: unknown, a leak by itself */
		lk = leak_find(&s, LK(UNIX_SOCKET), sock_res(hidden0));
		CHECK(lk && lk->standalone && lk->noutside == 0 && strstr(lk->summary, "no process the helper can see"));
	} else {
		CHECK(!"leaks_scan failed");
	}
	leaks_scan_free(&s);
	close(u.hidden[1]);
	groups[0] = root;
	groups[1] = outside;
	end_all(groups, 2);
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

static void check_inet(struct host_scan *s, pid_t root, pid_t outside, uint16_t port, uint16_t client,
		       uint16_t udp_port, uint16_t inner)
{
	struct leak *lk;
	const struct leak_holder *h;

	lk = leak_find(s, LK(TCP), arena_printf("tcp listen 127.0.0.1:%u", port));
	CHECK(lk && lk->standalone && lk->default_policy == LP(WARN) && choice(lk, LP(IGNORE)) &&
	      choice(lk, LP(FAIL)) && holder(lk->inside, lk->ninside, root));

	lk = leak_find(s, LK(TCP), arena_printf("tcp 127.0.0.1:%u -> 127.0.0.1:%u", port, client));
	CHECK(lk && lk->standalone && lk->default_policy == LP(FAIL));
	if (lk) {
		const struct leak_choice *c = choice(lk, LP(SAVE));

		CHECK(c && !strcmp(c->criu_option, "--tcp-established"));
		h = holder(lk->outside, lk->noutside, outside);
		CHECK(h && h->has_fd && strstr(h->how, "the other end"));
		CHECK(strstr(lk->summary, "established") && strstr(lk->summary, "outside"));
	}
	/* both ends inside: still a leak (the kernel holds the state), the peer named as inside */
	lk = leak_find(s, LK(TCP), arena_printf("tcp 127.0.0.1:%u -> 127.0.0.1:%u", inner, port));
	CHECK(lk && lk->noutside == 0 && strstr(lk->summary, "in the tree too"));
	lk = leak_find(s, LK(TCP), arena_printf("tcp 127.0.0.1:%u -> 127.0.0.1:%u", port, inner));
	CHECK(lk != NULL);

	lk = leak_find(s, LK(UDP), arena_printf("udp 127.0.0.1:%u", udp_port));
	CHECK(lk && lk->standalone && lk->default_policy == LP(WARN) && strstr(lk->summary, "bound to"));
}

static void test_inet(void)
{
	struct inet_fixture f = { 0 };
	uint16_t client = 0, udp_port, inner;
	pid_t root, outside = -1, groups[2];
	struct herr e = { 0 };
	struct host_scan s;
	int report, creport;

	root = spawn(inet_tree, NULL, NEW_SESSION, &report);
	f.port = read_int(report);
	udp_port = read_int(report);
	CHECK(root > 0 && f.port > 0);
	if (f.port > 0) {
		outside = spawn(inet_outside, &f, NEW_GROUP, &creport);
		client = read_int(creport);
		close(creport);
	}
	inner = read_int(report);
	close(report);
	CHECK(outside > 0 && client > 0 && inner > 0);
	if (leaks_scan(root, &s, &e) == 0)
		check_inet(&s, root, outside, f.port, client, udp_port, inner);
	else
		CHECK(!"leaks_scan failed");
	leaks_scan_free(&s);
	groups[0] = root;
	groups[1] = outside;
	end_all(groups, 2);
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
	struct herr e = { 0 };
	struct host_scan s;
	pid_t root;
	int report;
	int64_t port;

	root = spawn(netns_tree, NULL, NEW_SESSION, &report);
	port = read_int(report);
	close(report);
	CHECK(root > 0 && port >= 0);
	if (port == 0)
		fprintf(stderr, "test_leak_sockets: no network namespace could be made; that part is skipped\n");
	if (port > 0 && leaks_scan(root, &s, &e) == 0) {
		struct leak *lk = leak_find(&s, LK(TCP), arena_printf("tcp listen 0.0.0.0:%lld", (long long)port));

		CHECK(lk && holder(lk->inside, lk->ninside, root));
		leaks_scan_free(&s);
	}
	CHECK(ns_inode(getpid(), "net") == before);	/* the helper came back */
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

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, u.across) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, u.own) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, u.hidden) == 0);
	root = spawn_ready(unix_tree, &u, NEW_SESSION);
	for (int i = 0; i < 2; i++) {
		close(u.across[i]);
		close(u.own[i]);
		close(u.hidden[i]);
	}
	if (root > 0 && leaks_scan(root, &s, &e) == 0) {
		fd_table_free(s.fds);
		s.fds = NULL;
		s.descriptors = 0;
		t0 = now_us();
		CHECK(fd_table_read(&s, &e) == 0 && detect_sockets(&s, &e) == 0);
		us = now_us() - t0;
		fprintf(stderr, "test_leak_sockets: fd_table_read + detect_sockets: %zu processes (%zu in the tree), "
			"%u descriptors (%zu kept), %llu us\n", s.nprocs, s.tree_procs, s.descriptors,
			s.fds ? s.fds->n : 0, (unsigned long long)us);
		CHECK(us < 2000000);	/* under sanitizers; the target is 100 ms for all detectors */
		leaks_scan_free(&s);
	}
	end_all(&root, 1);
}

TEST_GROUP(leak_sockets)
{
	test_unix_decode();
	test_inet_decode();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_unix();
	test_inet();
	test_netns();
	test_cost();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	arena_free_all();
}
