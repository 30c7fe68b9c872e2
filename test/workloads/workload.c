/*
 * Programs the integration tests checkpoint. Each mode counts in a loop and
 * publishes its counters in a fixed-size record written with pwrite() at
 * offset 0 of a file it opened once: the file's size never changes, so a
 * restore finds it as CRIU dumped it, and the test reads the record from
 * outside the tree.
 *
 *   workload counter DIR           one thread counting
 *   workload threads DIR N         N threads (worker-1 ... worker-N), each counting on its own
 *   workload family DIR            a parent and a child, each counting
 *   workload tcp-listen PORT       accepts connections on 127.0.0.1 and holds them
 *   workload tcp-client DIR PORT   counts while holding a connection to PORT
 *   workload memory DIR MIB        touches MIB MiB of memory, then counts
 *   workload areas DIR N           holds N separate one-page memory areas, then counts
 *   workload pattern DIR MIB       fills MIB MiB with a pattern of its generation
 *                                  (record "pid count generation checks bad partial"): SIGUSR1
 *                                  checks every word of it (bad: words that differ),
 *                                  SIGUSR2 makes a new generation, SIGHUP rewrites
 *                                  every hundredth page only (a generation of its own;
 *                                  each time another hundredth)
 *   workload change DIR            on SIGUSR1, once: changes a global variable
 *                                  (diff_global_counter) and a word of a shared anonymous
 *                                  page, opens DIR/opened and maps its three pages
 *                                  (record "pid count changes")
 *   workload print                 writes its count to stdout every tick, and
 *                                  every tenth count to stderr too
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "record.h"

#define MAX_THREADS 16

static void count_forever(const char *dir, const char *name)
{
	int fd = open_record(dir, name);
	long count = 0;

	for (;;) {
		count++;
		publish(fd, &count, 1);
		tick();
	}
}

static _Atomic long thread_counts[MAX_THREADS];

static void *thread_main(void *arg)
{
	_Atomic long *count = arg;

	for (;;) {
		atomic_fetch_add(count, 1);
		tick();
	}
	return NULL;
}

static void run_threads(const char *dir, int n)
{
	int fd = open_record(dir, "state");
	long snapshot[MAX_THREADS];
	pthread_t tid;

	if (n < 1 || n > MAX_THREADS)
		die("thread count out of range");
	for (int i = 0; i < n; i++) {
		char name[24];

		if (pthread_create(&tid, NULL, thread_main, &thread_counts[i]))
			die("pthread_create");
		/* Named, so that tools can tell the threads apart (and tests that they do). */
		snprintf(name, sizeof(name), "worker-%d", i + 1);
		pthread_setname_np(tid, name);
	}
	for (;;) {
		for (int i = 0; i < n; i++)
			snapshot[i] = atomic_load(&thread_counts[i]);
		publish(fd, snapshot, n);
		tick();
	}
}

static void run_family(const char *dir)
{
	pid_t child = fork();

	if (child < 0)
		die("fork");
	if (child == 0)
		count_forever(dir, "child");
	count_forever(dir, "parent");
}

static struct sockaddr_in loopback(const char *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return addr;
}

static void tcp_listen(const char *port)
{
	struct sockaddr_in addr = loopback(port);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 16))
		die("bind");
	for (;;)
		if (accept(fd, NULL, NULL) < 0 && errno != EINTR)
			die("accept");
}

static void tcp_client(const char *dir, const char *port)
{
	struct sockaddr_in addr = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect");
	count_forever(dir, "state");
}

/* Fills every page with data that differs page to page (no zero pages). */
static void hold_memory(const char *dir, long mib)
{
	size_t len = (size_t)mib << 20;
	unsigned long *mem = malloc(len);

	if (mib <= 0 || !mem)
		die("malloc");
	for (size_t i = 0; i < len / sizeof(*mem); i++)
		mem[i] = i * 2654435761UL;
	count_forever(dir, "state");
}

static volatile sig_atomic_t check_asked, change_asked, some_asked;

static void ask(int sig)
{
	if (sig == SIGUSR1)
		check_asked = 1;
	else if (sig == SIGUSR2)
		change_asked = 1;
	else
		some_asked = 1;
}

static unsigned long pattern_word(size_t i, long generation)
{
	return (i * 2654435761UL) ^ (unsigned long)generation;
}

/*
 * Memory whose every word says what it must be: a restore that brought
 * back a page wrong (a zero page where a lazy restore left one uncopied,
 * another generation's page) is seen by the next check.
 */
static void hold_pattern(const char *dir, long mib)
{
	size_t words = ((size_t)mib << 20) / sizeof(unsigned long);
	unsigned long *mem = malloc(words * sizeof(*mem));
	long counts[5] = { 0, 1, 0, 0, 0 };	/* count, generation, checks, bad words in the last check, partial rewrites */
	int fd = open_record(dir, "state");

	if (mib <= 0 || !mem)
		die("malloc");
	signal(SIGUSR1, ask);
	signal(SIGUSR2, ask);
	signal(SIGHUP, ask);
	for (size_t i = 0; i < words; i++)
		mem[i] = pattern_word(i, counts[1]);
	for (;;) {
		if (change_asked) {
			change_asked = 0;
			counts[1]++;
			for (size_t i = 0; i < words; i++)
				mem[i] = pattern_word(i, counts[1]);
		}
		if (some_asked) {
			/*
			 * one page in a hundred, another hundredth each time: its words of the
			 * next generation (a check sees them as bad)
			 */
			size_t first = (4096 - (uintptr_t)mem % 4096) % 4096 / sizeof(*mem) +
				       (size_t)(counts[4] % 100) * (4096 / sizeof(*mem));

			some_asked = 0;
			for (size_t i = first; i < words; i += 100 * 4096 / sizeof(*mem))
				for (size_t k = i; k < i + 4096 / sizeof(*mem) && k < words; k++)
					mem[k] = pattern_word(k, counts[1] + 1);
			counts[4]++;
		}
		if (check_asked) {
			check_asked = 0;
			counts[3] = 0;
			for (size_t i = 0; i < words; i++)
				counts[3] += mem[i] != pattern_word(i, counts[1]);
			counts[2]++;
		}
		counts[0]++;
		publish(fd, counts, 5);
		tick();
	}
}

/*
 * Holds N separate memory areas (one page each, every other one read-only,
 * so the kernel cannot merge them), each written once, then counts.
 */
static void hold_areas(const char *dir, long areas)
{
	long page = sysconf(_SC_PAGESIZE);
	char *mem;

	if (areas <= 0)
		die("areas");
	mem = mmap(NULL, (size_t)(areas * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (long i = 0; i < areas; i++)
		mem[i * page] = (char)(i + 1);
	for (long i = 1; i < areas; i += 2)
		if (mprotect(mem + i * page, (size_t)page, PROT_READ))
			die("mprotect");
	count_forever(dir, "state");
}

/*
 * Counts on stdout (and stderr) instead of a record: for programs the helper
 * launched, whose output it reads. write(2), so no stdio buffer holds a line.
 */
static void print_forever(void)
{
	char line[32];

	for (long count = 1;; count++) {
		int n = snprintf(line, sizeof(line), "%ld\n", count);

		if (write(1, line, n) != n)
			die("write stdout");
		if (count % 10 == 0 && write(2, line, n) != n)
			die("write stderr");
		tick();
	}
}

/* What a diff must name: the variable SIGUSR1 changes (a global, so its ELF symbol names it). */
volatile long diff_global_counter = 1;

/*
 * On SIGUSR1, once: the global changes, a word of an anonymous shared page
 * changes, DIR/opened is opened and its three pages mapped and written.
 * Record: "pid count changes".
 */
static void change_on_signal(const char *dir)
{
	long counts[2] = { 0, 0 };	/* count, changes made */
	int fd = open_record(dir, "state");
	/* memory no one process owns (CRIU keeps it as a shared memory object): its second word changes */
	long *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char path[4096];

	if (shared == MAP_FAILED)
		die("mmap");
	shared[0] = 1;
	signal(SIGUSR1, ask);
	snprintf(path, sizeof(path), "%s/opened", dir);
	for (;;) {
		if (check_asked && !counts[1]) {
			int file = open(path, O_RDWR | O_CREAT, 0600);
			/* the file's own pages: an area no neighbour can merge into */
			char *area = file < 0 || ftruncate(file, 3 * 4096) ? MAP_FAILED :
				     mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);

			if (area == MAP_FAILED)
				die("change");
			memset(area, 0x5a, 3 * 4096);
			diff_global_counter += 41;
			shared[1] = 0x5eed;
			counts[1] = 1;
		}
		counts[0]++;
		publish(fd, counts, 2);
		tick();
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "counter") && argc == 3)
		count_forever(argv[2], "state");
	else if (!strcmp(mode, "threads") && argc == 4)
		run_threads(argv[2], atoi(argv[3]));
	else if (!strcmp(mode, "family") && argc == 3)
		run_family(argv[2]);
	else if (!strcmp(mode, "tcp-listen") && argc == 3)
		tcp_listen(argv[2]);
	else if (!strcmp(mode, "tcp-client") && argc == 4)
		tcp_client(argv[2], argv[3]);
	else if (!strcmp(mode, "memory") && argc == 4)
		hold_memory(argv[2], atol(argv[3]));
	else if (!strcmp(mode, "print") && argc == 2)
		print_forever();
	else if (!strcmp(mode, "areas") && argc == 4)
		hold_areas(argv[2], atol(argv[3]));
	else if (!strcmp(mode, "pattern") && argc == 4)
		hold_pattern(argv[2], atol(argv[3]));
	else if (!strcmp(mode, "change") && argc == 3)
		change_on_signal(argv[2]);
	fprintf(stderr, "usage: workload counter DIR | threads DIR N | family DIR | tcp-listen PORT | tcp-client DIR PORT | memory DIR MIB | print | areas DIR N | pattern DIR MIB | change DIR\n");
	return 2;
}
