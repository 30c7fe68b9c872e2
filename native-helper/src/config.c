/* SPDX-License-Identifier: MIT */
/* What the helper was started with, and the CRIU that makes of it. */
#include "config.h"
#include "wire.h"

struct helper_config g_cfg;
static struct criu_info criu;

const struct criu_info *config_criu(bool afresh)
{
	if (afresh || !criu.probed)
		criu_probe(&criu, g_cfg.criu_path, g_cfg.criu_asked);
	return &criu;
}

const struct gdb_info *config_gdb(void)
{
	static struct gdb_info gdb;
	static bool probed;

	if (!probed)
		gdb_probe(&gdb);
	probed = true;
	return &gdb;
}

const struct criu_info *config_need_criu(struct herr *e)
{
	const struct criu_info *ci = config_criu(false);

	if (!ci->problem[0])
		return ci;
	herr_set(e, EC(CRIU_UNAVAILABLE), 0, "%s", ci->problem);
	return NULL;
}
