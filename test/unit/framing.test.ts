import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameTooLargeError, MAX_FRAME_BYTES, encodeFrame } from '../../src/core/framing';
import { prng } from '../support/prng';


function header(length: number): Buffer {
	const b = Buffer.alloc(4);
	b.writeUInt32LE(length, 0);
	return b;
}

describe('encodeFrame', () => {
	test('prefixes the payload with its u32 little-endian length', () => {
		assert.deepEqual([...encodeFrame(Uint8Array.from([1, 2, 3]))], [3, 0, 0, 0, 1, 2, 3]);
	});

	test('an empty payload is a bare zero header', () => {
		assert.deepEqual([...encodeFrame(new Uint8Array(0))], [0, 0, 0, 0]);
	});

	test('the length is little-endian across bytes', () => {
		const payload = Buffer.alloc(0x0102 + 0x010000 * 3, 7);
		const frame = encodeFrame(payload);
		assert.equal(frame.length, 4 + payload.length);
		assert.deepEqual([...frame.subarray(0, 4)], [0x02, 0x01, 0x03, 0x00]);
		assert.ok(frame.subarray(4).equals(payload));
	});
});

describe('FrameDecoder', () => {
	test('decodes one whole frame pushed at once', () => {
		const d = new FrameDecoder();
		const frames = d.push(encodeFrame(Buffer.from('hello')));
		assert.deepEqual(frames.map((f) => f.toString()), ['hello']);
		assert.equal(d.pendingBytes, 0);
	});

	test('a frame split byte by byte (including its length prefix) comes out once, at the last byte', () => {
		const d = new FrameDecoder();
		const frame = encodeFrame(Buffer.from('split across many reads'));
		for (let i = 0; i < frame.length - 1; i++) {
			assert.deepEqual(d.push(frame.subarray(i, i + 1)), [], `no frame yet after byte ${i}`);
			assert.equal(d.pendingBytes, i + 1);
		}
		const out = d.push(frame.subarray(frame.length - 1));
		assert.equal(out.length, 1);
		assert.equal(out[0].toString(), 'split across many reads');
		assert.equal(d.pendingBytes, 0);
	});

	test('a length prefix split 1+3, 2+2 and 3+1', () => {
		for (const cut of [1, 2, 3]) {
			const d = new FrameDecoder();
			const frame = encodeFrame(Buffer.from('abc'));
			assert.deepEqual(d.push(frame.subarray(0, cut)), []);
			assert.equal(d.pendingBytes, cut);
			const out = d.push(frame.subarray(cut));
			assert.deepEqual(out.map((f) => f.toString()), ['abc'], `cut at ${cut}`);
			assert.equal(d.pendingBytes, 0);
		}
	});

	test('several frames in one chunk come out in order', () => {
		const d = new FrameDecoder();
		const chunk = Buffer.concat(['one', 'two', '', 'three', 'four'].map((s) => encodeFrame(Buffer.from(s))));
		const out = d.push(chunk);
		assert.deepEqual(out.map((f) => f.toString()), ['one', 'two', '', 'three', 'four']);
		assert.equal(d.pendingBytes, 0);
	});

	test('a chunk ending mid-frame yields the whole frames and keeps the rest for later', () => {
		const d = new FrameDecoder();
		const a = encodeFrame(Buffer.from('first'));
		const b = encodeFrame(Buffer.from('second frame'));
		const c = encodeFrame(Buffer.from('third'));
		const all = Buffer.concat([a, b, c]);
		const cut = a.length + 7; // inside b's payload
		const first = d.push(all.subarray(0, cut));
		assert.deepEqual(first.map((f) => f.toString()), ['first']);
		assert.equal(d.pendingBytes, 7);
		const rest = d.push(all.subarray(cut));
		assert.deepEqual(rest.map((f) => f.toString()), ['second frame', 'third']);
		assert.equal(d.pendingBytes, 0);
	});

	test('zero-length frames decode to empty buffers, alone and in runs', () => {
		const d = new FrameDecoder();
		const one = d.push(encodeFrame(new Uint8Array(0)));
		assert.equal(one.length, 1);
		assert.equal(one[0].length, 0);
		const three = d.push(Buffer.concat([header(0), header(0), header(0)]));
		assert.deepEqual(three.map((f) => f.length), [0, 0, 0]);
		assert.equal(d.pendingBytes, 0);
	});

	test('a zero-length frame whose header is split still decodes', () => {
		const d = new FrameDecoder();
		assert.deepEqual(d.push(Buffer.from([0, 0])), []);
		const out = d.push(Buffer.from([0, 0]));
		assert.equal(out.length, 1);
		assert.equal(out[0].length, 0);
	});

	test('empty chunks are harmless', () => {
		const d = new FrameDecoder();
		assert.deepEqual(d.push(Buffer.alloc(0)), []);
		const frame = encodeFrame(Buffer.from('xy'));
		assert.deepEqual(d.push(frame.subarray(0, 3)), []);
		assert.deepEqual(d.push(Buffer.alloc(0)), []);
		assert.equal(d.pendingBytes, 3);
		assert.deepEqual(d.push(frame.subarray(3)).map((f) => f.toString()), ['xy']);
		assert.deepEqual(d.push(Buffer.alloc(0)), []);
		assert.equal(d.pendingBytes, 0);
	});

	test('pendingBytes counts header and partial payload bytes not yet returned', () => {
		const d = new FrameDecoder();
		assert.equal(d.pendingBytes, 0);
		const frame = encodeFrame(Buffer.alloc(10, 1));
		d.push(frame.subarray(0, 2));
		assert.equal(d.pendingBytes, 2);
		d.push(frame.subarray(2, 9));
		assert.equal(d.pendingBytes, 9);
		const next = encodeFrame(Buffer.alloc(5, 2));
		const out = d.push(Buffer.concat([frame.subarray(9), next.subarray(0, 6)]));
		assert.equal(out.length, 1);
		assert.equal(out[0].length, 10);
		assert.equal(d.pendingBytes, 6);
		assert.equal(d.push(next.subarray(6)).length, 1);
		assert.equal(d.pendingBytes, 0);
	});

	test('returned frames do not alias the chunks pushed', () => {
		const d = new FrameDecoder();
		const chunk = encodeFrame(Buffer.from('keep'));
		const [frame] = d.push(chunk);
		chunk.fill(0);
		assert.equal(frame.toString(), 'keep');
	});

	test('a frame exactly at the limit is accepted', () => {
		const d = new FrameDecoder(16);
		const out = d.push(encodeFrame(Buffer.alloc(16, 9)));
		assert.equal(out.length, 1);
		assert.equal(out[0].length, 16);
	});

	test('a length over a small limit is refused with FrameTooLargeError as soon as the header is complete', () => {
		const d = new FrameDecoder(16);
		assert.deepEqual(d.push(header(17).subarray(0, 3)), []);
		assert.throws(
			() => d.push(header(17).subarray(3)),
			(err: unknown) => {
				assert.ok(err instanceof FrameTooLargeError);
				assert.equal(err.name, 'FrameTooLargeError');
				assert.equal(err.length, 17);
				assert.equal(err.limit, 16);
				assert.match(err.message, /17 bytes/);
				assert.match(err.message, /16-byte limit/);
				return true;
			},
		);
	});

	test('an oversize frame after good frames in the same chunk still throws', () => {
		const d = new FrameDecoder(8);
		const chunk = Buffer.concat([encodeFrame(Buffer.from('ok')), header(9), Buffer.alloc(9)]);
		assert.throws(() => d.push(chunk), FrameTooLargeError);
	});

	test('the default limit is MAX_FRAME_BYTES (64 MiB)', () => {
		assert.equal(MAX_FRAME_BYTES, 64 * 1024 * 1024);
		const d = new FrameDecoder();
		assert.throws(
			() => d.push(header(MAX_FRAME_BYTES + 1)),
			(err: unknown) => err instanceof FrameTooLargeError && err.length === MAX_FRAME_BYTES + 1 && err.limit === MAX_FRAME_BYTES,
		);
	});

	test('a header claiming exactly MAX_FRAME_BYTES is not refused: it waits for the payload', () => {
		const d = new FrameDecoder();
		assert.deepEqual(d.push(header(MAX_FRAME_BYTES)), []);
		assert.equal(d.pendingBytes, 4);
	});

	test('a header of 0xFFFFFFFF is refused with the unsigned length', () => {
		const d = new FrameDecoder();
		assert.throws(
			() => d.push(Buffer.from([0xff, 0xff, 0xff, 0xff])),
			(err: unknown) => err instanceof FrameTooLargeError && err.length === 0xffffffff,
		);
	});

	test('property: random frames cut at random points re-assemble exactly (fixed seed)', () => {
		for (const seed of [1, 42, 0xc0ffee, 2024]) {
			const rand = prng(seed);
			const payloads: Buffer[] = [];
			for (let i = 0; i < 300; i++) {
				// Mostly small frames, some empty, a few large.
				const r = rand();
				const size = r < 0.1 ? 0 : r < 0.9 ? Math.floor(rand() * 64) : Math.floor(rand() * 5000);
				const p = Buffer.alloc(size);
				for (let j = 0; j < size; j++) p[j] = Math.floor(rand() * 256);
				payloads.push(p);
			}
			const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
			const d = new FrameDecoder();
			const out: Buffer[] = [];
			let offset = 0;
			let consumedFrames = 0;
			while (offset < stream.length) {
				const r = rand();
				const n = r < 0.3 ? 1 : r < 0.6 ? 1 + Math.floor(rand() * 8) : r < 0.95 ? 1 + Math.floor(rand() * 200) : 1 + Math.floor(rand() * 20000);
				const chunk = stream.subarray(offset, Math.min(stream.length, offset + n));
				offset += chunk.length;
				const frames = d.push(chunk);
				out.push(...frames);
				consumedFrames += frames.length;
				// pendingBytes must equal the bytes after the last complete frame.
				const usedBytes = payloads.slice(0, consumedFrames).reduce((s, p) => s + 4 + p.length, 0);
				assert.equal(d.pendingBytes, offset - usedBytes, `seed ${seed}: pendingBytes at offset ${offset}`);
			}
			assert.equal(out.length, payloads.length, `seed ${seed}: frame count`);
			for (let i = 0; i < payloads.length; i++) {
				assert.ok(out[i].equals(payloads[i]), `seed ${seed}: frame ${i} differs`);
			}
			assert.equal(d.pendingBytes, 0);
		}
	});
});
