/* SPDX-License-Identifier: MIT */
/*
 * The request's arena: what a request allocates for its answer (messages,
 * strings) lives until the answer is sent, then goes at once.
 */
#ifndef CKPT_ARENA_H
#define CKPT_ARENA_H

#include <stddef.h>

void *arena_alloc(size_t size);		/* zeroed; aborts on ENOMEM */
char *arena_strdup(const char *s);	/* NULL gives "" */
char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Room for element n of an arena array v of n elements (capacity *cap,
 * doubling from 8): v itself, or a copy in a larger one.
 */
void *arena_grow(void *v, size_t n, size_t *cap, size_t size);
void arena_free_all(void);

#endif
