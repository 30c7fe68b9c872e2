/**
 * Fuzz target: what the extension reads from the helper. The input is a byte
 * stream cut into chunks (chunksOf); FrameDecoder (src/core/framing.ts)
 * turns it into frames, and each frame is decoded as a HelperMessage, as
 * HelperClient does, and as a Checkpoint (a checkpoint's manifest.pb, which
 * readManifest decodes from the target's disk).
 *
 * A bug: FrameDecoder throwing anything but FrameTooLargeError, or frames
 * that are not exactly the stream's length-prefixed payloads in order; a
 * decode error that is not an Error with a message (HelperClient reports
 * `err.message` to the user); a hang.
 */
import { FrameDecoder, FrameTooLargeError } from '../../src/core/framing';
import { pb } from '../../src/core/protocol';
import { allowOnly, chunksOf, invariant } from './fuzzInput';

/** Below the real limit (64 MiB), so that a fuzzed length reaches the "too large" path as often as a corrupt stream does; above a manifest's size. */
const FRAME_LIMIT = 64 * 1024;

/** The payloads of the length-prefixed frames at the start of `stream`, as the framing defines them. */
function expectedFrames(stream: Buffer): { frames: Buffer[]; tooLarge: boolean; rest: number } {
	const frames: Buffer[] = [];
	let at = 0;
	while (stream.length - at >= 4) {
		const length = stream.readUInt32LE(at);
		if (length > FRAME_LIMIT) return { frames, tooLarge: true, rest: stream.length - at };
		if (stream.length - at - 4 < length) break;
		frames.push(stream.subarray(at + 4, at + 4 + length));
		at += 4 + length;
	}
	return { frames, tooLarge: false, rest: stream.length - at };
}

function decodeAs(type: { decode(data: Uint8Array): unknown }, name: string, frame: Buffer): void {
	try {
		type.decode(frame);
	} catch (err) {
		invariant(err instanceof Error && err.message.length > 0, `${name}.decode fails with an Error that says why (got ${String(err)})`);
	}
}

export function fuzz(data: Buffer): void {
	const chunks = chunksOf(data);
	const stream = Buffer.concat(chunks);
	const expected = expectedFrames(stream);
	const decoder = new FrameDecoder(FRAME_LIMIT);
	const frames: Buffer[] = [];
	let tooLarge = false;
	try {
		for (const chunk of chunks) frames.push(...decoder.push(chunk));
	} catch (err) {
		allowOnly(err, [FrameTooLargeError], 'FrameDecoder.push');
		tooLarge = true;
	}
	invariant(tooLarge === expected.tooLarge, `a frame over the limit is refused (${expected.tooLarge}), and only such a frame (${tooLarge})`);
	// The push that meets a frame over the limit throws, losing the frames it completed before: the stream is dead then anyway.
	const complete = tooLarge ? frames.length <= expected.frames.length : frames.length === expected.frames.length;
	invariant(complete && frames.every((f, i) => f.equals(expected.frames[i])),
		`the decoder yields the stream's ${expected.frames.length} frames in order, not ${frames.length} others`);
	if (!tooLarge) invariant(decoder.pendingBytes === expected.rest, `${expected.rest} bytes wait for the next frame, not ${decoder.pendingBytes}`);
	for (const frame of frames) {
		decodeAs(pb.HelperMessage, 'HelperMessage', frame);
		decodeAs(pb.Checkpoint, 'Checkpoint', frame);
	}
}
