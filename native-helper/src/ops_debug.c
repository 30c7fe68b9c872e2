/* SPDX-License-Identifier: MIT */
/* The requests that run gdb for the client. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/wait.h>

#include "arena.h"
#include "config.h"
#include "gdb_run.h"
#include "ops_debug.h"
#include "reply.h"

void op_gdb_start(const Request *req, Response *resp)
{
	const struct gdb_info *gi = config_gdb();
	Checkpoint__Helper__V1__GdbStartResult *r;
	struct herr e = { 0 };
	uint32_t id;
	pid_t pid;

	if (gi->problem[0]) {
		herr_set(&e, EC(NOT_FOUND), ENOENT, "%s", gi->problem);
		reply_error(resp, &e);
		return;
	}
	if (gdb_run_start(gi->path, req->id, &id, &pid, &e)) {
		reply_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__gdb_start_result__init(r);
	r->gdb_id = id;
	r->gdb_pid = pid;
	r->gdb_version = arena_strdup(gi->version);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_GDB_START;
	resp->gdb_start = r;
}

void op_gdb_send(const Request *req, Response *resp)
{
	const Checkpoint__Helper__V1__GdbSendRequest *rq = req->gdb_send;
	Checkpoint__Helper__V1__GdbSendResult *r;
	struct herr e = { 0 };

	if (gdb_run_send(rq->gdb_id, rq->data.data, rq->data.len, &e)) {
		reply_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__gdb_send_result__init(r);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_GDB_SEND;
	resp->gdb_send = r;
}

void op_gdb_stop(const Request *req, Response *resp)
{
	Checkpoint__Helper__V1__GdbStopResult *r;
	struct herr e = { 0 };
	int status = 0;

	if (gdb_run_stop(req->gdb_stop->gdb_id, req->gdb_stop->at_once, &status, &e)) {
		reply_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__gdb_stop_result__init(r);
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_GDB_STOP;
	resp->gdb_stop = r;
}
