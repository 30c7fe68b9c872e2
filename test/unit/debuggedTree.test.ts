/**
 * DebuggedTree over an in-memory helper (fakeHelper.ts): its state as the
 * user sees it, and the promises it makes: a checkpoint leaves the tree as
 * it was, whether it succeeds, fails or is refused; a restore saves the
 * present first, and a failed one leaves that checkpoint in the store;
 * letting go thaws what was frozen.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { beforeRestoreName, DebuggedTree, type TreeState } from '../../src/core/debuggedTree';
import { CheckpointError, type ErrorKind } from '../../src/core/errors';
import { pb } from '../../src/core/protocol';
import { FakeHelper } from './fakeHelper';
import { pipeLeak } from './leaks.fixtures';

/** What the tree told its listener. */
interface Told {
	states: TreeState[];
	checkpointsChanged: number;
}

async function attached(options: { threads?: string[]; leaks?: pb.ILeak[] } = {}): Promise<{ helper: FakeHelper; tree: DebuggedTree; pid: number; told: Told }> {
	const helper = new FakeHelper();
	const pid = helper.spawn('workload', options);
	const told: Told = { states: [], checkpointsChanged: 0 };
	const tree = await DebuggedTree.attach(helper, pid, { stateChanged: (s) => told.states.push(s), checkpointsChanged: () => told.checkpointsChanged++ });
	return { helper, tree, pid, told };
}

/** assert.rejects matcher: a CheckpointError of that kind whose message matches. */
const failsWith = (kind: ErrorKind, message: RegExp) => (err: unknown): boolean => {
	assert.ok(err instanceof CheckpointError, String(err));
	assert.equal(err.kind, kind, err.message);
	assert.match(err.message, message);
	return true;
};

const criuFailed = (): CheckpointError => new CheckpointError('criu-failed', 'CRIU failed to checkpoint process 100', { message: 'Can\'t dump half of a pipe', log: ['Error (criu/pipes.c:123): pipe is half-closed'] });

describe('DebuggedTree: attach, tasks, pause and continue', () => {
	test('attaches to a running tree; its tasks are its threads, named', async () => {
		const helper = new FakeHelper();
		const pid = helper.spawn('workload', { threads: ['worker-1', 'worker-2'] });
		helper.spawn('child', { parent: pid });
		const tree = await DebuggedTree.attach(helper, pid);
		assert.equal(tree.state, 'running');
		assert.equal(tree.launched, false);
		assert.deepEqual((await tree.tasks()).map((t) => t.name), [`${pid}/${pid} workload`, `${pid}/${pid + 1} worker-1`, `${pid}/${pid + 2} worker-2`, `${pid + 10}/${pid + 10} child`]);
	});

	test('a tree frozen already attaches as frozen; a pid that is not there is refused', async () => {
		const helper = new FakeHelper();
		const pid = helper.spawn('workload');
		await helper.freeze(pid);
		assert.equal((await DebuggedTree.attach(helper, pid)).state, 'frozen');
		await assert.rejects(DebuggedTree.attach(helper, 4242), failsWith('no-such-process', /process 4242 does not exist/));
	});

	test('findProcess: the one process of that name; none or several are refused with what to do', async () => {
		const helper = new FakeHelper();
		const pid = helper.spawn('server');
		helper.spawn('worker');
		helper.spawn('worker');
		assert.equal(await DebuggedTree.findProcess(helper, 'server'), pid);
		await assert.rejects(DebuggedTree.findProcess(helper, 'nginx'), failsWith('no-such-process', /no process named "nginx" runs on root@fake:22; give "pid" instead/));
		await assert.rejects(DebuggedTree.findProcess(helper, 'worker'), failsWith('bad-request', /2 processes are named "worker" .*give "pid" to say which one/));
	});

	test('freeze and thaw: the whole tree, and the state says so', async () => {
		const { helper, tree, pid, told } = await attached();
		const child = helper.spawn('child', { parent: pid });
		await tree.freeze();
		assert.equal(tree.state, 'frozen');
		assert.ok(helper.isFrozen(pid) && helper.isFrozen(child), 'the root and its child are frozen');
		await tree.thaw();
		assert.equal(tree.state, 'running');
		assert.ok(!helper.isFrozen(pid) && !helper.isFrozen(child));
		assert.deepEqual(told.states, ['frozen', 'running']);
	});

	test('letting go thaws a frozen tree and leaves a running one alone', async () => {
		const frozen = await attached();
		await frozen.tree.freeze();
		await frozen.tree.detach();
		assert.equal(frozen.helper.isFrozen(frozen.pid), false);
		assert.equal(frozen.tree.state, 'gone');
		const running = await attached();
		await running.tree.detach();
		assert.ok(!running.helper.calls.includes(`thaw ${running.pid}`), `no thaw asked for: ${running.helper.calls.join(', ')}`);
		assert.ok(running.helper.isAlive(running.pid));
	});

	test('kill ends the tree; what comes after says it is gone', async () => {
		const { helper, tree, pid } = await attached();
		await tree.kill();
		assert.equal(tree.state, 'gone');
		assert.equal(helper.isAlive(pid), false);
		await assert.rejects(tree.freeze(), failsWith('no-such-process', new RegExp(`cannot pause: the tree rooted at ${pid} is gone`)));
	});
});

describe('DebuggedTree: checkpoints', () => {
	test('a running tree runs on after its checkpoint; the checkpoint is in the timeline and the store', async () => {
		const { helper, tree, pid, told } = await attached();
		const stages: string[] = [];
		const checkpoint = await tree.checkpoint('first', { onProgress: (p) => stages.push(p.stage) });
		assert.equal(checkpoint.name, 'first');
		assert.equal(checkpoint.rootPid, pid);
		assert.deepEqual(stages, ['leak-scan', 'dumping']);
		assert.equal(tree.state, 'running');
		assert.equal(helper.isFrozen(pid), false);
		assert.deepEqual(told.states, ['checkpointing', 'running']);
		assert.equal(told.checkpointsChanged, 1);
		assert.deepEqual(tree.timeline, [checkpoint.id]);
		assert.deepEqual(helper.checkpoints.map((c) => c.id), [checkpoint.id]);
	});

	test('a paused tree stays paused after its checkpoint', async () => {
		const { helper, tree, pid, told } = await attached();
		await tree.freeze();
		await tree.checkpoint('paused');
		assert.equal(tree.state, 'frozen');
		assert.equal(helper.isFrozen(pid), true);
		assert.deepEqual(told.states, ['frozen', 'checkpointing', 'frozen']);
	});

	for (const before of ['running', 'frozen'] as const) {
		test(`a checkpoint CRIU fails on leaves a ${before} tree ${before}, and nothing in the store`, async () => {
			const { helper, tree, pid } = await attached();
			if (before === 'frozen') await tree.freeze();
			helper.failNext('dump', criuFailed());
			await assert.rejects(tree.checkpoint('x'), (err: unknown) => err instanceof CheckpointError && err.kind === 'criu-failed' && /pipe is half-closed/.test(err.describe()));
			assert.equal(tree.state, before);
			assert.equal(helper.isFrozen(pid), before === 'frozen');
			assert.deepEqual(helper.checkpoints, []);
			assert.deepEqual(tree.timeline, []);
		});
	}

	test('a leak whose policy is fail refuses the checkpoint before anything is frozen; the policy lets the next one go ahead', async () => {
		const { helper, tree, pid } = await attached({ leaks: [pipeLeak()] });
		await assert.rejects(tree.checkpoint('refused'), (err: unknown) => err instanceof CheckpointError && err.kind === 'leaks-refused' && err.leaks[0]?.resource === 'pipe:[1234]');
		assert.equal(tree.state, 'running');
		assert.ok(!helper.calls.includes(`freeze ${pid}`));
		assert.deepEqual(helper.checkpoints, []);
		tree.policy = [{ kind: pb.LeakKind.LEAK_KIND_PIPE, resource: '', policy: pb.LeakPolicy.LEAK_POLICY_WARN }];
		const checkpoint = await tree.checkpoint('warned');
		assert.equal(checkpoint.leaks?.leaks[0]?.policy, pb.LeakPolicy.LEAK_POLICY_WARN);
		assert.equal((await tree.leaks()).leaks[0]?.policy, pb.LeakPolicy.LEAK_POLICY_WARN, 'leaks() applies the same rules');
	});

	test('a checkpoint cancelled while CRIU dumps is not kept, and the tree is as it was', async () => {
		const { helper, tree } = await attached();
		const release = helper.hold('dump');
		const cancel = new AbortController();
		const taking = tree.checkpoint('to cancel', { cancel: cancel.signal });
		assert.equal(tree.state, 'checkpointing');
		await assert.rejects(tree.freeze(), failsWith('bad-request', /cannot pause while checkpointing: wait until it finishes/));
		cancel.abort();
		release();
		await assert.rejects(taking, failsWith('cancelled', /the checkpoint was cancelled: CRIU finished its dump .* not kept/));
		assert.deepEqual(helper.checkpoints, []);
		assert.equal(tree.state, 'running');
	});

	test('checkpoints(): this tree\'s, oldest first; rename and delete tell the listener', async () => {
		const { helper, tree, told } = await attached();
		const other = helper.spawn('other');
		await helper.dump(other, { leaveRunning: true });
		const a = await tree.checkpoint('a');
		const b = await tree.checkpoint('b');
		assert.deepEqual((await tree.checkpoints()).map((c) => c.name), ['a', 'b']);
		assert.equal((await tree.renameCheckpoint(a.id, 'renamed')).name, 'renamed');
		await tree.deleteCheckpoint(b.id);
		assert.deepEqual((await tree.checkpoints()).map((c) => c.name), ['renamed']);
		assert.deepEqual(tree.timeline, [a.id]);
		assert.equal(told.checkpointsChanged, 4);
	});

	test('a damaged checkpoint of the store (its manifest unreadable, so of no known program) is in every tree\'s, first, and can be deleted', async () => {
		const { helper, tree } = await attached();
		const a = await tree.checkpoint('a');
		helper.addDamaged('broken', 'the manifest of checkpoint broken cannot be decoded');
		const { mine } = await tree.checkpointsInStore();
		assert.deepEqual(mine.map((c) => [c.id, c.damaged]), [['broken', 'the manifest of checkpoint broken cannot be decoded'], [a.id, '']]);
		await tree.deleteCheckpoint('broken');
		assert.deepEqual((await tree.checkpoints()).map((c) => c.id), [a.id]);
	});

	test('sharePages (default true): each checkpoint stands on the one before; false keeps every page, the restore\'s checkpoint of the present too', async () => {
		const { helper, tree } = await attached();
		const other = helper.spawn('other');
		const elsewhere = await helper.dump(other, { leaveRunning: true });
		const a = await tree.checkpoint('a');
		const b = await tree.checkpoint('b');
		assert.deepEqual([a.parent, b.parent], ['', a.id], 'not on a checkpoint of another tree');
		const { mine, all } = await tree.checkpointsInStore();
		assert.deepEqual(mine.map((c) => c.id), [a.id, b.id]);
		assert.deepEqual(all.map((c) => c.id), [elsewhere.id, a.id, b.id]);

		tree.sharePages = false;
		const c = await tree.checkpoint('c');
		const { saved } = await tree.restore(a.id);
		assert.deepEqual([c.parent, c.sharing, saved?.parent], ['', null, '']);
	});
});

describe('DebuggedTree: restore', () => {
	test('saves the present first ("before restore to ..."), then brings the checkpoint back; the tree runs', async () => {
		const { helper, tree, pid, told } = await attached();
		const checkpoint = await tree.checkpoint('good state');
		helper.spawn('late-child', { parent: pid });
		await tree.freeze();
		const outcome = await tree.restore(checkpoint.id);
		assert.equal(outcome.saved?.name, beforeRestoreName(checkpoint));
		assert.equal(outcome.saved?.name, 'before restore to good state');
		assert.equal(outcome.restored.rootPid, pid);
		assert.equal(tree.state, 'running');
		assert.equal(helper.isFrozen(pid), false);
		assert.deepEqual((await tree.processes()).map((p) => p.comm), ['workload'], 'the child born after the checkpoint is gone');
		assert.deepEqual(told.states, ['checkpointing', 'running', 'frozen', 'checkpointing', 'frozen', 'restoring', 'running']);
		assert.deepEqual(helper.checkpoints.map((c) => c.name), ['good state', 'before restore to good state']);
	});

	test('restored frozen: the tree is frozen; where a debugger held the present goes with the checkpoint of it', async () => {
		const { helper, tree, pid, told } = await attached();
		const checkpoint = await tree.checkpoint('at a breakpoint', { debuggerStop: { pid, tid: pid, reason: 'breakpoint', location: 'advance (debuggee.c:30)' } });
		assert.equal(checkpoint.debuggerStop?.location, 'advance (debuggee.c:30)');
		await tree.freeze();
		await tree.holdByDebugger([pid]);
		const outcome = await tree.restore(checkpoint.id, { frozen: true, debuggerStop: { pid, tid: pid, reason: 'step', location: 'main (debuggee.c:90)' } });
		assert.equal(outcome.saved?.debuggerStop?.reason, 'step');
		assert.equal(outcome.restored.frozen, true);
		assert.equal(tree.state, 'frozen');
		assert.equal(helper.isFrozen(pid), true);
		assert.deepEqual(told.states.slice(-2), ['restoring', 'frozen']);
	});

	test('saveCurrent false saves nothing; an unknown checkpoint is refused before anything is saved', async () => {
		const { helper, tree } = await attached();
		const checkpoint = await tree.checkpoint('');
		assert.equal((await tree.restore(checkpoint.id, { saveCurrent: false })).saved, undefined);
		await assert.rejects(tree.restore('ck-99'), failsWith('not-found', /there is no checkpoint ck-99 on root@fake:22/));
		assert.equal(helper.checkpoints.length, 1);
	});

	test('refused before anything was killed: the tree stays as it was, and the checkpoint of the present stays in the store, named in the error', async () => {
		const { helper, tree, pid } = await attached();
		const checkpoint = await tree.checkpoint('good state');
		await tree.freeze();
		helper.failNext('restore', new CheckpointError('external-gone', 'the pipe pipe:[1234] handed to CRIU as external has no live holder any more; nothing was killed'));
		await assert.rejects(tree.restore(checkpoint.id), (err: unknown) => {
			const saved = helper.checkpoints.find((c) => c.name === 'before restore to good state');
			assert.ok(saved, 'the present was saved');
			return failsWith('external-gone', new RegExp(`nothing was killed\\. The present state was saved first, as checkpoint ${saved.id}$`))(err);
		});
		assert.equal(tree.state, 'frozen');
		assert.ok(helper.isAlive(pid) && helper.isFrozen(pid));
		assert.equal(tree.timeline.length, 2);
		// The session goes on: the tree can be restored again.
		await tree.thaw();
		assert.equal((await tree.restore(checkpoint.id, { saveCurrent: false })).restored.rootPid, pid);
	});

	test('CRIU failing after the running tree was killed: the tree is gone, says so, and a restore of the checkpoint of the present brings it back', async () => {
		const { helper, tree, pid } = await attached();
		const checkpoint = await tree.checkpoint('good state');
		helper.failNext('restore', criuFailed(), { treeKilled: true });
		await assert.rejects(tree.restore(checkpoint.id), failsWith('criu-failed',
			/^CRIU failed to checkpoint process 100\. The running tree was killed before the restore failed; restore a checkpoint to bring it back\. The present state was saved first, as checkpoint ck-2$/));
		assert.equal(tree.state, 'gone');
		assert.equal(helper.isAlive(pid), false);
		assert.deepEqual(helper.checkpoints.map((c) => c.name), ['good state', 'before restore to good state']);
		await assert.rejects(tree.freeze(), failsWith('no-such-process', /is gone \(restore a checkpoint to bring it back\)/));
		const outcome = await tree.restore('ck-2');
		assert.equal(outcome.saved, undefined, 'nothing to save of a tree that is gone');
		assert.equal(tree.state, 'running');
		assert.ok(helper.isAlive(pid));
		assert.equal(helper.checkpoints.length, 2);
	});

	test('the checkpoint of the present refused for a leak: nothing is replaced', async () => {
		const { helper, tree, pid } = await attached();
		const checkpoint = await tree.checkpoint('clean');
		helper.spawn('pipe-writer', { parent: pid, leaks: [pipeLeak()] });
		await assert.rejects(tree.restore(checkpoint.id), (err: unknown) => err instanceof CheckpointError && err.kind === 'leaks-refused');
		assert.equal(tree.state, 'running');
		assert.deepEqual((await tree.processes()).map((p) => p.comm), ['workload', 'pipe-writer'], 'nothing was replaced');
		assert.ok(!helper.calls.some((c) => c.startsWith('restore')), `no restore asked for: ${helper.calls.join(', ')}`);
	});

	test('cancelled after the present was saved: nothing is replaced, and the error names the saved checkpoint', async () => {
		const { helper, tree, pid } = await attached();
		const checkpoint = await tree.checkpoint('good state');
		const cancel = new AbortController();
		const release = helper.hold('dump');
		const restoring = tree.restore(checkpoint.id, { cancel: cancel.signal });
		cancel.abort();
		release();
		await assert.rejects(restoring, failsWith('cancelled', /the restore was cancelled before anything was replaced; the current state stays, and is also saved as ck-2/));
		assert.equal(tree.state, 'running');
		assert.ok(!helper.calls.some((c) => c.startsWith('restore')));
		assert.ok(helper.isAlive(pid));
	});
});
