/* SPDX-License-Identifier: MIT */
/*
 * One SOCK_DIAG_BY_FAMILY answer as the kernel would send it (a netlink
 * header and its payload), decoded by sock_diag_parse; what it decodes is
 * then put in words (sock_addr_text, tcp_state_name) as the leak report
 * does. The first input byte chooses the family: unix, IPv4 or IPv6.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sock_diag.h"

static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sock_entry s;
	char addr[64];
	void *msg;

	if (size < 1)
		return 0;
	/* the message in a buffer of its own size, aligned as a netlink receive buffer is */
	msg = malloc(size - 1 ? size - 1 : 1);
	if (!msg)
		return 0;
	memcpy(msg, data + 1, size - 1);
	if (sock_diag_parse(families[data[0] % 3], msg, size - 1, &s) == 0 && s.family != AF_UNIX) {
		sock_addr_text(s.family, s.src, s.sport, addr, sizeof(addr));
		sock_addr_text(s.family, s.dst, s.dport, addr, sizeof(addr));
		tcp_state_name(s.state);
	}
	free(msg);
	return 0;
}
