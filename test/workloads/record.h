/*
 * What every test workload shares: dying with a message, a 20 ms tick, and
 * the fixed-size record (pwrite at offset 0 of a file opened once, so the
 * file never changes size and a restore finds it as CRIU dumped it) through
 * which tests read a workload's counters from outside its tree.
 */
#ifndef CKPT_WORKLOAD_RECORD_H
#define CKPT_WORKLOAD_RECORD_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORD_BYTES 256
#define TICK_NS (20 * 1000 * 1000)

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

static inline void tick(void)
{
	struct timespec ts = { 0, TICK_NS };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline int open_record(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	return fd;
}

/* Writes "pid c1 c2 ...", padded with spaces to RECORD_BYTES, newline last. */
static inline void publish(int fd, const long *counts, int n)
{
	char rec[RECORD_BYTES];
	int len = snprintf(rec, sizeof(rec), "%d", getpid());

	for (int i = 0; i < n && len < RECORD_BYTES; i++)
		len += snprintf(rec + len, sizeof(rec) - len, " %ld", counts[i]);
	memset(rec + len, ' ', RECORD_BYTES - len);
	rec[RECORD_BYTES - 1] = '\n';
	if (pwrite(fd, rec, sizeof(rec), 0) != sizeof(rec))
		die("pwrite");
}

#endif
