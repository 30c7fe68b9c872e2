/* SPDX-License-Identifier: MIT */
/* Freezing process trees with the cgroup freezer (v2 cgroup.freeze, v1 freezer). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "fileio.h"
#include "freeze_claim.h"
#include "proc.h"
#include "util.h"
#include "wire.h"

#define DEFAULT_FREEZE_TIMEOUT_MS 5000

static struct frozen_tree *frozen_head;

/* statfs magic of a path, 0 when it cannot be read. */
static long fs_magic(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf))
		return 0;
	return sf.f_type;
}

int cgroup_layout(void)
{
	long root = fs_magic("/sys/fs/cgroup");
	char v1[4096];

	if (root == CGROUP2_SUPER_MAGIC)
		return CGL(V2);
	if (fs_magic("/sys/fs/cgroup/unified") == CGROUP2_SUPER_MAGIC)
		return CGL(HYBRID);
	if (root == CGROUP_SUPER_MAGIC || cgroup_v1_freezer_mount(v1, sizeof(v1)) == 0)
		return CGL(V1);
	if (root == TMPFS_MAGIC)
		return CGL(V1);
	return CGL(UNKNOWN);
}

/* Whether the comma separated list (modified in place) holds word. */
static bool list_has(char *list, const char *word)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, word))
			return true;
	return false;
}

/* Copies a path found in a /proc table; escaped or too long paths are skipped. */
static int copy_found(const char *path, char *out, size_t len)
{
	if (strlen(path) >= len || strchr(path, '\\'))
		return -1;
	strcpy(out, path);
	return 0;
}

/*
 * Finds a mount in /proc/self/mountinfo of fstype, whose super options hold
 * opt when opt is not NULL.
 */
static int find_mount(const char *fstype, const char *opt, char *out, size_t len)
{
	char *buf = NULL, *line, *save = NULL;
	int ret = -1;

	if (read_file("/proc/self/mountinfo", &buf, NULL, 16 << 20))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mnt[4096], type[64], sopts[1024];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (sscanf(sep + 3, "%63s %*s %1023s", type, sopts) != 2)
			continue;
		if (strcmp(type, fstype))
			continue;
		if (opt && !list_has(sopts, opt))
			continue;
		if (copy_found(mnt, out, len) == 0) {
			ret = 0;
			break;
		}
	}
	free(buf);
	if (ret)
		errno = ENOENT;
	return ret;
}

int cgroup_v2_mount(char *out, size_t len)
{
	return find_mount("cgroup2", NULL, out, len);
}

int cgroup_v1_freezer_mount(char *out, size_t len)
{
	return find_mount("cgroup", "freezer", out, len);
}

/* The task's cgroup path in the v2 hierarchy ("0::/x") or v1 freezer one. */
static int task_cgroup(pid_t pid, int layout, char *out, size_t len)
{
	char path[64], *buf = NULL, *line, *save = NULL;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (read_file(path, &buf, NULL, 1 << 20))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		bool match = false;

		if (!c2)
			continue;
		*c2 = '\0';
		if (layout == CGL(V2))
			match = c1 == line + 1 && line[0] == '0' && c1 + 1 == c2;
		else
			match = list_has(c1 + 1, "freezer");
		if (!match)
			continue;
		ret = copy_found(c2 + 1, out, len);
		break;
	}
	free(buf);
	if (ret)
		errno = ENOENT;
	return ret;
}

static void tree_free(struct frozen_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->pids.n; i++)
		free(t->orig[i]);
	free(t->orig);
	pidlist_free(&t->pids);
	pidlist_free(&t->except);
	pidlist_free(&t->stopped);
	free(t);
}

struct frozen_tree *frozen_find(pid_t root)
{
	for (struct frozen_tree *t = frozen_head; t; t = t->next)
		if (t->root == root)
			return t;
	return NULL;
}

struct frozen_tree *frozen_find_member(pid_t pid)
{
	for (struct frozen_tree *t = frozen_head; t; t = t->next)
		if (pidlist_has(&t->pids, pid))
			return t;
	return NULL;
}

/* Moves one process into the freeze cgroup, remembering where it was. */
static int move_in(struct frozen_tree *t, pid_t pid, struct herr *e)
{
	char orig[4096], procs[4200], num[32];
	char **no;

	if (task_cgroup(pid, t->layout, orig, sizeof(orig)))
		return pid_exists(pid) ? (herr_set(e, EC(CGROUP_UNAVAILABLE), errno,
				"cannot read the cgroup of process %d", pid), -1) : 0;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", t->cgroup);
	snprintf(num, sizeof(num), "%d", pid);
	if (write_str_path(procs, num)) {
		if (errno == ESRCH)
			return 0;	/* exited meanwhile */
		herr_perror(e, EC(CGROUP_UNAVAILABLE), errno, "cannot move process %d into %s",
			 pid, t->cgroup);
		return -1;
	}
	no = realloc(t->orig, (t->pids.n + 1) * sizeof(*no));
	if (!no || pidlist_add(&t->pids, pid)) {
		if (no)
			t->orig = no;
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
		return -1;
	}
	t->orig = no;
	t->orig[t->pids.n - 1] = strdup(orig);
	return 0;
}

/* Moves every process of the tree not yet moved; returns how many moved. */
static int move_tree(struct frozen_tree *t, struct herr *e)
{
	struct pidlist now = { 0 };
	int moved = 0;

	if (proc_tree(t->root, &now, e))
		goto fail;
	for (size_t i = 0; i < now.n; i++) {
		if (pidlist_has(&t->pids, now.v[i]) || pidlist_has(&t->except, now.v[i]))
			continue;
		if (move_in(t, now.v[i], e))
			goto fail;
		moved++;
	}
	pidlist_free(&now);
	return moved;
fail:
	pidlist_free(&now);
	return -1;
}

static int freezer_write(struct frozen_tree *t, bool freeze)
{
	char path[4200];

	if (t->layout == CGL(V2)) {
		snprintf(path, sizeof(path), "%s/cgroup.freeze", t->cgroup);
		return write_str_path(path, freeze ? "1" : "0");
	}
	snprintf(path, sizeof(path), "%s/freezer.state", t->cgroup);
	return write_str_path(path, freeze ? "FROZEN" : "THAWED");
}

/* 1 when the freezer reports the wanted state, 0 when not yet, -1 on error. */
static int freezer_done(struct frozen_tree *t, bool frozen)
{
	char path[4200], *buf = NULL;
	int ret;

	if (t->layout == CGL(V2)) {
		snprintf(path, sizeof(path), "%s/cgroup.events", t->cgroup);
		if (read_file(path, &buf, NULL, 65536))
			return -1;
		ret = strstr(buf, frozen ? "frozen 1" : "frozen 0") != NULL;
	} else {
		snprintf(path, sizeof(path), "%s/freezer.state", t->cgroup);
		if (read_file(path, &buf, NULL, 65536))
			return -1;
		ret = !strncmp(buf, frozen ? "FROZEN" : "THAWED", frozen ? 6 : 6);
	}
	free(buf);
	return ret;
}

static int freezer_wait(struct frozen_tree *t, bool frozen, unsigned timeout_ms, struct herr *e)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000;
	unsigned pause = 0;
	int r;

	while ((r = freezer_done(t, frozen)) == 0) {
		if (now_us() > deadline) {
			herr_set(e, EC(INTERNAL), ETIMEDOUT, "the freezer of %s did not report %s within %u ms",
				 t->cgroup, frozen ? "frozen" : "thawed", timeout_ms);
			return -1;
		}
		poll_pause(&pause);
	}
	if (r < 0) {
		herr_perror(e, EC(CGROUP_UNAVAILABLE), errno, "cannot read the freezer state of %s",
			 t->cgroup);
		return -1;
	}
	return 0;
}

/* The freeze cgroup of t: a child of the root's cgroup rel under mount. */
static int set_freeze_path(struct frozen_tree *t, const char *mount, const char *rel)
{
	const char *sep = rel[0] && rel[strlen(rel) - 1] == '/' ? "" : "/";
	int n;

	if (strlen(mount) >= sizeof(t->mount)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(t->mount, mount);
	n = snprintf(t->cgroup, sizeof(t->cgroup), "%s%s%s" FREEZE_PREFIX "%d", mount, rel, sep, t->root);
	if (n >= (int)sizeof(t->cgroup)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Picks the hierarchy and creates the freeze cgroup for root. */
static int make_freeze_cgroup(struct frozen_tree *t, struct herr *e)
{
	char rel[4096], v2[4096], v1[4096];
	bool have_v2 = cgroup_v2_mount(v2, sizeof(v2)) == 0;
	bool have_v1 = cgroup_v1_freezer_mount(v1, sizeof(v1)) == 0;
	int err = 0;

	if (have_v2 && task_cgroup(t->root, CGL(V2), rel, sizeof(rel)) == 0) {
		t->layout = CGL(V2);
		if (set_freeze_path(t, v2, rel)) {
			err = errno;
		} else if (mkdir(t->cgroup, 0755) == 0 || errno == EEXIST) {
			char f[4200];

			snprintf(f, sizeof(f), "%s/cgroup.freeze", t->cgroup);
			if (access(f, W_OK) == 0)
				return 0;
			err = errno;
			rmdir(t->cgroup);
		} else {
			err = errno;
		}
	}
	if (have_v1 && task_cgroup(t->root, CGL(V1), rel, sizeof(rel)) == 0) {
		t->layout = CGL(V1);
		if (set_freeze_path(t, v1, rel) == 0 && (mkdir(t->cgroup, 0755) == 0 || errno == EEXIST))
			return 0;
		err = errno;
	}
	if (!have_v2 && !have_v1)
		herr_set(e, EC(CGROUP_UNAVAILABLE), ENOENT,
			 "no cgroup2 mount (looked at /sys/fs/cgroup and /sys/fs/cgroup/unified) and no v1 "
			 "freezer: mount the cgroup file systems");
	else
		herr_perror(e, EC(CGROUP_UNAVAILABLE), err,
			 "cannot create a freeze cgroup for process %d (%s)", t->root,
			 t->cgroup[0] ? t->cgroup : "no cgroup of the process found");
	return -1;
}

/* Moves tasks back to their original cgroups and removes the freeze cgroup. */
static void unmove_and_remove(struct frozen_tree *t)
{
	char path[8400], num[32], *buf = NULL;

	for (size_t i = 0; i < t->pids.n; i++) {
		snprintf(path, sizeof(path), "%s%s/cgroup.procs", t->mount, t->orig[i]);
		snprintf(num, sizeof(num), "%d", t->pids.v[i]);
		write_str_path(path, num);	/* gone ones fail with ESRCH: fine */
	}
	/* children forked into the freeze cgroup after the freeze: to the root's */
	snprintf(path, sizeof(path), "%s/cgroup.procs", t->cgroup);
	if (t->pids.n && read_file(path, &buf, NULL, 1 << 20) == 0) {
		char *save = NULL;

		for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			snprintf(path, sizeof(path), "%s%s/cgroup.procs", t->mount, t->orig[0]);
			write_str_path(path, l);
		}
		free(buf);
	}
	for (int i = 0; i < 50; i++) {
		if (rmdir(t->cgroup) == 0 || errno == ENOENT)
			return;
		sleep_ms(10);
	}
	fprintf(stderr, "checkpoint-helper: cannot remove %s: %s\n", t->cgroup, strerror(errno));
}

/* Moves member i back to its original cgroup (a process let go of: it thaws) and forgets it. */
static void move_out(struct frozen_tree *t, size_t i)
{
	char path[8400], num[32];

	snprintf(path, sizeof(path), "%s%s/cgroup.procs", t->mount, t->orig[i]);
	snprintf(num, sizeof(num), "%d", t->pids.v[i]);
	write_str_path(path, num);	/* gone: fine */
	free(t->orig[i]);
	t->orig[i] = t->orig[t->pids.n - 1];
	t->pids.v[i] = t->pids.v[t->pids.n - 1];
	t->pids.n--;
}

/*
 * Lets member i go, stopped first when asked: a frozen process takes the
 * SIGSTOP as it thaws, before it returns to its own code, and its threads
 * stop with it.
 */
static int let_go(struct frozen_tree *t, size_t i, bool stop, struct herr *e)
{
	pid_t pid = t->pids.v[i];

	if (stop && kill(pid, SIGSTOP) == 0 && pidlist_add(&t->stopped, pid)) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
		return -1;
	}
	move_out(t, i);	/* a process gone meanwhile is not stopped either: fine */
	return 0;
}

/* The members about to be let go of stopped, claimed first (freeze_claim.h): a helper that dies leaves none stopped. */
static int claim_released(const struct frozen_tree *t, struct herr *e)
{
	struct pidlist going = { 0 };
	int ret = 0;

	for (size_t i = 0; i < t->pids.n && !ret; i++)
		if (pidlist_has(&t->except, t->pids.v[i]) && pidlist_add(&going, t->pids.v[i])) {
			herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
			ret = -1;
		}
	if (!ret && going.n)
		ret = released_claim_add(going.v, going.n, e);
	pidlist_free(&going);
	return ret;
}

static int set_except(struct frozen_tree *t, const struct freeze_how *how, struct herr *e)
{
	t->except.n = 0;
	t->stopped.n = 0;
	for (size_t i = 0; i < how->nexcept; i++) {
		if (pidlist_add(&t->except, how->except[i])) {
			herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
			return -1;
		}
	}
	if (how->stop_released && claim_released(t, e))
		return -1;
	for (size_t i = t->pids.n; i-- > 0;)
		if (pidlist_has(&t->except, t->pids.v[i]) && let_go(t, i, how->stop_released, e))
			return -1;
	return 0;
}

/* Takes in what is new in a frozen tree (forked since, or no longer excepted) and waits until it is frozen. */
static int freeze_again(struct frozen_tree *t, unsigned timeout_ms, struct herr *e)
{
	for (int rounds = 0; rounds < 100; rounds++) {
		int moved = move_tree(t, e);

		if (moved < 0 || freezer_wait(t, true, timeout_ms, e))
			return -1;
		if (moved == 0)
			return 0;
	}
	return 0;
}

/*
 * A new tree for root, its freeze cgroup made and its claim taken (before
 * a process is moved: another helper's claim means that helper holds it).
 */
static struct frozen_tree *tree_claim(pid_t root, const struct freeze_how *how, struct herr *e)
{
	struct frozen_tree *t = calloc(1, sizeof(*t));

	if (!t) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
		return NULL;
	}
	t->root = root;
	t->claim_fd = -1;
	if (set_except(t, how, e) || make_freeze_cgroup(t, e))
		goto fail_free;
	t->claim_fd = freeze_claim_take(root, t->layout, t->cgroup, e);
	if (t->claim_fd < 0)
		goto fail_unclaimed;
	/* a helper that let go of the tree since make_freeze_cgroup removed the cgroup */
	if (mkdir(t->cgroup, 0755) == 0 || errno == EEXIST)
		return t;
	herr_perror(e, EC(CGROUP_UNAVAILABLE), errno, "cannot create %s", t->cgroup);
	freeze_claim_drop(root, t->claim_fd);
	goto fail_free;
fail_unclaimed:
	/* the claim's holder uses the cgroup, perhaps before it moved a process in: left alone */
	if (e->code != EC(BUSY))
		rmdir(t->cgroup);
fail_free:
	tree_free(t);
	return NULL;
}

int freeze_tree(pid_t root, const struct freeze_how *how, struct frozen_tree **out, struct herr *e)
{
	unsigned timeout_ms = how->timeout_ms ? how->timeout_ms : DEFAULT_FREEZE_TIMEOUT_MS;
	struct frozen_tree *t;
	int moved, rounds;

	t = frozen_find(root);
	if (t) {
		*out = t;
		return set_except(t, how, e) || freeze_again(t, timeout_ms, e) ? -1 : 0;
	}
	if (!pid_exists(root)) {
		herr_set(e, EC(NO_SUCH_PROCESS), ESRCH, "process %d does not exist", root);
		return -1;
	}
	t = tree_claim(root, how, e);
	if (!t)
		return -1;
	/* move until no process of the tree is left outside */
	for (rounds = 0; (moved = move_tree(t, e)) > 0 && rounds < 100; rounds++)
		;
	if (moved < 0)
		goto fail_undo;
	if (freezer_write(t, true)) {
		herr_perror(e, EC(CGROUP_UNAVAILABLE), errno, "cannot freeze %s", t->cgroup);
		goto fail_undo;
	}
	/* children forked between the last scan and the freeze: move and wait again */
	for (rounds = 0; rounds < 100; rounds++) {
		if (freezer_wait(t, true, timeout_ms, e))
			goto fail_thaw;
		moved = move_tree(t, e);
		if (moved < 0)
			goto fail_thaw;
		if (moved == 0)
			break;
	}
	t->next = frozen_head;
	frozen_head = t;
	*out = t;
	return 0;
fail_thaw:
	freezer_write(t, false);
fail_undo:
	unmove_and_remove(t);
	freeze_claim_drop(root, t->claim_fd);
	tree_free(t);
	return -1;
}

int thaw_tree(struct frozen_tree *t, struct herr *e)
{
	if (freezer_write(t, false)) {
		if (errno == ENOENT)
			return 0;
		herr_perror(e, EC(CGROUP_UNAVAILABLE), errno, "cannot thaw %s", t->cgroup);
		return -1;
	}
	return freezer_wait(t, false, DEFAULT_FREEZE_TIMEOUT_MS, e);
}

int frozen_release(struct frozen_tree *t, bool thaw, struct herr *e)
{
	struct frozen_tree **pp;
	int ret = 0;

	if (thaw)
		ret = thaw_tree(t, e);
	unmove_and_remove(t);
	freeze_claim_drop(t->root, t->claim_fd);
	for (pp = &frozen_head; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	tree_free(t);
	return ret;
}

void frozen_release_all(void)
{
	while (frozen_head) {
		struct herr e = { 0 };

		if (frozen_release(frozen_head, true, &e))
			fprintf(stderr, "checkpoint-helper: %s\n", e.msg);
	}
}
