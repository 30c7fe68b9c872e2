/* SPDX-License-Identifier: MIT */
/* The service: dispatches each request to its handler and sends the answer. */
#define _GNU_SOURCE
#include <errno.h>

#include "arena.h"
#include "channel.h"
#include "framing.h"
#include "ops.h"
#include "ops_checkpoint.h"
#include "ops_debug.h"
#include "ops_process.h"
#include "reply.h"
#include "util.h"

typedef void (*op_fn)(const Request *req, Response *resp);

static const op_fn ops[] = {
	[CHECKPOINT__HELPER__V1__REQUEST__OP_HELLO] = op_hello,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_PS] = op_ps,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_FREEZE] = op_freeze,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_THAW] = op_thaw,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_DUMP] = op_dump,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_RESTORE] = op_restore,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_LIST] = op_list,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_DELETE] = op_delete,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_IMAGE_FILES] = op_image_files,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_PAGE_DIFF] = op_page_diff,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_READ_IMAGE] = op_read_image,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_LAUNCH] = op_launch,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_KILL] = op_kill,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_RENAME] = op_rename,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_LEAKS] = op_leaks,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_CORE] = op_core,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_GDB_START] = op_gdb_start,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_GDB_SEND] = op_gdb_send,
	[CHECKPOINT__HELPER__V1__REQUEST__OP_GDB_STOP] = op_gdb_stop,
};

/* An answer over the frame limit is replaced by an error, never dropped. */
static void answer_too_big(uint32_t id)
{
	Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	struct herr e = { 0 };

	herr_set(&e, EC(INTERNAL), EMSGSIZE, "the answer to request %u is longer than the %u-byte frame limit", id,
		 MAX_OUT_FRAME_BYTES);
	resp.id = id;
	reply_error(&resp, &e);
	send_response(&resp);
}

void handle_request(const Request *req)
{
	Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	size_t op = req->op_case;

	resp.id = req->id;
	if (op < ARRAY_SIZE(ops) && ops[op])
		ops[op](req, &resp);
	else
		reply_bad_request(&resp, "request %u names no operation this helper knows (op %d)", req->id,
				  (int)req->op_case);
	if (send_response(&resp) && errno == EMSGSIZE)
		answer_too_big(req->id);
	arena_free_all();
}
