/**
 * Names for addresses, from an ELF file's symbol tables (.symtab when the
 * file has one, .dynsym otherwise): functions for code (naming a frame),
 * data objects (global and static variables) for memory (naming what
 * changed between two checkpoints). Only what that needs: the loadable
 * segments, to turn a file offset or a mapped address into the address
 * the symbols use, and the symbols. Read by range, so a 2 MiB libc costs
 * its headers and its symbol tables.
 */
export interface RangeReader {
	readRange(offset: number, length: number): Promise<Buffer>;
}

export interface SymbolHit {
	name: string;
	/** Bytes from the start of the function. */
	offset: bigint;
}

interface LoadSegment {
	offset: bigint;
	vaddr: bigint;
	filesz: bigint;
	/** With what the program gets zeroed past the file's bytes (.bss): at least filesz. */
	memsz: bigint;
}

interface NamedRange {
	start: bigint;
	end: bigint;
	name: string;
}

const ELF_MAGIC = 0x464c457f; // "\x7fELF", little-endian u32
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const SYM_SIZE = 24;
/** sizeof(Elf64_Phdr), sizeof(Elf64_Shdr): the entry sizes a header may give are at least these. */
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const PAGE_MASK = 0xfffn;
/**
 * Symbol and string tables longer than this are not read (a large program's
 * .symtab is tens of MiB): a damaged or hostile header would otherwise have
 * the whole length allocated before the read finds the file shorter.
 */
const MAX_TABLE_BYTES = 256 * 1024 * 1024;

export class ElfSymbols {
	private constructor(
		private readonly segments: LoadSegment[],
		private readonly functions: NamedRange[],
		private readonly objects: NamedRange[],
		/** The file's NT_GNU_BUILD_ID (hex), when it has one: what tells this build from another. */
		readonly buildId?: string,
	) {}

	/** Reads an ELF64 little-endian file's symbols; undefined when it is not one (or has no symbols). */
	static async read(file: RangeReader): Promise<ElfSymbols | undefined> {
		const header = await file.readRange(0, 64);
		if (header.readUInt32LE(0) !== ELF_MAGIC || header[4] !== 2 || header[5] !== 1) return undefined; // ELFCLASS64, ELFDATA2LSB
		const phoff = fileNumber(header.readBigUInt64LE(32));
		const shoff = fileNumber(header.readBigUInt64LE(40));
		const phentsize = header.readUInt16LE(54);
		const phnum = header.readUInt16LE(56);
		const shentsize = header.readUInt16LE(58);
		const shnum = header.readUInt16LE(60);
		if (phoff === undefined) return undefined;
		// Entries shorter than ELF64's program and section headers would have their fields read past the table.
		if ((phnum > 0 && phentsize < PHDR_SIZE) || (shoff && shnum > 0 && shentsize < SHDR_SIZE)) return undefined;
		const programHeaders = await file.readRange(phoff, phentsize * phnum);
		const segments = parseSegments(programHeaders, phentsize, phnum);
		const buildId = await readBuildId(file, programHeaders, phentsize, phnum);
		if (!shoff || !shnum) return new ElfSymbols(segments, [], [], buildId);
		const sections = await file.readRange(shoff, shentsize * shnum);
		const table = pickSymbolTable(sections, shentsize, shnum);
		if (!table || table.size > MAX_TABLE_BYTES || table.strSize > MAX_TABLE_BYTES) return new ElfSymbols(segments, [], [], buildId);
		const [symbols, strings] = await Promise.all([file.readRange(table.offset, table.size), file.readRange(table.strOffset, table.strSize)]);
		return new ElfSymbols(segments, parseSymbols(symbols, strings, STT_FUNC), parseSymbols(symbols, strings, STT_OBJECT), buildId);
	}

	/**
	 * What to add to the file's addresses to get the process's, given one
	 * area it maps: its start and its file offset (pgoff). Undefined when no
	 * loadable segment is at that offset.
	 */
	loadBias(areaStart: bigint, pgoff: bigint): bigint | undefined {
		const segment = this.segments.find((s) => pgoff >= (s.offset & ~PAGE_MASK) && pgoff < s.offset + (s.filesz || 1n));
		return segment ? areaStart - segment.vaddr - pgoff + segment.offset : undefined;
	}

	/** The file's addresses as loaded (its .bss too): [lowest, highest), empty without segments. */
	span(): { start: bigint; end: bigint } {
		if (!this.segments.length) return { start: 0n, end: 0n };
		return {
			start: this.segments.reduce((lo, s) => (s.vaddr < lo ? s.vaddr : lo), this.segments[0].vaddr),
			end: this.segments.reduce((hi, s) => (s.vaddr + s.memsz > hi ? s.vaddr + s.memsz : hi), 0n),
		};
	}

	/** The variables (then functions) any byte of [start, end) belongs to, by address (the file's addresses), at most max. */
	namesIn(start: bigint, end: bigint, max = 16): string[] {
		const names = overlapping(this.objects, start, end, max);
		return names.length < max ? [...names, ...overlapping(this.functions, start, end, max - names.length)] : names;
	}

	/** The function holding the byte at `fileOffset` of the file (as a mapping's pgoff + offset gives it). */
	lookup(fileOffset: bigint): SymbolHit | undefined {
		const segment = this.segments.find((s) => fileOffset >= s.offset && fileOffset < s.offset + s.filesz);
		if (!segment) return undefined;
		const vaddr = fileOffset - segment.offset + segment.vaddr;
		let lo = 0;
		let hi = this.functions.length - 1;
		while (lo <= hi) {
			const mid = (lo + hi) >> 1;
			const f = this.functions[mid];
			if (vaddr < f.start) hi = mid - 1;
			else if (vaddr >= f.end) lo = mid + 1;
			else return { name: f.name, offset: vaddr - f.start };
		}
		return undefined;
	}
}

/** Symbols a few before the first that starts in the range may still reach into it (one nested in another). */
const LOOK_BEHIND = 8;

/** Names of the ranges of list (sorted by start) that overlap [start, end), at most max. */
function overlapping(list: NamedRange[], start: bigint, end: bigint, max: number): string[] {
	let lo = 0;
	let hi = list.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (list[mid].start < start) lo = mid + 1;
		else hi = mid;
	}
	const out: string[] = [];
	for (let i = Math.max(0, lo - LOOK_BEHIND); i < list.length && list[i].start < end && out.length < max; i++) {
		if (list[i].end > start) out.push(list[i].name);
	}
	return out;
}

/**
 * A file offset or size from the headers, as a number; undefined past 2^53,
 * where a number is no longer exact: no file is that long, the header is
 * damaged, and reading at a rounded offset would read the wrong bytes.
 */
function fileNumber(value: bigint): number | undefined {
	return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

const PT_NOTE = 4;
const NT_GNU_BUILD_ID = 3;
/** Notes are small; a bigger "note" segment is not worth reading for an id. */
const MAX_NOTE_BYTES = 64 * 1024;

/** The NT_GNU_BUILD_ID note of the PT_NOTE segments (name "GNU"), as hex. */
async function readBuildId(file: RangeReader, table: Buffer, entsize: number, count: number): Promise<string | undefined> {
	for (let i = 0; i < count; i++) {
		const at = i * entsize;
		if (table.readUInt32LE(at) !== PT_NOTE) continue;
		const size = Number(table.readBigUInt64LE(at + 32));
		if (size > MAX_NOTE_BYTES) continue;
		const offset = fileNumber(table.readBigUInt64LE(at + 8));
		if (offset === undefined) continue;
		const id = buildIdIn(await file.readRange(offset, size));
		if (id) return id;
	}
	return undefined;
}

/** Walks notes: namesz, descsz, type, then name and desc, each padded to 4 bytes. */
function buildIdIn(notes: Buffer): string | undefined {
	// Arithmetic, not (n + 3) & ~3: the sizes are u32, and a bitwise pad of one over 2^31 goes negative and walks backwards.
	const pad = (n: number): number => Math.ceil(n / 4) * 4;
	for (let at = 0; at + 12 <= notes.length;) {
		const namesz = notes.readUInt32LE(at);
		const descsz = notes.readUInt32LE(at + 4);
		const type = notes.readUInt32LE(at + 8);
		const name = notes.toString('latin1', at + 12, at + 12 + namesz);
		const desc = at + 12 + pad(namesz);
		if (type === NT_GNU_BUILD_ID && name === 'GNU\0' && desc + descsz <= notes.length) return notes.toString('hex', desc, desc + descsz);
		at = desc + pad(descsz);
	}
	return undefined;
}

function parseSegments(table: Buffer, entsize: number, count: number): LoadSegment[] {
	const out: LoadSegment[] = [];
	for (let i = 0; i < count; i++) {
		const at = i * entsize;
		if (table.readUInt32LE(at) !== PT_LOAD) continue;
		const filesz = table.readBigUInt64LE(at + 32);
		const memsz = table.readBigUInt64LE(at + 40);
		out.push({ offset: table.readBigUInt64LE(at + 8), vaddr: table.readBigUInt64LE(at + 16), filesz, memsz: memsz > filesz ? memsz : filesz });
	}
	return out;
}

/** .symtab (complete, when not stripped) over .dynsym (exported functions only). */
function pickSymbolTable(sections: Buffer, entsize: number, count: number): { offset: number; size: number; strOffset: number; strSize: number } | undefined {
	const section = (i: number): { type: number; offset?: number; size?: number; link: number } => {
		const at = i * entsize;
		return {
			type: sections.readUInt32LE(at + 4), offset: fileNumber(sections.readBigUInt64LE(at + 24)), size: fileNumber(sections.readBigUInt64LE(at + 32)),
			link: sections.readUInt32LE(at + 40),
		};
	};
	let chosen: ReturnType<typeof section> | undefined;
	for (let i = 0; i < count; i++) {
		const s = section(i);
		if (s.type === SHT_SYMTAB) chosen = s;
		else if (s.type === SHT_DYNSYM && !chosen) chosen = s;
	}
	if (!chosen || chosen.link >= count) return undefined;
	const strings = section(chosen.link);
	if (chosen.offset === undefined || chosen.size === undefined || strings.offset === undefined || strings.size === undefined) return undefined;
	return { offset: chosen.offset, size: chosen.size, strOffset: strings.offset, strSize: strings.size };
}

/** The symbols of one type (STT_FUNC, STT_OBJECT) with an address and a size, by address. */
function parseSymbols(symbols: Buffer, strings: Buffer, type: number): NamedRange[] {
	const out: NamedRange[] = [];
	for (let at = 0; at + SYM_SIZE <= symbols.length; at += SYM_SIZE) {
		if ((symbols[at + 4] & 0xf) !== type) continue;
		const start = symbols.readBigUInt64LE(at + 8);
		const size = symbols.readBigUInt64LE(at + 16);
		if (start === 0n || size === 0n) continue;
		const nameAt = symbols.readUInt32LE(at);
		const nameEnd = strings.indexOf(0, nameAt);
		out.push({ start, end: start + size, name: strings.toString('utf8', nameAt, nameEnd < 0 ? strings.length : nameEnd) });
	}
	return out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}
