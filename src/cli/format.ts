/** Human-readable output of the `ckpt` commands. */
import { pb } from '../core/protocol';
import { byteSize, plural } from '../core/text';
import { printable, printableCommandLine } from '../core/systemText';
import {
	changeText, formatPolicy, leakJson, leakName, leakReportBrief, leakReportJson, leakReportSummary, leaksWithoutChoice,
	leakStatsJson, suggestedRules, warnedLeaks,
} from '../core/leaks';
import { formatLeaks } from './leaksText';
import { chainSize, checkpointsById, PROVISIONAL_TEXT, standsOnText } from '../core/sharing';


export function toJson(type: { toObject(m: never, o: object): object }, message: unknown): object {
	return type.toObject(message as never, { longs: Number, enums: String, defaults: true, arrays: true });
}

/** "2024-01-02 03:04:05": UTC, to the second. */
export function utcTime(unixMs: number): string {
	return new Date(unixMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** Columns aligned; a cell's text as `printable` shows it, so a name from the system can neither break a row nor move the cursor. */
function table(cells: string[][]): string {
	const rows = cells.map((r) => r.map(printable));
	const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
	return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

function ms(us: number): string {
	return `${(us / 1000).toFixed(1)} ms`;
}

export function formatHello(h: pb.HelloResult): string {
	const layout = pb.CgroupLayout[h.cgroupLayout]?.replace('CGROUP_LAYOUT_', '').toLowerCase() ?? 'unknown';
	const features = h.criuFeatures
		? Object.entries({ mem_track: h.criuFeatures.memTrack, lazy_pages: h.criuFeatures.lazyPages, pidfd_store: h.criuFeatures.pidfdStore })
			.map(([k, v]) => `${k}=${v ? 'yes' : 'no'}`).join(' ')
		: '';
	const lines = [
		['host', `${h.hostname} (${h.machine}, Linux ${h.kernelRelease})`],
		['helper', `${h.helperVersion} (pid ${h.helperPid}, euid ${h.euid})`],
		['criu', h.criuVersion ? `${h.criuVersion} at ${h.criuPath}` : 'not usable'],
		['criu features', features],
		['cgroups', layout],
		['store', h.storeDir],
		['capabilities', h.capabilities.length > 8 ? `${h.capabilities.length} (${h.capabilities.slice(0, 4).join(', ')}, ...)` : h.capabilities.join(', ')],
	];
	if (h.networkLock || h.tcpProblem) lines.push(['tcp', h.networkLock ? `connections can be saved (network lock: ${h.networkLock})` : 'connections cannot be saved']);
	if (h.gdbVersion || h.gdbProblem) lines.push(['gdb', h.gdbVersion ? `${h.gdbVersion} at ${h.gdbPath}` : 'not usable: no source-level debugging']);
	const out = table(lines.map(([k, v]) => [`${k}:`, v]));
	const problems = [h.criuProblem && `problem: ${h.criuProblem}`, h.tcpProblem && `tcp: ${h.tcpProblem}`, h.gdbProblem && `gdb: ${h.gdbProblem}`].filter(Boolean);
	return [out, ...problems].join('\n');
}

export function formatPs(processes: pb.ProcessInfo[]): string {
	const byParent = new Map<number, pb.ProcessInfo[]>();
	const pids = new Set(processes.map((p) => p.pid));
	for (const p of processes) {
		const parent = pids.has(p.ppid) ? p.ppid : -1;
		byParent.set(parent, [...(byParent.get(parent) ?? []), p]);
	}
	const rows = [['PID', 'PPID', 'STATE', 'TTY', 'THR', 'COMMAND']];
	const visit = (p: pb.ProcessInfo, depth: number): void => {
		const command = p.cmdline.length ? printableCommandLine(p.cmdline) : `[${printable(p.comm)}]`;
		rows.push([String(p.pid), String(p.ppid), p.frozen ? `${p.state} frozen` : p.state, p.tty || '-', String(p.threads.length),
			`${'  '.repeat(depth)}${command}`]);
		for (const c of byParent.get(p.pid) ?? []) visit(c, depth + 1);
	};
	for (const root of byParent.get(-1) ?? []) visit(root, 0);
	return table(rows);
}

export function formatCheckpoint(c: pb.Checkpoint): string {
	const s = c.stats;
	const lines = [
		`checkpoint ${c.id}${c.name ? ` "${c.name}"` : ''}`,
		`  created   ${utcTime(c.createdUnixMs)} UTC on ${c.hostname || '?'} (CRIU ${c.criuVersion})`,
		`  tree      root pid ${c.rootPid}, ${c.processes.length} process${c.processes.length === 1 ? '' : 'es'}${c.leaveRunning ? ', left running' : ', stopped after the dump'}`,
		`  size      ${byteSize(c.sizeBytes)} of its own at ${c.path}`,
		`  parent    ${standsOnText(c)}`,
	];
	if (c.provisional) lines.push(`  manifest  ${PROVISIONAL_TEXT}`);
	if (s) {
		lines.push(`  timing    frozen ${ms(s.frozenTimeUs)} (freezing ${ms(s.freezingTimeUs)}, memdump ${ms(s.memdumpTimeUs)}, memwrite ${ms(s.memwriteTimeUs)}), CRIU request ${ms(s.criuWallTimeUs)}`);
		lines.push(`  pages     ${s.pagesScanned} scanned, ${s.pagesWritten} written, ${s.pagesLazy} lazy, ${s.pagesSkippedParent} in parent`);
	}
	for (const p of c.processes) lines.push(`  process   ${p.pid} ${printable(p.comm)}: ${printableCommandLine(p.cmdline)}`);
	lines.push(...leakReportLines(c.leaks, '  '));
	return lines.join('\n');
}

/**
 * A checkpoint's leak report in a few lines: the summary, each warned leak,
 * and one "inconsistent:" line per change during the dump.
 */
export function leakReportLines(report: pb.ILeakReport | null | undefined, indent: string): string[] {
	const lines = [`${indent}leaks     ${leakReportSummary(report)}`];
	for (const l of warnedLeaks(report)) lines.push(`${indent}warned    ${leakName(l)}${l.summary ? `: ${l.summary}` : ''}`);
	for (const c of report?.changes ?? []) lines.push(`${indent}inconsistent: ${changeText(c)}`);
	return lines;
}

/** A checkpoint as JSON, its leak report with names (leakReportJson) instead of enum constants. */
export function checkpointJson(c: pb.Checkpoint): object {
	return { ...toJson(pb.Checkpoint, c), leaks: c.leaks ? leakReportJson(c.leaks) : null };
}

/** `ckpt leaks --json`: each leak's fields at its top level, names for kinds and policies. */
export function leaksResultJson(r: pb.ILeaksResult): object {
	return { leaks: (r.leaks ?? []).map(leakJson), stats: leakStatsJson(r.stats) };
}

/** `ckpt leaks`: the listing, then whether a dump with the same policy would go ahead. */
export function formatLeaksResult(r: pb.ILeaksResult): string {
	const leaks = r.leaks ?? [];
	const failing = leaks.filter((l) => l.policy === pb.LeakPolicy.LEAK_POLICY_FAIL);
	let verdict: string;
	if (failing.length === 0) verdict = 'A dump with this policy goes ahead.';
	else {
		const rules = suggestedRules(failing);
		verdict = `A dump with this policy is refused: ${plural(failing.length, 'leak')} ${failing.length === 1 ? 'has' : 'have'} the policy fail.`
			+ (rules.length ? `\nTo go ahead, e.g. --policy ${shellWord(formatPolicy(rules))}` : '');
	}
	return `${formatLeaks(leaks, r.stats)}\n\n${verdict}`;
}

/**
 * `ckpt ls`: a row per checkpoint; SIZE is its own, WITH-PARENTS adds every
 * checkpoint it stands on ("?" when one of them is not in the list).
 */
export function formatList(list: pb.Checkpoint[]): string {
	if (list.length === 0) return 'no checkpoints';
	const byId = checkpointsById(list);
	const sizes = list.map((c) => chainSize(c, byId));
	const rows = [['ID', 'NAME', 'CREATED', 'ROOT', 'PROCS', 'SIZE', 'WITH-PARENTS', 'PARENT', 'LEAKS']];
	list.forEach((c, i) => {
		const total = sizes[i].withParentsBytes;
		if (c.damaged) {
			rows.push([c.id, 'DAMAGED', '-', '-', '-', '-', '-', '-', '-']);
			return;
		}
		rows.push([
			c.id, c.name, utcTime(c.createdUnixMs), String(c.rootPid), String(c.processes.length), byteSize(c.sizeBytes),
			total === undefined ? '?' : byteSize(total), c.parent || '-', leakReportBrief(c.leaks),
		]);
	});
	const missing = [...new Set(sizes.map((s) => s.missing).filter((id): id is string => !!id))];
	const notes = missing.length ? [`?: a checkpoint it stands on is not in the store (${missing.join(', ')})`] : [];
	for (const c of list.filter((x) => x.provisional)) notes.push(`${c.id}: its manifest is ${PROVISIONAL_TEXT}`);
	for (const c of list.filter((x) => x.damaged)) notes.push(`${c.id}: damaged, it cannot be restored (${c.damaged}); ckpt rm ${c.id} deletes it`);
	return [table(rows), ...notes].join('\n');
}

/** `ckpt ls --json`: each checkpoint as checkpointJson, with its size with parents (null when one is not in the list). */
export function listJson(list: pb.Checkpoint[]): object {
	const byId = checkpointsById(list);
	return { checkpoints: list.map((c) => ({ ...checkpointJson(c), sizeWithParentsBytes: chainSize(c, byId).withParentsBytes ?? null })) };
}

/** A restore's result; a lazy one's with the end of its page copying (lazyEnd). */
export function formatRestore(id: string, r: pb.RestoreResult, lazyEnd?: pb.LazyRestoreEnd): string {
	const killed = r.killedPids.length ? ` after killing ${r.killedPids.join(', ')}` : '';
	const lazy = lazyEnd ? `; lazy pages: running from then on, every page in after ${ms(lazyEnd.wallTimeUs)}` : '';
	return `restored ${id}${killed}: root pid ${r.rootPid} (pids ${r.pids.join(', ')}), CRIU took ${ms(r.criuWallTimeUs)}${lazy}`;
}

/** Quoted for a POSIX shell when it holds more than safe characters ("pipe:pipe:[1234]" would glob). */
export function shellWord(text: string): string {
	return /^[A-Za-z0-9_.,:=/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * After a dump refused because of leaks: what --policy would let it go
 * ahead (from each leak's choices), and which leaks no policy can pass.
 */
export function refusalHint(leaks: readonly pb.ILeak[]): string {
	if (leaks.length === 0) return 'Run "ckpt leaks PID" to see the leaks and their choices.';
	const lines: string[] = [];
	const rules = suggestedRules(leaks);
	const stuck = leaksWithoutChoice(leaks);
	if (stuck.length) lines.push(`No policy lets the dump go ahead with ${stuck.map(leakName).join(', ')}: stop sharing ${stuck.length === 1 ? 'it' : 'them'} first.`);
	const policy = `--policy ${shellWord(formatPolicy(rules))}`;
	if (rules.length && stuck.length) lines.push(`For the others, choose another policy (see each leak's choices), e.g. ${policy}`);
	else if (rules.length) lines.push(`To checkpoint anyway, choose another policy for ${leaks.length === 1 ? 'it' : 'them'} (see each leak's choices), e.g. ${policy}`);
	return lines.join('\n');
}
