/* SPDX-License-Identifier: MIT */
/* The requests about checkpoints. */
#define _GNU_SOURCE
#include <string.h>

#include "arena.h"
#include "config.h"
#include "coredump.h"
#include "dump.h"
#include "image.h"
#include "leaks.h"
#include "ops_checkpoint.h"
#include "page_diff.h"
#include "page_unshare.h"
#include "reply.h"
#include "restore.h"
#include "store.h"
#include "util.h"

#define MAX_LOCATION_LEN 1024	/* bytes of a debugger stop's location */

/* A failed CRIU action's error, with what CRIU said when it said something. */
static void reply_criu_error(Response *resp, const struct herr *e, const struct criu_failure *criu)
{
	Error *err = reply_error(resp, e);

	if (!criu)
		return;
	err->criu_message = (char *)criu->message;
	err->criu_log = criu->log;
	err->n_criu_log = criu->nlog;
	err->criu_log_path = (char *)criu->log_path;
}

/* ---- dump / restore ------------------------------------------------------ */

/* Where a debugger holds the tree: a process and thread by pid, and words fit for a manifest. */
static int check_debugger_stop(const DebuggerStop *s, Response *resp)
{
	if (!s)
		return 0;
	if (s->pid <= 0 || s->tid <= 0) {
		reply_bad_request(resp, "debugger_stop needs a positive pid and tid, not %d and %d", s->pid, s->tid);
		return -1;
	}
	if (valid_text(s->reason, MAX_NAME_LEN) && valid_text(s->location, MAX_LOCATION_LEN))
		return 0;
	reply_bad_request(resp, "debugger_stop: reason (at most %d bytes) and location (at most %d) must be text without control characters",
			  MAX_NAME_LEN, MAX_LOCATION_LEN);
	return -1;
}

int dump_request_check(const DumpRequest *d, Response *resp)
{
	struct herr e = { 0 };

	if (reply_check_root(d->root_pid, "checkpointing", resp))
		return -1;
	if (reply_check_name(d->name, resp) || check_debugger_stop(d->debugger_stop, resp))
		return -1;
	if (leak_rules_valid(d->policy, d->n_policy, &e)) {
		reply_error(resp, &e);
		return -1;
	}
	return 0;
}

void op_dump(const Request *req, Response *resp)
{
	const DumpRequest *d = req->dump;
	struct dump_params p = { .request = req->id, .root = d->root_pid, .name = d->name,
				 .leave_running = d->leave_running, .rules = d->policy, .nrules = d->n_policy,
				 .debugger_stop = d->debugger_stop, .self_contained = d->self_contained,
				 .store = g_cfg.store };
	struct dump_outcome out = { 0 };
	struct herr e = { 0 };

	if (dump_request_check(d, resp))
		return;
	if (!(p.criu = config_need_criu(&e))) {
		reply_error(resp, &e);
		return;
	}
	if (dump_run(&p, &out, &e)) {
		reply_criu_error(resp, &e, out.criu);
		if (e.code == EC(LEAKS_REFUSED)) {
			resp->error->leaks = out.refused;
			resp->error->n_leaks = out.nrefused;
		}
		return;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_DUMP;
	resp->dump = arena_alloc(sizeof(*resp->dump));
	checkpoint__helper__v1__dump_result__init(resp->dump);
	resp->dump->checkpoint = out.checkpoint;
}

void op_restore(const Request *req, Response *resp)
{
	const RestoreRequest *rq = req->restore;
	struct restore_params p = { .request = req->id, .id = rq->checkpoint_id, .kill_running = rq->kill_running,
				    .tcp_close = rq->tcp_close, .frozen = rq->frozen, .lazy = rq->lazy,
				    .store = g_cfg.store };
	struct restore_outcome out = { 0 };
	struct herr e = { 0 };
	RestoreResult *res;

	if (reply_check_id(rq->checkpoint_id, resp))
		return;
	p.criu = config_need_criu(&e);
	if (!p.criu || restore_run(&p, &out, &e)) {
		reply_criu_error(resp, &e, out.criu);
		return;
	}
	res = arena_alloc(sizeof(*res));
	checkpoint__helper__v1__restore_result__init(res);
	res->root_pid = out.root;
	res->pids = out.pids;
	res->n_pids = out.npids;
	res->killed_pids = out.killed;
	res->n_killed_pids = out.nkilled;
	res->criu_wall_time_us = out.criu_wall_us;
	res->output_streamed = out.output_streamed;
	res->frozen = out.frozen;
	res->warning = (char *)(out.warning ? out.warning : "");
	res->lazy = out.lazy;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_RESTORE;
	resp->restore = res;
}

/* ---- list / delete / rename ---------------------------------------------- */

void op_list(const Request *req, Response *resp)
{
	ListResult *r = arena_alloc(sizeof(*r));
	struct herr e = { 0 };

	(void)req;
	checkpoint__helper__v1__list_result__init(r);
	if (store_list(g_cfg.store, r, &e)) {
		reply_error(resp, &e);
		return;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_LIST;
	resp->list = r;
}

void op_delete(const Request *req, Response *resp)
{
	const char *id = req->delete_->checkpoint_id;
	struct herr e = { 0 };
	DeleteResult *r;

	if (reply_check_id(id, resp))
		return;
	if (page_unshare_delete(g_cfg.store, id, &e)) {
		reply_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__delete_result__init(r);
	r->checkpoint_id = arena_strdup(id);
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_DELETE;
	resp->delete_ = r;
}

void op_rename(const Request *req, Response *resp)
{
	const RenameRequest *rq = req->rename;
	struct herr e = { 0 };
	RenameResult *r;
	Checkpoint *c;

	if (reply_check_id(rq->checkpoint_id, resp) || reply_check_name(rq->name, resp))
		return;
	if (store_rename(g_cfg.store, rq->checkpoint_id, rq->name ? rq->name : "", &c, &e)) {
		reply_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__rename_result__init(r);
	r->checkpoint = c;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_RENAME;
	resp->rename = r;
}

/* ---- image files ---------------------------------------------------------- */

void op_image_files(const Request *req, Response *resp)
{
	const char *id = req->image_files->checkpoint_id;
	ImageFilesResult *r;
	struct herr e = { 0 };

	if (reply_check_id(id, resp))
		return;
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__image_files_result__init(r);
	if (image_files_list(g_cfg.store, id, r, &e)) {
		reply_error(resp, &e);
		return;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_IMAGE_FILES;
	resp->image_files = r;
}

void op_read_image(const Request *req, Response *resp)
{
	const ReadImageRequest *rq = req->read_image;
	ReadImageResult *r;
	struct herr e = { 0 };

	if (reply_check_id(rq->checkpoint_id, resp))
		return;
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__read_image_result__init(r);
	if (image_read_ranges(g_cfg.store, rq->checkpoint_id, rq->ranges, rq->n_ranges, r, &e)) {
		reply_error(resp, &e);
		return;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_READ_IMAGE;
	resp->read_image = r;
}

void op_page_diff(const Request *req, Response *resp)
{
	const PageDiffRequest *rq = req->page_diff;
	PageDiffResult *r;
	struct herr e = { 0 };

	if (reply_check_id(rq->checkpoint_a, resp) || reply_check_id(rq->checkpoint_b, resp))
		return;
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__page_diff_result__init(r);
	if (page_diff(g_cfg.store, rq->checkpoint_a, rq->checkpoint_b, r, &e)) {
		reply_error(resp, &e);
		return;
	}
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_PAGE_DIFF;
	resp->page_diff = r;
}

/* ---- core files ------------------------------------------------------------ */

/* Pids as the kernel makes them (PID_MAX_LIMIT). */
#define MAX_PID 4194304

int core_request_check(const CoreRequest *rq, Response *resp)
{
	if (reply_check_id(rq->checkpoint_id, resp))
		return -1;
	if (rq->pid < 0 || rq->pid > MAX_PID) {
		reply_bad_request(resp, "pid must be a process of the checkpoint, or 0 for its root; %d is no pid",
				  rq->pid);
		return -1;
	}
	return 0;
}

void op_core(const Request *req, Response *resp)
{
	const CoreRequest *rq = req->core;
	struct coredump_params p = { .request = req->id, .store = g_cfg.store, .id = rq->checkpoint_id,
				     .pid = rq->pid };
	struct coredump_outcome out = { 0 };
	struct herr e = { 0 };
	CoreResult *r;

	if (core_request_check(rq, resp))
		return;
	if (coredump_write(&p, &out, &e)) {
		reply_error(resp, &e);
		return;
	}
	r = arena_alloc(sizeof(*r));
	checkpoint__helper__v1__core_result__init(r);
	r->checkpoint_id = arena_strdup(rq->checkpoint_id);
	r->pid = out.pid;
	r->file = (char *)out.file;
	r->path = (char *)out.path;
	r->size_bytes = out.size;
	r->threads = out.threads;
	r->segments = out.segments;
	r->pages_written = out.pages_written;
	r->pages_lazy = out.pages_lazy;
	r->pages_parent_missing = out.pages_parent_missing;
	r->pages_from_files = out.pages_from_files;
	r->executable = (char *)out.exe;
	r->write_time_us = out.write_us;
	resp->result_case = CHECKPOINT__HELPER__V1__RESPONSE__RESULT_CORE;
	resp->core = r;
}
