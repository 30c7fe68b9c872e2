/* SPDX-License-Identifier: MIT */
/*
 * Tests of sock_diag.c: answers of the kernel's sock_diag decoded (made up
 * here, byte by byte), addresses and TCP states in words, the table sorted
 * and searched, and a dump of this network namespace's real sockets.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>

#include "arena.h"
#include "proc.h"
#include "sock_diag.h"
#include "util.h"
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

/* A unix answer in buf for socket 777 with a NAME attribute of len bytes (none when name is NULL). */
static struct nlmsghdr *unix_answer(uint8_t *buf, const char *name, size_t len, const void *peer, size_t plen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct unix_diag_msg *m = NLMSG_DATA(h);
	uint8_t *p = (uint8_t *)(m + 1);

	memset(buf, 0, 512);
	m->udiag_family = AF_UNIX;
	m->udiag_type = SOCK_STREAM;
	m->udiag_state = 1;
	m->udiag_ino = 777;
	if (name)
		p += put_attr(p, UNIX_DIAG_NAME, name, len);
	if (peer)
		p += put_attr(p, UNIX_DIAG_PEER, peer, plen);
	h->nlmsg_len = p - buf;
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	return h;
}

static void test_unix_names(void)
{
	static const struct {
		const char *what, *name;
		size_t len;
		const char *want;
	} cases[] = {
		{ "abstract, NULs as @", "\0ckpt\0x", 7, "@ckpt@x" },
		{ "a path, up to its NUL", "/run/a.sock\0\0", 13, "/run/a.sock" },
		{ "a path without a NUL", "/run/b.sock", 11, "/run/b.sock" },
		{ "control characters as ?", "/run/\001\177x", 8, "/run/??x" },
		{ "unbound", NULL, 0, "" },
		{ "an empty name", "", 0, "" },
	};
	uint8_t buf[512] __attribute__((aligned(8)));
	uint32_t peer = 4242;
	struct sock_entry e;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct nlmsghdr *h = unix_answer(buf, cases[i].name, cases[i].len, &peer, sizeof(peer));

		test_case("unix answer: %s", cases[i].what);
		CHECK_OK(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e), NULL);
		CHECK_STR(e.name, ==, cases[i].want);
		CHECK_INT(e.family, ==, AF_UNIX);
		CHECK_INT(e.type, ==, SOCK_STREAM);
		CHECK_INT(e.state, ==, 1);
		CHECK_UINT(e.ino, ==, 777);
		CHECK_UINT(e.peer, ==, 4242);
	}
	test_case("unix answer: a name longer than the entry's");
	{
		char long_name[300];
		struct nlmsghdr *h;

		memset(long_name, 'a', sizeof(long_name));
		long_name[0] = '/';
		h = unix_answer(buf, long_name, sizeof(long_name) - 100, NULL, 0);
		CHECK_OK(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e), NULL);
		CHECK_UINT(strlen(e.name), ==, sizeof(e.name) - 1);
		CHECK_UINT(e.peer, ==, 0);
	}
}

static void test_unix_malformed(void)
{
	uint8_t buf[512] __attribute__((aligned(8)));
	uint16_t short_peer = 7;
	struct sock_entry e;
	struct nlmsghdr *h;

	test_case("unix answer: a peer attribute too short for an inode");
	h = unix_answer(buf, NULL, 0, &short_peer, sizeof(short_peer));
	CHECK_OK(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e), NULL);
	CHECK_UINT(e.peer, ==, 0);

	h = unix_answer(buf, "/run/a.sock", 11, NULL, 0);
	test_case("unix answer: shorter than a header");
	CHECK_INT(sock_diag_parse(AF_UNIX, h, NLMSG_LENGTH(0) - 1, &e), ==, -1);
	test_case("unix answer: cut");
	CHECK_INT(sock_diag_parse(AF_UNIX, h, h->nlmsg_len - 1, &e), ==, -1);
	test_case("unix answer: no room for the message");
	h->nlmsg_len = NLMSG_LENGTH(sizeof(struct unix_diag_msg) - 1);
	CHECK_INT(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e), ==, -1);
	test_case("unix answer: an error");
	h->nlmsg_len = NLMSG_LENGTH(sizeof(struct unix_diag_msg));
	h->nlmsg_type = NLMSG_ERROR;
	CHECK_INT(sock_diag_parse(AF_UNIX, h, h->nlmsg_len, &e), ==, -1);
}

static void test_inet_decode(void)
{
	uint8_t buf[256] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct inet_diag_msg *m = NLMSG_DATA(h);
	struct sock_entry e;
	char text[64];

	test_case("inet answer: IPv6");
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	m->idiag_family = AF_INET6;
	m->idiag_state = 1;
	m->idiag_inode = 99;
	m->id.idiag_sport = htons(5000);
	m->id.idiag_dport = htons(41234);
	inet_pton(AF_INET6, "::1", m->id.idiag_src);
	inet_pton(AF_INET6, "fe80::2", m->id.idiag_dst);
	CHECK_OK(sock_diag_parse(AF_INET6, h, h->nlmsg_len, &e), NULL);
	CHECK_INT(e.family, ==, AF_INET6);
	CHECK_INT(e.state, ==, 1);
	CHECK_UINT(e.ino, ==, 99);
	CHECK_UINT(e.sport, ==, 5000);
	CHECK_UINT(e.dport, ==, 41234);
	sock_addr_text(e.family, e.src, e.sport, text, sizeof(text));
	CHECK_STR(text, ==, "[::1]:5000");
	sock_addr_text(e.family, e.dst, e.dport, text, sizeof(text));
	CHECK_STR(text, ==, "[fe80::2]:41234");

	test_case("inet answer: IPv4");
	m->idiag_family = AF_INET;
	memset(m->id.idiag_src, 0, sizeof(m->id.idiag_src));
	inet_pton(AF_INET, "127.0.0.1", m->id.idiag_src);
	CHECK_OK(sock_diag_parse(AF_INET, h, h->nlmsg_len, &e), NULL);
	CHECK_INT(e.family, ==, AF_INET);
	sock_addr_text(e.family, e.src, e.sport, text, sizeof(text));
	CHECK_STR(text, ==, "127.0.0.1:5000");
	test_case("inet answer: not an inet family");
	m->idiag_family = AF_UNIX;
	CHECK_INT(sock_diag_parse(AF_INET, h, h->nlmsg_len, &e), ==, -1);
	test_case("inet answer: no room for the message");
	m->idiag_family = AF_INET;
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*m) - 1);
	CHECK_INT(sock_diag_parse(AF_INET, h, h->nlmsg_len, &e), ==, -1);
}

/* ---- words ------------------------------------------------------------------------ */

static void test_addr_text(void)
{
	static const struct {
		int family;
		const char *addr;
		uint16_t port;
		size_t len;
		const char *want;
	} cases[] = {
		{ AF_INET, "0.0.0.0", 0, 64, "0.0.0.0:0" },
		{ AF_INET, "10.1.2.3", 65535, 64, "10.1.2.3:65535" },
		{ AF_INET6, "::", 80, 64, "[::]:80" },
		{ AF_INET6, "::ffff:127.0.0.1", 443, 64, "[::ffff:127.0.0.1]:443" },
		{ AF_INET, "127.0.0.1", 5000, 6, "127.0" },	/* cut to the buffer */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t a[16] = { 0 };
		char text[64];

		test_case("sock_addr_text(%s, %u, %zu bytes)", cases[i].addr, cases[i].port, cases[i].len);
		CHECK_INT(inet_pton(cases[i].family, cases[i].addr, a), ==, 1);
		sock_addr_text(cases[i].family, a, cases[i].port, text, cases[i].len);
		CHECK_STR(text, ==, cases[i].want);
	}
}

static void test_tcp_state_name(void)
{
	static const struct {
		int state;
		const char *want;
	} cases[] = {
		{ SK_ESTABLISHED, "established" }, { SK_SYN_SENT, "connecting (SYN sent)" },
		{ SK_TIME_WAIT, "TIME-WAIT" }, { SK_CLOSE, "closed" },
		{ SK_CLOSE_WAIT, "closing (CLOSE-WAIT: the peer closed)" }, { SK_LISTEN, "listening" },
		{ SK_CLOSING, "closing" }, { SK_NEW_SYN_RECV, "connecting" },
		{ 0, NULL }, { -1, NULL }, { SK_NEW_SYN_RECV + 1, NULL }, { INT_MAX, NULL }, { INT_MIN, NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_case("tcp_state_name(%d)", cases[i].state);
		CHECK_STR(tcp_state_name(cases[i].state), ==, cases[i].want);
	}
	for (int state = SK_ESTABLISHED; state <= SK_NEW_SYN_RECV; state++) {
		test_case("tcp_state_name(%d): every state sock_diag reports has a name", state);
		CHECK(tcp_state_name(state) != NULL);
	}
}

/* ---- the table ------------------------------------------------------------------------ */

static void test_table(void)
{
	static const uint64_t inos[] = { 5, 1, 9, 3, 7 };
	struct sock_table t = { 0 };
	struct sock_entry v[ARRAY_SIZE(inos)];

	test_case("an empty table");
	sock_table_sort(&t);
	CHECK_UINT(t.n, ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(inos); i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].ino = inos[i];
		v[i].sport = (uint16_t)(100 + i);	/* which one it was */
	}
	t.v = v;
	t.n = t.cap = ARRAY_SIZE(v);
	sock_table_sort(&t);
	for (size_t i = 1; i < t.n; i++) {
		test_case("sorted: entry %zu", i);
		CHECK_UINT(t.v[i].ino, >, t.v[i - 1].ino);
	}
	for (size_t i = 0; i < ARRAY_SIZE(inos); i++) {
		const struct sock_entry *e = sock_find(&t, inos[i]);

		test_case("sock_find(%llu)", (unsigned long long)inos[i]);
		CHECK(e != NULL);
		if (e)
			CHECK_UINT(e->sport, ==, 100 + i);
	}
	test_case("sock_find of an inode not in the table");
	CHECK(sock_find(&t, 4) == NULL);
	CHECK(sock_find(&t, 10) == NULL);
	test_case("sock_find in an empty table");
	{
		struct sock_table none = { 0 };

		CHECK(sock_find(&none, 5) == NULL);
	}
	test_case("sock_find(0): no socket");
	v[0].ino = 0;
	sock_table_sort(&t);
	CHECK(sock_find(&t, 0) == NULL);
}

/* ---- a real dump ------------------------------------------------------------------------ */

static int inet_bound(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len) ||
	    (type == SOCK_STREAM && listen(fd, 1))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* The entry of the socket fd is, checked to be found. */
static const struct sock_entry *found(const struct sock_table *t, int fd, const char *what)
{
	const struct sock_entry *e = sock_find(t, fd_inode(fd));

	test_case("sock_diag_dump_netns: %s (socket:[%llu])", what, (unsigned long long)fd_inode(fd));
	CHECK(e != NULL);
	return e;
}

static void check_dump(const struct sock_table *t, const int pair[2], int tcp, uint16_t tcp_port, int udp,
		       uint16_t udp_port, uint64_t netns)
{
	const struct sock_entry *e;
	char text[64];

	for (int i = 0; i < 2; i++) {
		e = found(t, pair[i], i ? "unix pair, second" : "unix pair, first");
		if (!e)
			continue;
		CHECK_INT(e->family, ==, AF_UNIX);
		CHECK_INT(e->type, ==, SOCK_STREAM);
		CHECK_UINT(e->peer, ==, fd_inode(pair[!i]));
		CHECK_STR(e->name, ==, "");
		CHECK_UINT(e->netns, ==, netns);
	}
	e = found(t, tcp, "TCP listener");
	if (e) {
		CHECK_INT(e->family, ==, AF_INET);
		CHECK_INT(e->type, ==, IPPROTO_TCP);
		CHECK_INT(e->state, ==, SK_LISTEN);
		sock_addr_text(e->family, e->src, e->sport, text, sizeof(text));
		CHECK_STR(text, ==, arena_printf("127.0.0.1:%u", tcp_port));
		CHECK_UINT(e->netns, ==, netns);
	}
	e = found(t, udp, "UDP socket");
	if (e) {
		CHECK_INT(e->family, ==, AF_INET);
		CHECK_INT(e->type, ==, IPPROTO_UDP);
		CHECK_UINT(e->sport, ==, udp_port);
		CHECK_UINT(e->dport, ==, 0);
	}
}

static void test_dump(void)
{
	uint64_t netns = ns_inode(getpid(), "net");
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	uint16_t tcp_port = 0, udp_port = 0;
	int pair[2] = { -1, -1 }, tcp = inet_bound(SOCK_STREAM, &tcp_port), udp = inet_bound(SOCK_DGRAM, &udp_port);
	struct sock_table t = { 0 };

	test_case("sock_diag_dump_netns");
	CHECK_INT(nl, >=, 0);
	CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), NULL);
	CHECK_INT(tcp, >=, 0);
	CHECK_INT(udp, >=, 0);
	if (nl >= 0 && tcp >= 0 && udp >= 0 && pair[0] >= 0) {
		sock_diag_dump_netns(nl, netns, &t);
		sock_table_sort(&t);
		CHECK_UINT(t.n, >=, 4);
		check_dump(&t, pair, tcp, tcp_port, udp, udp_port, netns);
	}
	free(t.v);
	for (int i = 0; i < 2; i++)
		if (pair[i] >= 0)
			close(pair[i]);
	if (nl >= 0)
		close(nl);
	if (tcp >= 0)
		close(tcp);
	if (udp >= 0)
		close(udp);
}

TEST_GROUP(sock_diag)
{
	test_unix_names();
	test_unix_malformed();
	test_inet_decode();
	test_addr_text();
	test_tcp_state_name();
	test_table();
	test_dump();
}
