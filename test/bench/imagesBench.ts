/**
 * The image reader against CRIU's own decoder (pycriu, as crit uses it), on
 * the checkpoint of a process holding 1 GiB: open the checkpoint and list
 * every VMA with its dumped page count; then read 1 MiB as 256 pages at
 * scattered addresses. Both sides are timed in-process, after start-up.
 * Ours reads the same files on this machine (the target's root file system
 * is a directory here) and, separately, from the target as the editor does:
 * over SFTP, and through the helper (reads batched into one request).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCheckpoint, type CheckpointImages } from '../../src/core/images/checkpoint';
import { HelperImageSource } from '../../src/core/images/helperSource';
import { LocalImageSource, type ImageSource } from '../../src/core/images/source';
import { HelperSession } from '../../src/core/session';
import { REPO, sshTarget, TargetShell, WORKLOAD } from '../integration/harness';
import { median } from './median';

const READS = 256;
const PAGE = 4096;
const TARGET_SPEEDUP = 20;
const WARM_UP_OPENS = 10;
const CRIT_BENCH = '/opt/checkpoint-debugger-tests/crit-bench.py';

/** Counts what is read from pages-*.img. */
class CountingSource implements ImageSource {
	pagesBytes = 0;
	constructor(private readonly inner: ImageSource) {}
	get description(): string { return this.inner.description; }
	list(): Promise<string[]> { return this.inner.list(); }
	async readFile(name: string): Promise<Buffer> {
		const data = await this.inner.readFile(name);
		if (name.startsWith('pages-')) this.pagesBytes += data.length;
		return data;
	}
	async readRange(name: string, offset: number, length: number): Promise<Buffer> {
		if (name.startsWith('pages-')) this.pagesBytes += length;
		return this.inner.readRange(name, offset, length);
	}
	parent(): Promise<ImageSource | undefined> { return this.inner.parent(); }
	close(): Promise<void> { return this.inner.close(); }
}

interface Sample {
	openMs: number;
	readMs: number;
	vmas: number;
	pages: number;
	pagesReadOnOpen: number;
}

/** 256 page addresses spread over the dumped pages of the biggest area (fixed stride: same every run). */
function scatteredAddresses(images: CheckpointImages, pid: number): bigint[] {
	const process = images.processes.find((p) => p.pid === pid);
	const big = [...(process?.vmas ?? [])].sort((a, b) => b.pages - a.pages)[0];
	if (!big || big.pages < READS) throw new Error('the benchmark process has no area with enough dumped pages');
	const span = Number((big.end - big.start) / BigInt(PAGE));
	const step = Math.floor(span / READS);
	return Array.from({ length: READS }, (_, i) => big.start + BigInt(((i * step * 7919) % span) * PAGE));
}

async function ours(source: ImageSource, pid: number, addresses: bigint[]): Promise<Sample> {
	const counting = new CountingSource(source);
	const t0 = performance.now();
	const images = await openCheckpoint(counting);
	const vmas = images.processes.reduce((n, p) => n + p.vmas.length, 0);
	const pages = images.processes.reduce((n, p) => n + p.vmas.reduce((m, v) => m + v.pages, 0), 0);
	const t1 = performance.now();
	const pagesReadOnOpen = counting.pagesBytes;
	const process = images.processes.find((p) => p.pid === pid);
	// As a memory view or a debugger asks: many reads in flight at once.
	await Promise.all(addresses.map((a) => process?.read(a, PAGE)));
	const t2 = performance.now();
	return { openMs: t1 - t0, readMs: t2 - t1, vmas, pages, pagesReadOnOpen };
}

/** pycriu's work timed inside python, and the whole command timed on the target as a user runs it. */
async function crit(shell: TargetShell, dir: string, pid: number, addresses: bigint[]): Promise<Sample & { commandMs: number }> {
	const words = addresses.map((a) => a.toString(16)).join(' ');
	const out = await shell.ok(`s=$(date +%s%N); python3 ${CRIT_BENCH} ${dir} ${pid} ${words}; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`);
	const lines = out.trim().split('\n');
	const r = JSON.parse(lines[lines.length - 2] ?? '{}') as { open_ms: number; read_ms: number; vmas: number; pages: number };
	return { openMs: r.open_ms, readMs: r.read_ms, vmas: r.vmas, pages: r.pages, pagesReadOnOpen: 0, commandMs: Number(lines[lines.length - 1]) / 1000 };
}

function row(what: string, ourMs: number[], critMs: number[], critCommandMs: number[]): string {
	const inProcess = median(critMs) / median(ourMs);
	const command = median(critCommandMs) / median(ourMs);
	const verdict = command >= TARGET_SPEEDUP ? 'ok' : `under the ${TARGET_SPEEDUP}x target`;
	return `${what.padEnd(30)} ${median(ourMs).toFixed(2).padStart(8)} ${median(critMs).toFixed(2).padStart(8)} ${median(critCommandMs).toFixed(1).padStart(8)} ${inProcess.toFixed(1).padStart(7)}x ${command.toFixed(1).padStart(7)}x  ${verdict}`;
}

export async function benchImages(shell: TargetShell, rounds: number): Promise<string> {
	await shell.writeFile(CRIT_BENCH, readFileSync(join(REPO, 'test', 'bench', 'crit-bench.py')));
	const session = await HelperSession.open(sshTarget());
	const { pid, dir } = await shell.start([WORKLOAD, 'memory', '{dir}', '1024']);
	let checkpointId = '';
	try {
		await shell.waitForRecord(dir, 'state', (r) => r[1] >= 2, 120_000);
		const checkpoint = await session.dump(pid, { leaveRunning: true, name: 'image bench' });
		checkpointId = checkpoint.id;
		await shell.killTree(pid);
		const rootfs = execFileSync('bash', [join(REPO, 'test', 'target', 'target.sh'), 'rootfs'], { encoding: 'utf8' }).trim();
		const local = new LocalImageSource(join(rootfs, checkpoint.path));
		const remote = await session.target.imageSource(checkpoint.path);
		const addresses = scatteredAddresses(await openCheckpoint(local), pid);
		const s = { local: [] as Sample[], sftp: [] as Sample[], helper: [] as Sample[], crit: [] as (Sample & { commandMs: number })[], critOpen: [] as number[] };
		const viaHelper = (): ImageSource => new HelperImageSource(session, checkpoint.id);
		// Untimed warm-up of both readers: the editor's reader lives in a long-running process
		// (its code optimized after a few opens), and python's import caches fill likewise.
		for (let i = 0; i < WARM_UP_OPENS; i++) {
			await ours(local, pid, addresses);
			await ours(remote, pid, addresses);
			await ours(viaHelper(), pid, addresses);
		}
		await crit(shell, checkpoint.path, pid, addresses);
		for (let round = 0; round < rounds; round++) {
			s.local.push(await ours(local, pid, addresses));
			s.sftp.push(await ours(remote, pid, addresses));
			s.helper.push(await ours(viaHelper(), pid, addresses));
			s.crit.push(await crit(shell, checkpoint.path, pid, addresses));
			s.critOpen.push((await crit(shell, checkpoint.path, pid, [])).commandMs);
			process.stderr.write(`  images round ${round + 1}/${rounds}: open ${s.local.at(-1)?.openMs.toFixed(1)} (sftp ${s.sftp.at(-1)?.openMs.toFixed(1)}) vs crit ${s.crit.at(-1)?.openMs.toFixed(1)} ms; read ${s.local.at(-1)?.readMs.toFixed(1)} (sftp ${s.sftp.at(-1)?.readMs.toFixed(1)}) vs crit ${s.crit.at(-1)?.readMs.toFixed(1)} ms\n`);
		}
		const agree = s.local[0].vmas === s.crit[0].vmas && s.local[0].pages === s.crit[0].pages;
		return [
			`image reader, checkpoint of a 1 GiB process: ${s.local[0].vmas} VMAs, ${s.local[0].pages} dumped pages (crit counts ${s.crit[0].vmas} / ${s.crit[0].pages}: ${agree ? 'same' : 'DIFFERENT'})`,
			`pages-*.img bytes read while opening: ${Math.max(...s.local.map((x) => x.pagesReadOnOpen), ...s.sftp.map((x) => x.pagesReadOnOpen))}`,
			`medians over ${rounds} rounds; "crit" is pycriu's work timed inside python, "crit cmd" the whole command as a user runs crit; the target is judged on crit cmd`,
			'work                           ours ms  crit ms crit cmd  vs crit  vs cmd',
			row('open + list VMAs (local)', s.local.map((x) => x.openMs), s.crit.map((x) => x.openMs), s.critOpen),
			row('open + read 256 pages (local)', s.local.map((x) => x.openMs + x.readMs), s.crit.map((x) => x.openMs + x.readMs), s.crit.map((x) => x.commandMs)),
			row('open + list VMAs (SFTP)', s.sftp.map((x) => x.openMs), s.crit.map((x) => x.openMs), s.critOpen),
			row('open + read 256 pages (SFTP)', s.sftp.map((x) => x.openMs + x.readMs), s.crit.map((x) => x.openMs + x.readMs), s.crit.map((x) => x.commandMs)),
			row('open + list VMAs (helper)', s.helper.map((x) => x.openMs), s.crit.map((x) => x.openMs), s.critOpen),
			row('open + read 256 pages (helper)', s.helper.map((x) => x.openMs + x.readMs), s.crit.map((x) => x.openMs + x.readMs), s.crit.map((x) => x.commandMs)),
		].join('\n');
	} finally {
		await shell.killTree(pid);
		if (checkpointId) await session.remove(checkpointId).catch(() => undefined);
		await session.close();
		await shell.run(`rm -rf ${dir}`);
	}
}
