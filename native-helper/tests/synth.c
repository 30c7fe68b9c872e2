/* SPDX-License-Identifier: MIT */
/* A small synthetic checkpoint for the tests of the core writer, and its core files read back. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "criu-images.pb-c.h"
#include "fileio.h"
#include "image_entries.h"
#include "manifest.h"
#include "util.h"
#include "wire.h"
#include "check.h"
#include "service.h"
#include "synth.h"

typedef Checkpoint__Criu__V1__Core Core;
typedef Checkpoint__Criu__V1__Vma Vma;
typedef Checkpoint__Criu__V1__PagemapEntry PagemapEntry;

#define PAGE 4096u
#define ARGS_AT (SYNTH_STACK + 0x3000 - 16)
#define AUXV_TEST_WORDS 600

#define MSG(m) ((ProtobufCMessage *)(m))
#define SET(m, field, v) ((m)->field = (v), (m)->has_##field = 1)

/* ---- writing ------------------------------------------------------------------ */

void synth_file(int dirfd, const char *name, const void *data, size_t len)
{
	CHECK_INT(write_file_at(dirfd, name, data, len), ==, 0);
}

void synth_image(int dirfd, const char *name, uint32_t magic, ProtobufCMessage *const *msgs, size_t n)
{
	size_t len = 8, at = 8;
	uint8_t *buf;

	for (size_t i = 0; i < n; i++)
		len += 4 + protobuf_c_message_get_packed_size(msgs[i]);
	buf = malloc(len);
	put_le32(buf, IMG_COMMON_MAGIC);
	put_le32(buf + 4, magic);
	for (size_t i = 0; i < n; i++) {
		size_t sz = protobuf_c_message_pack(msgs[i], buf + at + 4);

		put_le32(buf + at, (uint32_t)sz);
		at += 4 + sz;
	}
	synth_file(dirfd, name, buf, len);
	free(buf);
}

void synth_page(uint64_t addr, uint8_t *page)
{
	for (size_t i = 0; i < PAGE; i++)
		page[i] = synth_byte(addr, i);
	if (addr == (ARGS_AT & ~(uint64_t)(PAGE - 1)))
		memcpy(page + (ARGS_AT % PAGE), SYNTH_ARGS, sizeof(SYNTH_ARGS));
}

/* The field numbered id of m, a uint64 (a register), set to v. */
static void set_u64(ProtobufCMessage *m, unsigned id, uint64_t v)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(m->descriptor, id);

	*(uint64_t *)((char *)m + f->offset) = v;
	*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
}

static void write_tree(int dirfd)
{
	Checkpoint__Criu__V1__ProcessTreeEntry root = CHECKPOINT__CRIU__V1__PROCESS_TREE_ENTRY__INIT;
	Checkpoint__Criu__V1__ProcessTreeEntry zombie = CHECKPOINT__CRIU__V1__PROCESS_TREE_ENTRY__INIT;
	uint32_t threads[] = { SYNTH_PID, SYNTH_TID }, zthreads[] = { SYNTH_ZOMBIE };
	ProtobufCMessage *v[] = { MSG(&root), MSG(&zombie) };

	SET(&root, pid, SYNTH_PID);
	SET(&root, ppid, 1);
	SET(&root, pgid, 100);
	SET(&root, sid, 90);
	root.threads = threads;
	root.n_threads = 2;
	SET(&zombie, pid, SYNTH_ZOMBIE);
	SET(&zombie, ppid, SYNTH_PID);
	zombie.threads = zthreads;
	zombie.n_threads = 1;
	synth_image(dirfd, "pstree.img", IMG_PSTREE_MAGIC, v, 2);
}

/* Thread 100's FPU state: FXSAVE words and, with ymmh words, AVX. */
static void fill_fpu(Checkpoint__Criu__V1__X86FpuState *f, Checkpoint__Criu__V1__X86XsaveState *x,
		     uint32_t *st, uint32_t *xmm, uint32_t *ymmh, size_t nymmh)
{
	for (size_t i = 0; i < 32; i++)
		st[i] = 0x31000 + i;
	for (size_t i = 0; i < 64; i++)
		xmm[i] = 0x32000 + i;
	for (size_t i = 0; i < nymmh; i++)
		ymmh[i] = 0x33000 + i;
	SET(f, cwd, 0x37f);
	SET(f, swd, 0x1234);
	SET(f, twd, 0x56);
	SET(f, fop, 0x78);
	SET(f, rip, 0x1122334455667788ull);
	SET(f, rdp, 0x99aabbccddeeff00ull);
	SET(f, mxcsr, 0x1f80);
	SET(f, mxcsr_mask, 0xffbf);
	f->st_space = st;
	f->n_st_space = 32;
	f->xmm_space = xmm;
	f->n_xmm_space = 64;
	SET(x, xstate_bv, 0x7);
	x->ymmh_space = ymmh;
	x->n_ymmh_space = nymmh;
	f->xsave = x;
}

/* AVX-512 (and PKRU) words in x, from w (of 200 words at least). */
static void fill_avx512(Checkpoint__Criu__V1__X86XsaveState *x, uint64_t *w, uint32_t *pkru, bool with_pkru)
{
	for (size_t i = 0; i < 200; i++)
		w[i] = i < 8 ? 0x34000 + i : i < 72 ? 0x35000 + i - 8 : 0x36000 + i - 72;
	x->opmask_reg = w;
	x->n_opmask_reg = 8;
	x->zmm_upper = w + 8;
	x->n_zmm_upper = 64;
	x->hi16_zmm = w + 72;
	x->n_hi16_zmm = 128;
	pkru[0] = 0x37000;
	pkru[1] = 0x37001;
	x->pkru = pkru;
	x->n_pkru = with_pkru ? 2 : 0;
}

/* A thread's core image: registers base + field number, and the rest as the caller set it. */
static void write_core(int dirfd, pid_t tid, Core *c, Checkpoint__Criu__V1__X86ThreadInfo *ti,
		       Checkpoint__Criu__V1__X86Registers *gp, uint64_t base, const struct synth_opts *o)
{
	char name[32];
	ProtobufCMessage *v[] = { MSG(c) };

	for (unsigned id = 1; id <= 27; id++)
		set_u64(MSG(gp), id, base + id);
	SET(c, mtype, o->mtype ? o->mtype : CHECKPOINT__CRIU__V1__ARCH__ARCH_X86_64);
	ti->gpregs = gp;
	c->thread_info = ti;
	snprintf(name, sizeof(name), "core-%d.img", tid);
	synth_image(dirfd, name, IMG_CORE_MAGIC, v, 1);
}

/* Thread 100: stopped by SIGSTOP, SIGUSR1 pending, creds, nice -5, FPU and AVX state. */
static void write_leader(int dirfd, const struct synth_opts *o)
{
	Core c = CHECKPOINT__CRIU__V1__CORE__INIT;
	Checkpoint__Criu__V1__X86ThreadInfo ti = CHECKPOINT__CRIU__V1__X86_THREAD_INFO__INIT;
	Checkpoint__Criu__V1__X86Registers gp = CHECKPOINT__CRIU__V1__X86_REGISTERS__INIT;
	Checkpoint__Criu__V1__X86FpuState fp = CHECKPOINT__CRIU__V1__X86_FPU_STATE__INIT;
	Checkpoint__Criu__V1__X86XsaveState xs = CHECKPOINT__CRIU__V1__X86_XSAVE_STATE__INIT;
	Checkpoint__Criu__V1__TaskCore tc = CHECKPOINT__CRIU__V1__TASK_CORE__INIT;
	Checkpoint__Criu__V1__ThreadCore th = CHECKPOINT__CRIU__V1__THREAD_CORE__INIT;
	Checkpoint__Criu__V1__Credentials cr = CHECKPOINT__CRIU__V1__CREDENTIALS__INIT;
	Checkpoint__Criu__V1__SignalQueue q = CHECKPOINT__CRIU__V1__SIGNAL_QUEUE__INIT;
	Checkpoint__Criu__V1__Siginfo si = CHECKPOINT__CRIU__V1__SIGINFO__INIT, *sis[] = { &si };
	uint32_t st[32], xmm[64], ymmh[128], pkru[2];
	uint64_t avx512[200];
	uint8_t info[128] = { 10 };	/* si_signo SIGUSR1 */

	fill_fpu(&fp, &xs, st, xmm, ymmh, o->ymmh_words ? o->ymmh_words : 64);
	if (o->avx512)
		fill_avx512(&xs, avx512, pkru, o->pkru);
	ti.fpregs = &fp;
	SET(&tc, task_state, 3);
	SET(&tc, stop_signo, 19);
	SET(&tc, flags, 0x400040);
	SET(&tc, blk_sigset, 0x4);
	tc.comm = "synth";
	SET(&cr, uid, 1000);
	SET(&cr, gid, 1001);
	SET(&th, sched_nice, -5);
	si.siginfo = (ProtobufCBinaryData){ sizeof(info), info };
	si.has_siginfo = 1;
	q.signals = sis;
	q.n_signals = 1;
	th.signals_p = &q;
	th.creds = &cr;
	c.tc = &tc;
	c.thread_core = &th;
	write_core(dirfd, SYNTH_PID, &c, &ti, &gp, 0x1000, o);
}

/* Thread 101 (FXSAVE only, SIGINT blocked) and process 300, a zombie (no registers, as CRIU writes one). */
static void write_others(int dirfd, const struct synth_opts *o)
{
	Core c = CHECKPOINT__CRIU__V1__CORE__INIT, z = CHECKPOINT__CRIU__V1__CORE__INIT;
	Checkpoint__Criu__V1__X86ThreadInfo ti = CHECKPOINT__CRIU__V1__X86_THREAD_INFO__INIT;
	Checkpoint__Criu__V1__X86Registers gp = CHECKPOINT__CRIU__V1__X86_REGISTERS__INIT;
	Checkpoint__Criu__V1__X86FpuState fp = CHECKPOINT__CRIU__V1__X86_FPU_STATE__INIT;
	Checkpoint__Criu__V1__ThreadCore th = CHECKPOINT__CRIU__V1__THREAD_CORE__INIT;
	Checkpoint__Criu__V1__TaskCore ztc = CHECKPOINT__CRIU__V1__TASK_CORE__INIT;
	ProtobufCMessage *zv[] = { MSG(&z) };

	SET(&fp, cwd, 0x27f);
	ti.fpregs = &fp;
	SET(&th, blk_sigset, 0x2);
	c.thread_core = &th;
	if (o->compat)
		SET(&gp, mode, CHECKPOINT__CRIU__V1__X86_REGS_MODE__X86_REGS_MODE_COMPAT);
	write_core(dirfd, SYNTH_TID, &c, &ti, &gp, 0x2000, o);
	SET(&z, mtype, CHECKPOINT__CRIU__V1__ARCH__ARCH_X86_64);
	SET(&ztc, task_state, 2);
	ztc.comm = "zombie";
	z.tc = &ztc;
	synth_image(dirfd, "core-300.img", IMG_CORE_MAGIC, zv, 1);
}

static void vma(Vma *v, uint64_t start, uint64_t pages, uint32_t prot, uint32_t status, uint64_t shmid, uint64_t pgoff)
{
	SET(v, start, start);
	SET(v, end, start + pages * PAGE);
	SET(v, prot, prot);
	SET(v, status, status);
	SET(v, shmid, shmid);
	SET(v, pgoff, pgoff);
}

static void write_mm(int dirfd, const struct synth_opts *o)
{
	Checkpoint__Criu__V1__MemoryMap mm = CHECKPOINT__CRIU__V1__MEMORY_MAP__INIT;
	size_t n = 5 + o->extra_vmas;
	Vma *v = calloc(n, sizeof(*v));
	Vma **vp = calloc(n, sizeof(*vp));
	uint64_t auxv[AUXV_TEST_WORDS] = { 3, 0x400040, 9, 0x401000, 6, 4096 };
	ProtobufCMessage *m[] = { MSG(&mm) };

	for (size_t i = 0; i < n; i++) {
		checkpoint__criu__v1__vma__init(&v[i]);
		vp[i] = &v[i];
	}
	vma(&v[0], SYNTH_TEXT, 2, 5, (1u << 0) | (1u << 6), 1, 0);
	vma(&v[1], SYNTH_DATA, 4, 3, (1u << 0) | (1u << 6), 1, 0x2000);
	vma(&v[2], SYNTH_STACK, 4, 3, (1u << 0) | (1u << 9), 0, 0);
	vma(&v[3], SYNTH_VVAR, 1, 1, (1u << 0) | (1u << 9) | (1u << 12), 0, 0);
	vma(&v[4], SYNTH_SHM, 2, 3, (1u << 0) | (1u << 8), 5, 0);
	for (size_t i = 5; i < n; i++)
		vma(&v[i], SYNTH_EXTRA + 2 * (i - 5) * PAGE, 1, 3, (1u << 0) | (1u << 9), 0, 0);
	if (o->vmas_unsorted) {
		vp[0] = &v[1];
		vp[1] = &v[0];
	}
	mm.vmas = vp;
	mm.n_vmas = n;
	mm.mm_saved_auxv = auxv;
	mm.n_mm_saved_auxv = o->auxv_words ? o->auxv_words : 6;
	SET(&mm, mm_arg_start, ARGS_AT);
	SET(&mm, mm_arg_end, ARGS_AT + sizeof(SYNTH_ARGS));
	SET(&mm, exe_file_id, 1);
	synth_image(dirfd, "mm-100.img", IMG_MM_MAGIC, m, 1);
	free(vp);
	free(v);
}

static PagemapEntry run(uint64_t vaddr, uint64_t pages, uint32_t flags)
{
	PagemapEntry e = CHECKPOINT__CRIU__V1__PAGEMAP_ENTRY__INIT;

	SET(&e, vaddr, vaddr);
	SET(&e, nr_pages, pages);	/* as CRIU 4.2 writes it; 4.1 wrote compat_nr_pages */
	SET(&e, flags, flags);
	return e;
}

/* The pages of the held runs, in order, as pages-<id>.img. */
static void write_pages(int dirfd, const char *name, const uint64_t *addrs, size_t n)
{
	uint8_t *buf = malloc(n * PAGE + 1);

	for (size_t i = 0; i < n; i++)
		synth_page(addrs[i], buf + i * PAGE);
	synth_file(dirfd, name, buf, n * PAGE);
	free(buf);
}

static void write_memory(int dirfd, const struct synth_opts *o)
{
	Checkpoint__Criu__V1__PagemapHead head = CHECKPOINT__CRIU__V1__PAGEMAP_HEAD__INIT;
	PagemapEntry r[3] = { run(SYNTH_DATA_HELD, 1, o->data_in_parent ? 1 : 4), run(SYNTH_STACK, 1, 2),
			      run(SYNTH_STACK + PAGE, 2, 2 | 4) };
	ProtobufCMessage *m[] = { MSG(&head), MSG(&r[0]), MSG(&r[1]), MSG(&r[2]) };
	uint64_t held[] = { SYNTH_DATA_HELD, SYNTH_STACK + PAGE, SYNTH_STACK + 2 * PAGE }, shm = SYNTH_SHM + PAGE;
	PagemapEntry s = run(PAGE, 1, 4);
	ProtobufCMessage *sm[] = { MSG(&head), MSG(&s) };

	SET(&head, pages_id, 1);
	synth_image(dirfd, "pagemap-100.img", IMG_PAGEMAP_MAGIC, m, 4);
	write_pages(dirfd, "pages-1.img", held + (o->data_in_parent ? 1 : 0), o->data_in_parent ? 2 : 3);
	SET(&head, pages_id, 2);
	synth_image(dirfd, "pagemap-shmem-5.img", IMG_PAGEMAP_MAGIC, sm, 2);
	write_pages(dirfd, "pages-2.img", &shm, 1);
}

static void write_files(int dirfd, const struct synth_opts *o)
{
	Checkpoint__Criu__V1__FileEntry f = CHECKPOINT__CRIU__V1__FILE_ENTRY__INIT;
	Checkpoint__Criu__V1__RegularFile reg = CHECKPOINT__CRIU__V1__REGULAR_FILE__INIT;
	ProtobufCMessage *m[] = { MSG(&f) };
	uint32_t bid[2] = { get_le32((const uint8_t *)SYNTH_BUILD_ID), get_le32((const uint8_t *)SYNTH_BUILD_ID + 4) };

	SET(&f, type, CHECKPOINT__CRIU__V1__FILE_TYPE__FILE_TYPE_REG);
	SET(&f, id, 1);
	SET(&reg, id, 1);
	reg.name = (char *)(o->program ? o->program : SYNTH_PROGRAM);
	if (o->program_size)
		SET(&reg, size, o->program_size);
	if (o->build_id) {
		reg.build_id = bid;
		reg.n_build_id = 2;
	}
	f.reg = &reg;
	synth_image(dirfd, "files.img", IMG_FILES_MAGIC, m, 1);
}

void synth_checkpoint(int dirfd, const struct synth_opts *o)
{
	static const struct synth_opts defaults;

	if (!o)
		o = &defaults;
	write_tree(dirfd);
	write_leader(dirfd, o);
	write_others(dirfd, o);
	write_mm(dirfd, o);
	write_memory(dirfd, o);
	write_files(dirfd, o);
}

int synth_dir(const char *base, const char *name, const struct synth_opts *o)
{
	char path[4400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", base, name);
	CHECK_INT(mkdir(path, 0700), ==, 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(fd, >=, 0);
	if (fd >= 0)
		synth_checkpoint(fd, o);
	return fd;
}

int synth_in_store(const char *store, const char *id, const struct synth_opts *o)
{
	Checkpoint c = CHECKPOINT__HELPER__V1__CHECKPOINT__INIT;
	char path[4400];
	int fd;

	c.id = (char *)id;
	c.root_pid = SYNTH_PID;
	c.size_bytes = 1000;
	CHECK_INT(checkpoint_put(store, id, &c), ==, 0);
	snprintf(path, sizeof(path), "%s/%s", store, id);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(fd, >=, 0);
	if (fd >= 0)
		synth_checkpoint(fd, o);
	return fd;
}

/* ---- reading back ---------------------------------------------------------------- */

bool core_load(int dirfd, const char *name, struct core_read *c)
{
	char *buf = NULL;

	memset(c, 0, sizeof(*c));
	if (read_file_at(dirfd, name, &buf, &c->len, 1u << 30))
		return false;
	c->data = (uint8_t *)buf;
	return true;
}

void core_unload(struct core_read *c)
{
	free(c->data);
	memset(c, 0, sizeof(*c));
}

uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint64_t le64_at(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

const uint8_t *core_phdr(const struct core_read *c, size_t i)
{
	uint64_t at = 64 + 56 * (uint64_t)i;

	return c->len >= 64 && at + 56 <= c->len ? c->data + at : NULL;
}

size_t notes_parse(const uint8_t *p, size_t len, struct note_read *v, size_t max)
{
	size_t at = 0, n = 0;

	while (n < max && at + 12 <= len) {
		uint32_t namesz = get_le32(p + at), descsz = get_le32(p + at + 4);

		v[n].name = (const char *)p + at + 12;
		v[n].type = get_le32(p + at + 8);
		v[n].desc = p + at + 12 + (namesz + 3) / 4 * 4;
		v[n].len = descsz;
		at += 12 + (namesz + 3) / 4 * 4 + (descsz + 3) / 4 * 4;
		n++;
	}
	return n;
}

size_t core_notes(const struct core_read *c, struct note_read *v, size_t max)
{
	const uint8_t *ph = core_phdr(c, 0);
	uint64_t at, len;

	if (!ph || get_le32(ph) != 4)
		return 0;
	at = le64_at(ph + 8);
	len = le64_at(ph + 32);
	if (at > c->len || len > c->len - at)
		return 0;
	return notes_parse(c->data + at, len, v, max);
}

Checkpoint *fixture(struct fixture *f, const char *id, pid_t root, pid_t second, const char *comm)
{
	const pid_t pids[] = { root, second };

	memset(f, 0, sizeof(*f));
	checkpoint__helper__v1__checkpoint__init(&f->c);
	checkpoint__helper__v1__dump_options__init(&f->options);
	checkpoint__helper__v1__leak_report__init(&f->leaks);
	for (int i = 0; i < 2 && pids[i]; i++) {
		checkpoint__helper__v1__checkpoint_process__init(&f->p[i]);
		f->p[i].pid = pids[i];
		f->p[i].ppid = i ? root : 1;
		f->p[i].comm = (char *)comm;
		f->pp[i] = &f->p[i];
		f->c.n_processes++;
	}
	f->c.manifest_version = MANIFEST_VERSION;
	f->c.id = (char *)id;
	f->c.name = "fixture";
	f->c.root_pid = root;
	f->c.processes = f->pp;
	f->c.options = &f->options;
	f->c.leaks = &f->leaks;
	return &f->c;
}
