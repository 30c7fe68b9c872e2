/* SPDX-License-Identifier: MIT */
/*
 * The PT_NOTE segment of a process's core: each descriptor as the x86_64
 * kernel lays it out, written byte by byte in little-endian order whatever
 * the host's own structs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_notes.h"
#include "pagemap.h"
#include "util.h"
#include "wire.h"

#define TASK_STOPPED 3

static int nomem(struct herr *e)
{
	herr_set(e, EC(INTERNAL), ENOMEM, "out of memory");
	return -1;
}

/* ---- a thread: its registers and signals -------------------------------- */

typedef Checkpoint__Criu__V1__X86Registers GpRegs;
typedef Checkpoint__Criu__V1__X86FpuState FpuState;
typedef Checkpoint__Criu__V1__X86XsaveState XsaveState;
typedef Checkpoint__Criu__V1__SignalQueue SignalQueue;

/* struct elf_prstatus (x86_64) */
#define PR_CURSIG 12
#define PR_SIGPEND 16
#define PR_SIGHOLD 24
#define PR_PID 32
#define PR_REG 112
#define PR_FPVALID 328

/* The FXSAVE area (struct user_fpregs_struct) and the XSAVE area after it. */
#define FX_ST_SPACE 32
#define FX_XMM_SPACE 160
#define FX_SW_XCR0 464		/* where the kernel puts XCR0, and gdb looks for it */
#define XSAVE_HEADER 512
#define XSAVE_SSE_BYTES 576	/* FXSAVE area and header: x87 and SSE only */
#define XFEATURE_FP_SSE 0x3ull

static int cursig(const struct core_proc *p)
{
	const Checkpoint__Criu__V1__TaskCore *tc = core_proc_task(p);

	if (tc->task_state != TASK_STOPPED)
		return 0;
	return tc->has_stop_signo && tc->stop_signo > 0 && tc->stop_signo < 65 ? (int)tc->stop_signo : SIGSTOP;
}

/* The signals queued in q, as a mask (bit n - 1 for signal n). */
static uint64_t pending_mask(const SignalQueue *q)
{
	uint64_t mask = 0;

	for (size_t i = 0; q && i < q->n_signals; i++) {
		const ProtobufCBinaryData *si = q->signals[i]->has_siginfo ? &q->signals[i]->siginfo : NULL;
		uint32_t signo = si && si->len >= 4 ? get_le32(si->data) : 0;

		if (signo > 0 && signo <= 64)
			mask |= 1ull << (signo - 1);
	}
	return mask;
}

/* The general registers in user_regs_struct order. */
static void put_gpregs(uint8_t *out, const GpRegs *r)
{
	const uint64_t regs[] = {
		r->r15, r->r14, r->r13, r->r12, r->bp, r->bx, r->r11, r->r10, r->r9, r->r8, r->ax, r->cx, r->dx,
		r->si, r->di, r->orig_ax, r->ip, r->cs, r->flags, r->sp, r->ss, r->fs_base, r->gs_base, r->ds,
		r->es, r->fs, r->gs,
	};

	for (size_t i = 0; i < ARRAY_SIZE(regs); i++)
		put_le64(out + 8 * i, regs[i]);
}

static void prstatus(const struct core_proc *p, const struct core_thread *t, uint8_t out[PRSTATUS_BYTES])
{
	const Checkpoint__Criu__V1__ThreadCore *tc = t->core->thread_core;
	const Checkpoint__Criu__V1__TaskCore *task = core_proc_task(p);
	int sig = cursig(p);

	memset(out, 0, PRSTATUS_BYTES);
	put_le32(out, (uint32_t)sig);	/* pr_info.si_signo */
	put_le16(out + PR_CURSIG, (uint16_t)sig);
	put_le64(out + PR_SIGPEND, tc ? pending_mask(tc->signals_p) : 0);
	put_le64(out + PR_SIGHOLD, tc && tc->has_blk_sigset ? tc->blk_sigset : task->blk_sigset);
	put_le32(out + PR_PID, (uint32_t)t->tid);
	put_le32(out + PR_PID + 4, (uint32_t)p->ppid);
	put_le32(out + PR_PID + 8, (uint32_t)p->pgid);
	put_le32(out + PR_PID + 12, (uint32_t)p->sid);
	put_gpregs(out + PR_REG, t->core->thread_info->gpregs);
	put_le32(out + PR_FPVALID, t->core->thread_info->fpregs ? 1 : 0);
}

static int bad_fpu(const struct core_thread *t, const char *what, size_t n, size_t want, struct herr *e)
{
	herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's core-%d.img has %zu words of %s; %zu expected",
		 t->tid, n, what, want);
	return -1;
}

/* The FXSAVE area: control words, st0-st7, xmm0-xmm15. */
static int put_fxsave(const struct core_thread *t, const FpuState *f, uint8_t *out, struct herr *e)
{
	if (f->n_st_space && f->n_st_space != 32)
		return bad_fpu(t, "x87 registers (st_space)", f->n_st_space, 32, e);
	if (f->n_xmm_space && f->n_xmm_space != 64)
		return bad_fpu(t, "SSE registers (xmm_space)", f->n_xmm_space, 64, e);
	memset(out, 0, FPREGSET_BYTES);
	put_le16(out, (uint16_t)f->cwd);
	put_le16(out + 2, (uint16_t)f->swd);
	put_le16(out + 4, (uint16_t)f->twd);
	put_le16(out + 6, (uint16_t)f->fop);
	put_le64(out + 8, f->rip);
	put_le64(out + 16, f->rdp);
	put_le32(out + 24, f->mxcsr);
	put_le32(out + 28, f->mxcsr_mask);
	for (size_t i = 0; i < f->n_st_space; i++)
		put_le32(out + FX_ST_SPACE + 4 * i, f->st_space[i]);
	for (size_t i = 0; i < f->n_xmm_space; i++)
		put_le32(out + FX_XMM_SPACE + 4 * i, f->xmm_space[i]);
	return 0;
}

static int fpregset(const struct core_thread *t, uint8_t out[FPREGSET_BYTES], struct herr *e)
{
	const FpuState *f = t->core->thread_info->fpregs;

	if (!f)
		return 1;
	return put_fxsave(t, f, out, e);
}

/* An XSAVE component: where the standard (Intel) layout has it, and the image's words of it. */
struct xcomp {
	const char *name;
	unsigned bit;		/* in XCR0 and xstate_bv */
	uint32_t off, size;
	size_t n;		/* words in the image (0: the CPU had none) */
	unsigned word;		/* 4 or 8 bytes */
	const void *words;
};

static size_t xcomps(const XsaveState *x, struct xcomp *c)
{
	const struct xcomp v[] = {
		{ "AVX (ymmh_space)", 2, 576, 256, x->n_ymmh_space, 4, x->ymmh_space },
		{ "MPX bounds (bndreg_state)", 3, 960, 64, x->n_bndreg_state, 8, x->bndreg_state },
		{ "MPX configuration (bndcsr_state)", 4, 1024, 64, x->n_bndcsr_state, 8, x->bndcsr_state },
		{ "AVX-512 opmask (opmask_reg)", 5, 1088, 64, x->n_opmask_reg, 8, x->opmask_reg },
		{ "AVX-512 ZMM_Hi256 (zmm_upper)", 6, 1152, 512, x->n_zmm_upper, 8, x->zmm_upper },
		{ "AVX-512 Hi16_ZMM (hi16_zmm)", 7, 1664, 1024, x->n_hi16_zmm, 8, x->hi16_zmm },
		{ "PKRU (pkru)", 9, 2688, 8, x->n_pkru, 4, x->pkru },
	};

	memcpy(c, v, sizeof(v));
	return ARRAY_SIZE(v);
}

/*
 * The note's size for the components present: one of the sizes gdb
 * recognises the standard layout by (with PKRU, AVX-512, MPX, AVX), so it
 * finds each component where it was put.
 */
static size_t xstate_size(uint64_t xcr0)
{
	if (xcr0 & (1ull << 9))
		return 2696;
	if (xcr0 & (7ull << 5))
		return 2688;
	if (xcr0 & (3ull << 3))
		return 1088;
	return xcr0 & (1ull << 2) ? 832 : XSAVE_SSE_BYTES;
}

static void put_words(uint8_t *out, const struct xcomp *c)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->word == 8)
			put_le64(out + c->off + 8 * i, ((const uint64_t *)c->words)[i]);
		else
			put_le32(out + c->off + 4 * i, ((const uint32_t *)c->words)[i]);
	}
}

static int xstate(const struct core_thread *t, uint8_t out[XSTATE_MAX_BYTES], size_t *len, struct herr *e)
{
	const FpuState *f = t->core->thread_info->fpregs;
	uint64_t xcr0 = XFEATURE_FP_SSE;
	struct xcomp c[8];
	size_t n;

	if (!f || !f->xsave)
		return 1;
	memset(out, 0, XSTATE_MAX_BYTES);
	if (put_fxsave(t, f, out, e))
		return -1;
	n = xcomps(f->xsave, c);
	for (size_t i = 0; i < n; i++) {
		if (!c[i].n)
			continue;
		if (c[i].n * c[i].word != c[i].size)
			return bad_fpu(t, c[i].name, c[i].n, c[i].size / c[i].word, e);
		put_words(out, &c[i]);
		xcr0 |= 1ull << c[i].bit;
	}
	put_le64(out + FX_SW_XCR0, xcr0);
	put_le64(out + XSAVE_HEADER, f->xsave->xstate_bv & xcr0);
	*len = xstate_size(xcr0);
	return 0;
}

static void siginfo(const struct core_proc *p, uint8_t out[SIGINFO_BYTES])
{
	memset(out, 0, SIGINFO_BYTES);
	put_le32(out, (uint32_t)cursig(p));	/* si_signo; si_errno, si_code 0 (SI_USER) */
}

/* ---- the notes ------------------------------------------------------------- */

/* One note: its header, its name and its descriptor, each padded to 4 bytes. */
static int note(struct sbuf *b, const char *name, uint32_t type, const void *desc, size_t len, struct herr *e)
{
	static const uint8_t pad[4];
	size_t namesz = strlen(name) + 1;
	uint8_t hdr[12];

	put_le32(hdr, (uint32_t)namesz);
	put_le32(hdr + 4, (uint32_t)len);
	put_le32(hdr + 8, type);
	if (sbuf_add(b, (const char *)hdr, sizeof(hdr)) || sbuf_add(b, name, namesz) ||
	    sbuf_add(b, (const char *)pad, (4 - namesz % 4) % 4) || sbuf_add(b, desc, len) ||
	    sbuf_add(b, (const char *)pad, (4 - len % 4) % 4))
		return nomem(e);
	return 0;
}

/* struct elf_prpsinfo (x86_64): the process as ps shows it. */
static void prpsinfo(const struct core_proc *p, const char *psargs, uint8_t out[PRPSINFO_BYTES])
{
	const Checkpoint__Criu__V1__TaskCore *tc = core_proc_task(p);
	const Checkpoint__Criu__V1__ThreadCore *th = p->threads[0].core->thread_core;
	const Checkpoint__Criu__V1__Credentials *cr = th ? th->creds : NULL;
	bool stopped = tc->task_state == TASK_STOPPED;

	memset(out, 0, PRPSINFO_BYTES);
	out[0] = stopped ? 3 : 1;	/* pr_state: TASK_STOPPED's or TASK_INTERRUPTIBLE's bit, + 1 */
	out[1] = stopped ? 'T' : 'S';
	out[3] = (uint8_t)(th && th->has_sched_nice ? th->sched_nice : 0);
	put_le64(out + 8, tc->flags);
	put_le32(out + 16, cr ? cr->uid : 0);
	put_le32(out + 20, cr ? cr->gid : 0);
	put_le32(out + 24, (uint32_t)p->pid);
	put_le32(out + 28, (uint32_t)p->ppid);
	put_le32(out + 32, (uint32_t)p->pgid);
	put_le32(out + 36, (uint32_t)p->sid);
	strncpy((char *)out + 40, tc->comm ? tc->comm : "", 15);
	strncpy((char *)out + 56, psargs, PSARGS_BYTES - 1);
}

static int thread_notes(const struct core_proc *p, const struct core_thread *t, struct sbuf *b, struct herr *e)
{
	uint8_t buf[XSTATE_MAX_BYTES];
	size_t len = 0;
	int r;

	prstatus(p, t, buf);
	if (note(b, "CORE", NT_PRSTATUS, buf, PRSTATUS_BYTES, e))
		return -1;
	r = fpregset(t, buf, e);
	if (r < 0 || (r == 0 && note(b, "CORE", NT_FPREGSET, buf, FPREGSET_BYTES, e)))
		return -1;
	r = xstate(t, buf, &len, e);
	if (r < 0 || (r == 0 && note(b, "LINUX", NT_X86_XSTATE, buf, len, e)))
		return -1;
	siginfo(p, buf);
	return note(b, "CORE", NT_SIGINFO, buf, SIGINFO_BYTES, e);
}

/* The saved auxiliary vector up to and with its AT_NULL pair (which CRIU leaves out). */
static int auxv_note(const struct core_proc *p, struct sbuf *b, struct herr *e)
{
	size_t n = p->mm->n_mm_saved_auxv, pairs = 0;
	uint8_t *out;
	int ret;

	if (n % 2 || n > AUXV_MAX_WORDS) {
		herr_set(e, EC(IMAGE_DAMAGED), EINVAL, "the checkpoint's mm-%d.img has a saved auxiliary vector of "
			 "%zu words, which cannot be (pairs, at most %u words)", p->pid, n, AUXV_MAX_WORDS);
		return -1;
	}
	out = calloc(n + 2, 8);
	if (!out)
		return nomem(e);
	while (2 * pairs < n && p->mm->mm_saved_auxv[2 * pairs] != 0) {
		put_le64(out + 16 * pairs, p->mm->mm_saved_auxv[2 * pairs]);
		put_le64(out + 16 * pairs + 8, p->mm->mm_saved_auxv[2 * pairs + 1]);
		pairs++;
	}
	ret = note(b, "CORE", NT_AUXV, out, 16 * (pairs + 1), e);	/* the AT_NULL pair: zeros */
	free(out);
	return ret;
}

/* count, page size, (start, end, offset in pages) per area, then the paths, each ending in NUL. */
static int file_note(const struct core_proc *p, struct sbuf *b, struct herr *e)
{
	struct sbuf d = { 0 };
	uint8_t w[24];
	size_t count = 0;
	int ret = -1;

	for (size_t i = 0; i < p->nvmas; i++)
		count += p->vmas[i].path != NULL;
	put_le64(w, count);
	put_le64(w + 8, PAGE_BYTES);
	if (sbuf_add(&d, (const char *)w, 16))
		goto oom;
	for (size_t i = 0; i < p->nvmas; i++) {
		const struct core_vma *v = &p->vmas[i];

		put_le64(w, v->start);
		put_le64(w + 8, v->end);
		put_le64(w + 16, v->pgoff / PAGE_BYTES);
		if (v->path && sbuf_add(&d, (const char *)w, 24))
			goto oom;
	}
	for (size_t i = 0; i < p->nvmas; i++)
		if (p->vmas[i].path && sbuf_add(&d, p->vmas[i].path, strlen(p->vmas[i].path) + 1))
			goto oom;
	ret = note(b, "CORE", NT_FILE, d.p, d.len, e);
	sbuf_free(&d);
	return ret;
oom:
	sbuf_free(&d);
	return nomem(e);
}

int core_notes_build(const struct core_proc *p, const char *psargs, struct sbuf *b, struct herr *e)
{
	uint8_t info[PRPSINFO_BYTES];

	prpsinfo(p, psargs, info);
	if (note(b, "CORE", NT_PRPSINFO, info, sizeof(info), e))
		return -1;
	for (size_t i = 0; i < p->nthreads; i++)
		if (thread_notes(p, &p->threads[i], b, e))
			return -1;
	if (auxv_note(p, b, e))
		return -1;
	return file_note(p, b, e);
}
