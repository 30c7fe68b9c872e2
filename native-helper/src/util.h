/* SPDX-License-Identifier: MIT */
/* Small things every module may use: sizes, bytes, time, randomness, words. */
#ifndef CKPT_UTIL_H
#define CKPT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef VERSION
#define VERSION "0.0.0-dev"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The little-endian u32 at p: frame lengths, and CRIU's image magics and entry sizes. */
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Little-endian stores: test inputs, and the ELF core files the helper writes. */
static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, v & 0xffffffffu);
	put_le32(p + 4, v >> 32);
}

uint64_t now_us(void);			/* CLOCK_MONOTONIC */
uint64_t now_unix_ms(void);		/* CLOCK_REALTIME */
void sleep_ms(unsigned ms);
/*
 * A pause between two looks at something about to happen (a freezer's
 * state, a process's end): 100 us first, twice as long each time after,
 * at most 5 ms. Most waits end within a millisecond; a fixed 5 or 10 ms
 * sleep made each of them cost that much. *us starts at 0.
 */
void poll_pause(unsigned *us);
/* nhex random hex digits (at most 64) and a NUL in out; -1 with errno when getrandom fails. */
int random_hex(char *out, size_t nhex);
/* "20261206-140218": now in UTC, as the store names what it keeps by time. */
void utc_stamp(char *out, size_t len);
/* one when n is 1, else many: plural(n, "process", "processes"). */
const char *plural(size_t n, const char *one, const char *many);
/* qsort and bsearch order of uint64_t. */
int cmp_u64(const void *a, const void *b);
/* s ends with suffix. */
bool str_ends_with(const char *s, const char *suffix);
/* Bounded text without control characters (DEL included) other than tab (NULL is valid). */
bool valid_text(const char *s, size_t max);

#endif
