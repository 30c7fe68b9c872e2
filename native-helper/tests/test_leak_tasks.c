/* SPDX-License-Identifier: MIT */
/* Unit tests of leak_tasks.c. */
#include "helper.h"
#include "leaks.h"
#include "check.h"

void test_leak_tasks(void)
{
}
