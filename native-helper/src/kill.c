/* SPDX-License-Identifier: MIT */
/* Killing a process tree: stopped first, so no part of it forks away, then SIGKILL. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "kill.h"
#include "proc.h"
#include "util.h"
#include "wire.h"

#define STOP_ROUNDS 100
#define STOP_WAIT_MS 200		/* how long a round waits for its SIGSTOPs to take */

/*
 * SIGSTOP is delivered later: a process still inside fork() when it was
 * sent one adds its child after the next scan of the tree. So a round
 * waits until what it stopped is stopped (or gone) before the next scan.
 * A frozen process takes no signal until it is thawed, and forks nothing.
 */
static void wait_stopped(const pid_t *v, size_t n)
{
	uint64_t deadline = now_us() + STOP_WAIT_MS * 1000ull;

	for (size_t i = 0; i < n; i++) {
		unsigned pause = 0;
		struct proc_stat st;

		if (frozen_find_member(v[i]))
			continue;
		while (read_proc_stat(v[i], &st) == 0 && !strchr("TtZX", st.state) && now_us() < deadline)
			poll_pause(&pause);
	}
}

/*
 * SIGSTOPs the tree until a scan finds no process not stopped yet: a
 * stopped process cannot fork, so the tree stops growing. all gets every
 * process stopped, root first.
 */
static int stop_tree(pid_t root, struct pidlist *all, struct herr *e)
{
	struct pidlist now = { 0 };
	int ret = -1;

	for (int round = 0; round < STOP_ROUNDS; round++) {
		size_t added = 0;

		if (proc_tree(root, &now, e)) {
			/* the root went after it was stopped (killed by another): kill the rest */
			if (all->n)
				ret = 0;
			goto out;
		}
		for (size_t i = 0; i < now.n; i++) {
			if (pidlist_has(all, now.v[i]))
				continue;
			if (pidlist_add(all, now.v[i])) {
				herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
				goto out;
			}
			kill(now.v[i], SIGSTOP);
			added++;
		}
		if (!added) {
			ret = 0;
			goto out;
		}
		wait_stopped(all->v + all->n - added, added);
	}
	herr_set(e, EC(INTERNAL), EAGAIN, "the tree of process %d kept growing while it was being stopped",
		 root);
out:
	pidlist_free(&now);
	return ret;
}

/*
 * A tree this helper froze dies only once thawed (the v1 freezer holds even
 * SIGKILL); with it goes its freeze cgroup.
 */
static void release_frozen(const struct pidlist *pids)
{
	for (size_t i = 0; i < pids->n; i++) {
		struct frozen_tree *t = frozen_find(pids->v[i]);
		struct herr e = { 0 };

		if (t && frozen_release(t, true, &e))
			fprintf(stderr, "checkpoint-helper: %s\n", e.msg);
	}
}

static int wait_gone(pid_t root, const struct pidlist *pids, struct herr *e)
{
	uint64_t deadline = now_us() + KILL_WAIT_MS * 1000ull;
	unsigned pause = 0;

	for (;;) {
		size_t left = 0;

		for (size_t i = 0; i < pids->n; i++)
			left += !proc_gone(pids->v[i]);
		if (!left)
			return 0;
		if (now_us() > deadline) {
			herr_set(e, EC(INTERNAL), EBUSY, "%zu process(es) of the tree of %d still exist %d s after "
				 "SIGKILL (in uninterruptible sleep?)", left, root, KILL_WAIT_MS / 1000);
			return -1;
		}
		poll_pause(&pause);
	}
}

int kill_tree(pid_t root, struct pidlist *killed, struct herr *e)
{
	struct pidlist all = { 0 };
	int ret;

	ret = stop_tree(root, &all, e);
	/* what was stopped dies, even when stopping failed part way */
	for (size_t i = 0; i < all.n; i++)
		if (kill(all.v[i], SIGKILL) == 0)
			pidlist_add(killed, all.v[i]);
	release_frozen(&all);
	if (ret == 0)
		ret = wait_gone(root, &all, e);
	pidlist_free(&all);
	return ret;
}
