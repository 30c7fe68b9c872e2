/**
 * What changed from one checkpoint to another, from their images: processes
 * and threads that came and went, registers that changed, memory areas
 * added, removed, resized or with another protection or backing, files
 * opened, closed, replaced or moved (their position), and leaks that
 * appeared or went (from the manifests), and, given the helper's page diff
 * (compared on the target), the pages that differ, grouped by memory area.
 */
import { pb } from '../protocol';
import { leakName } from '../leaks';
import { openCheckpoint, orderedRegisters, type CheckpointImages, type FileImage, type ProcessImage, type ThreadImage, type VmaImage } from './checkpoint';
import { readManifest } from './manifest';
import type { ImageSource } from './source';
import type { ElfSymbols } from '../elf';
import type { SymbolReader } from '../elfFiles';

export interface RegisterChange {
	name: string;
	from: string;
	to: string;
}

export interface ThreadDiff {
	tid: number;
	change: 'came' | 'went' | 'changed';
	registers: RegisterChange[];
}

export interface VmaDiff {
	/** Hex addresses of the area (the later one's when it is in both). */
	start: string;
	end: string;
	change: 'added' | 'removed' | 'resized' | 'protection' | 'backing';
	/** The area as it was, and as it is: "0x...-0x... rw-p [heap]". */
	from?: string;
	to?: string;
}

export interface FileDiff {
	fd: number;
	change: 'opened' | 'closed' | 'replaced' | 'moved';
	from?: string;
	to?: string;
}

/** A run of pages that differ, or that one checkpoint only holds. */
export interface PageRun {
	/** Hex addresses: [start, end). */
	start: string;
	end: string;
	kind: 'changed' | 'only-before' | 'only-after';
	/** Of a changed run: how many of its bytes differ. */
	bytesDiffering?: number;
}

/** The pages of one memory area that differ (or that one checkpoint only holds). */
export interface PageAreaDiff {
	/** The area as the later checkpoint has it (the earlier one's when only it holds the pages). */
	area: string;
	pagesChanged: number;
	bytesDiffering: number;
	pagesOnlyBefore: number;
	pagesOnlyAfter: number;
	/** The runs, by address. */
	runs: PageRun[];
	/** The variables (or functions) of the program and its libraries that changed pages hold, as their ELF symbols name them. */
	symbols?: string[];
}

export interface ProcessDiff {
	pid: number;
	comm: string;
	change: 'came' | 'went' | 'changed';
	/** "comm", "state", "parent": what else changed, from -> to. */
	attributes: RegisterChange[];
	threads: ThreadDiff[];
	vmas: VmaDiff[];
	files: FileDiff[];
	pages: PageAreaDiff[];
	/** The helper kept only the first runs of changed pages (too many to send): the areas shown are a part. */
	pagesTruncated?: boolean;
}

export interface CheckpointDiff {
	processes: ProcessDiff[];
	leaks: { appeared: string[]; went: string[] };
	/** Whether pages were compared (the helper's page diff was given). */
	pagesCompared: boolean;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

function vmaText(v: VmaImage): string {
	return `${hex(v.start)}-${hex(v.end)} ${v.prot} ${v.file ?? `[${v.kind}]`}`;
}

function fileText(f: FileImage): string {
	return [f.kind, f.path ?? f.peer ?? f.detail].filter(Boolean).join(' ');
}

function byKey<T>(items: readonly T[], key: (item: T) => string | number): Map<string | number, T> {
	return new Map(items.map((item) => [key(item), item]));
}

function registerChanges(a: ThreadImage, b: ThreadImage): RegisterChange[] {
	const before = new Map(orderedRegisters(a));
	return orderedRegisters(b)
		.filter(([name, value]) => before.get(name) !== value)
		.map(([name, value]) => ({ name, from: before.has(name) ? hex(before.get(name) ?? 0n) : '', to: hex(value) }));
}

function threadDiffs(a: ProcessImage, b: ProcessImage): ThreadDiff[] {
	const before = byKey(a.threads, (t) => t.tid);
	const after = byKey(b.threads, (t) => t.tid);
	const out: ThreadDiff[] = [];
	for (const t of a.threads) if (!after.has(t.tid)) out.push({ tid: t.tid, change: 'went', registers: [] });
	for (const t of b.threads) {
		const old = before.get(t.tid);
		if (!old) out.push({ tid: t.tid, change: 'came', registers: [] });
		else {
			const registers = registerChanges(old, t);
			if (registers.length) out.push({ tid: t.tid, change: 'changed', registers });
		}
	}
	return out.sort((x, y) => x.tid - y.tid);
}

/** Areas matched by their start: one that starts elsewhere is a removal and an addition. */
function vmaDiffs(a: ProcessImage, b: ProcessImage): VmaDiff[] {
	const before = byKey(a.vmas, (v) => v.start.toString());
	const after = byKey(b.vmas, (v) => v.start.toString());
	const out: VmaDiff[] = [];
	for (const v of a.vmas) if (!after.has(v.start.toString())) out.push({ start: hex(v.start), end: hex(v.end), change: 'removed', from: vmaText(v) });
	for (const v of b.vmas) {
		const old = before.get(v.start.toString());
		const at = { start: hex(v.start), end: hex(v.end), to: vmaText(v) };
		if (!old) out.push({ ...at, change: 'added' });
		else if (old.end !== v.end) out.push({ ...at, change: 'resized', from: vmaText(old) });
		else if (old.prot !== v.prot) out.push({ ...at, change: 'protection', from: vmaText(old) });
		else if ((old.file ?? old.kind) !== (v.file ?? v.kind)) out.push({ ...at, change: 'backing', from: vmaText(old) });
	}
	return out.sort((x, y) => (BigInt(x.start) < BigInt(y.start) ? -1 : BigInt(x.start) > BigInt(y.start) ? 1 : 0));
}

function fileDiffs(a: ProcessImage, b: ProcessImage): FileDiff[] {
	const before = byKey(a.files, (f) => f.fd);
	const after = byKey(b.files, (f) => f.fd);
	const out: FileDiff[] = [];
	for (const f of a.files) if (!after.has(f.fd)) out.push({ fd: f.fd, change: 'closed', from: fileText(f) });
	for (const f of b.files) {
		const old = before.get(f.fd);
		if (!old) out.push({ fd: f.fd, change: 'opened', to: fileText(f) });
		else if (fileText(old) !== fileText(f)) out.push({ fd: f.fd, change: 'replaced', from: fileText(old), to: fileText(f) });
		else if (old.pos !== f.pos) out.push({ fd: f.fd, change: 'moved', from: `${fileText(old)} at ${old.pos ?? '?'}`, to: `at ${f.pos ?? '?'}` });
	}
	return out.sort((x, y) => x.fd - y.fd);
}

function attributeChanges(a: ProcessImage, b: ProcessImage): RegisterChange[] {
	const pairs: [string, string, string][] = [['comm', a.comm, b.comm], ['state', a.state, b.state], ['parent', String(a.ppid), String(b.ppid)]];
	return pairs.filter(([, from, to]) => from !== to).map(([name, from, to]) => ({ name, from, to }));
}

const MAX_RANGES_SHOWN = 8;

/** A run of the helper's page diff, its addresses as numbers. */
function rangeOf(r: pb.IPageDiffRange): { start: bigint; end: bigint } {
	return { start: BigInt(r.start?.toString() ?? '0'), end: BigInt(r.end?.toString() ?? '0') };
}

/** The area a run starts in, in words: what groups the runs. */
function areaOf(p: ProcessImage, start: bigint, end: bigint): string {
	const vma = p.vmas.find((v) => v.start <= start && start < v.end);
	return vma ? vmaText(vma) : `${hex(start)}-${hex(end)} (outside every area)`;
}

/**
 * The differing runs of the shared memory objects (offsets in each object)
 * as addresses of the areas of a process that show them: a (the earlier)
 * for pages only it holds, b for the others. A run an area shows only in
 * part keeps that part of its differing bytes (by pages: the bytes are not
 * known run by run).
 */
function sharedMemoryRanges(a: ProcessImage, b: ProcessImage, shared: readonly pb.IProcessPageDiff[]): pb.IPageDiffRange[] {
	const out: pb.IPageDiffRange[] = [];
	for (const object of shared) {
		const shmid = Number(object.shmid ?? 0);
		for (const r of object.ranges ?? []) {
			const { start, end } = rangeOf(r);
			for (const v of (r.kind === pb.PageDiffKind.PAGE_DIFF_KIND_ONLY_A ? a : b).vmas.filter((x) => x.shmid === shmid)) {
				const lo = start > v.pgoff ? start : v.pgoff;
				const hi = end < v.pgoff + (v.end - v.start) ? end : v.pgoff + (v.end - v.start);
				if (lo >= hi) continue;
				const share = Number(hi - lo) / Number(end - start);
				out.push({ kind: r.kind, start: Number(v.start + lo - v.pgoff), end: Number(v.start + hi - v.pgoff), bytesDiffering: Math.round(Number(r.bytesDiffering ?? 0) * share) });
			}
		}
	}
	return out;
}

/** The helper's differing page runs of one process, grouped by the area each starts in. */
function pageAreas(a: ProcessImage, b: ProcessImage, ranges: readonly pb.IPageDiffRange[]): PageAreaDiff[] {
	const areas = new Map<string, PageAreaDiff>();
	for (const r of ranges) {
		const { start, end } = rangeOf(r);
		const onlyBefore = r.kind === pb.PageDiffKind.PAGE_DIFF_KIND_ONLY_A;
		const area = areaOf(onlyBefore ? a : b, start, end);
		const d = areas.get(area) ?? { area, pagesChanged: 0, bytesDiffering: 0, pagesOnlyBefore: 0, pagesOnlyAfter: 0, runs: [] };
		const n = Number((end - start) / 4096n);
		if (r.kind === pb.PageDiffKind.PAGE_DIFF_KIND_CHANGED) {
			d.pagesChanged += n;
			d.bytesDiffering += Number(r.bytesDiffering ?? 0);
			d.runs.push({ start: hex(start), end: hex(end), kind: 'changed', bytesDiffering: Number(r.bytesDiffering ?? 0) });
		} else {
			if (onlyBefore) d.pagesOnlyBefore += n;
			else d.pagesOnlyAfter += n;
			d.runs.push({ start: hex(start), end: hex(end), kind: onlyBefore ? 'only-before' : 'only-after' });
		}
		areas.set(area, d);
	}
	return [...areas.values()];
}

function processDiff(a: ProcessImage, b: ProcessImage, pages: pb.IProcessPageDiff | undefined, shared: readonly pb.IProcessPageDiff[]): ProcessDiff | undefined {
	const ranges = [...(pages?.ranges ?? []), ...sharedMemoryRanges(a, b, shared)].sort((x, y) => {
		const [sx, sy] = [rangeOf(x).start, rangeOf(y).start];
		return sx < sy ? -1 : sx > sy ? 1 : 0;
	});
	const shownShared = shared.filter((o) => b.vmas.some((v) => v.shmid === Number(o.shmid ?? 0)) || a.vmas.some((v) => v.shmid === Number(o.shmid ?? 0)));
	const d: ProcessDiff = {
		pid: b.pid, comm: b.comm, change: 'changed', attributes: attributeChanges(a, b), threads: threadDiffs(a, b), vmas: vmaDiffs(a, b), files: fileDiffs(a, b),
		pages: pageAreas(a, b, ranges),
		...(pages?.truncated || shownShared.some((o) => o.truncated) ? { pagesTruncated: true } : {}),
	};
	return d.attributes.length || d.threads.length || d.vmas.length || d.files.length || d.pages.length ? d : undefined;
}

function whole(p: ProcessImage, change: 'came' | 'went'): ProcessDiff {
	return { pid: p.pid, comm: p.comm, change, attributes: [], threads: [], vmas: [], files: [], pages: [] };
}

function leakNames(manifest: pb.ICheckpoint | undefined): Set<string> {
	return new Set((manifest?.leaks?.leaks ?? []).map((l) => leakName(l)));
}

/** From a to b (a the earlier one, usually); the manifests give the leaks, the helper's page diff (when given) the pages. */
export function diffCheckpoints(
	a: CheckpointImages, b: CheckpointImages, manifests: [pb.ICheckpoint | undefined, pb.ICheckpoint | undefined] = [undefined, undefined], pageDiff?: pb.IPageDiffResult,
): CheckpointDiff {
	const pagesOf = new Map((pageDiff?.processes ?? []).map((p) => [p.pid ?? 0, p]));
	const before = byKey(a.processes, (p) => p.pid);
	const after = byKey(b.processes, (p) => p.pid);
	const processes: ProcessDiff[] = [];
	for (const p of a.processes) if (!after.has(p.pid)) processes.push(whole(p, 'went'));
	for (const p of b.processes) {
		const old = before.get(p.pid);
		const d = old ? processDiff(old, p, pagesOf.get(p.pid), pageDiff?.sharedMemory ?? []) : whole(p, 'came');
		if (d) processes.push(d);
	}
	processes.sort((x, y) => x.pid - y.pid);
	const [leaksA, leaksB] = manifests.map(leakNames);
	return {
		processes,
		leaks: { appeared: [...leaksB].filter((l) => !leaksA.has(l)).sort(), went: [...leaksA].filter((l) => !leaksB.has(l)).sort() },
		pagesCompared: pageDiff !== undefined,
	};
}

/** An ELF file where a process has it loaded: its addresses there span [start, end). */
interface LoadedFile {
	symbols: ElfSymbols;
	bias: bigint;
	start: bigint;
	end: bigint;
}

/**
 * The ELF files process p maps, each where it is loaded (from the area
 * mapping its lowest file offset). A file whose build-id is not the one CRIU recorded at the dump is
 * another build (replaced since): its names would be wrong, so it is left out.
 */
async function loadedFiles(p: ProcessImage, read: SymbolReader): Promise<LoadedFile[]> {
	// the area at file offset 0 (the lowest otherwise): only its segment is unambiguous (segments can share a page)
	const first = new Map<string, VmaImage>();
	for (const v of p.vmas) {
		const seen = v.file && v.kind !== 'shared' ? first.get(v.file) : undefined;
		if (v.file && v.kind !== 'shared' && (!seen || v.pgoff < seen.pgoff)) first.set(v.file, v);
	}
	const out: LoadedFile[] = [];
	for (const [file, v] of first) {
		const symbols = await read(file);
		if (!symbols || (v.buildId && symbols.buildId && v.buildId !== symbols.buildId)) continue;
		const bias = symbols.loadBias(v.start, v.pgoff);
		if (bias === undefined) continue;
		const span = symbols.span();
		out.push({ symbols, bias, start: span.start + bias, end: span.end + bias });
	}
	return out;
}

const MAX_NAMES_PER_AREA = 16;

/** Names the variables the changed pages of each process hold, area by area (b the later checkpoint). */
export async function nameChangedPages(d: CheckpointDiff, b: CheckpointImages, pageDiff: pb.IPageDiffResult, read: SymbolReader): Promise<void> {
	for (const p of d.processes.filter((x) => x.pages.some((g) => g.pagesChanged > 0))) {
		const proc = b.processes.find((x) => x.pid === p.pid);
		const ranges = pageDiff.processes?.find((x) => x.pid === p.pid)?.ranges ?? [];
		if (!proc) continue;
		const files = await loadedFiles(proc, read);
		for (const r of ranges.filter((x) => x.kind === pb.PageDiffKind.PAGE_DIFF_KIND_CHANGED)) {
			const { start, end } = rangeOf(r);
			const file = files.find((f) => f.start <= start && start < f.end);
			const group = p.pages.find((g) => g.area === areaOf(proc, start, end));
			if (!file || !group) continue;
			const names = new Set(group.symbols ?? []);
			for (const name of file.symbols.namesIn(start - file.bias, end - file.bias, MAX_NAMES_PER_AREA)) {
				if (names.size < MAX_NAMES_PER_AREA) names.add(name);
			}
			if (names.size) group.symbols = [...names];
		}
	}
}

export interface DiffSourcesOptions {
	/** The helper's page diff of the two (compared where the images are). */
	pageDiff?: () => Promise<pb.IPageDiffResult>;
	/** Where the mapped ELF files' symbols come from (the target's files), to name what changed pages hold. */
	symbols?: SymbolReader;
}

/** A comparison with the two checkpoints it was made from (to read their memory where it differs). */
export interface Comparison {
	diff: CheckpointDiff;
	before: CheckpointImages;
	after: CheckpointImages;
}

/**
 * Both checkpoints read from their sources (a the earlier), their manifests
 * with them; pages from the helper's page diff when one is asked for, the
 * variables they hold named when symbols can be read.
 */
export async function compareSources(a: ImageSource, b: ImageSource, options: DiffSourcesOptions = {}): Promise<Comparison> {
	const [before, after] = await Promise.all([openCheckpoint(a), openCheckpoint(b)]);
	const [manifestA, manifestB] = await Promise.all([readManifest(a), readManifest(b)]);
	const pages = await options.pageDiff?.();
	const diff = diffCheckpoints(before, after, [manifestA, manifestB], pages);
	if (pages && options.symbols) await nameChangedPages(diff, after, pages, options.symbols);
	return { diff, before, after };
}

/** compareSources, the difference only. */
export async function diffSources(a: ImageSource, b: ImageSource, options: DiffSourcesOptions = {}): Promise<CheckpointDiff> {
	return (await compareSources(a, b, options)).diff;
}

/** The diff in words, a line per change, indented under its process. */
export function diffText(d: CheckpointDiff): string {
	const lines: string[] = [];
	for (const p of d.processes) {
		if (p.change !== 'changed') {
			lines.push(`process ${p.pid} (${p.comm}) ${p.change}`);
			continue;
		}
		lines.push(`process ${p.pid} (${p.comm}):`);
		for (const a of p.attributes) lines.push(`  ${a.name}: ${a.from} -> ${a.to}`);
		for (const t of p.threads) {
			if (t.change !== 'changed') lines.push(`  thread ${t.tid} ${t.change}`);
			else lines.push(`  thread ${t.tid}: ${t.registers.map((r) => `${r.name} ${r.from} -> ${r.to}`).join(', ')}`);
		}
		for (const v of p.vmas) lines.push(`  memory ${v.change}: ${v.from && v.to ? `${v.from} -> ${v.to}` : v.from ?? v.to}`);
		for (const f of p.files) lines.push(`  fd ${f.fd} ${f.change}: ${f.from && f.to ? `${f.from} -> ${f.to}` : f.from ?? f.to}`);
		if (p.pagesTruncated) lines.push('  pages: more runs differ than the helper sends; those below are the first ones');
		for (const g of p.pages) {
			const held = g.symbols?.length ? ` in ${g.symbols.join(', ')}` : '';
			const at = g.runs.slice(0, MAX_RANGES_SHOWN).map((r) => `${r.start}-${r.end}`).join(', ');
			lines.push(`  pages of ${g.area}: ${pageCounts(g)}${held}; at ${at}${g.runs.length > MAX_RANGES_SHOWN ? `, and ${g.runs.length - MAX_RANGES_SHOWN} more` : ''}`);
		}
	}
	for (const l of d.leaks.appeared) lines.push(`leak appeared: ${l}`);
	for (const l of d.leaks.went) lines.push(`leak went: ${l}`);
	const what = d.pagesCompared ? 'processes, threads, registers, memory areas, pages, files or leaks' : 'processes, threads, registers, memory areas, files or leaks';
	return lines.length ? lines.join('\n') : `no differences in ${what}`;
}

function pageCounts(g: PageAreaDiff): string {
	const parts: string[] = [];
	if (g.pagesChanged) parts.push(`${g.pagesChanged} changed (${g.bytesDiffering} bytes differ)`);
	if (g.pagesOnlyBefore) parts.push(`${g.pagesOnlyBefore} only before`);
	if (g.pagesOnlyAfter) parts.push(`${g.pagesOnlyAfter} only after`);
	return parts.join(', ');
}
