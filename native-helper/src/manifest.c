/* SPDX-License-Identifier: MIT */
/* A checkpoint's manifest: manifest.pb and manifest.json beside CRIU's images. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "fault.h"
#include "fileio.h"
#include "leak_names.h"
#include "manifest.h"

#define MAX_MANIFEST (16u << 20)
#define WHAT(x) CHECKPOINT__HELPER__V1__LEAK_CHANGE__WHAT__WHAT_##x

/* "sep"key": ": the start of an object member. */
static void json_member(struct sbuf *b, const char *sep, const char *key)
{
	sbuf_puts(b, sep);
	json_escape(b, key);
	sbuf_puts(b, ": ");
}

/* A member of the manifest's top object, one a line. */
static void json_key(struct sbuf *b, const char *key, bool *first)
{
	json_member(b, *first ? "\n  " : ",\n  ", key);
	*first = false;
}

static void json_str_field(struct sbuf *b, const char *key, const char *val, bool *first)
{
	json_key(b, key, first);
	json_escape(b, val);
}

static void json_u64_field(struct sbuf *b, const char *key, uint64_t val, bool *first)
{
	json_key(b, key, first);
	sbuf_printf(b, "%llu", (unsigned long long)val);
}

static void json_str_array(struct sbuf *b, char **v, size_t n)
{
	sbuf_puts(b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sbuf_puts(b, ", ");
		json_escape(b, v[i]);
	}
	sbuf_puts(b, "]");
}

static void json_options(struct sbuf *b, const DumpOptions *o)
{
	DumpOptions none = CHECKPOINT__HELPER__V1__DUMP_OPTIONS__INIT;

	if (!o)
		o = &none;
	sbuf_printf(b, "{\"tcp_established\": %s, \"ext_unix_sk\": %s, \"shell_job\": %s, "
		    "\"file_locks\": %s, \"external\": ",
		    o->tcp_established ? "true" : "false", o->ext_unix_sk ? "true" : "false",
		    o->shell_job ? "true" : "false", o->file_locks ? "true" : "false");
	json_str_array(b, o->external, o->n_external);
	sbuf_puts(b, "}");
}

static void json_stats(struct sbuf *b, const DumpStats *s)
{
	DumpStats none = CHECKPOINT__HELPER__V1__DUMP_STATS__INIT;

	if (!s)
		s = &none;
	sbuf_printf(b, "{\"freezing_time_us\": %llu, \"frozen_time_us\": %llu, \"memdump_time_us\": %llu, "
		    "\"memwrite_time_us\": %llu, \"pages_scanned\": %llu, \"pages_skipped_parent\": %llu, "
		    "\"pages_written\": %llu, \"pages_lazy\": %llu, \"criu_wall_time_us\": %llu}",
		    (unsigned long long)s->freezing_time_us, (unsigned long long)s->frozen_time_us,
		    (unsigned long long)s->memdump_time_us, (unsigned long long)s->memwrite_time_us,
		    (unsigned long long)s->pages_scanned, (unsigned long long)s->pages_skipped_parent,
		    (unsigned long long)s->pages_written, (unsigned long long)s->pages_lazy,
		    (unsigned long long)s->criu_wall_time_us);
}

/* ---- the leak report ------------------------------------------------------- */

/* A string member of an object on one line. */
static void json_str(struct sbuf *b, const char *key, const char *v, bool comma)
{
	json_member(b, comma ? ", " : "", key);
	json_escape(b, v ? v : "");
}

static void json_holders(struct sbuf *b, const char *key, LeakHolder *const *v, size_t n)
{
	sbuf_printf(b, ", \"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		sbuf_printf(b, "%s{\"pid\": %d, ", i ? ", " : "", v[i]->pid);
		json_str(b, "comm", v[i]->comm, false);
		json_str(b, "how", v[i]->how, true);
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "]");
}

static void json_leak(struct sbuf *b, const Leak *l)
{
	json_str(b, "kind", leak_kind_name(l->kind), false);
	json_str(b, "resource", l->resource, true);
	json_str(b, "summary", l->summary, true);
	json_holders(b, "inside", l->inside, l->n_inside);
	json_holders(b, "outside", l->outside, l->n_outside);
	sbuf_printf(b, ", \"outside_count\": %u", l->outside_count);
	json_str(b, "risk", l->risk, true);
	json_str(b, "criu", l->criu, true);
	json_str(b, "policy", leak_policy_name(l->policy), true);
	json_str(b, "default_policy", leak_policy_name(l->default_policy), true);
	if (l->policy_note && l->policy_note[0])
		json_str(b, "policy_note", l->policy_note, true);
	if (l->host_own)
		sbuf_puts(b, ", \"host_own\": true");
}

static const char *change_name(int what)
{
	return what == WHAT(APPEARED) ? "appeared" : what == WHAT(VANISHED) ? "vanished" : "holders changed";
}

static int leak_report_json(struct sbuf *b, const LeakReport *r)
{
	sbuf_puts(b, "{\"policy\": [");
	for (size_t i = 0; i < r->n_policy; i++) {
		sbuf_printf(b, "%s{", i ? ", " : "");
		json_str(b, "kind", leak_kind_name(r->policy[i]->kind), false);
		if (r->policy[i]->resource && r->policy[i]->resource[0])
			json_str(b, "resource", r->policy[i]->resource, true);
		json_str(b, "policy", leak_policy_name(r->policy[i]->policy), true);
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "],\n    \"leaks\": [");
	for (size_t i = 0; i < r->n_leaks; i++) {
		sbuf_printf(b, "%s\n      {", i ? "," : "");
		json_leak(b, r->leaks[i]);
		sbuf_puts(b, "}");
	}
	sbuf_printf(b, "],\n    \"rescanned\": %s", r->rescanned ? "true" : "false");
	if (r->rescan_problem && r->rescan_problem[0])
		json_str(b, "rescan_problem", r->rescan_problem, true);
	sbuf_puts(b, ",\n    \"changes\": [");
	for (size_t i = 0; i < r->n_changes; i++) {
		const LeakChange *c = r->changes[i];

		sbuf_printf(b, "%s\n      {", i ? "," : "");
		json_str(b, "what", change_name(c->what), false);
		json_str(b, "kind", c->leak ? leak_kind_name(c->leak->kind) : "", true);
		json_str(b, "resource", c->leak ? c->leak->resource : "", true);
		json_str(b, "detail", c->detail, true);
		sbuf_puts(b, "}");
	}
	return sbuf_puts(b, "]}");
}

int manifest_json(const Checkpoint *c, struct sbuf *b)
{
	bool first = true;

	sbuf_puts(b, "{");
	json_u64_field(b, "manifest_version", c->manifest_version, &first);
	json_str_field(b, "id", c->id, &first);
	json_str_field(b, "name", c->name, &first);
	json_u64_field(b, "created_unix_ms", c->created_unix_ms, &first);
	json_key(b, "root_pid", &first);
	sbuf_printf(b, "%d", c->root_pid);
	json_key(b, "processes", &first);
	sbuf_puts(b, "[");
	for (size_t i = 0; i < c->n_processes; i++) {
		const CheckpointProcess *p = c->processes[i];

		sbuf_printf(b, "%s\n    {\"pid\": %d, \"ppid\": %d, \"comm\": ", i ? "," : "", p->pid, p->ppid);
		json_escape(b, p->comm);
		sbuf_puts(b, ", \"cmdline\": ");
		json_str_array(b, p->cmdline, p->n_cmdline);
		sbuf_printf(b, ", \"start_ticks\": %" PRIu64 "}", p->start_ticks);
	}
	sbuf_puts(b, c->n_processes ? "\n  ]" : "]");
	json_str_field(b, "criu_version", c->criu_version, &first);
	json_key(b, "leave_running", &first);
	sbuf_puts(b, c->leave_running ? "true" : "false");
	json_key(b, "options", &first);
	json_options(b, c->options);
	json_key(b, "stats", &first);
	json_stats(b, c->stats);
	json_str_field(b, "path", c->path, &first);
	json_u64_field(b, "size_bytes", c->size_bytes, &first);
	json_str_field(b, "hostname", c->hostname, &first);
	json_str_field(b, "kernel_release", c->kernel_release, &first);
	json_str_field(b, "helper_version", c->helper_version, &first);
	if (c->output_pipes) {
		json_key(b, "output_pipes", &first);
		sbuf_printf(b, "{\"stdout_pipe_id\": %u, \"stderr_pipe_id\": %u}", c->output_pipes->stdout_pipe_id,
			    c->output_pipes->stderr_pipe_id);
	}
	if (c->debugger_stop) {
		const DebuggerStop *s = c->debugger_stop;

		json_key(b, "debugger_stop", &first);
		sbuf_printf(b, "{\"pid\": %d, \"tid\": %d", s->pid, s->tid);
		json_str(b, "reason", s->reason, true);
		json_str(b, "location", s->location, true);
		sbuf_puts(b, "}");
	}
	if (c->leaks) {
		json_key(b, "leaks", &first);
		leak_report_json(b, c->leaks);
	}
	if (c->parent && c->parent[0])
		json_str_field(b, "parent", c->parent, &first);
	if (c->sharing) {
		json_key(b, "sharing", &first);
		sbuf_printf(b, "{\"shared_pages\": %llu, \"own_pages\": %llu, \"time_us\": %llu}",
			    (unsigned long long)c->sharing->shared_pages, (unsigned long long)c->sharing->own_pages,
			    (unsigned long long)c->sharing->time_us);
	}
	return sbuf_puts(b, "\n}\n");
}

/* A manifest as it goes to disk: manifest.pb and manifest.json. */
struct manifest_bytes {
	uint8_t *pb;
	size_t pb_len;
	struct sbuf json;
};

static int manifest_encode(const Checkpoint *c, struct manifest_bytes *m, struct herr *e)
{
	m->pb_len = checkpoint__helper__v1__checkpoint__get_packed_size(c);
	m->pb = malloc(m->pb_len ? m->pb_len : 1);
	if (!m->pb || manifest_json(c, &m->json)) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
		return -1;
	}
	checkpoint__helper__v1__checkpoint__pack(c, m->pb);
	return 0;
}

static void manifest_bytes_free(struct manifest_bytes *m)
{
	free(m->pb);
	sbuf_free(&m->json);
}

/* Renames the temporary file tmp over name; tmp is emptied once it is gone. */
static int rename_over(int dirfd, char *tmp, const char *name, const char *id, struct herr *e)
{
	if (renameat(dirfd, tmp, dirfd, name)) {
		herr_perror(e, EC(INTERNAL), errno, "cannot replace %s of checkpoint %s", name, id);
		return -1;
	}
	tmp[0] = '\0';
	return 0;
}

/*
 * Writes the manifest of the checkpoint open at dirfd, its first or a new
 * one. Both new files are written and synced under temporary names before
 * either is renamed into place, and the directory is synced after: a reader
 * (or a machine that crashed) sees the old manifest.pb or the new one, never
 * a part of one (manifest.json, for people, may be the newer across a crash
 * between the two renames), and a failed write leaves the old one as it was.
 */
int manifest_write(int dirfd, const Checkpoint *c, struct herr *e)
{
	struct manifest_bytes m = { 0 };
	char tmp_pb[64] = "", tmp_json[64] = "";
	int ret = -1;

	if (manifest_encode(c, &m, e))
		goto out;
	/* what a writer killed half-way left (its callers have the directory to themselves) */
	remove_temps_at(dirfd, "manifest.pb");
	remove_temps_at(dirfd, "manifest.json");
	if (write_temp_at(dirfd, "manifest.pb", m.pb, m.pb_len, tmp_pb, sizeof(tmp_pb)) ||
	    write_temp_at(dirfd, "manifest.json", m.json.p, m.json.len, tmp_json, sizeof(tmp_json))) {
		herr_perror(e, EC(INTERNAL), errno, "cannot write the new manifest of checkpoint %s", c->id);
		goto out;
	}
	/*
	 * manifest.pb last: list and restore read it, so the rename has happened
	 * once it is in place, and not before
	 */
	if (rename_over(dirfd, tmp_json, "manifest.json", c->id, e))
		goto out;
	fault_at("manifest-renames");	/* manifest.json the new one, manifest.pb still the old */
	if (rename_over(dirfd, tmp_pb, "manifest.pb", c->id, e))
		goto out;
	/* the renames are done: a failed sync only makes them less durable */
	if (fsync(dirfd))
		fprintf(stderr, "checkpoint-helper: cannot sync the directory of checkpoint %s: %s\n", c->id,
			strerror(errno));
	ret = 0;
out:
	if (tmp_pb[0])
		unlinkat(dirfd, tmp_pb, 0);
	if (tmp_json[0])
		unlinkat(dirfd, tmp_json, 0);
	manifest_bytes_free(&m);
	return ret;
}

static void *arena_pb_alloc(void *data, size_t size)
{
	(void)data;
	return arena_alloc(size);
}

static void arena_pb_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

static ProtobufCAllocator arena_allocator = { arena_pb_alloc, arena_pb_free, NULL };

/*
 * The manifest of checkpoint id (the directory's name: what names a
 * checkpoint, whatever a copied manifest says) in store. One that decodes
 * to nothing a dump writes (empty, cut short) is damage, refused.
 */
static Checkpoint *manifest_decode(const char *buf, size_t len, const char *store, const char *id, struct herr *e)
{
	Checkpoint *c = checkpoint__helper__v1__checkpoint__unpack(&arena_allocator, len, (const uint8_t *)buf);

	if (!c) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the manifest of checkpoint %s cannot be decoded", id);
		return NULL;
	}
	if (c->root_pid <= 0) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the manifest of checkpoint %s is %s: it names no process", id,
			 len ? "damaged" : "empty");
		return NULL;
	}
	c->id = arena_strdup(id);
	c->path = arena_printf("%s/%s", store, id);
	return c;
}

static void manifest_unreadable(struct herr *e, int err, const char *store, const char *id)
{
	if (err == EINVAL || err == ELOOP)
		herr_set(e, EC(IMAGE_DAMAGED), err, "the manifest of checkpoint %s in %s is not a regular file (a link, a "
			 "FIFO or a device in its place): the checkpoint is damaged", id, store);
	else
		herr_perror(e, err == ENOENT ? EC(NOT_FOUND) : EC(INTERNAL), err,
			    "cannot read the manifest of checkpoint %s in %s", id, store);
}

Checkpoint *manifest_read(const char *store, const char *id, struct herr *e)
{
	char path[4400], *buf = NULL;
	Checkpoint *c = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s/manifest.pb", store, id);
	if (read_regular_at(AT_FDCWD, path, &buf, &len, MAX_MANIFEST)) {
		int err = errno;
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", store, id);
		if (err == ENOENT && stat(path, &st))
			herr_set(e, EC(NOT_FOUND), err, "no checkpoint %s in %s", id, store);
		else
			manifest_unreadable(e, err, store, id);
		goto out;
	}
	c = manifest_decode(buf, len, store, id, e);
out:
	free(buf);
	return c;
}

Checkpoint *manifest_read_at(int dirfd, const char *store, const char *id, struct herr *e)
{
	Checkpoint *c = NULL;
	char *buf = NULL;
	size_t len = 0;

	if (read_regular_at(dirfd, "manifest.pb", &buf, &len, MAX_MANIFEST)) {
		int err = errno;

		/* opened before a delete hid it, read after: deleted, not damaged */
		if (err == ENOENT && !checkpoint_still_at(dirfd, store, id))
			herr_set(e, EC(NOT_FOUND), err, "no checkpoint %s in %s any more: it was deleted meanwhile", id, store);
		else
			manifest_unreadable(e, err, store, id);
	} else
		c = manifest_decode(buf, len, store, id, e);
	free(buf);
	return c;
}

const CheckpointProcess *checkpoint_root_process(const Checkpoint *ck)
{
	for (size_t i = 0; i < ck->n_processes; i++)
		if (ck->processes[i]->pid == ck->root_pid)
			return ck->processes[i];
	return NULL;
}

bool checkpoint_still_at(int fd, const char *store, const char *id)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", store, id);
	return fd_is_at(fd, AT_FDCWD, path);
}
