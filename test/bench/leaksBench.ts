/**
 * The leak scan on a busy host: a tree of 100 processes (each child holding
 * a pipe to the root) and enough idle processes besides for the target to
 * have about 1,000, then `leaks` of the tree's root, several rounds. Prints
 * the medians of the helper's own scan time (stats.scanTimeUs) and of the
 * round trip at the client (SSH and protobuf included), with the process and
 * descriptor counts the scan reports. The target is under 100 ms of scan;
 * the figures are for reading, never an assertion.
 * Environment: CKPT_BENCH_LEAK_TREE (default 100), CKPT_BENCH_LEAK_HOST
 * (processes on the host, default 1000), CKPT_BENCH_LEAK_ROUNDS (default 11).
 */
import { performance } from 'node:perf_hooks';
import type { pb } from '../../src/core/protocol';
import { HelperSession } from '../../src/core/session';
import { sshTarget, type TargetShell } from '../integration/harness';
import { median } from './median';

const TREE = Number(process.env.CKPT_BENCH_LEAK_TREE ?? 100);
const HOST = Number(process.env.CKPT_BENCH_LEAK_HOST ?? 1000);
const ROUNDS = Number(process.env.CKPT_BENCH_LEAK_ROUNDS ?? 11);
const TARGET_MS = 100;
const LEAKY = '/opt/checkpoint-debugger-tests/leaky';

async function processCount(shell: TargetShell): Promise<number> {
	return Number((await shell.ok("ls /proc | grep -c '^[0-9]'")).trim());
}

/** Starts `leaky MODE N` and waits until its N-1 children are up; returns its pid. */
async function startFan(shell: TargetShell, mode: 'tree' | 'idle', n: number): Promise<{ pid: number; dir: string }> {
	const { pid, dir } = await shell.start([LEAKY, mode, String(n), '{dir}']);
	await shell.waitForRecord(dir, 'state', (r) => r[1] >= n - 1, 60_000);
	return { pid, dir };
}

export async function benchLeaks(shell: TargetShell): Promise<string> {
	await shell.buildProgram('leaky');
	const started: Array<{ pid: number; dir: string }> = [];
	const session = await HelperSession.open(sshTarget());
	try {
		const tree = await startFan(shell, 'tree', TREE);
		started.push(tree);
		// the helper's own process counts too: leave room for it
		const others = HOST - (await processCount(shell)) - 1;
		if (others > 1) started.push(await startFan(shell, 'idle', others));
		process.stderr.write(`bench: leak scan of a ${TREE}-process tree, ${await processCount(shell)} processes on the target, ${ROUNDS} rounds\n`);

		let last: pb.LeaksResult = await session.leaks(tree.pid);	// warm-up: page cache, dentries
		const scanMs: number[] = [];
		const roundTripMs: number[] = [];
		for (let round = 0; round < ROUNDS; round++) {
			const t0 = performance.now();
			last = await session.leaks(tree.pid);
			roundTripMs.push(performance.now() - t0);
			scanMs.push(Number(last.stats?.scanTimeUs ?? 0) / 1000);
		}
		const st = last.stats;
		const scan = median(scanMs);
		const verdict = scan < TARGET_MS ? 'ok' : `over the ${TARGET_MS} ms target`;
		return [
			`leak scan: medians over ${ROUNDS} rounds (scan timed by the helper; round trip at the client over SSH)`,
			`processes ${st?.processes} (tree ${st?.treeProcesses}), descriptors ${st?.descriptors}, leaks found ${last.leaks.length}`,
			`scan        ${scan.toFixed(1).padStart(7)} ms  (min ${Math.min(...scanMs).toFixed(1)}, max ${Math.max(...scanMs).toFixed(1)})  ${verdict}`,
			`round trip  ${median(roundTripMs).toFixed(1).padStart(7)} ms  (min ${Math.min(...roundTripMs).toFixed(1)}, max ${Math.max(...roundTripMs).toFixed(1)})`,
		].join('\n');
	} finally {
		await session.close();
		for (const { pid, dir } of started) {
			await shell.killTree(pid);
			await shell.run(`rm -rf ${dir}`);
		}
	}
}
