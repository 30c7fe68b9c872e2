/* SPDX-License-Identifier: MIT */
/* The request's arena: every allocation of one request, freed after the answer. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct arena_node {
	struct arena_node *prev;
	max_align_t data[];
};

static struct arena_node *arena_top;

void *arena_alloc(size_t size)
{
	struct arena_node *n = calloc(1, sizeof(*n) + size + 1);

	if (!n) {
		fprintf(stderr, "checkpoint-helper: out of memory\n");
		abort();
	}
	n->prev = arena_top;
	arena_top = n;
	return n->data;
}

char *arena_strdup(const char *s)
{
	size_t n = strlen(s ? s : "");
	char *p = arena_alloc(n + 1);

	memcpy(p, s ? s : "", n);
	return p;
}

char *arena_printf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	if (!fmt)	/* never; but UBSan's instrumentation makes GCC see the path */
		return arena_strdup("");
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = arena_alloc(n + 1);
	va_start(ap, fmt);
	vsnprintf(p, n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void *arena_grow(void *v, size_t n, size_t *cap, size_t size)
{
	void *nv;

	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 8;
	nv = arena_alloc(*cap * size);
	if (n)
		memcpy(nv, v, n * size);
	return nv;
}

void arena_free_all(void)
{
	while (arena_top) {
		struct arena_node *p = arena_top->prev;

		free(arena_top);
		arena_top = p;
	}
}
