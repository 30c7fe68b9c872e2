/* SPDX-License-Identifier: MIT */
/* Answers to requests: errors, and the checks every handler shares. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "proc.h"
#include "reply.h"
#include "store.h"
#include "util.h"

#define MAX_PATH_LEN 4095		/* bytes of a program or cwd path */

Error *reply_error(Response *resp, const struct herr *e)
{
	Error *err = arena_alloc(sizeof(*err));

	checkpoint__helper__v1__error__init(err);
	err->code = e->code ? e->code : EC(INTERNAL);
	err->errno_value = e->errnum;
	err->message = arena_strdup(e->msg);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR;
	resp->error = err;
	return err;
}

void reply_bad_request(Response *resp, const char *fmt, ...)
{
	struct herr e = { .code = EC(BAD_REQUEST), .errnum = EINVAL };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	reply_error(resp, &e);
}

int reply_check_id(const char *id, Response *resp)
{
	if (valid_checkpoint_id(id))
		return 0;
	reply_bad_request(resp, "invalid checkpoint id: 1-%d characters of A-Z a-z 0-9 . _ -, not starting with a "
			  "dot", MAX_ID_LEN);
	return -1;
}

int reply_check_root(pid_t root, const char *doing, Response *resp)
{
	if (root <= 1) {
		reply_bad_request(resp, "root_pid must be a pid above 1 (1 is the init of the pid namespace: %s it "
				  "would take the whole host, and this helper), not %d", doing, root);
		return -1;
	}
	if (!is_self_or_ancestor(root))
		return 0;
	reply_bad_request(resp, "process %d is this helper or one of its ancestors (the ssh session it runs in): "
			  "%s it would take this helper with it, which could then never answer; pick the program's "
			  "own process", root, doing);
	return -1;
}

int reply_check_name(const char *name, Response *resp)
{
	if (valid_text(name, MAX_NAME_LEN))
		return 0;
	reply_bad_request(resp, "invalid checkpoint name: at most %d bytes, and no control characters but tab",
			  MAX_NAME_LEN);
	return -1;
}

int reply_check_path(const char *what, const char *path, bool required, Response *resp)
{
	if (!path || !path[0]) {
		if (!required)
			return 0;
		reply_bad_request(resp, "%s is required: an absolute path", what);
		return -1;
	}
	if (path[0] == '/' && strlen(path) <= MAX_PATH_LEN)
		return 0;
	reply_bad_request(resp, "%s must be an absolute path of at most %d bytes, not \"%.200s\"", what, MAX_PATH_LEN,
			  path);
	return -1;
}
