/* SPDX-License-Identifier: MIT */
/* The tests' way into the service: requests through handle_request, answers decoded. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "channel.h"
#include "children.h"
#include "config.h"
#include "criu.h"
#include "fileio.h"
#include "manifest.h"
#include "ops.h"
#include "proc.h"
#include "program.h"
#include "util.h"
#include "check.h"
#include "procs.h"
#include "service.h"

void out_reset(void)
{
	CHECK(ftruncate(g_out_fd, 0) == 0 && lseek(g_out_fd, 0, SEEK_SET) == 0);
}

/* The frames written to g_out_fd since out_reset, decoded (at most max). */
size_t out_frames(HelperMessage **v, size_t max)
{
	off_t size = lseek(g_out_fd, 0, SEEK_CUR);
	uint8_t *buf = malloc(size > 0 ? size : 1);
	size_t got = 0, off = 0, n = 0;

	while (buf && got < (size_t)size) {
		ssize_t r = pread(g_out_fd, buf + got, size - got, got);

		if (r <= 0)
			break;
		got += r;
	}
	CHECK(buf && got == (size_t)size);
	while (buf && n < max && off + 4 <= got) {
		uint32_t len = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;

		if (len > got - off - 4)
			break;
		v[n] = checkpoint__helper__v1__helper_message__unpack(NULL, len, buf + off + 4);
		if (!v[n])
			break;
		n++;
		off += 4 + len;
	}
	CHECK(off == got);	/* whole frames only, all of them decoded */
	free(buf);
	return n;
}

void msg_free(HelperMessage *m)
{
	if (m)
		checkpoint__helper__v1__helper_message__free_unpacked(m, NULL);
}

/*
 * Runs req through the dispatch; returns the answer, the last frame written,
 * decoded. *nevents gets how many events came before it.
 */
HelperMessage *roundtrip_events(Request *req, size_t *nevents)
{
	HelperMessage *v[64], *m = NULL;
	size_t n;

	out_reset();
	handle_request(req);
	n = out_frames(v, ARRAY_SIZE(v));
	CHECK(n > 0);
	for (size_t i = 0; i + 1 < n; i++) {
		CHECK(v[i]->kind_case == CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_EVENT &&
		      v[i]->event->request_id == req->id);
		msg_free(v[i]);
	}
	if (n)
		m = v[n - 1];
	CHECK(m && m->kind_case == CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_RESPONSE &&
	      m->response->id == req->id);
	*nevents = n ? n - 1 : 0;
	return m;
}

/* Runs req through the dispatch; returns the one frame it wrote, decoded. */
HelperMessage *roundtrip(Request *req)
{
	size_t nevents;
	HelperMessage *m = roundtrip_events(req, &nevents);

	CHECK(nevents == 0);
	return m;
}

/* The answer's error code, or -1 when it is not an error. */
int err_code(const HelperMessage *m)
{
	if (!m || !m->response || m->response->result_case != CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR)
		return -1;
	return m->response->error->code;
}

bool err_mentions(const HelperMessage *m, const char *s)
{
	return err_code(m) >= 0 && m->response->error->message && strstr(m->response->error->message, s);
}

/* Open descriptors of this process (the one reading /proc/self/fd included). */
int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Runs fn with the helper's output going to a temporary file; checks that
 * every path fn takes, failing ones included, closed what it opened.
 */
void with_out_file(void (*fn)(void))
{
	char tmp[] = "/tmp/ckpt-out-XXXXXX";
	int saved = g_out_fd, fds;

	g_out_fd = mkstemp(tmp);
	CHECK(g_out_fd >= 0);
	if (g_out_fd < 0) {
		g_out_fd = saved;
		return;
	}
	unlink(tmp);
	fds = count_fds();
	fn();
	CHECK(fds > 0 && count_fds() == fds);
	close(g_out_fd);
	g_out_fd = saved;
}

/* No child of this process is left unreaped. */
bool no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

void stderr_quiet(bool quiet)
{
	static int saved = -1;
	int null;

	if (quiet && saved < 0) {
		saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(null, 2);
		close(null);
	} else if (!quiet && saved >= 0) {
		dup2(saved, 2);
		close(saved);
		saved = -1;
	}
}

/* ---- shared by the tests of the service, the engines and the processes ---- */

HelperMessage *ask(uint32_t id, int op_case, void *op, size_t *nevents)
{
	Request req = CHECKPOINT__HELPER__V1__REQUEST__INIT;

	req.id = id;
	req.op_case = op_case;
	req.hello = op;		/* one pointer for every case of the oneof */
	return nevents ? roundtrip_events(&req, nevents) : roundtrip(&req);
}

const Response *answer_of(const HelperMessage *m, int result_case)
{
	if (!m || m->kind_case != CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_RESPONSE || !m->response ||
	    (int)m->response->result_case != result_case)
		return NULL;
	return m->response;
}

static const char *event_words(const Event *ev)
{
	static const char *const states[] = { "UNSPECIFIED", "RUNNING", "FROZEN", "CHECKPOINTING", "RESTORING",
					      "GONE" };

	switch (ev->kind_case) {
	case CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRESS:
		return ev->progress->stage;
	case CHECKPOINT__HELPER__V1__EVENT__KIND_TREE_STATE:
		return arena_printf("%s %d", (size_t)ev->tree_state->state < ARRAY_SIZE(states)
				    ? states[ev->tree_state->state] : "?", ev->tree_state->root_pid);
	case CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_OUTPUT:
		return "output";
	case CHECKPOINT__HELPER__V1__EVENT__KIND_PROGRAM_EXIT:
		return arena_printf("exit %d", ev->program_exit->root_pid);
	case CHECKPOINT__HELPER__V1__EVENT__KIND_GDB_OUTPUT:
		return "gdb output";
	case CHECKPOINT__HELPER__V1__EVENT__KIND_GDB_EXIT:
		return arena_printf("gdb exit %u", ev->gdb_exit->gdb_id);
	default:
		return "?";
	}
}

const char *events_told(void)
{
	HelperMessage *v[256];
	size_t n = out_frames(v, ARRAY_SIZE(v));
	const char *s = "";

	for (size_t i = 0; i < n; i++) {
		if (v[i]->kind_case == CHECKPOINT__HELPER__V1__HELPER_MESSAGE__KIND_EVENT)
			s = arena_printf("%s%s, ", s, event_words(v[i]->event));
		msg_free(v[i]);
	}
	return s;
}

static void fork_grandchild(void *arg, int report)
{
	pid_t g = fork();

	(void)arg;
	if (g == 0)
		for (;;)
			pause();
	report_int(report, g);
}

pid_t spawn_family(pid_t *grandchild)
{
	int report;
	pid_t child = spawn(fork_grandchild, NULL, NEW_GROUP, &report);

	*grandchild = -1;
	if (child < 0)
		return -1;
	*grandchild = read_int(report);
	close(report);
	if (*grandchild > 0)
		return child;
	reap(child);
	return -1;
}

bool pipe_pair_start(struct pipe_pair *pp, int policy)
{
	struct stat st;
	int p[2];

	memset(pp, 0, sizeof(*pp));
	pp->tree = pp->outside = -1;
	checkpoint__helper__v1__leak_rule__init(&pp->rule);
	pp->rule.kind = LK(PIPE);
	pp->rule.resource = pp->resource;
	pp->rule.policy = policy;
	pp->rules[0] = &pp->rule;
	if (pipe(p))
		return false;
	if (!fstat(p[0], &st)) {
		snprintf(pp->resource, sizeof(pp->resource), "pipe:[%llu]", (unsigned long long)st.st_ino);
		pp->tree = spawn_call(NULL, NULL, NULL);
		pp->outside = spawn_call(NULL, NULL, NULL);
	}
	close(p[0]);
	close(p[1]);
	if (pp->tree > 0 && pp->outside > 0)
		return true;
	pipe_pair_end(pp);
	return false;
}

void pipe_pair_end(struct pipe_pair *pp)
{
	reap(pp->tree);
	reap(pp->outside);
	pp->tree = pp->outside = -1;
}

const Leak *leak_named(Leak *const *v, size_t n, int kind, const char *resource)
{
	for (size_t i = 0; i < n; i++)
		if ((int)v[i]->kind == kind && !strcmp(v[i]->resource, resource))
			return v[i];
	return NULL;
}

pid_t spawn_exec(const char *path, char *const argv[])
{
	int ready[2], err = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		execv(path, argv);
		err = errno;
		if (write(ready[1], &err, sizeof(err)) != sizeof(err))
			_exit(126);
		_exit(127);
	}
	close(ready[1]);
	/* EOF: the exec closed the pipe */
	if (pid > 0 && read(ready[0], &err, sizeof(err)) != 0) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

pid_t launch_program(char *const argv[], uint32_t id)
{
	static char *const no_env[] = { NULL };
	struct launch_spec s = { .program = argv[0], .argv = argv, .envp = no_env, .cwd = "/" };
	struct herr e = { 0 };
	pid_t pid = -1;

	CHECK_OK(program_launch(&s, id, &pid, &e), &e);
	return pid;
}

size_t programs_pipes(void)
{
	struct pollfd pfd[2 * MAX_PROGRAMS];

	return program_poll_fds(pfd, ARRAY_SIZE(pfd));
}

void programs_read(void)
{
	uint64_t deadline = now_us() + 10 * 1000000ull;

	for (;;) {
		struct pollfd pfd[2 * MAX_PROGRAMS];
		size_t n = program_poll_fds(pfd, ARRAY_SIZE(pfd));

		if (!n || now_us() > deadline)
			break;
		CHECK_INT(poll(pfd, n, 1000), >=, 0);
		program_poll_done(pfd, n);
	}
	CHECK_UINT(programs_pipes(), ==, 0);
}

void programs_reap(const pid_t *pids, size_t n)
{
	uint64_t deadline = now_us() + 10 * 1000000ull;
	size_t left;

	for (;;) {
		reap_children();
		left = 0;
		for (size_t i = 0; i < n; i++)
			left += pid_exists(pids[i]);
		if (!left || now_us() > deadline)
			break;
		sleep_ms(1);
	}
	CHECK_UINT(left, ==, 0);
}

void programs_end(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(-pids[i], SIGKILL);
	programs_reap(pids, n);
	programs_read();
}

bool store_make(char *dir)
{
	if (!mkdtemp(dir))
		return false;
	snprintf(g_cfg.store, sizeof(g_cfg.store), "%s", dir);
	return true;
}

int dir_entries(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

int checkpoint_put(const char *store, const char *id, const Checkpoint *c)
{
	char path[4400];
	struct herr e = { 0 };
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", store, id);
	if (mkdir(path, 0700))
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = manifest_write(fd, c, &e);
	CHECK_OK(ret, &e);
	close(fd);
	return ret;
}

/* ---- a CRIU for the engines' tests ------------------------------------------ */

#define FAKE_CRIU_ENV "CKPT_FAKE_CRIU"
#define FAKE_LOG "(00.000001) Version: 4.1.1\n(00.000002) Error (criu/fake.c:1): fake: nothing was done\n"

static CriuReq *fake_recv(int sk)
{
	uint8_t buf[1 << 16];
	ssize_t n = recv(sk, buf, sizeof(buf), 0);

	return n > 0 ? criu_req__unpack(NULL, n, buf) : NULL;
}

static void fake_send(int sk, const CriuResp *r)
{
	uint8_t buf[1 << 16];
	size_t n = criu_resp__get_packed_size(r);

	if (n > sizeof(buf))
		_exit(3);
	criu_resp__pack(r, buf);
	if (send(sk, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		_exit(3);
}

static void fake_file(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, text, strlen(text)))
		_exit(5);
	close(fd);
}

/* A notification, answered before CRIU goes on (as its notify scripts are). */
static void fake_notify(int sk, const char *script)
{
	CriuResp r = CRIU_RESP__INIT;
	CriuNotify n = CRIU_NOTIFY__INIT;
	CriuReq *ack;

	r.type = CRIU_REQ_TYPE__NOTIFY;
	r.success = true;
	n.script = (char *)script;
	r.notify = &n;
	fake_send(sk, &r);
	ack = fake_recv(sk);
	if (!ack || ack->type != CRIU_REQ_TYPE__NOTIFY || !ack->notify_success)
		_exit(4);
	criu_req__free_unpacked(ack, NULL);
}

/*
 * A restored "tree": one process, a child of the tests (CLONE_PARENT), as
 * CRIU's rst_sibling makes it the helper's; stopped when leave_stopped
 * asks (the fake waits until it is), then waiting for signals.
 */
static pid_t fake_restored(bool leave_stopped)
{
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
	struct proc_stat st = { 0 };

	if (pid < 0)
		_exit(7);
	if (pid == 0) {
		if (leave_stopped)
			raise(SIGSTOP);
		for (;;)
			pause();
	}
	for (int i = 0; leave_stopped && st.state != 'T' && i < 5000; i++) {
		usleep(1000);
		if (read_proc_stat(pid, &st))
			_exit(7);
	}
	return pid;
}


/* The fake CRIU's mode (FAKE_CRIU_ENV): "ok", "ok-ends", "ok-ends-lost", "fail", ... */
static const char *fake_mode = "";
static void fake_action(int sk, const CriuReq *req, bool ok, bool ends, CriuResp *r)
{
	const CriuOpts *o = req->opts;
	static CriuRestoreResp restored = CRIU_RESTORE_RESP__INIT;

	if (!o || !o->log_file)
		_exit(6);
	if (ok && req->type == CRIU_REQ_TYPE__DUMP) {
		fake_notify(sk, "post-dump");
		fake_file(o->images_dir_fd, "pages-1.img", "pages");
		fake_file(o->images_dir_fd, o->log_file, "(00.000001) Version: 4.1.1\n");
		/* mode "ok-ends": the tree ended after its dump, as without leave-running */
		if (ends && o->has_pid)
			kill(o->pid, SIGKILL);
		/* mode "...-lost": CRIU finished (its stats-dump, written last), its answer lost (killed, say) */
		if (strstr(fake_mode, "lost")) {
			fake_file(o->images_dir_fd, "stats-dump", "stats");
			_exit(0);
		}
		r->success = true;
		return;
	}
	if (ok && req->type == CRIU_REQ_TYPE__RESTORE) {
		fake_file(o->work_dir_fd, o->log_file, "(00.000001) Version: 4.1.1\n");
		restored.pid = fake_restored(o->has_leave_stopped && o->leave_stopped);
		if (o->lazy_pages)
			fake_file(o->work_dir_fd, FAKE_LAZY_GO, "");	/* the fake daemon's cue: its client came */
		r->restore = &restored;
		r->success = true;
		return;
	}
	fake_file(req->type == CRIU_REQ_TYPE__DUMP ? o->images_dir_fd : o->work_dir_fd, o->log_file, FAKE_LOG);
}

static void fake_serve(int sk, bool ok, bool ends)
{
	CriuReq *req;

	while ((req = fake_recv(sk))) {
		CriuResp r = CRIU_RESP__INIT;
		CriuVersion v = CRIU_VERSION__INIT;
		CriuFeatures f = CRIU_FEATURES__INIT;

		r.type = req->type;
		r.success = true;
		if (req->type == CRIU_REQ_TYPE__VERSION) {
			v.major_number = 4;
			v.minor_number = 1;
			v.has_sublevel = true;
			v.sublevel = 1;
			r.version = &v;
		} else if (req->type == CRIU_REQ_TYPE__FEATURE_CHECK) {
			r.features = &f;
		} else {
			r.success = false;
			fake_action(sk, req, ok, ends, &r);
		}
		fake_send(sk, &r);
		criu_req__free_unpacked(req, NULL);
	}
}

/*
 * "criu lazy-pages --images-dir D --work-dir W --log-file L --status-fd 4":
 * mode "...lazy-early" fails before it listens; else it says it listens
 * (a byte on fd 4), waits for its cue (W/FAKE_LAZY_GO, from the fake
 * restore or the test), and ends with 0, or 1 in mode "...lazy-fails".
 */
static void __attribute__((noreturn)) fake_lazy_pages(const char *mode, char **argv, int argc)
{
	const char *work = argc >= 6 ? argv[5] : ".", *log = argc >= 8 ? argv[7] : "lazy.log";
	int dir = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char c = 0;

	if (dir < 0 || argc != 10 || strcmp(argv[8], "--status-fd"))
		_exit(9);
	if (strstr(mode, "lazy-early")) {
		fake_file(dir, log, "(00.000001) Version: 4.1.1\n(00.000002) Error (criu/uffd.c:1): fake: cannot listen\n");
		_exit(1);
	}
	fake_file(dir, log, "(00.000001) Version: 4.1.1\n");
	if (write(atoi(argv[9]), &c, 1) != 1)
		_exit(9);
	close(atoi(argv[9]));
	for (int i = 0; i < 10000 && faccessat(dir, FAKE_LAZY_GO, F_OK, 0); i++)
		usleep(1000);
	if (strstr(mode, "lazy-fails")) {
		fake_file(dir, log, "(00.000001) Version: 4.1.1\n(00.000003) Error (criu/uffd.c:2): fake: uffd copy failed\n");
		_exit(1);
	}
	_exit(0);
}

/* This program started as "criu ..." with FAKE_CRIU_ENV set: the fake CRIU, never the tests. */
__attribute__((constructor)) static void fake_criu_main(void)
{
	const char *mode = getenv(FAKE_CRIU_ENV);
	char *args = NULL;
	size_t len = 0;

	if (!mode || read_file("/proc/self/cmdline", &args, &len, 4096))
		return;
	if (strcmp(args, "criu")) {
		free(args);
		return;
	}
	fake_mode = mode;
	/* "criu\0swrk\0FD\0"; anything else ("check --feature") finds nothing */
	if (len > 10 && !strcmp(args + 5, "swrk")) {
		fake_serve(atoi(args + 10), !strncmp(mode, "ok", 2), strstr(mode, "ends") != NULL);
		_exit(0);
	}
	if (len > 16 && !strcmp(args + 5, "lazy-pages")) {
		char *argv[16];
		int argc = 0;

		for (size_t off = 0; off < len && argc < 16; off += strlen(args + off) + 1)
			argv[argc++] = args + off;
		fake_lazy_pages(mode, argv, argc);
	}
	_exit(1);
}

struct criu_info criu_at(const char *path)
{
	struct criu_info ci = { .probed = true, .major = 4, .minor = 1, .sublevel = 1 };

	snprintf(ci.path, sizeof(ci.path), "%s", path ? path : "");
	snprintf(ci.version, sizeof(ci.version), "4.1.1");
	return ci;
}

const char *fake_criu(const char *mode)
{
	static char self[4096];
	ssize_t n;

	unsetenv(FAKE_CRIU_ENV);
	if (!mode)
		return NULL;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	setenv(FAKE_CRIU_ENV, mode, 1);
	return self;
}

LeakRule **namespaces_warned(size_t *n)
{
	static const int kinds[] = { LK(UTS_NS), LK(IPC_NS), LK(NET_NS), LK(MNT_NS), LK(PID_NS), LK(USER_NS),
				     LK(CGROUP_NS), LK(TIME_NS) };
	LeakRule **v = arena_alloc(ARRAY_SIZE(kinds) * sizeof(*v));

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		v[i] = arena_alloc(sizeof(*v[i]));
		checkpoint__helper__v1__leak_rule__init(v[i]);
		v[i]->kind = kinds[i];
		v[i]->policy = LP(WARN);
	}
	*n = ARRAY_SIZE(kinds);
	return v;
}

const char *put_file(const char *dir, const char *name, mode_t mode, const char *text)
{
	const char *path = arena_printf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	CHECK_INT(fd, >=, 0);
	CHECK_INT(write(fd, text, strlen(text)), ==, strlen(text));
	close(fd);
	return path;
}
