/* SPDX-License-Identifier: MIT */
/*
 * The helper's children reaped (it is a child subreaper: what it launched
 * or restored, and their orphans, come to it): each end told to whom it
 * belongs, a program's or a gdb's.
 */
#ifndef CKPT_CHILDREN_H
#define CKPT_CHILDREN_H

/* Reaps every ended child of the helper, without waiting for any. */
void reap_children(void);

#endif
