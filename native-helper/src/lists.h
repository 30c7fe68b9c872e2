/* SPDX-License-Identifier: MIT */
/* Growable arrays: of anything, of pids, of descriptors held for a while. */
#ifndef CKPT_LISTS_H
#define CKPT_LISTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Makes room in *v for need elements of size bytes each: the capacity *cap
 * doubles (from 64), so appending one at a time stays linear. -1 with
 * ENOMEM (out of memory, or more bytes than a size_t holds) leaves *v and
 * *cap as they were.
 */
int array_grow(void **v, size_t *cap, size_t need, size_t size);

struct pidlist {
	pid_t *v;
	size_t n;
	size_t cap;
};

int pidlist_add(struct pidlist *l, pid_t pid);
bool pidlist_has(const struct pidlist *l, pid_t pid);
void pidlist_free(struct pidlist *l);

/* Descriptors held for a while, then closed together. */
struct fdlist {
	int *v;
	size_t n;
	size_t cap;
};

int fdlist_add(struct fdlist *l, int fd);
void fdlist_close(struct fdlist *l);	/* closes them all and frees the list */

#endif
