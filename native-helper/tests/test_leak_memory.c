/* SPDX-License-Identifier: MIT */
/* Unit tests of leak_memory.c. */
#include "helper.h"
#include "leaks.h"
#include "check.h"

void test_leak_memory(void)
{
}
