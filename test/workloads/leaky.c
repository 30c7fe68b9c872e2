/*
 * Trees that leak on purpose: each mode shares one kind of resource between
 * the tree the tests checkpoint and a process outside it. Run as root on the
 * target, started like every workload (setsid, clean stdio, a fresh DIR):
 *
 *   leaky MODE DIR [ARG]
 *
 * The started process P sets up what the mode needs, then forks the tree's
 * root R, which calls setsid() (its own session and process group: only the
 * leak under test crosses the tree's border) and counts. P stays outside the
 * tree and plays the outside holder; it ignores SIGCHLD, so a root the
 * tests kill (restore --kill-running) never lingers as a zombie holding its
 * pid. R publishes DIR/state "R count ..." and P publishes DIR/outside
 * "P ..." (records as in record.h); each mode says what the numbers are.
 *
 *   pipe DIR          R writes its count (8 bytes) into a pipe P reads.
 *                     state: count write-errors; outside: received last
 *   fifo DIR          R writes its count into the named pipe DIR/fifo, which
 *                     P opened too and reads.
 *                     state: count write-errors; outside: received last
 *   fifo-alone DIR MIB  R holds DIR/fifo open (read and write) and MIB MiB of
 *                     touched memory (a longer dump); nobody else opens it.
 *                     state: count; outside: (P only waits)
 *   unix-stream DIR   a socketpair(SOCK_STREAM): R sends, P receives.
 *   unix-dgram DIR    a socketpair(SOCK_DGRAM): R sends, P receives.
 *   unix-named DIR    P binds a datagram socket to DIR/outside.sock; R
 *                     connects an unbound datagram socket to it and sends.
 *                     (the three) state: count send-errors; outside: received last
 *   tcp DIR PORT      P listens on 127.0.0.1:PORT; R connects and sends; P
 *                     accepts and receives.
 *                     state: count send-errors; outside: received last
 *   pty DIR           P opens a pty master; R makes the slave its controlling
 *                     terminal and stdin/stdout/stderr, and prints its count
 *                     there; P reads the master.
 *                     state: count write-errors; outside: bytes-received
 *   shm DIR           P creates and attaches a SysV shm segment; R inherits
 *                     the attachment and writes its count into it.
 *                     state: count; outside: shmid value-seen
 *   mapped DIR        P and R both map DIR/shared.dat MAP_SHARED: P writes its
 *                     count at offset 0, R its own at offset 8.
 *                     state: count seen-from-P; outside: count seen-from-R
 *   shared-anon DIR   the same through MAP_SHARED|MAP_ANONYMOUS memory P
 *                     mapped before the fork.
 *                     state: count seen-from-P; outside: count seen-from-R
 *   flock DIR         R holds flock(LOCK_EX) on DIR/lock.
 *   posix-lock DIR    R holds a POSIX write lock (F_SETLK) on all of DIR/lock.
 *                     (both) state: count
 *   uts DIR           R moves into a UTS namespace of its own (hostname
 *                     "leaky-uts"); P holds nothing of it.
 *   net DIR           R moves into a network namespace of its own (with
 *                     only a loopback device, down); P holds nothing of it.
 *                     (both) state: count
 *   memfd DIR         P creates a memfd before the fork; each writes its
 *                     count into it (P at offset 0, R at 8) and reads the
 *                     other's. state: count seen-from-P; outside: count
 *                     seen-from-R
 *   deleted DIR       R opens DIR/ghost, deletes it, and writes its count
 *                     into it. state: count
 *   listen DIR PORT   R listens on 127.0.0.1:PORT and answers each
 *                     connection with its count; P holds nothing of it.
 *                     state: count accepted
 *   udp DIR PORT      R binds a UDP socket to 127.0.0.1:PORT; P sends it
 *                     its count every tick. state: count last-received
 *
 * Outside helpers the tests start on their own (each its own tree):
 *
 *   leaky join PID NS DIR     joins namespace NS (uts, ipc, net, ...) of PID
 *                             (setns) and counts: DIR/joined "pid count".
 *   leaky watch PID PATH DIR  polls /proc/PID/status every 100 us until PID
 *                             is ptraced (TracerPid: CRIU seized the tree
 *                             for a dump), then opens PATH (a FIFO: read-only,
 *                             non-blocking) and holds it: DIR/watch "pid 1".
 *   leaky tree N DIR          a tree of N processes (this one and N-1
 *                             children, each holding a pipe to the root):
 *                             DIR/state "pid children-up".
 *   leaky idle N DIR          this one and N-1 idle children (processes for
 *                             a busier host): DIR/state "pid children-up".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "record.h"

#define MAX_EXTRA 4

static const char *dir;

/* ---- the tree's root: count, do the mode's part each tick, publish ------- */

/* Fills extra (at most MAX_EXTRA) and returns how many. */
typedef int (*root_step)(long count, long *extra);

static void root_loop(root_step step)
{
	int fd = open_record(dir, "state");
	long rec[1 + MAX_EXTRA];

	for (long count = 1;; count++) {
		int n = 0;

		rec[0] = count;
		if (step)
			n = step(count, rec + 1);
		publish(fd, rec, 1 + n);
		tick();
	}
}

/*
 * Forks the tree's root: returns 0 in the root (now leading its own session
 * and group), the root's pid in P.
 */
static pid_t fork_root(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (setsid() < 0)
			die("setsid");
		return 0;
	}
	signal(SIGCHLD, SIG_IGN);
	return pid;
}

static void outside_idle(void)
{
	for (;;)
		pause();
}

/* P's loop: receive 8-byte counts on fd (a read that returns 0: no writer
 * for now, e.g. between a kill and a restore; try again) and publish. */
static void outside_receive(int fd, int is_socket)
{
	int rec_fd = open_record(dir, "outside");
	long rec[2] = { 0, 0 };

	for (;;) {
		long v;
		ssize_t n = is_socket ? recv(fd, &v, sizeof(v), 0) : read(fd, &v, sizeof(v));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			die("receive");
		if (n == (ssize_t)sizeof(v)) {
			rec[0]++;
			rec[1] = v;
			publish(rec_fd, rec, 2);
		} else {
			tick();
		}
	}
}

/* ---- modes ----------------------------------------------------------------- */

static int out_fd = -1;		/* the root's end: pipe, fifo, socket */
static long send_errors;

static int send_count(long count, long *extra)
{
	ssize_t n = send(out_fd, &count, sizeof(count), MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n != (ssize_t)sizeof(count))
		send_errors++;
	extra[0] = send_errors;
	return 1;
}

static int write_count(long count, long *extra)
{
	ssize_t n = write(out_fd, &count, sizeof(count));

	if (n != (ssize_t)sizeof(count))
		send_errors++;
	extra[0] = send_errors;
	return 1;
}

static void mode_pipe(void)
{
	int p[2];

	if (pipe(p))
		die("pipe");
	if (fork_root() == 0) {
		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		out_fd = p[1];
		root_loop(write_count);
	}
	close(p[1]);
	outside_receive(p[0], 0);
}

static void make_fifo(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, name);
	if (mkfifo(path, 0600) && errno != EEXIST)
		die("mkfifo");
}

static void mode_fifo(void)
{
	char path[4096];
	int fd;

	make_fifo("fifo", path, sizeof(path));
	if (fork_root() == 0) {
		signal(SIGPIPE, SIG_IGN);
		/* read and write: the open never waits for the other side */
		out_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (out_fd < 0)
			die(path);
		root_loop(write_count);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	outside_receive(fd, 0);
}

static void hold_memory(long mib)
{
	size_t len = (size_t)mib << 20;
	unsigned long *mem;

	if (mib <= 0)
		return;
	mem = malloc(len);
	if (!mem)
		die("malloc");
	for (size_t i = 0; i < len / sizeof(*mem); i++)
		mem[i] = i * 2654435761UL;
}

static void mode_fifo_alone(long mib)
{
	char path[4096];

	make_fifo("fifo", path, sizeof(path));
	if (fork_root() == 0) {
		out_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (out_fd < 0)
			die(path);
		hold_memory(mib);
		root_loop(NULL);
	}
	outside_idle();
}

static void mode_socketpair(int type)
{
	int sv[2];

	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	if (fork_root() == 0) {
		close(sv[0]);
		out_fd = sv[1];
		root_loop(send_count);
	}
	close(sv[1]);
	outside_receive(sv[0], 1);
}

static void mode_unix_named(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/outside.sock", dir);
	unlink(addr.sun_path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("bind");
	if (fork_root() == 0) {
		close(fd);
		out_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (out_fd < 0 || connect(out_fd, (struct sockaddr *)&addr, sizeof(addr)))
			die("connect");
		root_loop(send_count);
	}
	outside_receive(fd, 1);
}

static void mode_tcp(const char *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int one = 1, conn, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4))
		die("bind");
	if (fork_root() == 0) {
		close(fd);
		out_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (out_fd < 0 || connect(out_fd, (struct sockaddr *)&addr, sizeof(addr)))
			die("connect");
		root_loop(send_count);
	}
	conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		die("accept");
	outside_receive(conn, 1);
}

static int print_count(long count, long *extra)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%ld\n", count);

	if (write(1, line, n) != n)
		send_errors++;
	extra[0] = send_errors;
	return 1;
}

static void mode_pty(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	int rec_fd;
	long received = 0;
	const char *slave;

	if (master < 0 || grantpt(master) || unlockpt(master) || !(slave = ptsname(master)))
		die("pty");
	if (fork_root() == 0) {
		int fd;

		close(master);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		/* a session leader without a terminal: the slave becomes its controlling terminal */
		fd = open(slave, O_RDWR);
		if (fd < 0)
			die(slave);
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			die("dup2");
		if (fd > 2)
			close(fd);
		root_loop(print_count);
	}
	rec_fd = open_record(dir, "outside");
	for (;;) {
		char buf[512];
		ssize_t n = read(master, buf, sizeof(buf));

		if (n > 0) {
			received += n;
			publish(rec_fd, &received, 1);
		} else if (n < 0 && errno != EINTR && errno != EIO && errno != EAGAIN) {
			die("read pty master");
		} else {
			tick();	/* EIO: no slave open, e.g. between a kill and a restore */
		}
	}
}

static volatile long *shared_words;

static int share_count(long count, long *extra)
{
	shared_words[1] = count;
	extra[0] = shared_words[0];
	return 1;
}

static void outside_share(void)
{
	int fd = open_record(dir, "outside");
	long rec[2];

	for (long count = 1;; count++) {
		shared_words[0] = count;
		rec[0] = count;
		rec[1] = shared_words[1];
		publish(fd, rec, 2);
		tick();
	}
}

static void mode_shm(void)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	int fd;
	long rec[2];

	if (id < 0 || (shared_words = shmat(id, NULL, 0)) == (void *)-1)
		die("shm");
	if (fork_root() == 0)
		root_loop(share_count);
	fd = open_record(dir, "outside");
	rec[0] = id;
	for (;;) {
		rec[1] = shared_words[1];
		publish(fd, rec, 2);
		tick();
	}
}

static volatile long *map_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	void *p;

	if (fd < 0 || ftruncate(fd, 4096))
		die(path);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	close(fd);
	return p;
}

static void mode_mapped(void)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/shared.dat", dir);
	if (fork_root() == 0) {
		shared_words = map_file(path);
		root_loop(share_count);
	}
	shared_words = map_file(path);
	outside_share();
}

static void mode_shared_anon(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	shared_words = p;
	if (fork_root() == 0)
		root_loop(share_count);
	outside_share();
}

static void mode_lock(int posix)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/lock", dir);
	if (fork_root() == 0) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		if (fd < 0)
			die(path);
		if (posix ? fcntl(fd, F_SETLK, &fl) : flock(fd, LOCK_EX | LOCK_NB))
			die("lock");
		root_loop(NULL);
	}
	outside_idle();
}

static void mode_uts(void)
{
	if (fork_root() == 0) {
		if (unshare(CLONE_NEWUTS) || sethostname("leaky-uts", 9))
			die("unshare uts");
		root_loop(NULL);
	}
	outside_idle();
}

static int memfd = -1;

/* What R writes at offset 8, what P writes at 0: each reads the other's. */
static int memfd_count(long count, long *extra)
{
	if (pwrite(memfd, &count, sizeof(count), 8) != (ssize_t)sizeof(count) ||
	    pread(memfd, &extra[0], sizeof(extra[0]), 0) != (ssize_t)sizeof(extra[0]))
		die("memfd");
	return 1;
}

static void mode_memfd(void)
{
	int fd;
	long rec[2];

	memfd = memfd_create("leaky-memfd", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, 4096))
		die("memfd_create");
	if (fork_root() == 0)
		root_loop(memfd_count);
	fd = open_record(dir, "outside");
	for (long count = 1;; count++) {
		rec[0] = count;
		if (pwrite(memfd, &count, sizeof(count), 0) != (ssize_t)sizeof(count) ||
		    pread(memfd, &rec[1], sizeof(rec[1]), 8) != (ssize_t)sizeof(rec[1]))
			die("memfd");
		publish(fd, rec, 2);
		tick();
	}
}

static int ghost = -1;

static int ghost_count(long count, long *extra)
{
	(void)extra;
	if (pwrite(ghost, &count, sizeof(count), 0) != (ssize_t)sizeof(count))
		die("ghost");
	return 0;
}

static void mode_deleted(void)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/ghost", dir);
	if (fork_root() == 0) {
		ghost = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (ghost < 0 || unlink(path))
			die(path);
		root_loop(ghost_count);
	}
	outside_idle();
}

static int listener = -1;
static long accepted;

/* Each tick: a waiting connection gets the count, and is closed. */
static int answer_count(long count, long *extra)
{
	int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (c >= 0) {
		accepted++;
		if (send(c, &count, sizeof(count), MSG_NOSIGNAL) != (ssize_t)sizeof(count))
			accepted--;
		close(c);
	}
	extra[0] = accepted;
	return 1;
}

static void mode_listen(const char *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int one = 1;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fork_root() == 0) {
		listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 16))
			die("listen");
		root_loop(answer_count);
	}
	outside_idle();
}

static int udp = -1;

/* Takes what datagrams came since the last tick: the last count P sent. */
static int udp_receive(long count, long *extra)
{
	long v;

	(void)count;
	while (recv(udp, &v, sizeof(v), MSG_DONTWAIT) == (ssize_t)sizeof(v))
		extra[0] = v;
	return 1;
}

static void mode_udp(const char *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int fd;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fork_root() == 0) {
		udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (udp < 0 || bind(udp, (struct sockaddr *)&addr, sizeof(addr)))
			die("bind udp");
		root_loop(udp_receive);
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	for (long count = 1;; count++) {
		/* before R binds, and while it is frozen or gone, datagrams are refused or lost: as UDP goes */
		sendto(fd, &count, sizeof(count), MSG_DONTWAIT, (struct sockaddr *)&addr, sizeof(addr));
		tick();
	}
}

static void mode_net(void)
{
	if (fork_root() == 0) {
		if (unshare(CLONE_NEWNET))
			die("unshare net");
		root_loop(NULL);
	}
	outside_idle();
}

/* ---- outside helpers ---------------------------------------------------------- */

static void join(const char *pid, const char *ns)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, 0))
		die(path);
	close(fd);
	fd = open_record(dir, "joined");
	for (long count = 1;; count++) {
		publish(fd, &count, 1);
		tick();
	}
}

static int traced(const char *pid)
{
	char path[64], buf[4096], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nTracerPid:");
	return p && atoi(p + 11) != 0;
}

static void watch(const char *pid, const char *path)
{
	struct timespec ts = { 0, 100 * 1000 };
	long one = 1;
	int fd;

	while (!traced(pid))
		nanosleep(&ts, NULL);
	if (open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) < 0)
		die(path);
	fd = open_record(dir, "watch");
	publish(fd, &one, 1);
	outside_idle();
}

/* A root and n-1 children; with pipes, each child holds a pipe to the root. */
static void fan_out(long n, int pipes)
{
	int fd = open_record(dir, "state");
	long up = 0;

	if (n < 1 || n > 100000)
		die("process count out of range");
	signal(SIGCHLD, SIG_IGN);
	for (long i = 1; i < n; i++) {
		int p[2] = { -1, -1 };
		pid_t pid;

		if (pipes && pipe(p))
			die("pipe");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			/* only stdio and its own pipe end (none of the root's or siblings') */
			if (pipes) {
				if (p[1] != 3 && dup2(p[1], 3) < 0)
					die("dup2");
				close_range(4, ~0U, 0);
			} else {
				close_range(3, ~0U, 0);
			}
			outside_idle();
		}
		if (pipes)
			close(p[1]);
		up++;
	}
	for (;;) {
		publish(fd, &up, 1);
		sleep(1);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	dir = argc > 2 ? argv[2] : ".";
	if (!strcmp(mode, "pipe") && argc == 3)
		mode_pipe();
	else if (!strcmp(mode, "fifo") && argc == 3)
		mode_fifo();
	else if (!strcmp(mode, "fifo-alone") && argc == 4)
		mode_fifo_alone(atol(argv[3]));
	else if (!strcmp(mode, "unix-stream") && argc == 3)
		mode_socketpair(SOCK_STREAM);
	else if (!strcmp(mode, "unix-dgram") && argc == 3)
		mode_socketpair(SOCK_DGRAM);
	else if (!strcmp(mode, "unix-named") && argc == 3)
		mode_unix_named();
	else if (!strcmp(mode, "tcp") && argc == 4)
		mode_tcp(argv[3]);
	else if (!strcmp(mode, "pty") && argc == 3)
		mode_pty();
	else if (!strcmp(mode, "shm") && argc == 3)
		mode_shm();
	else if (!strcmp(mode, "mapped") && argc == 3)
		mode_mapped();
	else if (!strcmp(mode, "shared-anon") && argc == 3)
		mode_shared_anon();
	else if (!strcmp(mode, "flock") && argc == 3)
		mode_lock(0);
	else if (!strcmp(mode, "posix-lock") && argc == 3)
		mode_lock(1);
	else if (!strcmp(mode, "uts") && argc == 3)
		mode_uts();
	else if (!strcmp(mode, "net") && argc == 3)
		mode_net();
	else if (!strcmp(mode, "memfd") && argc == 3)
		mode_memfd();
	else if (!strcmp(mode, "deleted") && argc == 3)
		mode_deleted();
	else if (!strcmp(mode, "listen") && argc == 4)
		mode_listen(argv[3]);
	else if (!strcmp(mode, "udp") && argc == 4)
		mode_udp(argv[3]);
	else if (!strcmp(mode, "join") && argc == 5) {
		dir = argv[4];
		join(argv[2], argv[3]);
	} else if (!strcmp(mode, "watch") && argc == 5) {
		dir = argv[4];
		watch(argv[2], argv[3]);
	} else if (!strcmp(mode, "tree") && argc == 4) {
		dir = argv[3];
		fan_out(atol(argv[2]), 1);
	} else if (!strcmp(mode, "idle") && argc == 4) {
		dir = argv[3];
		fan_out(atol(argv[2]), 0);
	}
	fprintf(stderr, "usage: leaky pipe|fifo|unix-stream|unix-dgram|unix-named|pty|shm|mapped|shared-anon|"
		"flock|posix-lock|uts|net|memfd|deleted DIR | listen|udp DIR PORT | fifo-alone DIR MIB | tcp DIR PORT | join PID NS DIR | "
		"watch PID PATH DIR | tree N DIR | idle N DIR\n");
	return 2;
}
