/**
 * A process's memory as a checkpoint holds it: the pagemap says which pages
 * were dumped and where their bytes are (this directory's pages-N.img, or a
 * parent image directory); everything else is reported as not dumped, with
 * the reason. pages-N.img is only ever read by byte range.
 */
import { PE_LAZY, PE_PARENT, PE_PRESENT, type PagemapRun as DecodedRun } from './format';
import type { ImageSource } from './source';

export const PAGE_SIZE = 4096;
const PAGE = BigInt(PAGE_SIZE);

/** What the memory reader needs of a decoded pagemap run. */
export type PagemapRun = Pick<DecodedRun, 'vaddr' | 'nrPages' | 'flags'>;

export interface MappedRange {
	start: bigint;
	end: bigint;
	/**
	 * Shared memory (SysV, memfd, shared anonymous) is dumped once per object,
	 * in pagemap-shmem-<id>.img, not in the process's pagemap: the area shows
	 * `object` from byte `pgoff` on.
	 */
	shared?: { object: ProcessMemory; pgoff: bigint };
}

/** Addresses of a shared memory object are offsets into it. */
export const WHOLE_OBJECT: MappedRange = { start: 0n, end: 1n << 63n };

/** Why bytes of a read are not in the result. */
export type MissingReason =
	| 'unmapped'      // no VMA covers the address
	| 'not-dumped'    // mapped, but CRIU wrote no page (never touched, or file pages that are unchanged)
	| 'lazy'          // left for lazy restore (PE_LAZY without PE_PRESENT): not in the images
	| 'parent-missing'; // in a parent image directory that is not there

export interface MemorySegment {
	address: bigint;
	length: number;
	/** Present: the bytes. Absent: see `missing`. */
	data?: Buffer;
	missing?: MissingReason;
}

export interface MemoryRead {
	address: bigint;
	/** Every byte asked for; zeros where a segment is missing. */
	bytes: Buffer;
	segments: MemorySegment[];
}

/** Where one page's bytes are. */
type PageSource =
	| { kind: 'file'; offset: number }
	| { kind: 'parent' }
	| { kind: 'lazy' };

interface IndexedRun {
	start: bigint;
	end: bigint;
	source: PageSource;
}

/** Sorted runs of pages with where their data lives. */
function indexRuns(runs: PagemapRun[]): IndexedRun[] {
	let offset = 0;
	const indexed: IndexedRun[] = [];
	for (const run of runs) {
		const start = run.vaddr;
		const end = start + BigInt(run.nrPages) * PAGE;
		let source: PageSource;
		if (run.flags & PE_PARENT) source = { kind: 'parent' };
		else if (run.flags & PE_PRESENT) {
			source = { kind: 'file', offset };
			offset += run.nrPages * PAGE_SIZE;
		} else if (run.flags & PE_LAZY) source = { kind: 'lazy' };
		else continue;
		indexed.push({ start, end, source });
	}
	return indexed.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

function findRun<T extends { start: bigint; end: bigint }>(sorted: T[], address: bigint): T | undefined {
	let lo = 0;
	let hi = sorted.length - 1;
	while (lo <= hi) {
		const mid = (lo + hi) >> 1;
		const r = sorted[mid];
		if (address < r.start) hi = mid - 1;
		else if (address >= r.end) lo = mid + 1;
		else return r;
	}
	return undefined;
}

/** Index of the first of the sorted, disjoint runs that ends after `address` (length if none). */
function firstEndingAfter(sorted: { end: bigint }[], address: bigint): number {
	let lo = 0;
	let hi = sorted.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (sorted[mid].end <= address) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

/** The first boundary after `address` among sorted, disjoint ranges (or `limit`). */
function nextBoundary(sorted: { start: bigint; end: bigint }[], address: bigint, limit: bigint): bigint {
	const next = sorted[firstEndingAfter(sorted, address)];
	if (!next) return limit;
	const boundary = next.start > address ? next.start : next.end;
	return boundary < limit ? boundary : limit;
}

export interface ParentMemory {
	read(address: bigint, length: number): Promise<MemoryRead>;
}

export class ProcessMemory {
	private readonly runs: IndexedRun[];
	private readonly vmas: MappedRange[];

	/**
	 * @param pagesFile the pages-N.img this pagemap points to
	 * @param parent the same process's memory in the parent image directory, if any
	 */
	constructor(
		private readonly source: ImageSource,
		private readonly pagesFile: string,
		runs: PagemapRun[],
		vmas: MappedRange[],
		private readonly parent?: () => Promise<ParentMemory | undefined>,
	) {
		this.runs = indexRuns(runs);
		this.vmas = [...vmas].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
	}

	/** How many pages the checkpoint holds (in this directory or a parent). */
	get dumpedPages(): number {
		return this.runs.reduce((n, r) => n + (r.source.kind === 'lazy' ? 0 : Number((r.end - r.start) / PAGE)), 0);
	}

	/** Dumped pages within [start, end), shared memory included. */
	pagesIn(start: bigint, end: bigint): number {
		const vma = findRun(this.vmas, start);
		if (vma?.shared && end <= vma.end) {
			const offset = start - vma.start + vma.shared.pgoff;
			return vma.shared.object.pagesIn(offset, offset + (end - start));
		}
		return this.ownPagesIn(start, end);
	}

	/** The first address in [start, end) whose page the checkpoint holds (shared memory included), if any. */
	firstDumped(start: bigint, end: bigint): bigint | undefined {
		const vma = findRun(this.vmas, start);
		if (vma?.shared && end <= vma.end) {
			const offset = start - vma.start + vma.shared.pgoff;
			const found = vma.shared.object.firstDumped(offset, offset + (end - start));
			return found === undefined ? undefined : found - offset + start;
		}
		for (let i = firstEndingAfter(this.runs, start); i < this.runs.length && this.runs[i].start < end; i++) {
			const r = this.runs[i];
			if (r.source.kind !== 'lazy') return r.start > start ? r.start : start;
		}
		return undefined;
	}

	/** Pages of this pagemap within [start, end). */
	private ownPagesIn(start: bigint, end: bigint): number {
		let pages = 0n;
		for (let i = firstEndingAfter(this.runs, start); i < this.runs.length && this.runs[i].start < end; i++) {
			const r = this.runs[i];
			if (r.source.kind === 'lazy') continue;
			const lo = r.start > start ? r.start : start;
			const hi = r.end < end ? r.end : end;
			pages += (hi - lo) / PAGE;
		}
		return Number(pages);
	}

	async read(address: bigint, length: number): Promise<MemoryRead> {
		if (length < 0 || !Number.isSafeInteger(length)) throw new RangeError(`cannot read ${length} bytes`);
		const end = address + BigInt(length);
		const segments: MemorySegment[] = [];
		let at = address;
		while (at < end) {
			const stretch = await this.readStretch(at, end);
			segments.push(...stretch);
			at += BigInt(stretch.reduce((n, s) => n + s.length, 0));
		}
		// The common case, one dumped stretch: its buffer is the answer, no copy.
		if (segments.length === 1 && segments[0].data) return { address, bytes: segments[0].data, segments };
		return { address, bytes: joinSegments(segments, length), segments: mergeMissing(segments) };
	}

	/** The longest stretch from `at` (before `end`) that comes from one place. */
	private async readStretch(at: bigint, end: bigint): Promise<MemorySegment[]> {
		const vma = findRun(this.vmas, at);
		if (!vma) {
			const stop = nextBoundary(this.vmas, at, end);
			return [{ address: at, length: Number(stop - at), missing: 'unmapped' }];
		}
		const limit = vma.end < end ? vma.end : end;
		if (vma.shared) return this.readShared(vma, at, limit);
		const run = findRun(this.runs, at);
		if (!run) {
			const stop = nextBoundary(this.runs, at, limit);
			return [{ address: at, length: Number(stop - at), missing: 'not-dumped' }];
		}
		const stop = run.end < limit ? run.end : limit;
		const length = Number(stop - at);
		if (run.source.kind === 'lazy') return [{ address: at, length, missing: 'lazy' }];
		if (run.source.kind === 'parent') return this.readParent(at, length);
		const offset = run.source.offset + Number(at - run.start);
		return [{ address: at, length, data: await this.source.readRange(this.pagesFile, offset, length) }];
	}

	/** An area of a shared object: its bytes at the matching offset, addresses mapped back. */
	private async readShared(vma: MappedRange, at: bigint, limit: bigint): Promise<MemorySegment[]> {
		const shared = vma.shared;
		if (!shared) return [];
		const offset = at - vma.start + shared.pgoff;
		const read = await shared.object.read(offset, Number(limit - at));
		return read.segments.map((s) => ({ ...s, address: s.address - offset + at, missing: s.missing === 'unmapped' ? 'not-dumped' : s.missing }));
	}

	/** Pages marked PE_PARENT: the parent image directory has them (or says why not). */
	private async readParent(at: bigint, length: number): Promise<MemorySegment[]> {
		const parent = await this.parent?.();
		if (!parent) return [{ address: at, length, missing: 'parent-missing' }];
		return (await parent.read(at, length)).segments;
	}
}

function joinSegments(segments: MemorySegment[], length: number): Buffer {
	const bytes = Buffer.alloc(length);
	let offset = 0;
	for (const s of segments) {
		s.data?.copy(bytes, offset);
		offset += s.length;
	}
	return bytes;
}

/** Neighbouring missing segments with the same reason become one. */
function mergeMissing(segments: MemorySegment[]): MemorySegment[] {
	const merged: MemorySegment[] = [];
	for (const s of segments) {
		const last = merged[merged.length - 1];
		if (last && !last.data && !s.data && last.missing === s.missing) last.length += s.length;
		else merged.push({ ...s });
	}
	return merged;
}
