import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { PE_LAZY, PE_PARENT, PE_PRESENT } from '../../src/core/images/format';
import { PAGE_SIZE, ProcessMemory, type PagemapRun } from '../../src/core/images/memory';
import { LocalImageSource, type ImageSource } from '../../src/core/images/source';

const P = BigInt(PAGE_SIZE);

/** A page whose every byte says which page of which image it is. */
function page(tag: number): Buffer {
	return Buffer.alloc(PAGE_SIZE, tag);
}

/** An image source over in-memory files that records every range read. */
class RecordingSource implements ImageSource {
	readonly description = 'memory';
	readonly reads: { name: string; offset: number; length: number }[] = [];
	constructor(private readonly files: Record<string, Buffer>) {}
	async list(): Promise<string[]> { return Object.keys(this.files); }
	async readFile(name: string): Promise<Buffer> { return this.readRange(name, 0, this.files[name].length); }
	async readRange(name: string, offset: number, length: number): Promise<Buffer> {
		this.reads.push({ name, offset, length });
		const file = this.files[name];
		if (!file || offset + length > file.length) throw new Error(`read past ${name}`);
		return file.subarray(offset, offset + length);
	}
	async parent(): Promise<ImageSource | undefined> { return undefined; }
	async close(): Promise<void> {}
}

// Layout: VMA A = pages 0x10..0x18, VMA B = pages 0x20..0x22.
// Pagemap: 0x10-0x11 present (file pages 0,1), 0x12 lazy only, 0x13 parent,
// 0x14-0x15 present lazy (file pages 2,3), 0x20 present (file page 4).
const BASE = 0x7f0000000000n;
const at = (pageNo: number): bigint => BASE + BigInt(pageNo) * P;
const runs: PagemapRun[] = [
	{ vaddr: at(0x10), nrPages: 2, flags: PE_PRESENT },
	{ vaddr: at(0x12), nrPages: 1, flags: PE_LAZY },
	{ vaddr: at(0x13), nrPages: 1, flags: PE_PARENT },
	{ vaddr: at(0x14), nrPages: 2, flags: PE_PRESENT | PE_LAZY },
	{ vaddr: at(0x20), nrPages: 1, flags: PE_PRESENT },
];
const vmas = [{ start: at(0x10), end: at(0x18) }, { start: at(0x20), end: at(0x22) }];
const pagesFile = Buffer.concat([page(1), page(2), page(3), page(4), page(5)]);

function memory(parent?: ProcessMemory): { mem: ProcessMemory; source: RecordingSource } {
	const source = new RecordingSource({ 'pages-1.img': pagesFile });
	return { mem: new ProcessMemory(source, 'pages-1.img', runs, vmas, async () => parent), source };
}

describe('ProcessMemory', () => {
	test('present pages come from pages-N.img at offsets that advance over present runs only', async () => {
		const { mem } = memory();
		assert.deepEqual((await mem.read(at(0x11), 16)).bytes, Buffer.alloc(16, 2));
		assert.deepEqual((await mem.read(at(0x14), 16)).bytes, Buffer.alloc(16, 3), 'the lazy-but-present run follows the first present run');
		assert.deepEqual((await mem.read(at(0x20) + 100n, 8)).bytes, Buffer.alloc(8, 5));
	});

	test('a read across pages of one run is one range read of just the bytes asked for', async () => {
		const { mem, source } = memory();
		const r = await mem.read(at(0x11) - 10n, 20);
		assert.deepEqual(r.bytes, Buffer.concat([Buffer.alloc(10, 1), Buffer.alloc(10, 2)]));
		assert.equal(r.segments.length, 1);
		assert.deepEqual(source.reads, [{ name: 'pages-1.img', offset: PAGE_SIZE - 10, length: 20 }]);
	});

	test('a read across runs joins their bytes in address order', async () => {
		const { mem, source } = memory();
		const r = await mem.read(at(0x14) - 4n, 8);
		assert.deepEqual(r.segments.map((s) => s.missing ?? 'data'), ['parent-missing', 'data']);
		assert.deepEqual(r.bytes, Buffer.concat([Buffer.alloc(4, 0), Buffer.alloc(4, 3)]));
		assert.deepEqual(source.reads, [{ name: 'pages-1.img', offset: 2 * PAGE_SIZE, length: 4 }]);
	});

	test('missing parts say why: lazy, parent missing, not dumped, unmapped', async () => {
		const { mem } = memory();
		const r = await mem.read(at(0x12), Number(at(0x1a) - at(0x12)));
		assert.deepEqual(r.segments.map((s) => [s.address - BASE, s.length, s.missing ?? 'data']), [
			[0x12n * P, PAGE_SIZE, 'lazy'],
			[0x13n * P, PAGE_SIZE, 'parent-missing'],
			[0x14n * P, 2 * PAGE_SIZE, 'data'],
			[0x16n * P, 2 * PAGE_SIZE, 'not-dumped'],
			[0x18n * P, 2 * PAGE_SIZE, 'unmapped'],
		]);
		assert.equal(r.bytes.length, 8 * PAGE_SIZE);
		assert.ok(r.bytes.subarray(0, 2 * PAGE_SIZE).every((b) => b === 0), 'missing bytes read as zeros');
	});

	test('PE_PARENT pages are read from the parent image directory', async () => {
		const parentSource = new RecordingSource({ 'pages-7.img': page(9) });
		const parent = new ProcessMemory(parentSource, 'pages-7.img', [{ vaddr: at(0x13), nrPages: 1, flags: PE_PRESENT }], vmas);
		const { mem } = memory(parent);
		const r = await mem.read(at(0x13), 4);
		assert.deepEqual(r.bytes, Buffer.alloc(4, 9));
		assert.equal(r.segments[0].missing, undefined);
	});

	test('page counts: all dumped pages, and per range', () => {
		const { mem } = memory();
		assert.equal(mem.dumpedPages, 2 + 1 + 2 + 1, 'lazy-only pages are not in the images');
		assert.equal(mem.pagesIn(at(0x10), at(0x18)), 5);
		assert.equal(mem.pagesIn(at(0x20), at(0x22)), 1);
		assert.equal(mem.pagesIn(at(0x11), at(0x15)), 3);
	});

	test('addresses above 2^53 stay exact', async () => {
		const high = 0xffffffffff600000n;
		const source = new RecordingSource({ 'pages-1.img': page(7) });
		const mem = new ProcessMemory(source, 'pages-1.img', [{ vaddr: high, nrPages: 1, flags: PE_PRESENT }], [{ start: high, end: high + P }]);
		const r = await mem.read(high + 0xff8n, 16);
		assert.deepEqual(r.bytes.subarray(0, 8), Buffer.alloc(8, 7));
		assert.equal(r.segments[1].missing, 'unmapped');
		assert.equal(r.segments[1].address, high + P);
	});

	test('firstDumped: the first page held at or after an address, lazy-only pages skipped', () => {
		const { mem } = memory();
		assert.equal(mem.firstDumped(at(0x10), at(0x18)), at(0x10));
		assert.equal(mem.firstDumped(at(0x11) + 5n, at(0x18)), at(0x11) + 5n);
		assert.equal(mem.firstDumped(at(0x12), at(0x18)), at(0x13), 'a lazy-only page is not in the images');
		assert.equal(mem.firstDumped(at(0x16), at(0x18)), undefined);
		assert.equal(mem.firstDumped(at(0x18), at(0x22)), at(0x20));
	});

	test('zero-length and negative reads', async () => {
		const { mem } = memory();
		assert.deepEqual(await mem.read(at(0x10), 0), { address: at(0x10), bytes: Buffer.alloc(0), segments: [] });
		await assert.rejects(mem.read(at(0x10), -1), RangeError);
	});
});

describe('LocalImageSource', () => {
	let dir: string;
	before(() => {
		dir = mkdtempSync(join(tmpdir(), 'ckpt-source-'));
		mkdirSync(join(dir, 'ck'));
		mkdirSync(join(dir, 'older'));
		writeFileSync(join(dir, 'ck', 'pages-1.img'), Buffer.from('0123456789'));
		symlinkSync('../older', join(dir, 'ck', 'parent'));
	});
	after(() => rmSync(dir, { recursive: true, force: true }));

	test('reads ranges and whole files, lists, follows the parent link', async () => {
		const source = new LocalImageSource(join(dir, 'ck'));
		assert.deepEqual(await source.list(), ['pages-1.img', 'parent']);
		assert.equal((await source.readRange('pages-1.img', 3, 4)).toString(), '3456');
		assert.equal((await source.readFile('pages-1.img')).toString(), '0123456789');
		assert.equal((await source.parent())?.description, join(dir, 'older'));
		assert.equal(await new LocalImageSource(join(dir, 'older')).parent(), undefined);
	});

	test('a short file and a missing file are clear errors naming the file', async () => {
		const source = new LocalImageSource(join(dir, 'ck'));
		await assert.rejects(source.readRange('pages-1.img', 8, 4), (err: unknown) => err instanceof CheckpointError && /pages-1\.img ends before byte 12/.test(err.message));
		await assert.rejects(source.readFile('core-1.img'), (err: unknown) => err instanceof CheckpointError && err.kind === 'not-found' && /core-1\.img/.test(err.message));
		await assert.rejects(source.readRange('pages-2.img', 0, 1), (err: unknown) => err instanceof CheckpointError && err.kind === 'not-found' && /pages-2\.img/.test(err.message));
	});

	test('long ranges (read off the event loop) give the same bytes and the same errors as short ones', async () => {
		const big = Buffer.alloc(3 * 1024 * 1024);
		for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
		writeFileSync(join(dir, 'ck', 'pages-3.img'), big);
		const source = new LocalImageSource(join(dir, 'ck'));
		try {
			assert.ok((await source.readRange('pages-3.img', 4096, 2 * 1024 * 1024)).equals(big.subarray(4096, 4096 + 2 * 1024 * 1024)));
			assert.ok((await source.readRange('pages-3.img', 8, 16)).equals(big.subarray(8, 24)));
			await assert.rejects(source.readRange('pages-3.img', 2 * 1024 * 1024, 2 * 1024 * 1024), /pages-3\.img ends before byte 4194304 \(read 1048576 of 2097152 bytes/);
		} finally {
			await source.close();
		}
	});
});
