/* SPDX-License-Identifier: MIT */
/* The checkpoint store: <store>/<id>/{CRIU images, manifest.pb, manifest.json}. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper.h"
#include "leaks.h"

#define MAX_MANIFEST (16u << 20)

int store_prepare(const char *store, struct herr *e)
{
	struct stat st;

	if (mkdir_p(store, 0700)) {
		herr_set(e, EC(INTERNAL), errno, "cannot create the checkpoint store %s: %s", store,
			 strerror(errno));
		return -1;
	}
	if (stat(store, &st) || !S_ISDIR(st.st_mode)) {
		herr_set(e, EC(INTERNAL), errno ? errno : ENOTDIR, "the checkpoint store %s is not a directory",
			 store);
		return -1;
	}
	if ((st.st_mode & 077) && chmod(store, 0700))
		fprintf(stderr, "checkpoint-helper: cannot chmod 0700 %s: %s\n", store, strerror(errno));
	return 0;
}

static void json_key(struct sbuf *b, const char *key, bool *first)
{
	if (!*first)
		sbuf_puts(b, ",");
	*first = false;
	sbuf_puts(b, "\n  ");
	json_escape(b, key);
	sbuf_puts(b, ": ");
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

/* manifest.json: the fields of Checkpoint, in proto field names. */
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
		sbuf_puts(b, "}");
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
	if (c->leaks) {
		json_key(b, "leaks", &first);
		leak_report_json(b, c->leaks);
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

/* Writes the manifest into a checkpoint directory no one else sees yet (a dump's .partial). */
int manifest_write(int dirfd, const Checkpoint *c, struct herr *e)
{
	struct manifest_bytes m = { 0 };
	int ret = -1;

	if (manifest_encode(c, &m, e))
		goto out;
	if (write_file_at(dirfd, "manifest.pb", m.pb, m.pb_len)) {
		herr_set(e, EC(INTERNAL), errno, "cannot write manifest.pb: %s", strerror(errno));
		goto out;
	}
	if (write_file_at(dirfd, "manifest.json", m.json.p, m.json.len)) {
		herr_set(e, EC(INTERNAL), errno, "cannot write manifest.json: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	manifest_bytes_free(&m);
	return ret;
}

/* Renames the temporary file tmp over name; tmp is emptied once it is gone. */
static int rename_over(int dirfd, char *tmp, const char *name, const char *id, struct herr *e)
{
	if (renameat(dirfd, tmp, dirfd, name)) {
		herr_set(e, EC(INTERNAL), errno, "cannot replace %s of checkpoint %s: %s", name, id, strerror(errno));
		return -1;
	}
	tmp[0] = '\0';
	return 0;
}

/*
 * Replaces the manifest of the checkpoint open at dirfd. Both new files are
 * written and synced under temporary names before either is renamed into
 * place: a reader sees the old manifest or the new one, and a failed write
 * leaves the old one as it was.
 */
static int manifest_replace(int dirfd, const Checkpoint *c, struct herr *e)
{
	struct manifest_bytes m = { 0 };
	char tmp_pb[64] = "", tmp_json[64] = "";
	int ret = -1;

	if (manifest_encode(c, &m, e))
		goto out;
	if (write_temp_at(dirfd, "manifest.pb", m.pb, m.pb_len, tmp_pb, sizeof(tmp_pb)) ||
	    write_temp_at(dirfd, "manifest.json", m.json.p, m.json.len, tmp_json, sizeof(tmp_json))) {
		herr_set(e, EC(INTERNAL), errno, "cannot write the new manifest of checkpoint %s: %s", c->id,
			 strerror(errno));
		goto out;
	}
	/*
	 * manifest.pb last: list and restore read it, so the rename has happened
	 * once it is in place, and not before
	 */
	if (rename_over(dirfd, tmp_json, "manifest.json", c->id, e) ||
	    rename_over(dirfd, tmp_pb, "manifest.pb", c->id, e))
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

static Checkpoint *manifest_decode(const char *buf, size_t len, const char *id, struct herr *e)
{
	Checkpoint *c = checkpoint__helper__v1__checkpoint__unpack(&arena_allocator, len, (const uint8_t *)buf);

	if (!c)
		herr_set(e, EC(INTERNAL), EINVAL, "the manifest of checkpoint %s cannot be decoded", id);
	return c;
}

static void manifest_unreadable(struct herr *e, int err, const char *store, const char *id)
{
	herr_set(e, err == ENOENT ? EC(NOT_FOUND) : EC(INTERNAL), err,
		 "cannot read the manifest of checkpoint %s in %s: %s", id, store, strerror(err));
}

/* Reads <store>/<id>/manifest.pb; the result lives in the request's arena. */
Checkpoint *manifest_read(const char *store, const char *id, struct herr *e)
{
	char path[4400], *buf = NULL;
	Checkpoint *c = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s/manifest.pb", store, id);
	if (read_file(path, &buf, &len, MAX_MANIFEST)) {
		int err = errno;
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", store, id);
		if (err == ENOENT && stat(path, &st))
			herr_set(e, EC(NOT_FOUND), err, "no checkpoint %s in %s", id, store);
		else
			manifest_unreadable(e, err, store, id);
		goto out;
	}
	c = manifest_decode(buf, len, id, e);
out:
	free(buf);
	return c;
}

/* The same, from the checkpoint directory open at dirfd. */
static Checkpoint *manifest_read_at(int dirfd, const char *store, const char *id, struct herr *e)
{
	Checkpoint *c = NULL;
	char *buf = NULL;
	size_t len = 0;

	if (read_file_at(dirfd, "manifest.pb", &buf, &len, MAX_MANIFEST))
		manifest_unreadable(e, errno, store, id);
	else
		c = manifest_decode(buf, len, id, e);
	free(buf);
	return c;
}

static int cmp_checkpoint(const void *a, const void *b)
{
	const Checkpoint *x = *(Checkpoint *const *)a, *y = *(Checkpoint *const *)b;

	if (x->created_unix_ms != y->created_unix_ms)
		return x->created_unix_ms < y->created_unix_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* A dump still writing it, or one that never finished: see op_dump. */
static bool is_partial(const char *name)
{
	size_t n = strlen(name);

	return n > 8 && !strcmp(name + n - 8, ".partial");
}

int store_list(const char *store, ListResult *res, struct herr *e)
{
	size_t cap = 16;
	struct dirent *de;
	DIR *d;

	d = opendir(store);
	if (!d) {
		if (errno == ENOENT)
			return 0;	/* nothing checkpointed yet */
		herr_set(e, EC(INTERNAL), errno, "cannot read the checkpoint store %s: %s", store,
			 strerror(errno));
		return -1;
	}
	res->checkpoints = arena_alloc(cap * sizeof(*res->checkpoints));
	while ((de = readdir(d))) {
		Checkpoint *c;

		if (!valid_checkpoint_id(de->d_name) || is_partial(de->d_name))
			continue;
		c = manifest_read(store, de->d_name, NULL);
		if (!c)
			continue;
		if (res->n_checkpoints == cap) {
			Checkpoint **nv = arena_alloc(cap * 2 * sizeof(*nv));

			memcpy(nv, res->checkpoints, cap * sizeof(*nv));
			res->checkpoints = nv;
			cap *= 2;
		}
		res->checkpoints[res->n_checkpoints++] = c;
	}
	closedir(d);
	qsort(res->checkpoints, res->n_checkpoints, sizeof(*res->checkpoints), cmp_checkpoint);
	return 0;
}

int store_delete(const char *store, const char *id, struct herr *e)
{
	char path[4400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", store, id);
	if (lstat(path, &st) || !S_ISDIR(st.st_mode)) {
		herr_set(e, EC(NOT_FOUND), ENOENT, "no checkpoint %s in %s", id, store);
		return -1;
	}
	if (remove_tree(path)) {
		herr_set(e, EC(INTERNAL), errno, "cannot delete %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* 0 unless checkpoint id is still being written (its dump has not finished). */
static int check_not_partial(const char *store, const char *id, struct herr *e)
{
	char path[4400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s.partial", store, id);
	if (!is_partial(id) && lstat(path, &st))
		return 0;
	herr_set(e, EC(NOT_FOUND), ENOENT, "no checkpoint %s in %s: it is still being written (or its dump "
		 "did not finish); list the checkpoints to see the finished ones", id, store);
	return -1;
}

int store_rename(const char *store, const char *id, const char *name, Checkpoint **out, struct herr *e)
{
	Checkpoint *c;
	int fd, ret = -1;

	if (check_not_partial(store, id, e))
		return -1;
	fd = checkpoint_open(store, id, e);
	if (fd < 0)
		return -1;
	/* another helper renaming it too: one read-modify-write after the other */
	if (flock(fd, LOCK_EX)) {
		herr_set(e, EC(INTERNAL), errno, "cannot lock checkpoint %s in %s: %s", id, store, strerror(errno));
		goto out;
	}
	c = manifest_read_at(fd, store, id, e);
	if (!c)
		goto out;
	c->name = arena_strdup(name);
	if (manifest_replace(fd, c, e))
		goto out;
	*out = c;
	ret = 0;
out:
	close(fd);	/* and with it the lock */
	return ret;
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int store_prune(const char *dir, size_t keep)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, visible, alphasort), ret = 0;

	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	for (int i = 0; i < n; i++) {
		if ((size_t)(n - i) > keep && remove_tree(arena_printf("%s/%s", dir, names[i]->d_name)))
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}
