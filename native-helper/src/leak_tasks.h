/* SPDX-License-Identifier: MIT */
/* The leak detectors of the tree's tasks: namespaces, and relatives outside (parent, session, group, tracer). */
#ifndef CKPT_LEAK_TASKS_H
#define CKPT_LEAK_TASKS_H

#include "err.h"
#include "leak_scan.h"

/* The namespaces tree processes are in, also held by outside processes (or the host's own). */
int detect_namespaces(struct host_scan *s, struct herr *e);
/* The root's parent, session and process group leaders outside the tree, an outside tracer. */
int detect_relatives(struct host_scan *s, struct herr *e);

#endif
