/**
 * Text from the system as bytes (src/core/systemText.ts): lossless decoding
 * and encoding, as Python's surrogateescape; what a person is shown; and
 * every protobuf reader and writer of the project using them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pb } from '../../src/core/protocol';
import { criu, ImageReader } from '../../src/core/images/format';
import { encodeMessage } from '../../src/core/images/format/encode';
import { decodeSystemText, encodeSystemText, hasEscapedBytes, printable, printableCommandLine, printableLines } from '../../src/core/systemText';
import { formatPs } from '../../src/cli/format';

const bytes = (...b: number[]): Buffer => Buffer.from(b);

/** A small deterministic generator: the same "random" buffers on every run. */
function* randomBuffers(count: number, seed = 1): Generator<Buffer> {
	let state = seed;
	const next = (): number => { state = (state * 1103515245 + 12345) >>> 0; return state >>> 16; };
	for (let i = 0; i < count; i++) {
		const b = Buffer.alloc(next() % 24);
		// mostly high bytes: the interesting ones
		for (let j = 0; j < b.length; j++) b[j] = next() % 3 === 0 ? next() % 0x80 : 0x80 + next() % 0x80;
		yield b;
	}
}

describe('decodeSystemText and encodeSystemText', () => {
	test('valid UTF-8 decodes as UTF-8', () => {
		const text = 'sleep ünïcode 😀 /tmp/a b';
		assert.equal(decodeSystemText(Buffer.from(text)), text);
		assert.deepEqual(encodeSystemText(text), Buffer.from(text));
	});

	test('each byte of an invalid sequence becomes U+DC80..U+DCFF, as Python\'s surrogateescape', () => {
		assert.equal(decodeSystemText(bytes(0x73, 0x6c, 0xff, 0x65)), 'sl\udcffe');
		// an encoded surrogate (CESU), an overlong "/", a truncated sequence, a code point above U+10FFFF
		assert.equal(decodeSystemText(bytes(0xed, 0xa0, 0x80)), '\udced\udca0\udc80');
		assert.equal(decodeSystemText(bytes(0xc0, 0xaf)), '\udcc0\udcaf');
		assert.equal(decodeSystemText(bytes(0xe0, 0xa0, 0x41)), '\udce0\udca0A');
		assert.equal(decodeSystemText(bytes(0xf4, 0x90, 0x80, 0x80)), '\udcf4\udc90\udc80\udc80');
		// valid sequences around an invalid byte stay whole
		assert.equal(decodeSystemText(Buffer.concat([Buffer.from('é'), bytes(0xfe), Buffer.from('😀')])), 'é\udcfe😀');
	});

	test('a part of a buffer decodes alone', () => {
		assert.equal(decodeSystemText(bytes(0x41, 0xff, 0x42, 0xfe), 1, 3), '\udcffB');
	});

	test('any bytes come back exactly: every single byte, and random buffers', () => {
		for (let b = 0; b < 256; b++) assert.deepEqual(encodeSystemText(decodeSystemText(bytes(b))), bytes(b), `byte ${b}`);
		for (const buffer of randomBuffers(20000)) {
			assert.deepEqual(encodeSystemText(decodeSystemText(buffer)), buffer, buffer.toString('hex'));
		}
	});

	test('a surrogate pair is text, not escaped bytes; escaped bytes are recognised', () => {
		assert.equal(hasEscapedBytes('😀'), false);
		assert.equal(hasEscapedBytes('a\udcffb'), true);
		assert.deepEqual(encodeSystemText('\ud83d\ude00'), Buffer.from('😀'));
	});
});

describe('printable', () => {
	test('bytes that were not UTF-8 show as \\xNN, control characters escaped, direction overrides shown', () => {
		assert.equal(printable('sl\udcffeep'), 'sl\\xffeep');
		assert.equal(printable('a\x1b[31mred'), 'a\\x1b[31mred');
		assert.equal(printable('two\nlines\ttab\r'), 'two\\nlines\\ttab\\r');
		assert.equal(printable('\u009b2J\x7f'), '\\u009b2J\\x7f');
		assert.equal(printable('evil\u202etxt.exe'), 'evil\\u202etxt.exe');
		assert.equal(printable('lone \ud83d high'), 'lone \\ud83d high');
		assert.equal(printable('ünïcode 😀'), 'ünïcode 😀');
	});

	test('nothing printed can hold a control character or a lone surrogate, whatever the bytes', () => {
		const unsafe = /[\x00-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
		for (const buffer of randomBuffers(5000, 7)) {
			const shown = printable(decodeSystemText(buffer));
			assert.doesNotMatch(shown, unsafe, buffer.toString('hex'));
		}
	});

	test('printableLines keeps line breaks and tabs; a command line is one line', () => {
		assert.equal(printableLines('a\n\tb\x1b'), 'a\n\tb\\x1b');
		assert.equal(printableCommandLine(['./w\udcff', 'a\nb', '']), './w\\xff a\\nb ');
	});
});

describe('the protobuf runtime carries the system\'s bytes', () => {
	test('a helper message with a name that is not UTF-8 decodes, and encodes back to the same bytes', () => {
		const comm = decodeSystemText(bytes(0x73, 0x6c, 0xff, 0x1b));
		const encoded = pb.ProcessInfo.encode(pb.ProcessInfo.create({ pid: 7, comm, cmdline: [comm, 'x'] })).finish();
		assert.ok(Buffer.from(encoded).includes(bytes(0x73, 0x6c, 0xff, 0x1b)), 'the bytes themselves are on the wire');
		const decoded = pb.ProcessInfo.decode(encoded);
		assert.equal(decoded.comm, comm);
		assert.deepEqual(decoded.cmdline, [comm, 'x']);
		// a Buffer (the BufferReader protobufjs makes for node buffers) as well as a Uint8Array
		assert.equal(pb.ProcessInfo.decode(Buffer.from(encoded)).comm, comm);
	});

	test('a string field with truncated length is still an error, not garbage', () => {
		// field 6 (comm), wire type 2, length 5, 2 bytes
		assert.throws(() => pb.ProcessInfo.decode(bytes(0x32, 0x05, 0x41, 0x42)), RangeError);
	});

	test('a CRIU image\'s path that is not UTF-8 reads exactly', () => {
		const name = decodeSystemText(Buffer.concat([Buffer.from('/tmp/st'), bytes(0xfd, 0xfe), Buffer.from('/state')]));
		const payload = encodeMessage(criu.RegularFile, criu.RegularFile.create({ id: 1, flags: 0, pos: 0n, name }));
		assert.ok(Buffer.from(payload).includes(bytes(0xfd, 0xfe)));
		assert.equal(criu.RegularFile.decode(new ImageReader(payload)).name, name);
	});

	test('ckpt ps shows such a process escaped, on one line', () => {
		const comm = 'w\udcffl\x1bk';
		const out = formatPs([pb.ProcessInfo.create({ pid: 5, ppid: 1, state: 'S', comm, cmdline: [`./${comm}`, 'a\nb'] })]);
		assert.match(out, /\.\/w\\xffl\\x1bk a\\nb$/);
		assert.equal(out.split('\n').length, 2);
	});
});
