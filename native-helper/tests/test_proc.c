/* SPDX-License-Identifier: MIT */
/* Tests of proc.c: /proc/PID/stat and terminals. */
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

#include "proc.h"
#include "check.h"

static void test_proc_stat(void)
{
	struct proc_stat st;

	CHECK(parse_proc_stat("1234 (my (odd) prog) S 1 1234 1234 34816 1234 4194560 0 0", &st) == 0);
	CHECK(st.pid == 1234);
	CHECK(!strcmp(st.comm, "my (odd) prog"));
	CHECK(st.state == 'S' && st.ppid == 1 && st.pgid == 1234 && st.sid == 1234);
	CHECK(st.tty_nr == 34816);
	CHECK(parse_proc_stat("7 (a) b) R 0 0 0 0", &st) == 0);
	CHECK(!strcmp(st.comm, "a) b") && st.state == 'R');
	CHECK(parse_proc_stat("9 () Z 3 4 5 0", &st) == 0);
	CHECK(!strcmp(st.comm, "") && st.state == 'Z' && st.ppid == 3);
	CHECK(parse_proc_stat("garbage", &st) == -1);
	CHECK(parse_proc_stat("12 (x) S", &st) == -1);
	/* our own stat parses, and matches getpid */
	CHECK(read_proc_stat(getpid(), &st) == 0 && st.pid == getpid());
}

static void test_tty(void)
{
	char out[64];

	CHECK(decode_tty_nr(0, out, sizeof(out)) == 0 && !strcmp(out, ""));
	CHECK(decode_tty_nr(34816, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/0"));
	CHECK(decode_tty_nr((136 << 8) | 3, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/3"));
	/* pts 300 = major 137 minor 44 */
	CHECK(decode_tty_nr((137 << 8) | 44, out, sizeof(out)) == 0 && !strcmp(out, "/dev/pts/300"));
	/* minor above 255: bits 20-31 */
	CHECK(decode_tty_nr((136 << 8) | (0x1 << 20) | 0x02, out, sizeof(out)) == 0 &&
	      !strcmp(out, "/dev/pts/258"));
	CHECK(decode_tty_nr((4 << 8) | 1, out, sizeof(out)) == 0 && !strcmp(out, "/dev/tty1"));
	CHECK(decode_tty_nr((4 << 8) | 64, out, sizeof(out)) == 0 && !strcmp(out, "/dev/ttyS0"));
	CHECK(decode_tty_nr((5 << 8) | 1, out, sizeof(out)) == 0 && !strcmp(out, "/dev/console"));
	CHECK(decode_tty_nr((99 << 8) | 1, out, sizeof(out)) == -1 && !strcmp(out, ""));
}

TEST_GROUP(proc)
{
	test_proc_stat();
	test_tty();
}
