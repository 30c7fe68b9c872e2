/**
 * The leaks as `ckpt leaks` prints them (and a refused dump's leaks on
 * stderr): grouped by kind, each leak on a few lines of at most 100
 * columns. The JSON and the editor take the leaks from src/core/leaks.ts.
 */
import { countsByPolicy, kindName, kindTitle, leakStatsJson, policyName } from '../core/leaks';
import { pb } from '../core/protocol';
import { plural } from '../core/text';

/** "101 workload: fd 1 (write end)". */
function holderText(h: pb.ILeakHolder): string {
	return `${h.pid ?? 0} ${h.comm || '?'}${h.how ? `: ${h.how}` : ''}`;
}

/** "warn (default fail)", "fail (the default)". */
export function policyText(leak: pb.ILeak): string {
	const policy = policyName(leak.policy);
	const def = policyName(leak.defaultPolicy);
	return policy === def ? `${policy} (the default)` : `${policy} (default ${def})`;
}

const WIDTH = 100;
/** Holders listed per side in the text; the JSON has them all (up to the helper's 16). */
const HOLDERS_SHOWN = 5;

/** Words of text on lines of at most WIDTH columns: the first after `first`, the others after `rest`. */
function wrap(first: string, rest: string, text: string): string[] {
	const lines: string[] = [];
	let line = first;
	let empty = true;
	for (const word of text.split(/\s+/).filter(Boolean)) {
		if (!empty && line.length + 1 + word.length > WIDTH) {
			lines.push(line);
			line = rest;
			empty = true;
		}
		line += empty ? word : ` ${word}`;
		empty = false;
	}
	lines.push(line);
	return lines;
}

function scanText(stats: pb.ILeakScanStats): string {
	const s = leakStatsJson(stats);
	return `scanned ${plural(s.processes, 'process', 'processes')} (${s.treeProcesses} in the tree) and ${plural(s.descriptors, 'descriptor')} in ${(s.scanTimeUs / 1000).toFixed(1)} ms`;
}

/** At most HOLDERS_SHOWN holders, one a line, then "and N more" (count: all of them, when more than listed). */
function holderLines(holders: readonly pb.ILeakHolder[], count: number, label: string, field: (label: string, text: string) => string[]): string[] {
	const total = Math.max(count, holders.length);
	if (total === 0) return label === 'inside' ? field(label, '(none named)') : [];
	const shown = holders.length > HOLDERS_SHOWN ? holders.slice(0, HOLDERS_SHOWN - 1) : holders;
	const lines = shown.flatMap((h, i) => field(i === 0 ? label : '', holderText(h)));
	const more = total - shown.length;
	if (more > 0) lines.push(...field(shown.length ? '' : label, shown.length ? `and ${more} more` : plural(more, 'process', 'processes')));
	return lines;
}

function leakLines(leak: pb.ILeak): string[] {
	const pad = '    ';
	const field = (label: string, text: string): string[] => wrap(`${pad}${label.padEnd(9)}`, `${pad}${' '.repeat(9)}`, text);
	const lines = [`  ${leak.resource || '(no resource)'}${leak.hostOwn ? ' (the host\'s own)' : ''}`];
	if (leak.summary) lines.push(...wrap(pad, pad, leak.summary));
	if (leak.policy === pb.LeakPolicy.LEAK_POLICY_IGNORE && !leak.policyNote) return [...lines, ...ignoredLines(leak, field)];
	lines.push(...field('policy', policyText(leak)));
	if (leak.policyNote) lines.push(...field('note', leak.policyNote));
	lines.push(...holderLines(leak.inside ?? [], 0, 'inside', field));
	lines.push(...holderLines(leak.outside ?? [], leak.outsideCount ?? 0, 'outside', field));
	if (leak.risk) lines.push(...field('risk', leak.risk));
	if (leak.criu) lines.push(...field('CRIU', leak.criu));
	const choices = leak.choices ?? [];
	if (choices.length) {
		lines.push(`${pad}choices  (* applies)`);
		const width = Math.max(...choices.map((c) => policyName(c.policy).length));
		for (const c of choices) {
			const name = policyName(c.policy);
			const mark = c.policy === leak.policy ? '*' : ' ';
			const tags = [c.policy === leak.defaultPolicy ? 'default' : '', c.criuOption ?? ''].filter(Boolean).join(', ');
			const head = `${pad}  ${mark} ${name.padEnd(width)}  `;
			lines.push(...wrap(head, ' '.repeat(head.length), `${tags ? `[${tags}] ` : ''}${c.effect ?? ''}`));
		}
	}
	return lines;
}

/**
 * A leak nobody cares about (every host's own namespaces are such) in two
 * lines: its policy with the others it could take, and how many hold it;
 * --json and the other policies show the rest.
 */
function ignoredLines(leak: pb.ILeak, field: (label: string, text: string) => string[]): string[] {
	const others = (leak.choices ?? []).map((c) => policyName(c.policy)).filter((name) => name !== 'ignore');
	const outside = Math.max(leak.outsideCount ?? 0, leak.outside?.length ?? 0);
	return [
		...field('policy', `${policyText(leak)}${others.length ? `; could be ${others.join(', ')}` : ''}`),
		...field('holders', `${(leak.inside ?? []).length} inside, ${outside} outside`),
	];
}

/**
 * The leaks as `ckpt leaks` prints them: grouped by kind (in the enum's
 * order), each with its resource, summary, policy, holders inside and
 * outside, risk, what CRIU does and the choices with their CRIU option and
 * effect; with the scan's numbers when given.
 */
export function formatLeaks(leaks: readonly pb.ILeak[], stats?: pb.ILeakScanStats | null): string {
	const lines: string[] = [];
	if (leaks.length === 0) lines.push('no leaks: the tree shares nothing the helper looks for with processes outside it');
	else lines.push(`${plural(leaks.length, 'leak')}: ${countsByPolicy(leaks)}`);
	if (stats) lines.push(scanText(stats));
	const byKind = new Map<number, pb.ILeak[]>();
	for (const l of leaks) byKind.set(l.kind ?? 0, [...(byKind.get(l.kind ?? 0) ?? []), l]);
	for (const kind of [...byKind.keys()].sort((a, b) => a - b)) {
		const group = byKind.get(kind) ?? [];
		const name = kindName(kind);
		const title = kindTitle(kind);
		lines.push('', `${name}${title === name ? '' : ` (${title})`}: ${plural(group.length, 'leak')}`);
		group.forEach((l, i) => {
			if (i > 0) lines.push('');
			lines.push(...leakLines(l));
		});
	}
	return lines.join('\n');
}
