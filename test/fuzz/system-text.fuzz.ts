/**
 * Fuzz target: text from the system as bytes (src/core/systemText.ts), and
 * the protobuf runtime that reads every string field with it. The input is
 * the bytes a process name, a command line or a path could hold.
 *
 * A bug: bytes that do not come back exactly (encodeSystemText after
 * decodeSystemText), valid UTF-8 decoded otherwise than Node decodes it,
 * printable text holding a control character, a direction override or a
 * lone surrogate, or a helper message whose string field does not carry the
 * bytes through an encode and a decode.
 */
import { isUtf8 } from 'node:buffer';
import { pb } from '../../src/core/protocol';
import { decodeSystemText, encodeSystemText, printable, printableLines } from '../../src/core/systemText';
import { invariant } from './fuzzInput';

const UNSAFE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function fuzz(data: Buffer): void {
	const text = decodeSystemText(data);
	invariant(encodeSystemText(text).equals(data), 'the bytes come back exactly');
	if (isUtf8(data)) invariant(text === data.toString('utf8'), 'valid UTF-8 decodes as UTF-8');
	invariant(!UNSAFE.test(printable(text)), 'printable text holds no control character, override or lone surrogate');
	invariant(!UNSAFE.test(printableLines(text).replace(/[\n\t]/g, '')), 'printable lines hold nothing else unsafe');
	const wire = pb.ProcessInfo.encode(pb.ProcessInfo.create({ comm: text, cmdline: [text, 'x'] })).finish();
	const back = pb.ProcessInfo.decode(wire);
	invariant(back.comm === text && back.cmdline[0] === text, 'a helper message carries the bytes through');
}
