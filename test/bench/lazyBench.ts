/**
 * Lazy restore against a full one (bench part "lazy"): the same checkpoint
 * of a program holding MIB MiB restored through ckpt with lazy pages (time
 * until it runs: the restore's answer at the client; time until every page
 * is in: its LazyRestoreEnd) and by raw `criu restore` on the target
 * (timed there around the criu process alone), alternating, several rounds.
 * Target: time to running at most 0.1x of the full restore at 1 GiB.
 */
import { performance } from 'node:perf_hooks';
import type { pb } from '../../src/core/protocol';
import { HelperSession } from '../../src/core/session';
import { sshTarget, type TargetShell, WORKLOAD } from '../integration/harness';
import { median } from './median';
import { rawTimed } from './rawTimed';

const TARGET_RATIO = 0.1;

interface LazyTimings {
	running: number[];
	allPages: number[];
	raw: number[];
}

/** Restores lazily: ms until the answer (it runs), and until every page is in. */
async function lazyRound(session: HelperSession, id: string): Promise<[number, number]> {
	const start = performance.now();
	let told: (end: pb.LazyRestoreEnd) => void = () => undefined;
	const ended = new Promise<pb.LazyRestoreEnd>((resolve) => { told = resolve; });
	const restored = await session.restore(id, { onLazyEnd: (end) => told(end) });
	const running = performance.now() - start;
	if (!restored.lazy) throw new Error('the target restored fully: lazy pages do not work there');
	const end = await ended;
	if (!end.ok) throw new Error(end.message);
	return [running, performance.now() - start];
}

async function benchLazySize(shell: TargetShell, session: HelperSession, store: string, mib: number, rounds: number): Promise<LazyTimings> {
	const t: LazyTimings = { running: [], allPages: [], raw: [] };
	const { pid, dir } = await shell.start([WORKLOAD, 'memory', '{dir}', String(mib)]);
	let id = '';
	try {
		await shell.waitForRecord(dir, 'state', (r) => r[1] >= 2, 120_000);
		id = (await session.dump(pid, { name: 'lazy bench' })).id;
		await lazyRound(session, id);	// untimed: the first pass warms the page cache both ways
		await shell.killTree(pid);
		for (let round = 0; round < rounds; round++) {
			for (const which of round % 2 === 0 ? ['lazy', 'raw'] : ['raw', 'lazy']) {
				await shell.ok('sync');
				if (which === 'lazy') {
					const [running, all] = await lazyRound(session, id);
					t.running.push(running);
					t.allPages.push(all);
				} else {
					t.raw.push(await rawTimed(shell, `criu restore -d -D ${store}/${id} -o /tmp/lazy-bench-restore.log`));
				}
				await shell.killTree(pid);
			}
			process.stderr.write(`  lazy ${mib} MiB round ${round + 1}/${rounds}: running after ${t.running.at(-1)?.toFixed(0)} ms, every page after ${t.allPages.at(-1)?.toFixed(0)} ms; full criu restore ${t.raw.at(-1)?.toFixed(0)} ms\n`);
		}
	} finally {
		await shell.killTree(pid);
		if (id) await session.remove(id).catch(() => undefined);
		await shell.run(`rm -rf ${dir}`);
	}
	return t;
}

export async function benchLazy(shell: TargetShell, rounds: number, sizes: number[], benchDir: string): Promise<string> {
	const store = `${benchDir}/checkpoint-bench-lazy`;
	const session = await HelperSession.open(sshTarget({ helperArgs: ['--store', store] }));
	const rows = ['size      to running  every page   full criu  running/full'];
	try {
		for (const mib of sizes) {
			const t = await benchLazySize(shell, session, store, mib, rounds);
			const ratio = median(t.running) / median(t.raw);
			const verdict = mib >= 1024 ? (ratio <= TARGET_RATIO ? ' ok' : ` over the ${TARGET_RATIO} target`) : '';
			rows.push(`${`${mib} MiB`.padEnd(9)} ${median(t.running).toFixed(0).padStart(10)} ${median(t.allPages).toFixed(0).padStart(11)} ${median(t.raw).toFixed(0).padStart(11)} ${ratio.toFixed(3).padStart(13)}${verdict}`);
		}
	} finally {
		await session.close();
		await shell.run(`rm -rf ${store}`);
	}
	return `lazy restore, medians over ${rounds} rounds in ms (ckpt timed at the client over SSH; raw CRIU timed on the target)\n${rows.join('\n')}`;
}
