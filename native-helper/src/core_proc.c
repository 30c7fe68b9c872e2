/* SPDX-License-Identifier: MIT */
/* One process of a checkpoint as its images describe it, for its core file. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_proc.h"
#include "image_entries.h"
#include "lists.h"
#include "pagemap.h"
#include "util.h"
#include "wire.h"

typedef Checkpoint__Criu__V1__ProcessTreeEntry PstreeEntry;
typedef Checkpoint__Criu__V1__RegularFile RegFile;
typedef Checkpoint__Criu__V1__MemfdInode MemfdInode;

#define ARCH(x) CHECKPOINT__CRIU__V1__ARCH__ARCH_##x
#define TASK_ALIVE 1
#define TASK_STOPPED 3
/* A thread id as the kernel makes them (PID_MAX_LIMIT). */
#define MAX_PID 4194304u
/* Memory areas of one process: sixteen times Linux's default limit (vm.max_map_count, 65,530). */
#define MAX_VMAS (1u << 20)
#define MM_VMAS_FIELD 14

/* What files.img (and memfd.img) say of a file id that a memory area names. */
struct file_ix {
	uint32_t id;
	const char *path;	/* a regular file: in p->strings */
	uint64_t size;
	const uint8_t *build_id;	/* in p->strings too */
	size_t build_id_len;
	bool memfd;
	uint32_t memfd_inode;
};

struct files {
	struct file_ix *v;
	size_t n, cap;
};

static int nomem(struct herr *e)
{
	herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
	return -1;
}

/* A copy of len bytes at s kept with the process (freed by core_proc_free), NUL after them; NULL when out of memory. */
static const char *keep(struct core_proc *p, const void *s, size_t len)
{
	char *copy;

	if (array_grow((void **)&p->strings, &p->strings_cap, p->nstrings + 1, sizeof(*p->strings)))
		return NULL;
	copy = malloc(len + 1);
	if (copy) {
		memcpy(copy, s, len);
		copy[len] = '\0';
		p->strings[p->nstrings++] = copy;
	}
	return copy;
}

/* ---- the process tree ------------------------------------------------------ */

/* Adds pid to list ("104, 110, 111", for a refusal), or "..." once it is full. */
static void note_pid(char *list, size_t len, uint32_t pid)
{
	size_t used = strlen(list);

	if (used + 16 < len)
		snprintf(list + used, len - used, "%s%u", used ? ", " : "", pid);
	else if (used + 4 < len && (used < 3 || strcmp(list + used - 3, "...")))
		snprintf(list + used, len - used, "...");
}

/* Entry t of the tree when it is pid's (0: the root, the first), with a copy of its threads in *tids. */
static int take_entry(const PstreeEntry *t, pid_t pid, struct core_proc *p, uint32_t **tids, size_t *ntids,
		      char *pids, size_t len, struct herr *e)
{
	note_pid(pids, len, t->pid);
	if (!t->pid || (t->pid != (uint32_t)pid && pid))
		return 0;
	/* every process has its leader thread: an entry of none is damage, not an empty copy */
	if (t->pid > MAX_PID || !t->n_threads || t->n_threads > MAX_PID) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's pstree.img has a process that cannot be "
			 "(pid %u, %zu threads)", t->pid, t->n_threads);
		return -1;
	}
	p->pid = t->pid;
	p->ppid = t->ppid;
	p->pgid = t->pgid;
	p->sid = t->sid;
	*ntids = t->n_threads;
	*tids = malloc((*ntids + 1) * sizeof(**tids));
	if (!*tids)
		return nomem(e);
	memcpy(*tids, t->threads, *ntids * sizeof(**tids));
	return 0;
}

/* The tree's entry of pid (0: the root, the first entry), a copy of its threads in *tids. */
static int find_in_tree(int dirfd, pid_t pid, struct core_proc *p, uint32_t **tids, size_t *ntids,
			struct herr *e)
{
	ProtobufCMessage *m;
	struct image_buf b;
	char pids[256] = "";
	int r = image_load(dirfd, "pstree.img", IMG_PSTREE_MAGIC, &b, e);

	while (!r && !p->pid && (r = image_next_msg(&b, &checkpoint__criu__v1__process_tree_entry__descriptor, &m,
						     e)) > 0) {
		r = take_entry((const PstreeEntry *)m, pid, p, tids, ntids, pids, sizeof(pids), e);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	image_release(&b);
	if (r == 0 && !p->pid)
		herr_set(e, EC(NOT_FOUND), ESRCH, "the checkpoint holds no process %d; its processes are %s", pid,
			 pids[0] ? pids : "none");
	return r == 0 && p->pid ? 0 : -1;
}

/* ---- threads --------------------------------------------------------------- */

static const char *arch_name(int mtype)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&checkpoint__criu__v1__arch__descriptor,
									    mtype);

	return v ? v->name + 5 : "an unknown architecture";	/* past "ARCH_" */
}

static int check_thread(const struct core_proc *p, pid_t tid, const CoreEntry *c, struct herr *e)
{
	if (c->mtype != ARCH(X86_64)) {
		herr_set(e, EC(UNSUPPORTED), ENOTSUP, "process %d was checkpointed on %s; core files are written "
			 "for x86_64 processes only", p->pid, arch_name(c->mtype));
		return -1;
	}
	if (!c->thread_info || !c->thread_info->gpregs) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's core-%d.img holds no registers", tid);
		return -1;
	}
	if (c->thread_info->gpregs->has_mode &&
	    c->thread_info->gpregs->mode == CHECKPOINT__CRIU__V1__X86_REGS_MODE__X86_REGS_MODE_COMPAT) {
		herr_set(e, EC(UNSUPPORTED), ENOTSUP, "process %d is a 32-bit program (thread %d ran in compat "
			 "mode); core files are written for 64-bit processes only", p->pid, tid);
		return -1;
	}
	return 0;
}

/* The task-wide part: a live (running or stopped) process's. */
static int check_task(const struct core_proc *p, const CoreEntry *c, struct herr *e)
{
	if (!c->tc) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's core-%d.img has no task state", p->pid);
		return -1;
	}
	if (c->tc->task_state != TASK_ALIVE && c->tc->task_state != TASK_STOPPED) {
		herr_set(e, EC(UNSUPPORTED), ENOTSUP, "process %d was %s when it was checkpointed: it has no memory "
			 "or registers to write into a core", p->pid,
			 c->tc->task_state == 2 ? "a zombie" : "no live process (a helper task of CRIU)");
		return -1;
	}
	return 0;
}

/* core-<tid>.img of every thread, the leader's first: whether the process is alive, then each thread's registers. */
static int load_threads(int dirfd, struct core_proc *p, const uint32_t *tids, size_t n, struct herr *e)
{
	char name[40];

	p->threads = calloc(n + 1, sizeof(*p->threads));
	if (!p->threads)
		return nomem(e);
	p->threads[p->nthreads++].tid = p->pid;
	for (size_t i = 0; i < n; i++) {
		if (tids[i] == (uint32_t)p->pid)
			continue;
		if (!tids[i] || tids[i] > MAX_PID) {
			herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's pstree.img gives process %d a thread "
				 "%u, which cannot be", p->pid, tids[i]);
			return -1;
		}
		p->threads[p->nthreads++].tid = tids[i];
	}
	for (size_t i = 0; i < p->nthreads; i++) {
		struct core_thread *t = &p->threads[i];

		snprintf(name, sizeof(name), "core-%d.img", t->tid);
		t->core = (CoreEntry *)image_read_one(dirfd, name, IMG_CORE_MAGIC,
						      &checkpoint__criu__v1__core__descriptor, e);
		if (!t->core || (i == 0 && check_task(p, t->core, e)) || check_thread(p, t->tid, t->core, e))
			return -1;
	}
	return 0;
}

const Checkpoint__Criu__V1__TaskCore *core_proc_task(const struct core_proc *p)
{
	return p->threads[0].core->tc;
}

/* ---- files ----------------------------------------------------------------- */

static struct file_ix *add_file(struct files *f, uint32_t id, struct herr *e)
{
	if (array_grow((void **)&f->v, &f->cap, f->n + 1, sizeof(*f->v))) {
		nomem(e);
		return NULL;
	}
	f->v[f->n] = (struct file_ix){ .id = id };
	return &f->v[f->n++];
}

/* A regular file: its path, size and build-id (its bytes, from the little-endian words CRIU keeps). */
static int add_reg_file(struct core_proc *p, struct files *f, const RegFile *rf, uint32_t id, struct herr *e)
{
	uint8_t bid[64];
	struct file_ix *fx;

	if (!rf->name)
		return 0;
	fx = add_file(f, id, e);
	if (!fx || !(fx->path = keep(p, rf->name, strlen(rf->name))))
		return fx ? nomem(e) : -1;
	fx->size = rf->has_size ? rf->size : 0;
	if (!rf->n_build_id || rf->n_build_id > sizeof(bid) / 4)
		return 0;
	for (size_t i = 0; i < rf->n_build_id; i++)
		put_le32(bid + 4 * i, rf->build_id[i]);
	fx->build_id_len = 4 * rf->n_build_id;
	fx->build_id = (const uint8_t *)keep(p, bid, fx->build_id_len);
	return fx->build_id ? 0 : nomem(e);
}

/* The files of p's checkpoint a core needs: regular ones (path, size, build-id) and memfds. */
struct files_ctx {
	struct core_proc *p;
	struct files *f;
};

static int add_entry_file(const RegFile *reg, const Checkpoint__Criu__V1__MemfdFile *memfd, uint32_t id, void *arg,
			  struct herr *e)
{
	struct files_ctx *c = arg;
	struct file_ix *fx;

	if (reg)
		return add_reg_file(c->p, c->f, reg, id, e);
	fx = add_file(c->f, id, e);
	if (!fx)
		return -1;
	fx->memfd = true;
	fx->memfd_inode = memfd->inode_id;
	return 0;
}

static int load_files(int dirfd, struct core_proc *p, struct files *f, struct herr *e)
{
	struct files_ctx c = { .p = p, .f = f };

	return image_files_each(dirfd, add_entry_file, &c, e) ? -1 : 0;
}

static int cmp_file(const void *a, const void *b)
{
	const struct file_ix *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct file_ix *file_of(const struct files *f, uint64_t id)
{
	struct file_ix key = { .id = (uint32_t)id };

	if (id > UINT32_MAX || !f->n)
		return NULL;
	return bsearch(&key, f->v, f->n, sizeof(*f->v), cmp_file);
}

/*
 * The shared memory object of a memfd (memfd.img): 1 with *shmid, 0 when
 * the images name none, -1 when memfd.img is damaged.
 */
static int memfd_shmid(int dirfd, uint32_t inode, uint64_t *shmid, struct herr *e)
{
	ProtobufCMessage *m;
	struct image_buf b;
	int found = 0, r = image_load(dirfd, "memfd.img", IMG_MEMFD_INODE_MAGIC, &b, e);

	while (!r && !found && (r = image_next_msg(&b, &checkpoint__criu__v1__memfd_inode__descriptor, &m, e)) > 0) {
		const MemfdInode *mi = (const MemfdInode *)m;

		if (mi->inode_id == inode && mi->has_shmid) {
			*shmid = mi->shmid;
			found = 1;
		}
		protobuf_c_message_free_unpacked(m, NULL);
		r = 0;
	}
	image_release(&b);
	if (r && e->errnum == ENOENT)
		return 0;
	return r < 0 ? -1 : found;
}

/* ---- memory areas ------------------------------------------------------------ */

typedef Checkpoint__Criu__V1__Vma Vma;

static int check_vma(const struct core_proc *p, const Vma *v, uint64_t prev_end, struct herr *e)
{
	if (v->has_start && v->has_end && v->start < v->end && !(v->start % PAGE_BYTES) && !(v->end % PAGE_BYTES) &&
	    v->start >= prev_end && !(v->pgoff % PAGE_BYTES) && v->pgoff <= UINT64_MAX - (v->end - v->start))
		return 0;
	herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's mm-%d.img has a memory area that cannot be: "
		 "%#llx-%#llx at offset %#llx, after one that ends at %#llx", p->pid, (unsigned long long)v->start,
		 (unsigned long long)v->end, (unsigned long long)v->pgoff, (unsigned long long)prev_end);
	return -1;
}

/* Where a file-backed area's pages are, and the file's path for NT_FILE. */
static int classify_file(int dirfd, const struct core_proc *p, const struct files *f, const Vma *v,
			 struct core_vma *cv, struct herr *e)
{
	const struct file_ix *fx = file_of(f, v->shmid);
	int found;

	if (!fx) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's mm-%d.img maps file %llu at %#llx, which "
			 "its files.img does not have", p->pid, (unsigned long long)v->shmid,
			 (unsigned long long)v->start);
		return -1;
	}
	cv->path = fx->path;
	cv->file_size = fx->size;
	cv->build_id = fx->build_id;
	cv->build_id_len = fx->build_id_len;
	if (!fx->memfd || !(v->status & VMA_FILE_SHARED))
		return 0;
	found = memfd_shmid(dirfd, fx->memfd_inode, &cv->shmid, e);
	if (found > 0)
		cv->pages = VMA_PAGES_SHARED;
	return found < 0 ? -1 : 0;
}

static int classify(int dirfd, const struct core_proc *p, const struct files *f, const Vma *v, struct core_vma *cv,
		    struct herr *e)
{
	*cv = (struct core_vma){ .start = v->start, .end = v->end, .pgoff = v->pgoff, .prot = v->prot & 7,
				 .status = v->status, .pages = VMA_PAGES_OWN };
	if (v->status & (VMA_AREA_VVAR | VMA_AREA_VSYSCALL)) {
		cv->pages = VMA_PAGES_NONE;
		return 0;
	}
	if (v->status & (VMA_ANON_SHARED | VMA_AREA_SYSVIPC)) {
		cv->pages = VMA_PAGES_SHARED;
		cv->shmid = v->shmid;
		return 0;
	}
	if (!(v->status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED | VMA_AREA_MEMFD)))
		return 0;
	return classify_file(dirfd, p, f, v, cv, e);
}

/*
 * mm-<pid>.img, its areas counted on the wire first: more than Linux lets a
 * process have many times over is refused before they are decoded.
 */
static MmEntry *read_mm(int dirfd, const struct core_proc *p, struct herr *e)
{
	ProtobufCMessage *m = NULL;
	struct image_buf b;
	const uint8_t *msg;
	char name[40];
	size_t n = 0, areas;
	int r;

	snprintf(name, sizeof(name), "mm-%d.img", p->pid);
	r = image_load(dirfd, name, IMG_MM_MAGIC, &b, e);
	if (!r && (r = image_next(&b, &msg, &n, e)) == 0)
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s holds no entry", name);
	areas = r > 0 ? image_field_count(msg, n, MM_VMAS_FIELD) : 0;
	if (r > 0 && areas != SIZE_MAX && areas > MAX_VMAS)
		herr_set(e, EC(IMAGE_DAMAGED), E2BIG, "the checkpoint's %s says process %d had %zu memory areas; more "
			 "than %u cannot be", name, p->pid, areas, MAX_VMAS);
	else if (r > 0 && (areas == SIZE_MAX ||
			   !(m = protobuf_c_message_unpack(&checkpoint__criu__v1__memory_map__descriptor, NULL, n, msg))))
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's %s has an entry that does not decode", name);
	image_release(&b);
	return (MmEntry *)m;
}

/* mm-<pid>.img: the areas (sorted, disjoint, page-aligned, or refused) and the program. */
static int load_memory(int dirfd, struct core_proc *p, const struct files *f, struct herr *e)
{
	const struct file_ix *exe;

	p->mm = read_mm(dirfd, p, e);
	if (!p->mm)
		return -1;
	p->vmas = calloc(p->mm->n_vmas + 1, sizeof(*p->vmas));
	if (!p->vmas)
		return nomem(e);
	for (size_t i = 0; i < p->mm->n_vmas; i++, p->nvmas++) {
		const Vma *v = p->mm->vmas[i];

		if (check_vma(p, v, i ? p->vmas[i - 1].end : 0, e) || classify(dirfd, p, f, v, &p->vmas[i], e))
			return -1;
	}
	exe = p->mm->has_exe_file_id ? file_of(f, p->mm->exe_file_id) : NULL;
	p->exe = exe ? exe->path : NULL;
	return 0;
}

/* ---- the whole ----------------------------------------------------------------- */

int core_proc_load(int dirfd, pid_t pid, struct core_proc *p, struct herr *e)
{
	struct files f = { 0 };
	uint32_t *tids = NULL;
	size_t ntids = 0;
	int ret = -1;

	memset(p, 0, sizeof(*p));
	if (find_in_tree(dirfd, pid, p, &tids, &ntids, e) || load_threads(dirfd, p, tids, ntids, e) ||
	    load_files(dirfd, p, &f, e))
		goto out;
	if (f.n)
		qsort(f.v, f.n, sizeof(*f.v), cmp_file);
	ret = load_memory(dirfd, p, &f, e);
out:
	free(tids);
	free(f.v);
	return ret;
}

void core_proc_free(struct core_proc *p)
{
	for (size_t i = 0; p->threads && i < p->nthreads; i++)
		if (p->threads[i].core)
			checkpoint__criu__v1__core__free_unpacked(p->threads[i].core, NULL);
	if (p->mm)
		checkpoint__criu__v1__memory_map__free_unpacked(p->mm, NULL);
	for (size_t i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	free(p->strings);
	free(p->threads);
	free(p->vmas);
	memset(p, 0, sizeof(*p));
}
