/**
 * The CRIU image format layer on image files built here: headers and
 * length-prefixed entries written byte by byte, payloads encoded from our own
 * schema. (That the schema matches CRIU's is test/integration/images-schema.)
 */
// The helper protocol's global protobufjs setup (64-bit fields as plain
// numbers) is in force in the extension; image decoding must stay exact under it.
import '../../src/core/protobufRuntime';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as protobuf from 'protobufjs/minimal';
import {
	criu, decodeImage, decodeImageFile, decodePagemap, decodeSingleEntry, encodeMessage, frameEntry,
	IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, imageFileName, imageHeader, ImageFormatError, iterateImage, kindOfFileName, MAGIC,
	PE_LAZY, PE_PARENT, PE_PRESENT, type EntryImageKind, type RawSpan,
} from '../../src/core/images/format';

const U64_MAX = 0xffffffffffffffffn;
const VSYSCALL = 0xffffffffff600000n;

/** A generated message class, as far as building test images goes. */
interface MessageClass<P, M> {
	create(properties?: P): M;
	encode(message: M, writer?: protobuf.Writer): protobuf.Writer;
}

/** A framed entry: u32 LE length + the message built from `props`, encoded. */
function entry<P, M>(type: MessageClass<P, M>, props: P): Buffer {
	return frameEntry(encodeMessage(type, type.create(props)));
}

interface Sample {
	/** The entry, framed. */
	bytes: Buffer;
	props: object;
}

function sample<P extends object, M>(type: MessageClass<P, M>, props: P): Sample {
	return { bytes: entry(type, props), props };
}

/** An image file: the header CRIU writes for `kind`, then the given pieces. */
function image(kind: Parameters<typeof imageHeader>[0], ...parts: Uint8Array[]): Buffer {
	return Buffer.concat([imageHeader(kind), ...parts]);
}

function u32(...values: number[]): Buffer {
	const b = Buffer.alloc(4 * values.length);
	values.forEach((v, i) => b.writeUInt32LE(v, 4 * i));
	return b;
}

function bytesAt(data: Buffer, span: RawSpan): string {
	return data.subarray(span.offset, span.offset + span.length).toString();
}

/** Every key of `expected` is in `actual` with an equal value (nested objects and arrays compared the same way). */
function assertFields(actual: unknown, expected: unknown, path = 'message'): void {
	if (expected instanceof Uint8Array) {
		assert.ok(actual instanceof Uint8Array, `${path} is bytes`);
		assert.deepEqual(Buffer.from(actual), Buffer.from(expected), path);
	} else if (Array.isArray(expected)) {
		assert.ok(Array.isArray(actual), `${path} is an array`);
		assert.equal(actual.length, expected.length, `${path}.length`);
		expected.forEach((e, i) => assertFields(actual[i], e, `${path}[${i}]`));
	} else if (expected !== null && typeof expected === 'object') {
		assert.ok(actual !== null && typeof actual === 'object', `${path} is a message`);
		for (const [k, v] of Object.entries(expected)) assertFields((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
	} else {
		assert.equal(actual, expected, path);
	}
}

function assertImageError(fn: () => unknown, file: string, offset: number, detail: RegExp): void {
	assert.throws(fn, (e: unknown) => {
		assert.ok(e instanceof ImageFormatError, `an ImageFormatError, not ${String(e)}`);
		assert.equal(e.file, file);
		assert.equal(e.offset, offset);
		assert.match(e.detail, detail);
		assert.equal(e.message, `${file} at byte ${offset}: ${e.detail}`);
		return true;
	});
}

const fown = { uid: 1000, euid: 1000, signum: 0, pidType: 0, pid: 0 };

/** One sample message per entry kind; each must come back field for field. */
const SAMPLES: Readonly<Record<EntryImageKind, Sample>> = {
	'inventory': sample(criu.Inventory, { imgVersion: 2, fdinfoPerId: true, rootIds: { vmId: 1, filesId: 2, pidNsId: 7 }, nsPerId: true, rootCgSet: 1, lsmType: criu.LsmType.LSM_APPARMOR, dumpUptime: 123456789012345n, preDumpMode: 1, tcpClose: false, networkLockMethod: 1, dumpCriuRunId: 'run-1' }),
	'pstree': sample(criu.ProcessTreeEntry, { pid: 42, ppid: 1, pgid: 42, sid: 42, threads: [42, 43, 44] }),
	'core': sample(criu.Core, {
		mtype: criu.Arch.ARCH_X86_64,
		threadInfo: {
			clearTidAddr: 0x7f0000001000n,
			gpregs: { r15: U64_MAX, ip: VSYSCALL, sp: 0x7ffc00001234n, ax: 0n, origAx: U64_MAX, flags: 0x246n, fsBase: 0x7f1234567000n, gs: 0n, mode: criu.X86RegsMode.X86_REGS_MODE_NATIVE },
			fpregs: { cwd: 0x37f, mxcsr: 0x1f80, rip: U64_MAX, xsave: { xstateBv: 0x2e7n } },
		},
		tc: { taskState: 1, exitCode: 0, personality: 0, flags: 0x400040, blkSigset: U64_MAX, comm: 'workload', cgSet: 1, loginuid: 4294967295, oomScoreAdj: -1000, childSubreaper: true, stopSigno: 19 },
		ids: { vmId: 1, filesId: 2, fsId: 3, sighandId: 4, netNsId: 5, timeNsId: 12 },
		threadCore: { futexRla: 0x7f0000000a20n, futexRlaLen: 24, schedNice: -5, schedPolicy: 0, blkSigset: 1n << 63n, pdeathSig: 9, comm: 'worker', cgSet: 1, creds: { uid: 1000, gid: 1000, euid: 0, capEff: [0xffffffff, 0x1ff], groups: [4, 27], lsmProfile: 'unconfined', noNewPrivs: 1, capAmb: [] } },
	}),
	'ids': sample(criu.KernelObjectIds, { vmId: 1, filesId: 2, fsId: 3, sighandId: 4, pidNsId: 5, netNsId: 6, ipcNsId: 7, utsNsId: 8, mntNsId: 9, userNsId: 10, cgroupNsId: 11, timeNsId: 12 }),
	'creds': sample(criu.Credentials, { uid: 1, gid: 2, euid: 3, egid: 4, suid: 5, sgid: 6, fsuid: 7, fsgid: 8, capInh: [0], capPrm: [1, 2], capEff: [3], capBnd: [4, 5], secbits: 0, groups: [10] }),
	'fs': sample(criu.FsEntry, { cwdId: 3, rootId: 4, umask: 0o22 }),
	'mm': sample(criu.MemoryMap, {
		mmStartCode: 0x555555554000n, mmEndCode: 0x555555556000n, mmStartStack: 0x7ffffffde000n, mmBrk: 0x555555579000n, exeFileId: 7,
		mmSavedAuxv: [33n, 0x7ffff7fc1000n, 0n, U64_MAX], dumpable: 1, thpDisabled: false,
		vmas: [
			{ start: 0x555555554000n, end: 0x555555556000n, pgoff: 0n, shmid: 7n, prot: 5, flags: 2, status: 0x41, fd: -1n, madv: 0n, fdflags: 0 },
			{ start: VSYSCALL, end: VSYSCALL + 0x1000n, pgoff: 0n, shmid: 0n, prot: 4, flags: 0x22, status: 0x204, fd: -1n },
		],
	}),
	'vmas': sample(criu.Vma, { start: 0x1000n, end: 0x2000n, fd: 3n, status: 0x81 }),
	'files': sample(criu.FileEntry, { type: criu.FileType.FILE_TYPE_REG, id: 5, reg: { id: 5, flags: 0o2, pos: 12n, fown, name: '/tmp/data', mntId: -1, size: 4096n, ext: false, mode: 0o100644 } }),
	'fdinfo': sample(criu.FdInfo, { id: 5, flags: 1, type: criu.FileType.FILE_TYPE_PIPE, fd: 3 }),
	'reg-files': sample(criu.RegularFile, { id: 1, flags: 0, pos: 0n, fown, name: '/etc/passwd', mntId: 22 }),
	'pipes': sample(criu.Pipe, { id: 8, pipeId: 174339, flags: 0, fown }),
	'pipes-data': sample(criu.PipeData, { pipeId: 174339, bytes: 0, size: 65536 }),
	'fifo': sample(criu.Fifo, { id: 9, pipeId: 12, regfId: 10 }),
	'fifo-data': sample(criu.PipeData, { pipeId: 12, bytes: 0 }),
	'unixsk': sample(criu.UnixSocket, { id: 11, ino: 9001, type: 1, state: 1, flags: 2, uflags: 0, backlog: 0, peer: 9002, fown, name: new Uint8Array([0, 0x61, 0x62]), shutdown: criu.SocketShutdown.SHUTDOWN_WRITE, nameDir: '/run', deleted: true, nsId: 3, mntId: -1 }),
	'inetsk': sample(criu.InetSocket, { id: 12, ino: 9003, family: 2, type: 1, proto: 6, state: 10, srcPort: 8080, dstPort: 0, flags: 2, backlog: 128, srcAddr: [0x0100007f], dstAddr: [0], fown, v6only: false, ifname: 'lo', nsId: 4, shutdown: criu.SocketShutdown.SHUTDOWN_NONE }),
	'netlinksk': sample(criu.NetlinkSocket, { id: 13, ino: 9004, protocol: 0, state: 0, flags: 2, portid: 100, groups: [1, 0], dstPortid: 0, dstGroup: 0, fown, nsId: 4 }),
	'sk-queues': sample(criu.SocketQueueEntry, { idFor: 11, length: 0 }),
	'tcp-stream': sample(criu.TcpStream, { inqLen: 0, inqSeq: 1, outqLen: 0, outqSeq: 2, optMask: 7, sndWscale: 7, mssClamp: 65483, rcvWscale: 7, timestamp: 1, cork: false, nodelay: true, unsqLen: 0 }),
	'tty': sample(criu.TtyFile, { id: 14, ttyInfoId: 2, flags: 2, fown, regfId: 15 }),
	'tty-info': sample(criu.TtyInfo, { id: 2, type: criu.TtyType.TTY_TYPE_PTY, locked: false, exclusive: false, packetMode: false, sid: 42, pgrp: 42, rdev: 0x8800, winsize: { wsRow: 24, wsCol: 80, wsXpixel: 0, wsYpixel: 0 }, pty: { index: 3 }, dev: 0x16, uid: 0, gid: 5 }),
	'eventfd': sample(criu.EventFd, { id: 16, flags: 2, fown, counter: U64_MAX - 1n }),
	'eventpoll': sample(criu.EventPoll, { id: 17, flags: 2, fown, tfd: [{ id: 16, tfd: 4, events: 1, data: U64_MAX, dev: 0x10, inode: 1234n, pos: 0n }, { id: 8, tfd: 3, events: 5, data: 3n }] }),
	'eventpoll-tfd': sample(criu.EventPollTarget, { id: 17, tfd: 4, events: 1, data: 42n }),
	'signalfd': sample(criu.SignalFd, { id: 18, flags: 2, fown, sigmask: 1n << 16n }),
	'inotify': sample(criu.Inotify, { id: 19, flags: 2, fown, wd: [{ id: 19, iIno: 5555n, mask: 0x100, ignoredMask: 0, sDev: 0x803, wd: 1, fHandle: { bytes: 8, type: 1, path: '/tmp', mntId: 22 } }] }),
	'inotify-wd': sample(criu.InotifyWatch, { id: 19, iIno: 1n, mask: 2, wd: 3 }),
	'memfd': sample(criu.MemfdInode, { name: 'memfd:ckpt', uid: 0, gid: 0, size: 8192n, shmid: 394, seals: 1, inodeId: 395n, hugetlbFlag: 0, mode: 0o777 }),
	'ns-files': sample(criu.NamespaceFile, { id: 20, nsId: 5, nsCflag: 0x40000000, flags: 0 }),
	'ghost-file': sample(criu.GhostFile, { uid: 0, gid: 0, mode: 0o100600, dev: 0x803, ino: 777n, rdev: 0, chunks: false, size: 0n, symlnkTarget: '' }),
	'filelocks': sample(criu.FileLock, { flag: 1, type: 1, pid: 42, fd: 3, start: -9n, len: 0n }),
	'utsns': sample(criu.UtsNamespace, { nodename: 'ckpt-rich', domainname: '(none)' }),
	'ipcns-var': sample(criu.IpcVariables, { semCtls: [32000, 1024000000, 500, 32000], msgCtlmax: 8192, msgCtlmnb: 16384, msgCtlmni: 32000, autoMsgmni: 0, shmCtlmax: U64_MAX - 0xffffffn, shmCtlall: U64_MAX - 0xffffffn, shmCtlmni: 4096, shmRmidForced: 0, mqQueuesMax: 256, mqMsgMax: 10, mqMsgsizeMax: 8192, shmNextId: 4294967295 }),
	'ipcns-shm': sample(criu.IpcShmSegment, { desc: { key: 0x52494348, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, id: 0 }, size: 65536n, inPagemaps: true, hugetlbFlag: 0 }),
	'ipcns-msg': sample(criu.IpcMessageQueue, { desc: { key: 1, id: 2 }, qbytes: 16384, qnum: 0 }),
	'ipcns-sem': sample(criu.IpcSemaphoreSet, { desc: { key: 3, id: 4, mode: 0o600 }, nsems: 0 }),
	'netns': sample(criu.NetNamespace, { nsids: [{ targetNsId: 9, netnsidValue: -1 }, { targetNsId: 10, netnsidValue: 0 }], extKey: 'extnet' }),
	'timens': sample(criu.TimeNamespace, { monotonic: { tvSec: 100n, tvNsec: 999999999n }, boottime: { tvSec: U64_MAX, tvNsec: 0n } }),
	'stats': sample(criu.Stats, { dump: { freezingTime: 1200, frozenTime: 34000, memdumpTime: 2000, memwriteTime: 1500, pagesScanned: 5000n, pagesSkippedParent: 0n, pagesWritten: 120n, pagesLazy: 0n } }),
};

describe('decodeImage round trip', () => {
	for (const kind of Object.keys(SAMPLES) as EntryImageKind[]) {
		test(`${kind}: every field comes back`, () => {
			const { bytes, props } = SAMPLES[kind];
			const data = image(kind, bytes);
			const decoded = decodeImage(kind, 'x.img', data);
			assert.equal(decoded.entries.length, 1);
			assertFields(decoded.entries[0].message, props);
			assert.deepEqual(decoded.entries[0].extra.filter((s) => s.length > 0), []);
		});
	}

	test('absent fields are null, absent repeated fields empty', () => {
		const core = decodeSingleEntry('core', 'core-1.img', image('core', entry(criu.Core, { mtype: criu.Arch.ARCH_X86_64 })));
		assert.equal(core.mtype, criu.Arch.ARCH_X86_64);
		assert.equal(core.tc, null);
		assert.equal(core.threadInfo, null);
		const mm = decodeSingleEntry('mm', 'mm-1.img', image('mm', entry(criu.MemoryMap, { mmBrk: 0n })));
		assert.equal(mm.mmBrk, 0n, 'present zero is 0n, not null');
		assert.equal(mm.mmStartCode, null);
		assert.deepEqual(mm.vmas, []);
		assert.deepEqual(mm.mmSavedAuxv, []);
	});

	test('fields this schema leaves out are skipped', () => {
		// pstree_entry with an extra varint field 9 and an extra string field 10.
		const payload = Buffer.concat([encodeMessage(criu.ProcessTreeEntry, criu.ProcessTreeEntry.create({ pid: 7 })), Buffer.from([0x48, 0x96, 0x01, 0x52, 0x02, 0x68, 0x69])]);
		const e = decodeSingleEntry('pstree', 'pstree.img', image('pstree', frameEntry(payload)));
		assert.equal(e.pid, 7);
	});

	test('decodeImageFile takes the kind from the name', () => {
		const d = decodeImageFile('/some/dir/fdinfo-2.img', image('fdinfo', entry(criu.FdInfo, { id: 1, fd: 0 }), entry(criu.FdInfo, { id: 2, fd: 1 })));
		assert.equal(d.kind, 'fdinfo');
		if (d.kind !== 'fdinfo') return;
		assert.deepEqual(d.entries.map((e) => e.message.fd), [0, 1]);
	});
});

describe('entry reader', () => {
	const entries = [entry(criu.ProcessTreeEntry, { pid: 1, ppid: 0, threads: [1] }), entry(criu.ProcessTreeEntry, {}), entry(criu.ProcessTreeEntry, { pid: 3, ppid: 1, threads: [3, 4, 5] })];
	const data = image('pstree', ...entries);

	test('reads every entry, with its offset and length', () => {
		const d = decodeImage('pstree', 'pstree.img', data);
		assert.deepEqual(d.entries.map((e) => e.message.pid), [1, null, 3]);
		assert.deepEqual(d.entries.map((e) => e.offset), [8, 8 + entries[0].length, 8 + entries[0].length + entries[1].length]);
		assert.deepEqual(d.entries.map((e) => e.length), entries.map((e) => e.length - 4));
		assert.deepEqual(d.entries[2].message.threads, [3, 4, 5]);
	});

	test('a zero-length entry is an entry with every field absent', () => {
		assert.equal(entries[1].length, 4);
		assert.equal(decodeImage('pstree', 'pstree.img', data).entries[1].message.ppid, null);
	});

	test('a header alone is an image without entries', () => {
		assert.deepEqual(decodeImage('files', 'files.img', imageHeader('files')).entries, []);
	});

	test('iterating stops where the caller stops: a later corrupt entry is not read', () => {
		const corrupt = Buffer.concat([data.subarray(0, 8 + entries[0].length), u32(1000)]);
		const first = iterateImage('pstree', 'pstree.img', corrupt).next();
		assert.equal(first.done, false);
		assert.equal(first.value?.message.pid, 1);
	});

	test('inventory.img has no common magic; stats has the service magic, and either first magic is accepted', () => {
		assert.deepEqual(imageHeader('inventory'), u32(MAGIC.INVENTORY));
		assert.deepEqual(imageHeader('stats'), u32(IMG_SERVICE_MAGIC, MAGIC.STATS));
		const inv = decodeSingleEntry('inventory', 'inventory.img', Buffer.concat([u32(MAGIC.INVENTORY), entry(criu.Inventory, { imgVersion: 2 })]));
		assert.equal(inv.imgVersion, 2);
		const stats = entry(criu.Stats, { dump: { frozenTime: 5 } });
		for (const first of [IMG_SERVICE_MAGIC, IMG_COMMON_MAGIC]) {
			assert.equal(decodeSingleEntry('stats', 'stats-dump', Buffer.concat([u32(first, MAGIC.STATS), stats])).dump?.frozenTime, 5);
		}
	});
});

describe('raw bytes after entries', () => {
	test('pipes-data: `bytes` bytes after each entry', () => {
		const data = image('pipes-data',
			entry(criu.PipeData, { pipeId: 1, bytes: 5 }), Buffer.from('hello'),
			entry(criu.PipeData, { pipeId: 2, bytes: 0 }),
			entry(criu.PipeData, { pipeId: 3, bytes: 3, size: 65536 }), Buffer.from('abc'));
		const d = decodeImage('pipes-data', 'pipes-data.img', data);
		assert.deepEqual(d.entries.map((e) => e.message.pipeId), [1, 2, 3]);
		assert.deepEqual(d.entries.map((e) => e.extra.map((s) => bytesAt(data, s))), [['hello'], [''], ['abc']]);
		assert.equal(d.entries[0].extra[0].offset, 8 + 4 + d.entries[0].length);
	});

	test('fifo-data: the same layout', () => {
		const data = image('fifo-data', entry(criu.PipeData, { pipeId: 4, bytes: 2 }), Buffer.from('xy'), entry(criu.PipeData, { pipeId: 5, bytes: 1 }), Buffer.from('z'));
		assert.deepEqual(decodeImage('fifo-data', 'fifo-data.img', data).entries.map((e) => bytesAt(data, e.extra[0])), ['xy', 'z']);
	});

	test('sk-queues: `length` bytes of packet after each entry', () => {
		const data = image('sk-queues',
			entry(criu.SocketQueueEntry, { idFor: 11, length: 27 }), Buffer.from('unix: root to child, unread'),
			entry(criu.SocketQueueEntry, { idFor: 12, length: 4 }), Buffer.from('ping'));
		const d = decodeImage('sk-queues', 'sk-queues.img', data);
		assert.deepEqual(d.entries.map((e) => [e.message.idFor, bytesAt(data, e.extra[0])]), [[11, 'unix: root to child, unread'], [12, 'ping']]);
	});

	test('tcp-stream: the receive queue, then the send queue', () => {
		const data = image('tcp-stream', entry(criu.TcpStream, { inqLen: 3, outqLen: 4, inqSeq: 1, outqSeq: 2 }), Buffer.from('in!out!'));
		const [e] = decodeImage('tcp-stream', 'tcp-stream-2329.img', data).entries;
		assert.deepEqual(e.extra.map((s) => bytesAt(data, s)), ['in!', 'out!']);
	});

	test('ipcns-shm: the segment, padded to 4 bytes, unless it is in the pagemaps', () => {
		const data = image('ipcns-shm',
			entry(criu.IpcShmSegment, { desc: { id: 1 }, size: 10n }), Buffer.from('0123456789'), Buffer.alloc(2),
			entry(criu.IpcShmSegment, { desc: { id: 2 }, size: 8192n, inPagemaps: true }),
			entry(criu.IpcShmSegment, { desc: { id: 3 }, size: 4n, inPagemaps: false }), Buffer.from('abcd'));
		const d = decodeImage('ipcns-shm', 'ipcns-shm-9.img', data);
		assert.deepEqual(d.entries.map((e) => e.message.desc?.id), [1, 2, 3]);
		assert.deepEqual(d.entries.map((e) => e.extra.map((s) => bytesAt(data, s))), [['0123456789'], [], ['abcd']]);
	});

	test('ipcns-sem: nsems u16 values, padded to 8 bytes', () => {
		const values = Buffer.alloc(6);
		[1, 2, 65535].forEach((v, i) => values.writeUInt16LE(v, 2 * i));
		const data = image('ipcns-sem',
			entry(criu.IpcSemaphoreSet, { desc: { id: 1 }, nsems: 3 }), values, Buffer.alloc(2),
			entry(criu.IpcSemaphoreSet, { desc: { id: 2 }, nsems: 4 }), Buffer.alloc(8, 0xab));
		const d = decodeImage('ipcns-sem', 'ipcns-sem-9.img', data);
		assert.deepEqual(d.entries.map((e) => e.message.desc?.id), [1, 2]);
		assert.equal(d.entries[0].extra[0].length, 6);
		assert.equal(data.readUInt16LE(d.entries[0].extra[0].offset + 4), 65535);
		assert.equal(d.entries[1].extra[0].length, 8);
	});

	test('ipcns-msg: qnum framed messages, each text padded to 8 bytes', () => {
		const data = image('ipcns-msg',
			entry(criu.IpcMessageQueue, { desc: { id: 1 }, qnum: 2, qbytes: 16384 }),
			entry(criu.IpcMessage, { mtype: 1n, msize: 5 }), Buffer.from('hello'), Buffer.alloc(3),
			entry(criu.IpcMessage, { mtype: U64_MAX, msize: 8 }), Buffer.from('12345678'),
			entry(criu.IpcMessageQueue, { desc: { id: 2 }, qnum: 0 }));
		const d = decodeImage('ipcns-msg', 'ipcns-msg-9.img', data);
		assert.deepEqual(d.entries.map((e) => e.message.desc?.id), [1, 2]);
		assert.deepEqual(d.entries[0].sub.map((s) => [s.message.mtype, bytesAt(data, s.data)]), [[1n, 'hello'], [U64_MAX, '12345678']]);
		assert.deepEqual(d.entries[1].sub, []);
	});

	test('ghost-file: chunks, or the contents up to the end', () => {
		const plain = image('ghost-file', entry(criu.GhostFile, { mode: 0o100600, size: 5n }), Buffer.from('ghost'));
		const [p] = decodeImage('ghost-file', 'ghost-file-1a.img', plain).entries;
		assert.deepEqual(p.extra.map((s) => bytesAt(plain, s)), ['ghost']);
		const chunked = image('ghost-file', entry(criu.GhostFile, { chunks: true, size: 10000n }),
			entry(criu.GhostChunk, { len: 3n, off: 0n }), Buffer.from('abc'),
			entry(criu.GhostChunk, { len: 2n, off: 9998n }), Buffer.from('yz'));
		const [c] = decodeImage('ghost-file', 'ghost-file-1a.img', chunked).entries;
		assert.deepEqual(c.sub.map((s) => [s.message.off, bytesAt(chunked, s.data)]), [[0n, 'abc'], [9998n, 'yz']]);
	});
});

describe('decodePagemap', () => {
	const head = entry(criu.PagemapHead, { pagesId: 3 });

	test('CRIU 4.2 layout: count in field 5, 0 in field 2', () => {
		const pm = decodePagemap('pagemap-1.img', image('pagemap', head, entry(criu.PagemapEntry, { vaddr: 0x400000n, compatNrPages: 0, nrPages: 7n, flags: PE_PRESENT })));
		assert.equal(pm.pagesId, 3);
		assert.deepEqual(pm.entries.map((e) => [e.vaddr, e.nrPages, e.flags, e.inParent]), [[0x400000n, 7, PE_PRESENT, false]]);
	});

	test('CRIU <= 4.1 layout: count in field 2 only', () => {
		const pm = decodePagemap('pagemap-1.img', image('pagemap', head, entry(criu.PagemapEntry, { vaddr: 0x400000n, compatNrPages: 12, flags: PE_LAZY | PE_PRESENT })));
		assert.equal(pm.entries[0].nrPages, 12);
		assert.equal(pm.entries[0].flags, PE_LAZY | PE_PRESENT);
	});

	test('field 5 wins when both are there', () => {
		const pm = decodePagemap('pagemap-1.img', image('pagemap', head, entry(criu.PagemapEntry, { vaddr: 0x1000n, compatNrPages: 2, nrPages: 5n, flags: PE_PRESENT })));
		assert.equal(pm.entries[0].nrPages, 5);
	});

	test('flags: explicit ones kept; images older than flags: in_parent is PE_PARENT, else PE_PRESENT', () => {
		const pm = decodePagemap('pagemap-1.img', image('pagemap', head,
			entry(criu.PagemapEntry, { vaddr: 0x1000n, compatNrPages: 1, flags: PE_PARENT }),
			entry(criu.PagemapEntry, { vaddr: 0x2000n, compatNrPages: 1, inParent: true }),
			entry(criu.PagemapEntry, { vaddr: 0x3000n, compatNrPages: 1 }),
			entry(criu.PagemapEntry, { vaddr: 0x4000n, compatNrPages: 1, inParent: false }),
			entry(criu.PagemapEntry, { vaddr: 0x5000n, compatNrPages: 1, flags: 0 })));
		assert.deepEqual(pm.entries.map((e) => [e.flags, e.inParent]), [[PE_PARENT, true], [PE_PARENT, true], [PE_PRESENT, false], [PE_PRESENT, false], [0, false]]);
	});

	test('addresses are exact 64-bit values', () => {
		const data = image('pagemap', head,
			entry(criu.PagemapEntry, { vaddr: VSYSCALL, compatNrPages: 1, flags: PE_PRESENT }),
			entry(criu.PagemapEntry, { vaddr: U64_MAX - 0xfffn, compatNrPages: 1, flags: PE_PRESENT }),
			entry(criu.PagemapEntry, { vaddr: 0x7fffffffe000n, compatNrPages: 1, flags: PE_PRESENT }));
		assert.deepEqual(decodePagemap('pagemap-1.img', data).entries.map((e) => e.vaddr), [VSYSCALL, 0xfffffffffffff000n, 0x7fffffffe000n]);
		assert.equal(VSYSCALL > BigInt(Number.MAX_SAFE_INTEGER), true);
	});

	test('entries carry their offsets; pagemap-shmem images decode the same way', () => {
		const run = entry(criu.PagemapEntry, { vaddr: 0n, compatNrPages: 16, flags: PE_PRESENT });
		const d = decodeImageFile('pagemap-shmem-394.img', image('pagemap-shmem', head, run));
		assert.equal(d.kind, 'pagemap-shmem');
		if (d.kind !== 'pagemap-shmem') return;
		assert.deepEqual(d.pagemap.entries.map((e) => [e.offset, e.nrPages]), [[8 + head.length, 16]]);
	});
});

describe('exact 64-bit integers', () => {
	test('registers: all ones, the vsyscall address, sign bit', () => {
		const regs = { r15: U64_MAX, ip: VSYSCALL, sp: 1n << 63n, ax: (1n << 53n) + 1n, mode: criu.X86RegsMode.X86_REGS_MODE_COMPAT };
		const core = decodeSingleEntry('core', 'core-1.img', image('core', entry(criu.Core, { threadInfo: { gpregs: regs } })));
		assertFields(core.threadInfo?.gpregs, regs);
		assert.equal(typeof core.threadInfo?.gpregs?.ip, 'bigint');
	});

	test('signed 64-bit fields: sint64 (vma fd) and int64 (lock range)', () => {
		const mm = decodeSingleEntry('mm', 'mm-1.img', image('mm', entry(criu.MemoryMap, { vmas: [{ fd: -1n }, { fd: -(1n << 63n) }, { fd: (1n << 63n) - 1n }] })));
		assert.deepEqual(mm.vmas.map((v) => v.fd), [-1n, -(1n << 63n), (1n << 63n) - 1n]);
		const lock = decodeSingleEntry('filelocks', 'filelocks.img', image('filelocks', entry(criu.FileLock, { start: -1n, len: U64_MAX >> 1n })));
		assert.deepEqual([lock.start, lock.len], [-1n, (1n << 63n) - 1n]);
	});

	test('packed repeated uint64 (as another encoder may write it) decodes too', () => {
		// mm_saved_auxv = 13, wire type 2: [1, 2^64-1].
		const payload = Buffer.from([0x6a, 11, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
		const mm = decodeSingleEntry('mm', 'mm-1.img', image('mm', frameEntry(payload)));
		assert.deepEqual(mm.mmSavedAuxv, [1n, U64_MAX]);
	});
});

describe('corrupt images: ImageFormatError with file and offset', () => {
	const core = entry(criu.Core, { mtype: criu.Arch.ARCH_X86_64, tc: { comm: 'x' } });

	test('bad common magic', () => {
		assertImageError(() => decodeImage('core', 'core-42.img', Buffer.concat([u32(0xdeadbeef, MAGIC.CORE), core])), 'core-42.img', 0, /not a CRIU image: first magic 0xdeadbeef/);
	});

	test('bad image magic: a core image read as mm', () => {
		assertImageError(() => decodeImage('mm', 'core-42.img', image('core', core)), 'core-42.img', 4, /image magic 0x55053847 \(CORE\), but mm images have 0x57492820 \(MM\)/);
	});

	test('bad image magic: inventory', () => {
		assertImageError(() => decodeImage('inventory', 'inventory.img', image('core', core)), 'inventory.img', 0, /image magic 0x54564319 \(IMG_COMMON\)/);
	});

	test('truncated header', () => {
		assertImageError(() => decodeImage('core', 'core-42.img', u32(IMG_COMMON_MAGIC).subarray(0, 3)), 'core-42.img', 0, /file too short for the image header: 3 bytes/);
		assertImageError(() => decodeImage('core', 'core-42.img', image('core').subarray(0, 6)), 'core-42.img', 4, /file too short .*image magic/);
		assertImageError(() => decodeImage('core', 'core-42.img', Buffer.alloc(0)), 'core-42.img', 0, /0 bytes/);
	});

	test('truncated length prefix', () => {
		const data = Buffer.concat([image('core', core), Buffer.from([1, 0])]);
		assertImageError(() => decodeImage('core', 'core-42.img', data), 'core-42.img', 8 + core.length, /truncated entry length \(2 bytes left, need 4\)/);
	});

	test('length past the end of the file', () => {
		const data = Buffer.concat([image('core', core), u32(99999), Buffer.alloc(10)]);
		assertImageError(() => decodeImage('core', 'core-42.img', data), 'core-42.img', 8 + core.length, new RegExp(`^entry length 99999 runs past the end of the file \\(${data.length} bytes\\)$`));
	});

	test('a payload that is not valid protobuf', () => {
		const cases: Buffer[] = [
			Buffer.from([0x1a, 0x05, 0x01]), // field 3 (tc), 5 bytes announced, 1 there
			Buffer.from([0x0f]), // wire type 7 does not exist
			Buffer.from([0x08, 0xff, 0xff]), // varint running off the end
		];
		for (const payload of cases) {
			assertImageError(() => decodeImage('core', 'core-42.img', image('core', frameEntry(payload))), 'core-42.img', 12, /entry payload \(\d+ bytes\) is not a valid Core message/);
		}
	});

	test('raw bytes running past the end', () => {
		const data = image('pipes-data', entry(criu.PipeData, { pipeId: 1, bytes: 100 }), Buffer.from('short'));
		const headerEnd = 8 + entry(criu.PipeData, { pipeId: 1, bytes: 100 }).length;
		assertImageError(() => decodeImage('pipes-data', 'pipes-data.img', data), 'pipes-data.img', headerEnd, /pipe data of 100 bytes runs past the end of the file/);
		const shm = image('ipcns-shm', entry(criu.IpcShmSegment, { size: 6n }), Buffer.from('123456'));
		assertImageError(() => decodeImage('ipcns-shm', 'ipcns-shm-9.img', shm), 'ipcns-shm-9.img', shm.length - 6, /shared memory segment of 6 bytes runs past/);
		const huge = image('ipcns-shm', entry(criu.IpcShmSegment, { size: U64_MAX }));
		assert.throws(() => decodeImage('ipcns-shm', 'ipcns-shm-9.img', huge), ImageFormatError);
	});

	test('unknown file name, raw pages, missing entries', () => {
		assertImageError(() => decodeImageFile('notes.txt', image('core', core)), 'notes.txt', 0, /not the name of a CRIU image/);
		assertImageError(() => decodeImageFile('pages-1.img', Buffer.alloc(4096)), 'pages-1.img', 0, /raw page data/);
		assertImageError(() => decodeSingleEntry('core', 'core-1.img', image('core')), 'core-1.img', 8, /no entry/);
		assertImageError(() => decodePagemap('pagemap-1.img', image('pagemap')), 'pagemap-1.img', 8, /no pagemap head/);
		const noAddr = image('pagemap', entry(criu.PagemapHead, { pagesId: 1 }), entry(criu.PagemapEntry, { compatNrPages: 1 }));
		assertImageError(() => decodePagemap('pagemap-1.img', noAddr), 'pagemap-1.img', noAddr.length - 2, /without an address/);
	});
});

describe('file names', () => {
	test('kind and number from a name', () => {
		assert.deepEqual(kindOfFileName('core-123.img'), { kind: 'core', id: 123 });
		assert.deepEqual(kindOfFileName('pagemap-123.img'), { kind: 'pagemap', id: 123 });
		assert.deepEqual(kindOfFileName('pagemap-shmem-394.img'), { kind: 'pagemap-shmem', id: 394 });
		assert.deepEqual(kindOfFileName('pages-1.img'), { kind: 'pages', id: 1 });
		assert.deepEqual(kindOfFileName('files.img'), { kind: 'files' });
		assert.deepEqual(kindOfFileName('fdinfo-2.img'), { kind: 'fdinfo', id: 2 });
		assert.deepEqual(kindOfFileName('ipcns-shm-9.img'), { kind: 'ipcns-shm', id: 9 });
		assert.deepEqual(kindOfFileName('ipcns-var-10.img'), { kind: 'ipcns-var', id: 10 });
		assert.deepEqual(kindOfFileName('tty-info.img'), { kind: 'tty-info' });
		assert.deepEqual(kindOfFileName('tty.img'), { kind: 'tty' });
		assert.deepEqual(kindOfFileName('tcp-stream-1a2b.img'), { kind: 'tcp-stream', id: 0x1a2b });
		assert.deepEqual(kindOfFileName('ghost-file-ff.img'), { kind: 'ghost-file', id: 255 });
		assert.deepEqual(kindOfFileName('stats-dump'), { kind: 'stats', stage: 'dump' });
		assert.deepEqual(kindOfFileName('stats-restore'), { kind: 'stats', stage: 'restore' });
		assert.deepEqual(kindOfFileName('/var/lib/ckpt/1/inventory.img'), { kind: 'inventory' });
	});

	test('names this layer does not read', () => {
		for (const name of ['seccomp.img', 'route-9.img', 'core-.img', 'core-1.img.bak', 'core-x.img', 'stats-other', 'dump.log', 'pages-shmem-3.img']) {
			assert.equal(kindOfFileName(name), undefined, name);
		}
	});

	test('imageFileName is the inverse', () => {
		assert.equal(imageFileName('core', 42), 'core-42.img');
		assert.equal(imageFileName('tcp-stream', 0x1a2b), 'tcp-stream-1a2b.img');
		assert.equal(imageFileName('stats', 'restore'), 'stats-restore');
		assert.equal(imageFileName('files'), 'files.img');
		assert.throws(() => imageFileName('core'), RangeError);
		assert.throws(() => imageFileName('stats', 3), RangeError);
	});
});

describe('magics', () => {
	test('the values CRIU uses', () => {
		assert.equal(IMG_COMMON_MAGIC, 0x54564319);
		assert.equal(IMG_SERVICE_MAGIC, 0x55105940);
		assert.equal(MAGIC.INVENTORY, 0x58313116);
		assert.equal(MAGIC.CORE, 0x55053847);
		assert.equal(MAGIC.PAGEMAP, 0x56084025);
		assert.equal(MAGIC.IPCNS_SHM, 0x46283044);
		assert.equal(MAGIC.STATS, 0x57093306);
		assert.equal(new Set(Object.values(MAGIC)).size, Object.keys(MAGIC).length, 'no two kinds share a magic');
	});
});
