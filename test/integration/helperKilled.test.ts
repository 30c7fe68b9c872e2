/**
 * A helper killed while it holds a tree frozen (issue 14, item 4), on the
 * target: its watcher (a process of its own session, started with it)
 * thaws the tree at once; and when the watcher is killed with it, the next
 * helper thaws the tree as it starts (its sweep of the freeze claims a dead
 * helper let go of). Either way the program runs again, ps says so, and the
 * freeze cgroup is gone. A process let out of the freeze stopped, for a
 * debugger to take, is continued too.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { HelperSession } from '../../src/core/session';
import { shellSuite, sshTarget, WORKLOAD } from './harness';

const suite = shellSuite();

const counts = async (dir: string): Promise<number> => (await suite.shell.record(dir))[1];

describe('a helper killed holding a tree frozen', () => {
	/** A counter frozen by a helper session, then the helper (and, when asked, its watcher) killed. */
	async function frozenThenKilled(killWatcher: boolean): Promise<{ pid: number; dir: string; frozenAt: number }> {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await suite.shell.waitForRecord(dir, 'state', (r) => r[1] >= 2);
		const first = await HelperSession.open(sshTarget());
		const { helperPid } = await first.hello();
		await first.freeze(pid);
		const frozenAt = await counts(dir);
		// the watcher: the helper's child in a session of its own
		const watcher = (await suite.shell.ok(`ps -o pid= --ppid ${helperPid} -o sid= | awk '$1 == $2 {print $1}'`)).trim();
		assert.match(watcher, /^\d+$/, 'the helper has its watcher');
		await suite.shell.ok(`kill -KILL ${killWatcher ? `${watcher} ` : ''}${helperPid}`);
		for (let i = 0; i < 100 && await suite.shell.isAlive(helperPid); i++) await new Promise((r) => setTimeout(r, 50));
		await first.close().catch(() => undefined);
		return { pid, dir, frozenAt };
	}

	async function checkThawed(session: HelperSession, pid: number, dir: string, frozenAt: number): Promise<void> {
		await suite.shell.waitForRecord(dir, 'state', (r) => r[1] > frozenAt);
		const [info] = await session.ps(pid);
		assert.equal(info?.frozen, false);
		assert.equal((await suite.shell.ok(`find /sys/fs/cgroup -maxdepth 8 -name 'checkpoint-freeze-${pid}' 2>/dev/null; true`)).trim(), '', 'the freeze cgroup is gone');
	}

	test('its watcher thaws the tree at once; ps tells the truth; no freeze cgroup is left', async () => {
		const { pid, dir, frozenAt } = await frozenThenKilled(false);
		await suite.shell.waitForRecord(dir, 'state', (r) => r[1] > frozenAt);
		const next = await HelperSession.open(sshTarget());
		try {
			await checkThawed(next, pid, dir, frozenAt);
		} finally {
			await next.close();
			await suite.shell.killTree(pid);
		}
	});

	test('its watcher killed with it: the tree stays frozen until the next helper, which thaws it as it starts', async () => {
		const { pid, dir, frozenAt } = await frozenThenKilled(true);
		await new Promise((r) => setTimeout(r, 300));
		assert.equal(await counts(dir), frozenAt, 'still frozen: no helper runs to thaw it');
		const next = await HelperSession.open(sshTarget());
		try {
			await next.hello();
			await checkThawed(next, pid, dir, frozenAt);
		} finally {
			await next.close();
			await suite.shell.killTree(pid);
		}
	});

	test('a process it let out of the freeze stopped (for a debugger to take): its watcher continues it', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await suite.shell.waitForRecord(dir, 'state', (r) => r[1] >= 2);
		const first = await HelperSession.open(sshTarget());
		try {
			const { helperPid } = await first.hello();
			await first.freeze(pid);
			const released = await first.freeze(pid, { exceptPids: [pid], stopReleased: true });
			assert.deepEqual(released.stoppedPids, [pid]);
			assert.equal((await suite.shell.ok(`ps -o stat= -p ${pid}`)).trim()[0], 'T', 'let go of stopped');
			const at = await counts(dir);
			await suite.shell.ok(`kill -KILL ${helperPid}`);
			await suite.shell.waitForRecord(dir, 'state', (r) => r[1] > at);
			assert.equal((await suite.shell.ok(`ls /run/checkpoint-debugger/frozen | grep '^released-${helperPid}$'; true`)).trim(), '', 'its claim is gone');
		} finally {
			await first.close().catch(() => undefined);
			await suite.shell.killTree(pid);
		}
	});

	test('a tree another live helper holds frozen: thaw refuses in words (it does not say "thawed"); its own helper thaws it', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await suite.shell.waitForRecord(dir, 'state', (r) => r[1] >= 2);
		const [holder, other] = [await HelperSession.open(sshTarget()), await HelperSession.open(sshTarget())];
		try {
			await holder.freeze(pid);
			await assert.rejects(other.thaw(pid), (err: unknown) => err instanceof CheckpointError && err.kind === 'busy' &&
				/frozen by another helper .*thaw it from there, or end that session/.test(err.message));
			await holder.thaw(pid);
			const at = await counts(dir);
			await suite.shell.waitForRecord(dir, 'state', (r) => r[1] > at);
		} finally {
			await holder.close();
			await other.close();
			await suite.shell.killTree(pid);
		}
	});
});
