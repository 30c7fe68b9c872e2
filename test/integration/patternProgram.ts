/**
 * The pattern workload on the target, as tests and benches drive it: memory
 * whose every word says what it must be (its generation), checked on
 * request; SIGHUP rewrites another hundredth of its pages, SIGUSR2 makes a
 * new generation. Its record: [count, generation, checks, bad words in the
 * last check, partial rewrites].
 */
import type { pb } from '../../src/core/protocol';
import type { HelperSession, RestoreOptions } from '../../src/core/session';
import { type TargetShell, WORKLOAD } from './harness';

/** What a checkpoint of the program must bring back: the rewrites done and the words they changed. */
export interface PatternState {
	rewrites: number;
	bad: number;
}

export class PatternProgram {
	private constructor(private readonly shell: TargetShell, readonly pid: number, readonly dir: string) {}

	/** Starts the workload holding mib MiB and waits until it runs. */
	static async start(shell: TargetShell, mib: number, timeoutMs = 10_000): Promise<PatternProgram> {
		const { pid, dir } = await shell.start([WORKLOAD, 'pattern', '{dir}', String(mib)]);
		await shell.waitForCounters(dir, ['state'], (c) => c[0] >= 3, 'the pattern workload did not start', timeoutMs);
		return new PatternProgram(shell, pid, dir);
	}

	record(): Promise<number[]> {
		return this.shell.counters(this.dir, ['state']);
	}

	/** Has it check every word of its memory: the words that are not of its generation. */
	async badWords(): Promise<number> {
		const [, , checks] = await this.record();
		await this.shell.ok(`kill -USR1 ${this.pid}`);
		const done = await this.shell.waitForCounters(this.dir, ['state'], (c) => c[2] > checks, `process ${this.pid} did not check its memory`, 60_000);
		return done[3];
	}

	/** Its state now, to compare with after a restore. */
	async state(): Promise<PatternState> {
		const bad = await this.badWords();
		return { bad, rewrites: (await this.record())[4] };
	}

	/** Another hundredth of its pages rewritten. */
	async rewrite(): Promise<void> {
		const before = (await this.record())[4];
		await this.shell.ok(`kill -HUP ${this.pid}`);
		await this.shell.waitForCounters(this.dir, ['state'], (c) => c[4] > before, 'the workload did not rewrite its pages');
	}

	/**
	 * Restores checkpoint id in place of the running program; resolves with
	 * the restore's answer and the restored program's state. The record's
	 * first byte is spoilt between the kill and the restore (its size kept,
	 * which CRIU checks), so what is read after comes from the restored
	 * program.
	 */
	async restore(session: HelperSession, id: string, options: RestoreOptions = {}): Promise<{ restored: pb.RestoreResult; state: PatternState }> {
		await this.shell.killTree(this.pid);
		await this.shell.ok(`printf x | dd of=${this.dir}/state bs=1 count=1 conv=notrunc status=none`);
		const restored = await session.restore(id, options);
		await this.shell.waitForRecord(this.dir, 'state', (r) => r[0] === this.pid);
		return { restored, state: await this.state() };
	}
}
