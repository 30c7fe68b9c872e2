/* SPDX-License-Identifier: MIT */
/* The service: one request in, one answer out (as CRIU's cr-service.c is to its engine). */
#ifndef CKPT_OPS_H
#define CKPT_OPS_H

#include "wire.h"

/* Answers req (events first, then its response) and frees what answering it allocated. */
void handle_request(const Request *req);

#endif
