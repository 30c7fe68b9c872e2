/* SPDX-License-Identifier: MIT */
/* Growable arrays: of anything, of pids, of descriptors held for a while. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "lists.h"

int array_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	/* a capacity whose bytes do not fit a size_t is out of memory, never a wrapped small one */
	if (!size || need > SIZE_MAX / size) {
		errno = ENOMEM;
		return -1;
	}
	while (ncap < need)
		ncap = ncap > SIZE_MAX / size / 2 ? need : ncap * 2;
	p = realloc(*v, ncap * size);
	if (!p)
		return -1;
	*v = p;
	*cap = ncap;
	return 0;
}

int pidlist_add(struct pidlist *l, pid_t pid)
{
	if (array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)))
		return -1;
	l->v[l->n++] = pid;
	return 0;
}

bool pidlist_has(const struct pidlist *l, pid_t pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == pid)
			return true;
	return false;
}

void pidlist_free(struct pidlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int fdlist_add(struct fdlist *l, int fd)
{
	if (array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)))
		return -1;
	l->v[l->n++] = fd;
	return 0;
}

void fdlist_close(struct fdlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		close(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
