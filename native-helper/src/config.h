/* SPDX-License-Identifier: MIT */
/* What the helper was started with (main's arguments), and the CRIU that makes of it. */
#ifndef CKPT_CONFIG_H
#define CKPT_CONFIG_H

#include <stdbool.h>

#include "criu.h"
#include "err.h"
#include "gdb.h"

struct helper_config {
	char store[4096];
	const char *criu_path;	/* NULL: not found */
	const char *criu_asked;	/* --criu's path, kept when it is not executable */
};

extern struct helper_config g_cfg;

/* What the configured CRIU is and can do: probed at the first need, or afresh. */
const struct criu_info *config_criu(bool afresh);
/* What the host's gdb is (probed once): its path and version, or its problem in words. */
const struct gdb_info *config_gdb(void);
/* The usable CRIU, or NULL with CRIU_UNAVAILABLE in words. */
const struct criu_info *config_need_criu(struct herr *e);

#endif
