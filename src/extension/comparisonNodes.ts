/**
 * The Comparison tree as data (no VS Code here: the view renders these, the
 * tree's shape is unit-tested): a comparison's processes, then their
 * attributes, threads (registers by name), memory areas, pages (by area,
 * with the variables they hold, then run by run) and files; the leaks that
 * appeared or went. Each node's row: label, description, tooltip, whether
 * it opens, and whether a click shows its pages.
 */
import type { CheckpointDiff, PageAreaDiff, PageRun, ProcessDiff, ThreadDiff } from '../core/images/diff';

/** One side of a comparison: a checkpoint of a target's store. */
export interface ComparedCheckpoint {
	id: string;
	label: string;
}

export interface ShownComparison {
	/** The target both are in (a name Connections knows). */
	target: string;
	before: ComparedCheckpoint;
	after: ComparedCheckpoint;
	diff: CheckpointDiff;
}

type Section = 'attributes' | 'threads' | 'memory' | 'pages' | 'files';

export type ComparisonNode =
	| { kind: 'root'; c: ShownComparison }
	| { kind: 'process'; c: ShownComparison; p: ProcessDiff }
	| { kind: 'section'; c: ShownComparison; p: ProcessDiff; section: Section }
	| { kind: 'thread'; t: ThreadDiff }
	| { kind: 'area'; c: ShownComparison; p: ProcessDiff; g: PageAreaDiff }
	| { kind: 'run'; c: ShownComparison; p: ProcessDiff; run: PageRun }
	| { kind: 'leaks'; c: ShownComparison }
	| { kind: 'line'; label: string; description?: string };

export type RunNode = Extract<ComparisonNode, { kind: 'run' }>;

export interface ComparisonRow {
	label: string;
	description?: string;
	tooltip?: string;
	open: 'none' | 'collapsed' | 'expanded';
	/** A run of pages: a click shows its bytes. */
	showsPages?: boolean;
}

const SECTION_LABELS: Record<Section, string> = { attributes: 'Changed', threads: 'Threads', memory: 'Memory areas', pages: 'Pages', files: 'Files' };
const SECTIONS = Object.keys(SECTION_LABELS) as Section[];
const RUN_KIND_TEXT = { changed: 'changed', 'only-before': 'only in the earlier', 'only-after': 'only in the later' } as const;

function sectionCount(p: ProcessDiff, section: Section): number {
	return { attributes: p.attributes.length, threads: p.threads.length, memory: p.vmas.length, pages: p.pages.length, files: p.files.length }[section];
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const fromTo = (change: string, from?: string, to?: string): string => (from && to ? `${change}: ${from} → ${to}` : `${change}: ${from ?? to ?? ''}`);

function pageCounts(g: PageAreaDiff): string {
	const parts: string[] = [];
	if (g.pagesChanged) parts.push(`${g.pagesChanged} changed, ${g.bytesDiffering} bytes`);
	if (g.pagesOnlyBefore) parts.push(`${g.pagesOnlyBefore} only before`);
	if (g.pagesOnlyAfter) parts.push(`${g.pagesOnlyAfter} only after`);
	return parts.join(', ');
}

function rootChildren(c: ShownComparison): ComparisonNode[] {
	const out: ComparisonNode[] = c.diff.processes.map((p) => ({ kind: 'process', c, p }));
	if (c.diff.leaks.appeared.length || c.diff.leaks.went.length) out.push({ kind: 'leaks', c });
	if (!out.length) out.push({ kind: 'line', label: 'No differences', description: c.diff.pagesCompared ? 'pages compared too' : 'pages not compared' });
	return out;
}

function sectionChildren(c: ShownComparison, p: ProcessDiff, section: Section): ComparisonNode[] {
	switch (section) {
		case 'attributes': return p.attributes.map((a) => ({ kind: 'line', label: a.name, description: `${a.from} → ${a.to}` }));
		case 'threads': return p.threads.map((t) => (t.change === 'changed' ? { kind: 'thread', t } : { kind: 'line', label: `thread ${t.tid}`, description: t.change }));
		case 'memory': return p.vmas.map((v) => ({ kind: 'line', label: `${v.start}-${v.end}`, description: fromTo(v.change, v.from, v.to) }));
		case 'pages': return p.pages.map((g) => ({ kind: 'area', c, p, g }));
		case 'files': return p.files.map((f) => ({ kind: 'line', label: `fd ${f.fd}`, description: fromTo(f.change, f.from, f.to) }));
	}
}

/** The root (the comparison shown, if any) and every node's children. */
export function comparisonChildren(node: ComparisonNode): ComparisonNode[] {
	switch (node.kind) {
		case 'root': return rootChildren(node.c);
		case 'process': return SECTIONS.filter((s) => sectionCount(node.p, s) > 0).map((section) => ({ kind: 'section', c: node.c, p: node.p, section }));
		case 'section': return sectionChildren(node.c, node.p, node.section);
		case 'thread': return node.t.registers.map((r) => ({ kind: 'line', label: r.name, description: `${r.from} → ${r.to}` }));
		case 'area': return node.g.runs.map((run) => ({ kind: 'run', c: node.c, p: node.p, run }));
		case 'leaks': return [
			...node.c.diff.leaks.appeared.map((l): ComparisonNode => ({ kind: 'line', label: l, description: 'appeared' })),
			...node.c.diff.leaks.went.map((l): ComparisonNode => ({ kind: 'line', label: l, description: 'went' })),
		];
		case 'run':
		case 'line': return [];
	}
}

function areaRow(g: PageAreaDiff): ComparisonRow {
	const held = g.symbols?.length ? ` in ${g.symbols.join(', ')}` : '';
	return {
		label: g.area, description: `${pageCounts(g)}${held}`, open: 'collapsed',
		tooltip: `${g.area}\n${pageCounts(g)}${held}\n${plural(g.runs.length, 'run')}: click one to see its bytes in both checkpoints`,
	};
}

function runRow(run: PageRun): ComparisonRow {
	const pages = Number((BigInt(run.end) - BigInt(run.start)) / 4096n);
	const differing = run.bytesDiffering !== undefined ? `, ${run.bytesDiffering} bytes differ` : '';
	return {
		label: `${run.start}-${run.end}`, description: `${plural(pages, 'page')} ${RUN_KIND_TEXT[run.kind]}${differing}`, open: 'none', showsPages: true,
		tooltip: run.kind === 'changed' ? 'Show the bytes of both checkpoints here, side by side' : 'Show the bytes here',
	};
}

export function comparisonRow(node: ComparisonNode): ComparisonRow {
	switch (node.kind) {
		case 'root': return {
			label: `${node.c.before.label} → ${node.c.after.label}`, open: 'expanded',
			description: `${plural(node.c.diff.processes.length, 'process', 'processes')} differ`,
			tooltip: `From ${node.c.before.label} (${node.c.before.id}) to ${node.c.after.label} (${node.c.after.id})`,
		};
		case 'process': return { label: `${node.p.pid} ${node.p.comm}`, description: node.p.change, open: node.p.change === 'changed' ? 'expanded' : 'none' };
		case 'section': return {
			label: SECTION_LABELS[node.section], open: node.section === 'pages' ? 'expanded' : 'collapsed',
			description: node.section === 'pages' && node.p.pagesTruncated ? 'the first runs only' : String(sectionCount(node.p, node.section)),
		};
		case 'thread': return { label: `thread ${node.t.tid}`, description: node.t.registers.map((r) => r.name).join(', '), open: 'collapsed' };
		case 'area': return areaRow(node.g);
		case 'run': return runRow(node.run);
		case 'leaks': return { label: 'Leaks', open: 'expanded' };
		case 'line': return { label: node.label, description: node.description, tooltip: node.description ? `${node.label}: ${node.description}` : node.label, open: 'none' };
	}
}
