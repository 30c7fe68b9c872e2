/* SPDX-License-Identifier: MIT */
/* The leak detector of sockets: unix sockets with an outside peer, TCP and UDP. */
#ifndef CKPT_LEAK_SOCKETS_H
#define CKPT_LEAK_SOCKETS_H

#include "err.h"
#include "leak_scan.h"

/*
 * Adds the leaks of the tree's sockets (s->fds read). -1 only when the
 * helper could not return to its own network namespace.
 */
int detect_sockets(struct host_scan *s, struct herr *e);

#endif
