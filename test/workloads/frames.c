/*
 * A program whose stack a snapshot can unwind: a known chain of calls
 * (main -> outer -> middle -> inner), built with frame pointers, ending in
 * a leaf that spins on the CPU (so a checkpoint catches it in this code, not
 * in a libc system call built without frame pointers). The leaf publishes
 * its counter through the usual record every few million turns.
 *
 *   frames DIR
 */
#pragma GCC optimize("no-omit-frame-pointer")
#define _GNU_SOURCE
#include <stdint.h>

#include "record.h"

/* The counter lives here so a test can find it in the snapshot's memory. */
volatile uint64_t frames_counter;

__attribute__((noinline)) static void inner(int fd)
{
	for (;;) {
		frames_counter++;
		if (frames_counter % (1u << 22) == 0) {
			long published = (long)(frames_counter >> 22);

			publish(fd, &published, 1);
		}
	}
}

__attribute__((noinline)) static void middle(int fd)
{
	inner(fd);
	__asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
}

__attribute__((noinline)) static void outer(int fd)
{
	middle(fd);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: frames DIR\n");
		return 2;
	}
	outer(open_record(argv[1], "state"));
	return 0;
}
