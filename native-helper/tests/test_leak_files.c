/* SPDX-License-Identifier: MIT */
/* Unit tests of leak_files.c. */
#include "helper.h"
#include "leaks.h"
#include "check.h"

void test_leak_files(void)
{
}
