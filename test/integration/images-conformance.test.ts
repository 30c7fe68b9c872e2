/**
 * Conformance of the checkpoint model (src/core/images) with CRIU's own
 * decoder: the rich workload is dumped, opened with openCheckpoint over SFTP,
 * and every field the model exposes is compared with what pycriu finds in the
 * same directory (test/conformance/crit-extract.py, run on the target). Memory
 * is compared byte for byte with reads done through CRIU's pagemap by that
 * script's own offset arithmetic. Finally the real `ckpt` CLI (the esbuild
 * bundle behind bin/ckpt.js) is run once for `show --json` and `mem --raw`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { openCheckpoint, type CheckpointImages, type FileImage, type ProcessImage, type VmaImage } from '../../src/core/images/checkpoint';
import type { FileKind, VmaKind } from '../../src/core/images/describe';
import type { MemoryRead } from '../../src/core/images/memory';
import type { pb } from '../../src/core/protocol';
import { HelperSession } from '../../src/core/session';
import { shellQuote, type SshTarget } from '../../src/core/targets/ssh';
import { connectionFilePath, REPO, sshTarget, TargetShell } from './harness';
import { buildRich, dumpRich, RICH, richBytes, startRich, type RichTree } from './richCheckpoint';
import { prng } from '../support/prng';

const execFileAsync = promisify(execFile);
const CKPT = join(REPO, 'bin', 'ckpt.js');
const EXTRACT_SCRIPT = join(REPO, 'test', 'conformance', 'crit-extract.py');

const PAGE = 4096n;
const PE_PARENT = 1;
const PE_PRESENT = 4;
const MAP_SHARED = 1;
const MAP_GROWSDOWN = 0x100;
/** CRIU's vma_entry.status bits (pycriu's pb2dict.py mmap_status_map). */
const VMA = {
	AREA_STACK: 1 << 1, AREA_VSYSCALL: 1 << 2, AREA_VDSO: 1 << 3, AREA_HEAP: 1 << 5,
	FILE_PRIVATE: 1 << 6, FILE_SHARED: 1 << 7, ANON_SHARED: 1 << 8, ANON_PRIVATE: 1 << 9,
	AREA_SYSVIPC: 1 << 10, AREA_SOCKET: 1 << 11, AREA_VVAR: 1 << 12, AREA_AIORING: 1 << 13, AREA_MEMFD: 1 << 14,
} as const;
/** compel's task states (CRIU core_entry.tc.task_state). */
const TASK_STATES: Record<string, ProcessImage['state']> = { 1: 'alive', 2: 'dead', 3: 'stopped', 6: 'zombie' };
/** CRIU's fd_types names (fdinfo/files type) and the model's kinds. */
const CRIT_FILE_KINDS: Record<string, FileKind> = {
	REG: 'regular', PIPE: 'pipe', FIFO: 'fifo', INETSK: 'inet-socket', UNIXSK: 'unix-socket', NETLINKSK: 'netlink-socket',
	PACKETSK: 'packet-socket', TTY: 'tty', EVENTFD: 'eventfd', EVENTPOLL: 'eventpoll', SIGNALFD: 'signalfd',
	INOTIFY: 'inotify', FANOTIFY: 'fanotify', MEMFD: 'memfd', NS: 'namespace', TIMERFD: 'timerfd', TUNF: 'tun',
	BPFMAP: 'bpf-map', PIDFD: 'pidfd',
};
/** ids-*.img fields of each namespace kind. */
const NS_ID_FIELDS = {
	pid: 'pid_ns_id', net: 'net_ns_id', ipc: 'ipc_ns_id', uts: 'uts_ns_id', mnt: 'mnt_ns_id', user: 'user_ns_id', cgroup: 'cgroup_ns_id', time: 'time_ns_id',
} as const;
/** The rich tree moves into its own IPC, net and UTS namespaces: CRIU dumps those, and inherits the rest at restore. */
const DUMPED_NAMESPACES = new Set(['ipc', 'net', 'uts']);
const RANDOM_READS = 50;
const RANDOM_SEED = 0x5eed_c0de;

// ---- crit-extract.py's output (every integer a decimal string) ---------------

type Int = string;
interface CritVma { start: Int; end: Int; pgoff: Int; shmid: Int; prot: Int; flags: Int; status: Int }
interface CritRun { vaddr: Int; nr_pages: Int; flags: Int; pages_offset: Int | null }
interface CritPagemap { pages_id: Int; count_field: string | null; pages_bytes: Int; pages_file_size: Int | null; entries: CritRun[] }
interface CritSegment { addr: Int; len: Int; hex: string | null; why: string }
interface CritRead { pid?: Int; shmid?: Int; addr: Int; len: Int; hex: string; segments: CritSegment[] }
interface CritFile {
	id: Int; type: string;
	name?: string; pos?: Int; flags?: Int;
	pipe_id?: Int;
	ino?: Int; peer?: Int; sk_type?: Int; sk_name?: string;
	inode_id?: Int;
	counter?: Int;
	tfds?: { tfd: Int; events: Int }[];
	wd_paths?: (string | null)[];
	src_port?: Int; dst_port?: Int; state?: Int;
}
interface CritCore {
	tid: Int; comm: string; task_state: Int | null;
	gpregs: Record<string, Int>;
	fpregs: boolean; xsave: boolean;
	creds: { uid?: Int; gid?: Int; euid?: Int; egid?: Int; groups?: Int[] } | null;
}
interface CritExtract {
	dir: string;
	image_files: string[];
	inventory: { img_version: Int; root_ids: Record<string, Int> };
	pstree: { pid: Int; ppid: Int; pgid: Int; sid: Int; threads: Int[] }[];
	cores: Record<string, CritCore>;
	mm: Record<string, { mm_start_stack: Int; mm_arg_start: Int; mm_arg_end: Int; vmas: CritVma[] }>;
	pagemaps: Record<string, CritPagemap>;
	shmem_pagemaps: Record<string, CritPagemap>;
	ids: Record<string, Record<string, Int>>;
	fdinfo: Record<string, { fd: Int; id: Int; type: string; flags?: Int }[]>;
	files: CritFile[];
	memfd: { inode_id: Int; name: string; size: Int; shmid: Int }[];
	stats_dump: Record<string, Int> | null;
	utsns: Record<string, { nodename: string }>;
	ipcns_shm: Record<string, { key: Int; id: Int; size: Int }[]>;
	reads: CritRead[];
}

/**
 * A memory read both sides do: who asks for what, and why. A 'shmem' read is
 * crit's only: the bytes of the shared memory object behind process pid's
 * area at addr, through pagemap-shmem-<shmid>.img at offset.
 */
interface ReadRequest {
	kind: 'named' | 'random' | 'shmem';
	what: string;
	pid: number;
	addr: bigint;
	len: number;
	shmem?: { shmid: number; offset: bigint };
}

// ---- state -------------------------------------------------------------------

let shell: TargetShell;
let session: HelperSession;
let imagesTarget: SshTarget;
let rich: RichTree | undefined;
let checkpoint: pb.Checkpoint | undefined;
let scriptDir: string | undefined;
let crit: CritExtract;
let images: CheckpointImages;
let requests: ReadRequest[] = [];

async function critExtract(dir: string, reads: ReadRequest[] = []): Promise<CritExtract> {
	const args = reads.map((r) => (r.shmem ? `shmem:${r.shmem.shmid}:0x${r.shmem.offset.toString(16)}:${r.len}` : `${r.pid}:0x${r.addr.toString(16)}:${r.len}`));
	const out = await shell.ok(`python3 ${scriptDir}/crit-extract.py ${shellQuote(dir)} ${args.join(' ')}`);
	return JSON.parse(out) as CritExtract;
}

before(async () => {
	shell = await TargetShell.open();
	await buildRich(shell);
	session = await HelperSession.open(sshTarget());
	rich = await startRich(shell);
	checkpoint = await dumpRich(session, rich.pid, { leaveRunning: true });
	scriptDir = (await shell.ok('mktemp -d /tmp/ckpt-conformance-XXXXXX')).trim();
	await shell.writeFile(`${scriptDir}/crit-extract.py`, readFileSync(EXTRACT_SCRIPT));
	const metadata = await critExtract(checkpoint.path);
	imagesTarget = sshTarget();
	images = await openCheckpoint(await imagesTarget.imageSource(checkpoint.path));
	requests = [...namedReads(rich, metadata), ...randomReads(metadata), ...sharedReads(rich, metadata)];
	crit = await critExtract(checkpoint.path, requests);
});

after(async () => {
	if (rich) {
		await shell.killTree(rich.pid);
		await shell.killTree(rich.info.child);
		await shell.run(`rm -rf ${shellQuote(rich.dir)}`);
	}
	if (checkpoint) await session.remove(checkpoint.id).catch(() => undefined);
	await session?.close();
	await imagesTarget?.close();
	if (scriptDir) await shell.run(`rm -rf ${shellQuote(scriptDir)}`);
	shell?.close();
});

// ---- small helpers -------------------------------------------------------------

const big = (s: Int): bigint => BigInt(s);
const num = (s: Int | undefined | null): number => Number(s ?? 0);
const hex = (v: bigint): string => `0x${v.toString(16)}`;
const camel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function processOf(pid: number): ProcessImage {
	const p = images.processes.find((q) => q.pid === pid);
	assert.ok(p, `the model has process ${pid}`);
	return p;
}


/** Pages of crit's pagemap runs (present or in a parent, not lazy-only) within [start, end). */
function critPagesIn(pagemap: CritPagemap | undefined, start: bigint, end: bigint): bigint {
	let pages = 0n;
	for (const r of pagemap?.entries ?? []) {
		const flags = num(r.flags);
		if (!(flags & (PE_PRESENT | PE_PARENT))) continue;
		const lo = big(r.vaddr) > start ? big(r.vaddr) : start;
		const runEnd = big(r.vaddr) + big(r.nr_pages) * PAGE;
		const hi = runEnd < end ? runEnd : end;
		if (hi > lo) pages += (hi - lo) / PAGE;
	}
	return pages;
}

/** crit-extract's answer to a request. */
function critReadOf(request: ReadRequest): CritRead {
	const i = requests.indexOf(request);
	assert.ok(i >= 0 && crit.reads[i], `crit-extract answered "${request.what}"`);
	return crit.reads[i];
}

function critRead(what: string): CritRead {
	const request = requests.find((r) => r.what === what);
	assert.ok(request, `a read of ${what} was asked for`);
	return critReadOf(request);
}

function critFile(id: Int | number): CritFile | undefined {
	return crit.files.find((f) => f.id === String(id));
}

function critMemfdName(file: CritFile | undefined): string | undefined {
	return crit.memfd.find((m) => m.inode_id === file?.inode_id)?.name;
}

// ---- the reads -----------------------------------------------------------------

/** Names of the reads other checks look up. */
const FIXED = 'the fixed-address region';
const MARKER = 'the heap marker';
const GAP = 'the end of the fixed region and the gap after it';
const MAPPED_FILE = 'the private file mapping (page 0 the file\'s, page 1 overwritten)';

/** The regions the workload put at known places, plus stacks, command lines and edges. */
function namedReads({ info }: RichTree, c: CritExtract): ReadRequest[] {
	const root = info.root;
	const named = (what: string, pid: number, addr: number | bigint, len: number): ReadRequest => ({ kind: 'named', what, pid, addr: BigInt(addr), len });
	const reads: ReadRequest[] = [
		named(FIXED, root, info.fixed.addr, info.fixed.size),
		named(GAP, root, info.fixed.addr + info.fixed.size - 40, 80),
		named(MARKER, root, info.marker.addr, info.marker.text.length + 1),
		named(MAPPED_FILE, root, info.mappedFile.addr, info.mappedFile.size),
		named('the vsyscall page (above 2^53, never dumped)', root, 0xffffffffff600000n, 64),
		// the shared regions are read through pagemap-shmem-* (sharedReads), as CRIU holds them
	];
	for (const p of c.pstree) {
		const pid = num(p.pid);
		const mm = c.mm[p.pid];
		reads.push(named(`the command line of ${pid}`, pid, big(mm.mm_arg_start), Number(big(mm.mm_arg_end) - big(mm.mm_arg_start))));
		for (const tid of p.threads) {
			const sp = big(c.cores[tid].gpregs.sp);
			reads.push(named(`the stack of thread ${tid} of ${pid} around sp`, pid, sp - 256n, 768));
		}
	}
	return reads;
}

/** The workload's shared memory: its bytes are in pagemap-shmem-*, not in the processes' pagemaps. */
function sharedRegions(info: RichTree['info']): (Omit<ReadRequest, 'kind'> & { pattern: string })[] {
	return [
		{ what: 'the shared anonymous mapping', pid: info.root, addr: BigInt(info.anonShared.addr), len: info.anonShared.size, pattern: info.anonShared.pattern },
		{ what: 'the memfd mapping', pid: info.root, addr: BigInt(info.memfd.addr), len: info.memfd.size, pattern: info.memfd.pattern },
		{ what: 'the SysV shm attachment (root)', pid: info.root, addr: BigInt(info.shm.addr), len: info.shm.size, pattern: info.shm.pattern },
		{ what: 'the SysV shm attachment (child)', pid: info.child, addr: BigInt(info.shm.addr), len: info.shm.size, pattern: info.shm.pattern },
	];
}

/** Whether crit's VMA is shared memory that CRIU dumps once, in a pagemap-shmem-*.img. */
function isSharedVma(v: CritVma): boolean {
	return (num(v.status) & (VMA.AREA_SYSVIPC | VMA.AREA_MEMFD | VMA.ANON_SHARED)) !== 0;
}

/** The shared memory object (pagemap-shmem-<shmid>.img) behind a process's area, and the offset of addr in it, from crit's images. */
function shmemOf(c: CritExtract, pid: number, addr: bigint): { shmid: number; offset: bigint } {
	const vma = c.mm[String(pid)].vmas.find((v) => big(v.start) <= addr && addr < big(v.end));
	assert.ok(vma, `crit has a VMA of ${pid} at ${hex(addr)}`);
	const offset = addr - big(vma.start) + big(vma.pgoff);
	const status = num(vma.status);
	if (status & VMA.AREA_SYSVIPC) return { shmid: num(vma.shmid), offset };
	assert.ok(status & VMA.AREA_MEMFD, `VMA ${hex(big(vma.start))} of ${pid} is SysV or memfd-backed (status 0x${status.toString(16)})`);
	const file = c.files.find((f) => f.id === vma.shmid);
	const inode = c.memfd.find((m) => m.inode_id === file?.inode_id);
	assert.ok(inode, `files.img ${vma.shmid} is a memfd with an inode in memfd.img`);
	return { shmid: num(inode.shmid), offset };
}

/** crit's reads of the shared regions through pagemap-shmem-*. */
function sharedReads({ info }: RichTree, c: CritExtract): ReadRequest[] {
	return sharedRegions(info).map((r) => ({ kind: 'shmem', what: `${r.what}, through pagemap-shmem`, pid: r.pid, addr: r.addr, len: r.len, shmem: shmemOf(c, r.pid, r.addr) }));
}

/**
 * RANDOM_READS reads in VMAs that hold dumped pages (crit's VMA and pagemap
 * lists): half start inside a dumped run, half anywhere in the VMA; lengths
 * up to two pages, so they cross page, run and VMA boundaries.
 */
function randomReads(c: CritExtract): ReadRequest[] {
	const random = prng(RANDOM_SEED);
	const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
	const candidates = c.pstree.flatMap((p) => c.mm[p.pid].vmas
		.filter((v) => !isSharedVma(v) && critPagesIn(c.pagemaps[p.pid], big(v.start), big(v.end)) > 0n)
		.map((v) => ({ pid: num(p.pid), vma: v })));
	const reads: ReadRequest[] = [];
	for (let i = 0; i < RANDOM_READS; i++) {
		const { pid, vma } = pick(candidates);
		const start = big(vma.start);
		const size = big(vma.end) - start;
		let addr = start + BigInt(Math.floor(random() * Number(size)));
		if (random() < 0.5) {
			// a run may span neighbouring VMAs: its part in this one
			const parts = c.pagemaps[String(pid)].entries
				.map((r) => ({ lo: big(r.vaddr), hi: big(r.vaddr) + big(r.nr_pages) * PAGE }))
				.map(({ lo, hi }) => ({ lo: lo > start ? lo : start, hi: hi < big(vma.end) ? hi : big(vma.end) }))
				.filter(({ lo, hi }) => lo < hi);
			const part = pick(parts);
			addr = part.lo + BigInt(Math.floor(random() * Number(part.hi - part.lo)));
		}
		let len = 1 + Math.floor(random() * 2 * Number(PAGE));
		// shared areas are compared through pagemap-shmem-* by their own test: stop before one
		const shared = c.mm[String(pid)].vmas.find((v) => isSharedVma(v) && big(v.start) > addr && big(v.start) < addr + BigInt(len));
		if (shared) len = Number(big(shared.start) - addr);
		reads.push({ kind: 'random', what: `random read ${i} (${pid} ${hex(addr)}+${len})`, pid, addr, len });
	}
	return reads;
}

/** A read as a hex string with "??" for every byte not present: crit-extract.py's notation. */
function renderOurs(read: MemoryRead): string {
	return read.segments.map((s) => (s.data ? s.data.toString('hex') : '??'.repeat(s.length))).join('');
}

interface Stretch {
	start: bigint;
	end: bigint;
	state: string;
}

function mergeStretches(list: Stretch[]): Stretch[] {
	const out: Stretch[] = [];
	for (const s of list) {
		const last = out[out.length - 1];
		if (last && last.end === s.start && last.state === s.state) last.end = s.end;
		else out.push({ ...s });
	}
	return out;
}

/**
 * What the model should say about each byte of crit's read: present, or
 * missing with the reason that follows from crit's data (no pagemap run:
 * unmapped outside crit's VMAs, not-dumped inside; lazy-only run: lazy; in
 * the parent: parent-missing, as this checkpoint has no parent).
 */
function expectedStretches(read: CritRead, vmas: CritVma[]): Stretch[] {
	const out: Stretch[] = [];
	for (const s of read.segments) {
		const start = big(s.addr);
		const end = start + big(s.len);
		if (s.hex !== null) {
			out.push({ start, end, state: 'present' });
			continue;
		}
		if (s.why === 'lazy') out.push({ start, end, state: 'lazy' });
		else if (s.why === 'parent') out.push({ start, end, state: 'parent-missing' });
		else {
			// split at crit's VMA boundaries
			let at = start;
			while (at < end) {
				const vma = vmas.find((v) => big(v.start) <= at && at < big(v.end));
				let stop = end;
				if (vma) stop = big(vma.end) < end ? big(vma.end) : end;
				else for (const v of vmas) if (big(v.start) > at && big(v.start) < stop) stop = big(v.start);
				out.push({ start: at, end: stop, state: vma ? 'not-dumped' : 'unmapped' });
				at = stop;
			}
		}
	}
	return mergeStretches(out);
}

function ourStretches(read: MemoryRead): Stretch[] {
	return mergeStretches(read.segments.map((s) => ({
		start: s.address, end: s.address + BigInt(s.length), state: s.data ? 'present' : s.missing ?? 'missing without a reason',
	})));
}

const showStretches = (list: Stretch[]): string => list.map((s) => `${hex(s.start)}-${hex(s.end)} ${s.state}`).join(', ');

async function assertReadAgrees(request: ReadRequest, critRead: CritRead): Promise<MemoryRead> {
	assert.equal(critRead.pid, String(request.pid), `${request.what}: crit read the same process`);
	assert.equal(big(critRead.addr), request.addr, `${request.what}: crit read the same address`);
	const ours = await processOf(request.pid).read(request.addr, request.len);
	assert.equal(ours.bytes.length, request.len, `${request.what}: length`);
	const want = critRead.hex;
	const got = renderOurs(ours);
	if (got !== want) {
		const at = [...got].findIndex((ch, i) => ch !== want[i]) >> 1;
		assert.fail(`${request.what}: bytes differ first at ${hex(request.addr + BigInt(at))} ` +
			`(ours ${got.slice(at * 2, at * 2 + 32)}, crit ${want.slice(at * 2, at * 2 + 32)})`);
	}
	const expected = expectedStretches(critRead, crit.mm[String(request.pid)].vmas);
	assert.equal(showStretches(ourStretches(ours)), showStretches(expected), `${request.what}: present and missing parts`);
	return ours;
}

// ---- expectations derived from crit's raw fields ----------------------------------

/** "rw-p" from crit's prot and flags, as /proc/PID/maps writes it. */
function critProtString(v: CritVma): string {
	const prot = num(v.prot);
	return (prot & 1 ? 'r' : '-') + (prot & 2 ? 'w' : '-') + (prot & 4 ? 'x' : '-') + (num(v.flags) & MAP_SHARED ? 's' : 'p');
}

/** The model's kind that crit's status bits (and the stack top, and a memfd's name) call for. */
function critVmaKind(v: CritVma, startStack: bigint): VmaKind {
	const status = num(v.status);
	const has = (bit: number): boolean => (status & bit) !== 0;
	if (has(VMA.AREA_VDSO)) return 'vdso';
	if (has(VMA.AREA_VVAR)) return 'vvar';
	if (has(VMA.AREA_VSYSCALL)) return 'vsyscall';
	if (has(VMA.AREA_SYSVIPC)) return 'sysv-shm';
	if (has(VMA.AREA_SOCKET)) return 'socket';
	if (has(VMA.AREA_AIORING)) return 'aio';
	// CRIU 4.x dumps MAP_SHARED|MAP_ANONYMOUS memory as a memfd called "/dev/zero"
	if (has(VMA.AREA_MEMFD)) return critMemfdName(critFile(v.shmid))?.startsWith('/dev/zero') ? 'shared' : 'memfd';
	if (has(VMA.AREA_STACK) || (num(v.flags) & MAP_GROWSDOWN) || (big(v.start) <= startStack && startStack < big(v.end))) return 'stack';
	if (has(VMA.AREA_HEAP)) return 'heap';
	if (has(VMA.ANON_SHARED)) return 'shared';
	if (has(VMA.FILE_PRIVATE) || has(VMA.FILE_SHARED)) return 'file';
	assert.ok(has(VMA.ANON_PRIVATE), `VMA ${hex(big(v.start))} has status 0x${status.toString(16)}: no kind bit at all`);
	return 'anonymous';
}

/** What the model should name as the VMA's backing, from crit's shmid (a files.img id, or a SysV shm id). */
function critVmaFile(v: CritVma, kind: VmaKind): { equal?: string; match?: RegExp } {
	const status = num(v.status);
	if (status & VMA.AREA_SYSVIPC) {
		const segment = Object.values(crit.ipcns_shm).flat().find((s) => s.id === v.shmid);
		assert.ok(segment, `SysV VMA ${hex(big(v.start))}: crit's ipcns-shm has segment ${v.shmid}`);
		return { match: new RegExp(`${num(segment.key).toString(16).padStart(8, '0')}.*shmid ${v.shmid}\\b`, 'i') };
	}
	if (status & VMA.AREA_MEMFD) {
		if (kind === 'shared') return {};
		const name = critMemfdName(critFile(v.shmid));
		assert.ok(name, `memfd VMA ${hex(big(v.start))}: files.img ${v.shmid} resolves to a memfd.img name`);
		return { equal: `memfd:${name}` };
	}
	if (status & (VMA.FILE_PRIVATE | VMA.FILE_SHARED)) {
		const file = critFile(v.shmid);
		assert.ok(file?.name, `file VMA ${hex(big(v.start))}: files.img ${v.shmid} is a regular file with a name`);
		return { equal: file.name };
	}
	return {};
}

function assertVma(pid: number, ours: VmaImage, v: CritVma, startStack: bigint): void {
	const where = `process ${pid} VMA ${hex(big(v.start))}-${hex(big(v.end))} (status 0x${num(v.status).toString(16)}, shmid ${v.shmid})`;
	assert.equal(ours.start, big(v.start), `${where}: start`);
	assert.equal(ours.end, big(v.end), `${where}: end`);
	assert.equal(ours.pgoff, big(v.pgoff), `${where}: pgoff`);
	assert.equal(ours.prot, critProtString(v), `${where}: prot`);
	const kind = critVmaKind(v, startStack);
	assert.equal(ours.kind, kind, `${where}: kind`);
	const file = critVmaFile(v, kind);
	if (file.match) assert.match(ours.file ?? '', file.match, `${where}: file`);
	else assert.equal(ours.file, file.equal, `${where}: file`);
	assert.equal(BigInt(ours.pages), critVmaPages(pid, v), `${where}: pages`);
}

/** Dumped pages of an area by crit: in the process's pagemap, or for shared memory in its object's pagemap-shmem. */
function critVmaPages(pid: number, v: CritVma): bigint {
	if (!isSharedVma(v)) return critPagesIn(crit.pagemaps[String(pid)], big(v.start), big(v.end));
	const { shmid, offset } = shmemOf(crit, pid, big(v.start));
	return critPagesIn(crit.shmem_pagemaps[String(shmid)], offset, offset + big(v.end) - big(v.start));
}

/** One descriptor against its fdinfo entry and files.img entry. */
function assertFile(pid: number, ours: FileImage, fdinfo: { fd: Int; id: Int; type: string; flags?: Int }): void {
	const where = `process ${pid} fd ${fdinfo.fd} (${fdinfo.type})`;
	const file = critFile(fdinfo.id);
	assert.ok(file, `${where}: files.img has entry ${fdinfo.id}`);
	assert.equal(ours.fd, num(fdinfo.fd), `${where}: fd`);
	assert.equal(ours.id, num(fdinfo.id), `${where}: id`);
	assert.equal(ours.flags, num(fdinfo.flags), `${where}: flags`);
	assert.equal(ours.kind, CRIT_FILE_KINDS[fdinfo.type] ?? 'other', `${where}: kind`);
	assert.equal(file.type, fdinfo.type, `${where}: files.img type`);
	switch (fdinfo.type) {
		case 'REG':
			assert.equal(ours.path, file.name, `${where}: path`);
			assert.equal(ours.pos, big(file.pos ?? '0'), `${where}: pos`);
			break;
		case 'PIPE':
			assert.equal(ours.path, `pipe:[${file.pipe_id}]`, `${where}: pipe id`);
			break;
		case 'UNIXSK': {
			assert.match(ours.detail ?? '', new RegExp(`socket:\\[${file.ino}\\]`), `${where}: own inode`);
			if (num(file.peer) === 0) {
				assert.equal(ours.peer, undefined, `${where}: no peer`);
				break;
			}
			const peer = crit.files.find((f) => f.type === 'UNIXSK' && f.ino === file.peer);
			assert.ok(peer, `${where}: crit finds the peer socket ${file.peer} in files.img`);
			assert.match(ours.peer ?? '', new RegExp(`socket:\\[${file.peer}\\]`), `${where}: peer inode`);
			assert.doesNotMatch(ours.peer ?? '', /outside/, `${where}: the peer is resolved inside the checkpoint`);
			break;
		}
		case 'MEMFD': {
			const name = critMemfdName(file);
			assert.ok(name, `${where}: memfd.img has inode ${file.inode_id}`);
			assert.equal(ours.path, `memfd:${name}`, `${where}: memfd name`);
			assert.equal(ours.pos, big(file.pos ?? '0'), `${where}: pos`);
			break;
		}
		case 'EVENTFD':
			assert.equal(ours.detail, `counter ${file.counter}`, `${where}: counter`);
			break;
		case 'EVENTPOLL': {
			const targets = (ours.detail ?? '').match(/\d+/g) ?? [];
			assert.deepEqual(targets, (file.tfds ?? []).map((t) => t.tfd), `${where}: epoll targets (${ours.detail})`);
			break;
		}
		case 'INOTIFY':
			assert.equal(ours.path, (file.wd_paths ?? []).filter(Boolean).join(', '), `${where}: watched paths`);
			break;
		case 'INETSK':
			assert.match(ours.path ?? '', new RegExp(`:${file.src_port}$`), `${where}: local port`);
			break;
		default:
			break;
	}
}

// ---- the tests -----------------------------------------------------------------

describe('the checkpoint model agrees with CRIU\'s crit on a rich checkpoint', () => {
	test('crit-extract reads this CRIU\'s images', () => {
		assert.ok(crit.pstree.length >= 2, 'root and child in pstree');
		for (const [pid, pm] of Object.entries(crit.pagemaps)) {
			assert.ok(pm.count_field, `pagemap-${pid}.img: the entries carry a page count`);
			assert.equal(pm.pages_bytes, pm.pages_file_size, `pagemap-${pid}.img: its PE_PRESENT runs add up to pages-${pm.pages_id}.img`);
		}
	});

	test('image version and the image files present', () => {
		assert.equal(images.imageVersion, num(crit.inventory.img_version));
		assert.deepEqual(images.files, crit.image_files);
	});

	test('dump statistics: every field of stats-dump', () => {
		assert.ok(crit.stats_dump, 'crit decodes stats-dump');
		assert.ok(images.stats, 'the model has the dump statistics');
		const stats = images.stats as unknown as Record<string, unknown>;
		for (const [name, value] of Object.entries(crit.stats_dump)) {
			assert.equal(String(stats[camel(name)] ?? 0), value, `stats ${name}`);
		}
		assert.ok(num(crit.stats_dump.pages_written) > 0, 'pages were written');
		assert.ok(num(crit.stats_dump.frozen_time) > 0, 'the tree was frozen for a while');
	});

	test('processes: pids, parents, groups, sessions, threads, comm, state, creds', () => {
		const { info } = rich!;
		assert.deepEqual(images.processes.map((p) => p.pid).sort(), crit.pstree.map((p) => num(p.pid)).sort());
		assert.deepEqual(images.processes.map((p) => p.pid).sort(), [info.root, info.child].sort());
		for (const entry of crit.pstree) {
			const p = processOf(num(entry.pid));
			const where = `process ${entry.pid}`;
			assert.equal(p.ppid, num(entry.ppid), `${where}: ppid`);
			assert.equal(p.pgid, num(entry.pgid), `${where}: pgid`);
			assert.equal(p.sid, num(entry.sid), `${where}: sid`);
			assert.deepEqual(p.threads.map((t) => t.tid), entry.threads.map(num), `${where}: thread ids`);
			const core = crit.cores[entry.pid];
			assert.equal(p.comm, core.comm, `${where}: comm`);
			assert.ok(core.task_state !== null, `${where}: crit has the task state`);
			assert.equal(p.state, TASK_STATES[core.task_state], `${where}: state`);
			if (core.creds) {
				assert.ok(p.creds, `${where}: creds`);
				assert.equal(p.creds.uid, num(core.creds.uid), `${where}: uid`);
				assert.equal(p.creds.gid, num(core.creds.gid), `${where}: gid`);
				assert.equal(p.creds.euid, num(core.creds.euid), `${where}: euid`);
				assert.equal(p.creds.egid, num(core.creds.egid), `${where}: egid`);
				assert.deepEqual(p.creds.groups, (core.creds.groups ?? []).map(num), `${where}: groups`);
			}
		}
		assert.deepEqual(processOf(info.root).threads.map((t) => t.tid).sort(), [info.root, ...info.threads].sort());
	});

	test('threads: every general-purpose register of every thread, the FPU state and the name', () => {
		let compared = 0;
		for (const entry of crit.pstree) {
			const p = processOf(num(entry.pid));
			for (const thread of p.threads) {
				const core = crit.cores[String(thread.tid)];
				assert.ok(core, `crit has core-${thread.tid}.img`);
				const where = `thread ${thread.tid} of ${p.pid}`;
				// "mode" is an enum (native/compat), not a register value: the model leaves it out
				const critRegs = Object.entries(core.gpregs).filter(([name]) => name !== 'mode');
				assert.ok(critRegs.length >= 27, `${where}: crit has the 27 registers`);
				for (const [name, value] of critRegs) {
					assert.equal(thread.registers[camel(name)], big(value), `${where}: register ${name}`);
					compared++;
				}
				assert.deepEqual(Object.keys(thread.registers).sort(), critRegs.map(([name]) => camel(name)).sort(), `${where}: register names`);
				assert.equal(thread.fpu, core.fpregs ? (core.xsave ? 'xsave' : 'fxsave') : 'none', `${where}: fpu`);
				assert.equal(thread.comm, core.comm, `${where}: comm`);
			}
		}
		assert.ok(compared >= 4 * 27);
	});

	test('memory areas: start, end, pgoff, prot, kind, file and pages of every VMA', () => {
		for (const entry of crit.pstree) {
			const pid = num(entry.pid);
			const mm = crit.mm[entry.pid];
			const ours = processOf(pid).vmas;
			assert.equal(ours.length, mm.vmas.length, `process ${pid}: VMA count`);
			const critVmas = [...mm.vmas].sort((a, b) => (big(a.start) < big(b.start) ? -1 : 1));
			const ourVmas = [...ours].sort((a, b) => (a.start < b.start ? -1 : 1));
			critVmas.forEach((v, i) => assertVma(pid, ourVmas[i], v, big(mm.mm_start_stack)));
			assert.equal(BigInt(processOf(pid).memory.dumpedPages), critPagesIn(crit.pagemaps[entry.pid], 0n, 1n << 64n), `process ${pid}: dumped pages`);
		}
	});

	test('memory areas: the workload\'s regions have the kinds one expects', () => {
		const { info } = rich!;
		const root = processOf(info.root);
		const at = (p: ProcessImage, addr: number | bigint): VmaImage => {
			const a = BigInt(addr);
			const vma = p.vmas.find((v) => v.start <= a && a < v.end);
			assert.ok(vma, `process ${p.pid} has a VMA at ${hex(a)}`);
			return vma;
		};
		assert.equal(at(root, info.fixed.addr).kind, 'anonymous');
		assert.equal(at(root, info.fixed.addr).start, BigInt(info.fixed.addr));
		assert.equal(at(root, info.marker.addr).kind, 'heap');
		assert.equal(at(root, info.anonShared.addr).kind, 'shared');
		assert.equal(at(root, info.memfd.addr).kind, 'memfd');
		assert.equal(at(root, info.memfd.addr).file, `memfd:${info.memfd.name}`);
		assert.equal(at(root, info.mappedFile.addr).kind, 'file');
		assert.equal(at(root, info.mappedFile.addr).file, info.mappedFile.path);
		for (const p of [root, processOf(info.child)]) assert.equal(at(p, info.shm.addr).kind, 'sysv-shm');
		assert.equal(at(root, root.threads[0].registers.sp).kind, 'stack');
		assert.equal(at(root, 0xffffffffff600000n).kind, 'vsyscall');
	});

	test('files: every descriptor of every process', () => {
		const { info } = rich!;
		for (const entry of crit.pstree) {
			const pid = num(entry.pid);
			const filesId = crit.ids[entry.pid].files_id;
			const fdinfo = [...crit.fdinfo[filesId]].sort((a, b) => num(a.fd) - num(b.fd));
			const ours = processOf(pid).files;
			assert.deepEqual(ours.map((f) => f.fd), fdinfo.map((f) => num(f.fd)), `process ${pid}: descriptors`);
			fdinfo.forEach((fi, i) => assertFile(pid, ours[i], fi));
		}
		// and what crit says there is what the workload made
		const root = processOf(info.root);
		const fd = (p: ProcessImage, n: number): FileImage => p.files.find((f) => f.fd === n)!;
		const child = processOf(info.child);
		const kindOf = (kind: string): number => info.fds.root.find((f) => f.kind === kind)!.fd;
		const childKindOf = (kind: string): number => info.fds.child.find((f) => f.kind === kind)!.fd;
		assert.equal(fd(root, kindOf('pipe')).path, fd(child, childKindOf('pipe')).path, 'both ends of the pipe have the same pipe id');
		assert.equal(fd(root, kindOf('eventfd')).detail, `counter ${info.eventfdValue}`);
		assert.equal(fd(root, kindOf('inotify')).path, rich!.dir);
		assert.equal(fd(root, kindOf('memfd')).path, `memfd:${info.memfd.name}`);
		assert.deepEqual((fd(root, kindOf('epoll')).detail ?? '').match(/\d+/g)?.map(Number).sort(), [kindOf('eventfd'), kindOf('pipe')].sort());
	});

	test('namespaces: ids as in ids-*.img; uts, ipc and net dumped, the rest inherited', () => {
		const { info } = rich!;
		for (const entry of crit.pstree) {
			const ids = crit.ids[entry.pid];
			const ours = processOf(num(entry.pid)).namespaces;
			const where = `process ${entry.pid}`;
			const expected = Object.entries(NS_ID_FIELDS)
				.filter(([, field]) => ids[field] !== undefined)
				.map(([kind, field]) => ({ kind, id: num(ids[field]), dumped: DUMPED_NAMESPACES.has(kind) }));
			assert.deepEqual(
				[...ours].sort((a, b) => a.kind.localeCompare(b.kind)),
				expected.sort((a, b) => a.kind.localeCompare(b.kind)),
				`${where}: namespaces`,
			);
			// what crit finds in the dumped namespaces' images
			assert.equal(crit.utsns[ids.uts_ns_id]?.nodename, info.hostname, `${where}: utsns-${ids.uts_ns_id}.img nodename`);
			assert.ok(crit.ipcns_shm[ids.ipc_ns_id]?.some((s) => num(s.key) === info.shm.key && num(s.id) === info.shm.id), `${where}: ipcns-shm-${ids.ipc_ns_id}.img has the segment`);
			assert.ok(crit.image_files.includes(`netns-${ids.net_ns_id}.img`), `${where}: netns-${ids.net_ns_id}.img`);
		}
	});

	test('command lines: as the workload was started, and as crit reads them from the pages', async () => {
		const { info, dir } = rich!;
		const argv = [RICH, dir, info.tcp ? 'tcp' : 'no-tcp'];
		for (const entry of crit.pstree) {
			const pid = num(entry.pid);
			const cmdline = await processOf(pid).cmdline();
			// the child is forked without exec: same argv
			assert.deepEqual(cmdline, argv, `process ${pid}: cmdline`);
			const read = crit.reads.find((r) => r.pid === entry.pid && r.addr === crit.mm[entry.pid].mm_arg_start);
			assert.ok(read && !read.hex.includes('??'), `crit reads the command line of ${pid} from the pages`);
			assert.deepEqual(Buffer.from(read.hex, 'hex').toString('utf8').replace(/\0+$/, '').split('\0'), argv, `process ${pid}: cmdline (crit)`);
		}
	});

	test('memory: the workload\'s regions, stacks and command lines, byte for byte', async () => {
		const states = new Map<string, string[]>();
		for (const request of requests.filter((r) => r.kind === 'named')) {
			const ours = await assertReadAgrees(request, critReadOf(request));
			states.set(request.what, ourStretches(ours).map((st) => st.state));
		}
		assert.deepEqual(states.get(GAP), ['present', 'unmapped'], 'past the end of the fixed region nothing is mapped');
		assert.deepEqual(states.get(MAPPED_FILE), ['not-dumped', 'present']);
		assert.deepEqual(states.get(FIXED), ['present']);
	});

	test('memory: crit-extract.py read what the workload wrote (its offset arithmetic checked against the source)', () => {
		const { info } = rich!;
		assert.equal(critRead(FIXED).hex, richBytes(info.fixed.pattern, 0, info.fixed.size).toString('hex'));
		assert.equal(critRead(MARKER).hex, Buffer.from(`${info.marker.text}\0`).toString('hex'));
		const mapped = critRead(MAPPED_FILE).hex;
		const page = Number(PAGE);
		assert.equal(mapped.slice(0, 2 * page), '??'.repeat(page), 'page 0 of the private file mapping is the file\'s: not dumped');
		assert.equal(mapped.slice(2 * page), richBytes(info.mappedFile.dirtyPattern, 0, page).toString('hex'), 'page 1 was copied on write: dumped');
		// shared memory is not in the processes' pagemaps: CRIU writes it once, to pagemap-shmem-<shmid>.img
		for (const region of sharedRegions(info)) {
			assert.equal(critRead(`${region.what}, through pagemap-shmem`).hex, richBytes(region.pattern, 0, region.len).toString('hex'), `${region.what}: in pagemap-shmem`);
		}
	});

	test(`memory: ${RANDOM_READS} pseudo-random reads in dumped VMAs, byte for byte`, async () => {
		const tally: Record<string, number> = {};
		for (const request of requests.filter((r) => r.kind === 'random')) {
			const ours = await assertReadAgrees(request, critReadOf(request));
			for (const st of ourStretches(ours)) tally[st.state] = (tally[st.state] ?? 0) + 1;
		}
		const seen = JSON.stringify(tally);
		assert.ok((tally.present ?? 0) > RANDOM_READS / 2, `most reads hit dumped pages (${seen})`);
		assert.ok((tally['not-dumped'] ?? 0) > 0, `some reads reach pages that were not dumped (${seen})`);
	});

	test('memory: shared memory reads as CRIU holds it in pagemap-shmem-*', async () => {
		for (const request of requests.filter((r) => r.kind === 'shmem')) {
			const ours = await processOf(request.pid).read(request.addr, request.len);
			assert.deepEqual(ours.segments.filter((seg) => seg.missing).map((seg) => `${hex(seg.address)}+${seg.length} ${seg.missing}`), [], `${request.what}: nothing missing`);
			assert.equal(ours.bytes.toString('hex'), critReadOf(request).hex, `${request.what}: bytes`);
		}
	});

	test('the ckpt CLI: show --json agrees with the model, mem --raw gives crit\'s bytes', async () => {
		const { info } = rich!;
		const ck = checkpoint!;
		const cli = (args: string[], encoding: 'utf8' | 'buffer') => execFileAsync(process.execPath, [CKPT, '--target', connectionFilePath(), ...args], { timeout: 120_000, encoding, maxBuffer: 64 << 20 });
		const shown = JSON.parse((await cli(['show', ck.id, '--json'], 'utf8')).stdout as string) as {
			criu: { imageVersion: number };
			processes: { pid: number; comm: string; vmas: { start: string; end: string }[]; files: { fd: number }[]; threads: { tid: number; registers: Record<string, string> }[] }[];
		};
		assert.equal(shown.criu.imageVersion, images.imageVersion);
		assert.deepEqual(shown.processes.map((p) => p.pid).sort(), images.processes.map((p) => p.pid).sort());
		for (const p of shown.processes) {
			const model = processOf(p.pid);
			assert.equal(p.vmas.length, model.vmas.length, `process ${p.pid}: VMA count`);
			assert.deepEqual(p.vmas.map((v) => BigInt(v.start)), model.vmas.map((v) => v.start), `process ${p.pid}: VMA starts`);
			assert.deepEqual(p.files.map((f) => f.fd), model.files.map((f) => f.fd), `process ${p.pid}: fds`);
			assert.deepEqual(p.threads.map((t) => BigInt(t.registers.ip)), model.threads.map((t) => t.registers.ip), `process ${p.pid}: ip of each thread`);
		}
		const fixed = critRead(FIXED);
		const raw = await cli(['mem', ck.id, '--pid', String(info.root), '--addr', hex(BigInt(info.fixed.addr)), '--len', String(info.fixed.size), '--raw'], 'buffer');
		assert.equal((raw.stdout as Buffer).toString('hex'), fixed.hex, 'ckpt mem --raw: the fixed region');
		assert.equal((raw.stderr as Buffer).length, 0, 'nothing missing, nothing said');
	});
});
