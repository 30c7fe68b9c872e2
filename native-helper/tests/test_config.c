/* SPDX-License-Identifier: MIT */
/* Tests of config.c: the CRIU the configuration makes, probed once or afresh, and refused in words. */
#define _GNU_SOURCE

#include "config.h"
#include "wire.h"
#include "check.h"
#include "service.h"

/* config_need_criu refuses: CRIU_UNAVAILABLE, the probe's problem as the message. */
static void check_unavailable(const char *words)
{
	struct herr e = { 0 };
	const struct criu_info *ci = config_criu(false);

	CHECK(config_need_criu(&e) == NULL);
	CHECK_INT(e.code, ==, EC(CRIU_UNAVAILABLE));
	CHECK_INT(e.errnum, ==, 0);
	CHECK_STR(e.msg, ==, ci->problem);
	CHECK_CONTAINS(e.msg, words);
}

static void test_missing(void)
{
	const struct criu_info *ci;

	test_case("no CRIU found");
	g_cfg.criu_path = g_cfg.criu_asked = NULL;
	ci = config_criu(true);
	CHECK(ci->probed);
	CHECK_STR(ci->path, ==, "");
	CHECK_CONTAINS(ci->problem, "CRIU was not found");
	check_unavailable("CRIU was not found");

	test_case("probed once: a changed configuration is not seen until asked afresh");
	g_cfg.criu_asked = "/no/such/criu";
	CHECK(config_criu(false) == ci);
	CHECK_CONTAINS(config_criu(false)->problem, "CRIU was not found");
	test_case("asked afresh: a --criu that is not executable");
	CHECK_CONTAINS(config_criu(true)->problem, "the CRIU asked for, /no/such/criu, is not the absolute path");
	check_unavailable("/no/such/criu");

	test_case("a --criu that is not CRIU");
	g_cfg.criu_path = g_cfg.criu_asked = "/bin/false";
	CHECK_STR(config_criu(true)->path, ==, "/bin/false");
	check_unavailable("CRIU at /bin/false did not answer a VERSION request");
	CHECK(no_children());
}

TEST_GROUP(config)
{
	struct helper_config saved = g_cfg;

	test_missing();
	g_cfg = saved;
	config_criu(true);
}
