/* SPDX-License-Identifier: MIT */
/*
 * Whether a running process at a checkpoint's pid is that checkpoint's
 * program, which a restore may kill (kill_running), or another process that
 * took the pid and the name over since. A pid and a name prove nothing;
 * the start time does: the process the checkpoint was taken of has the start
 * time its manifest records, and one a helper restored at that pid has the
 * start time recorded in RESTORED_DIR/<pid> when it was restored (/run goes
 * with a reboot, as the pids do).
 */
#ifndef CKPT_PID_ORIGIN_H
#define CKPT_PID_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proc.h"
#include "wire.h"

#define RESTORED_DIR "/run/checkpoint-debugger/restored"

/* Another directory for the records (the tests). */
void pid_origin_dir_set(const char *dir);
/* Records the processes of ck just restored at pids (their start times now); failures said on stderr. */
void pid_origin_record_restored(const Checkpoint *ck, const pid_t *pids, size_t n);
/*
 * Whether st, running at p's pid, is the program of checkpoint ck (p one of
 * its processes): p's own process, or one restored at its pid from a
 * checkpoint of the same program. A manifest from before start times were
 * recorded (0) cannot tell: the name alone decides, as it did.
 */
bool pid_origin_is_checkpoints(const Checkpoint *ck, const CheckpointProcess *p, const struct proc_stat *st);

#endif
