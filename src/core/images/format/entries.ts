/**
 * The entry reader: an image file is a header (IMG_COMMON_MAGIC or
 * IMG_SERVICE_MAGIC, then the image's own magic; inventory.img has only the
 * latter), then entries, each a u32 little-endian length and a protobuf
 * payload of that length. Some kinds put raw bytes after an entry's payload;
 * their size comes from the payload (see ./extra). Every problem becomes an
 * ImageFormatError naming the file and the byte offset.
 */
import { ImageFormatError } from './errors';
import { describeMagic, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, MAGIC } from './magic';
import { IMAGE_KINDS, type ImageKind } from './kinds';
import { ImageReader } from './wire';

/** A stretch of bytes in an image file. */
export interface RawSpan {
	offset: number;
	length: number;
}

/** One entry's location: its length prefix at `offset`, its payload in `payload`. */
export interface Frame {
	offset: number;
	payload: RawSpan;
}

/** A generated message type, as far as decoding goes. */
export interface MessageType<M> {
	decode(reader: ImageReader): M;
}

/** Reads an image file front to back, frame by frame and raw span by raw span. */
export class EntryCursor {
	constructor(readonly file: string, readonly data: Buffer, public pos: number) {}

	atEnd(): boolean {
		return this.pos >= this.data.length;
	}

	fail(offset: number, detail: string): never {
		throw new ImageFormatError(this.file, offset, detail);
	}

	/** The next length-prefixed entry; the cursor moves past its payload. */
	nextFrame(): Frame {
		const offset = this.pos;
		const left = this.data.length - offset;
		if (left < 4) this.fail(offset, `truncated entry length (${left} byte${left === 1 ? '' : 's'} left, need 4)`);
		const length = this.data.readUInt32LE(offset);
		if (length > left - 4) {
			this.fail(offset, `entry length ${length} runs past the end of the file (${this.data.length} bytes)`);
		}
		this.pos = offset + 4 + length;
		return { offset, payload: { offset: offset + 4, length } };
	}

	/**
	 * Raw bytes after a payload: `length` bytes of data, then padding up to a
	 * multiple of `align` (CRIU pads SysV IPC contents). Returns the data's span.
	 */
	takeRaw(length: number, what: string, align = 1): RawSpan {
		const offset = this.pos;
		const padded = Math.ceil(length / align) * align;
		if (!Number.isSafeInteger(padded) || padded > this.data.length - offset) {
			this.fail(offset, `${what} of ${length} bytes runs past the end of the file (${this.data.length} bytes)`);
		}
		this.pos = offset + padded;
		return { offset, length };
	}

	/** Everything up to the end of the file. */
	takeRest(): RawSpan {
		const span = { offset: this.pos, length: this.data.length - this.pos };
		this.pos = this.data.length;
		return span;
	}

	/** Decodes a frame's payload as `type`; a payload that is not valid protobuf becomes an ImageFormatError. */
	decode<M>(type: MessageType<M>, typeName: string, frame: Frame): M {
		const { offset, length } = frame.payload;
		try {
			return type.decode(new ImageReader(this.data.subarray(offset, offset + length)));
		} catch (e) {
			const why = e instanceof Error ? e.message : String(e);
			return this.fail(offset, `entry payload (${length} bytes) is not a valid ${typeName} message: ${why}`);
		}
	}
}

function readU32(file: string, data: Buffer, offset: number, what: string): number {
	if (data.length < offset + 4) {
		throw new ImageFormatError(file, offset, `file too short for the image header: ${data.length} bytes, no room for the ${what}`);
	}
	return data.readUInt32LE(offset);
}

/**
 * Checks the header of an image of `kind` and returns a cursor on its first
 * entry. inventory.img carries only its own magic; every other image the
 * common (or, for service files, the service) magic first. Either of those two
 * is accepted for any kind, as crit does: the image magic is what tells kinds
 * apart.
 */
export function openImage(kind: ImageKind, file: string, data: Buffer): EntryCursor {
	const expected = IMAGE_KINDS[kind].magic;
	if (expected === null) throw new ImageFormatError(file, 0, `${kind} images are raw data without entries`);
	let offset = 0;
	if (kind !== 'inventory') {
		const first = readU32(file, data, 0, 'common magic');
		if (first !== IMG_COMMON_MAGIC && first !== IMG_SERVICE_MAGIC) {
			throw new ImageFormatError(file, 0, `not a CRIU image: first magic ${describeMagic(first)}, expected ${describeMagic(IMG_COMMON_MAGIC)} or ${describeMagic(IMG_SERVICE_MAGIC)}`);
		}
		offset = 4;
	}
	const magic = readU32(file, data, offset, 'image magic');
	if (magic !== MAGIC[expected]) {
		throw new ImageFormatError(file, offset, `image magic ${describeMagic(magic)}, but ${kind} images have ${describeMagic(MAGIC[expected])}`);
	}
	return new EntryCursor(file, data, offset + 4);
}
