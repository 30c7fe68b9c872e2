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

/* An image file as CRIU writes one: two magics, then each entry after its length. */
static int write_image(int dirfd, const char *name, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = arena_alloc(12 + len);
	uint32_t n = (uint32_t)len;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), ret;

	memcpy(buf + 8, &n, 4);	/* little endian, as CRIU on x86 */
	protobuf_c_message_pack(m, buf + 12);
	ret = fd >= 0 && write(fd, buf, 12 + len) == (ssize_t)(12 + len) ? 0 : -1;
	if (fd >= 0)
		close(fd);
	return ret;
}

/* files.img of a checkpoint that holds c's socket (a TCP socket, established), as CRIU writes it; 0 or -1. */
static int write_files_img(int dirfd, const struct conn *c)
{
	Checkpoint__Criu__V1__InetSocket isk = CHECKPOINT__CRIU__V1__INET_SOCKET__INIT;
	Checkpoint__Criu__V1__FileEntry fe = CHECKPOINT__CRIU__V1__FILE_ENTRY__INIT;
	uint32_t src = c->child_addr.sin_addr.s_addr, dst = c->peer_addr.sin_addr.s_addr;

	isk.has_ino = isk.has_family = isk.has_proto = isk.has_state = true;
	isk.has_src_port = isk.has_dst_port = true;
	isk.ino = c->ino;
	isk.family = AF_INET;
	isk.proto = IPPROTO_TCP;
	isk.state = 1;	/* TCP_ESTABLISHED */
	isk.src_port = ntohs(c->child_addr.sin_port);
	isk.dst_port = ntohs(c->peer_addr.sin_port);
	isk.n_src_addr = isk.n_dst_addr = 1;
	isk.src_addr = &src;
	isk.dst_addr = &dst;
	fe.has_type = fe.has_id = true;
	fe.type = CHECKPOINT__CRIU__V1__FILE_TYPE__FILE_TYPE_INETSK;
	fe.id = 1;
	fe.isk = &isk;
	return write_image(dirfd, "files.img", &fe.base);
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

/* A checkpoint that saved (policy save) the connection named resource. */
static Checkpoint *saved_checkpoint(const char *resource, bool tcp_established)
{
	Checkpoint *ck = arena_alloc(sizeof(*ck));
	DumpOptions *o = arena_alloc(sizeof(*o));
	LeakReport *r = arena_alloc(sizeof(*r));
	Leak *l = arena_alloc(sizeof(*l));

	checkpoint__helper__v1__checkpoint__init(ck);
	checkpoint__helper__v1__dump_options__init(o);
	checkpoint__helper__v1__leak_report__init(r);
	checkpoint__helper__v1__leak__init(l);
	l->kind = LK(TCP);
	l->policy = LP(SAVE);
	l->resource = arena_strdup(resource);
	r->n_leaks = 1;
	r->leaks = arena_alloc(sizeof(*r->leaks));
	r->leaks[0] = l;
	o->tcp_established = tcp_established;
	ck->id = CK_ID;
	ck->options = o;
	ck->leaks = r;
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
	test_case("cleaned up");
	CHECK_INT(remove_tree(store), ==, 0);
}
