/**
 * Downloading a checkpoint from the in-memory helper (fakeHelper.ts) whose
 * checkpoints stand on one another: the chain comes along, each checkpoint
 * in a sibling directory linked as CRIU links them, and the copy opens
 * offline with the pages read up the chain; a checkpoint already there whole
 * and the same is kept, one that is not is replaced; progress covers the
 * chain; a cancelled or failed download leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { downloadCheckpoint, type DownloadProgress } from '../../src/core/download';
import { CheckpointError } from '../../src/core/errors';
import { openCheckpoint } from '../../src/core/images/checkpoint';
import { PE_PARENT, PE_PRESENT } from '../../src/core/images/format';
import { LocalImageSource } from '../../src/core/images/source';
import { pb } from '../../src/core/protocol';
import { checkpointFiles, HEAP, PAGE, pagemap, PID } from './checkpoint.fixtures';
import { FakeHelper } from './fakeHelper';

/**
 * Three checkpoints of one tree: ck-1 holds heap page 0 (0x11), ck-2 holds
 * page 1 (0x22) and reads page 0 from ck-1, ck-3 reads both from ck-2.
 * Each has its manifest as the helper writes it.
 */
async function chainOfThree(): Promise<FakeHelper> {
	const helper = new FakeHelper();
	const pid = helper.spawn('demo');
	for (let i = 0; i < 3; i++) await helper.dump(pid, { leaveRunning: true });
	const pages: Record<string, [Buffer, [bigint, number, number][]]> = {
		'ck-1': [Buffer.alloc(4096, 0x11), [[HEAP, 1, PE_PRESENT]]],
		'ck-2': [Buffer.alloc(4096, 0x22), [[HEAP, 1, PE_PARENT], [HEAP + PAGE, 1, PE_PRESENT]]],
		'ck-3': [Buffer.alloc(0), [[HEAP, 2, PE_PARENT]]],
	};
	for (const c of helper.checkpoints) {
		const [data, runs] = pages[c.id];
		helper.addImages(c.id, { ...checkpointFiles(), [`pagemap-${PID}.img`]: pagemap(3, runs), 'pages-3.img': data, 'manifest.pb': Buffer.from(pb.Checkpoint.encode(c).finish()) });
	}
	return helper;
}

/** The bytes of a checkpoint's files on the fake target, in all. */
async function bytesOf(helper: FakeHelper, id: string): Promise<number> {
	return (await helper.imageFiles(id)).files.reduce((n, f) => n + f.size, 0);
}

let out: string;
let helper: FakeHelper;

beforeEach(async () => {
	out = mkdtempSync(join(tmpdir(), 'ckpt-download-'));
	helper = await chainOfThree();
});

afterEach(() => rmSync(out, { recursive: true, force: true }));

/** From now on, each range helper reads ("ck-1/manifest.pb"), in order. */
function recordReads(h: FakeHelper): string[] {
	const reads: string[] = [];
	const read = h.readImage.bind(h);
	h.readImage = (id, ranges) => {
		reads.push(...ranges.map((r) => `${id}/${r.file ?? ''}`));
		return read(id, ranges);
	};
	return reads;
}

describe('downloadCheckpoint: a checkpoint that stands on others', () => {
	test('brings the chain: a directory each, linked by "parent" -> ../<id>; it opens offline, its pages read up the chain', async () => {
		assert.deepEqual(helper.checkpoints.map((c) => c.parent), ['', 'ck-1', 'ck-2']);
		const seen: DownloadProgress[] = [];
		const dest = await downloadCheckpoint(helper, 'ck-3', out, { onProgress: (p) => seen.push(p) });
		assert.equal(dest, join(out, 'ck-3'));
		assert.deepEqual(readdirSync(out).sort(), ['ck-1', 'ck-2', 'ck-3']);
		assert.equal(readlinkSync(join(out, 'ck-3', 'parent')), '../ck-2');
		assert.equal(readlinkSync(join(out, 'ck-2', 'parent')), '../ck-1');
		assert.ok(!readdirSync(join(out, 'ck-1')).includes('parent'));
		assert.equal(statSync(join(out, 'ck-3')).mode & 0o777, 0o700);

		const images = await openCheckpoint(new LocalImageSource(dest));
		const read = await images.processes[0].read(HEAP + PAGE - 2n, 4);
		assert.deepEqual(read.bytes, Buffer.from([0x11, 0x11, 0x22, 0x22]));
		assert.ok(read.segments.every((s) => !s.missing));
		await images.source.close();

		// progress: over the whole chain, each file said with its checkpoint
		const total = (await bytesOf(helper, 'ck-1')) + (await bytesOf(helper, 'ck-2')) + (await bytesOf(helper, 'ck-3'));
		assert.deepEqual([...new Set(seen.map((p) => p.checkpointId))], ['ck-3', 'ck-2', 'ck-1']);
		assert.ok(seen.every((p) => p.totalBytes === total));
		assert.equal(seen.at(-1)?.doneBytes, total);
	});

	test('a checkpoint it stands on already here, whole and the same, is kept; only the rest is copied', async () => {
		await downloadCheckpoint(helper, 'ck-2', out);
		const kept = statSync(join(out, 'ck-1', 'pages-3.img')).mtimeMs;
		const reads = recordReads(helper);
		const seen: DownloadProgress[] = [];
		await downloadCheckpoint(helper, 'ck-3', out, { onProgress: (p) => seen.push(p) });
		// of those kept, the manifest only (compared with the copy's)
		assert.deepEqual(reads.filter((r) => !r.startsWith('ck-3/')).sort(), ['ck-1/manifest.pb', 'ck-2/manifest.pb']);
		assert.deepEqual([...new Set(seen.map((p) => p.checkpointId))], ['ck-3']);
		assert.equal(seen.at(-1)?.totalBytes, await bytesOf(helper, 'ck-3'));
		assert.equal(statSync(join(out, 'ck-1', 'pages-3.img')).mtimeMs, kept);
		const images = await openCheckpoint(new LocalImageSource(join(out, 'ck-3')));
		assert.deepEqual((await images.processes[0].read(HEAP, 8192)).bytes, Buffer.concat([Buffer.alloc(4096, 0x11), Buffer.alloc(4096, 0x22)]));
		await images.source.close();
	});

	test('one here that is not whole, or not the same checkpoint any more (another manifest), is copied again', async () => {
		await downloadCheckpoint(helper, 'ck-3', out);
		truncateSync(join(out, 'ck-2', 'pages-3.img'), 100);
		writeFileSync(join(out, 'ck-1', 'manifest.pb'), pb.Checkpoint.encode(pb.Checkpoint.create({ id: 'ck-1', name: 'renamed since' })).finish());
		const seen: DownloadProgress[] = [];
		await downloadCheckpoint(helper, 'ck-3', out, { onProgress: (p) => seen.push(p) });
		assert.deepEqual([...new Set(seen.map((p) => p.checkpointId))], ['ck-3', 'ck-2', 'ck-1']);
		assert.equal(statSync(join(out, 'ck-2', 'pages-3.img')).size, 4096);
		assert.equal(pb.Checkpoint.decode(readFileSync(join(out, 'ck-1', 'manifest.pb'))).name, '');
		assert.deepEqual(readdirSync(out).sort(), ['ck-1', 'ck-2', 'ck-3']);
	});

	test('after the checkpoint it stood on was deleted on the target: it stands on that one\'s parent, and so does the copy', async () => {
		await helper.remove('ck-2');
		await downloadCheckpoint(helper, 'ck-3', out);
		assert.deepEqual(readdirSync(out).sort(), ['ck-1', 'ck-3']);
		assert.equal(readlinkSync(join(out, 'ck-3', 'parent')), '../ck-1');
	});

	test('cancelled part-way: nothing new is left, not even temporary directories; what was here stays', async () => {
		await downloadCheckpoint(helper, 'ck-1', out);
		let files = 0;
		await assert.rejects(
			downloadCheckpoint(helper, 'ck-3', out, { cancelled: () => files > 3, onProgress: () => { files++; } }),
			(err: unknown) => err instanceof CheckpointError && err.kind === 'cancelled',
		);
		assert.deepEqual(readdirSync(out), ['ck-1']);
	});

	test('cancelled after the last byte, before anything is renamed: nothing new is left', async () => {
		let done = false;
		const total = (await bytesOf(helper, 'ck-2')) + (await bytesOf(helper, 'ck-1'));
		await assert.rejects(
			downloadCheckpoint(helper, 'ck-2', out, { cancelled: () => done, onProgress: (p) => { done = p.doneBytes === total; } }),
			(err: unknown) => err instanceof CheckpointError && err.kind === 'cancelled',
		);
		assert.deepEqual(readdirSync(out), []);
	});

	test('a read that fails part-way up the chain: the error, and nothing left', async () => {
		const read = helper.readImage.bind(helper);
		helper.readImage = async (id, ranges) => {
			if (id === 'ck-1') throw new CheckpointError('not-found', 'there is no checkpoint ck-1 in the store');
			return read(id, ranges);
		};
		await assert.rejects(downloadCheckpoint(helper, 'ck-3', out), /no checkpoint ck-1/);
		assert.deepEqual(readdirSync(out), []);
	});

	test('a checkpoint without a parent: its directory alone, as before', async () => {
		assert.equal(await downloadCheckpoint(helper, 'ck-1', join(out, 'new', 'folder')), join(out, 'new', 'folder', 'ck-1'));
		assert.deepEqual(readdirSync(join(out, 'new', 'folder')), ['ck-1']);
		assert.deepEqual(readdirSync(join(out, 'new', 'folder', 'ck-1')).sort(), [...Object.keys(checkpointFiles()), 'manifest.pb'].sort());
	});

	test('a parent id that is no checkpoint id (a damaged or hostile target): refused before anything is written', async () => {
		const files = helper.imageFiles.bind(helper);
		helper.imageFiles = async (id) => {
			const listed = await files(id);
			if (id === 'ck-3') listed.parentId = '../../home';
			return listed;
		};
		await assert.rejects(downloadCheckpoint(helper, 'ck-3', out), (err: unknown) => err instanceof CheckpointError && err.kind === 'image-damaged' && /has no valid id \("\.\.\/\.\.\/home"\)/.test(err.message));
		assert.deepEqual(readdirSync(out), []);
	});
});
