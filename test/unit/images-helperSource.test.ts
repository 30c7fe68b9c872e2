import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { HelperImageSource } from '../../src/core/images/helperSource';
import { pb } from '../../src/core/protocol';
import type { HelperSession } from '../../src/core/session';

/** A session double serving one checkpoint's files from memory, counting requests. */
function fakeSession(files: Record<string, Buffer>, parentId = ''): { session: HelperSession; requests: pb.IByteRange[][] } {
	const requests: pb.IByteRange[][] = [];
	const session = {
		target: { description: 'root@host:22' },
		imageFiles: async (): Promise<pb.ImageFilesResult> => pb.ImageFilesResult.create({
			files: Object.entries(files).map(([name, data]) => pb.ImageFile.create({ name, size: data.length })), parentId,
		}),
		readImage: async (_id: string, ranges: pb.IByteRange[]): Promise<Uint8Array[]> => {
			requests.push(ranges);
			return ranges.map((r) => files[r.file ?? ''].subarray(Number(r.offset), Number(r.offset) + (r.length ?? 0)));
		},
	};
	return { session: session as unknown as HelperSession, requests };
}

const pages = Buffer.alloc(1 << 20);
for (let i = 0; i < pages.length; i++) pages[i] = i % 251;

describe('HelperImageSource', () => {
	test('reads asked for in the same tick go to the helper in one request', async () => {
		const { session, requests } = fakeSession({ 'pages-1.img': pages });
		const source = new HelperImageSource(session, 'ck1');
		const offsets = Array.from({ length: 256 }, (_, i) => (i * 7919 * 64) % (pages.length - 4096));
		const reads = await Promise.all(offsets.map((o) => source.readRange('pages-1.img', o, 4096)));
		assert.equal(requests.length, 1);
		assert.equal(requests[0].length, 256);
		reads.forEach((r, i) => assert.deepEqual(r, pages.subarray(offsets[i], offsets[i] + 4096)));
	});

	test('batches stay within 4096 ranges per request', async () => {
		const { session, requests } = fakeSession({ 'pages-1.img': pages });
		const source = new HelperImageSource(session, 'ck1');
		await Promise.all(Array.from({ length: 5000 }, (_, i) => source.readRange('pages-1.img', i, 8)));
		assert.deepEqual(requests.map((r) => r.length), [4096, 904]);
	});

	test('a short answer is an error naming the file; the other reads of the batch succeed', async () => {
		const { session } = fakeSession({ 'core-1.img': Buffer.alloc(100, 1) });
		const source = new HelperImageSource(session, 'ck1');
		const [ok, short] = await Promise.allSettled([source.readRange('core-1.img', 0, 10), source.readRange('core-1.img', 90, 20)]);
		assert.equal(ok.status, 'fulfilled');
		assert.equal(short.status, 'rejected');
		assert.ok(short.status === 'rejected' && short.reason instanceof CheckpointError && /core-1\.img ends before byte 110/.test(short.reason.message));
	});

	test('list, whole files, the parent and a missing file', async () => {
		const { session } = fakeSession({ 'inventory.img': Buffer.from('inv'), 'pages-1.img': pages }, 'ck0');
		const source = new HelperImageSource(session, 'ck1');
		assert.deepEqual(await source.list(), ['inventory.img', 'pages-1.img']);
		assert.deepEqual(await source.readFile('pages-1.img'), pages);
		assert.equal((await source.parent() as HelperImageSource).checkpointId, 'ck0');
		await assert.rejects(source.readFile('core-9.img'), (err: unknown) => err instanceof CheckpointError && err.kind === 'not-found');
	});
});
