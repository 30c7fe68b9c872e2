/**
 * Configures protobufjs before any generated module loads.
 *
 * 64-bit fields (sizes, times, counters) decode as plain numbers, as the
 * generated types declare (--force-number). Every value we carry stays below
 * 2^53. Without this, decoding yields Long objects whenever the "long"
 * package happens to be resolvable, which differs between the bundle and the
 * compiled tests.
 *
 * String fields carry the system's bytes (proto/helper.proto says which):
 * protobufjs would refuse (stringVerify) or mangle (string) bytes that are
 * not UTF-8, so every reader and writer decodes and encodes strings
 * losslessly instead (src/core/systemText.ts).
 */
import * as protobuf from 'protobufjs/minimal';
import { decodeSystemText, encodeSystemText } from './systemText';

// Its type says a constructor is always there; taking it away is the point.
Reflect.set(protobuf.util, 'Long', undefined);
protobuf.configure();

function readSystemText(this: protobuf.Reader): string {
	const length = this.uint32();
	const start = this.pos;
	const end = start + length;
	if (end > this.len) throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
	this.pos = end;
	return decodeSystemText(this.buf, start, end);
}

function writeSystemText(this: protobuf.Writer, value: string): protobuf.Writer {
	return this.bytes(encodeSystemText(value));
}

for (const reader of [protobuf.Reader.prototype, protobuf.BufferReader.prototype]) {
	Object.assign(reader, { string: readSystemText, stringVerify: readSystemText });
}
for (const writer of [protobuf.Writer.prototype, protobuf.BufferWriter.prototype]) {
	Object.assign(writer, { string: writeSystemText });
}
