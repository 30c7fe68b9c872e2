/* SPDX-License-Identifier: MIT */
/*
 * Leaks of the tree's memory:
 *   detect_shared_memory  MAP_SHARED file mappings and shared anonymous
 *                         memory the tree maps and outside processes too
 *   detect_sysv           SysV shm segments attached outside the tree, or
 *                         in an IPC namespace it shares with outsiders; the
 *                         semaphores and message queues of such a namespace
 * Each reads the tree's mappings, and outside processes' only when the tree
 * has something they could share. Shared mappings are asked for with
 * PROCMAP_QUERY (Linux 6.11: a few microseconds a process); before it, the
 * text of /proc/PID/maps is read and parsed (the kernel takes tens of
 * microseconds a process to write it).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include "leaks.h"

#define NS_IPC (LK(IPC_NS) - LK(UTS_NS))
#define MAX_MAPS_BYTES (64u << 20)	/* a process with more is skipped */
#define MAX_SYSV_BYTES (16u << 20)	/* of one /proc/sysvipc file */
#define MAX_SEM_USERS 8			/* pids listed per semaphore set */
#define MAX_SEM_ASKED 4096		/* semctl(GETPID) calls per scan */

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- parsers ---------------------------------------------------------------- */

/* A number in base at p, ending before lim; *next is after it. No sign, no leading space. */
static int number(const char *p, const char *lim, int base, unsigned long long *v, const char **next)
{
	char *end;

	if (p >= lim || !isxdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*v = strtoull(p, &end, base);
	if (end == p || end > lim || errno)
		return -1;
	*next = end;
	return 0;
}

/* "7f1c2000-7f1c4000 rw-s 00000000 08:01 1234      /srv/data.db" */
int parse_maps_line(const char *line, size_t len, struct maps_line *m)
{
	const char *p = line, *lim = line + len;
	unsigned long long v[6];

	memset(m, 0, sizeof(*m));
	if (number(p, lim, 16, &v[0], &p) || p >= lim || *p++ != '-' || number(p, lim, 16, &v[1], &p))
		goto bad;
	if (lim - p < 7 || p[0] != ' ' || p[5] != ' ')
		goto bad;
	memcpy(m->perms, p + 1, 4);
	p += 6;
	if (number(p, lim, 16, &v[2], &p) || p >= lim || *p++ != ' ' ||
	    number(p, lim, 16, &v[3], &p) || p >= lim || *p++ != ':' ||
	    number(p, lim, 16, &v[4], &p) || p >= lim || *p++ != ' ' ||
	    number(p, lim, 10, &v[5], &p) || (p < lim && *p != ' '))
		goto bad;
	while (p < lim && *p == ' ')
		p++;
	while (lim > p && (lim[-1] == '\n' || lim[-1] == ' '))
		lim--;
	m->start = v[0];
	m->end = v[1];
	m->offset = v[2];
	m->major = v[3];
	m->minor = v[4];
	m->inode = v[5];
	m->path = p;
	m->path_len = lim - p;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* key shmid perms size cpid lpid nattch ... */
int parse_sysv_shm(const char *line, struct sysv_line *l)
{
	memset(l, 0, sizeof(*l));
	if (sscanf(line, "%d %d %o %llu %d %d %llu", &l->key, &l->id, &l->mode, &l->size, &l->pid_a, &l->pid_b,
		   &l->count) != 7) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* key semid perms nsems ... */
int parse_sysv_sem(const char *line, struct sysv_line *l)
{
	memset(l, 0, sizeof(*l));
	if (sscanf(line, "%d %d %o %llu", &l->key, &l->id, &l->mode, &l->size) != 4) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* key msqid perms cbytes qnum lspid lrpid ... */
int parse_sysv_msg(const char *line, struct sysv_line *l)
{
	memset(l, 0, sizeof(*l));
	if (sscanf(line, "%d %d %o %llu %llu %d %d", &l->key, &l->id, &l->mode, &l->size, &l->count, &l->pid_a,
		   &l->pid_b) != 7) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* ---- reading maps ------------------------------------------------------------ */

bool leak_maps_text;

struct mapbuf {
	char *p;			/* the text of /proc/PID/maps */
	size_t len, cap;
	char name[PATH_MAX + 64];	/* a mapping's name, from PROCMAP_QUERY */
};

static int mapbuf_room(struct mapbuf *b)
{
	size_t ncap = b->cap ? b->cap * 2 : 65536;
	char *p;

	if (b->cap - b->len > 4096)
		return 0;
	if (ncap > MAX_MAPS_BYTES) {
		errno = EFBIG;
		return -1;
	}
	p = realloc(b->p, ncap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = ncap;
	return 0;
}

static int read_text(int fd, struct mapbuf *b)
{
	b->len = 0;
	for (;;) {
		ssize_t n;

		if (mapbuf_room(b))
			return -1;
		n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += n;
	}
	b->p[b->len] = '\0';
	return 0;
}

typedef void (*mapping_fn)(void *arg, const struct host_proc *p, const struct maps_line *m);

/* Calls fn for each shared mapping ('s' in the perms) of p's maps in b. */
static void each_shared(const struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg)
{
	const char *line = b->p, *lim = b->p + b->len;

	while (line < lim) {
		const char *nl = memchr(line, '\n', lim - line);
		size_t len = (nl ? nl : lim) - line;
		const char *sp = memchr(line, ' ', len);
		struct maps_line m;

		/* most mappings are private: look at the perms before parsing */
		if (sp && (size_t)(sp - line) + 4 < len && sp[4] == 's' && !parse_maps_line(line, len, &m))
			fn(arg, p, &m);
		line += len + 1;
	}
}

#define QUERY_UNSUPPORTED (-2)

static bool no_query;		/* PROCMAP_QUERY is not in this kernel */

#ifdef PROCMAP_QUERY
#define QUERY_SHARED (PROCMAP_QUERY_COVERING_OR_NEXT_VMA | PROCMAP_QUERY_VMA_SHARED | PROCMAP_QUERY_FILE_BACKED_VMA)

static void query_line(const struct procmap_query *q, const char *name, struct maps_line *m)
{
	memset(m, 0, sizeof(*m));
	m->start = q->vma_start;
	m->end = q->vma_end;
	m->offset = q->vma_offset;
	m->inode = q->inode;
	m->major = q->dev_major;
	m->minor = q->dev_minor;
	m->perms[0] = q->vma_flags & PROCMAP_QUERY_VMA_READABLE ? 'r' : '-';
	m->perms[1] = q->vma_flags & PROCMAP_QUERY_VMA_WRITABLE ? 'w' : '-';
	m->perms[2] = q->vma_flags & PROCMAP_QUERY_VMA_EXECUTABLE ? 'x' : '-';
	m->perms[3] = q->vma_flags & PROCMAP_QUERY_VMA_SHARED ? 's' : 'p';
	m->path = name;
	m->path_len = q->vma_name_size ? strnlen(name, q->vma_name_size) : 0;
}

/*
 * Calls fn for each shared file-backed mapping of the maps file fd, as
 * PROCMAP_QUERY finds them one after the other. QUERY_UNSUPPORTED when the
 * kernel has no PROCMAP_QUERY.
 */
static int query_shared(int fd, struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg)
{
	uint64_t addr = 0;

	for (bool first = true;; first = false) {
		struct procmap_query q = { .size = sizeof(q), .query_flags = QUERY_SHARED, .query_addr = addr,
					   .vma_name_size = sizeof(b->name),
					   .vma_name_addr = (uintptr_t)b->name };
		struct maps_line m;
		int r = ioctl(fd, PROCMAP_QUERY, &q);

		if (r && errno == E2BIG) {
			/* a name longer than a path: the mapping without it */
			q.vma_name_size = 0;
			q.vma_name_addr = 0;
			r = ioctl(fd, PROCMAP_QUERY, &q);
		}
		if (r && first && (errno == ENOTTY || errno == EINVAL))
			return QUERY_UNSUPPORTED;
		if (r)
			return errno == ENOENT ? 0 : -1;	/* ENOENT: no further mapping */
		query_line(&q, b->name, &m);
		fn(arg, p, &m);
		if (q.vma_end <= addr)
			return 0;
		addr = q.vma_end;
	}
}
#else
static int query_shared(int fd, struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg)
{
	(void)fd, (void)b, (void)p, (void)fn, (void)arg;
	return QUERY_UNSUPPORTED;	/* built with headers older than Linux 6.11 */
}
#endif

/* Calls fn for each shared mapping of p; -1 when its maps cannot be read (gone, refused, too big). */
static int read_each_shared(struct mapbuf *b, const struct host_proc *p, mapping_fn fn, void *arg)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = QUERY_UNSUPPORTED;
	if (!leak_maps_text && !no_query)
		ret = query_shared(fd, b, p, fn, arg);
	if (ret == QUERY_UNSUPPORTED) {
		no_query |= !leak_maps_text;	/* before Linux 6.11: the text, from now on */
		ret = read_text(fd, b);
		if (!ret)
			each_shared(b, p, fn, arg);
	}
	close(fd);
	return ret;
}

static bool path_starts(const struct maps_line *m, const char *prefix)
{
	size_t n = strlen(prefix);

	return m->path_len >= n && !memcmp(m->path, prefix, n);
}

enum map_class { MC_NONE, MC_FILE, MC_ANON, MC_SYSV };

static enum map_class map_class(const struct maps_line *m)
{
	if (m->perms[3] != 's' || !m->path_len)
		return MC_NONE;
	if (path_starts(m, "/SYSV") && m->path_len >= 13)
		return MC_SYSV;		/* "/SYSV%08x (deleted)", the inode is the shmid (0 is one) */
	if (!m->inode)
		return MC_NONE;
	if (path_starts(m, "/dev/zero") || path_starts(m, "[anon_shmem") || path_starts(m, "/memfd:") ||
	    path_starts(m, "/anon_hugepage"))
		return MC_ANON;
	if (path_starts(m, "anon_inode:") || m->path[0] == '[')
		return MC_NONE;		/* one inode for every anon inode file; the kernel's mappings */
	return MC_FILE;
}

/* "mapped at 0x7f1c2000-0x7f1c4000", the holder of a mapping */
static struct leak_holder map_holder(const struct maps_line *m, char *how, size_t len, const char *verb)
{
	struct leak_holder h = { .how = how, .readable = m->perms[0] == 'r', .writable = m->perms[1] == 'w' };

	snprintf(how, len, "%s at 0x%lx-0x%lx%s", verb, m->start, m->end, h.writable ? "" : " (read-only)");
	return h;
}

/*
 * Adds p, an outside process, as a holder of lk by its mapping m, once
 * however many mappings of it p has: *last is the process counted last (a
 * process's mappings are read one after the other).
 */
static void hold_outside(struct host_scan *s, struct leak *lk, pid_t *last, const struct host_proc *p,
			 const struct maps_line *m, const char *verb)
{
	struct leak_holder h;
	char how[96];

	if (*last == p->pid)
		return;
	*last = p->pid;
	h = map_holder(m, how, sizeof(how), verb);
	leak_hold_counted(s, lk, p->pid, &h);
}

/* ---- shared mappings ---------------------------------------------------------- */

/* One object (file, shmem inode) the tree maps shared. */
struct shobj {
	unsigned int major, minor;
	unsigned long long inode;
	bool anon;
	unsigned long size;		/* of the tree's first mapping */
	const char *name;		/* arena: the path as the tree's maps show it */
	struct leak *lk;
	pid_t last;			/* the last outside process counted */
};

struct memscan {
	struct host_scan *s;
	struct shobj *v;
	size_t n, cap;
};

static int cmp_key(unsigned int ma, unsigned int mi, unsigned long long ino, const struct shobj *o)
{
	if (ma != o->major)
		return ma < o->major ? -1 : 1;
	if (mi != o->minor)
		return mi < o->minor ? -1 : 1;
	return ino < o->inode ? -1 : ino > o->inode;
}

static int cmp_shobj(const void *a, const void *b)
{
	const struct shobj *x = a;

	return cmp_key(x->major, x->minor, x->inode, b);
}

static struct shobj *shobj_find(const struct memscan *ms, const struct maps_line *m, bool sorted)
{
	struct shobj key = { .major = m->major, .minor = m->minor, .inode = m->inode };

	if (sorted)
		return bsearch(&key, ms->v, ms->n, sizeof(*ms->v), cmp_shobj);
	for (size_t i = 0; i < ms->n; i++)
		if (!cmp_shobj(&key, &ms->v[i]))
			return &ms->v[i];
	return NULL;
}

/* "PATH (MAJ:MIN inode INO)", a long path cut to fit, control characters as '?'. */
static void file_resource(const struct maps_line *m, char *buf, size_t len)
{
	char tail[80];
	int nt = snprintf(tail, sizeof(tail), " (%u:%u inode %llu)", m->major, m->minor, m->inode);
	size_t room = len - 1 - nt, np = m->path_len;

	if (np > room)
		np = room - 3;
	memcpy(buf, m->path, np);
	for (size_t i = 0; i < np; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	snprintf(buf + np, len - np, "%s%s", np < m->path_len ? "..." : "", tail);
}

static struct shobj *shobj_add(struct memscan *ms, const struct maps_line *m, bool anon)
{
	char resource[MAX_RESOURCE_LEN];
	struct shobj *o;

	if (array_grow((void **)&ms->v, &ms->cap, ms->n + 1, sizeof(*ms->v)))
		return NULL;
	if (anon)
		snprintf(resource, sizeof(resource), "shared anonymous memory (inode %llu)", m->inode);
	else
		file_resource(m, resource, sizeof(resource));
	o = &ms->v[ms->n++];
	*o = (struct shobj){ .major = m->major, .minor = m->minor, .inode = m->inode, .anon = anon,
			     .size = m->end - m->start, .lk = leak_get(ms->s, LK(SHARED_MEMORY), resource) };
	o->name = arena_printf("%.*s", (int)m->path_len, m->path);
	return o;
}

static void tree_mapping(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct memscan *ms = arg;
	enum map_class c = map_class(m);
	struct leak_holder h;
	struct shobj *o;
	char how[96];

	if (c != MC_FILE && c != MC_ANON)
		return;
	/*
	 * A file the tree maps shared but cannot write through the mapping is
	 * no more shared than any file it reads (gconv-modules.cache is so in
	 * nearly every process): the restored tree maps it again as it is.
	 */
	if (c == MC_FILE && m->perms[1] != 'w')
		return;
	o = shobj_find(ms, m, false);
	if (!o)
		o = shobj_add(ms, m, c == MC_ANON);
	if (!o)
		return;
	h = map_holder(m, how, sizeof(how), "mapped");
	leak_hold(ms->s, o->lk, p->pid, &h);
}

static void outside_mapping(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct memscan *ms = arg;
	enum map_class c = map_class(m);
	struct shobj *o;

	if (c != MC_FILE && c != MC_ANON)
		return;
	o = shobj_find(ms, m, true);
	if (o)
		hold_outside(ms->s, o->lk, &o->last, p, m, "mapped");
}

static void shobj_text(struct shobj *o)
{
	struct leak *lk = o->lk;
	size_t n = leak_outside_total(lk);

	if (o->anon) {
		lk->summary = arena_printf("shared anonymous memory (%s, %lu KiB as the tree maps it), mapped by %zu "
					   "process%s outside the tree too", o->name, o->size >> 10, n,
					   plural(n, "", "es"));
		lk->risk = "Saved with the tree: a restore makes a private copy of it, so the restored tree and "
			   "the outside processes no longer see each other's writes.";
		lk->criu = "CRIU saves its contents as the tree's own and a restore maps a private copy; nothing "
			   "warns.";
		lk->default_policy = LP(FAIL);
		leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
		leak_choice(lk, LP(WARN), "", "CRIU saves it as the tree's and the restored tree gets a private "
			    "copy; the checkpoint is flagged with it");
		leak_choice(lk, LP(IGNORE), "", "the same, not flagged");
		return;
	}
	lk->summary = arena_printf("%s, mapped shared and writable (MAP_SHARED) by the tree, and mapped by %zu "
				   "process%s outside it", o->name, n, plural(n, "", "es"));
	lk->risk = "The file is the memory: the checkpoint does not hold its contents. A restore maps the file as "
		   "it is then: what outside processes write to it meanwhile, or wrote while the tree was being "
		   "dumped, is what the restored tree sees.";
	lk->criu = "CRIU dumps the mapping by its path and leaves the pages in the file; nothing warns.";
	lk->default_policy = LP(WARN);
	leak_choice(lk, LP(WARN), "", "the file stays the storage; the checkpoint is flagged with it");
	leak_choice(lk, LP(IGNORE), "", "the same, not flagged");
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
}

int detect_shared_memory(struct host_scan *s, struct herr *e)
{
	struct memscan ms = { .s = s };
	struct mapbuf b = { 0 };

	(void)e;
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].in_tree && !host_proc_hollow(&s->procs[i]))
			read_each_shared(&b, &s->procs[i], tree_mapping, &ms);
	if (!ms.n)
		goto out;	/* nothing the tree maps shared: outside maps are not read */
	qsort(ms.v, ms.n, sizeof(*ms.v), cmp_shobj);
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		if (host_proc_outsider(p))
			read_each_shared(&b, p, outside_mapping, &ms);
	}
	for (size_t i = 0; i < ms.n; i++)
		shobj_text(&ms.v[i]);
out:
	free(ms.v);
	free(b.p);
	return 0;
}

/* ---- SysV IPC ------------------------------------------------------------------ */

struct sysv_set {
	struct sysv_line l;
	pid_t users[MAX_SEM_USERS];	/* sem: the last pid to operate on each semaphore */
	size_t nusers;
};

/* What the tree's IPC namespace holds. */
struct sysv_view {
	struct sysv_set *shm, *sem, *msg;
	size_t nshm, nsem, nmsg;
	bool read;			/* false: the namespace could not be read */
};

static void sysv_view_free(struct sysv_view *v)
{
	free(v->shm);
	free(v->sem);
	free(v->msg);
}

static int read_sysv(const char *path, int (*parse)(const char *, struct sysv_line *), struct sysv_set **v,
		     size_t *n)
{
	char *buf = NULL, *line, *save = NULL;
	size_t cap = 0;
	int ret = -1;

	if (read_file(path, &buf, NULL, MAX_SYSV_BYTES))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sysv_line l;

		if (parse(line, &l))
			continue;	/* the header */
		if (array_grow((void **)v, &cap, *n + 1, sizeof(**v)))
			goto out;
		memset(&(*v)[*n], 0, sizeof(**v));
		(*v)[(*n)++].l = l;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* The last pid to operate on each semaphore of the set (a few, distinct). */
static void sem_users(struct sysv_set *set, size_t *budget)
{
	for (unsigned long long i = 0; i < set->l.size && *budget && set->nusers < MAX_SEM_USERS; i++) {
		int pid = semctl(set->l.id, (int)i, GETPID);
		bool known = false;

		(*budget)--;
		for (size_t j = 0; j < set->nusers; j++)
			known |= set->users[j] == pid;
		if (pid > 0 && !known)
			set->users[set->nusers++] = pid;
	}
}

/* Reads the IPC namespace the helper is in: shm, and sem and msg when all (what fails is left empty). */
static void sysv_read_here(bool all, struct sysv_view *v)
{
	size_t budget = MAX_SEM_ASKED;

	v->read = !read_sysv("/proc/sysvipc/shm", parse_sysv_shm, &v->shm, &v->nshm);
	if (!all)
		return;
	read_sysv("/proc/sysvipc/sem", parse_sysv_sem, &v->sem, &v->nsem);
	read_sysv("/proc/sysvipc/msg", parse_sysv_msg, &v->msg, &v->nmsg);
	for (size_t i = 0; i < v->nsem; i++)
		sem_users(&v->sem[i], &budget);
}

/*
 * Reads the IPC namespace of root: /proc/sysvipc and semctl show the
 * caller's, so the helper enters root's for the reading when it is not its
 * own, and comes back. -1 only when it could not come back (e is set).
 */
static int sysv_read(pid_t root, bool own, bool all, struct sysv_view *v, struct herr *e)
{
	int self;

	if (own) {
		sysv_read_here(all, v);
		return 0;
	}
	self = ns_enter(root, "ipc", CLONE_NEWIPC, 0);
	if (self < 0)
		return 0;	/* gone, or no privilege: v->read stays false */
	sysv_read_here(all, v);
	if (ns_leave(self, CLONE_NEWIPC)) {
		herr_set(e, EC(INTERNAL), errno, "the helper entered process %d's IPC namespace to read its SysV "
			 "objects and could not come back to its own: %s", root, strerror(errno));
		return -1;
	}
	return 0;
}

/* A SysV shm mapping of a tree process. */
struct sysv_att {
	int shmid;
	pid_t pid;
	struct maps_line m;
};

/* One segment the tree has attached. */
struct sysv_seg {
	int shmid;
	const struct sysv_set *set;	/* NULL when the namespace could not be read */
	size_t tree;			/* the tree's attachments */
	bool outside;			/* attached more times than the tree does */
	size_t found;			/* outside attachments found */
	struct leak *lk;
	pid_t last;			/* the last outside process counted */
	pid_t first_pid;		/* the tree's first attacher, and where */
	unsigned long first_at;
};

struct sysvscan {
	struct host_scan *s;
	uint64_t ipc;			/* the tree's IPC namespace */
	bool own;			/* it is the helper's (and so CRIU's) own */
	size_t outsiders;		/* outside processes in it */
	struct sysv_view view;
	struct sysv_att *att;
	size_t natt, cap_att;
	struct sysv_seg *seg;
	size_t nseg;
	pid_t *hinted;			/* outside processes read first */
	size_t nhinted;
	bool nomem;
};

static void tree_attachment(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct sysvscan *ss = arg;

	if (map_class(m) != MC_SYSV || ss->nomem)
		return;
	if (array_grow((void **)&ss->att, &ss->cap_att, ss->natt + 1, sizeof(*ss->att))) {
		ss->nomem = true;
		return;
	}
	ss->att[ss->natt++] = (struct sysv_att){ .shmid = (int)m->inode, .pid = p->pid, .m = *m };
	ss->att[ss->natt - 1].m.path = NULL;	/* points into the maps buffer */
	ss->att[ss->natt - 1].m.path_len = 0;
}

static int cmp_att(const void *a, const void *b)
{
	const struct sysv_att *x = a, *y = b;

	return (x->shmid > y->shmid) - (x->shmid < y->shmid);
}

static const struct sysv_set *find_set(const struct sysv_set *v, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].l.id == id)
			return &v[i];
	return NULL;
}

static struct sysv_seg *find_seg(const struct sysvscan *ss, int shmid)
{
	for (size_t i = 0; i < ss->nseg; i++)
		if (ss->seg[i].shmid == shmid)
			return &ss->seg[i];
	return NULL;
}

static void outside_attachment(void *arg, const struct host_proc *p, const struct maps_line *m)
{
	struct sysvscan *ss = arg;
	struct sysv_seg *g;

	if (map_class(m) != MC_SYSV)
		return;
	g = find_seg(ss, (int)m->inode);
	if (!g || !g->lk)
		return;
	g->found++;
	hold_outside(ss->s, g->lk, &g->last, p, m, "attached");
}

static void shm_text(const struct sysvscan *ss, struct sysv_seg *g)
{
	struct leak *lk = g->lk;
	size_t n = leak_outside_total(lk);

	if (g->set)
		lk->summary = arena_printf("SysV shared memory segment %d (key 0x%08x, %llu bytes), attached %llu "
					   "time%s: %zu by the tree%s", g->shmid, (unsigned int)g->set->l.key,
					   g->set->l.size, g->set->l.count, plural(g->set->l.count, "", "s"),
					   g->tree, n ? arena_printf(", by %zu process%s outside it", n,
								     plural(n, "", "es")) : "");
	else
		lk->summary = arena_printf("SysV shared memory segment %d, attached %zu time%s by the tree (its "
					   "attachments outside could not be counted: the helper could not enter "
					   "the tree's IPC namespace)", g->shmid, g->tree, plural(g->tree, "", "s"));
	if (g->outside)
		lk->risk = "Outside processes use the same memory: a restore gives the tree a copy of the segment, "
			   "and writes no longer reach the other side.";
	else
		lk->risk = arena_printf("It belongs to an IPC namespace that is not the tree's alone (%zu process%s "
					"outside the tree %s in it): a restore cannot bring the tree back to it.",
					ss->outsiders, plural(ss->outsiders, "", "es"),
					plural(ss->outsiders, "is", "are"));
	if (ss->own)
		lk->criu = arena_printf("CRIU refuses the dump: \"Task %d with SysVIPC shmem map @%lx doesn't live "
					"in IPC ns\" (the namespace is CRIU's own, which it does not dump).",
					g->first_pid, g->first_at);
	else
		lk->criu = "CRIU dumps the tree's IPC namespace whole, this segment's contents included; a restore "
			   "creates a new namespace with a copy; nothing warns.";
	lk->default_policy = LP(FAIL);
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
}

/* The segments the tree has attached that are leaks, with their inside holders. */
static int shm_segments(struct sysvscan *ss)
{
	bool outside = false;

	qsort(ss->att, ss->natt, sizeof(*ss->att), cmp_att);
	ss->seg = calloc(ss->natt + 1, sizeof(*ss->seg));
	if (!ss->seg)
		return -1;
	for (size_t i = 0; i < ss->natt; i++) {
		struct sysv_seg *g = ss->nseg ? &ss->seg[ss->nseg - 1] : NULL;

		if (!g || g->shmid != ss->att[i].shmid) {
			g = &ss->seg[ss->nseg++];
			g->shmid = ss->att[i].shmid;
			g->set = find_set(ss->view.shm, ss->view.nshm, g->shmid);
			g->first_pid = ss->att[i].pid;
			g->first_at = ss->att[i].m.start;
		}
		g->tree++;
	}
	for (size_t i = 0; i < ss->nseg; i++) {
		struct sysv_seg *g = &ss->seg[i];

		g->outside = g->set && g->set->l.count > g->tree;
		outside |= g->outside;
		if (!g->outside && !ss->outsiders && !ss->own)
			continue;	/* the tree's own, in a namespace of its own */
		if (ss->view.read && !g->set)
			continue;	/* gone meanwhile */
		g->lk = leak_get(ss->s, LK(SYSV_SHM), arena_printf("shmid %d", g->shmid));
		g->lk->standalone = true;
	}
	for (size_t i = 0; i < ss->natt; i++) {
		struct sysv_seg *g = find_seg(ss, ss->att[i].shmid);
		struct leak_holder h;
		char how[96];

		if (!g->lk)
			continue;
		h = map_holder(&ss->att[i].m, how, sizeof(how), "attached");
		leak_hold(ss->s, g->lk, ss->att[i].pid, &h);
	}
	return outside;
}

static bool outside_in_ns(const struct sysvscan *ss, const struct host_proc *p)
{
	return p && host_proc_outsider(p) && p->ns[NS_IPC] == ss->ipc;
}

static bool was_hinted(const struct sysvscan *ss, pid_t pid)
{
	for (size_t i = 0; i < ss->nhinted; i++)
		if (ss->hinted[i] == pid)
			return true;
	return false;
}

/*
 * Reads first the outside processes /proc/sysvipc/shm names as the creator
 * and the last user of each segment attached outside: often they are every
 * outside attacher. True when they account for all outside attachments.
 */
static bool outside_hinted(struct sysvscan *ss, struct mapbuf *b)
{
	bool all = true;

	ss->hinted = calloc(2 * ss->nseg + 1, sizeof(*ss->hinted));
	if (!ss->hinted)
		return false;
	for (size_t i = 0; i < ss->nseg; i++) {
		const struct sysv_seg *g = &ss->seg[i];
		pid_t cand[2] = { g->set ? g->set->l.pid_a : 0, g->set ? g->set->l.pid_b : 0 };

		for (int j = 0; j < 2 && g->outside; j++) {
			const struct host_proc *p = host_find(ss->s, cand[j]);

			if (!outside_in_ns(ss, p) || was_hinted(ss, p->pid))
				continue;
			ss->hinted[ss->nhinted++] = p->pid;
			read_each_shared(b, p, outside_attachment, ss);
		}
	}
	for (size_t i = 0; i < ss->nseg; i++)
		all &= !ss->seg[i].outside || ss->seg[i].found >= ss->seg[i].set->l.count - ss->seg[i].tree;
	return all;
}

static void detect_shm(struct sysvscan *ss)
{
	struct host_scan *s = ss->s;
	struct mapbuf b = { 0 };
	bool any = !ss->view.read;

	for (size_t i = 0; i < ss->view.nshm; i++)
		any |= ss->view.shm[i].l.count > 0;
	if (!any)
		return;		/* no segment is attached anywhere: the tree's maps are not read */
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct host_proc *p = &s->procs[i];

		if (p->in_tree && !host_proc_hollow(p) && p->ns[NS_IPC] == ss->ipc)
			read_each_shared(&b, p, tree_attachment, ss);
	}
	if (ss->natt && shm_segments(ss) > 0 && !outside_hinted(ss, &b)) {
		/* some segment is attached outside: find where (its shmids are this namespace's) */
		for (size_t i = 0; i < s->nprocs; i++) {
			const struct host_proc *p = &s->procs[i];

			if (outside_in_ns(ss, p) && !was_hinted(ss, p->pid))
				read_each_shared(&b, p, outside_attachment, ss);
		}
	}
	for (size_t i = 0; i < ss->nseg; i++)
		if (ss->seg[i].lk)
			shm_text(ss, &ss->seg[i]);
	free(b.p);
}

static void ipc_object_text(const struct sysvscan *ss, struct leak *lk, const char *what)
{
	if (ss->own) {
		lk->risk = arena_printf("Not in the checkpoint: a restored tree finds the %s as it is then, or not at "
					"all if it was removed meanwhile; its state during the dump is not saved.", what);
		lk->criu = arena_printf("CRIU does not dump it: the IPC namespace is CRIU's own, not the tree's; "
					"nothing warns.");
	} else {
		lk->risk = arena_printf("Saved with the tree's IPC namespace: a restore creates a copy of the %s the "
					"outside processes do not share.", what);
		lk->criu = arena_printf("CRIU dumps the tree's IPC namespace whole, this %s included; nothing warns.",
					what);
	}
	lk->standalone = true;
	lk->default_policy = LP(WARN);
	leak_choice(lk, LP(WARN), "", "CRIU handles it as it does by itself; the checkpoint is flagged with it");
	leak_choice(lk, LP(IGNORE), "", "the same, not flagged");
	leak_choice(lk, LP(FAIL), "", "the checkpoint is refused");
}

static void detect_sem_msg(struct sysvscan *ss)
{
	struct host_scan *s = ss->s;
	size_t n = ss->outsiders;

	for (size_t i = 0; i < ss->view.nsem; i++) {
		const struct sysv_set *set = &ss->view.sem[i];
		struct leak *lk = leak_get(s, LK(SYSV_SEM), arena_printf("semid %d", set->l.id));
		struct leak_holder h = { .how = "operated last on one of its semaphores" };

		for (size_t j = 0; j < set->nusers; j++)
			leak_hold(s, lk, set->users[j], &h);
		lk->summary = arena_printf("SysV semaphore set %d (key 0x%08x, %llu semaphore%s) of an IPC namespace "
					   "the tree shares with %zu process%s outside it", set->l.id,
					   (unsigned int)set->l.key, set->l.size, plural(set->l.size, "", "s"), n,
					   plural(n, "", "es"));
		ipc_object_text(ss, lk, "semaphore set");
	}
	for (size_t i = 0; i < ss->view.nmsg; i++) {
		const struct sysv_set *q = &ss->view.msg[i];
		struct leak *lk = leak_get(s, LK(SYSV_MSG), arena_printf("msqid %d", q->l.id));
		struct leak_holder snd = { .how = "sent the last message" }, rcv = { .how = "received the last message" };

		if (q->l.pid_a > 0)
			leak_hold(s, lk, q->l.pid_a, &snd);
		if (q->l.pid_b > 0 && q->l.pid_b != q->l.pid_a)
			leak_hold(s, lk, q->l.pid_b, &rcv);
		lk->summary = arena_printf("SysV message queue %d (key 0x%08x, %llu message%s, %llu bytes queued) of "
					   "an IPC namespace the tree shares with %zu process%s outside it", q->l.id,
					   (unsigned int)q->l.key, q->l.count, plural(q->l.count, "", "s"),
					   q->l.size, n, plural(n, "", "es"));
		ipc_object_text(ss, lk, "message queue");
	}
}

int detect_sysv(struct host_scan *s, struct herr *e)
{
	const struct host_proc *root = host_find(s, s->root), *self = host_find(s, s->self);
	struct sysvscan ss = { .s = s };
	int ret = 0;

	if (!root || !root->ns[NS_IPC])
		return 0;
	ss.ipc = root->ns[NS_IPC];
	ss.own = self && self->ns[NS_IPC] == ss.ipc;
	ss.outsiders = host_ns_outsiders(s, NS_IPC, ss.ipc);
	/* semaphores and queues are leaks only in a namespace that is not the tree's alone */
	if (sysv_read(root->pid, ss.own, ss.outsiders || ss.own, &ss.view, e)) {
		ret = -1;
		goto out;
	}
	detect_shm(&ss);
	if (ss.outsiders || ss.own)
		detect_sem_msg(&ss);
out:
	sysv_view_free(&ss.view);
	free(ss.att);
	free(ss.seg);
	free(ss.hinted);
	return ret;
}
