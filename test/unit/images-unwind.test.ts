/**
 * Frame-pointer unwinding over a made-up address space: a good chain, and
 * every way a chain can be bad (garbage rbp, a loop, a return address outside
 * code, a stack page not in the checkpoint) ends the walk without inventing
 * frames.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProcessImage, VmaImage } from '../../src/core/images/checkpoint';
import type { MemoryRead } from '../../src/core/images/memory';
import { unwind } from '../../src/core/images/unwind';

const TEXT: VmaImage = { start: 0x400000n, end: 0x401000n, prot: 'r-xp', kind: 'file', file: '/usr/bin/prog', pgoff: 0x1000n, pages: 0 };
const STACK: VmaImage = { start: 0x7ff000n, end: 0x800000n, prot: 'rw-p', kind: 'stack', pgoff: 0n, pages: 1 };

/** A process whose stack holds the given 8-byte words (address -> value); `holes` are not dumped. */
function processWith(words: Map<bigint, bigint>, holes: bigint[] = []): ProcessImage {
	const read = async (address: bigint, length: number): Promise<MemoryRead> => {
		const bytes = Buffer.alloc(length);
		for (let i = 0; i < length; i += 8) bytes.writeBigUInt64LE(words.get(address + BigInt(i)) ?? 0n, i);
		const missing = holes.some((h) => h >= address && h < address + BigInt(length));
		return { address, bytes, segments: [missing ? { address, length, missing: 'not-dumped' } : { address, length, data: bytes }] };
	};
	return { pid: 1, vmas: [TEXT, STACK], read } as unknown as ProcessImage;
}

/** Frames: [fp, callerFp, returnAddress] chained on the stack. */
function chain(links: [bigint, bigint, bigint][]): Map<bigint, bigint> {
	const words = new Map<bigint, bigint>();
	for (const [fp, caller, ret] of links) {
		words.set(fp, caller);
		words.set(fp + 8n, ret);
	}
	return words;
}

describe('unwind', () => {
	test('follows the rbp chain to the outermost frame, with module offsets', async () => {
		const words = chain([[0x7ff100n, 0x7ff200n, 0x400200n], [0x7ff200n, 0x7ff300n, 0x400300n], [0x7ff300n, 0n, 0x400400n]]);
		const u = await unwind(processWith(words), { ip: 0x400100n, bp: 0x7ff100n, sp: 0x7ff0f0n });
		assert.deepEqual(u.frames.map((f) => f.pc), [0x400100n, 0x400200n, 0x400300n, 0x400400n]);
		assert.deepEqual(u.frames[0].module, { file: '/usr/bin/prog', offset: 0x1100n });
		assert.equal(u.stop, 'outermost');
	});

	test('a garbage rbp gives just the first frame', async () => {
		for (const bp of [0x1234n, 0x400100n, 0x7ff101n]) {
			const u = await unwind(processWith(new Map()), { ip: 0x400100n, bp });
			assert.equal(u.frames.length, 1, `bp ${bp.toString(16)}`);
			assert.equal(u.stop, 'no-frame-pointer');
		}
	});

	test('a chain that loops or goes down the stack stops', async () => {
		const u = await unwind(processWith(chain([[0x7ff200n, 0x7ff100n, 0x400200n]])), { ip: 0x400100n, bp: 0x7ff200n });
		assert.deepEqual(u.frames.map((f) => f.pc), [0x400100n, 0x400200n]);
		assert.equal(u.stop, 'no-frame-pointer');
	});

	test('a return address outside code stops the walk', async () => {
		const u = await unwind(processWith(chain([[0x7ff100n, 0x7ff200n, 0x7ff500n]])), { ip: 0x400100n, bp: 0x7ff100n });
		assert.equal(u.frames.length, 1);
		assert.equal(u.stop, 'no-frame-pointer');
	});

	test('a stack page not in the checkpoint stops the walk and says so', async () => {
		const u = await unwind(processWith(chain([[0x7ff100n, 0x7ff200n, 0x400200n]]), [0x7ff100n]), { ip: 0x400100n, bp: 0x7ff100n });
		assert.equal(u.frames.length, 1);
		assert.equal(u.stop, 'not-dumped');
	});

	test('no ip, no frames; the limit is kept', async () => {
		assert.deepEqual(await unwind(processWith(new Map()), {}), { frames: [], stop: 'no-frame-pointer' });
		const words = chain([[0x7ff100n, 0x7ff200n, 0x400200n], [0x7ff200n, 0x7ff300n, 0x400300n], [0x7ff300n, 0n, 0x400400n]]);
		const u = await unwind(processWith(words), { ip: 0x400100n, bp: 0x7ff100n }, 2);
		assert.equal(u.frames.length, 2);
		assert.equal(u.stop, 'limit');
	});
});
