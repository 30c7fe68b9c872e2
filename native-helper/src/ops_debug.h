/* SPDX-License-Identifier: MIT */
/* The requests that run gdb for the client: gdb_start, gdb_send, gdb_stop. */
#ifndef CKPT_OPS_DEBUG_H
#define CKPT_OPS_DEBUG_H

#include "wire.h"

void op_gdb_start(const Request *req, Response *resp);
void op_gdb_send(const Request *req, Response *resp);
void op_gdb_stop(const Request *req, Response *resp);

#endif
