/**
 * Writing image files: the inverse of the entry reader, for tests and
 * fixtures. Messages go through ImageWriter so that bigint fields encode.
 */
import type * as protobuf from 'protobufjs/minimal';
import { IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, MAGIC } from './magic';
import { IMAGE_KINDS, type ImageKind } from './kinds';
import { ImageWriter } from './wire';

interface EncodableType<M> {
	encode(message: M, writer?: protobuf.Writer): protobuf.Writer;
}

/** A message's protobuf bytes. */
export function encodeMessage<M>(type: EncodableType<M>, message: M): Uint8Array {
	return type.encode(message, new ImageWriter()).finish();
}

/** One entry as it appears in a file: u32 little-endian length, then the payload. */
export function frameEntry(payload: Uint8Array): Buffer {
	const prefix = Buffer.alloc(4);
	prefix.writeUInt32LE(payload.length);
	return Buffer.concat([prefix, payload]);
}

/** The header CRIU writes for an image of `kind` (no common magic for inventory, the service magic for stats). */
export function imageHeader(kind: ImageKind): Buffer {
	const magic = IMAGE_KINDS[kind].magic;
	if (magic === null) return Buffer.alloc(0);
	const words = kind === 'inventory' ? [MAGIC[magic]] : [kind === 'stats' ? IMG_SERVICE_MAGIC : IMG_COMMON_MAGIC, MAGIC[magic]];
	const header = Buffer.alloc(4 * words.length);
	words.forEach((w, i) => header.writeUInt32LE(w, 4 * i));
	return header;
}
