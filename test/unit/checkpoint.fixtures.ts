/**
 * A small checkpoint written from the project's schemas, as CRIU would write
 * it: one process (PID) with two threads (PID, TID), a stack, a heap, a file
 * mapping, a SysV segment; stdio, a pipe, a unix socket pair half, an
 * eventfd, an epoll, a memfd and a terminal; a dumped UTS namespace. For the
 * unit tests of the checkpoint model and of the snapshot debug session.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, encodeMessage, frameEntry, imageHeader, PE_LAZY, PE_PRESENT, VMA_STATUS, type ImageKind } from '../../src/core/images/format';

interface Encodable<M> {
	create(props: object): M;
	encode(message: M, writer?: never): { finish(): Uint8Array };
}

export const PID = 100;
export const TID = 101;
export const PAGE = 4096n;
export const STACK = 0x7ffc00000000n;
export const HEAP = 0x555500010000n;
export const LIB = 0x7f1100000000n;
export const SHM = 0x7f2200000000n;
export const ARGS = Buffer.from('/usr/bin/demo\0--flag\0value\0');

function image<M>(kind: ImageKind, type: Encodable<M>, ...entries: object[]): Buffer {
	return Buffer.concat([imageHeader(kind), ...entries.map((e) => frameEntry(encodeMessage(type as never, type.create(e))))]);
}

/** The image files of the checkpoint, by name. */
export function checkpointFiles(): Record<string, Buffer> {
	return {
		'inventory.img': image('inventory', criu.Inventory, { imgVersion: 2, nsPerId: true, fdinfoPerId: true }),
		'pstree.img': image('pstree', criu.ProcessTreeEntry, { pid: PID, ppid: 0, pgid: PID, sid: PID, threads: [PID, TID] }),
		[`core-${PID}.img`]: image('core', criu.Core, {
			mtype: criu.Arch.ARCH_X86_64,
			threadInfo: { gpregs: { ip: 0x401000n, sp: STACK + 0x1f00n, ax: 0xfffffffffffffffcn, mode: criu.X86RegsMode.X86_REGS_MODE_NATIVE }, fpregs: { cwd: 0x37f, xsave: { xstateBv: 7n } } },
			tc: { taskState: 1, comm: 'demo', exitCode: 0 },
			threadCore: { creds: { uid: 1000, gid: 1000, euid: 1000, egid: 1000, groups: [1000, 27] } },
		}),
		[`core-${TID}.img`]: image('core', criu.Core, { mtype: criu.Arch.ARCH_X86_64, threadInfo: { gpregs: { ip: 0x402000n, sp: 0x7f0000001000n } }, threadCore: { comm: 'worker' } }),
		[`ids-${PID}.img`]: image('ids', criu.KernelObjectIds, { vmId: 1, filesId: 2, pidNsId: 10, netNsId: 11, utsNsId: 12, ipcNsId: 13, mntNsId: 14 }),
		'utsns-12.img': image('utsns', criu.UtsNamespace, { nodename: 'box', domainname: '(none)' }),
		'ipcns-shm-13.img': image('ipcns-shm', criu.IpcShmSegment, { desc: { key: 0x1234, id: 7 }, size: 4096n, inPagemaps: true }),
		[`mm-${PID}.img`]: image('mm', criu.MemoryMap, {
			mmArgStart: HEAP, mmArgEnd: HEAP + BigInt(ARGS.length), mmStartStack: STACK + 0x1f00n,
			vmas: [
				{ start: HEAP, end: HEAP + 2n * PAGE, prot: 3, flags: 0x22, status: VMA_STATUS.AREA_REGULAR | VMA_STATUS.AREA_HEAP | VMA_STATUS.ANON_PRIVATE },
				{ start: LIB, end: LIB + PAGE, prot: 5, flags: 0x2, status: VMA_STATUS.AREA_REGULAR | VMA_STATUS.FILE_PRIVATE, shmid: 5n, pgoff: 0x1000n },
				{ start: SHM, end: SHM + PAGE, prot: 3, flags: 0x1, status: VMA_STATUS.AREA_REGULAR | VMA_STATUS.ANON_SHARED | VMA_STATUS.AREA_SYSVIPC, shmid: 7n },
				{ start: STACK, end: STACK + 2n * PAGE, prot: 3, flags: 0x122, status: VMA_STATUS.AREA_REGULAR | VMA_STATUS.ANON_PRIVATE },
			],
		}),
		[`pagemap-${PID}.img`]: Buffer.concat([
			imageHeader('pagemap'),
			frameEntry(encodeMessage(criu.PagemapHead as never, criu.PagemapHead.create({ pagesId: 3 }))),
			frameEntry(encodeMessage(criu.PagemapEntry as never, criu.PagemapEntry.create({ vaddr: HEAP, compatNrPages: 1, flags: PE_PRESENT | PE_LAZY }))),
			frameEntry(encodeMessage(criu.PagemapEntry as never, criu.PagemapEntry.create({ vaddr: STACK + PAGE, compatNrPages: 1, flags: PE_PRESENT | PE_LAZY }))),
		]),
		'pages-3.img': Buffer.concat([ARGS, Buffer.alloc(4096 - ARGS.length, 0xaa), Buffer.alloc(4096, 0x5a)]),
		// the SysV segment (shmid 7) is dumped once, as its own object: offsets, not addresses
		'pagemap-shmem-7.img': Buffer.concat([
			imageHeader('pagemap-shmem'),
			frameEntry(encodeMessage(criu.PagemapHead as never, criu.PagemapHead.create({ pagesId: 4 }))),
			frameEntry(encodeMessage(criu.PagemapEntry as never, criu.PagemapEntry.create({ vaddr: 0n, compatNrPages: 1, flags: PE_PRESENT }))),
		]),
		'pages-4.img': Buffer.alloc(4096, 0x77),
		'files.img': image('files', criu.FileEntry,
			{ type: criu.FileType.FILE_TYPE_REG, id: 1, reg: { id: 1, name: '/dev/null', flags: 2 } },
			{ type: criu.FileType.FILE_TYPE_REG, id: 5, reg: { id: 5, name: '/usr/lib/libdemo.so', flags: 0 } },
			{ type: criu.FileType.FILE_TYPE_PIPE, id: 6, pipe: { id: 6, pipeId: 4242 } },
			{ type: criu.FileType.FILE_TYPE_UNIXSK, id: 7, usk: { id: 7, ino: 900, type: 1, peer: 901, name: Buffer.alloc(0) } },
			{ type: criu.FileType.FILE_TYPE_UNIXSK, id: 8, usk: { id: 8, ino: 901, type: 1, peer: 900, name: Buffer.from('/run/demo.sock') } },
			{ type: criu.FileType.FILE_TYPE_EVENTFD, id: 9, efd: { id: 9, counter: 42n } },
			{ type: criu.FileType.FILE_TYPE_EVENTPOLL, id: 10, epfd: { id: 10, tfd: [{ tfd: 6, events: 1 }, { tfd: 9, events: 1 }] } },
			{ type: criu.FileType.FILE_TYPE_MEMFD, id: 11, memfd: { id: 11, inodeId: 77, pos: 12n } },
			{ type: criu.FileType.FILE_TYPE_REG, id: 12, reg: { id: 12, name: '/dev/pts/3', flags: 2 } },
			{ type: criu.FileType.FILE_TYPE_TTY, id: 13, tty: { id: 13, ttyInfoId: 40, regfId: 12 } },
		),
		'tty-info.img': image('tty-info', criu.TtyInfo, { id: 40, type: criu.TtyType.TTY_TYPE_PTY, sid: PID, pgrp: PID, pty: { index: 3 } }),
		'memfd.img': image('memfd', criu.MemfdInode, { name: 'cache', size: 8192n, inodeId: 77n }),
		'fdinfo-2.img': image('fdinfo', criu.FdInfo,
			{ fd: 0, id: 1, type: criu.FileType.FILE_TYPE_REG },
			{ fd: 3, id: 6, type: criu.FileType.FILE_TYPE_PIPE },
			{ fd: 4, id: 7, type: criu.FileType.FILE_TYPE_UNIXSK },
			{ fd: 5, id: 9, type: criu.FileType.FILE_TYPE_EVENTFD },
			{ fd: 6, id: 10, type: criu.FileType.FILE_TYPE_EVENTPOLL },
			{ fd: 7, id: 11, type: criu.FileType.FILE_TYPE_MEMFD },
			{ fd: 8, id: 13, type: criu.FileType.FILE_TYPE_TTY },
		),
		'stats-dump': image('stats', criu.Stats, { dump: { frozenTime: 6200, pagesWritten: 2n, pagesScanned: 9n } }),
	};
}

/** The checkpoint written into dir, as CRIU would leave it there. */
export function writeCheckpoint(dir: string): void {
	for (const [name, data] of Object.entries(checkpointFiles())) writeFileSync(join(dir, name), data);
}

/** A pagemap image of one process: runs of [address, pages, flags] in pages-<pagesId>.img. */
export function pagemap(pagesId: number, runs: [bigint, number, number][]): Buffer {
	return Buffer.concat([
		imageHeader('pagemap'),
		frameEntry(encodeMessage(criu.PagemapHead as never, criu.PagemapHead.create({ pagesId }))),
		...runs.map(([vaddr, n, flags]) => frameEntry(encodeMessage(criu.PagemapEntry as never, criu.PagemapEntry.create({ vaddr, compatNrPages: n, flags })))),
	]);
}
