/**
 * Fuzz target: the checkpoint model (src/core/images/checkpoint.ts) over a
 * directory of arbitrary files, read as a user reads it: open it, then each
 * process's command line, the memory of its areas and what its files are.
 *
 * The input is a directory (see decodeDirectory): a flags byte, an address
 * and a length to read from each process besides what its areas suggest,
 * then files, each the index of its name in CHECKPOINT_FILE_NAMES, a u16
 * length and the bytes. The names are those of CRIU 4.1.1's dumps of the test workloads
 * (whose images are the corpus' seeds), plus a few kinds they lack.
 *
 * A bug: an exception other than ImageFormatError (damaged images) or
 * CheckpointError (a file missing or too short, as an ImageSource reports
 * it); a hang (libFuzzer's timeout); a read from the source outside what a
 * file could hold (negative, fractional or unsafe offsets or lengths); or a
 * memory read whose answer does not have the bytes asked for.
 */
import { CheckpointError } from '../../src/core/errors';
import { openCheckpoint, type ProcessImage } from '../../src/core/images/checkpoint';
import { ImageFormatError } from '../../src/core/images/format';
import type { MemoryRead } from '../../src/core/images/memory';
import type { ImageSource } from '../../src/core/images/source';
import { allowOnly, FuzzInput, invariant, UndocumentedError } from './fuzzInput';

/** Never reorder: a corpus file names its files by their index here. */
export const CHECKPOINT_FILE_NAMES: readonly string[] = [
	'inventory.img', 'pstree.img', 'files.img', 'memfd.img', 'tty-info.img', 'stats-dump', 'pipes-data.img', 'sk-queues.img',
	'core-53.img', 'fs-53.img', 'ids-53.img', 'mm-53.img', 'pagemap-53.img', 'fdinfo-2.img',
	'core-206.img', 'core-208.img', 'core-209.img', 'core-210.img', 'ids-206.img', 'ids-208.img', 'mm-206.img', 'mm-208.img',
	'pagemap-206.img', 'pagemap-208.img', 'fdinfo-3.img', 'fs-206.img', 'fs-208.img',
	'pages-1.img', 'pages-2.img', 'pages-3.img', 'pages-4.img', 'pages-5.img',
	'pagemap-shmem-0.img', 'pagemap-shmem-265041.img', 'pagemap-shmem-265042.img',
	'ipcns-shm-10.img', 'ipcns-var-10.img', 'utsns-11.img', 'netns-9.img', 'timens-0.img',
	'core-1.img', 'mm-1.img', 'pagemap-1.img', 'ids-1.img', 'fdinfo-1.img', 'ipcns-shm-0.img',
];

/** Flags byte, bit 0: the directory's "parent" link leads back to the directory itself. */
const PARENT_IS_SELF = 1;

export interface FuzzDirectory {
	parentIsSelf: boolean;
	/** One more read of each process's memory: anywhere, up to 64 KiB. */
	probe: { address: bigint; length: number };
	/** By name; a name given twice keeps its last bytes. */
	files: Map<string, Buffer>;
}

export function decodeDirectory(data: Buffer): FuzzDirectory {
	const input = new FuzzInput(data);
	const parentIsSelf = (input.u8() & PARENT_IS_SELF) !== 0;
	const probe = { address: input.u64(), length: input.u16() };
	const files = new Map<string, Buffer>();
	while (input.remaining > 0) {
		const name = input.pick(CHECKPOINT_FILE_NAMES);
		files.set(name, input.take(input.u16()));
	}
	return { parentIsSelf, probe, files };
}

/** The inverse of decodeDirectory, for making seeds from a real checkpoint (makeSeeds.ts). */
export function encodeDirectory(dir: FuzzDirectory): Buffer {
	const head = Buffer.alloc(11);
	head.writeUInt8(dir.parentIsSelf ? PARENT_IS_SELF : 0, 0);
	head.writeBigUInt64LE(dir.probe.address, 1);
	head.writeUInt16LE(dir.probe.length, 9);
	const parts: Buffer[] = [head];
	for (const [name, bytes] of dir.files) {
		const index = CHECKPOINT_FILE_NAMES.indexOf(name);
		if (index < 0) throw new RangeError(`${name} is not one of the fuzz target's file names`);
		if (bytes.length > 0xffff) throw new RangeError(`${name} is longer than a fuzz input's file can be (64 KiB)`);
		const header = Buffer.alloc(3);
		header.writeUInt8(index, 0);
		header.writeUInt16LE(bytes.length, 1);
		parts.push(header, bytes);
	}
	return Buffer.concat(parts);
}

/** An image directory held in memory; it fails as LocalImageSource does (CheckpointError). */
class MemoryImageSource implements ImageSource {
	readonly description = 'fuzz-checkpoint';

	constructor(private readonly dir: FuzzDirectory) {}

	async list(): Promise<string[]> {
		return [...this.dir.files.keys()].sort();
	}

	async readFile(name: string): Promise<Buffer> {
		const bytes = this.dir.files.get(name);
		if (!bytes) throw new CheckpointError('not-found', `${this.description}: there is no ${name}`);
		return bytes;
	}

	async readRange(name: string, offset: number, length: number): Promise<Buffer> {
		invariant(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0,
			`a range read of ${name} asks for bytes a file can hold (offset ${offset}, length ${length})`);
		const bytes = await this.readFile(name);
		if (offset + length > bytes.length) {
			throw new CheckpointError('internal', `${this.description}: ${name} ends before byte ${offset + length}; the image is truncated`);
		}
		return bytes.subarray(offset, offset + length);
	}

	async parent(): Promise<ImageSource | undefined> {
		return this.dir.parentIsSelf ? new MemoryImageSource(this.dir) : undefined;
	}

	async close(): Promise<void> {}
}

/** A memory read answers every byte asked for, its segments one after the other. */
function checkRead(read: MemoryRead, address: bigint, length: number): void {
	invariant(read.bytes.length === length, `a read of ${length} bytes at 0x${address.toString(16)} gives ${read.bytes.length}`);
	let at = address;
	for (const s of read.segments) {
		invariant(s.address === at && s.length > 0, `segments of a read follow one another (0x${s.address.toString(16)}, +${s.length})`);
		invariant(s.data === undefined ? s.missing !== undefined : s.data.length === s.length, 'a segment has its bytes or says why not');
		at += BigInt(s.length);
	}
	invariant(at === address + BigInt(length), 'the segments of a read cover it');
}

async function readChecked(process: ProcessImage, address: bigint, length: number): Promise<void> {
	checkRead(await process.read(address, length), address, length);
}

/** At most this much of the input's processes and areas is read: enough to reach every path, bounded time per input. */
const MAX_PROCESSES = 4;
const MAX_AREAS = 8;
const MAX_READ = 3 * 4096;

async function readAsUser(process: ProcessImage, probe: FuzzDirectory['probe']): Promise<void> {
	await process.cmdline();
	for (const vma of process.vmas.slice(0, MAX_AREAS)) {
		const size = vma.end > vma.start ? vma.end - vma.start : 0n;
		const length = Number(size < BigInt(MAX_READ) ? size : BigInt(MAX_READ));
		await readChecked(process, vma.start, length);
		// Across the end of the area: into the next one, or into unmapped memory.
		if (vma.end >= 4096n) await readChecked(process, vma.end - 4096n, 2 * 4096);
	}
	await readChecked(process, probe.address, probe.length);
}

async function exercise(dir: FuzzDirectory): Promise<void> {
	const checkpoint = await openCheckpoint(new MemoryImageSource(dir));
	for (const process of checkpoint.processes.slice(0, MAX_PROCESSES)) await readAsUser(process, dir.probe);
}

export async function fuzz(data: Buffer): Promise<void> {
	const dir = decodeDirectory(data);
	try {
		await exercise(dir);
	} catch (err) {
		if (!dir.files.has('inventory.img') && err instanceof Error && !(err instanceof UndocumentedError)) {
			// Without an inventory the directory is no checkpoint: openCheckpoint says so, in a plain Error.
			invariant(/holds no inventory\.img/.test(err.message), `a directory without inventory.img is refused as such, not with: ${err.message}`);
			return;
		}
		allowOnly(err, [ImageFormatError, CheckpointError], 'reading a checkpoint');
	}
}
