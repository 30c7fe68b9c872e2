/* SPDX-License-Identifier: MIT */
/* Tests of manifest.c: manifest.json. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "manifest.h"
#include "sbuf.h"
#include "check.h"

static void test_manifest_json(void)
{
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	CheckpointProcess p = CHECKPOINT__HELPER__V1__CHECKPOINT_PROCESS__INIT;
	CheckpointProcess *pp = &p;
	char *argv[] = { "python3", "-c", "print(\"hi\")" };
	struct sbuf b = { 0 };

	c.id = "x";
	c.name = "na\"me";
	c.processes = &pp;
	c.n_processes = 1;
	p.pid = 5;
	p.comm = "py";
	p.cmdline = argv;
	p.n_cmdline = 3;
	CHECK(manifest_json(&c, &b) == 0);
	CHECK(strstr(b.p, "\"name\": \"na\\\"me\"") != NULL);
	CHECK(strstr(b.p, "[\"python3\", \"-c\", \"print(\\\"hi\\\")\"]") != NULL);
	CHECK(strstr(b.p, "\"pages_written\": 0") != NULL);
	sbuf_free(&b);
}

TEST_GROUP(manifest)
{
	test_manifest_json();
}
