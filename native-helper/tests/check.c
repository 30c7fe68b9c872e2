/* SPDX-License-Identifier: MIT */
/*
 * The unit tests' runner: every registered group, in the order of their
 * names (CKPT_TEST=substring runs only the groups whose name holds it); the
 * last line is "N passed, N failed".
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "check.h"

int passed, failed;
static struct test_group *groups;
static const char *group_now = "";
static char case_now[256];

void test_register(struct test_group *g)
{
	struct test_group **pp = &groups;

	while (*pp && strcmp((*pp)->name, g->name) < 0)
		pp = &(*pp)->next;
	g->next = *pp;
	*pp = g;
}

void test_case(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(case_now, sizeof(case_now), fmt, ap);
	va_end(ap);
}

/* "FAIL file:line [group: case]: " */
static void fail_head(const char *file, int line)
{
	failed++;
	fprintf(stderr, "FAIL %s:%d [%s%s%s]: ", file, line, group_now, case_now[0] ? ": " : "", case_now);
}

void check_true(bool ok, const char *expr, const char *file, int line)
{
	if (ok) {
		passed++;
		return;
	}
	fail_head(file, line);
	fprintf(stderr, "%s\n", expr);
}

/*
 * "expr (a = 3, b = 4)"; a value the expression writes as a literal (the
 * "3" of "n == 3") is not repeated.
 */
static void fail_values(const char *expr, const char *a, const char *sa, const char *b, const char *sb,
			const char *file, int line)
{
	fail_head(file, line);
	fprintf(stderr, "%s (%s = %s", expr, a, sa);
	if (strcmp(b, sb))
		fprintf(stderr, ", %s = %s", b, sb);
	fputs(")\n", stderr);
}

void check_int(bool ok, const char *expr, const char *a, long long va, const char *b, long long vb,
	       const char *file, int line)
{
	char sa[32], sb[32];

	if (ok) {
		passed++;
		return;
	}
	snprintf(sa, sizeof(sa), "%lld", va);
	snprintf(sb, sizeof(sb), "%lld", vb);
	fail_values(expr, a, sa, b, sb, file, line);
}

void check_uint(bool ok, const char *expr, const char *a, unsigned long long va, const char *b,
		unsigned long long vb, const char *file, int line)
{
	char sa[32], sb[32];

	if (ok) {
		passed++;
		return;
	}
	snprintf(sa, sizeof(sa), "%llu", va);
	snprintf(sb, sizeof(sb), "%llu", vb);
	fail_values(expr, a, sa, b, sb, file, line);
}

/* A string as C would write it, cut at 300 bytes: what differs may be a control character. */
static void print_quoted(const char *s)
{
	if (!s) {
		fputs("NULL", stderr);
		return;
	}
	fputc('"', stderr);
	for (size_t i = 0; s[i] && i < 300; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs(strlen(s) > 300 ? "\"..." : "\"", stderr);
}

void check_str(bool ok, const char *expr, const char *a, const char *va, const char *b, const char *vb,
	       const char *file, int line)
{
	if (ok) {
		passed++;
		return;
	}
	fail_head(file, line);
	fprintf(stderr, "%s (%s = ", expr, a);
	print_quoted(va);
	if (b[0] != '"') {
		fprintf(stderr, ", %s = ", b);
		print_quoted(vb);
	}
	fputs(")\n", stderr);
}

void check_ok(int ret, const struct herr *e, const char *expr, const char *file, int line)
{
	if (ret == 0) {
		passed++;
		return;
	}
	fail_head(file, line);
	fprintf(stderr, "%s returned %d: %s (errno %d)\n", expr, ret, e ? e->msg : "", e ? e->errnum : 0);
}

int main(void)
{
	const char *only = getenv("CKPT_TEST");

	for (struct test_group *g = groups; g; g = g->next) {
		if (only && !strstr(g->name, only))
			continue;
		group_now = g->name;
		case_now[0] = '\0';
		g->run();
		arena_free_all();
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
