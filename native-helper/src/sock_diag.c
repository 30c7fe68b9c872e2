/* SPDX-License-Identifier: MIT */
/*
 * Sockets as the kernel's sock_diag tells them: one dump per family and
 * protocol over a NETLINK_SOCK_DIAG socket (bound to the network namespace
 * it was made in), decoded into sock_entry.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>

#include "lists.h"
#include "sock_diag.h"
#include "util.h"

static const char *const tcp_state_names[] = {
	[SK_ESTABLISHED] = "established", [SK_SYN_SENT] = "connecting (SYN sent)",
	[SK_SYN_RECV] = "connecting (SYN received)", [SK_FIN_WAIT1] = "closing (FIN-WAIT-1)",
	[SK_FIN_WAIT2] = "closing (FIN-WAIT-2)", [SK_TIME_WAIT] = "TIME-WAIT", [SK_CLOSE] = "closed",
	[SK_CLOSE_WAIT] = "closing (CLOSE-WAIT: the peer closed)", [SK_LAST_ACK] = "closing (LAST-ACK)",
	[SK_LISTEN] = "listening", [SK_CLOSING] = "closing", [SK_NEW_SYN_RECV] = "connecting",
};

/* A unix socket's name: a path, "@abstract" (NULs shown as '@'), "" unbound. */
static void unix_name(const char *p, size_t n, char *out, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < len; i++) {
		unsigned char c = p[i];

		if (!c && i > 0 && p[0])
			break;		/* a path's terminating NUL */
		out[k++] = !c ? '@' : c < 0x20 || c == 0x7f ? '?' : c;
	}
	out[k] = '\0';
}

static int parse_unix(const struct nlmsghdr *h, struct sock_entry *out)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a;
	int rem;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -1;
	out->family = AF_UNIX;
	out->type = m->udiag_type;
	out->state = m->udiag_state;
	out->ino = m->udiag_ino;
	rem = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	for (a = (const struct rtattr *)(m + 1); RTA_OK(a, rem); a = RTA_NEXT(a, rem)) {
		if (a->rta_type == UNIX_DIAG_NAME)
			unix_name(RTA_DATA(a), RTA_PAYLOAD(a), out->name, sizeof(out->name));
		else if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t))
			out->peer = *(const uint32_t *)RTA_DATA(a);
	}
	return 0;
}

static int parse_inet(const struct nlmsghdr *h, struct sock_entry *out)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	size_t alen;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -1;
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -1;
	alen = m->idiag_family == AF_INET ? 4 : 16;
	out->family = m->idiag_family;
	out->state = m->idiag_state;
	out->ino = m->idiag_inode;
	out->sport = ntohs(m->id.idiag_sport);
	out->dport = ntohs(m->id.idiag_dport);
	memcpy(out->src, m->id.idiag_src, alen);
	memcpy(out->dst, m->id.idiag_dst, alen);
	return 0;
}

int sock_diag_parse(int family, const void *msg, size_t len, struct sock_entry *out)
{
	const struct nlmsghdr *h = msg;

	memset(out, 0, sizeof(*out));
	if (len < NLMSG_LENGTH(0) || h->nlmsg_len > len || h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		goto bad;
	if (family == AF_UNIX ? parse_unix(h, out) : parse_inet(h, out))
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

void sock_addr_text(int family, const uint8_t *addr, uint16_t port, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(out, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

static int table_add(struct sock_table *t, const struct sock_entry *e)
{
	if (array_grow((void **)&t->v, &t->cap, t->n + 1, sizeof(*t->v)))
		return -1;
	t->v[t->n++] = *e;
	return 0;
}

/* One dump: req (a struct nlmsghdr and its request) answered into t. */
static int diag_dump(int nl, void *req, size_t reqlen, int family, int type, uint64_t netns,
		     struct sock_table *t)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	size_t bufsize = 32768;
	char *buf = malloc(bufsize);
	int ret = -1;

	if (!buf || sendto(nl, req, reqlen, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		goto out;
	for (;;) {
		ssize_t n = recv(nl, buf, bufsize, 0);
		struct nlmsghdr *h;
		int len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		len = n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			struct sock_entry e;

			if (h->nlmsg_type == NLMSG_DONE) {
				ret = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *err = NLMSG_DATA(h);

				errno = h->nlmsg_len >= NLMSG_LENGTH(sizeof(*err)) && err->error ? -err->error : EIO;
				goto out;
			}
			if (sock_diag_parse(family, h, h->nlmsg_len, &e))
				continue;
			if (family != AF_UNIX)
				e.type = type;
			e.netns = netns;
			if (table_add(t, &e))
				goto out;
		}
	}
out:
	free(buf);
	return ret;
}

static int dump_unix(int nl, uint64_t netns, struct sock_table *t)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u,
		       .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER },
	};

	return diag_dump(nl, &req, sizeof(req), AF_UNIX, 0, netns, t);
}

static int dump_inet(int nl, int family, int protocol, uint64_t netns, struct sock_table *t)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		/* every state but those without a descriptor (no inode) */
		.r = { .sdiag_family = family, .sdiag_protocol = protocol,
		       .idiag_states = ~((1u << SK_TIME_WAIT) | (1u << SK_NEW_SYN_RECV)) },
	};

	return diag_dump(nl, &req, sizeof(req), family, protocol, netns, t);
}

void sock_diag_dump_netns(int nl, uint64_t netns, struct sock_table *t)
{
	dump_unix(nl, netns, t);
	dump_inet(nl, AF_INET, IPPROTO_TCP, netns, t);
	dump_inet(nl, AF_INET6, IPPROTO_TCP, netns, t);
	dump_inet(nl, AF_INET, IPPROTO_UDP, netns, t);
	dump_inet(nl, AF_INET6, IPPROTO_UDP, netns, t);
}

static int cmp_sock(const void *a, const void *b)
{
	const struct sock_entry *x = a, *y = b;

	return (x->ino > y->ino) - (x->ino < y->ino);
}

const struct sock_entry *sock_find(const struct sock_table *t, uint64_t ino)
{
	struct sock_entry key = { .ino = ino };

	if (!ino || !t->n)
		return NULL;	/* bsearch wants an array, even of none */
	return bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_sock);
}

void sock_table_sort(struct sock_table *t)
{
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), cmp_sock);
}

const char *tcp_state_name(int state)
{
	if (state <= 0 || (size_t)state >= ARRAY_SIZE(tcp_state_names))
		return NULL;
	return tcp_state_names[state];
}
