/**
 * `npm run bench`: checkpoint and restore the same program holding 256 MiB
 * and 1 GiB of touched memory, through ckpt (the core over SSH, as the CLI
 * and the editor do it) and through raw `criu dump` / `criu restore` on the
 * target, alternating which goes first, several rounds; prints the medians
 * and the ratio ckpt/raw. Not a test: the figures are for reading.
 *
 * ckpt is timed from the client (SSH, helper, manifest and all); raw CRIU is
 * timed on the target around the criu process alone. Both write their images
 * to the same file system, and dirty pages are flushed (sync, untimed) before
 * every timed step: otherwise the writeback of one round's gigabyte lands in
 * the next round's figure, whichever path that is.
 * Then the image reader against crit (./imagesBench.ts), the leak scan
 * on a host of about 1,000 processes (./leaksBench.ts), and Restore to a
 * breakpoint under gdb against criu restore and a fresh gdb by hand
 * (./gdbRestoreBench.ts), a lazy restore against a full one (./lazyBench.ts),
 * the page diff of two checkpoints (./diffBench.ts), and checkpoints that
 * share memory (./shareBench.ts).
 * The checkpoints part restores fully (lazy: false) and dumps self-contained
 * checkpoints: like for like with criu restore and criu dump.
 * Environment: CKPT_BENCH_ONLY (the parts to run, comma-separated:
 * checkpoints, images, leaks, debug, lazy, diff, share; default all), CKPT_BENCH_ROUNDS (default 5),
 * CKPT_BENCH_SHARE_COUNT (checkpoints in the share part, default 10), CKPT_BENCH_SIZES (MiB, default
 * "256,1024"), CKPT_BENCH_DIR (default /tmp, a tmpfs on the target host; a
 * disk directory measures the same with the disk in the way).
 */
import { performance } from 'node:perf_hooks';
import { HelperSession } from '../../src/core/session';
import { sshTarget, TargetShell, WORKLOAD } from '../integration/harness';
import { benchDiff } from './diffBench';
import { benchGdbRestore } from './gdbRestoreBench';
import { benchImages } from './imagesBench';
import { benchLazy } from './lazyBench';
import { benchLeaks } from './leaksBench';
import { median } from './median';
import { rawTimed } from './rawTimed';
import { benchShare } from './shareBench';

const ROUNDS = Number(process.env.CKPT_BENCH_ROUNDS ?? 5);
const SIZES_MIB = (process.env.CKPT_BENCH_SIZES ?? '256,1024').split(',').map(Number);
const BENCH_DIR = process.env.CKPT_BENCH_DIR ?? '/tmp';
const SHARE_COUNT = Number(process.env.CKPT_BENCH_SHARE_COUNT ?? 10);
const RAW_DIR = `${BENCH_DIR}/checkpoint-bench-raw`;
const STORE_DIR = `${BENCH_DIR}/checkpoint-bench-store`;
/** CRIU's verbosity in both paths: the helper asks for 4 to explain failures. */
const LOG_LEVEL = 4;
const TARGET_RATIO = 1.10;

interface Timings {
	ckptDump: number[];
	ckptRestore: number[];
	rawDump: number[];
	rawRestore: number[];
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
	const start = performance.now();
	const result = await work();
	return [result, performance.now() - start];
}

async function ckptRound(shell: TargetShell, session: HelperSession, pid: number, t: Timings): Promise<void> {
	await shell.ok('sync');
	const [checkpoint, dumpMs] = await timed(() => session.dump(pid, { name: 'bench', selfContained: true }));
	await shell.ok('sync');
	const [, restoreMs] = await timed(() => session.restore(checkpoint.id, { lazy: false }));
	await session.remove(checkpoint.id);
	t.ckptDump.push(dumpMs);
	t.ckptRestore.push(restoreMs);
}

async function rawRound(shell: TargetShell, pid: number, t: Timings): Promise<void> {
	await shell.ok(`rm -rf ${RAW_DIR} && mkdir -p -m 0700 ${RAW_DIR} && sync`);
	t.rawDump.push(await rawTimed(shell, `criu dump -t ${pid} -D ${RAW_DIR} -o dump.log -v${LOG_LEVEL}`));
	await shell.ok('sync');
	t.rawRestore.push(await rawTimed(shell, `criu restore -d -D ${RAW_DIR} -o restore.log -v${LOG_LEVEL}`));
	await shell.ok(`rm -rf ${RAW_DIR}`);
}

async function waitCounting(shell: TargetShell, dir: string): Promise<void> {
	const before = (await shell.waitForRecord(dir, 'state', (r) => r[1] >= 1, 120_000))[1];
	await shell.waitForRecord(dir, 'state', (r) => r[1] > before, 10_000);
}

async function benchSize(shell: TargetShell, session: HelperSession, mib: number): Promise<Timings> {
	const t: Timings = { ckptDump: [], ckptRestore: [], rawDump: [], rawRestore: [] };
	const { pid, dir } = await shell.start([WORKLOAD, 'memory', '{dir}', String(mib)]);
	try {
		await waitCounting(shell, dir);
		// One untimed round of each: the first gigabyte written to a fresh
		// tmpfs costs seconds of page allocation, whichever path comes first.
		const warmUp: Timings = { ckptDump: [], ckptRestore: [], rawDump: [], rawRestore: [] };
		await ckptRound(shell, session, pid, warmUp);
		await waitCounting(shell, dir);
		await rawRound(shell, pid, warmUp);
		await waitCounting(shell, dir);
		for (let round = 0; round < ROUNDS; round++) {
			const ckptFirst = round % 2 === 0;
			for (const which of ckptFirst ? ['ckpt', 'raw'] : ['raw', 'ckpt']) {
				if (which === 'ckpt') await ckptRound(shell, session, pid, t);
				else await rawRound(shell, pid, t);
				await waitCounting(shell, dir);
			}
			process.stderr.write(`  ${mib} MiB round ${round + 1}/${ROUNDS}: ckpt ${t.ckptDump.at(-1)?.toFixed(0)}/${t.ckptRestore.at(-1)?.toFixed(0)} ms, raw ${t.rawDump.at(-1)?.toFixed(0)}/${t.rawRestore.at(-1)?.toFixed(0)} ms (dump/restore)\n`);
		}
	} finally {
		await shell.killTree(pid);
		await shell.run(`rm -rf ${dir} ${RAW_DIR}`);
	}
	return t;
}

function report(mib: number, t: Timings): string[] {
	const rows: string[] = [];
	for (const [op, ours, raw] of [['dump', t.ckptDump, t.rawDump], ['restore', t.ckptRestore, t.rawRestore]] as const) {
		const ratio = median(ours) / median(raw);
		const verdict = ratio <= TARGET_RATIO ? 'ok' : `over the ${TARGET_RATIO.toFixed(2)} target`;
		rows.push(`${`${mib} MiB`.padEnd(9)} ${op.padEnd(8)} ${median(ours).toFixed(0).padStart(8)} ${median(raw).toFixed(0).padStart(8)} ${ratio.toFixed(2).padStart(6)}  ${verdict}`);
	}
	return rows;
}

async function benchCheckpoints(shell: TargetShell): Promise<string> {
	const session = await HelperSession.open(sshTarget({ helperArgs: ['--store', STORE_DIR] }));
	const hello = await session.hello();
	process.stderr.write(`bench: CRIU ${hello.criuVersion} on ${hello.hostname} (Linux ${hello.kernelRelease}), ${ROUNDS} rounds, images in ${BENCH_DIR}, CRIU log level ${LOG_LEVEL} both ways\n`);
	const rows = ['size      op        ckpt ms   raw ms  ratio'];
	try {
		for (const mib of SIZES_MIB) rows.push(...report(mib, await benchSize(shell, session, mib)));
	} finally {
		await session.close();
		await shell.run(`rm -rf ${STORE_DIR}`);
	}
	return `medians over ${ROUNDS} rounds (ckpt timed at the client over SSH; raw CRIU timed on the target)\n${rows.join('\n')}`;
}

async function main(): Promise<void> {
	const all = ['checkpoints', 'images', 'leaks', 'debug', 'lazy', 'diff', 'share'];
	const parts = (process.env.CKPT_BENCH_ONLY ?? all.join(',')).split(',').map((p) => p.trim());
	const unknown = parts.filter((p) => !all.includes(p));
	if (unknown.length) throw new Error(`CKPT_BENCH_ONLY: no part ${unknown.join(', ')} (the parts: ${all.join(', ')})`);
	const shell = await TargetShell.open();
	try {
		await shell.buildWorkload();
		const reports: string[] = [];
		if (parts.includes('checkpoints')) reports.push(await benchCheckpoints(shell));
		if (parts.includes('images')) reports.push(await benchImages(shell, ROUNDS));
		if (parts.includes('leaks')) reports.push(await benchLeaks(shell));
		if (parts.includes('debug')) reports.push(await benchGdbRestore(shell, ROUNDS, BENCH_DIR));
		if (parts.includes('lazy')) reports.push(await benchLazy(shell, ROUNDS, SIZES_MIB, BENCH_DIR));
		if (parts.includes('diff')) reports.push(await benchDiff(shell, ROUNDS, SIZES_MIB, BENCH_DIR));
		if (parts.includes('share')) reports.push(await benchShare(shell, SIZES_MIB, SHARE_COUNT, BENCH_DIR));
		process.stdout.write(`\n${reports.join('\n\n')}\n`);
	} finally {
		shell.close();
	}
}

main().catch((err: unknown) => {
	process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
	process.exitCode = 1;
});
