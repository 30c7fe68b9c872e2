/*
 * A program for the ELF core tests: two threads, each spinning on one known
 * source line (CORE_MAIN_LINE, CORE_WORKER_LINE) with known locals, so that
 * a checkpoint catches both right there. Built with -g -O0; gdb opening the
 * core written from its checkpoint must show both frames with their lines
 * and locals. It publishes the two counters through the usual record once
 * both threads spin.
 *
 *   core_threads DIR
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "record.h"

static volatile int spinning = 1;
static volatile uint64_t main_turns, worker_turns;

static void *worker(void *arg)
{
	int worker_local = 4242;
	const char *worker_word = "worker-word";

	(void)arg;
	while (spinning) worker_turns += (uint64_t)worker_local + (worker_word[0] == 'w'); /* CORE_WORKER_LINE */
	return NULL;
}

int main(int argc, char **argv)
{
	int main_local = 1717;
	double main_ratio = 2.5;
	pthread_t thread;
	int fd;

	if (argc != 2)
		die("usage: core_threads DIR");
	fd = open_record(argv[1], "state");
	if (pthread_create(&thread, NULL, worker, NULL))
		die("pthread_create");
	while (!worker_turns)
		tick();
	main_turns = 1;
	{
		long counters[2] = { (long)main_turns, (long)worker_turns };

		publish(fd, counters, 2);
	}
	while (spinning) main_turns += (uint64_t)main_local + (main_ratio > 2.0); /* CORE_MAIN_LINE */
	pthread_join(thread, NULL);
	return 0;
}
