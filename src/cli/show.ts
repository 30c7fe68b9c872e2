/**
 * `ckpt show` and `ckpt mem` output: a checkpoint's contents as a tree (like
 * `checkpointctl inspect`) or as JSON.
 */
import type { CheckpointImages, ProcessImage, VmaImage } from '../core/images/checkpoint';
import { hex } from '../core/text';
import { pb } from '../core/protocol';
import { changeText, leakName, leakReportJson, leakReportSummary, warnedLeaks } from '../core/leaks';
import { standsOnText } from '../core/sharing';

export interface ShownProcess {
	process: ProcessImage;
	cmdline?: string[];
}

/**
 * The JSON document of `ckpt show --json`: addresses and registers as hex
 * strings; with the checkpoint's manifest (when the directory has one), its
 * leak report (null: made before leak scans), the checkpoint it stands on
 * ("": none) and what sharing pages with it saved (null: it shares none).
 */
export function showJson(images: CheckpointImages, shown: ShownProcess[], manifest?: pb.ICheckpoint): object {
	return {
		path: images.source.description,
		criu: { imageVersion: images.imageVersion },
		leaks: manifest ? (manifest.leaks ? leakReportJson(manifest.leaks) : null) : undefined,
		parent: manifest ? manifest.parent ?? '' : undefined,
		sharing: manifest ? sharingJson(manifest.sharing) : undefined,
		stats: images.stats ? statsJson(images) : undefined,
		processes: shown.map(({ process: p, cmdline }) => ({
			pid: p.pid, ppid: p.ppid, pgid: p.pgid, sid: p.sid, comm: p.comm, state: p.state, cmdline, creds: p.creds,
			threads: p.threads.map((t) => ({ tid: t.tid, comm: t.comm, fpu: t.fpu, registers: Object.fromEntries(Object.entries(t.registers).map(([k, v]) => [k, hex(v)])) })),
			vmas: p.vmas.map((v) => ({ start: hex(v.start), end: hex(v.end), prot: v.prot, kind: v.kind, file: v.file, pgoff: hex(v.pgoff), pages: v.pages })),
			files: p.files.map((f) => ({ fd: f.fd, type: f.kind, id: f.id, path: f.path, peer: f.peer, detail: f.detail, flags: f.flags, pos: f.pos === undefined ? undefined : Number(f.pos) })),
			namespaces: p.namespaces,
		})),
	};
}

function sharingJson(s: pb.IPageSharing | null | undefined): object | null {
	return s ? { sharedPages: s.sharedPages ?? 0, ownPages: s.ownPages ?? 0, timeUs: s.timeUs ?? 0 } : null;
}

function statsJson(images: CheckpointImages): object {
	const s = images.stats;
	return {
		freezingTimeUs: s?.freezingTime ?? 0, frozenTimeUs: s?.frozenTime ?? 0, memdumpTimeUs: s?.memdumpTime ?? 0, memwriteTimeUs: s?.memwriteTime ?? 0,
		pagesScanned: Number(s?.pagesScanned ?? 0n), pagesWritten: Number(s?.pagesWritten ?? 0n), pagesSkippedParent: Number(s?.pagesSkippedParent ?? 0n),
	};
}

function vmaLine(v: VmaImage): string {
	const pages = `${v.pages} page${v.pages === 1 ? '' : 's'}`;
	return `${hex(v.start)}-${hex(v.end)} ${v.prot} ${v.kind.padEnd(9)} ${pages.padStart(11)}${v.file ? `  ${v.file}` : ''}`;
}

function branch(lines: string[], prefix: string, items: string[]): void {
	items.forEach((item, i) => lines.push(`${prefix}${i === items.length - 1 ? '└── ' : '├── '}${item}`));
}

function processLines(shown: ShownProcess, prefix: string): string[] {
	const { process: p, cmdline } = shown;
	const lines: string[] = [];
	const sub = (title: string, items: string[], last = false): void => {
		lines.push(`${prefix}${last ? '└── ' : '├── '}${title}`);
		branch(lines, `${prefix}${last ? '    ' : '│   '}`, items);
	};
	lines.push(`${prefix}├── cmdline: ${cmdline ? cmdline.join(' ') : '(not in the dumped memory)'}`);
	lines.push(`${prefix}├── ids: ppid ${p.ppid}, pgid ${p.pgid}, sid ${p.sid}${p.creds ? `, uid ${p.creds.uid}, gid ${p.creds.gid}` : ''}`);
	sub(`threads (${p.threads.length})`, p.threads.map((t) => `${t.tid} ${t.comm}: ip ${hex(t.registers.ip ?? 0n)}, sp ${hex(t.registers.sp ?? 0n)}, fpu ${t.fpu}`));
	sub('namespaces', p.namespaces.map((n) => `${n.kind} ${n.id} (${n.dumped ? 'dumped' : 'inherited'})`));
	sub(`memory (${p.vmas.length} areas, ${p.memory.dumpedPages} pages dumped)`, p.vmas.map(vmaLine));
	sub(`files (${p.files.length})`, p.files.map((f) => `${String(f.fd).padStart(3)} ${f.kind}${f.path ? ` ${f.path}` : ''}${f.peer ? ` -> ${f.peer}` : ''}${f.detail ? ` (${f.detail})` : ''}`), true);
	return lines;
}

/** The readable tree of `ckpt show`; with the manifest (when the directory has one), what it stands on and its leak report. */
export function showText(images: CheckpointImages, shown: ShownProcess[], manifest?: pb.ICheckpoint): string {
	const lines = [`${images.source.description} (CRIU image version ${images.imageVersion})`];
	const s = images.stats;
	if (s) lines.push(`├── dump: frozen ${((s.frozenTime ?? 0) / 1000).toFixed(1)} ms, ${s.pagesWritten ?? 0n} pages written of ${s.pagesScanned ?? 0n} scanned`);
	if (manifest) {
		lines.push(`├── parent: ${standsOnText(manifest)}`);
		const report = manifest.leaks;
		lines.push(`├── leaks: ${leakReportSummary(report)}`);
		branch(lines, '│   ', [
			...warnedLeaks(report).map((l) => `warned: ${leakName(l)}${l.summary ? `: ${l.summary}` : ''}`),
			...(report?.changes ?? []).map((c) => `inconsistent: ${changeText(c)}`),
		]);
	}
	shown.forEach((entry, i) => {
		const last = i === shown.length - 1;
		lines.push(`${last ? '└── ' : '├── '}process ${entry.process.pid} ${entry.process.comm} (${entry.process.state})`);
		lines.push(...processLines(entry, last ? '    ' : '│   '));
	});
	return lines.join('\n');
}
