/**
 * The symbols of the files a checkpoint mapped, read through the helper by
 * the paths' bytes (a session double serving the files of two checkpoints,
 * refusing, as the helper does, a file a checkpoint does not name).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkpointSymbols } from '../../src/core/elfFiles';
import { CheckpointError } from '../../src/core/errors';
import { HelperImageSource } from '../../src/core/images/helperSource';
import type { pb } from '../../src/core/protocol';
import type { HelperSession } from '../../src/core/session';
import { elf, FUNC } from './elfFixture';

const LIB = '/usr/lib/lib\udcff\u001bx.so';
const library = elf([{ name: 'inner', value: 0x401100n, size: 0x40n, type: FUNC }], []);

/** Checkpoint id -> the mapped files it names; every read recorded. */
function fakeSession(mapped: Record<string, Record<string, Buffer>>): { session: HelperSession; reads: { id: string; ranges: pb.IByteRange[] }[] } {
	const reads: { id: string; ranges: pb.IByteRange[] }[] = [];
	const session = {
		target: { description: 'root@host:22' },
		readImage: async (id: string, ranges: pb.IByteRange[]): Promise<Uint8Array[]> => {
			reads.push({ id, ranges });
			return ranges.map((r) => {
				const file = r.mappedFile ? mapped[id]?.[r.file ?? ''] : undefined;
				if (!file) throw new CheckpointError('bad-request', `checkpoint ${id} names no file ${r.file}`);
				return file.subarray(Number(r.offset), Number(r.offset) + (r.length ?? 0));
			});
		},
	};
	return { session: session as unknown as HelperSession, reads };
}

describe('checkpointSymbols', () => {
	test('a library whose path is not UTF-8 is read through the helper as a mapped file, by its exact path', async () => {
		const { session, reads } = fakeSession({ after: { [LIB]: library } });
		const symbols = await checkpointSymbols(session, ['after'])(LIB);
		assert.deepEqual(symbols?.lookup(0x1100n), { name: 'inner', offset: 0n });
		assert.ok(reads.length > 0);
		for (const r of reads) for (const range of r.ranges) assert.deepEqual([range.file, range.mappedFile], [LIB, true]);
	});

	test('a file the first checkpoint does not name is read from the next (a comparison: either side mapped it)', async () => {
		const { session, reads } = fakeSession({ before: { [LIB]: library } });
		const symbols = await checkpointSymbols(session, ['after', 'before'])(LIB);
		assert.equal(symbols?.lookup(0x1100n)?.name, 'inner');
		assert.deepEqual([...new Set(reads.map((r) => r.id))], ['after', 'before']);
	});

	test('named by neither, or not a path: no symbols, nothing fails; each file read once', async () => {
		const { session, reads } = fakeSession({ after: { [LIB]: library } });
		const symbols = checkpointSymbols(session, ['after']);
		assert.equal(await symbols('/usr/lib/other.so'), undefined);
		assert.equal(await symbols('[vdso]'), undefined);
		const before = reads.length;
		await symbols('/usr/lib/other.so');
		assert.equal(reads.length, before, 'the answer is kept');
	});

	test('a read over the helper\'s 16 MiB per request goes in parts', async () => {
		const big = Buffer.alloc(20 * 1024 * 1024 + 5, 7);
		big.set(library);
		const { session, reads } = fakeSession({ after: { '/big.so': big } });
		const bytes = await new HelperImageSource(session, 'after').readMappedRange('/big.so', 3, big.length - 3);
		assert.deepEqual(bytes, big.subarray(3));
		assert.ok(reads.every((r) => r.ranges.every((x) => (x.length ?? 0) <= 16 * 1024 * 1024)));
	});
});
