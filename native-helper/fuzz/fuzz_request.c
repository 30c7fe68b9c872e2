/* SPDX-License-Identifier: MIT */
/*
 * Requests as the helper decodes them (main.c: protoc-c's unpack), then
 * checked and answered as far as that is safe: the requests that only read
 * (ps, thaw of a tree this helper did not freeze, list, image_files,
 * read_image, page_diff, gdb_send and gdb_stop with no gdb running, and an
 * unknown operation) go through handle_request against a store in the
 * sandbox that holds two copies of a real checkpoint (fuzz/fixtures). The
 * requests that freeze, kill, dump, restore, launch, rename, delete or write
 * a core file only have their checks run: nothing here acts on a process or
 * on a path outside the sandbox. Answers go to /dev/null.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "freeze_claim.h"
#include "gdb_run.h"
#include "ops.h"
#include "ops_checkpoint.h"
#include "ops_process.h"
#include "reply.h"
#include "sandbox.h"
#include "wire.h"

#define OP(x) CHECKPOINT__HELPER__V1__REQUEST__OP_##x

/* Copies the fixture checkpoint into the sandbox's store as id. */
static void store_add(const char *id)
{
	char dir[64], from[4400];
	struct dirent *de;
	DIR *d = opendir(FUZZ_FIXTURES "/checkpoint");
	int fd;

	if (!d) {
		perror("fuzz_request: " FUZZ_FIXTURES "/checkpoint");
		abort();
	}
	snprintf(dir, sizeof(dir), "store/%s", id);
	fd = sandbox_subdir(dir);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/checkpoint/%s", FUZZ_FIXTURES, de->d_name);
		sandbox_copy(from, fd, de->d_name);
	}
	closedir(d);
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char claims[4200];

	(void)argc;
	(void)argv;
	store_add("20261207-044414-f797");
	store_add("second");
	snprintf(g_cfg.store, sizeof(g_cfg.store), "%s/store", sandbox_dir());
	close(sandbox_subdir("claims"));
	snprintf(claims, sizeof(claims), "%s/claims", sandbox_dir());
	freeze_claim_dir_set(claims);
	sandbox_mute_channel();
	return 0;
}

/* Requests whose whole answer only reads (processes' /proc, the sandbox's store). */
static int answered_whole(int op)
{
	switch (op) {
	case OP(PS):
	case OP(THAW):		/* this process froze nothing: thaw only looks */
	case OP(LIST):
	case OP(IMAGE_FILES):
	case OP(READ_IMAGE):
	case OP(PAGE_DIFF):
	case OP(GDB_SEND):	/* no gdb runs: refused as unknown */
	case OP(GDB_STOP):
	case CHECKPOINT__HELPER__V1__REQUEST__OP__NOT_SET:
		return 1;
	default:
		return 0;
	}
}

/* The checks of a request that acts, without the action. */
static void check_only(const Request *req, Response *resp)
{
	switch (req->op_case) {
	case OP(FREEZE):
		freeze_request_check(req->freeze, resp);
		break;
	case OP(DUMP):
		dump_request_check(req->dump, resp);
		break;
	case OP(RESTORE):
		reply_check_id(req->restore->checkpoint_id, resp);
		break;
	case OP(DELETE):
		reply_check_id(req->delete_->checkpoint_id, resp);
		break;
	case OP(RENAME):
		if (!reply_check_id(req->rename->checkpoint_id, resp))
			reply_check_name(req->rename->name, resp);
		break;
	case OP(LAUNCH):
		launch_request_check(req->launch, resp);
		break;
	case OP(KILL):
		reply_check_root(req->kill->root_pid, "killing", resp);
		break;
	case OP(LEAKS):
		leaks_request_check(req->leaks, resp);
		break;
	case OP(CORE):
		core_request_check(req->core, resp);
		break;
	default:
		break;	/* hello and gdb_start carry nothing to check */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Request *req = checkpoint__helper__v1__request__unpack(NULL, size, data);
	Response resp = CHECKPOINT__HELPER__V1__RESPONSE__INIT;

	if (!req)
		return 0;
	if (answered_whole(req->op_case)) {
		handle_request(req);
	} else {
		check_only(req, &resp);
		arena_free_all();
	}
	/* what gdb_send would pass to a running gdb: whole DAP messages, checked before it is written */
	if (req->op_case == OP(GDB_SEND))
		dap_messages_length(req->gdb_send->data.data, req->gdb_send->data.len);
	checkpoint__helper__v1__request__free_unpacked(req, NULL);
	return 0;
}
