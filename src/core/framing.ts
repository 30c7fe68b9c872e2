/**
 * Length-prefixed framing of the helper protocol (see proto/helper.proto):
 * every message is a u32 little-endian byte length followed by that many
 * bytes of protobuf.
 */

/** Frames beyond this size are refused: a length this large means a corrupt stream. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class FrameTooLargeError extends Error {
	constructor(readonly length: number, readonly limit: number) {
		super(`the helper sent a frame of ${length} bytes, over the ${limit}-byte limit; the stream is corrupt or not the helper protocol`);
		this.name = 'FrameTooLargeError';
	}
}

export function encodeFrame(payload: Uint8Array): Buffer {
	const frame = Buffer.allocUnsafe(4 + payload.length);
	frame.writeUInt32LE(payload.length, 0);
	frame.set(payload, 4);
	return frame;
}

/** Accumulates stream chunks and yields whole frames, whatever the chunking. */
export class FrameDecoder {
	private chunks: Buffer[] = [];
	private buffered = 0;

	constructor(private readonly limit = MAX_FRAME_BYTES) {}

	/** Adds a chunk; returns every frame it completed. Throws FrameTooLargeError. */
	push(chunk: Buffer): Buffer[] {
		this.chunks.push(chunk);
		this.buffered += chunk.length;
		const frames: Buffer[] = [];
		for (;;) {
			const frame = this.take();
			if (!frame) return frames;
			frames.push(frame);
		}
	}

	/** Bytes received that do not yet form a whole frame. */
	get pendingBytes(): number {
		return this.buffered;
	}

	private take(): Buffer | undefined {
		if (this.buffered < 4) return undefined;
		const head = this.peek(4);
		const length = head.readUInt32LE(0);
		if (length > this.limit) throw new FrameTooLargeError(length, this.limit);
		if (this.buffered < 4 + length) return undefined;
		const all = this.peek(4 + length);
		const frame = Buffer.from(all.subarray(4, 4 + length));
		this.consume(4 + length);
		return frame;
	}

	/** The first n buffered bytes, joining chunks only when needed. */
	private peek(n: number): Buffer {
		if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
		return this.chunks[0].subarray(0, n);
	}

	private consume(n: number): void {
		const first = this.chunks[0];
		if (first.length === n) this.chunks.shift();
		else this.chunks[0] = first.subarray(n);
		this.buffered -= n;
	}
}
