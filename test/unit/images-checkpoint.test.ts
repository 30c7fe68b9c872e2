/**
 * The checkpoint model over a small checkpoint directory written from the
 * project's schemas (checkpoint.fixtures.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { openCheckpoint, type CheckpointImages } from '../../src/core/images/checkpoint';
import { protString, vmaKind } from '../../src/core/images/describe';
import { PE_PARENT, PE_PRESENT, VMA_STATUS } from '../../src/core/images/format';
import { HEAP, LIB, PAGE, pagemap, PID, SHM, STACK, TID, writeCheckpoint } from './checkpoint.fixtures';
import { LocalImageSource, type ImageSource } from '../../src/core/images/source';

/** Counts the files read and refuses to read pages-*.img whole. */
class WatchingSource implements ImageSource {
	readonly whole: string[] = [];
	readonly ranges: string[] = [];
	constructor(private readonly inner: LocalImageSource) {}
	get description(): string { return this.inner.description; }
	list(): Promise<string[]> { return this.inner.list(); }
	readFile(name: string): Promise<Buffer> {
		this.whole.push(name);
		return this.inner.readFile(name);
	}
	readRange(name: string, offset: number, length: number): Promise<Buffer> {
		this.ranges.push(`${name}@${offset}+${length}`);
		return this.inner.readRange(name, offset, length);
	}
	parent(): Promise<ImageSource | undefined> { return this.inner.parent(); }
	close(): Promise<void> { return this.inner.close(); }
}

let dir: string;
let source: WatchingSource;
let images: CheckpointImages;

before(async () => {
	dir = mkdtempSync(join(tmpdir(), 'ckpt-model-'));
	writeCheckpoint(dir);
	source = new WatchingSource(new LocalImageSource(dir));
	images = await openCheckpoint(source);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('openCheckpoint', () => {
	test('reads metadata only: pages-*.img is not touched', () => {
		assert.ok(!source.whole.some((n) => n.startsWith('pages-')), `read whole: ${source.whole.join(', ')}`);
		assert.deepEqual(source.ranges.filter((r) => r.startsWith('pages-')), []);
		assert.equal(images.imageVersion, 2);
		assert.equal(images.stats?.frozenTime, 6200);
	});

	test('processes and threads with registers, exact above 2^53', () => {
		assert.equal(images.processes.length, 1);
		const p = images.processes[0];
		assert.deepEqual([p.pid, p.ppid, p.pgid, p.sid, p.comm, p.state], [PID, 0, PID, PID, 'demo', 'alive']);
		assert.deepEqual(p.creds, { uid: 1000, gid: 1000, euid: 1000, egid: 1000, groups: [1000, 27] });
		assert.deepEqual(p.threads.map((t) => t.tid), [PID, TID]);
		assert.equal(p.threads[0].registers.ax, 0xfffffffffffffffcn);
		assert.equal(p.threads[0].registers.ip, 0x401000n);
		assert.equal(p.threads[0].fpu, 'xsave');
		assert.equal(p.threads[1].registers.ip, 0x402000n);
		assert.equal(p.threads[1].fpu, 'none');
		assert.deepEqual(p.threads.map((t) => t.comm), ['demo', 'worker']);
	});

	test('memory areas: kind, protection, backing and dumped pages', () => {
		const p = images.processes[0];
		assert.deepEqual(p.vmas.map((v) => [v.start, v.prot, v.kind, v.file, v.pages]), [
			[HEAP, 'rw-p', 'heap', undefined, 1],
			[LIB, 'r-xp', 'file', '/usr/lib/libdemo.so', 0],
			[SHM, 'rw-s', 'sysv-shm', 'SYSV00001234 (shmid 7)', 1],
			[STACK, 'rw-p', 'stack', undefined, 1],
		]);
		assert.equal(p.vmas[1].pgoff, 0x1000n);
	});

	test('files: kinds, paths, peers and details', () => {
		const p = images.processes[0];
		assert.deepEqual(p.files.map((f) => [f.fd, f.kind, f.path, f.peer, f.detail]), [
			[0, 'regular', '/dev/null', undefined, undefined],
			[3, 'pipe', 'pipe:[4242]', undefined, undefined],
			[4, 'unix-socket', undefined, '/run/demo.sock socket:[901]', 'stream, socket:[900]'],
			[5, 'eventfd', undefined, undefined, 'counter 42'],
			[6, 'eventpoll', undefined, undefined, 'watches fd 6, 9'],
			[7, 'memfd', 'memfd:cache', undefined, '8192 bytes'],
			[8, 'tty', '/dev/pts/3', undefined, `pty 3, session ${PID}`],
		]);
		assert.equal(p.files[5].pos, 12n);
	});

	test('namespaces: ids, and dumped only where an image holds them', () => {
		const byKind = Object.fromEntries(images.processes[0].namespaces.map((n) => [n.kind, [n.id, n.dumped]]));
		assert.deepEqual(byKind.uts, [12, true]);
		assert.deepEqual(byKind.net, [11, false]);
		assert.deepEqual(byKind.pid, [10, false]);
	});

	test('the command line and memory are read by byte range on demand', async () => {
		const p = images.processes[0];
		assert.deepEqual(await p.cmdline(), ['/usr/bin/demo', '--flag', 'value']);
		const stack = await p.read(STACK + PAGE - 2n, 4);
		assert.deepEqual(stack.segments.map((s) => s.missing ?? 'data'), ['not-dumped', 'data']);
		assert.deepEqual(stack.bytes, Buffer.from([0, 0, 0x5a, 0x5a]));
		assert.ok(source.ranges.every((r) => r.startsWith('pages-3.img@')));
		assert.ok(!source.whole.includes('pages-3.img'));
	});

	test('shared memory is read from its object in pagemap-shmem-<id>.img', async () => {
		const read = await images.processes[0].read(SHM + 8n, 4);
		assert.deepEqual(read.bytes, Buffer.alloc(4, 0x77));
		assert.deepEqual(read.segments.map((seg) => [seg.address, seg.missing]), [[SHM + 8n, undefined]]);
	});

	test('a directory without inventory.img is refused clearly', async () => {
		const empty = mkdtempSync(join(tmpdir(), 'ckpt-empty-'));
		try {
			await assert.rejects(openCheckpoint(new LocalImageSource(empty)), /holds no inventory\.img: it is not a CRIU checkpoint directory/);
		} finally {
			rmSync(empty, { recursive: true, force: true });
		}
	});
});

describe('describe', () => {
	test('protection strings as /proc/PID/maps writes them', () => {
		assert.equal(protString(7, 1), 'rwxs');
		assert.equal(protString(0, 2), '---p');
	});

	test('VMA kinds from status bits', () => {
		assert.equal(vmaKind(VMA_STATUS.AREA_VDSO | VMA_STATUS.AREA_REGULAR), 'vdso');
		assert.equal(vmaKind(VMA_STATUS.AREA_VVAR), 'vvar');
		assert.equal(vmaKind(VMA_STATUS.AREA_MEMFD | VMA_STATUS.FILE_SHARED, '/dev/zero (deleted)'), 'shared');
		assert.equal(vmaKind(VMA_STATUS.AREA_MEMFD | VMA_STATUS.FILE_SHARED, 'cache'), 'memfd');
		assert.equal(vmaKind(VMA_STATUS.ANON_PRIVATE, undefined, true), 'stack');
		assert.equal(vmaKind(VMA_STATUS.ANON_PRIVATE), 'anonymous');
	});
});

describe('incremental checkpoints', () => {
	test('pages marked PE_PARENT are read from the parent image directory, up the chain', async () => {
		const root = mkdtempSync(join(tmpdir(), 'ckpt-chain-'));
		try {
			const base = (name: string): string => join(root, name);
			for (const d of ['first', 'second', 'third']) {
				mkdirSync(base(d));
				writeCheckpoint(base(d));
			}
			// first holds page 0 of the heap; second holds page 1 and points at first for page 0;
			// third points at second for both.
			writeFileSync(join(base('first'), `pagemap-${PID}.img`), pagemap(3, [[HEAP, 1, PE_PRESENT]]));
			writeFileSync(join(base('first'), 'pages-3.img'), Buffer.alloc(4096, 0x11));
			writeFileSync(join(base('second'), `pagemap-${PID}.img`), pagemap(3, [[HEAP, 1, PE_PARENT], [HEAP + PAGE, 1, PE_PRESENT]]));
			writeFileSync(join(base('second'), 'pages-3.img'), Buffer.alloc(4096, 0x22));
			writeFileSync(join(base('third'), `pagemap-${PID}.img`), pagemap(3, [[HEAP, 2, PE_PARENT]]));
			writeFileSync(join(base('third'), 'pages-3.img'), Buffer.alloc(0));
			symlinkSync('../first', join(base('second'), 'parent'));
			symlinkSync('../second', join(base('third'), 'parent'));

			const third = await openCheckpoint(new LocalImageSource(base('third')));
			const read = await third.processes[0].read(HEAP + PAGE - 2n, 4);
			assert.deepEqual(read.bytes, Buffer.from([0x11, 0x11, 0x22, 0x22]));
			assert.ok(read.segments.every((seg) => !seg.missing));
			assert.equal(third.processes[0].vmas[0].pages, 2, 'pages in a parent count as dumped');

			rmSync(join(base('second'), 'parent'));
			const orphan = await openCheckpoint(new LocalImageSource(base('second')));
			const missing = await orphan.processes[0].read(HEAP, 4);
			assert.equal(missing.segments[0].missing, 'parent-missing');
		} finally {
			rmSync(root, { recursive: true, force: true });
		}
	});

	test('a parent link back into the chain (to itself, or a cycle of two) is refused as damage, not followed for ever', async () => {
		// Found with the checkpoint fuzz target's self-parent directories: reading a PE_PARENT page never ended.
		const root = mkdtempSync(join(tmpdir(), 'ckpt-loop-'));
		try {
			const base = (name: string): string => join(root, name);
			for (const d of ['self', 'a', 'b']) {
				mkdirSync(base(d));
				writeCheckpoint(base(d));
				writeFileSync(join(base(d), `pagemap-${PID}.img`), pagemap(3, [[HEAP, 1, PE_PARENT]]));
			}
			symlinkSync('.', join(base('self'), 'parent'));
			symlinkSync('../b', join(base('a'), 'parent'));
			symlinkSync('../a', join(base('b'), 'parent'));
			for (const [dir, loop] of [['self', 'self -> [^ ]*self'], ['a', 'a -> [^ ]*b -> [^ ]*a']]) {
				const checkpoint = await openCheckpoint(new LocalImageSource(base(dir)));
				await assert.rejects(checkpoint.processes[0].read(HEAP, 4), (err: unknown) => err instanceof CheckpointError && err.kind === 'image-damaged'
					&& new RegExp(`stands on it in turn \\(.*${loop}\\).*Fix or remove the "parent" link`).test(err.message));
			}
		} finally {
			rmSync(root, { recursive: true, force: true });
		}
	});
});

describe('a pagemap that claims more than its pages file holds', () => {
	test('2^32-1 pages at the heap over a one-page file: the first page reads, the rest is said to be truncated, nothing huge is allocated', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'ckpt-bigmap-'));
		try {
			writeCheckpoint(dir);
			writeFileSync(join(dir, `pagemap-${PID}.img`), pagemap(3, [[HEAP, 0xffffffff, PE_PRESENT]]));
			writeFileSync(join(dir, 'pages-3.img'), Buffer.alloc(4096, 0x33));
			const images = await openCheckpoint(new LocalImageSource(dir));
			const heap = images.processes[0];
			assert.deepEqual((await heap.read(HEAP, 4)).bytes, Buffer.alloc(4, 0x33));
			await assert.rejects(heap.read(HEAP + PAGE, 4), /pages-3\.img ends before byte 4100 .*the image is truncated/);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe('image files that are not files', () => {
	test('a FIFO or a link to /dev/zero in place of an image is refused in words, without blocking or filling memory', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'ckpt-notfile-'));
		try {
			writeCheckpoint(dir);
			rmSync(join(dir, 'pstree.img'));
			execFileSync('mkfifo', [join(dir, 'pstree.img')]);
			await assert.rejects(openCheckpoint(new LocalImageSource(dir)), /pstree\.img is not a regular file/);
			rmSync(join(dir, 'pstree.img'));
			symlinkSync('/dev/zero', join(dir, 'pstree.img'));
			await assert.rejects(openCheckpoint(new LocalImageSource(dir)), /pstree\.img is not a regular file/);
			const pagesName = readdirSync(dir).find((f) => f.startsWith('pages-'));
			assert.ok(pagesName);
			rmSync(join(dir, pagesName));
			symlinkSync('/dev/zero', join(dir, pagesName));
			const source = new LocalImageSource(dir);
			await assert.rejects(source.readRange(pagesName, 0, 4096), /is not a regular file/);
			await source.close();
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
