/* SPDX-License-Identifier: MIT */
/* Sockets as the kernel's sock_diag tells them: unix, TCP and UDP, in one network namespace. */
#ifndef CKPT_SOCK_DIAG_H
#define CKPT_SOCK_DIAG_H

#include <stddef.h>
#include <stdint.h>

/* TCP states as sock_diag reports them (include/net/tcp_states.h) */
enum {
	SK_ESTABLISHED = 1, SK_SYN_SENT, SK_SYN_RECV, SK_FIN_WAIT1, SK_FIN_WAIT2, SK_TIME_WAIT,
	SK_CLOSE, SK_CLOSE_WAIT, SK_LAST_ACK, SK_LISTEN, SK_CLOSING, SK_NEW_SYN_RECV,
};

/* One socket as sock_diag reports it. */
struct sock_entry {
	uint64_t ino, peer;		/* peer: unix sockets, 0 when none */
	int family;			/* AF_UNIX, AF_INET, AF_INET6 */
	int type;			/* unix: SOCK_STREAM, ...; inet: IPPROTO_TCP, IPPROTO_UDP */
	int state;			/* TCP_ESTABLISHED, TCP_LISTEN, ... */
	uint16_t sport, dport;		/* host order */
	uint8_t src[16], dst[16];
	char name[112];			/* unix: the bound path, "@abstract", or "" */
	uint64_t netns;			/* the network namespace it was found in */
};

struct sock_table {
	struct sock_entry *v;		/* sorted by ino once read */
	size_t n, cap;
};

/*
 * Decodes one SOCK_DIAG_BY_FAMILY answer (a struct nlmsghdr and its
 * payload, len bytes) of family; -1 when it is malformed.
 */
int sock_diag_parse(int family, const void *msg, size_t len, struct sock_entry *out);
/* "127.0.0.1:5000", "[::1]:5000" */
void sock_addr_text(int family, const uint8_t *addr, uint16_t port, char *out, size_t len);
/*
 * Every socket of the namespace the sock_diag socket nl is bound to (netns):
 * unix, TCP and UDP over IPv4 and IPv6. A failed dump leaves its part out.
 */
void sock_diag_dump_netns(int nl, uint64_t netns, struct sock_table *t);
/* Sorts the table by inode, for sock_find. */
void sock_table_sort(struct sock_table *t);
const struct sock_entry *sock_find(const struct sock_table *t, uint64_t ino);
/* "established", "listening", ...; NULL for a state sock_diag does not report. */
const char *tcp_state_name(int state);

#endif
