/* SPDX-License-Identifier: MIT */
/*
 * Tests of ops_process.c through the dispatch: hello, ps, freeze and thaw,
 * launch, kill and leaks; what each refuses, in words, and what each
 * answers of real processes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>

#include "arena.h"
#include "cgroup.h"
#include "channel.h"
#include "children.h"
#include "config.h"
#include "fileio.h"
#include "ops_process.h"
#include "proc.h"
#include "program.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "procs.h"
#include "service.h"


typedef Checkpoint__Helper__V1__PsRequest PsRequest;
typedef Checkpoint__Helper__V1__ThawRequest ThawRequest;
typedef Checkpoint__Helper__V1__KillRequest KillRequest;

#define OP(x) CHECKPOINT__HELPER__V1__REQUEST__OP_##x
#define RESULT(x) CHECKPOINT__HELPER__V1__RESPONSE__RESULT_##x

/* The answer is a BAD_REQUEST error saying words. */
static void check_bad_request(HelperMessage *m, const char *words)
{
	CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
	CHECK_CONTAINS(err_code(m) >= 0 ? m->response->error->message : NULL, words);
	msg_free(m);
}

/*
 * A request about the tree of root: ps, freeze (with timeout_ms), thaw or
 * kill; ps may send no event.
 */
static HelperMessage *ask_root(int op, pid_t root, uint32_t timeout_ms)
{
	PsRequest ps = CHECKPOINT__HELPER__V1__PS_REQUEST__INIT;
	FreezeRequest freeze = CHECKPOINT__HELPER__V1__FREEZE_REQUEST__INIT;
	ThawRequest thaw = CHECKPOINT__HELPER__V1__THAW_REQUEST__INIT;
	KillRequest kill = CHECKPOINT__HELPER__V1__KILL_REQUEST__INIT;
	size_t nevents;

	ps.root_pid = freeze.root_pid = thaw.root_pid = kill.root_pid = root;
	freeze.timeout_ms = timeout_ms;
	switch (op) {
	case OP(FREEZE):
		return ask(4, op, &freeze, &nevents);
	case OP(THAW):
		return ask(5, op, &thaw, &nevents);
	case OP(KILL):
		return ask(52, op, &kill, &nevents);
	default:
		return ask(3, OP(PS), &ps, NULL);
	}
}

#define ask_ps(root) ask_root(OP(PS), root, 0)
#define ask_freeze(root, timeout_ms) ask_root(OP(FREEZE), root, timeout_ms)
#define ask_thaw(root) ask_root(OP(THAW), root, 0)
#define ask_kill(root) ask_root(OP(KILL), root, 0)

/* ---- hello ------------------------------------------------------------- */

/* The effective capabilities, as the kernel tells them (capget). */
static uint64_t effective_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	if (syscall(SYS_capget, &h, d))
		return 0;
	return d[0].effective | (uint64_t)d[1].effective << 32;
}

static bool has_string(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static void check_caps(const HelloResult *h)
{
	static const struct {
		int bit;
		const char *name;
	} named[] = {
		{ CAP_CHOWN, "CAP_CHOWN" }, { CAP_KILL, "CAP_KILL" }, { CAP_SYS_PTRACE, "CAP_SYS_PTRACE" },
		{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" }, { CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE" },
		{ CAP_CHECKPOINT_RESTORE, "CAP_CHECKPOINT_RESTORE" },
	};
	uint64_t eff = effective_caps();

	CHECK_UINT(h->n_capabilities, ==, __builtin_popcountll(eff));
	for (size_t i = 0; i < ARRAY_SIZE(named); i++) {
		test_case("hello's capabilities: %s", named[i].name);
		CHECK_INT(has_string(h->capabilities, h->n_capabilities, named[i].name), ==,
			  !!(eff & (1ull << named[i].bit)));
	}
}

static void test_hello(void)
{
	const HelloResult *h;
	struct utsname u;
	HelperMessage *m;

	g_cfg.criu_path = g_cfg.criu_asked = NULL;
	m = ask(1, OP(HELLO), &(Checkpoint__Helper__V1__HelloRequest)CHECKPOINT__HELPER__V1__HELLO_REQUEST__INIT,
		NULL);
	h = answer_of(m, RESULT(HELLO)) ? m->response->hello : NULL;
	test_case("hello, without CRIU");
	CHECK(h != NULL);
	if (!h)
		goto out;
	CHECK_INT(uname(&u), ==, 0);
	CHECK_STR(h->helper_version, ==, VERSION);
	CHECK_STR(h->kernel_release, ==, u.release);
	CHECK_STR(h->machine, ==, u.machine);
	CHECK_STR(h->hostname, ==, u.nodename);
	CHECK_INT(h->cgroup_layout, ==, cgroup_layout());
	CHECK_UINT(h->euid, ==, geteuid());
	CHECK_UINT(h->helper_pid, ==, getpid());
	CHECK_STR(h->store_dir, ==, g_cfg.store);
	CHECK_STR(h->criu_version, ==, "");
	CHECK_STR(h->criu_path, ==, "");
	CHECK_CONTAINS(h->criu_problem, "CRIU was not found");
	CHECK_STR(h->tcp_problem, ==, "");	/* criu_problem says it all */
	CHECK_STR(h->network_lock, ==, "");
	check_caps(h);
	test_case("hello tells the gdb of the target (its root file system has one)");
	CHECK_CONTAINS(h->gdb_path, "/gdb");
	CHECK(h->gdb_version[0] >= '1' && h->gdb_version[0] <= '9');
	CHECK_STR(h->gdb_problem, ==, "");
out:
	msg_free(m);
}

/* hello asks afresh each time: a --criu that is not CRIU is told, in words. */
static void test_hello_criu(void)
{
	static const struct {
		const char *path, *asked, *problem;
	} cases[] = {
		{ NULL, "/no/such/criu", "the CRIU asked for, /no/such/criu, is not the absolute path of an executable" },
		{ "/bin/false", "/bin/false", "CRIU at /bin/false did not answer a VERSION request" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		Checkpoint__Helper__V1__HelloRequest r = CHECKPOINT__HELPER__V1__HELLO_REQUEST__INIT;
		HelperMessage *m;

		test_case("hello with --criu %s", cases[i].asked);
		g_cfg.criu_path = cases[i].path;
		g_cfg.criu_asked = cases[i].asked;
		m = ask(2, OP(HELLO), &r, NULL);
		CHECK(answer_of(m, RESULT(HELLO)) != NULL);
		if (answer_of(m, RESULT(HELLO))) {
			CHECK_CONTAINS(m->response->hello->criu_problem, cases[i].problem);
			CHECK_STR(m->response->hello->criu_path, ==, cases[i].path ? cases[i].path : "");
			CHECK_STR(m->response->hello->criu_version, ==, "");
		}
		msg_free(m);
	}
	g_cfg.criu_path = g_cfg.criu_asked = NULL;
	config_criu(true);
}

/* hello with a CRIU that answers: its version and path, no problem, and whether TCP can be saved here. */
static void test_hello_usable(void)
{
	Checkpoint__Helper__V1__HelloRequest r = CHECKPOINT__HELPER__V1__HELLO_REQUEST__INIT;
	const HelloResult *h;
	HelperMessage *m;

	test_case("hello with a CRIU that answers");
	g_cfg.criu_path = g_cfg.criu_asked = fake_criu("fail");
	m = ask(3, OP(HELLO), &r, NULL);
	h = answer_of(m, RESULT(HELLO)) ? m->response->hello : NULL;
	CHECK(h != NULL);
	CHECK_STR(h ? h->criu_version : NULL, ==, "4.1.1");
	CHECK_STR(h ? h->criu_path : NULL, ==, g_cfg.criu_path);
	CHECK_STR(h ? h->criu_problem : NULL, ==, "");
	/* TCP connections can be saved, with a network lock, or cannot, and why */
	CHECK_INT(h && h->network_lock[0], !=, h && h->tcp_problem[0]);
	msg_free(m);
	fake_criu(NULL);
	g_cfg.criu_path = g_cfg.criu_asked = NULL;
	config_criu(true);
}

/* ---- ps ------------------------------------------------------------------ */

static const PsResult *ps_of(const HelperMessage *m)
{
	return answer_of(m, RESULT(PS)) ? m->response->ps : NULL;
}

/* What ps tells of pid, against /proc read here. */
static void check_process(const ProcessInfo *pi, pid_t pid, pid_t ppid, pid_t pgid, bool frozen)
{
	struct proc_stat st;
	char *cmdline = NULL;
	struct stat ns;

	CHECK_INT(read_proc_stat(getpid(), &st), ==, 0);
	CHECK_INT(pi->pid, ==, pid);
	CHECK_INT(pi->ppid, ==, ppid);
	CHECK_INT(pi->pgid, ==, pgid);
	CHECK_INT(pi->sid, ==, getsid(0));
	CHECK_UINT(pi->uid, ==, getuid());
	CHECK_STR(pi->comm, ==, "unit-tests");
	CHECK_STR(pi->state, ==, "S");
	CHECK_UINT(pi->tty_nr, ==, st.tty_nr);
	CHECK_UINT(pi->n_threads, ==, 1);
	CHECK_UINT(pi->n_thread_names, ==, 1);
	CHECK_INT(pi->n_threads ? pi->threads[0] : 0, ==, pid);
	CHECK_STR(pi->n_thread_names ? pi->thread_names[0] : NULL, ==, "unit-tests");
	/* a fork of this process: the same command line */
	CHECK_INT(read_file("/proc/self/cmdline", &cmdline, NULL, 1 << 20), ==, 0);
	CHECK_UINT(pi->n_cmdline, >=, 1);
	CHECK_STR(pi->n_cmdline ? pi->cmdline[0] : NULL, ==, cmdline);
	free(cmdline);
	CHECK(pi->namespaces != NULL);
	CHECK_INT(stat(arena_printf("/proc/%d/ns/net", pid), &ns), ==, 0);
	CHECK_UINT(pi->namespaces ? pi->namespaces->net : 0, ==, ns.st_ino);
	CHECK_INT(stat(arena_printf("/proc/%d/ns/mnt", pid), &ns), ==, 0);
	CHECK_UINT(pi->namespaces ? pi->namespaces->mnt : 0, ==, ns.st_ino);
	CHECK_INT(pi->frozen, ==, frozen);
}

/* ps of the family's tree: the child, then the grandchild; frozen or not. */
static void check_ps_tree(pid_t child, pid_t grandchild, bool frozen)
{
	HelperMessage *m = ask_ps(child);
	const PsResult *r = ps_of(m);

	CHECK(r != NULL);
	CHECK_UINT(r ? r->n_processes : 0, ==, 2);
	if (r && r->n_processes == 2) {
		check_process(r->processes[0], child, getpid(), child, frozen);
		check_process(r->processes[1], grandchild, child, child, frozen);
	}
	msg_free(m);
	arena_free_all();
}

static void test_ps(pid_t child, pid_t grandchild)
{
	const pid_t want[] = { 1, getpid(), child, grandchild };
	HelperMessage *m;
	const PsResult *r;
	size_t found = 0;

	test_case("ps of a tree");
	check_ps_tree(child, grandchild, false);
	test_case("ps of every process");
	m = ask_ps(0);
	r = ps_of(m);
	CHECK(r != NULL);
	for (size_t i = 0; r && i < r->n_processes; i++)
		for (size_t k = 0; k < ARRAY_SIZE(want); k++)
			found += r->processes[i]->pid == want[k];
	CHECK_UINT(found, ==, ARRAY_SIZE(want));
	msg_free(m);
	test_case("ps refused");
	check_bad_request(ask_ps(-1), "root_pid must be 0 (all) or a pid, not -1");
	m = ask_ps(NO_PID);
	CHECK_INT(err_code(m), ==, EC(NO_SUCH_PROCESS));
	CHECK(err_mentions(m, "process 4194000 does not exist"));
	msg_free(m);
}

/* ---- freeze / thaw ------------------------------------------------------- */

/* The answer resp holds is a BAD_REQUEST saying words. */
static void check_refused(const Response *resp, const char *words)
{
	CHECK_INT(resp->result_case, ==, CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR);
	if (resp->result_case == CHECKPOINT__HELPER__V1__RESPONSE__RESULT_ERROR) {
		CHECK_INT(resp->error->code, ==, EC(BAD_REQUEST));
		CHECK_CONTAINS(resp->error->message, words);
	}
}

/* The checks alone (as the fuzz targets run them): what they pass, what they refuse, and that they send nothing. */
static void test_request_checks(void)
{
	FreezeRequest fr = CHECKPOINT__HELPER__V1__FREEZE_REQUEST__INIT;
	LaunchRequest lr = CHECKPOINT__HELPER__V1__LAUNCH_REQUEST__INIT;
	LeaksRequest kr = CHECKPOINT__HELPER__V1__LEAKS_REQUEST__INIT;
	Response ok = CHECKPOINT__HELPER__V1__RESPONSE__INIT, bad = CHECKPOINT__HELPER__V1__RESPONSE__INIT;
	int32_t except[] = { 5, 0 };

	out_reset();
	test_case("request checks: freeze");
	fr.root_pid = NO_PID;
	fr.except_pids = except;
	fr.n_except_pids = 1;
	CHECK_INT(freeze_request_check(&fr, &ok), ==, 0);
	fr.n_except_pids = 2;
	CHECK_INT(freeze_request_check(&fr, &bad), ==, -1);
	check_refused(&bad, "except_pids[1] must be a positive pid, not 0");
	test_case("request checks: launch");
	lr.program = "/bin/true";
	CHECK_INT(launch_request_check(&lr, &ok), ==, 0);
	lr.cwd = "tmp";
	CHECK_INT(launch_request_check(&lr, &bad), ==, -1);
	check_refused(&bad, "cwd");
	test_case("request checks: leaks (no process is looked for)");
	kr.root_pid = NO_PID;
	CHECK_INT(leaks_request_check(&kr, &ok), ==, 0);
	kr.root_pid = 1;
	CHECK_INT(leaks_request_check(&kr, &bad), ==, -1);
	check_refused(&bad, "root_pid must be a pid above 1, not 1");
	CHECK_INT(ok.result_case, ==, CHECKPOINT__HELPER__V1__RESPONSE__RESULT__NOT_SET);
	test_case("request checks: nothing sent");
	CHECK_INT(lseek(g_out_fd, 0, SEEK_CUR), ==, 0);
	arena_free_all();
}

static void test_freeze_refused(void)
{
	HelperMessage *m;

	test_case("freeze refused");
	check_bad_request(ask_freeze(0, 0), "root_pid must be a pid above 1");
	check_bad_request(ask_freeze(-7, 0), "not -7");
	test_case("freeze refused: pid 1, this helper, its ancestors (it would freeze itself and never answer)");
	check_bad_request(ask_freeze(1, 0), "1 is the init of the pid namespace: freezing it would take the whole host");
	check_bad_request(ask_freeze(getpid(), 0), "this helper or one of its ancestors");
	check_bad_request(ask_freeze(getppid(), 0), "freezing it would take this helper with it");
	CHECK(frozen_find(getpid()) == NULL && frozen_find(getppid()) == NULL);
	test_case("freeze refused: a timeout too long");
	check_bad_request(ask_freeze(NO_PID, 600001), "timeout_ms 600001 is above 600000");
	m = ask_freeze(NO_PID, 0);
	CHECK_INT(err_code(m), ==, EC(NO_SUCH_PROCESS));
	CHECK(err_mentions(m, "process 4194000 does not exist"));
	msg_free(m);
	test_case("thaw refused");
	check_bad_request(ask_thaw(0), "root_pid must be a positive pid, not 0");
	m = ask_thaw(NO_PID);
	CHECK_INT(err_code(m), ==, EC(NO_SUCH_PROCESS));
	CHECK(err_mentions(m, "process 4194000 does not exist"));
	msg_free(m);
}

static void check_frozen_answer(const HelperMessage *m, pid_t child, pid_t grandchild)
{
	const struct frozen_tree *t = frozen_find(child);
	const FreezeResult *r = answer_of(m, RESULT(FREEZE)) ? m->response->freeze : NULL;

	CHECK(t != NULL);
	CHECK(r != NULL);
	if (!r || !t)
		return;
	CHECK_INT(r->root_pid, ==, child);
	CHECK_INT(r->state, ==, TS(FROZEN));
	CHECK_UINT(r->n_pids, ==, 2);
	CHECK_INT(r->n_pids == 2 ? r->pids[0] : 0, ==, child);
	CHECK_INT(r->n_pids == 2 ? r->pids[1] : 0, ==, grandchild);
	CHECK_STR(r->cgroup, ==, t->cgroup);
	CHECK_INT(r->freezer, ==, t->layout);
	CHECK_INT(access(r->cgroup, F_OK), ==, 0);
}

/* A thaw's answer: the tree runs, and it was thawed (told so) when it was frozen. */
static void check_thawed_answer(HelperMessage *m, pid_t child, bool was_frozen)
{
	const ThawResult *r = answer_of(m, RESULT(THAW)) ? m->response->thaw : NULL;

	CHECK(r != NULL);
	CHECK_INT(r ? r->root_pid : 0, ==, child);
	CHECK_INT(r ? r->state : 0, ==, TS(RUNNING));
	CHECK_STR(events_told(), ==, was_frozen ? arena_printf("thawing, RUNNING %d, ", child) : "");
	CHECK(frozen_find(child) == NULL);
	msg_free(m);
}

static void test_freeze(pid_t child, pid_t grandchild)
{
	HelperMessage *m;
	char cgroup[4096] = "";

	test_case("freeze");
	m = ask_freeze(child, 0);
	check_frozen_answer(m, child, grandchild);
	CHECK_STR(events_told(), ==, arena_printf("freezing, FROZEN %d, ", child));
	if (answer_of(m, RESULT(FREEZE)))
		snprintf(cgroup, sizeof(cgroup), "%s", m->response->freeze->cgroup);
	msg_free(m);
	check_ps_tree(child, grandchild, true);
	test_case("freeze again: the same tree, frozen already");
	m = ask_freeze(child, 0);
	check_frozen_answer(m, child, grandchild);
	CHECK_STR(events_told(), ==, arena_printf("FROZEN %d, ", child));
	msg_free(m);
	test_case("thaw");
	check_thawed_answer(ask_thaw(child), child, true);
	CHECK_INT(access(cgroup, F_OK), ==, -1);
	check_ps_tree(child, grandchild, false);
	test_case("thaw of a tree this helper did not freeze: it runs");
	check_thawed_answer(ask_thaw(child), child, false);
	arena_free_all();
}

/* ---- launch / kill -------------------------------------------------------- */

static HelperMessage *ask_launch(const char *program, char **args, size_t nargs, const char *cwd, char **env,
				 size_t nenv)
{
	LaunchRequest r = CHECKPOINT__HELPER__V1__LAUNCH_REQUEST__INIT;
	size_t nevents;

	r.program = (char *)program;
	r.args = args;
	r.n_args = nargs;
	r.cwd = (char *)cwd;
	r.env = env;
	r.n_env = nenv;
	return ask(51, OP(LAUNCH), &r, &nevents);
}

/* The answer is the error code with errno errnum, its message holding each of words (NULL-terminated). */
static void check_error(HelperMessage *m, int code, int errnum, const char *const *words)
{
	CHECK_INT(err_code(m), ==, code);
	CHECK_INT(err_code(m) >= 0 ? m->response->error->errno_value : -1, ==, errnum);
	for (; *words; words++)
		CHECK_CONTAINS(err_code(m) >= 0 ? m->response->error->message : NULL, *words);
	msg_free(m);
}

static void test_launch_refused(void)
{
	char *env_bad[][1] = { { "NOEQUALS" }, { "=value" } };
	char *env_ok[] = { "A=1", "EMPTY=", "B==x" };
	char **many = calloc(MAX_LAUNCH_ARGS + 1, sizeof(*many));

	test_case("launch refused");
	check_bad_request(ask_launch("", NULL, 0, NULL, NULL, 0), "program is required");
	check_error(ask_launch("bin/true", NULL, 0, NULL, NULL, 0), EC(BAD_REQUEST), EINVAL,
		    (const char *[]){ "absolute path", "bin/true", NULL });
	check_bad_request(ask_launch("/bin/true", NULL, 0, "tmp", NULL, 0), "cwd");
	for (size_t i = 0; i < ARRAY_SIZE(env_bad); i++) {
		test_case("launch refused: env %s", env_bad[i][0]);
		check_bad_request(ask_launch("/bin/true", NULL, 0, NULL, env_bad[i], 1), "env entry 0");
	}
	test_case("launch refused: too many");
	for (size_t i = 0; many && i <= MAX_LAUNCH_ARGS; i++)
		many[i] = "x";
	check_bad_request(ask_launch("/bin/true", many, MAX_LAUNCH_ARGS + 1, NULL, NULL, 0), "4096");
	check_bad_request(ask_launch("/bin/true", NULL, 0, NULL, many, MAX_LAUNCH_ARGS + 1), "4096");
	free(many);
	/* what passes validation but cannot start: the exec's errno, named, and no zombie */
	test_case("launch that cannot start");
	check_error(ask_launch("/no/such/program", NULL, 0, NULL, env_ok, ARRAY_SIZE(env_ok)), EC(NOT_FOUND), ENOENT,
		    (const char *[]){ "/no/such/program", NULL });
	check_error(ask_launch("/tmp", NULL, 0, NULL, NULL, 0), EC(NOT_PERMITTED), EACCES,
		    (const char *[]){ "cannot execute /tmp", NULL });
	check_error(ask_launch("/bin/true", NULL, 0, "/no/such/dir", NULL, 0), EC(NOT_FOUND), ENOENT,
		    (const char *[]){ "/no/such/dir", "/bin/true", NULL });
	CHECK(no_children());
}

/* A launch answered with its pid after the tree state RUNNING; its output and end come as the launch's events. */
static void test_launch(void)
{
	char *args[] = { "-c", "exit 3" };
	HelperMessage *m = ask_launch("/bin/sh", args, ARRAY_SIZE(args), "/", NULL, 0);
	pid_t pid = answer_of(m, RESULT(LAUNCH)) ? m->response->launch->root_pid : -1;

	test_case("launch");
	CHECK_INT(pid, >, 0);
	CHECK_STR(events_told(), ==, arena_printf("RUNNING %d, ", pid));
	msg_free(m);
	out_reset();
	while (pid > 0 && pid_exists(pid)) {
		struct pollfd pfd[2 * MAX_PROGRAMS];
		size_t n = program_poll_fds(pfd, ARRAY_SIZE(pfd));

		if (n && poll(pfd, n, 100) > 0)
			program_poll_done(pfd, n);
		reap_children();
	}
	CHECK_STR(events_told(), ==, arena_printf("exit %d, ", pid));
	arena_free_all();
}

static void test_kill_refused(void)
{
	const pid_t refused[] = { 1, 0, -7, getpid(), getppid() };
	HelperMessage *m;

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		test_case("kill refused: %d", refused[i]);
		m = ask_kill(refused[i]);
		CHECK_INT(err_code(m), ==, EC(BAD_REQUEST));
		CHECK_INT(pid_exists(refused[i]), ==, refused[i] > 0);
		msg_free(m);
	}
	test_case("kill refused: an ancestor");
	check_bad_request(ask_kill(getppid()), "helper or one of its ancestors");
	test_case("kill refused: no such process");
	check_error(ask_kill(NO_PID), EC(NO_SUCH_PROCESS), ESRCH, (const char *[]){ "4194000", NULL });
}

static void test_kill(void)
{
	pid_t grandchild, child = spawn_family(&grandchild);
	struct proc_stat st;
	HelperMessage *m;
	const KillResult *r;

	test_case("kill a tree");
	CHECK_INT(child, >, 0);
	CHECK_INT(grandchild, >, 0);
	if (child <= 0 || grandchild <= 0)
		return;
	m = ask_kill(child);
	r = answer_of(m, RESULT(KILL)) ? m->response->kill : NULL;
	CHECK(r != NULL);
	CHECK_INT(r ? r->root_pid : 0, ==, child);
	CHECK_UINT(r ? r->n_killed_pids : 0, ==, 2);
	if (r && r->n_killed_pids == 2) {
		CHECK_INT(r->killed_pids[0], ==, child);
		CHECK_INT(r->killed_pids[1], ==, grandchild);
	}
	CHECK_STR(events_told(), ==, arena_printf("killing, GONE %d, ", child));
	msg_free(m);
	/* the child was ours to reap (the answer's reap_children did); the grandchild is gone or a zombie */
	CHECK(!pid_exists(child));
	CHECK(read_proc_stat(grandchild, &st) || st.state == 'Z');
	CHECK(no_children());
	arena_free_all();
}

/* ---- leaks --------------------------------------------------------------- */

static HelperMessage *ask_leaks(pid_t root, LeakRule **rules, size_t n)
{
	LeaksRequest r = CHECKPOINT__HELPER__V1__LEAKS_REQUEST__INIT;

	r.root_pid = root;
	r.policy = rules;
	r.n_policy = n;
	return ask(53, OP(LEAKS), &r, NULL);
}

static void test_leaks_refused(void)
{
	LeakRule rule = CHECKPOINT__HELPER__V1__LEAK_RULE__INIT, *rules[] = { &rule };
	char words[64];
	HelperMessage *m;

	test_case("leaks refused");
	check_bad_request(ask_leaks(1, NULL, 0), "root_pid must be a pid above 1, not 1");
	check_bad_request(ask_leaks(0, NULL, 0), "root_pid must be a pid above 1, not 0");
	rule.kind = LEAK_KIND_MAX + 1;
	rule.policy = LP(FAIL);
	snprintf(words, sizeof(words), "policy rule 0 names no leak kind (%d)", LEAK_KIND_MAX + 1);
	check_bad_request(ask_leaks(getpid(), rules, 1), words);
	rule.kind = LK(PIPE);
	rule.policy = LEAK_POLICY_MAX + 1;
	check_bad_request(ask_leaks(getpid(), rules, 1), "names no policy");
	m = ask_leaks(NO_PID, NULL, 0);
	CHECK_INT(err_code(m), ==, EC(NO_SUCH_PROCESS));
	CHECK(err_mentions(m, "4194000"));
	msg_free(m);
}

/* A child sharing a pipe with a process outside its tree: a pipe leak, with the rule's policy. */
static void test_leaks(void)
{
	struct pipe_pair pp;
	const LeaksResult *r;
	const Leak *lk;
	HelperMessage *m;

	test_case("leaks of a child sharing a pipe with another");
	CHECK(pipe_pair_start(&pp, LP(WARN)));
	m = ask_leaks(pp.tree, pp.rules, 1);
	r = answer_of(m, RESULT(LEAKS)) ? m->response->leaks : NULL;
	CHECK(r != NULL);
	CHECK_UINT(r && r->stats ? r->stats->tree_processes : 0, ==, 1);
	CHECK_UINT(r && r->stats ? r->stats->processes : 0, >, 2);
	lk = r ? leak_named(r->leaks, r->n_leaks, LK(PIPE), pp.resource) : NULL;
	CHECK(lk != NULL);
	if (lk) {
		CHECK_INT(lk->policy, ==, LP(WARN));	/* the rule's, not the default */
		CHECK_INT(lk->default_policy, ==, LP(FAIL));
		CHECK_UINT(lk->n_inside, ==, 2);	/* both ends */
		CHECK_INT(lk->n_inside ? lk->inside[0]->pid : 0, ==, pp.tree);
		CHECK_UINT(lk->n_outside, ==, 2);
		CHECK_INT(lk->n_outside ? lk->outside[0]->pid : 0, ==, pp.outside);
	}
	msg_free(m);
	pipe_pair_end(&pp);
}

static void process_tests(void)
{
	pid_t grandchild, child = spawn_family(&grandchild);

	test_hello();
	test_hello_criu();
	test_hello_usable();
	CHECK_INT(child, >, 0);
	if (child > 0) {
		test_ps(child, grandchild);
		test_freeze(child, grandchild);
		end_all(&child, 1);
	}
	test_request_checks();
	test_freeze_refused();
	test_launch_refused();
	test_launch();
	test_kill_refused();
	test_kill();
	test_leaks_refused();
	test_leaks();
}

TEST_GROUP(ops_process)
{
	with_out_file(process_tests);
	CHECK(no_children());
}
