/**
 * Exact 64-bit integers for CRIU images.
 *
 * Addresses and registers need all 64 bits (the vsyscall page is at
 * 0xffffffffff600000, a register can hold 0xffffffffffffffff), which a JS
 * number cannot hold. So every 64-bit field of the image schema is a bigint:
 * src/generated/images.d.ts declares them so (scripts/generate-proto.mjs), and
 * this module makes it true. protobufjs reads 64-bit fields through the
 * reader's int64/uint64/sint64/fixed64/sfixed64 methods, whose global
 * behaviour src/core/protobufRuntime.ts sets to "plain number" for the helper
 * protocol; ImageReader overrides just those methods to return bigints, and
 * ImageWriter accepts bigints when encoding. Image messages must only ever be
 * decoded with an ImageReader and encoded with an ImageWriter.
 */
import * as protobuf from 'protobufjs/minimal';
// Strings read losslessly (a path in an image is the system's bytes) on every reader, this one included.
import '../../protobufRuntime';

const TWO_32 = 0x1_0000_0000;

function nextByte(r: protobuf.Reader): number {
	if (r.pos >= r.len) throw new RangeError(`index out of range: ${r.pos} + 1 > ${r.len}`);
	return r.buf[r.pos++];
}

const SEVEN_BIT_PLACES = [1, 2 ** 7, 2 ** 14, 2 ** 21, 2 ** 28, 2 ** 35, 2 ** 42];

/** A varint as an unsigned 64-bit value (longer ones are truncated to 64 bits, as protobuf does). */
function readVarint64(r: protobuf.Reader): bigint {
	// The first 7 bytes carry 49 bits: exact as a number, and the common case.
	let low = 0;
	for (let i = 0; i < 7; i++) {
		const b = nextByte(r);
		low += (b & 0x7f) * SEVEN_BIT_PLACES[i];
		if (b < 0x80) return BigInt(low);
	}
	let value = BigInt(low);
	for (let i = 7; i < 10; i++) {
		const b = nextByte(r);
		value |= BigInt(b & 0x7f) << BigInt(7 * i);
		if (b < 0x80) return BigInt.asUintN(64, value);
	}
	throw new RangeError(`invalid varint encoding at ${r.pos}`);
}

function readFixed64(r: protobuf.Reader): bigint {
	if (r.pos + 8 > r.len) throw new RangeError(`index out of range: ${r.pos} + 8 > ${r.len}`);
	const b = r.buf;
	const p = r.pos;
	const lo = (b[p] | b[p + 1] << 8 | b[p + 2] << 16 | b[p + 3] << 24) >>> 0;
	const hi = (b[p + 4] | b[p + 5] << 8 | b[p + 6] << 16 | b[p + 7] << 24) >>> 0;
	r.pos += 8;
	return BigInt(hi) << 32n | BigInt(lo);
}

function zigzagDecode(v: bigint): bigint {
	return (v >> 1n) ^ -(v & 1n);
}

/** A protobufjs reader whose 64-bit reads return exact bigints. */
export class ImageReader extends protobuf.Reader {}

// Assigned rather than declared as methods: the protobufjs typings say these
// return Long, which is exactly what this reader must not do.
Object.assign(ImageReader.prototype, {
	uint64(this: protobuf.Reader): bigint { return readVarint64(this); },
	int64(this: protobuf.Reader): bigint { return BigInt.asIntN(64, readVarint64(this)); },
	sint64(this: protobuf.Reader): bigint { return zigzagDecode(readVarint64(this)); },
	fixed64(this: protobuf.Reader): bigint { return readFixed64(this); },
	sfixed64(this: protobuf.Reader): bigint { return BigInt.asIntN(64, readFixed64(this)); },
});

type Int64Input = bigint | number | string | protobuf.Long;

/**
 * protobufjs writers take 64-bit values as number, string or {low, high}; a
 * bigint would silently encode as 0. Converting to {low, high} (two's
 * complement, so negative values work for int64 and sint64) lets the stock
 * encoding do the rest.
 */
function toLongBits(value: Int64Input): number | string | protobuf.Long {
	if (typeof value !== 'bigint') return value;
	const bits = BigInt.asUintN(64, value);
	return { low: Number(bits % BigInt(TWO_32)) | 0, high: Number(bits >> 32n) | 0, unsigned: value >= 0n };
}

/** A protobufjs writer that takes bigints for 64-bit fields (for building image files, e.g. in tests). */
export class ImageWriter extends protobuf.Writer {
	override uint64(value: Int64Input): protobuf.Writer { return super.uint64(toLongBits(value)); }
	override int64(value: Int64Input): protobuf.Writer { return super.int64(toLongBits(value)); }
	override sint64(value: Int64Input): protobuf.Writer { return super.sint64(toLongBits(value)); }
	override fixed64(value: Int64Input): protobuf.Writer { return super.fixed64(toLongBits(value)); }
	override sfixed64(value: Int64Input): protobuf.Writer { return super.sfixed64(toLongBits(value)); }
}
