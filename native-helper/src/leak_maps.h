/* SPDX-License-Identifier: MIT */
/*
 * The shared mappings of processes, for the memory leak detectors (part of
 * their base, with leak_scan.h): each mapping of /proc/PID/maps that is
 * shared, what it maps, and its holders.
 */
#ifndef CKPT_LEAK_MAPS_H
#define CKPT_LEAK_MAPS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "leak_scan.h"

/* Read /proc/PID/maps as text even where PROCMAP_QUERY works (the tests of both ways). */
extern bool leak_maps_text;

/* One line of /proc/PID/maps. path points into the line (path_len bytes, 0 when none). */
struct maps_line {
	unsigned long start, end;
	char perms[5];			/* "rw-s" */
	unsigned long long offset, inode;
	unsigned int major, minor;
	const char *path;
	size_t path_len;
};

/* Parses len bytes of line (no newline needed); -1 with errno EINVAL when malformed. */
int parse_maps_line(const char *line, size_t len, struct maps_line *m);

/* What a reading of maps keeps between processes (free with mapbuf_free). */
struct mapbuf {
	char *p;			/* the text of /proc/PID/maps */
	size_t len, cap;
	char name[PATH_MAX + 64];	/* a mapping's name, from PROCMAP_QUERY */
};

void mapbuf_free(struct mapbuf *b);

typedef void (*mapping_fn)(void *arg, const struct host_proc *p, const struct maps_line *m);

/* Calls fn for each shared mapping of p; -1 when its maps cannot be read (gone, refused, too big). */
int read_each_shared(struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg);

enum map_class { MC_NONE, MC_FILE, MC_ANON, MC_SYSV };

/* A shared mapping's object: a file, shared anonymous memory, a SysV segment (its inode is the shmid). */
enum map_class map_class(const struct maps_line *m);
/* "mapped at 0x7f1c2000-0x7f1c4000", the holder of a mapping (how: its buffer). */
struct leak_holder map_holder(const struct maps_line *m, char *how, size_t len, const char *verb);
/*
 * Adds p, an outside process, as a holder of lk by its mapping m, once
 * however many mappings of it p has: *last is the process counted last (a
 * process's mappings are read one after the other).
 */
void map_hold_outside(struct host_scan *s, struct leak *lk, pid_t *last, const struct host_proc *p,
		      const struct maps_line *m, const char *verb);

#endif
