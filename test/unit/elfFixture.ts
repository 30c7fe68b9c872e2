/**
 * A small ELF64 file written by the tests: one PT_LOAD whose file offset
 * differs from its address (as in every shared object), a .symtab and a
 * .dynsym, a build-id note.
 */
import type { RangeReader } from '../../src/core/elf';

export interface Sym { name: string; value: bigint; size: bigint; type: number }

function symbolTable(symbols: Sym[]): { table: Buffer; strings: Buffer } {
	const names: Buffer[] = [Buffer.from([0])];
	const table = Buffer.alloc(24 * (symbols.length + 1));
	let nameAt = 1;
	symbols.forEach((s, i) => {
		const at = 24 * (i + 1);
		table.writeUInt32LE(nameAt, at);
		table[at + 4] = s.type;
		table.writeBigUInt64LE(s.value, at + 8);
		table.writeBigUInt64LE(s.size, at + 16);
		names.push(Buffer.from(`${s.name}\0`));
		nameAt += s.name.length + 1;
	});
	return { table, strings: Buffer.concat(names) };
}

export const BUILD_ID = '8f2c6e1d0a4b3c5d6e7f8091a2b3c4d5e6f70812';

/** An ELF note: namesz, descsz, type, name and desc padded to 4 bytes. */
function note(name: string, type: number, desc: Buffer): Buffer {
	const n = Buffer.from(`${name}\0`);
	const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
	const head = Buffer.alloc(12);
	head.writeUInt32LE(n.length, 0);
	head.writeUInt32LE(desc.length, 4);
	head.writeUInt32LE(type, 8);
	return Buffer.concat([head, pad(n), pad(desc)]);
}

/**
 * Header, two program headers (PT_LOAD, PT_NOTE), tables, notes, then 5
 * section headers (null, symtab, strtab, dynsym, dynstr). The PT_LOAD: file
 * offset 0x1000 is address 0x401000, 0x2000 bytes (memsz: with the .bss).
 */
export function elf(symtab: Sym[], dynsym: Sym[], memsz = 0n): Buffer {
	const s = symbolTable(symtab);
	const d = symbolTable(dynsym);
	// An ABI tag note first: the build-id is found among others.
	const notes = Buffer.concat([note('GNU', 1, Buffer.alloc(16)), note('GNU', 3, Buffer.from(BUILD_ID, 'hex'))]);
	const parts = [s.table, s.strings, d.table, d.strings, notes];
	let at = 64 + 2 * 56;
	const offsets = parts.map((p) => { const o = at; at += p.length; return o; });
	const shoff = at;
	const out = Buffer.alloc(shoff + 5 * 64);
	out.writeUInt32LE(0x464c457f, 0);
	out[4] = 2; out[5] = 1;
	out.writeBigUInt64LE(64n, 32); // e_phoff
	out.writeBigUInt64LE(BigInt(shoff), 40);
	out.writeUInt16LE(56, 54); out.writeUInt16LE(2, 56); out.writeUInt16LE(64, 58); out.writeUInt16LE(5, 60);
	// PT_LOAD: file offset 0x1000 is address 0x401000, 0x2000 bytes
	out.writeUInt32LE(1, 64); out.writeBigUInt64LE(0x1000n, 72); out.writeBigUInt64LE(0x401000n, 80); out.writeBigUInt64LE(0x2000n, 96); out.writeBigUInt64LE(memsz, 104);
	// PT_NOTE: the notes
	out.writeUInt32LE(4, 120); out.writeBigUInt64LE(BigInt(offsets[4]), 128); out.writeBigUInt64LE(BigInt(parts[4].length), 152);
	parts.forEach((p, i) => p.copy(out, offsets[i]));
	const section = (i: number, type: number, offset: number, size: number, link: number): void => {
		const h = shoff + i * 64;
		out.writeUInt32LE(type, h + 4); out.writeBigUInt64LE(BigInt(offset), h + 24); out.writeBigUInt64LE(BigInt(size), h + 32); out.writeUInt32LE(link, h + 40);
	};
	section(1, 2, offsets[0], parts[0].length, 2);
	section(2, 3, offsets[1], parts[1].length, 0);
	section(3, 11, offsets[2], parts[2].length, 4);
	section(4, 3, offsets[3], parts[3].length, 0);
	return out;
}

export const reader = (data: Buffer): RangeReader => ({ readRange: async (offset, length) => data.subarray(offset, offset + length) });
export const FUNC = 2;
export const OBJECT = 1;
