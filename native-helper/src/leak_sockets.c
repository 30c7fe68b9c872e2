/* SPDX-License-Identifier: MIT */
/*
 * Leaks of sockets: unix sockets whose peer is outside, TCP connections
 * and listeners, UDP sockets.
 *
 * The tree's sockets are its descriptors of type socket (s->fds, read by
 * detect_files). sock_diag tells what each is: one dump per family and
 * protocol, in every network namespace the tree is in and in the helper's
 * own (a socket stays in the namespace it was made in, so an inherited one
 * may be there). A namespace not the helper's is entered only to open the
 * netlink socket, which stays bound to it; the helper goes back at once.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "proc.h"
#include "sock_diag.h"
#include "util.h"
#include "wire.h"

/*
 * A sock_diag socket in network namespace netns, entered through pid's
 * /proc/PID/ns/net when it is not the helper's own (own). -1 when it
 * cannot be had; *lost is set when the helper could not return to its own
 * namespace (the caller must stop).
 */
static int diag_socket(pid_t pid, uint64_t netns, uint64_t own, bool *lost)
{
	int self, nl;

	*lost = false;
	if (netns == own)
		return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	self = ns_enter(pid, "net", CLONE_NEWNET, netns);
	if (self < 0)
		return -1;	/* the process moved or went */
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (ns_leave(self, CLONE_NEWNET)) {
		*lost = true;
		if (nl >= 0)
			close(nl);
		nl = -1;
	}
	return nl;
}

/*
 * Reads the sockets of every network namespace the tree is in and of the
 * helper's. -1 only when the helper could not return to its namespace.
 */
static int read_sockets(struct host_scan *s, struct sock_table *t, struct herr *e)
{
	uint64_t done[64], own = 0;
	size_t ndone = 0;
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st) == 0)
		own = st.st_ino;
	for (size_t i = 0; i <= s->nprocs; i++) {
		const struct host_proc *p = i < s->nprocs ? &s->procs[i] : NULL;
		uint64_t netns = p ? p->ns[NS_NET] : own;
		bool seen = false, lost;
		int nl;

		if ((p && !p->in_tree) || !netns)
			continue;
		for (size_t j = 0; j < ndone && !seen; j++)
			seen = done[j] == netns;
		if (seen || ndone == ARRAY_SIZE(done))
			continue;
		done[ndone++] = netns;
		nl = diag_socket(p ? p->pid : s->self, netns, own, &lost);
		if (lost) {
			herr_perror(e, EC(INTERNAL), errno, "cannot return to the helper's own network namespace "
				 "after reading the sockets of net:[%llu]", (unsigned long long)netns);
			return -1;
		}
		if (nl < 0) {
			/* its sockets stay unknown: no leak is told of them */
			fprintf(stderr, "checkpoint-helper: cannot read the sockets of net:[%llu] (process %d): "
				"%s\n", (unsigned long long)netns, p ? p->pid : s->self, strerror(errno));
			continue;
		}
		sock_diag_dump_netns(nl, netns, t);
		close(nl);
	}
	sock_table_sort(t);
	return 0;
}

/* ---- leaks ------------------------------------------------------------------- */

struct sock_ctx {
	struct host_scan *s;
	struct sock_table socks;
	uint64_t sockdev;		/* the socket file system's device */
};

/*
 * Holders of socket ino: how many inside and outside; added to lk (when
 * set), described as in_what and out_what ("" for the access mode).
 */
static void hold_socket(struct sock_ctx *c, uint64_t ino, struct leak *lk, const char *in_what,
			const char *out_what, size_t *nin, size_t *nout)
{
	size_t first, n = fd_table_find(c->s->fds, c->sockdev, ino, &first);

	*nin = *nout = 0;
	for (size_t i = first; i < first + n; i++) {
		struct fd_entry *e = &c->s->fds->v[i];
		const struct host_proc *p = host_find(c->s, e->pid);
		struct leak_holder h;

		if (!p || p->excluded)
			continue;
		if (e->in_tree)
			(*nin)++;
		else
			(*nout)++;
		if (lk) {
			fd_entry_holder(e, e->in_tree ? in_what : out_what, &h);
			leak_hold(c->s, lk, e->pid, &h);
		}
	}
}

/* "held by 2 outside processes" */
static const char *held_outside(const struct leak *lk)
{
	size_t n = leak_outside_procs(lk);

	return arena_printf("held by %zu outside %s", n, plural(n, "process", "processes"));
}

static const char *unix_type(int type)
{
	return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "datagram" :
	       type == SOCK_SEQPACKET ? "seqpacket" : "unix";
}

static const char *named(const char *name)
{
	return name[0] ? arena_printf(" (%s)", name) : "";
}

/* Outside sockets connected to sk (datagram senders): added to lk when set; their count. */
static size_t hold_senders(struct sock_ctx *c, const struct sock_entry *sk, struct leak *lk)
{
	size_t count = 0;

	if (sk->type != SOCK_DGRAM)
		return 0;	/* a stream peer is sk's own peer */
	for (size_t i = 0; i < c->socks.n; i++) {
		const struct sock_entry *o = &c->socks.v[i];
		const char *what;
		size_t nin, nout;

		if (o->family != AF_UNIX || o->peer != sk->ino || o->ino == sk->peer)
			continue;
		what = lk ? arena_printf("socket:[%llu], which sends to it", (unsigned long long)o->ino) : "";
		hold_socket(c, o->ino, lk, what, what, &nin, &nout);
		count += nout;
	}
	return count;
}

static void unix_peer_text(struct leak *lk, const struct sock_entry *sk, const struct sock_entry *peer,
			   bool unknown)
{
	const char *peer_name = peer ? peer->name : "";

	lk->summary = arena_printf("a unix %s socket%s whose peer socket:[%llu]%s is %s", unix_type(sk->type),
				   named(sk->name), (unsigned long long)sk->peer, named(peer_name),
				   unknown ? "held by no process the helper can see (one in another pid "
					     "namespace, a descriptor in flight in a message, or the helper's)"
					   : held_outside(lk));
	lk->risk = "what the outside end sends while the tree is frozen piles up or is lost; a restore "
		   "cannot give the tree the same connection back";
	lk->criu = "CRIU fails: \"External socket is used. Consider using --ext-unix-sk option.\"";
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
	if (sk->type != SOCK_DGRAM)
		leak_choice(lk, LP(EXTERNAL), "--ext-unix-sk", "CRIU still fails: it cannot dump half of a "
			    "stream connection (\"Can't dump half of stream unix connection\")");
	else if (peer_name[0])
		leak_choice(lk, LP(EXTERNAL), "--ext-unix-sk", arena_printf("CRIU saves the socket without "
			    "its peer; a restore connects it to %s again", peer_name));
	else
		leak_choice(lk, LP(EXTERNAL), "--ext-unix-sk", "CRIU still fails: the peer has no name to "
			    "connect to again (\"Can't dump name-less external socket\")");
}

static void unix_shared_text(struct leak *lk, const struct sock_entry *sk)
{
	size_t n = leak_outside_procs(lk);

	lk->summary = arena_printf("a unix %s socket%s shared with %zu outside %s (holding it, or sending "
				   "to it)", unix_type(sk->type), named(sk->name), n, plural(n, "process", "processes"));
	lk->risk = "the outside processes keep the old socket: after a restore what they send no longer "
		   "reaches the tree";
	lk->criu = "dumped silently; a restore makes a new socket the outside processes do not hold";
	leak_choice(lk, LP(WARN), "", "checkpoint as CRIU does; the checkpoint is flagged");
	leak_choice(lk, LP(IGNORE), "", "the same as warn, but the checkpoint is not flagged");
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
}

static void unix_leak(struct sock_ctx *c, const struct sock_entry *sk)
{
	const struct sock_entry *peer = sock_find(&c->socks, sk->peer);
	size_t self_in, self_out, peer_in = 0, peer_out = 0, senders;
	bool peer_outside, unknown;
	struct leak *lk;

	hold_socket(c, sk->ino, NULL, "", "", &self_in, &self_out);
	if (sk->peer)
		hold_socket(c, sk->peer, NULL, "", "", &peer_in, &peer_out);
	unknown = sk->peer && !peer_in && !peer_out;
	peer_outside = peer_out || unknown;
	senders = hold_senders(c, sk, NULL);
	if (!peer_outside && !self_out && !senders)
		return;
	lk = leak_get(c->s, LK(UNIX_SOCKET), arena_printf("socket:[%llu]", (unsigned long long)sk->ino));
	lk->standalone = unknown;
	hold_socket(c, sk->ino, lk, "", "the same socket", &self_in, &self_out);
	if (sk->peer) {
		const char *what = arena_printf("peer socket:[%llu]", (unsigned long long)sk->peer);

		hold_socket(c, sk->peer, lk, what, what, &peer_in, &peer_out);
	}
	hold_senders(c, sk, lk);
	if (peer_outside)
		unix_peer_text(lk, sk, peer, unknown);
	else
		unix_shared_text(lk, sk);
}

static bool v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

/* The same address, an IPv4 one written either way. */
static bool addr_eq(int fa, const uint8_t *a, int fb, const uint8_t *b)
{
	if (fa == fb)
		return !memcmp(a, b, fa == AF_INET ? 4 : 16);
	if (fa == AF_INET6)
		return v4_mapped(a) && !memcmp(a + 12, b, 4);
	return v4_mapped(b) && !memcmp(b + 12, a, 4);
}

/* The local socket at the other end of TCP connection sk, or NULL. */
static const struct sock_entry *tcp_peer(const struct sock_ctx *c, const struct sock_entry *sk)
{
	for (size_t i = 0; i < c->socks.n; i++) {
		const struct sock_entry *o = &c->socks.v[i];

		if (o->type == IPPROTO_TCP && o != sk && o->netns == sk->netns && o->state != SK_LISTEN &&
		    o->sport == sk->dport && o->dport == sk->sport && addr_eq(o->family, o->src, sk->family, sk->dst) &&
		    addr_eq(o->family, o->dst, sk->family, sk->src))
			return o;
	}
	return NULL;
}

static const char *endpoints(const struct sock_entry *sk, bool connected)
{
	char src[64], dst[64];

	sock_addr_text(sk->family, sk->src, sk->sport, src, sizeof(src));
	if (!connected)
		return arena_strdup(src);
	sock_addr_text(sk->family, sk->dst, sk->dport, dst, sizeof(dst));
	return arena_printf("%s -> %s", src, dst);
}

static void inet_common(struct sock_ctx *c, struct leak *lk, const struct sock_entry *sk)
{
	size_t nin, nout;

	lk->standalone = true;
	hold_socket(c, sk->ino, lk, "", "the same socket", &nin, &nout);
}

static void tcp_listen_leak(struct sock_ctx *c, const struct sock_entry *sk)
{
	const char *addr = endpoints(sk, false);
	struct leak *lk = leak_get(c->s, LK(TCP), arena_printf("tcp listen %s", addr));

	inet_common(c, lk, sk);
	lk->summary = arena_printf("a TCP socket listening on %s%s", addr, lk->noutside
				   ? arena_printf(", also %s", held_outside(lk)) : "");
	lk->risk = "connections not yet accepted are lost; a restore binds the address again and fails "
		   "when another process bound it meanwhile";
	lk->criu = "dumped; a restore listens on the address again";
	leak_warn_choices(lk);
}

/* The other end of a local connection, in words; its outside holders added to lk. */
static const char *tcp_peer_text(struct sock_ctx *c, struct leak *lk, const struct sock_entry *sk)
{
	const struct sock_entry *peer = tcp_peer(c, sk);
	size_t nin, nout;

	if (!peer)
		return "the peer is not in this host's network namespaces (remote, or not visible)";
	hold_socket(c, peer->ino, NULL, "", "", &nin, &nout);
	if (nout) {
		const char *what = arena_printf("the other end, socket:[%llu]", (unsigned long long)peer->ino);

		hold_socket(c, peer->ino, lk, what, what, &nin, &nout);
		return arena_printf("the other end (socket:[%llu]) is held by %zu outside %s",
				    (unsigned long long)peer->ino, nout, plural(nout, "process", "processes"));
	}
	if (nin)
		return arena_printf("the other end (socket:[%llu]) is in the tree too", (unsigned long long)peer->ino);
	return arena_printf("the other end (socket:[%llu]) is local but held by no process the helper can "
			    "see", (unsigned long long)peer->ino);
}

static void tcp_conn_leak(struct sock_ctx *c, const struct sock_entry *sk)
{
	const char *conn = endpoints(sk, true);
	struct leak *lk = leak_get(c->s, LK(TCP), arena_printf("tcp %s", conn));
	const char *peer;

	inet_common(c, lk, sk);
	peer = tcp_peer_text(c, lk, sk);
	lk->summary = arena_printf("a TCP connection %s, %s; %s", conn, tcp_state_name(sk->state), peer);
	lk->risk = "the connection's state lives in the kernel: while the tree is frozen the peer gets no "
		   "answer and may give up; a restore needs the same addresses and a peer still there, and a "
		   "connection cannot be rolled back alone once it carried data past the checkpoint";
	lk->criu = "CRIU fails: \"Connected TCP socket, consider using --tcp-established option.\"";
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "refuse the checkpoint");
	leak_choice(lk, LP(SAVE), "--tcp-established", "CRIU saves the connection (sequence numbers, queued "
		    "data), blocking it with its network lock while dumping; a restore brings it back on the "
		    "same addresses if it carried nothing since (else the restore is refused, or restores it "
		    "closed). CRIU 4.1 cannot dump TCP on Linux 6.16 and later: that needs CRIU 4.2");
}

static void udp_leak(struct sock_ctx *c, const struct sock_entry *sk)
{
	bool connected = sk->dport != 0;
	const char *addr = endpoints(sk, connected);
	struct leak *lk = leak_get(c->s, LK(UDP), arena_printf("udp %s", addr));

	inet_common(c, lk, sk);
	lk->summary = arena_printf("a UDP socket %s %s%s", connected ? "connected" : "bound to", addr,
				   lk->noutside ? arena_printf(", also %s", held_outside(lk)) : "");
	lk->risk = "datagrams that arrive while the tree is frozen or gone are lost; a restore binds the "
		   "address again and fails when another process bound it meanwhile";
	lk->criu = "dumped (without the queued datagrams); a restore binds the address again";
	leak_warn_choices(lk);
}

static void sock_leak(struct sock_ctx *c, const struct sock_entry *sk)
{
	if (sk->family == AF_UNIX)
		unix_leak(c, sk);
	else if (sk->type == IPPROTO_TCP && sk->state == SK_LISTEN)
		tcp_listen_leak(c, sk);
	else if (sk->type == IPPROTO_TCP && sk->state != SK_CLOSE && tcp_state_name(sk->state))
		tcp_conn_leak(c, sk);
	else if (sk->type == IPPROTO_UDP && sk->sport)
		udp_leak(c, sk);
	/* an unbound or closed inet socket holds nothing of the outside's */
}

int detect_sockets(struct host_scan *s, struct herr *e)
{
	struct sock_ctx c = { .s = s };
	struct fd_table *t = s->fds;
	uint64_t last = 0;
	bool any = false;
	int ret = 0;

	for (size_t i = 0; t && i < t->n && !any; i++)
		if (t->v[i].in_tree && S_ISSOCK(t->v[i].mode)) {
			c.sockdev = t->v[i].dev;
			any = true;
		}
	if (!any)
		return 0;
	if (read_sockets(s, &c.socks, e)) {
		ret = -1;
		goto out;
	}
	/* each socket the tree holds, once (the table is sorted by dev, ino) */
	for (size_t i = 0; i < t->n; i++) {
		const struct fd_entry *f = &t->v[i];
		const struct sock_entry *sk;

		if (!f->in_tree || !S_ISSOCK(f->mode) || f->dev != c.sockdev || f->ino == last)
			continue;
		last = f->ino;
		sk = sock_find(&c.socks, f->ino);
		if (sk)
			sock_leak(&c, sk);
		/* not found: netlink, packet, ... sockets, or a namespace that could not be read */
	}
out:
	free(c.socks.v);
	return ret;
}
