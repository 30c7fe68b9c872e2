/* SPDX-License-Identifier: MIT */
/*
 * The TCP connections a restore is about to replace. A checkpoint that saved
 * connections (--tcp-established) brings them back on the same addresses and
 * sequence numbers, while the running tree may still hold them:
 *
 * - Killed plainly, such a connection sends its peer a FIN and lingers in
 *   FIN-WAIT on its addresses, which the restored socket then cannot take
 *   ("Can't connect inet socket back: Cannot assign requested address"). So
 *   each is put in TCP repair mode through a copy of a descriptor
 *   (pidfd_getfd) first: closed in repair mode, it ends without a word.
 * - A connection that carried data since the checkpoint cannot be resumed:
 *   its peer has seen (and acknowledged) bytes the restored socket knows
 *   nothing of, and the two would wait for each other for good. Its live
 *   sequence numbers are compared with the checkpoint's (tcp-stream-*.img),
 *   and the restore is refused before anything is killed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arena.h"
#include "criu-images.pb-c.h"
#include "fileio.h"
#include "sbuf.h"
#include "sock_diag.h"
#include "store.h"
#include "tcp_restore.h"
#include "util.h"

#define MAX_FILES_IMG (64u << 20)
#define TCP_ESTABLISHED_STATE 1

/* The whole image name of dirfd (malloc'd), *len its size; NULL with errno. A regular file, not followed. */
static uint8_t *read_image_file(int dirfd, const char *name, size_t *len)
{
	char *buf = NULL;

	return read_regular_at(dirfd, name, &buf, len, MAX_FILES_IMG) ? NULL : (uint8_t *)buf;
}

/* "A:port" of an image's address words (network order, 1 for IPv4, 4 for IPv6). */
static int image_addr_text(uint32_t family, const uint32_t *words, size_t nwords, uint32_t port, char *out,
			   size_t len)
{
	uint8_t addr[16] = { 0 };

	if ((family != AF_INET || nwords != 1) && (family != AF_INET6 || nwords != 4))
		return -1;
	if (port > UINT16_MAX)
		return -1;	/* no port: cut to 16 bits, it would name another connection */
	memcpy(addr, words, nwords * sizeof(*words));
	sock_addr_text((int)family, addr, (uint16_t)port, out, len);
	return 0;
}

/* Where the queues of socket ino stood: the first entry of tcp-stream-<ino>.img. */
static int read_stream(int dirfd, uint32_t ino, struct tcp_saved_conn *c)
{
	Checkpoint__Criu__V1__TcpStream *ts;
	char name[40];
	uint8_t *buf;
	size_t len = 0;
	uint32_t n;

	snprintf(name, sizeof(name), "tcp-stream-%x.img", ino);
	buf = read_image_file(dirfd, name, &len);
	if (!buf)
		return -1;
	n = len >= 12 ? get_le32(buf + 8) : 0;
	ts = len >= 12 && n <= len - 12 ? checkpoint__criu__v1__tcp_stream__unpack(NULL, n, buf + 12) : NULL;
	free(buf);
	if (!ts) {
		errno = EINVAL;
		return -1;
	}
	c->inq_seq = ts->inq_seq;
	c->outq_seq = ts->outq_seq;
	checkpoint__criu__v1__tcp_stream__free_unpacked(ts, NULL);
	return 0;
}

static bool saved_in_report(const LeakReport *r, const char *resource)
{
	for (size_t i = 0; r && i < r->n_leaks; i++)
		if (r->leaks[i]->kind == LK(TCP) && r->leaks[i]->policy == LP(SAVE) && r->leaks[i]->resource &&
		    !strcmp(r->leaks[i]->resource, resource))
			return true;
	return false;
}

/* One files.img entry: an established TCP socket the report saved goes in out. */
static int add_saved(int dirfd, const LeakReport *r, const Checkpoint__Criu__V1__InetSocket *sk,
		     struct tcp_saved *out, struct herr *e)
{
	char src[64], dst[64];
	struct tcp_saved_conn c;

	if (sk->proto != IPPROTO_TCP || sk->state != TCP_ESTABLISHED_STATE ||
	    image_addr_text(sk->family, sk->src_addr, sk->n_src_addr, sk->src_port, src, sizeof(src)) ||
	    image_addr_text(sk->family, sk->dst_addr, sk->n_dst_addr, sk->dst_port, dst, sizeof(dst)))
		return 0;
	snprintf(c.resource, sizeof(c.resource), "tcp %s -> %s", src, dst);
	if (!saved_in_report(r, c.resource))
		return 0;
	if (read_stream(dirfd, sk->ino, &c)) {
		herr_perror(e, EC(INTERNAL), errno, "the checkpoint saved the TCP connection %s, but its "
			 "tcp-stream-%x.img cannot be read", c.resource + 4, sk->ino);
		return -1;
	}
	if (array_grow((void **)&out->v, &out->cap, out->n + 1, sizeof(*out->v))) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
		return -1;
	}
	out->v[out->n++] = c;
	return 0;
}

int tcp_saved_read(int dirfd, const char *id, const LeakReport *r, struct tcp_saved *out, struct herr *e)
{
	size_t len = 0, off = 8;	/* after the two magics */
	uint8_t *buf = read_image_file(dirfd, "files.img", &len);
	int ret = -1;

	if (!buf) {
		herr_perror(e, EC(INTERNAL), errno, "checkpoint %s saved TCP connections, but its files.img cannot "
			 "be read", id);
		return -1;
	}
	while (off + 4 <= len) {
		uint32_t n = get_le32(buf + off);
		Checkpoint__Criu__V1__FileEntry *fe;
		int bad;

		if (n > len - off - 4)
			break;
		fe = checkpoint__criu__v1__file_entry__unpack(NULL, n, buf + off + 4);
		off += 4 + n;
		if (!fe)
			continue;
		bad = fe->isk ? add_saved(dirfd, r, fe->isk, out, e) : 0;
		checkpoint__criu__v1__file_entry__free_unpacked(fe, NULL);
		if (bad)
			goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

void tcp_saved_free(struct tcp_saved *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* The connections checkpoint ck saved, from its files.img and tcp-stream images. */
static int read_saved(const char *store, const Checkpoint *ck, struct tcp_saved *out, struct herr *e)
{
	int dirfd = checkpoint_open(store, ck->id, e), ret;

	if (dirfd < 0)
		return -1;
	ret = tcp_saved_read(dirfd, ck->id, ck->leaks, out, e);
	close(dirfd);
	return ret;
}

/* ---- the running tree's side --------------------------------------------- */

static int sockaddr_text(const struct sockaddr_storage *a, char *out, size_t len)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;

	if (a->ss_family == AF_INET)
		sock_addr_text(AF_INET, (const uint8_t *)&in4->sin_addr, ntohs(in4->sin_port), out, len);
	else if (a->ss_family == AF_INET6)
		sock_addr_text(AF_INET6, in6->sin6_addr.s6_addr, ntohs(in6->sin6_port), out, len);
	else
		return -1;
	return 0;
}

/* "tcp A -> B", as the leak scan names a connection, for a connected TCP socket; NULL for others. */
static const char *live_resource(int fd)
{
	struct sockaddr_storage local, peer;
	socklen_t nl = sizeof(local), np = sizeof(peer), npr = sizeof(int);
	char src[64], dst[64];
	int proto = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &npr) || proto != IPPROTO_TCP ||
	    getsockname(fd, (struct sockaddr *)&local, &nl) || getpeername(fd, (struct sockaddr *)&peer, &np) ||
	    sockaddr_text(&local, src, sizeof(src)) || sockaddr_text(&peer, dst, sizeof(dst)))
		return NULL;
	return arena_printf("tcp %s -> %s", src, dst);
}

static const struct tcp_saved_conn *saved_find(const struct tcp_saved *s, const char *resource)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].resource, resource))
			return &s->v[i];
	return NULL;
}

/* The sequence number of a queue of a socket in repair mode. */
static int queue_seq(int fd, int queue, uint32_t *seq)
{
	socklen_t n = sizeof(*seq);

	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)))
		return -1;
	return getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &n);
}

struct quiet_ctx {
	const struct tcp_saved *saved;
	struct fdlist *held;
	struct sbuf moved;	/* the connections that carried data since the checkpoint, in words */
	size_t nmoved;
};

/* Copy fd of pidfd's task; a saved connection is put in repair mode, compared and held. */
static int quiet_fd(struct quiet_ctx *q, pid_t pid, int pidfd, int fd, struct herr *e)
{
	int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0), on = TCP_REPAIR_ON, none = TCP_NO_QUEUE;
	const struct tcp_saved_conn *c;
	const char *resource;
	uint32_t in = 0, out = 0;

	if (copy < 0)
		return 0;	/* closed meanwhile: nothing to quiet */
	resource = live_resource(copy);
	c = resource ? saved_find(q->saved, resource) : NULL;
	if (!c) {
		close(copy);
		return 0;
	}
	if (setsockopt(copy, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) || fdlist_add(q->held, copy) ||
	    queue_seq(copy, TCP_RECV_QUEUE, &in) || queue_seq(copy, TCP_SEND_QUEUE, &out) ||
	    setsockopt(copy, IPPROTO_TCP, TCP_REPAIR_QUEUE, &none, sizeof(none))) {
		herr_set(e, EC(NOT_PERMITTED), errno, "cannot put the TCP connection %s of process %d in repair "
			 "mode (CAP_NET_ADMIN is needed): %s; nothing was killed", resource + 4, pid, strerror(errno));
		if (q->held->n == 0 || q->held->v[q->held->n - 1] != copy)
			close(copy);
		return -1;
	}
	if (in != c->inq_seq || out != c->outq_seq)
		sbuf_printf(&q->moved, "%s%s (%u bytes received, %u written)", q->nmoved++ ? ", " : "",
			    resource + 4, in - c->inq_seq, out - c->outq_seq);
	return 0;
}

static int quiet_task(struct quiet_ctx *q, pid_t pid, struct herr *e)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), ret = 0;
	char path[48], link[64];
	struct dirent *de;
	DIR *d;

	if (pidfd < 0 && errno == ESRCH)
		return 0;	/* gone already */
	if (pidfd < 0) {
		herr_set(e, EC(INTERNAL), errno, "pidfd_open(%d): %s; nothing was killed", pid, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	while (d && ret == 0 && (de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);

		if (n > 0 && (link[n] = '\0', !strncmp(link, "socket:", 7)))
			ret = quiet_fd(q, pid, pidfd, atoi(de->d_name), e);
	}
	if (d)
		closedir(d);
	close(pidfd);
	return ret;
}

/* Takes the held connections out of repair mode, silently, and lets them go. */
static void release_held(struct fdlist *held)
{
	int off = TCP_REPAIR_OFF_NO_WP;

	for (size_t i = 0; i < held->n; i++)
		setsockopt(held->v[i], IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
	fdlist_close(held);
}

int tcp_quiet_saved(const char *store, const Checkpoint *ck, const struct pidlist *running, struct fdlist *held,
		    struct herr *e)
{
	struct tcp_saved saved = { 0 };
	struct quiet_ctx q = { .saved = &saved, .held = held };
	int ret = -1;

	if (!ck->options || !ck->options->tcp_established || !running->n)
		return 0;
	if (read_saved(store, ck, &saved, e))
		goto out;
	for (size_t i = 0; i < running->n && saved.n; i++)
		if (quiet_task(&q, running->v[i], e))
			goto out;
	if (q.nmoved) {
		/* the first sentence says what; the editor shows it as the headline */
		herr_set(e, EC(CONNECTION_MOVED_ON), ESTALE, "The TCP connection%s %s carried data since the "
			 "checkpoint. A restored connection would know nothing of what its peer has seen since, and "
			 "both ends would wait for each other for good. Nothing was killed. Restore with the "
			 "connections closed (the program finds them closed and can reconnect), or take checkpoints "
			 "while the program is paused and restore before it talks again", q.nmoved > 1 ? "s" : "",
			 q.moved.p);
		goto out;
	}
	ret = 0;
out:
	if (ret)
		release_held(held);
	tcp_saved_free(&saved);
	sbuf_free(&q.moved);
	return ret;
}
