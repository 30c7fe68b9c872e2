/**
 * Text that comes from the system (process names, command lines, paths,
 * socket addresses, CRIU's log) is bytes, not UTF-8 by promise. It is held
 * in JS strings losslessly, as Python's "surrogateescape" holds it: valid
 * UTF-8 decodes as usual, and each byte that is not part of a valid sequence
 * becomes the lone surrogate U+DC80..U+DCFF (0x80..0xFF); encoding turns
 * those back into the bytes they were. So a name read from the target and
 * sent back (a path to read, a command line to match) reaches the same bytes,
 * and JSON carries it exactly (as "\udcff", which Python's
 * json.loads(...).encode('utf-8', 'surrogateescape') turns back into bytes).
 *
 * `printable` is for showing such text to a person: escapes instead of
 * terminal control sequences and replacement characters.
 */
import { isUtf8 } from 'node:buffer';

const ESCAPED_BYTE = 0xdc00;

/** The code point of a valid UTF-8 sequence at `at`, and its length; undefined when there is none. */
function validSequence(bytes: Uint8Array, at: number, end: number): { codePoint: number; length: number } | undefined {
	const lead = bytes[at];
	let length: number;
	let low = 0x80;
	let high = 0xbf;
	let codePoint: number;
	if (lead >= 0xc2 && lead <= 0xdf) { length = 2; codePoint = lead & 0x1f; }
	else if (lead >= 0xe0 && lead <= 0xef) {
		length = 3; codePoint = lead & 0x0f;
		if (lead === 0xe0) low = 0xa0;	// overlong
		if (lead === 0xed) high = 0x9f;	// surrogates
	} else if (lead >= 0xf0 && lead <= 0xf4) {
		length = 4; codePoint = lead & 0x07;
		if (lead === 0xf0) low = 0x90;	// overlong
		if (lead === 0xf4) high = 0x8f;	// above U+10FFFF
	} else return undefined;
	if (at + length > end) return undefined;
	for (let i = 1; i < length; i++) {
		const b = bytes[at + i];
		if (b < low || b > high) return undefined;
		low = 0x80;
		high = 0xbf;
		codePoint = codePoint << 6 | (b & 0x3f);
	}
	return { codePoint, length };
}

/** Bytes [start, end) as text, each byte of an invalid sequence kept as U+DC80..U+DCFF. */
export function decodeSystemText(bytes: Uint8Array, start = 0, end = bytes.length): string {
	const view = bytes.subarray(start, end);
	if (isUtf8(view)) return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('utf8');
	const parts: string[] = [];
	let at = start;
	let runStart = start;
	while (at < end) {
		if (bytes[at] < 0x80) { at++; continue; }
		const seq = validSequence(bytes, at, end);
		if (seq) { at += seq.length; continue; }
		if (runStart < at) parts.push(Buffer.from(bytes.buffer, bytes.byteOffset + runStart, at - runStart).toString('utf8'));
		parts.push(String.fromCharCode(ESCAPED_BYTE + bytes[at]));
		at++;
		runStart = at;
	}
	if (runStart < end) parts.push(Buffer.from(bytes.buffer, bytes.byteOffset + runStart, end - runStart).toString('utf8'));
	return parts.join('');
}

const ESCAPED_BYTES = /(?<![\ud800-\udbff])[\udc80-\udcff]/;

/** The bytes `decodeSystemText` read `text` from (other text encodes as UTF-8). */
export function encodeSystemText(text: string): Buffer {
	if (!ESCAPED_BYTES.test(text)) return Buffer.from(text, 'utf8');
	const parts: Buffer[] = [];
	let runStart = 0;
	for (let i = 0; i < text.length; i++) {
		const unit = text.charCodeAt(i);
		const escaped = unit >= 0xdc80 && unit <= 0xdcff && !(i > 0 && isHighSurrogate(text.charCodeAt(i - 1)));
		if (!escaped) continue;
		if (runStart < i) parts.push(Buffer.from(text.slice(runStart, i), 'utf8'));
		parts.push(Buffer.of(unit - ESCAPED_BYTE));
		runStart = i + 1;
	}
	if (runStart < text.length) parts.push(Buffer.from(text.slice(runStart), 'utf8'));
	return Buffer.concat(parts);
}

function isHighSurrogate(unit: number): boolean {
	return unit >= 0xd800 && unit <= 0xdbff;
}

/** True when `text` holds bytes that were not UTF-8. */
export function hasEscapedBytes(text: string): boolean {
	return ESCAPED_BYTES.test(text);
}

// Control characters (C0, DEL, C1), the bidirectional overrides and isolates
// (which can make a name read as another), and lone surrogates.
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

function escapeOne(ch: string): string {
	const unit = ch.charCodeAt(0);
	if (NAMED_ESCAPES[ch]) return NAMED_ESCAPES[ch];
	if (unit >= 0xdc80 && unit <= 0xdcff) return `\\x${(unit - ESCAPED_BYTE).toString(16).padStart(2, '0')}`;
	if (unit < 0x80) return `\\x${unit.toString(16).padStart(2, '0')}`;
	return `\\u${unit.toString(16).padStart(4, '0')}`;
}

/**
 * Text from the system as a person should see it: a byte that was not UTF-8
 * as \xff, control characters as \n, \t, \x1b, \u009b, direction overrides
 * as \u202e. Nothing of it can move a terminal's cursor or reorder a line.
 */
export function printable(text: string): string {
	return text.replace(UNPRINTABLE, escapeOne);
}

/** A command line as one line, as ps shows it: its arguments printable, joined by spaces. */
export function printableCommandLine(args: readonly string[]): string {
	return args.map(printable).join(' ');
}

/** Lines of output as `printable` makes them, their line breaks and tabs kept. */
export function printableLines(text: string): string {
	return text.replace(UNPRINTABLE, (ch) => (ch === '\n' || ch === '\t' ? ch : escapeOne(ch)));
}
