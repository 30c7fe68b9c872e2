/* SPDX-License-Identifier: MIT */
/* Which running process a checkpoint's pid stands for (pid_origin.h): start times, kept and compared. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "pid_origin.h"

static char restored_dir[512] = RESTORED_DIR;

void pid_origin_dir_set(const char *dir)
{
	snprintf(restored_dir, sizeof(restored_dir), "%s", dir);
}

/* The start time of the process restored at pid, as recorded then; 0 when there is no record. */
static uint64_t restored_start(pid_t pid)
{
	char path[600], *text = NULL, *end;
	uint64_t ticks = 0;

	snprintf(path, sizeof(path), "%s/%d", restored_dir, pid);
	if (read_file_at(AT_FDCWD, path, &text, NULL, 64) == 0) {
		errno = 0;
		ticks = strtoull(text, &end, 10);
		if (errno || end == text || (*end && *end != '\n'))
			ticks = 0;	/* damaged: proves nothing */
	}
	free(text);
	return ticks;
}

static void record_one(int dirfd, pid_t pid)
{
	struct proc_stat st;
	char name[16], text[32], tmp[128];

	if (read_proc_stat(pid, &st))
		return;	/* gone already: nothing of it to kill later */
	snprintf(name, sizeof(name), "%d", pid);
	snprintf(text, sizeof(text), "%" PRIu64 "\n", st.start_ticks);
	/* under a temporary name first: a reader sees the old record or the new one */
	if (write_temp_at(dirfd, name, text, strlen(text), tmp, sizeof(tmp)) || renameat(dirfd, tmp, dirfd, name)) {
		fprintf(stderr, "checkpoint-helper: cannot record restored process %d in %s: %s\n", pid, restored_dir,
			strerror(errno));
		if (tmp[0])
			unlinkat(dirfd, tmp, 0);
	}
}

void pid_origin_record_restored(const pid_t *pids, size_t n)
{
	int dirfd = -1;

	if (mkdir_p(restored_dir, 0700) == 0 || errno == EEXIST)
		dirfd = open(restored_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "checkpoint-helper: cannot open %s: %s\n", restored_dir, strerror(errno));
		return;
	}
	for (size_t i = 0; i < n; i++)
		record_one(dirfd, pids[i]);
	close(dirfd);
}

bool pid_origin_is_checkpoints(const CheckpointProcess *p, const struct proc_stat *st)
{
	if (strcmp(st->comm, p->comm ? p->comm : ""))
		return false;
	if (!p->start_ticks)
		return true;
	return st->start_ticks == p->start_ticks || st->start_ticks == restored_start(p->pid);
}
