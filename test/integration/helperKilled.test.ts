/**
 * A helper killed while it holds a tree frozen (issue 14, item 4), on the
 * target: the tree stays frozen while no helper runs (nothing can thaw it
 * then), and the next helper thaws it as it starts (its sweep of the freeze
 * claims a dead helper let go of): the program runs again, ps says so, and
 * the freeze cgroup is gone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HelperSession } from '../../src/core/session';
import { shellSuite, sshTarget, WORKLOAD } from './harness';

const suite = shellSuite();

const counts = async (dir: string): Promise<number> => (await suite.shell.record(dir))[1];

describe('a helper killed holding a tree frozen', () => {
	test('the next helper thaws it as it starts; ps tells the truth; no freeze cgroup is left', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await suite.shell.waitForRecord(dir, 'state', (r) => r[1] >= 2);
		const first = await HelperSession.open(sshTarget());
		const { helperPid } = await first.hello();
		await first.freeze(pid);
		await suite.shell.ok(`kill -KILL ${helperPid}`);
		for (let i = 0; i < 100 && await suite.shell.isAlive(helperPid); i++) await new Promise((r) => setTimeout(r, 50));
		await first.close().catch(() => undefined);
		const frozenAt = await counts(dir);
		await new Promise((r) => setTimeout(r, 300));
		assert.equal(await counts(dir), frozenAt, 'still frozen: no helper runs to thaw it');

		const next = await HelperSession.open(sshTarget());
		try {
			await next.hello();
			await suite.shell.waitForRecord(dir, 'state', (r) => r[1] > frozenAt);
			const [info] = await next.ps(pid);
			assert.equal(info?.frozen, false);
			assert.equal((await suite.shell.ok(`find /sys/fs/cgroup -maxdepth 8 -name 'checkpoint-freeze-${pid}' 2>/dev/null; true`)).trim(), '', 'the freeze cgroup is gone');
		} finally {
			await next.close();
			await suite.shell.killTree(pid);
		}
	});
});
