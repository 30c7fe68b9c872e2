/* SPDX-License-Identifier: MIT */
/* Programs of the host found and run as the helper's children. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "fileio.h"
#include "spawn.h"
#include "util.h"

/* Where system programs live, before PATH: the helper may run with a user's short PATH. */
static const char *const program_dirs[] = {
	"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin",
};

/* dir/name in out when it is an executable file; dir must be absolute. */
static bool executable_in(const char *dir, size_t ndir, const char *name, char *out, size_t len)
{
	if (!ndir || dir[0] != '/' || (size_t)snprintf(out, len, "%.*s/%s", (int)ndir, dir, name) >= len)
		return false;
	return access(out, X_OK) == 0;
}

const char *find_program(const char *name)
{
	static char found[4096];
	const char *env = getenv("PATH");

	for (size_t i = 0; i < ARRAY_SIZE(program_dirs); i++)
		if (executable_in(program_dirs[i], strlen(program_dirs[i]), name, found, sizeof(found)))
			return found;
	while (env && *env) {
		const char *colon = strchr(env, ':');
		size_t n = colon ? (size_t)(colon - env) : strlen(env);

		if (executable_in(env, n, name, found, sizeof(found)))
			return found;
		env = colon ? colon + 1 : NULL;
	}
	return NULL;
}

/* The child: signals as a fresh program has them, stdin and stderr /dev/null, stdout out_fd, nothing else. */
static void run_child(const char *path, char *const argv[], int out_fd)
{
	sigset_t none;
	int null = open("/dev/null", O_RDWR);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd >= 0 ? out_fd : null, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	execv(path, argv);
	_exit(127);
}

static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

int run_program(const char *path, char *const argv[], char **out, size_t max)
{
	int pipefd[2] = { -1, -1 }, status = 0, saved;
	pid_t pid;

	if (out)
		*out = NULL;
	if (out && pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0)
		run_child(path, argv, pipefd[1]);
	saved = errno;
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (pid > 0 && out && read_fd(pipefd[0], out, NULL, max))
		*out = NULL;	/* more than max, or unreadable: no output, the status still tells */
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pid < 0) {
		errno = saved;
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return exit_status(status);
}
