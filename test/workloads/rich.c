/*
 * A workload whose checkpoint holds every kind of image the project's image
 * reader decodes. Run as root on the target:
 *
 *   rich DIR [tcp|no-tcp]
 *
 * (tcp is the default; no-tcp leaves the TCP sockets out, for CRIU releases
 * that cannot dump any AF_INET socket on the kernel at hand: CRIU 4.1.1 on
 * Linux >= 6.16 fails with "Can't get 1:16 opt: Operation not supported",
 * because SO_PASSCRED/SO_PASSSEC became unix/netlink-only there.)
 *
 * The root process moves into its own IPC, net and UTS namespaces (so CRIU
 * dumps ipcns-*, netns-* and utsns-* images of the tree's own), sets the
 * hostname "ckpt-rich", brings "lo" up, and then builds:
 *
 *   - a SysV shm segment (64 KiB, key RICH_SHM_KEY), attached, filled with a
 *     pattern (the child inherits the attachment);
 *   - a child process that counts, holding the write end of a pipe whose
 *     read end the root holds, with unread bytes in it (pipes-data);
 *   - a unix stream socketpair split between root and child, with unread
 *     bytes queued towards the child (sk-queues);
 *   - a TCP listener on 127.0.0.1, a client connected to it and the accepted
 *     socket, with unread bytes queued in both directions (unless no-tcp);
 *   - an eventfd with a counter, an epoll instance watching it and the pipe's
 *     read end, an inotify instance watching DIR;
 *   - a memfd, written and mapped MAP_SHARED; a MAP_SHARED|MAP_ANONYMOUS
 *     mapping; a MAP_PRIVATE mapping of DIR/mapped.dat (its second page
 *     privately overwritten, so it is dumped as memory);
 *   - two threads that count;
 *   - a heap buffer holding "CKPT-RICH-MARKER-<root pid>" and an anonymous
 *     mapping at the fixed address RICH_FIXED_ADDR filled with a pattern.
 *
 * Every pattern is a short ASCII string repeated from the object's first
 * byte: byte i of the object is pattern[i % strlen(pattern)].
 *
 * It writes DIR/info once (JSON: pids, thread ids, addresses, patterns, and
 * each process's descriptors with their kinds), then publishes fixed-size
 * records like workload.c: DIR/state "pid counter thread1 thread2" (root)
 * and DIR/child "pid counter" (child).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "record.h"

#define PAGE 4096

#define RICH_HOSTNAME "ckpt-rich"
#define RICH_SHM_KEY 0x52494348 /* "RICH" */
#define RICH_SHM_BYTES (64 * 1024)
#define RICH_FIXED_ADDR 0x7e0000000000UL
#define RICH_FIXED_BYTES (2 * PAGE)
#define RICH_MEMFD_BYTES (2 * PAGE)
#define RICH_ANON_SHARED_BYTES (4 * PAGE)
#define RICH_FILE_BYTES (2 * PAGE)
#define RICH_EVENTFD_VALUE 42
#define CHILD_RECORD_FD 10

#define PAT_SHM "SYSV-SHM-PATTERN/"
#define PAT_FIXED "FIXED-ADDRESS-PATTERN/"
#define PAT_MEMFD "MEMFD-PATTERN/"
#define PAT_ANON_SHARED "ANON-SHARED-PATTERN/"
#define PAT_FILE "MAPPED-FILE-PATTERN/"
#define PAT_FILE_DIRTY "PRIVATE-COW-PATTERN/"
#define MSG_PIPE "pipe: child to root, unread"
#define MSG_UNIX "unix: root to child, unread"
#define MSG_TCP_C2S "tcp: client to server, unread"
#define MSG_TCP_S2C "tcp: server to client, unread"

static void fill(void *mem, size_t len, const char *pattern)
{
	size_t n = strlen(pattern);

	for (size_t i = 0; i < len; i++)
		((char *)mem)[i] = pattern[i % n];
}

static void write_all(int fd, const void *buf, size_t len, const char *what)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die(what);
		p += w;
		len -= (size_t)w;
	}
}

/* ---- namespaces ---------------------------------------------------------- */

static void own_namespaces(void)
{
	struct ifreq ifr;
	int fd;

	if (unshare(CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS))
		die("unshare(CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS)");
	if (sethostname(RICH_HOSTNAME, strlen(RICH_HOSTNAME)))
		die("sethostname");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("SIOCSIFFLAGS lo");
	close(fd);
}

/* ---- the child ----------------------------------------------------------- */

static void child_main(const char *dir, int pipe_w, int unix_child)
{
	int fd = open_record(dir, "child");
	long count = 0;

	/* at a known number, for DIR/info */
	if (dup3(fd, CHILD_RECORD_FD, O_CLOEXEC) != CHILD_RECORD_FD)
		die("dup3");
	close(fd);
	fd = CHILD_RECORD_FD;

	(void)unix_child; /* held, never read: the root's bytes stay queued */
	write_all(pipe_w, MSG_PIPE, strlen(MSG_PIPE), "write pipe");
	for (;;) {
		count++;
		publish(fd, &count, 1);
		tick();
	}
}

/* ---- threads ------------------------------------------------------------- */

struct counter_thread {
	pthread_t handle;
	_Atomic int tid;
	_Atomic long count;
};

static struct counter_thread threads[2];

static void *thread_main(void *arg)
{
	struct counter_thread *t = arg;

	atomic_store(&t->tid, (int)gettid());
	for (;;) {
		atomic_fetch_add(&t->count, 1);
		tick();
	}
	return NULL;
}

/* ---- TCP ----------------------------------------------------------------- */

struct tcp_trio {
	int listen_fd, client_fd, server_fd, port;
};

/* A listener on 127.0.0.1 (in the own net namespace), a client and the accepted end. */
static void tcp_trio(struct tcp_trio *t)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);

	t->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (t->listen_fd < 0)
		die("socket");
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(t->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(t->listen_fd, 8) ||
	    getsockname(t->listen_fd, (struct sockaddr *)&addr, &alen))
		die("bind/listen");
	t->port = ntohs(addr.sin_port);
	t->client_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (t->client_fd < 0 || connect(t->client_fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect");
	t->server_fd = accept(t->listen_fd, NULL, NULL);
	if (t->server_fd < 0)
		die("accept");
	write_all(t->client_fd, MSG_TCP_C2S, strlen(MSG_TCP_C2S), "write tcp client");
	write_all(t->server_fd, MSG_TCP_S2C, strlen(MSG_TCP_S2C), "write tcp server");
}

/* ---- the descriptor table written to DIR/info ---------------------------- */

struct fd_entry {
	int fd;
	const char *kind;
	const char *what;
};

struct fd_table {
	struct fd_entry e[24];
	size_t n;
};

static void fd_add(struct fd_table *t, int fd, const char *kind, const char *what)
{
	if (t->n == sizeof(t->e) / sizeof(t->e[0]))
		die("fd table full");
	t->e[t->n++] = (struct fd_entry){ fd, kind, what };
}

/* As a JSON array, ordered by fd. */
static void write_fds(FILE *f, struct fd_table *t)
{
	for (size_t i = 1; i < t->n; i++)
		for (size_t j = i; j > 0 && t->e[j - 1].fd > t->e[j].fd; j--) {
			struct fd_entry x = t->e[j];

			t->e[j] = t->e[j - 1];
			t->e[j - 1] = x;
		}
	fprintf(f, "[");
	for (size_t i = 0; i < t->n; i++)
		fprintf(f, "%s\n      {\"fd\": %d, \"kind\": \"%s\", \"what\": \"%s\"}", i ? "," : "",
			t->e[i].fd, t->e[i].kind, t->e[i].what);
	fprintf(f, "\n    ]");
}

int main(int argc, char **argv)
{
	const char *dir;
	char path[4096], marker_text[64];
	int pipefd[2], unixsk[2], efd, epfd, ifd, wd, memfd, file_fd, rec_fd;
	int shmid;
	bool with_tcp;
	struct tcp_trio tcp = { -1, -1, -1, 0 };
	pid_t child;
	struct epoll_event ev;
	struct pollfd pfd;
	char *shm, *memfd_map, *anon_shared, *file_map, *fixed, *marker;
	uint64_t one;
	FILE *f;

	if (argc == 2 || (argc == 3 && !strcmp(argv[2], "tcp")))
		with_tcp = true;
	else if (argc == 3 && !strcmp(argv[2], "no-tcp"))
		with_tcp = false;
	else {
		fprintf(stderr, "usage: rich DIR [tcp|no-tcp]\n");
		return 2;
	}
	dir = argv[1];

	own_namespaces();

	/* SysV shm in the tree's own IPC namespace, attached before the fork */
	shmid = shmget(RICH_SHM_KEY, RICH_SHM_BYTES, IPC_CREAT | IPC_EXCL | 0600);
	if (shmid < 0)
		die("shmget");
	shm = shmat(shmid, NULL, 0);
	if (shm == (void *)-1)
		die("shmat");
	fill(shm, RICH_SHM_BYTES, PAT_SHM);

	/* pipe child -> root, unix socketpair root <-> child */
	if (pipe(pipefd) || socketpair(AF_UNIX, SOCK_STREAM, 0, unixsk))
		die("pipe/socketpair");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		/* not left counting on its own when a test kills only the root */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
			die("prctl(PR_SET_PDEATHSIG)");
		close(pipefd[0]);
		close(unixsk[0]);
		child_main(dir, pipefd[1], unixsk[1]);
	}
	close(pipefd[1]);
	close(unixsk[1]);
	write_all(unixsk[0], MSG_UNIX, strlen(MSG_UNIX), "write unix socket");

	if (with_tcp)
		tcp_trio(&tcp);

	/* eventfd, epoll, inotify */
	efd = eventfd(RICH_EVENTFD_VALUE - 2, 0);
	one = 2;
	if (efd < 0 || write(efd, &one, sizeof(one)) != sizeof(one))
		die("eventfd");
	epfd = epoll_create1(0);
	if (epfd < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.u64 = (uint64_t)efd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev))
		die("epoll_ctl eventfd");
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u64 = (uint64_t)pipefd[0];
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, pipefd[0], &ev))
		die("epoll_ctl pipe");
	ifd = inotify_init1(IN_NONBLOCK);
	if (ifd < 0)
		die("inotify_init1");
	wd = inotify_add_watch(ifd, dir, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO);
	if (wd < 0)
		die("inotify_add_watch");

	/* memfd, written and mapped shared */
	memfd = memfd_create("ckpt-rich-memfd", 0);
	if (memfd < 0 || ftruncate(memfd, RICH_MEMFD_BYTES))
		die("memfd_create");
	memfd_map = mmap(NULL, RICH_MEMFD_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (memfd_map == MAP_FAILED)
		die("mmap memfd");
	fill(memfd_map, RICH_MEMFD_BYTES, PAT_MEMFD);

	/* shared anonymous memory */
	anon_shared = mmap(NULL, RICH_ANON_SHARED_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (anon_shared == MAP_FAILED)
		die("mmap shared anonymous");
	fill(anon_shared, RICH_ANON_SHARED_BYTES, PAT_ANON_SHARED);

	/* a private mapping of a file; page 0 stays the file's, page 1 is copied on write */
	snprintf(path, sizeof(path), "%s/mapped.dat", dir);
	file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (file_fd < 0)
		die(path);
	{
		char buf[RICH_FILE_BYTES];

		fill(buf, sizeof(buf), PAT_FILE);
		write_all(file_fd, buf, sizeof(buf), "write mapped.dat");
	}
	file_map = mmap(NULL, RICH_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE, file_fd, 0);
	if (file_map == MAP_FAILED)
		die("mmap mapped.dat");
	close(file_fd);
	fill(file_map + PAGE, PAGE, PAT_FILE_DIRTY);

	/* two counting threads */
	for (int i = 0; i < 2; i++)
		if (pthread_create(&threads[i].handle, NULL, thread_main, &threads[i]))
			die("pthread_create");

	/* memory at known places */
	snprintf(marker_text, sizeof(marker_text), "CKPT-RICH-MARKER-%d", (int)getpid());
	marker = malloc(4096);
	if (!marker)
		die("malloc");
	memset(marker, 0, 4096);
	strcpy(marker, marker_text);
	fixed = mmap((void *)RICH_FIXED_ADDR, RICH_FIXED_BYTES, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (fixed == MAP_FAILED || fixed != (void *)RICH_FIXED_ADDR)
		die("mmap at the fixed address");
	fill(fixed, RICH_FIXED_BYTES, PAT_FIXED);

	/* wait for the child's bytes in the pipe and for the threads' ids */
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			die("poll");
	for (int i = 0; i < 2; i++)
		while (!atomic_load(&threads[i].tid))
			tick();

	rec_fd = open_record(dir, "state");

	/* DIR/info, written once before the first record */
	{
		struct fd_table root_fds = { .n = 0 }, child_fds = { .n = 0 };
		char tmp[4200];

		for (int fd = 0; fd < 3; fd++) {
			fd_add(&root_fds, fd, "reg", "/dev/null");
			fd_add(&child_fds, fd, "reg", "/dev/null");
		}
		fd_add(&root_fds, pipefd[0], "pipe", "read end; the child holds the write end");
		fd_add(&root_fds, unixsk[0], "unix", "stream socketpair end; the child holds the peer");
		if (with_tcp) {
			fd_add(&root_fds, tcp.listen_fd, "tcp-listen", "listening on 127.0.0.1");
			fd_add(&root_fds, tcp.client_fd, "tcp-client", "connected to the listener");
			fd_add(&root_fds, tcp.server_fd, "tcp-server", "accepted from the listener");
		}
		fd_add(&root_fds, efd, "eventfd", "counter value in eventfd_value");
		fd_add(&root_fds, epfd, "epoll", "watches the eventfd and the pipe read end");
		fd_add(&root_fds, ifd, "inotify", "watches DIR");
		fd_add(&root_fds, memfd, "memfd", "memfd:ckpt-rich-memfd, mapped shared");
		fd_add(&root_fds, rec_fd, "reg", "DIR/state");
		fd_add(&child_fds, pipefd[1], "pipe", "write end");
		fd_add(&child_fds, unixsk[1], "unix", "stream socketpair end, unread bytes queued");
		fd_add(&child_fds, CHILD_RECORD_FD, "reg", "DIR/child");

		snprintf(path, sizeof(path), "%s/info", dir);
		snprintf(tmp, sizeof(tmp), "%s/.info.tmp", dir);
		f = fopen(tmp, "we");
		if (!f)
			die(tmp);
		fprintf(f, "{\n");
		fprintf(f, "  \"root\": %d,\n  \"child\": %d,\n", (int)getpid(), (int)child);
		fprintf(f, "  \"threads\": [%d, %d],\n", atomic_load(&threads[0].tid), atomic_load(&threads[1].tid));
		fprintf(f, "  \"hostname\": \"%s\",\n", RICH_HOSTNAME);
		fprintf(f, "  \"marker\": {\"text\": \"%s\", \"addr\": \"0x%lx\"},\n", marker_text,
			(unsigned long)marker);
		fprintf(f, "  \"fixed\": {\"addr\": \"0x%lx\", \"size\": %d, \"pattern\": \"%s\"},\n",
			RICH_FIXED_ADDR, RICH_FIXED_BYTES, PAT_FIXED);
		fprintf(f, "  \"shm\": {\"key\": %d, \"id\": %d, \"addr\": \"0x%lx\", \"size\": %d, \"pattern\": \"%s\"},\n",
			RICH_SHM_KEY, shmid, (unsigned long)shm, RICH_SHM_BYTES, PAT_SHM);
		fprintf(f, "  \"memfd\": {\"name\": \"ckpt-rich-memfd\", \"addr\": \"0x%lx\", \"size\": %d, \"pattern\": \"%s\"},\n",
			(unsigned long)memfd_map, RICH_MEMFD_BYTES, PAT_MEMFD);
		fprintf(f, "  \"anon_shared\": {\"addr\": \"0x%lx\", \"size\": %d, \"pattern\": \"%s\"},\n",
			(unsigned long)anon_shared, RICH_ANON_SHARED_BYTES, PAT_ANON_SHARED);
		fprintf(f, "  \"mapped_file\": {\"path\": \"%s/mapped.dat\", \"addr\": \"0x%lx\", \"size\": %d, "
			"\"pattern\": \"%s\", \"dirty_page\": 1, \"dirty_pattern\": \"%s\"},\n",
			dir, (unsigned long)file_map, RICH_FILE_BYTES, PAT_FILE, PAT_FILE_DIRTY);
		fprintf(f, "  \"tcp\": %s,\n  \"tcp_port\": %d,\n", with_tcp ? "true" : "false", tcp.port);
		fprintf(f, "  \"eventfd_value\": %d,\n", RICH_EVENTFD_VALUE);
		fprintf(f, "  \"inotify_wd\": %d,\n", wd);
		fprintf(f, "  \"messages\": {\"pipe\": \"%s\", \"unix\": \"%s\", \"tcp_c2s\": \"%s\", \"tcp_s2c\": \"%s\"},\n",
			MSG_PIPE, MSG_UNIX, MSG_TCP_C2S, MSG_TCP_S2C);
		fprintf(f, "  \"fds\": {\n    \"root\": ");
		write_fds(f, &root_fds);
		fprintf(f, ",\n    \"child\": ");
		write_fds(f, &child_fds);
		fprintf(f, "\n  }\n}\n");
		if (fclose(f) || rename(tmp, path))
			die(path);
	}

	/* the events of creating the files above: CRIU would drop them with a warning */
	{
		char buf[4096];

		while (read(ifd, buf, sizeof(buf)) > 0)
			;
	}

	for (long count = 1;; count++) {
		long rec[3] = { count, atomic_load(&threads[0].count), atomic_load(&threads[1].count) };

		publish(rec_fd, rec, 3);
		tick();
	}
}
