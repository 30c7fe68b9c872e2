/* SPDX-License-Identifier: MIT */
/* The leak detector of SysV IPC: shm segments, semaphore sets and message queues shared with the outside. */
#ifndef CKPT_LEAK_SYSV_H
#define CKPT_LEAK_SYSV_H

#include "err.h"
#include "leak_scan.h"

/* One line of /proc/sysvipc/shm, sem or msg: the fields the detector uses. */
struct sysv_line {
	int key, id;			/* id: shmid, semid or msqid */
	unsigned int mode;
	unsigned long long size;	/* shm: bytes; sem: semaphores; msg: bytes queued */
	unsigned long long count;	/* shm: attachments (nattch); msg: messages queued */
	pid_t pid_a, pid_b;		/* shm: cpid, lpid; msg: lspid, lrpid */
};

/* Each parses one line (NUL-terminated); -1 with errno EINVAL for a header or a bad line. */
int parse_sysv_shm(const char *line, struct sysv_line *l);
int parse_sysv_sem(const char *line, struct sysv_line *l);
int parse_sysv_msg(const char *line, struct sysv_line *l);

/* -1 only when the helper entered the tree's IPC namespace and could not come back. */
int detect_sysv(struct host_scan *s, struct herr *e);

#endif
