/* SPDX-License-Identifier: MIT */
/* Which running process a checkpoint's pid stands for (pid_origin.h): start times, kept and compared. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "manifest.h"
#include "pid_origin.h"

static char restored_dir[512] = RESTORED_DIR;

void pid_origin_dir_set(const char *dir)
{
	snprintf(restored_dir, sizeof(restored_dir), "%s", dir);
}

/* FNV-1a (64 bits) of len bytes, going on from h: a name for a program, not a defence against anyone. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * The program a checkpoint is of, as a restore record names it: its root
 * pid and its root process's name and command line (what makes checkpoints
 * "of the same program" for page sharing too), hashed.
 */
static uint64_t program_key(const Checkpoint *ck)
{
	const CheckpointProcess *p = checkpoint_root_process(ck);
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, &ck->root_pid, sizeof(ck->root_pid));

	if (!p)
		return h;
	h = fnv1a(h, p->comm ? p->comm : "", p->comm ? strlen(p->comm) + 1 : 1);
	for (size_t j = 0; j < p->n_cmdline; j++)
		h = fnv1a(h, p->cmdline[j], strlen(p->cmdline[j]) + 1);
	return h;
}

/* The record of the process restored at pid: its start time and its program; false when none (or damaged). */
static bool restored_record(pid_t pid, uint64_t *ticks, uint64_t *program)
{
	char path[600], *text = NULL;
	bool ok = false;
	int used = 0;

	snprintf(path, sizeof(path), "%s/%d", restored_dir, pid);
	if (read_file_at(AT_FDCWD, path, &text, NULL, 64) == 0)
		ok = sscanf(text, "%" SCNu64 " %16" SCNx64 "\n%n", ticks, program, &used) == 2 &&
		     (size_t)used == strlen(text) && *ticks;
	free(text);
	return ok;	/* a record without its program (an older helper's) proves nothing either */
}

static void record_one(int dirfd, pid_t pid, uint64_t program)
{
	struct proc_stat st;
	char name[16], text[64];

	if (read_proc_stat(pid, &st))
		return;	/* gone already: nothing of it to kill later */
	snprintf(name, sizeof(name), "%d", pid);
	snprintf(text, sizeof(text), "%" PRIu64 " %016" PRIx64 "\n", st.start_ticks, program);
	/* a reader sees the old record or the new one */
	if (replace_file_at(dirfd, name, text, strlen(text)))
		fprintf(stderr, "checkpoint-helper: cannot record restored process %d in %s: %s\n", pid, restored_dir,
			strerror(errno));
}

void pid_origin_record_restored(const Checkpoint *ck, const pid_t *pids, size_t n)
{
	uint64_t program = program_key(ck);
	int dirfd = -1;

	if (mkdir_p(restored_dir, 0700) == 0 || errno == EEXIST)
		dirfd = open(restored_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "checkpoint-helper: cannot open %s: %s\n", restored_dir, strerror(errno));
		return;
	}
	for (size_t i = 0; i < n; i++)
		record_one(dirfd, pids[i], program);
	close(dirfd);
}

bool pid_origin_is_checkpoints(const Checkpoint *ck, const CheckpointProcess *p, const struct proc_stat *st)
{
	uint64_t ticks, program;

	if (strcmp(st->comm, p->comm ? p->comm : ""))
		return false;
	if (!p->start_ticks)
		return true;
	if (st->start_ticks == p->start_ticks)
		return true;
	return restored_record(p->pid, &ticks, &program) && ticks == st->start_ticks && program == program_key(ck);
}
