/**
 * ELF symbols on a small ELF64 file written by the test: one PT_LOAD whose
 * file offset differs from its address (as in every shared object), a
 * .symtab with functions and a non-function, and a .dynsym that must lose
 * to it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ElfSymbols } from '../../src/core/elf';
import { BUILD_ID, elf, FUNC, OBJECT, reader } from './elfFixture';

describe('ElfSymbols', () => {
	const file = elf(
		[{ name: 'main', value: 0x401100n, size: 0x40n, type: FUNC }, { name: 'helper', value: 0x401140n, size: 0x10n, type: FUNC }, { name: 'table', value: 0x401200n, size: 0x100n, type: OBJECT }],
		[{ name: 'exported_only', value: 0x401100n, size: 0x100n, type: FUNC }],
	);

	test('names the function at a file offset, through the load segment', async () => {
		const symbols = await ElfSymbols.read(reader(file));
		assert.deepEqual(symbols?.lookup(0x1100n), { name: 'main', offset: 0n });
		assert.deepEqual(symbols?.lookup(0x113fn), { name: 'main', offset: 0x3fn });
		assert.deepEqual(symbols?.lookup(0x1148n), { name: 'helper', offset: 8n });
	});

	test('the build-id comes from the NT_GNU_BUILD_ID note', async () => {
		assert.equal((await ElfSymbols.read(reader(file)))?.buildId, BUILD_ID);
	});

	test('data symbols, gaps and offsets outside the segments have no name', async () => {
		const symbols = await ElfSymbols.read(reader(file));
		assert.equal(symbols?.lookup(0x1210n), undefined);
		assert.equal(symbols?.lookup(0x1150n), undefined);
		assert.equal(symbols?.lookup(0x10n), undefined);
		assert.equal(symbols?.lookup(0x5000n), undefined);
	});

	test('without .symtab, .dynsym is used', async () => {
		const stripped = elf([], [{ name: 'exported_only', value: 0x401100n, size: 0x100n, type: FUNC }]);
		// An empty .symtab still wins (it is there): strip it by retyping it as SHT_NULL.
		const shoff = Number(stripped.readBigUInt64LE(40));
		stripped.writeUInt32LE(0, shoff + 64 + 4);
		assert.deepEqual((await ElfSymbols.read(reader(stripped)))?.lookup(0x1180n), { name: 'exported_only', offset: 0x80n });
	});

	test('variables and functions by the addresses a process has them at: the load bias from one mapped area, the span with .bss', async () => {
		const withBss = elf(
			[{ name: 'main', value: 0x401100n, size: 0x40n, type: FUNC }, { name: 'table', value: 0x401200n, size: 0x100n, type: OBJECT }, { name: 'zeroed', value: 0x403100n, size: 8n, type: OBJECT }],
			[], 0x3000n,
		);
		const symbols = await ElfSymbols.read(reader(withBss));
		assert.ok(symbols);
		// the segment (file offset 0x1000, address 0x401000) mapped at 0x7f0000001000 from offset 0x1000
		const bias = symbols.loadBias(0x7f0000001000n, 0x1000n);
		assert.equal(bias, 0x7f0000001000n - 0x401000n);
		assert.equal(symbols.loadBias(0x7f0000000000n, 0x9000n), undefined, 'no segment at that offset');
		assert.deepEqual(symbols.span(), { start: 0x401000n, end: 0x404000n }, 'memsz past filesz: the .bss counts');
		assert.deepEqual(symbols.namesIn(0x401000n, 0x402000n), ['table', 'main'], 'variables first, then functions');
		assert.deepEqual(symbols.namesIn(0x403000n, 0x404000n), ['zeroed']);
		assert.deepEqual(symbols.namesIn(0x401250n, 0x401251n), ['table'], 'a byte inside a variable');
		assert.deepEqual(symbols.namesIn(0x401300n, 0x401400n), [], 'between symbols');
		assert.deepEqual(symbols.namesIn(0x401000n, 0x404000n, 1), ['table'], 'at most max');
	});

	test('offsets and sizes past 2^53 in the headers (no file is that long) are damage, not rounded into reads elsewhere', async () => {
		// Found by the elf fuzz target: the .symtab's offset 2^54 and size ~1.08e17 were read as rounded numbers.
		const damaged = Buffer.from(file);
		const symtabHeader = Number(damaged.readBigUInt64LE(40)) + 64;
		damaged.writeBigUInt64LE(1n << 54n, symtabHeader + 24);
		damaged.writeBigUInt64LE(0x180_0000_0000_0000n, symtabHeader + 32);
		const asked: number[] = [];
		const symbols = await ElfSymbols.read({ readRange: async (offset, length) => { asked.push(offset, length); return damaged.subarray(offset, offset + length); } });
		assert.ok(asked.every(Number.isSafeInteger), `reads at exact offsets only: ${asked.join(', ')}`);
		assert.ok(symbols, 'the segments are still read');
		assert.deepEqual(symbols.namesIn(0x401000n, 0x403000n), [], 'no symbols from a symbol table that cannot be where the header says');
		const noteAt = 64 + 56 + 8;
		damaged.writeBigUInt64LE(1n << 60n, noteAt);
		assert.equal((await ElfSymbols.read(reader(damaged)))?.buildId, undefined, 'nor a build-id from a note past 2^53');
		damaged.writeBigUInt64LE(1n << 62n, 32);
		assert.equal(await ElfSymbols.read(reader(damaged)), undefined, 'program headers past 2^53: not an ELF file we can read');
	});

	test('a symbol table a header says is 3 GiB long is not asked for (nothing that size is allocated): no symbols, the segments kept', async () => {
		const damaged = Buffer.from(file);
		const symtabHeader = Number(damaged.readBigUInt64LE(40)) + 64;
		damaged.writeBigUInt64LE(3n << 30n, symtabHeader + 32);
		const asked: number[] = [];
		const symbols = await ElfSymbols.read({ readRange: async (offset, length) => { asked.push(length); return damaged.subarray(offset, offset + length); } });
		assert.ok(asked.every((length) => length < 1 << 20), `small reads only: ${asked.join(', ')}`);
		assert.ok(symbols);
		assert.deepEqual(symbols.namesIn(0x401000n, 0x403000n), []);
	});

	test('program or section header entries shorter than ELF64\'s are not read past: not a file this reader can read', async () => {
		// Found by the elf fuzz target: e_phentsize 0 had parseSegments read the fields of "entries" past the 0 bytes it had read.
		for (const [field, size] of [[54, 0], [54, 55], [58, 63]]) {
			const short = Buffer.from(file);
			short.writeUInt16LE(size, field);
			assert.equal(await ElfSymbols.read(reader(short)), undefined, `entry size ${size} at byte ${field}`);
		}
	});

	test('a note whose name size is over 2^31 ends the walk through the notes, not sends it backwards', async () => {
		// Found by the elf fuzz target: namesz 0xf8000000, padded with (n + 3) & ~3, went negative and was read at byte -134217716.
		const damaged = Buffer.from(file);
		const notes = Number(damaged.readBigUInt64LE(64 + 56 + 8));
		damaged.writeUInt32LE(0xf8000000, notes);
		const symbols = await ElfSymbols.read(reader(damaged));
		assert.ok(symbols);
		assert.equal(symbols.buildId, undefined, 'no build-id after a note that runs past the end');
		assert.deepEqual(symbols.namesIn(0x401100n, 0x401101n), ['main'], 'the symbols are read all the same');
	});

	test('a file that is not ELF64 little-endian gives no symbols', async () => {
		assert.equal(await ElfSymbols.read(reader(Buffer.from('#!/bin/sh\necho hello, this is a script and not an ELF file at all......'))), undefined);
		const elf32 = Buffer.from(file);
		elf32[4] = 1;
		assert.equal(await ElfSymbols.read(reader(elf32)), undefined);
	});
});
