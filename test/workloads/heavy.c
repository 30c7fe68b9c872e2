/*
 * A program to debug that holds memory (built with -g -O0), for the
 * benchmark of Restore to a breakpoint: touches MIB MiB, then calls visit()
 * once a tick; the line to break at is marked "@visit" (the benchmark finds
 * its number in this file). One process, one thread, no files.
 *
 *   heavy MIB
 */
#define _GNU_SOURCE
#include "record.h"

static long visit(const unsigned long *mem, size_t words, long round)
{
	long seen = (long)mem[(size_t)round % words]; /* @visit */

	return seen + round;
}

int main(int argc, char **argv)
{
	size_t len, words;
	unsigned long *mem;
	long mib, sum = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: heavy MIB\n");
		return 2;
	}
	mib = strtol(argv[1], NULL, 10);
	len = (size_t)mib << 20;
	words = len / sizeof(*mem);
	mem = malloc(len);
	if (mib <= 0 || !mem)
		die("malloc");
	for (size_t i = 0; i < words; i++)
		mem[i] = i * 2654435761UL;
	for (long round = 0;; round++) {
		sum += visit(mem, words, round);
		tick();
	}
	return (int)(sum & 1);
}
