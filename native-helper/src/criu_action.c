/* SPDX-License-Identifier: MIT */
/* One CRIU action of a request: shared options, progress, failure in words. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "channel.h"
#include "criu_action.h"
#include "util.h"

int criu_options_valid(const DumpOptions *o, struct herr *e)
{
	if (!o)
		return 0;
	if (o->n_external > MAX_EXTERNAL) {
		herr_set(e, EC(BAD_REQUEST), EINVAL, "%zu external entries; at most %d are accepted", o->n_external,
			 MAX_EXTERNAL);
		return -1;
	}
	for (size_t i = 0; i < o->n_external; i++) {
		if (!o->external[i][0] || !valid_text(o->external[i], MAX_EXTERNAL_LEN)) {
			herr_set(e, EC(BAD_REQUEST), EINVAL, "external entry %zu is empty, too long (max %d) or holds "
				 "control characters", i, MAX_EXTERNAL_LEN);
			return -1;
		}
	}
	return 0;
}

static void apply_leak_options(CriuOpts *opts, const DumpOptions *o)
{
	if (!o)
		return;
	opts->has_tcp_established = opts->tcp_established = o->tcp_established;
	opts->has_ext_unix_sk = opts->ext_unix_sk = o->ext_unix_sk;
	opts->has_shell_job = opts->shell_job = o->shell_job;
	opts->has_file_locks = opts->file_locks = o->file_locks;
	opts->n_external = o->n_external;
	opts->external = o->external;
}

void criu_opts_common(CriuOpts *opts, const char *log_file, const DumpOptions *o, int network_lock)
{
	opts->log_file = (char *)log_file;
	opts->has_log_level = true;
	opts->log_level = 4;
	opts->has_manage_cgroups = opts->manage_cgroups = true;
	opts->has_manage_cgroups_mode = true;
	opts->manage_cgroups_mode = CRIU_CG_MODE__IGNORE;
	opts->has_notify_scripts = opts->notify_scripts = true;
	apply_leak_options(opts, o);
	opts->has_network_lock = network_lock != 0;
	opts->network_lock = network_lock ? (CriuNetworkLockMethod)network_lock : CRIU_NETWORK_LOCK_METHOD__IPTABLES;
}

void criu_notify_progress(uint32_t id, const char *script)
{
	emit_progress(id, script, "CRIU: %s", script);
}

/*
 * CRIU logs an RLIMIT_NOFILE error on every run where it lacks
 * CAP_SYS_RESOURCE, and reports it as cr_errmsg even when something else
 * failed: it explains nothing, so the message names the next error.
 */
static bool benign_error(const char *s)
{
	return strstr(s, "RLIMIT_NOFILE") != NULL;
}

/* Keeps the log lines that explain something; returns how many remain. */
static size_t drop_benign(char **lines, size_t n)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		if (!benign_error(lines[i]))
			lines[kept++] = lines[i];
	return kept;
}

/* The text of a log line: without CRIU's "(00.123456) " time stamp. */
static const char *log_text(const char *line)
{
	const char *p = line;

	if (*p == '(' && (p = strstr(p, ") ")))
		return p + 2;
	return line;
}

/* What explains the failure: CRIU's own message, else the first error of its log. */
static const char *failure_reason(const char *errmsg, char **lines, size_t n)
{
	if (errmsg[0] && !benign_error(errmsg))
		return errmsg;
	for (size_t i = 0; i < n; i++)
		if (strstr(lines[i], "Error") && !benign_error(lines[i]))
			return log_text(lines[i]);
	return errmsg[0] ? errmsg : "see its log";
}

struct criu_failure *criu_failure_read(const char *what, const CriuResp *r, const char *log_path,
				       const char *kept_log, struct herr *e)
{
	struct criu_failure *f = arena_alloc(sizeof(*f));
	const char *why;
	char **lines = NULL;
	size_t n = 0, len;

	criu_log_extract(log_path, &lines, &n, NULL, 0);
	n = drop_benign(lines, n);
	why = failure_reason(r && r->cr_errmsg ? r->cr_errmsg : "", lines, n);
	len = strlen(why);
	while (len && (why[len - 1] == '\n' || why[len - 1] == ' '))
		len--;
	herr_set(e, EC(CRIU_FAILED), r && r->has_cr_errno ? r->cr_errno : 0, "CRIU could not %s: %.*s", what,
		 (int)len, why);
	f->message = arena_printf("%.*s", (int)len, why);
	f->log = lines;
	f->nlog = n;
	f->log_path = arena_strdup(kept_log ? kept_log : "");
	return f;
}
