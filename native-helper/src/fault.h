/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, for the tests of what a failure leaves behind (as CRIU's
 * own CRIU_FAULT): `--fault POINT=ERRNO` makes the named point of the helper
 * fail with that errno, as if the system had said so; `--fault POINT=KILL`
 * makes the helper die there, as by kill -9 (what a crash, the OOM killer or
 * a dropped session's SIGKILL leaves behind). Off unless asked.
 */
#ifndef CKPT_FAULT_H
#define CKPT_FAULT_H

/* Points at most, and the longest name. */
#define FAULT_MAX_POINTS 8
#define FAULT_NAME_MAX 31

/* "manifest-final=ENOSPC", "manifest-final=28" or "manifest-final=KILL" taken; -1 when it cannot be (the usage is then wrong). */
int fault_add(const char *spec);
/*
 * 0, or the errno point is to fail with (set into errno too); never returns
 * at a KILL point. Some points only die (KILL): where nothing the helper
 * does could fail (criu-post-dump, criu-restored, freeze-answer, ...), an
 * errno asked for there changes nothing.
 */
int fault_at(const char *point);
/* No point fails any more (the tests, between cases). */
void fault_clear(void);

#endif
