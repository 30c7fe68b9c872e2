/*
 * A program to debug at the source level (built with -g -O0): a main loop
 * that calls advance() once a tick, with locals and an account the tests
 * read and change through gdb; two worker threads; a child process counting
 * on its own. The lines the tests stop at are marked "@name" in comments
 * (the tests find their numbers in this file).
 *
 *   debuggee DIR
 *
 * Records: DIR/state "pid iteration total", DIR/child "pid count",
 * DIR/workers "pid count-1 count-2".
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "record.h"

struct account {
	long iteration;
	long total;
	char label[16];
};

/* The workers' counts, published by main with its own. */
static volatile long worker_counts[2];

static long advance(struct account *acct, long step)
{
	long before = acct->total; /* @advance */
	long after = before + step; /* @after */

	acct->total = after;
	acct->iteration++;
	snprintf(acct->label, sizeof(acct->label), "it-%ld", acct->iteration);
	return after;
}

static void *worker(void *arg)
{
	long index = (long)arg;

	for (;;) {
		worker_counts[index]++; /* @worker */
		tick();
	}
	return NULL;
}

static void child_loop(const char *dir)
{
	int fd = open_record(dir, "child");
	long count = 0;

	/* the record at its full size before any breakpoint: a restore checks the sizes of open files */
	publish(fd, &count, 1);
	for (;;) {
		count++; /* @child */
		publish(fd, &count, 1);
		tick();
	}
}

static void start_worker(int index)
{
	static const char *const names[] = { "worker-1", "worker-2" };
	pthread_t thread;

	if (pthread_create(&thread, NULL, worker, (void *)(long)index))
		die("pthread_create");
	pthread_setname_np(thread, names[index]);
}

int main(int argc, char **argv)
{
	struct account acct = { 0, 0, "start" };
	int state, workers;
	pid_t child;

	if (argc != 2) {
		fprintf(stderr, "usage: debuggee DIR\n");
		return 2;
	}
	child = fork(); /* @fork */
	if (child < 0)
		die("fork");
	if (child == 0)
		child_loop(argv[1]);
	state = open_record(argv[1], "state");
	workers = open_record(argv[1], "workers");
	publish(state, (long[2]){ 0, 0 }, 2);
	publish(workers, (long[2]){ 0, 0 }, 2);
	start_worker(0);
	start_worker(1);
	for (;;) {
		long total = advance(&acct, 3); /* @call */
		long counts[2] = { acct.iteration, total };
		long seen[2] = { worker_counts[0], worker_counts[1] };

		publish(state, counts, 2);
		publish(workers, seen, 2);
		tick();
	}
	return 0;
}
