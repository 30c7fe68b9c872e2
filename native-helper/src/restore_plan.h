/* SPDX-License-Identifier: MIT */
/*
 * What a restore hands CRIU for the leaks the dump gave it as external (the
 * checkpoint's leak report says which): descriptors to inherit in place of
 * the dumped pipes, terminals and net namespace, and namespaces to join.
 */
#ifndef CKPT_RESTORE_PLAN_H
#define CKPT_RESTORE_PLAN_H

#include <stddef.h>

#include "criu.h"
#include "err.h"
#include "wire.h"

/* The descriptors stay open (held by the helper) until restore_plan_close. */
struct restore_plan {
	InheritFd **inherit;
	size_t ninherit;
	JoinNamespace **join;
	size_t njoin;
	int *fds;
	size_t nfds;
	const char **ttys;		/* the terminals handed in, by path */
	size_t ntty;
};

/*
 * Opens what the restore of a checkpoint with report r and options o needs;
 * output: the checkpoint's program pipes, which the restore reconnects
 * itself. EXTERNAL_GONE when an outside holder is gone.
 */
int leaks_restore_plan(const LeakReport *r, const DumpOptions *o, const OutputPipes *output,
		       struct restore_plan *p, struct herr *e);
void restore_plan_close(struct restore_plan *p);

#endif
