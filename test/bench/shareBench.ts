/**
 * Checkpoints that share memory (bench part "share"): a program holding MIB
 * MiB (workload pattern) checkpointed COUNT times, another hundredth of its
 * pages rewritten before each checkpoint after the first. Reported: the
 * store's size on disk against COUNT self-contained copies, each dump's time
 * against a self-contained dump of the same state (taken and deleted right
 * after, so the chain stays one), the comparison's share of it, and every
 * checkpoint restored with its memory checked word by word.
 * Target: ten checkpoints of 1 GiB, 1% apart, at most 1.3 GiB in the store.
 */
import { performance } from 'node:perf_hooks';
import type { pb } from '../../src/core/protocol';
import { HelperSession } from '../../src/core/session';
import { sshTarget, type TargetShell } from '../integration/harness';
import { PatternProgram, type PatternState } from '../integration/patternProgram';
import { median } from './median';

const TARGET_STORE_RATIO = 1.3;

interface ChainFigures {
	storeBytes: number;
	sharedMs: number[];
	selfContainedMs: number[];
	compareMs: number[];
	restoredExactly: number;
}

/** A dump, timed at the client, dirty pages flushed first (untimed). */
async function timedDump(shell: TargetShell, session: HelperSession, pid: number, name: string, selfContained: boolean): Promise<[pb.Checkpoint, number]> {
	await shell.ok('sync');
	const start = performance.now();
	const c = await session.dump(pid, { leaveRunning: true, name, selfContained });
	return [c, performance.now() - start];
}

/** COUNT checkpoints of one program, a self-contained one beside each (deleted at once). */
async function takeChain(shell: TargetShell, session: HelperSession, program: PatternProgram, count: number, f: ChainFigures): Promise<Array<[string, PatternState]>> {
	const taken: Array<[string, PatternState]> = [];
	for (let i = 0; i < count; i++) {
		if (i > 0) await program.rewrite();
		const state = await program.state();
		const [plain, plainMs] = await timedDump(shell, session, program.pid, `share bench plain ${i}`, true);
		await session.remove(plain.id);
		const [shared, sharedMs] = await timedDump(shell, session, program.pid, `share bench ${i}`, false);
		taken.push([shared.id, state]);
		if (i > 0) {
			f.sharedMs.push(sharedMs);
			f.selfContainedMs.push(plainMs);
			f.compareMs.push(Number(shared.sharing?.timeUs ?? 0) / 1000);
		}
		process.stderr.write(`  share: checkpoint ${i + 1}/${count}: ${(Number(shared.sizeBytes) / 2 ** 20).toFixed(1)} MiB own, dump ${sharedMs.toFixed(0)} ms (self-contained ${plainMs.toFixed(0)} ms)\n`);
	}
	return taken;
}

async function benchShareSize(shell: TargetShell, session: HelperSession, store: string, mib: number, count: number): Promise<ChainFigures> {
	const f: ChainFigures = { storeBytes: 0, sharedMs: [], selfContainedMs: [], compareMs: [], restoredExactly: 0 };
	const program = await PatternProgram.start(shell, mib, 120_000);
	try {
		const taken = await takeChain(shell, session, program, count, f);
		f.storeBytes = Number((await shell.ok(`du -sb ${store} | cut -f1`)).trim());
		for (const [id, state] of taken) {
			const { state: back } = await program.restore(session, id);
			if (back.bad !== state.bad || back.rewrites !== state.rewrites) throw new Error(`checkpoint ${id} restored ${JSON.stringify(back)}, taken at ${JSON.stringify(state)}`);
			f.restoredExactly++;
		}
		for (const [id] of taken.reverse()) await session.remove(id);
	} finally {
		await shell.killTree(program.pid);
		await shell.run(`rm -rf ${program.dir}`);
	}
	return f;
}

export async function benchShare(shell: TargetShell, sizes: number[], count: number, benchDir: string): Promise<string> {
	const store = `${benchDir}/checkpoint-bench-share`;
	const session = await HelperSession.open(sshTarget({ helperArgs: ['--store', store] }));
	const rows = ['size      store MiB  copies MiB  store/size  dump ms  self-contained ms  ratio  compare ms  restored exactly'];
	try {
		for (const mib of sizes) {
			const f = await benchShareSize(shell, session, store, mib, count);
			const storeMiB = f.storeBytes / 2 ** 20;
			const ratio = storeMiB / mib;
			const dumpRatio = median(f.sharedMs) / median(f.selfContainedMs);
			const verdict = mib >= 1024 && count >= 10 ? (ratio <= TARGET_STORE_RATIO ? ' ok' : ` over the ${TARGET_STORE_RATIO} target`) : '';
			rows.push(`${`${mib} MiB`.padEnd(9)} ${storeMiB.toFixed(0).padStart(9)} ${(mib * count).toFixed(0).padStart(11)} ${ratio.toFixed(2).padStart(11)} ${median(f.sharedMs).toFixed(0).padStart(8)} ${median(f.selfContainedMs).toFixed(0).padStart(18)} ${dumpRatio.toFixed(2).padStart(6)} ${median(f.compareMs).toFixed(0).padStart(11)} ${`${f.restoredExactly}/${count}`.padStart(17)}${verdict}`);
		}
	} finally {
		await session.close();
		await shell.run(`rm -rf ${store}`);
	}
	return `${count} checkpoints of one program, another 1% of its pages changed before each (dump times: medians of checkpoints 2..${count}; a self-contained dump of the same state beside each)\n${rows.join('\n')}`;
}
