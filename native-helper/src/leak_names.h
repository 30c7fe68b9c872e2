/* SPDX-License-Identifier: MIT */
/* The names of leak kinds and policies, as the client and manifest.json spell them. */
#ifndef CKPT_LEAK_NAMES_H
#define CKPT_LEAK_NAMES_H

const char *leak_kind_name(int kind);		/* "uts-ns", "pipe", ...; "unknown" */
const char *leak_policy_name(int policy);	/* "fail", "warn", ...; "unknown" */

#endif
