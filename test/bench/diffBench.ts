/**
 * The page diff of two checkpoints (bench part "diff"): a program holding
 * MIB MiB checkpointed, one page in a hundred rewritten (workload pattern,
 * SIGHUP), checkpointed again; the helper's page diff of the two, timed at
 * the client over SSH (and by the helper itself), several rounds; the
 * second checkpoint self-contained (every page of both read), then sharing
 * the first's unchanged pages (those are the same bytes: not read). Target:
 * under 1 s for two 1 GiB checkpoints.
 */
import { performance } from 'node:perf_hooks';
import { HelperSession } from '../../src/core/session';
import { sshTarget, type TargetShell, WORKLOAD } from '../integration/harness';
import { median } from './median';

const TARGET_MS = 1000;

/** The second checkpoint self-contained (every page read on both sides) or sharing the first's pages (those not read). */
type Layout = 'self-contained' | 'shared';

async function benchDiffSize(shell: TargetShell, session: HelperSession, mib: number, rounds: number, layout: Layout): Promise<string> {
	const { pid, dir } = await shell.start([WORKLOAD, 'pattern', '{dir}', String(mib)]);
	const ids: string[] = [];
	try {
		await shell.waitForRecord(dir, 'state', (r) => r[1] >= 2, 120_000);
		ids.push((await session.dump(pid, { leaveRunning: true, name: 'diff bench a' })).id);
		await shell.ok(`kill -HUP ${pid}`);
		await shell.waitForRecord(dir, 'state', (r) => r[5] >= 1, 60_000);
		ids.push((await session.dump(pid, { leaveRunning: true, name: 'diff bench b', selfContained: layout === 'self-contained' })).id);
		const client: number[] = [];
		const helper: number[] = [];
		let changed = 0;
		await session.pageDiff(ids[0], ids[1]);	// untimed: the page cache
		for (let round = 0; round < rounds; round++) {
			const start = performance.now();
			const d = await session.pageDiff(ids[0], ids[1]);
			client.push(performance.now() - start);
			helper.push(Number(d.wallTimeUs) / 1000);
			changed = Number(d.processes.find((p) => p.pid === pid)?.pagesChanged ?? 0);
		}
		const verdict = mib >= 1024 ? (median(client) <= TARGET_MS ? ' ok' : ` over the ${TARGET_MS} ms target`) : '';
		return `${`${mib} MiB`.padEnd(9)} ${layout.padEnd(15)} ${String(changed).padStart(13)} ${median(client).toFixed(0).padStart(9)} ${median(helper).toFixed(0).padStart(9)}${verdict}`;
	} finally {
		await shell.killTree(pid);
		for (const id of ids) await session.remove(id).catch(() => undefined);
		await shell.run(`rm -rf ${dir}`);
	}
}

export async function benchDiff(shell: TargetShell, rounds: number, sizes: number[], benchDir: string): Promise<string> {
	const store = `${benchDir}/checkpoint-bench-diff`;
	const session = await HelperSession.open(sshTarget({ helperArgs: ['--store', store] }));
	const rows = ['size      second         pages changed  client ms  helper ms'];
	try {
		for (const mib of sizes) {
			for (const layout of ['self-contained', 'shared'] as const) rows.push(await benchDiffSize(shell, session, mib, rounds, layout));
		}
	} finally {
		await session.close();
		await shell.run(`rm -rf ${store}`);
	}
	return `page diff of two checkpoints, one page in a hundred changed, medians over ${rounds} rounds (client: over SSH; helper: its own time)\n${rows.join('\n')}`;
}
