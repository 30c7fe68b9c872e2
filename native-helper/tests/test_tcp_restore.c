/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of tcp_restore.c on real TCP connections over loopback: a child
 * holds one end (the running tree), the test the other (the outside peer),
 * and a checkpoint directory holds files.img and tcp-stream-*.img written as
 * CRIU writes them, with the connection's sequence numbers then.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arena.h"
#include "fileio.h"
#include "lists.h"
#include "tcp_restore.h"
#include "util.h"
#include "wire.h"
#include "criu-images.pb-c.h"
#include "check.h"
#include "procs.h"

#define CK_ID "20260101-000000-tcp0"

static const char *test_store;	/* the store of the test's checkpoint */

/* One end of a loopback connection in a child that waits, the other here. */
struct conn {
	pid_t child;
	int peer;			/* the test's end */
	struct sockaddr_in child_addr;	/* the child's end */
	struct sockaddr_in peer_addr;
	int fd_in_child;
	uint32_t ino;			/* of the child's socket */
	uint32_t rcv_nxt, write_seq;	/* of the child's socket, when asked */
};

static int listener(struct sockaddr_in *addr)
{
	socklen_t n = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, n) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)addr, &n)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Child: connects to the listener at arg, tells so, and waits. */
static void connect_and_wait(void *arg, int report)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	report_int(report, fd >= 0 && connect(fd, arg, sizeof(struct sockaddr_in)) == 0 ? fd : -1);
}

/* The child's socket, copied here: its inode and where its queues stand (read in repair mode, then left). */
static int child_queues(struct conn *c)
{
	int pidfd = (int)syscall(SYS_pidfd_open, c->child, 0), copy, on = 1, off = -1, q;
	socklen_t n = sizeof(uint32_t);
	struct stat st;
	int ret = -1;

	copy = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, c->fd_in_child, 0);
	if (copy < 0 || fstat(copy, &st) || setsockopt(copy, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)))
		goto out;
	q = TCP_RECV_QUEUE;
	if (setsockopt(copy, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(copy, IPPROTO_TCP, TCP_QUEUE_SEQ, &c->rcv_nxt, &n))
		goto out;
	q = TCP_SEND_QUEUE;
	if (setsockopt(copy, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(copy, IPPROTO_TCP, TCP_QUEUE_SEQ, &c->write_seq, &n))
		goto out;
	q = TCP_NO_QUEUE;
	setsockopt(copy, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	ret = setsockopt(copy, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
	c->ino = (uint32_t)st.st_ino;
out:
	if (copy >= 0)
		close(copy);
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

static int conn_open(struct conn *c)
{
	struct sockaddr_in laddr;
	socklen_t n = sizeof(c->child_addr);
	int lfd = listener(&laddr), report = -1;
	int64_t fd;

	memset(c, 0, sizeof(*c));
	c->peer = -1;
	c->child = lfd < 0 ? -1 : spawn(connect_and_wait, &laddr, NEW_SESSION, &report);
	fd = c->child > 0 ? read_int(report) : -1;
	c->fd_in_child = (int)fd;
	if (fd >= 0)
		c->peer = accept4(lfd, (struct sockaddr *)&c->child_addr, &n, SOCK_CLOEXEC);
	c->peer_addr = laddr;
	if (report >= 0)
		close(report);
	if (lfd >= 0)
		close(lfd);
	return c->peer >= 0 && child_queues(c) == 0 ? 0 : -1;
}

static void conn_close(struct conn *c)
{
	reap(c->child);
	if (c->peer >= 0)
		close(c->peer);
}

static const char *resource_of(const struct conn *c)
{
	char a[32], b[32];

	inet_ntop(AF_INET, &c->child_addr.sin_addr, a, sizeof(a));
	inet_ntop(AF_INET, &c->peer_addr.sin_addr, b, sizeof(b));
	return arena_printf("tcp %s:%u -> %s:%u", a, ntohs(c->child_addr.sin_port), b, ntohs(c->peer_addr.sin_port));
}

/* An image's bytes as CRIU writes them (arena memory, *len of them): two magics, then each entry after its length. */
static uint8_t *image_bytes(ProtobufCMessage *const *m, size_t n, size_t *len)
{
	size_t total = 8;
	uint8_t *buf, *p;

	for (size_t i = 0; i < n; i++)
		total += 4 + protobuf_c_message_get_packed_size(m[i]);
	buf = arena_alloc(total);	/* zeroed: the magics are not read */
	p = buf + 8;
	for (size_t i = 0; i < n; i++) {
		size_t size = protobuf_c_message_get_packed_size(m[i]);

		put_le32(p, (uint32_t)size);	/* little endian, as CRIU on x86 */
		protobuf_c_message_pack(m[i], p + 4);
		p += 4 + size;
	}
	*len = total;
	return buf;
}

/* len bytes at data as file name of dirfd, replacing it; 0 or -1. */
static int put_bytes(int dirfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), ret;

	ret = fd >= 0 && write_all(fd, data, len) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	return ret;
}

/* An image of one entry m as file name of dirfd. */
static int write_image(int dirfd, const char *name, ProtobufCMessage *m)
{
	size_t len;
	uint8_t *buf = image_bytes(&m, 1, &len);

	return put_bytes(dirfd, name, buf, len);
}

/* A files.img entry of an established TCP socket (arena memory), its addresses in network order (4 or 16 bytes). */
static Checkpoint__Criu__V1__FileEntry *tcp_entry(int family, const void *src, uint32_t sport, const void *dst,
						  uint32_t dport, uint32_t ino)
{
	Checkpoint__Criu__V1__FileEntry *fe = arena_alloc(sizeof(*fe));
	Checkpoint__Criu__V1__InetSocket *isk = arena_alloc(sizeof(*isk));
	size_t words = family == AF_INET ? 1 : 4;

	checkpoint__criu__v1__file_entry__init(fe);
	checkpoint__criu__v1__inet_socket__init(isk);
	isk->has_ino = isk->has_family = isk->has_proto = isk->has_state = true;
	isk->has_src_port = isk->has_dst_port = true;
	isk->ino = ino;
	isk->family = (uint32_t)family;
	isk->proto = IPPROTO_TCP;
	isk->state = 1;	/* TCP_ESTABLISHED */
	isk->src_port = sport;
	isk->dst_port = dport;
	isk->n_src_addr = isk->n_dst_addr = words;
	isk->src_addr = arena_alloc(16);
	isk->dst_addr = arena_alloc(16);
	memcpy(isk->src_addr, src, words * 4);
	memcpy(isk->dst_addr, dst, words * 4);
	fe->has_type = fe->has_id = true;
	fe->type = CHECKPOINT__CRIU__V1__FILE_TYPE__FILE_TYPE_INETSK;
	fe->id = 1;
	fe->isk = isk;
	return fe;
}

/* files.img of a checkpoint that holds c's socket (a TCP socket, established), as CRIU writes it; 0 or -1. */
static int write_files_img(int dirfd, const struct conn *c)
{
	return write_image(dirfd, "files.img", &tcp_entry(AF_INET, &c->child_addr.sin_addr, ntohs(c->child_addr.sin_port),
							   &c->peer_addr.sin_addr, ntohs(c->peer_addr.sin_port),
							   c->ino)->base);
}

/* The checkpoint's images of c, with its queues as c says; 0 or -1. */
static int write_images(int dirfd, const struct conn *c)
{
	Checkpoint__Criu__V1__TcpStream ts = CHECKPOINT__CRIU__V1__TCP_STREAM__INIT;
	char name[40];

	ts.has_inq_seq = ts.has_outq_seq = true;
	ts.inq_seq = c->rcv_nxt;
	ts.outq_seq = c->write_seq;
	snprintf(name, sizeof(name), "tcp-stream-%x.img", c->ino);
	return write_files_img(dirfd, c) || write_image(dirfd, name, &ts.base) ? -1 : 0;
}

struct rule {
	int kind, policy;
	const char *resource;
};

/* A leak report of n leaks, each of a kind, a resource and the policy that applied (arena memory). */
static LeakReport *report_of(const struct rule *rules, size_t n)
{
	LeakReport *r = arena_alloc(sizeof(*r));

	checkpoint__helper__v1__leak_report__init(r);
	r->leaks = arena_alloc((n + 1) * sizeof(*r->leaks));
	for (size_t i = 0; i < n; i++) {
		Leak *l = arena_alloc(sizeof(*l));

		checkpoint__helper__v1__leak__init(l);
		l->kind = rules[i].kind;
		l->policy = rules[i].policy;
		l->resource = arena_strdup(rules[i].resource);
		r->leaks[r->n_leaks++] = l;
	}
	return r;
}

/* A checkpoint that saved (policy save) the connection named resource. */
static Checkpoint *saved_checkpoint(const char *resource, bool tcp_established)
{
	const struct rule saved = { LK(TCP), LP(SAVE), resource };
	Checkpoint *ck = arena_alloc(sizeof(*ck));
	DumpOptions *o = arena_alloc(sizeof(*o));

	checkpoint__helper__v1__checkpoint__init(ck);
	checkpoint__helper__v1__dump_options__init(o);
	o->tcp_established = tcp_established;
	ck->id = CK_ID;
	ck->options = o;
	ck->leaks = report_of(&saved, 1);
	return ck;
}

/* The child's end sends a byte (through a copy): in repair mode it would only be queued. */
static int child_sends(const struct conn *c)
{
	int pidfd = (int)syscall(SYS_pidfd_open, c->child, 0);
	int copy = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, c->fd_in_child, 0), ret;

	ret = copy >= 0 && send(copy, "x", 1, 0) == 1 ? 0 : -1;
	if (copy >= 0)
		close(copy);
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

/* Whether data is waiting on fd within ms (1), it ended (0 read) or nothing came (-1). */
static int peer_reads(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[64];

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0 ? 1 : 0;
}

/* Unchanged since the checkpoint: held in repair mode; the kill sends nothing and frees the addresses. */
static void test_quiet(int dirfd)
{
	struct pidlist running = { 0 };
	struct fdlist held = { 0 };
	struct herr e = { 0 };
	struct conn c;
	int again;

	test_case("unchanged since the checkpoint");
	CHECK_INT(conn_open(&c), ==, 0);
	CHECK_INT(write_images(dirfd, &c), ==, 0);
	CHECK_INT(pidlist_add(&running, c.child), ==, 0);
	CHECK_OK(tcp_quiet_saved(test_store, saved_checkpoint(resource_of(&c), true), &running, &held, &e), &e);
	CHECK_UINT(held.n, ==, 1);
	reap(c.child);
	c.child = -1;
	fdlist_close(&held);
	CHECK_INT(peer_reads(c.peer, 200), ==, -1);	/* no FIN, no RST: the peer saw nothing */
	again = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_INT(again, >=, 0);
	CHECK_INT(bind(again, (struct sockaddr *)&c.child_addr, sizeof(c.child_addr)), ==, 0);
	if (again >= 0)
		close(again);
	pidlist_free(&running);
	conn_close(&c);
}

/* Data came in since the checkpoint: refused in words, and the connection left working. */
static void test_moved_on(int dirfd)
{
	struct pidlist running = { 0 };
	struct fdlist held = { 0 };
	struct herr e = { 0 };
	struct conn c;
	const char *resource;

	test_case("data came in");
	CHECK_INT(conn_open(&c), ==, 0);
	CHECK_INT(write_images(dirfd, &c), ==, 0);
	resource = resource_of(&c);
	CHECK_INT(send(c.peer, "hello", 5, 0), ==, 5);
	sleep_ms(50);
	CHECK_INT(pidlist_add(&running, c.child), ==, 0);
	CHECK_INT(tcp_quiet_saved(test_store, saved_checkpoint(resource, true), &running, &held, &e), ==, -1);
	CHECK_INT(e.code, ==, EC(CONNECTION_MOVED_ON));
	CHECK_UINT(held.n, ==, 0);
	CHECK_CONTAINS(e.msg, resource + 4);
	CHECK_CONTAINS(e.msg, "(5 bytes received, 0 written) carried data since the checkpoint.");
	CHECK_CONTAINS(e.msg, "Nothing was killed");
	CHECK_INT(child_sends(&c), ==, 0);
	CHECK_INT(peer_reads(c.peer, 1000), ==, 1);	/* out of repair mode: it sends */
	pidlist_free(&running);
	conn_close(&c);
}

/* What is not the checkpoint's to bring back is left alone. */
static void test_not_saved(int dirfd)
{
	struct pidlist running = { 0 };
	struct fdlist held = { 0 };
	struct herr e = { 0 };
	struct conn c;

	test_case("not saved");
	CHECK_INT(conn_open(&c), ==, 0);
	CHECK_INT(write_images(dirfd, &c), ==, 0);
	CHECK_INT(pidlist_add(&running, c.child), ==, 0);
	/* saved under another name, or not with --tcp-established: nothing held, nothing refused */
	test_case("saved under another name");
	CHECK_OK(tcp_quiet_saved(test_store, saved_checkpoint("tcp 127.0.0.1:1 -> 127.0.0.1:2", true), &running,
				 &held, &e), &e);
	CHECK_UINT(held.n, ==, 0);
	test_case("not with --tcp-established");
	CHECK_OK(tcp_quiet_saved(test_store, saved_checkpoint(resource_of(&c), false), &running, &held, &e), &e);
	CHECK_UINT(held.n, ==, 0);
	reap(c.child);
	c.child = -1;
	CHECK_INT(peer_reads(c.peer, 1000), ==, 0);	/* killed plainly: the peer reads the end */
	pidlist_free(&running);
	conn_close(&c);
}

/* A checkpoint <test_store>/<id> with files.img of c (when files) and stream as c's tcp-stream (ino 0x1234). */
static void unreadable_checkpoint(const char *id, const struct conn *c, bool files, const char *stream)
{
	const char *path = arena_printf("%s/%s", test_store, id);
	int dirfd;

	CHECK_INT(mkdir(path, 0700), ==, 0);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(dirfd, >=, 0);
	if (files)
		CHECK_INT(write_files_img(dirfd, c), ==, 0);
	if (stream)
		CHECK_INT(write_file_at(dirfd, "tcp-stream-1234.img", stream, strlen(stream)), ==, 0);
	close(dirfd);
}

/*
 * The saved connections cannot be read from the checkpoint: refused in
 * words before anything is touched. With no process running, nothing is
 * read at all.
 */
static void test_images_unreadable(void)
{
	struct conn c = { .ino = 0x1234 };
	const char *resource;
	const struct { const char *what, *id; int code, errnum; const char *msg; } cases[] = {
		{ "no checkpoint", "absent", EC(NOT_FOUND), ENOENT, "no checkpoint absent in " },
		{ "no files.img", "no-files", EC(INTERNAL), ENOENT,
		  "checkpoint no-files saved TCP connections, but its files.img cannot be read: " },
		{ "no tcp-stream image", "no-stream", EC(INTERNAL), ENOENT, "the checkpoint saved the TCP connection "
		  "127.0.0.1:1 -> 127.0.0.1:2, but its tcp-stream-1234.img cannot be read: " },
		{ "a tcp-stream image cut short", "bad-stream", EC(INTERNAL), EINVAL,
		  "tcp-stream-1234.img cannot be read" },
	};
	struct pidlist running = { 0 };
	struct fdlist held = { 0 };
	struct herr e = { 0 };

	c.child_addr.sin_family = c.peer_addr.sin_family = AF_INET;
	c.child_addr.sin_addr.s_addr = c.peer_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.child_addr.sin_port = htons(1);
	c.peer_addr.sin_port = htons(2);
	resource = resource_of(&c);
	unreadable_checkpoint("no-files", &c, false, NULL);
	unreadable_checkpoint("no-stream", &c, true, NULL);
	unreadable_checkpoint("bad-stream", &c, true, "short");
	test_case("nothing running");
	CHECK_OK(tcp_quiet_saved(test_store, saved_checkpoint(resource, true), &running, &held, &e), &e);
	CHECK_INT(pidlist_add(&running, getpid()), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		Checkpoint *ck = saved_checkpoint(resource, true);

		test_case("%s", cases[i].what);
		ck->id = (char *)cases[i].id;
		memset(&e, 0, sizeof(e));
		CHECK_INT(tcp_quiet_saved(test_store, ck, &running, &held, &e), ==, -1);
		CHECK_INT(e.code, ==, cases[i].code);
		CHECK_INT(e.errnum, ==, cases[i].errnum);
		CHECK_CONTAINS(e.msg, cases[i].msg);
		CHECK_UINT(held.n, ==, 0);
	}
	pidlist_free(&running);
}

/* ---- the saved connections, read from images alone (tcp_saved_read) ---------- */

#define V4_NAME "tcp 10.0.0.1:80 -> 10.0.0.2:5000"
#define V6_NAME "tcp [::1]:443 -> [2001:db8::1]:65535"

static const uint8_t v4_src[4] = { 10, 0, 0, 1 }, v4_dst[4] = { 10, 0, 0, 2 };
static const uint8_t v6_src[16] = { [15] = 1 }, v6_dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

/* tcp-stream-<ino hex>.img of dirfd, its queues at in and out. */
static void put_stream(int dirfd, uint32_t ino, uint32_t in, uint32_t out)
{
	Checkpoint__Criu__V1__TcpStream ts = CHECKPOINT__CRIU__V1__TCP_STREAM__INIT;

	ts.has_inq_seq = ts.has_outq_seq = true;
	ts.inq_seq = in;
	ts.outq_seq = out;
	CHECK_INT(write_image(dirfd, arena_printf("tcp-stream-%x.img", ino), &ts.base), ==, 0);
}

/* tcp_saved_read of dirfd's files.img (len bytes at img) against a report of rules; out freed by the caller. */
static int saved_of(int dirfd, const uint8_t *img, size_t len, const struct rule *rules, size_t n,
		    struct tcp_saved *out, struct herr *e)
{
	memset(e, 0, sizeof(*e));
	memset(out, 0, sizeof(*out));
	CHECK_INT(put_bytes(dirfd, "files.img", img, len), ==, 0);
	return tcp_saved_read(dirfd, "parse", rules ? report_of(rules, n) : NULL, out, e);
}

/* The saved ones of several sockets: those of the report's TCP leaks with the policy SAVE, established, TCP. */
static const struct rule parse_rules[] = {
	{ LK(TCP), LP(SAVE), V4_NAME },
	{ LK(TCP), LP(SAVE), V6_NAME },
	{ LK(TCP), LP(SAVE), "tcp 10.0.0.1:81 -> 10.0.0.2:5000" },	/* a UDP socket's */
	{ LK(TCP), LP(SAVE), "tcp 10.0.0.1:82 -> 10.0.0.2:5000" },	/* a listening one's */
	{ LK(TCP), LP(WARN), "tcp 10.0.0.1:83 -> 10.0.0.2:5000" },
	{ LK(UDP), LP(SAVE), "tcp 10.0.0.1:84 -> 10.0.0.2:5000" },
};

/* The entries of parse_rules' sockets after a regular file's, first to first + n: only 1 and 2 are saved. */
static uint8_t *parse_image(size_t *len, size_t first, size_t n)
{
	Checkpoint__Criu__V1__FileEntry *fe[7];
	ProtobufCMessage *m[7];

	fe[0] = arena_alloc(sizeof(*fe[0]));
	checkpoint__criu__v1__file_entry__init(fe[0]);
	fe[0]->has_type = true;
	fe[0]->type = CHECKPOINT__CRIU__V1__FILE_TYPE__FILE_TYPE_REG;
	fe[1] = tcp_entry(AF_INET, v4_src, 80, v4_dst, 5000, 0x10);
	fe[2] = tcp_entry(AF_INET6, v6_src, 443, v6_dst, 65535, 0xffffffff);
	for (uint32_t i = 3; i < 7; i++)
		fe[i] = tcp_entry(AF_INET, v4_src, 78 + i, v4_dst, 5000, 0x20 + i);
	fe[3]->isk->proto = IPPROTO_UDP;
	fe[4]->isk->state = 10;	/* TCP_LISTEN */
	for (size_t i = 0; i < 7; i++)
		m[i] = &fe[i]->base;
	return image_bytes(m + first, n, len);
}

static void test_saved_valid(int dirfd)
{
	struct tcp_saved out;
	struct herr e;
	size_t len;
	uint8_t *img = parse_image(&len, 0, 7);

	test_case("saved: as CRIU writes them, IPv4 and IPv6, the largest inode and port");
	put_stream(dirfd, 0x10, 1000, 2000);
	put_stream(dirfd, 0xffffffff, UINT32_MAX, 0);
	CHECK_OK(saved_of(dirfd, img, len, parse_rules, ARRAY_SIZE(parse_rules), &out, &e), &e);
	CHECK_UINT(out.n, ==, 2);
	if (out.n == 2) {
		CHECK_STR(out.v[0].resource, ==, V4_NAME);
		CHECK_UINT(out.v[0].inq_seq, ==, 1000);
		CHECK_UINT(out.v[0].outq_seq, ==, 2000);
		CHECK_STR(out.v[1].resource, ==, V6_NAME);
		CHECK_UINT(out.v[1].inq_seq, ==, UINT32_MAX);
	}
	tcp_saved_free(&out);
	test_case("saved: no report, or none saved");
	CHECK_OK(saved_of(dirfd, img, len, NULL, 0, &out, &e), &e);
	CHECK_UINT(out.n, ==, 0);
	CHECK_OK(saved_of(dirfd, img, len, parse_rules + 2, ARRAY_SIZE(parse_rules) - 2, &out, &e), &e);
	CHECK_UINT(out.n, ==, 0);
	tcp_saved_free(&out);
}

/* files.img of len bytes at img cut to cut bytes: want connections saved. */
static void saved_cut(int dirfd, const uint8_t *img, size_t len, size_t cut, size_t want)
{
	struct tcp_saved out;
	struct herr e;

	test_case("damaged: files.img cut to %zu of %zu bytes", cut, len);
	CHECK_OK(saved_of(dirfd, img, cut, parse_rules, 2, &out, &e), &e);
	CHECK_UINT(out.n, ==, want);
	tcp_saved_free(&out);
}

/* files.img cut short, or holding what decodes as nothing: what comes before is read, the rest passed over. */
static void test_saved_damaged(int dirfd)
{
	uint8_t junk[4096], *img, *v6;
	size_t len, v6_len, off;
	struct tcp_saved out;
	struct herr e;
	uint32_t x = 2463534242u;

	img = parse_image(&len, 1, 2);
	saved_cut(dirfd, img, len, len, 2);
	saved_cut(dirfd, img, len, len - 1, 1);	/* in the second entry */
	saved_cut(dirfd, img, len, 10, 0);	/* in the first's length */
	saved_cut(dirfd, img, len, 5, 0);	/* in the magics */
	saved_cut(dirfd, img, len, 0, 0);
	test_case("damaged: an entry that is no FileEntry between two, then a length past the end");
	img = parse_image(&len, 1, 1);
	v6 = parse_image(&v6_len, 2, 1) + 8;	/* its entry alone */
	v6_len -= 8;
	img = memcpy(arena_alloc(len + 9 + v6_len + 8), img, len);
	off = len;
	put_le32(img + off, 5);
	memset(img + off + 4, 0xff, 5);
	memcpy(img + off + 9, v6, v6_len);
	put_le32(img + off + 9 + v6_len, UINT32_MAX);
	CHECK_OK(saved_of(dirfd, img, off + 9 + v6_len + 8, parse_rules, 2, &out, &e), &e);
	CHECK_UINT(out.n, ==, 2);
	tcp_saved_free(&out);
	test_case("damaged: garbage");
	for (size_t i = 0; i < sizeof(junk); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		junk[i] = (uint8_t)x;
	}
	CHECK_OK(saved_of(dirfd, junk, sizeof(junk), parse_rules, 2, &out, &e), &e);
	CHECK_UINT(out.n, ==, 0);
	tcp_saved_free(&out);
}

/* Sockets that are no connection to match, and the stream images a match needs. */
static void test_saved_extremes(int dirfd)
{
	Checkpoint__Criu__V1__FileEntry *fe = tcp_entry(AF_INET, v4_src, 65536 + 80, v4_dst, 5000, 0x10);
	ProtobufCMessage *m = &fe->base;
	uint8_t stream[12] = { 0 }, *img;
	struct tcp_saved out;
	struct herr e;
	size_t len;

	test_case("extremes: a port past 16 bits is no port (cut, it would be 80)");
	img = image_bytes(&m, 1, &len);
	CHECK_OK(saved_of(dirfd, img, len, parse_rules, 1, &out, &e), &e);
	CHECK_UINT(out.n, ==, 0);
	test_case("extremes: four address words of IPv4");
	fe = tcp_entry(AF_INET6, v6_src, 80, v6_dst, 5000, 0x10);
	fe->isk->family = AF_INET;
	m = &fe->base;
	img = image_bytes(&m, 1, &len);
	CHECK_OK(saved_of(dirfd, img, len, parse_rules, 1, &out, &e), &e);
	CHECK_UINT(out.n, ==, 0);
	test_case("extremes: an empty tcp-stream entry: queues at 0");
	img = parse_image(&len, 1, 1);
	CHECK_INT(put_bytes(dirfd, "tcp-stream-10.img", stream, sizeof(stream)), ==, 0);
	CHECK_OK(saved_of(dirfd, img, len, parse_rules, 1, &out, &e), &e);
	CHECK_UINT(out.n, ==, 1);
	CHECK_UINT(out.n ? out.v[0].outq_seq : 1, ==, 0);
	tcp_saved_free(&out);
	test_case("extremes: a tcp-stream entry longer than its file");
	put_le32(stream + 8, 1);
	CHECK_INT(put_bytes(dirfd, "tcp-stream-10.img", stream, sizeof(stream)), ==, 0);
	CHECK_INT(saved_of(dirfd, img, len, parse_rules, 1, &out, &e), ==, -1);
	CHECK_INT(e.errnum, ==, EINVAL);
	CHECK_CONTAINS(e.msg, "the checkpoint saved the TCP connection 10.0.0.1:80 -> 10.0.0.2:5000, but its "
		       "tcp-stream-10.img cannot be read");
	tcp_saved_free(&out);
	test_case("extremes: no files.img");
	CHECK_INT(unlinkat(dirfd, "files.img", 0), ==, 0);
	CHECK_INT(tcp_saved_read(dirfd, "parse", NULL, &out, &e), ==, -1);
	CHECK_INT(e.errnum, ==, ENOENT);
	CHECK_CONTAINS(e.msg, "checkpoint parse saved TCP connections, but its files.img cannot be read");
	tcp_saved_free(&out);
}

static void test_saved_read(const char *store)
{
	const char *path = arena_printf("%s/parse", store);
	int dirfd;

	CHECK_INT(mkdir(path, 0700), ==, 0);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(dirfd, >=, 0);
	if (dirfd < 0)
		return;
	test_saved_valid(dirfd);
	test_saved_damaged(dirfd);
	test_saved_extremes(dirfd);
	close(dirfd);
	arena_free_all();
}

TEST_GROUP(tcp_restore)
{
	char store[] = "/tmp/ckpt-tcp-XXXXXX", dir[64];
	int dirfd;

	CHECK(mkdtemp(store) != NULL);
	test_store = store;
	snprintf(dir, sizeof(dir), "%s/%s", store, CK_ID);
	CHECK_INT(mkdir(dir, 0700), ==, 0);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(dirfd, >=, 0);
	if (dirfd >= 0) {
		test_quiet(dirfd);
		test_moved_on(dirfd);
		test_not_saved(dirfd);
		close(dirfd);
	}
	test_images_unreadable();
	test_saved_read(store);
	test_case("cleaned up");
	CHECK_INT(remove_tree(store), ==, 0);
}
