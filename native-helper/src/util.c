/* SPDX-License-Identifier: MIT */
/* Small things every module may use: time, randomness, words. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util.h"

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
}

uint64_t now_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + ts.tv_nsec / 1000000;
}

/* Sleeps us microseconds, signals or not. */
static void sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void sleep_ms(unsigned ms)
{
	sleep_us(ms * 1000ull);
}

void poll_pause(unsigned *us)
{
	*us = *us ? (*us >= 2500 ? 5000 : *us * 2) : 100;
	sleep_us(*us);
}

int random_hex(char *out, size_t nhex)
{
	unsigned char raw[32];
	size_t nb = (nhex + 1) / 2;

	if (nb > sizeof(raw) || getrandom(raw, nb, 0) != (ssize_t)nb)
		return -1;
	for (size_t i = 0; i < nhex; i++)
		out[i] = "0123456789abcdef"[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 0xf];
	out[nhex] = '\0';
	return 0;
}

void utc_stamp(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, len, "%Y%m%d-%H%M%S", &tm);
}

const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

bool valid_text(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return true;
	for (n = 0; s[n]; n++) {
		if (n >= max)
			return false;
		if (((unsigned char)s[n] < 0x20 && s[n] != '\t') || s[n] == 0x7f)
			return false;
	}
	return true;
}

bool str_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}
