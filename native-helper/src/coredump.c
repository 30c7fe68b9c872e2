/* SPDX-License-Identifier: MIT */
/* An ELF core file of one process of a checkpoint, written from its images. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "channel.h"
#include "core_layout.h"
#include "core_notes.h"
#include "core_proc.h"
#include "coredump.h"
#include "fileio.h"
#include "page_share.h"
#include "sbuf.h"
#include "store.h"
#include "util.h"
#include "wire.h"

#define ET_CORE 4
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_NOTE 4
#define COPY_CHUNK (1u << 20)

/* What one core is made of, from the checkpoint open at dirfd. */
struct core_job {
	int dirfd;
	struct fdlist chain;		/* the checkpoint and those it stands on, locked shared while read */
	struct core_proc proc;
	struct core_layout lay;
	struct sbuf notes;
	uint64_t notes_off, shoff, size;	/* shoff: the extended count's section header, 0 when none */
	size_t nphdrs;
};

static void put_ehdr(uint8_t *o, size_t nphdrs, uint64_t shoff)
{
	memset(o, 0, EHDR_BYTES);
	memcpy(o, "\177ELF", 4);
	o[4] = 2;		/* ELFCLASS64 */
	o[5] = 1;		/* ELFDATA2LSB */
	o[6] = 1;		/* EV_CURRENT; ELFOSABI_NONE as the kernel's cores */
	put_le16(o + 16, ET_CORE);
	put_le16(o + 18, EM_X86_64);
	put_le32(o + 20, 1);
	put_le64(o + 32, EHDR_BYTES);	/* e_phoff */
	put_le64(o + 40, shoff);
	put_le16(o + 52, EHDR_BYTES);
	put_le16(o + 54, PHDR_BYTES);
	put_le16(o + 56, nphdrs >= PN_XNUM ? PN_XNUM : (uint16_t)nphdrs);
	put_le16(o + 58, shoff ? SHDR_BYTES : 0);
	put_le16(o + 60, shoff ? 1 : 0);
}

static void put_phdr(uint8_t *o, uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr, uint64_t filesz,
		     uint64_t memsz, uint64_t align)
{
	put_le32(o, type);
	put_le32(o + 4, flags);
	put_le64(o + 8, off);
	put_le64(o + 16, vaddr);
	put_le64(o + 24, 0);	/* p_paddr */
	put_le64(o + 32, filesz);
	put_le64(o + 40, memsz);
	put_le64(o + 48, align);
}

/* Where everything goes: the notes after the headers, the contents from the next page on. */
static void place(struct core_job *j)
{
	uint64_t off;

	j->nphdrs = j->lay.nsegs + 1;
	j->notes_off = EHDR_BYTES + (uint64_t)PHDR_BYTES * j->nphdrs;
	off = (j->notes_off + j->notes.len + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
	for (size_t i = 0; i < j->lay.nsegs; i++) {
		j->lay.segs[i].offset = off;
		off += j->lay.segs[i].filesz;
	}
	j->shoff = j->nphdrs >= PN_XNUM ? off : 0;
	j->size = off + (j->shoff ? SHDR_BYTES : 0);
}

/* The ELF header, the program headers and the notes, as they begin the file. */
static uint8_t *headers(const struct core_job *j, struct herr *e)
{
	uint8_t *h = calloc(1, j->notes_off + j->notes.len);

	if (!h) {
		herr_set(e, EC(INTERNAL), ENOMEM, "out of memory for %zu program headers", j->nphdrs);
		return NULL;
	}
	put_ehdr(h, j->nphdrs, j->shoff);
	put_phdr(h + EHDR_BYTES, PT_NOTE, 0, j->notes_off, 0, j->notes.len, 0, 4);
	for (size_t i = 0; i < j->lay.nsegs; i++) {
		const struct core_seg *s = &j->lay.segs[i];

		put_phdr(h + EHDR_BYTES + PHDR_BYTES * (i + 1), PT_LOAD, s->flags, s->offset, s->vaddr, s->filesz,
			 s->memsz, PAGE_BYTES);
	}
	memcpy(h + j->notes_off, j->notes.p, j->notes.len);
	return h;
}

static int pwrite_all(int fd, const void *data, size_t len, uint64_t at)
{
	const char *p = data;

	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= w;
		at += w;
	}
	return 0;
}

/* len bytes at from of in to to of out, through a buffer. */
static int copy_buffered(int in, uint64_t from, int out, uint64_t to, uint64_t len)
{
	char *buf = malloc(COPY_CHUNK);
	int ret = buf ? 0 : -1;

	while (!ret && len) {
		ssize_t n = pread(in, buf, len < COPY_CHUNK ? len : COPY_CHUNK, (off_t)from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;	/* the pages image ended early: cut while it was read */
		ret = n <= 0 || pwrite_all(out, buf, n, to) ? -1 : 0;
		from += n;
		to += n;
		len -= n;
	}
	free(buf);
	return ret;
}

/* len bytes at off of in to at of out: in the kernel where it can (copy_file_range). */
static int copy_range(int in, uint64_t off, int out, uint64_t at, uint64_t len)
{
	loff_t from = (loff_t)off, to = (loff_t)at;

	while (len) {
		ssize_t n = copy_file_range(in, &from, out, &to, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
			return copy_buffered(in, (uint64_t)from, out, (uint64_t)to, len);
		if (n == 0)
			errno = EIO;
		if (n <= 0)
			return -1;
		len -= n;
	}
	return 0;
}

/* The whole core into fd. */
static int write_core(int fd, const struct core_job *j, struct herr *e)
{
	uint8_t *h = headers(j, e), shdr[SHDR_BYTES] = { 0 };
	int ret;

	if (!h)
		return -1;
	ret = pwrite_all(fd, h, j->notes_off + j->notes.len, 0);
	free(h);
	for (size_t i = 0; !ret && i < j->lay.nsegs; i++) {
		const struct core_seg *s = &j->lay.segs[i];
		uint64_t at = s->offset;

		for (size_t k = s->copy; !ret && k < s->copy + s->ncopy; at += j->lay.copies[k].len, k++)
			ret = copy_range(j->lay.copies[k].fd, j->lay.copies[k].off, fd, at, j->lay.copies[k].len);
	}
	if (!ret && j->shoff) {
		put_le64(shdr + 32, 1);		/* sh_size: e_shnum */
		put_le32(shdr + 44, (uint32_t)j->nphdrs);	/* sh_info: the program headers */
		ret = pwrite_all(fd, shdr, sizeof(shdr), j->shoff);
	}
	if (!ret)
		ret = ftruncate(fd, (off_t)j->size) || fsync(fd) ? -1 : 0;
	if (ret)
		herr_perror(e, EC(INTERNAL), errno, "cannot write the core file");
	return ret;
}

/* The command line as ps shows it (kernel: at most 79 bytes, NULs as spaces). */
static void psargs(const struct core_job *j, char out[PSARGS_BYTES])
{
	const MmEntry *mm = j->proc.mm;
	uint64_t len = mm->mm_arg_end > mm->mm_arg_start ? mm->mm_arg_end - mm->mm_arg_start : 0;
	size_t got;

	if (len > PSARGS_BYTES - 1)
		len = PSARGS_BYTES - 1;
	got = core_layout_read(&j->lay, mm->mm_arg_start, out, len);
	for (size_t i = 0; i < got; i++)
		out[i] = out[i] ? out[i] : ' ';
	out[got] = '\0';
}

/* e's message after what failed: "cannot write a core file of process 104 of checkpoint X: ...". */
static void frame_error(struct herr *e, const struct coredump_params *p)
{
	char msg[sizeof(e->msg)], who[32] = "its root process";

	snprintf(msg, sizeof(msg), "%s", e->msg);
	if (p->pid)
		snprintf(who, sizeof(who), "process %d", p->pid);
	herr_set(e, e->code, e->errnum, "cannot write a core file of %s of checkpoint %s: %s", who, p->id, msg);
}

/* The process, its segments and its notes, all placed. */
static int prepare(struct core_job *j, const struct coredump_params *p, struct herr *e)
{
	char args[PSARGS_BYTES];

	if (core_proc_load(j->dirfd, p->pid, &j->proc, e) || core_layout_plan(j->dirfd, &j->proc, &j->lay, e))
		return -1;
	psargs(j, args);
	if (core_notes_build(&j->proc, args, &j->notes, e))
		return -1;
	place(j);
	return 0;
}

/* Written under a temporary name, synced, then put in place as name. */
static int store_core(struct core_job *j, const struct coredump_params *p, const char *name, struct herr *e)
{
	char tmp[128];
	int fd = open_temp_at(j->dirfd, name, tmp, sizeof(tmp)), ret;

	if (fd < 0) {
		herr_perror(e, EC(INTERNAL), errno, "cannot create a file in the checkpoint's directory");
		return -1;
	}
	ret = write_core(fd, j, e);
	if (close(fd) && !ret) {
		herr_perror(e, EC(INTERNAL), errno, "cannot write the core file");
		ret = -1;
	}
	/* read: let go (putting the file in place locks the checkpoint exclusively, through another description) */
	fdlist_close(&j->chain);
	if (!ret)
		ret = store_put_file(j->dirfd, p->store, p->id, tmp, name, e);
	if (ret)
		unlinkat(j->dirfd, tmp, 0);
	return ret;
}

static void fill_outcome(const struct core_job *j, const struct coredump_params *p, const char *name,
			 struct coredump_outcome *out)
{
	out->pid = j->proc.pid;
	out->file = arena_strdup(name);
	out->path = arena_printf("%s/%s/%s", p->store, p->id, name);
	out->exe = arena_strdup(j->proc.exe);
	out->size = j->size;
	out->threads = (uint32_t)j->proc.nthreads;
	out->segments = (uint32_t)j->lay.nsegs;
	out->pages_written = j->lay.pages_held;
	out->pages_lazy = j->lay.pages_lazy;
	out->pages_parent_missing = j->lay.pages_parent_missing;
	out->pages_from_files = j->lay.pages_from_files;
}

int coredump_write(const struct coredump_params *p, struct coredump_outcome *out, struct herr *e)
{
	struct core_job j = { .dirfd = -1 };
	uint64_t t0 = now_us();
	char name[40];
	int ret = -1;

	if (store_check_finished(p->store, p->id, e))
		return -1;
	j.dirfd = checkpoint_open(p->store, p->id, e);
	if (j.dirfd < 0)
		return -1;
	if (share_chain_hold(p->store, j.dirfd, p->id, &j.chain, e) || prepare(&j, p, e)) {
		frame_error(e, p);
		goto out;
	}
	snprintf(name, sizeof(name), "core-%d.elf", j.proc.pid);
	emit_progress(p->request, "writing-core", "%zu threads, %llu pages of the checkpoint into %s",
		      j.proc.nthreads, (unsigned long long)j.lay.pages_held, name);
	if (store_core(&j, p, name, e)) {
		frame_error(e, p);
		goto out;
	}
	fill_outcome(&j, p, name, out);
	out->write_us = now_us() - t0;
	ret = 0;
out:
	sbuf_free(&j.notes);
	core_layout_free(&j.lay);
	core_proc_free(&j.proc);
	fdlist_close(&j.chain);
	close(j.dirfd);
	return ret;
}
