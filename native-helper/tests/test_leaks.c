/* SPDX-License-Identifier: MIT */
/* Unit tests of leaks.c: the list, the policy, the wire. */
#include "helper.h"
#include "leaks.h"
#include "check.h"

void test_leaks(void)
{
}
