/**
 * Fuzz target: the ELF symbol reader (src/core/elf.ts) over arbitrary
 * bytes: ElfSymbols.read through a range reader on the input, then what
 * the memory comparison asks of it (loadBias, span, namesIn, lookup) with
 * addresses derived from the file's own segments and symbols.
 *
 * A bug: read throwing anything but the range reader's own error (the file
 * is shorter than its headers say; its callers take any failure as "no
 * symbols", but a RangeError from reading a table past what was read is the
 * parser trusting an entry size it did not check); a hang; namesIn giving
 * more names than asked for; a span that ends before it starts.
 */
import { ElfSymbols } from '../../src/core/elf';
import { allowOnly, FuzzInput, invariant } from './fuzzInput';

/** The range reader's error: the bytes asked for are not in the file. */
class PastEndOfFile extends Error {
	constructor(offset: number, length: number, size: number) {
		super(`read of ${length} bytes at ${offset} past the end of the ${size}-byte file`);
		this.name = 'PastEndOfFile';
	}
}

function rangeReader(file: Buffer): { readRange(offset: number, length: number): Promise<Buffer> } {
	return {
		async readRange(offset: number, length: number): Promise<Buffer> {
			invariant(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0,
				`a range read at a file offset (offset ${offset}, length ${length})`);
			if (offset + length > file.length) throw new PastEndOfFile(offset, length, file.length);
			return file.subarray(offset, offset + length);
		},
	};
}

/** namesIn's default limit, as the memory comparison passes it. */
const MAX_NAMES = 16;

export async function fuzz(data: Buffer): Promise<void> {
	// The last 16 bytes choose the addresses asked about; the file is the rest.
	const probe = new FuzzInput(data.subarray(Math.max(0, data.length - 16)));
	const file = data.subarray(0, Math.max(0, data.length - 16));
	let symbols: ElfSymbols | undefined;
	try {
		symbols = await ElfSymbols.read(rangeReader(file));
	} catch (err) {
		allowOnly(err, [PastEndOfFile], 'ElfSymbols.read');
		return;
	}
	if (!symbols) return;
	const span = symbols.span();
	invariant(span.start <= span.end, `a span that ends (0x${span.end.toString(16)}) before it starts (0x${span.start.toString(16)})`);
	const at = span.start + probe.u64() % (span.end - span.start + 1n);
	const length = BigInt(probe.u32());
	invariant(symbols.namesIn(at, at + length, MAX_NAMES).length <= MAX_NAMES, `namesIn gives at most ${MAX_NAMES} names`);
	invariant(symbols.namesIn(span.start, span.end, 1).length <= 1, 'namesIn gives at most 1 name when asked for 1');
	symbols.loadBias(0x7f0000000000n, at & ~0xfffn);
	symbols.lookup(at);
}
