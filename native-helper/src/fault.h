/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, for the tests of what a failure leaves behind (as CRIU's
 * own CRIU_FAULT): `--fault POINT=ERRNO` makes the named point of the helper
 * fail with that errno, as if the system had said so; `--fault POINT=KILL`
 * makes the helper die there, as by kill -9 (what a crash, the OOM killer or
 * a dropped session's SIGKILL leaves behind); `--fault POINT=PAUSE` makes it
 * wait FAULT_PAUSE_MS there and go on (another session's request can then
 * meet it half-way, every time). Off unless asked.
 */
#ifndef CKPT_FAULT_H
#define CKPT_FAULT_H

/* Points at most, and the longest name. */
#define FAULT_MAX_POINTS 8
#define FAULT_NAME_MAX 31
/* How long a PAUSE point waits. */
#define FAULT_PAUSE_MS 2000

/* "manifest-final=ENOSPC", "manifest-final=28", "manifest-final=KILL" or "...=PAUSE" taken; -1 when it cannot be (the usage is then wrong). */
int fault_add(const char *spec);
/*
 * 0, or the errno point is to fail with (set into errno too); never returns
 * at a KILL point; 0 after a while at a PAUSE point. Some points only die (KILL): where nothing the helper
 * does could fail (criu-post-dump, criu-restored, freeze-answer, ...), an
 * errno asked for there changes nothing.
 */
int fault_at(const char *point);
/* No point fails any more (the tests, between cases). */
void fault_clear(void);

#endif
