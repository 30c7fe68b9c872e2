/* SPDX-License-Identifier: MIT */
/*
 * The requests about the host and its live processes: hello, ps, freeze,
 * thaw, launch, kill, leaks. Each handler validates its request, calls the
 * module that does the work and marshals the answer into resp.
 */
#ifndef CKPT_OPS_PROCESS_H
#define CKPT_OPS_PROCESS_H

#include "wire.h"

void op_hello(const Request *req, Response *resp);
void op_ps(const Request *req, Response *resp);
void op_freeze(const Request *req, Response *resp);
void op_thaw(const Request *req, Response *resp);
void op_launch(const Request *req, Response *resp);
void op_kill(const Request *req, Response *resp);
void op_leaks(const Request *req, Response *resp);

/*
 * The checks of a request that acts on processes, apart from the action:
 * 0 when it may go ahead, else resp is the BAD_REQUEST saying why. They
 * change nothing and send nothing (the fuzz targets run them alone).
 */
int freeze_request_check(const FreezeRequest *rq, Response *resp);
int launch_request_check(const LaunchRequest *rq, Response *resp);
int leaks_request_check(const LeaksRequest *rq, Response *resp);

#endif
