/* SPDX-License-Identifier: MIT */
/*
 * Tests of leak_names.c: every leak kind and policy of the contract
 * (proto/helper.proto, read from its generated descriptor) has the name
 * the client spells, its enum name in lower case with dashes; any other
 * value is "unknown".
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "leak_names.h"
#include "util.h"
#include "wire.h"
#include "check.h"

/* "LEAK_KIND_UNIX_SOCKET" without prefix, in lower case with dashes: "unix-socket". */
static void client_name(const char *enum_name, const char *prefix, char *out, size_t len)
{
	size_t i;

	enum_name += strlen(prefix);
	for (i = 0; enum_name[i] && i + 1 < len; i++)
		out[i] = enum_name[i] == '_' ? '-' : (char)tolower((unsigned char)enum_name[i]);
	out[i] = '\0';
}

/*
 * Each value of enum d but UNSPECIFIED (0) is named as the client spells
 * it, by name_of; the names are those of the values, so no two are alike.
 */
static void check_names(const ProtobufCEnumDescriptor *d, const char *prefix, const char *(*name_of)(int))
{
	char want[64];

	CHECK_UINT(d->n_values, >, 1);
	for (unsigned i = 0; i < d->n_values; i++) {
		const ProtobufCEnumValue *v = &d->values[i];

		if (v->value == 0)
			continue;
		test_case("%s (%d)", v->name, v->value);
		client_name(v->name, prefix, want, sizeof(want));
		CHECK_STR(name_of(v->value), ==, want);
	}
}

static void test_kind_names(void)
{
	const ProtobufCEnumDescriptor *d = &checkpoint__helper__v1__leak_kind__descriptor;

	check_names(d, "LEAK_KIND_", leak_kind_name);
	test_case("the kinds");
	CHECK_INT(d->values[d->n_values - 1].value, ==, LEAK_KIND_MAX);	/* the last is the highest */
	CHECK_STR(leak_kind_name(LK(UNIX_SOCKET)), ==, "unix-socket");
	CHECK_STR(leak_kind_name(LK(UTS_NS)), ==, "uts-ns");
}

static void test_policy_names(void)
{
	const ProtobufCEnumDescriptor *d = &checkpoint__helper__v1__leak_policy__descriptor;

	check_names(d, "LEAK_POLICY_", leak_policy_name);
	test_case("the policies");
	CHECK_INT(d->values[d->n_values - 1].value, ==, LEAK_POLICY_MAX);
	CHECK_STR(leak_policy_name(LP(SAVE)), ==, "save");
}

/* UNSPECIFIED, and values outside the enums. */
static void test_unknown(void)
{
	const int kinds[] = { 0, -1, LEAK_KIND_MAX + 1, LEAK_KIND_MAX + 100, INT_MAX, INT_MIN };
	const int policies[] = { 0, -1, LEAK_POLICY_MAX + 1, INT_MAX, INT_MIN };

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		test_case("kind %d", kinds[i]);
		CHECK_STR(leak_kind_name(kinds[i]), ==, "unknown");
	}
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		test_case("policy %d", policies[i]);
		CHECK_STR(leak_policy_name(policies[i]), ==, "unknown");
	}
}

TEST_GROUP(leak_names)
{
	test_kind_names();
	test_policy_names();
	test_unknown();
}
