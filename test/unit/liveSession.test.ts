/**
 * LiveDebugSession over DAP (DebugClient, the adapter served in-process as
 * the integration tests serve it), with the in-memory helper of
 * fakeHelper.ts below it instead of a target host: attach and launch, pause
 * and continue, checkpoints, restores, leaks and their policy, the custom
 * events; and the promises a user relies on: a failed or refused checkpoint
 * leaves the tree as it was and says what to do, a failed restore keeps the
 * checkpoint of the present and the session goes on, a dropped connection
 * ends the session in words and lets the helper go (which thaws the tree),
 * disconnect thaws.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { CheckpointError } from '../../src/core/errors';
import { LiveDebugSession } from '../../src/debug/liveSession';
import { CONNECTIONS_MOVED_ON, CUSTOM } from '../../src/debug/messages';
import { consoleOutput, customEvents, customRequest, nextCustomEvent, withClient } from '../support/dap';
import { FakeHelper, FakeSessions } from './fakeHelper';
import { pipeLeak } from './leaks.fixtures';

/** Short, so that the tree's end and a lost connection are seen at once. */
const WATCH_MS = 20;
const TIMEOUT = { timeout: 10_000 };

/** A client on a fresh adapter over `helper`, and what the adapter sent it. */
interface Live {
	helper: FakeHelper;
	sessions: FakeSessions;
	dc: DebugClient;
	/** The Debug Console, as category: text. */
	output: string[];
	states: Array<{ state: string; rootPid: number; target: string }>;
}

/** Runs `body` against a fresh adapter over `helper`, and its client. */
function withLive(body: (live: Live) => Promise<void>, helper = new FakeHelper()): Promise<void> {
	const sessions = new FakeSessions(helper);
	return withClient(() => new LiveDebugSession(sessions, WATCH_MS), async (dc) => {
		const output = consoleOutput(dc);
		await dc.initializeRequest({ adapterID: 'checkpoint', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
		await body({ helper, sessions, dc, output, states: customEvents(dc, CUSTOM.stateEvent) });
	});
}

/** Attaches to pid on the fake target and finishes the configuration sequence. */
async function attach(live: Live, pid: number, extra: Record<string, unknown> = {}): Promise<void> {
	const initialized = live.dc.waitForEvent('initialized');
	await live.dc.attachRequest({ target: 'fake', pid, ...extra } as DebugProtocol.AttachRequestArguments);
	await initialized;
	await live.dc.configurationDoneRequest();
}

async function pause(live: Live, pid: number): Promise<DebugProtocol.StoppedEvent> {
	const stopped = live.dc.waitForEvent('stopped');
	await live.dc.pauseRequest({ threadId: pid });
	return (await stopped) as DebugProtocol.StoppedEvent;
}

const treeState = async (live: Live): Promise<string> => (await customRequest(live.dc, CUSTOM.treeState, {})).state;

/** Waits (every WATCH_MS, up to 5 s) until ok(); then fails saying what was there. */
async function waitFor(ok: () => boolean, what: () => string): Promise<void> {
	for (let i = 0; i < 5000 / WATCH_MS && !ok(); i++) await new Promise((r) => setTimeout(r, WATCH_MS));
	assert.ok(ok(), what());
}
const errorOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
/** assert.rejects matcher: the error's message matches every pattern. */
const saying = (...patterns: RegExp[]) => (err: unknown): boolean => {
	for (const p of patterns) assert.match(errorOf(err), p);
	return true;
};
const criuFailed = (what = 'checkpoint process 100'): CheckpointError => new CheckpointError('criu-failed', `CRIU failed to ${what}`, { message: 'Can\'t dump half of a pipe', log: ['Error (criu/pipes.c:123): pipe is half-closed'], logPath: '/var/lib/checkpoint-debugger/checkpoints/.failed/ck-dump.log' });

describe('LiveDebugSession: attach, threads, pause and continue', TIMEOUT, () => {
	test('attach: the tree\'s state as an event, its threads by name; pause freezes the whole tree, continue thaws it', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload', { threads: ['worker-1'] });
		const child = live.helper.spawn('child', { parent: pid });
		await attach(live, pid);
		assert.deepEqual(live.states, [{ state: 'running', rootPid: pid, target: 'root@fake:22' }]);
		assert.ok(live.output.includes(`console: Attached to process ${pid} on root@fake:22 (running).\n`), live.output.join(''));
		const threads = (await live.dc.threadsRequest()).body.threads;
		assert.deepEqual(threads.map((t) => [t.id, t.name]), [[pid, `${pid}/${pid} workload`], [pid + 1, `${pid}/${pid + 1} worker-1`], [child, `${child}/${child} child`]]);

		const stopped = await pause(live, pid);
		assert.equal(stopped.body.reason, 'pause');
		assert.equal(stopped.body.allThreadsStopped, true);
		assert.ok(live.helper.isFrozen(pid) && live.helper.isFrozen(child), 'the whole tree is frozen');
		assert.equal(await treeState(live), 'frozen');

		const frames = (await live.dc.stackTraceRequest({ threadId: pid + 1 })).body.stackFrames;
		assert.equal(frames.length, 1);
		assert.equal(frames[0].name, `${pid}/${pid + 1} worker-1 (frozen; take a checkpoint and open its snapshot for registers and stack)`);
		const scopes = (await live.dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
		assert.deepEqual(scopes.map((s) => s.name), ['Process']);
		const variables = (await live.dc.variablesRequest({ variablesReference: scopes[0].variablesReference })).body.variables;
		assert.equal(variables.find((v) => v.name === 'pid')?.value, String(pid));
		assert.equal(variables.find((v) => v.name === 'frozen')?.value, 'true');

		assert.equal((await live.dc.continueRequest({ threadId: pid })).body.allThreadsContinued, true);
		assert.equal(live.helper.isFrozen(pid), false);
		assert.deepEqual(live.states.map((s) => s.state), ['running', 'frozen', 'running']);
	}));

	test('a tree frozen already is attached paused: all threads stopped at once', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await live.helper.freeze(pid);
		const stopped = live.dc.waitForEvent('stopped');
		await attach(live, pid);
		assert.equal(((await stopped) as DebugProtocol.StoppedEvent).body.allThreadsStopped, true);
		assert.equal(await treeState(live), 'frozen');
	}));

	test('a configuration that cannot attach is refused in words, and the helper session it took is let go', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		const cases: Array<[Record<string, unknown>, RegExp]> = [
			[{ target: 'fake' }, /needs "pid" \(or "\$\{command:checkpoint\.pickProcess\}"\) or "processName"/],
			[{ target: 'fake', processName: 'nginx' }, /no process named "nginx" runs on root@fake:22/],
			[{ target: 'fake', pid: 4242 }, /process 4242 does not exist/],
			[{ target: 'fake', pid: 'abc' }, /"pid" must be a process id, not "abc"/],
			[{ pid }, /needs "target"/],
			[{ target: 'elsewhere', pid }, /cannot connect to elsewhere/],
			[{ target: 'fake', pid, leakPolicy: { pipe: 'maybe' } }, /the launch configuration's "leakPolicy", "pipe": "maybe" is not a leak policy/],
		];
		for (const [args, message] of cases) {
			await assert.rejects(live.dc.attachRequest(args as DebugProtocol.AttachRequestArguments), saying(message), JSON.stringify(args));
		}
		// DAP lets a client leave the arguments out altogether
		const none = undefined as unknown as DebugProtocol.AttachRequestArguments;
		await assert.rejects(live.dc.attachRequest(none), saying(/needs "target"/), 'no arguments');
		await assert.rejects(live.dc.launchRequest(none), saying(/"program" must be an absolute path on the target, not undefined/), 'no arguments');
		assert.equal(live.sessions.held, 0);
		assert.ok(live.helper.isAlive(pid) && !live.helper.isFrozen(pid));
	}));

	test('disconnect while paused thaws the tree and leaves it running, even when asked to terminate it', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await pause(live, pid);
		await live.dc.disconnectRequest({ terminateDebuggee: true });
		assert.ok(live.helper.isAlive(pid), 'an attached tree is the user\'s: not killed');
		assert.equal(live.helper.isFrozen(pid), false);
		assert.ok(live.helper.calls.includes(`thaw ${pid}`));
		assert.equal(live.sessions.held, 0);
	}));

	test('Terminate on an attached tree asks the editor first; kill, once the user said so, ends it', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		const asked = nextCustomEvent(live.dc, CUSTOM.confirmKillEvent);
		await live.dc.terminateRequest({});
		assert.deepEqual(await asked, { rootPid: pid });
		assert.ok(live.helper.isAlive(pid), 'nothing killed by asking');
		const terminated = live.dc.waitForEvent('terminated');
		await customRequest(live.dc, CUSTOM.kill, {});
		await terminated;
		assert.equal(live.helper.isAlive(pid), false);
	}));

	test('the program ending on its own ends the session, in words', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		const terminated = live.dc.waitForEvent('terminated');
		live.helper.exit(pid, 0);
		await terminated;
		assert.ok(live.output.includes(`console: Process ${pid} exited; its checkpoints stay in the store.\n`), live.output.join(''));
		assert.ok(!live.output.some((o) => /Lost the connection/.test(o)), live.output.join(''));
		assert.equal(live.sessions.held, 0);
	}));
});

describe('LiveDebugSession: checkpoints', TIMEOUT, () => {
	test('take, list, rename, delete: the answers, the progress, state, leaks and checkpoints events, the Debug Console', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		const progress = customEvents(live.dc, CUSTOM.progressEvent);
		const leaks = customEvents(live.dc, CUSTOM.leaksEvent);
		const changed = customEvents(live.dc, CUSTOM.checkpointsEvent);
		const { checkpoint } = await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'first' });
		assert.deepEqual([checkpoint.id, checkpoint.name, checkpoint.rootPid, checkpoint.processes, checkpoint.frozenMs], ['ck-1', 'first', pid, 1, 42]);
		assert.deepEqual(checkpoint.leaks, { brief: 'none', summary: 'no leaks; consistent', inconsistent: false, changes: [], warned: [] });
		assert.deepEqual(progress.map((p) => p.stage), ['leak-scan', 'dumping']);
		assert.deepEqual(live.states.map((s) => s.state), ['running', 'checkpointing', 'running']);
		assert.deepEqual(leaks.map((l) => [l.reason, l.rootPid]), [['checkpoint', pid]]);
		assert.equal(changed.length, 1);
		assert.ok(live.output.some((o) => /^console: Checkpoint ck-1 "first" taken \(\S+ \S+, frozen 42 ms\)\.\n$/.test(o)), live.output.join(''));
		assert.equal(live.helper.isFrozen(pid), false, 'a running tree runs on');

		assert.deepEqual((await customRequest(live.dc, CUSTOM.listCheckpoints, {})).checkpoints.map((c) => c.id), ['ck-1']);
		const renamed = live.dc.waitForEvent(CUSTOM.checkpointsEvent);
		assert.equal((await customRequest(live.dc, CUSTOM.renameCheckpoint, { id: 'ck-1', name: 'renamed' })).checkpoint.name, 'renamed');
		await renamed;
		assert.deepEqual((await customRequest(live.dc, CUSTOM.listCheckpoints, {})).checkpoints.map((c) => c.name), ['renamed']);
		await customRequest(live.dc, CUSTOM.deleteCheckpoint, { id: 'ck-1' });
		assert.deepEqual((await customRequest(live.dc, CUSTOM.listCheckpoints, {})).checkpoints, []);
		assert.deepEqual(live.helper.checkpoints, []);
	}));

	test('a checkpoint shares pages with the one before (sharePages, on by default): the list gives its parent, what it shares and its size with parents', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'first' });
		const { checkpoint } = await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'second' });
		assert.deepEqual([checkpoint.parent, checkpoint.sharing, checkpoint.sizeBytes], [{ id: 'ck-1', name: '' }, { sharedPages: 250, ownPages: 50 }, 50 * 4096]);
		assert.ok(live.output.some((o) => /^console: Checkpoint ck-2 "second" taken \(200 KiB, 1000 KiB shared with ck-1, frozen 42 ms\)\.\n$/.test(o)), live.output.join(''));
		const [first, second] = (await customRequest(live.dc, CUSTOM.listCheckpoints, {})).checkpoints;
		assert.deepEqual([first.parent, first.sizeWithParentsBytes], [undefined, 300 * 4096]);
		assert.deepEqual([second.parent, second.sizeWithParentsBytes], [{ id: 'ck-1', name: 'first' }, 350 * 4096]);
		// deleting the one it stands on hands it the pages: it holds them, standing on nothing
		await customRequest(live.dc, CUSTOM.deleteCheckpoint, { id: 'ck-1' });
		const [alone] = (await customRequest(live.dc, CUSTOM.listCheckpoints, {})).checkpoints;
		assert.deepEqual([alone.id, alone.parent, alone.sizeBytes, alone.sizeWithParentsBytes], ['ck-2', undefined, 350 * 4096, 350 * 4096]);
	}));

	test('sharePages false (the setting, or the launch configuration): every checkpoint keeps every page', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid, { sharePages: false });
		await customRequest(live.dc, CUSTOM.takeCheckpoint, {});
		const { checkpoint } = await customRequest(live.dc, CUSTOM.takeCheckpoint, {});
		assert.deepEqual([checkpoint.parent, checkpoint.sharing, checkpoint.sizeBytes], [undefined, undefined, 300 * 4096]);
		// the checkpoint a restore takes of the present too
		await customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1' });
		assert.deepEqual(live.helper.checkpoints.map((c) => c.parent), ['', '', '']);
	}));

	test('a paused tree stays paused through its checkpoint', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await pause(live, pid);
		await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'paused' });
		assert.equal(live.helper.isFrozen(pid), true);
		assert.equal(await treeState(live), 'frozen');
		assert.deepEqual(live.states.map((s) => s.state), ['running', 'frozen', 'checkpointing', 'frozen']);
	}));

	for (const paused of [false, true]) {
		const as = paused ? 'paused' : 'running';
		test(`a checkpoint CRIU fails on: the error in CRIU's words with its log, the tree still ${as}, nothing stored`, () => withLive(async (live) => {
			const pid = live.helper.spawn('workload');
			await attach(live, pid);
			if (paused) await pause(live, pid);
			const changed = customEvents(live.dc, CUSTOM.checkpointsEvent);
			live.helper.failNext('dump', criuFailed());
			await assert.rejects(customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'x' }), saying(
				/^CRIU failed to checkpoint process 100\nCRIU: Can't dump half of a pipe\nCRIU log:\n {2}Error \(criu\/pipes\.c:123\): pipe is half-closed\n/,
				/Full CRIU log on the target: \/var\/lib\/checkpoint-debugger\/checkpoints\/\.failed\/ck-dump\.log$/,
			));
			assert.equal(await treeState(live), paused ? 'frozen' : 'running');
			assert.equal(live.helper.isFrozen(pid), paused);
			assert.deepEqual(live.helper.checkpoints, []);
			assert.equal(changed.length, 0);
			assert.equal(live.states[live.states.length - 1].state, paused ? 'frozen' : 'running');
		}));
	}

	test('a checkpoint refused for a leak: the leaks with the refusal first, then an error with the choices and the setting to write; nothing frozen or written; the setting lets the next one through', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload', { leaks: [pipeLeak()] });
		await attach(live, pid);
		await pause(live, pid);
		const leaks = customEvents(live.dc, CUSTOM.leaksEvent);
		await assert.rejects(customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'refused' }), saying(
			/^Checkpoint refused: the tree shares pipe pipe:\[1234\] \(outside: 88 cat \(fd 0 \(read end\)\), 89 tee \(fd 0 \(read end\)\) and 3 more\) with processes outside it, and the leak policy is fail for it\. Nothing was frozen or written; the program stays paused\./,
			/^pipe pipe:\[1234\]: the choices are warn \(checkpoint it as CRIU does/m,
			/To go ahead, set e\.g\. \{ "pipe": "warn" \} in the setting checkpoint\.leakPolicy/,
		));
		assert.equal(leaks.length, 1, 'the refusal came with the leaks, before the answer');
		assert.equal(leaks[0].reason, 'refused');
		assert.deepEqual(leaks[0].refusal?.suggested, { pipe: 'warn' });
		assert.equal(leaks[0].refusal?.state, 'frozen');
		assert.deepEqual(live.helper.checkpoints, []);
		assert.equal(await treeState(live), 'frozen');

		await assert.rejects(customRequest(live.dc, CUSTOM.setLeakPolicy, { setting: { pipe: 'maybe' } }), saying(/"pipe": "maybe" is not a leak policy/));
		assert.deepEqual((await customRequest(live.dc, CUSTOM.leaks, {})).policy, {}, 'a bad setting changes nothing');
		assert.deepEqual((await customRequest(live.dc, CUSTOM.setLeakPolicy, { setting: { pipe: 'warn' } })).policy, { pipe: 'warn' });
		const listed = await customRequest(live.dc, CUSTOM.leaks, {});
		assert.deepEqual(listed.leaks.map((l) => [l.kind, l.policy]), [['pipe', 'warn']]);
		assert.equal(listed.reason, 'request');
		const { checkpoint } = await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'warned' });
		assert.deepEqual(checkpoint.leaks?.warned, ['pipe pipe:[1234]']);
		assert.ok(live.output.includes('console:   1 leak: 1 warned; consistent; warned: pipe pipe:[1234].\n'), live.output.join(''));
	}));

	test('the launch configuration\'s leakPolicy wins over the setting, also over a setting pushed later', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload', { leaks: [pipeLeak()] });
		await attach(live, pid, { leakPolicy: { pipe: 'ignore' }, leakPolicySetting: { pipe: 'fail' } });
		await customRequest(live.dc, CUSTOM.setLeakPolicy, { setting: { pipe: 'fail' } });
		const { checkpoint } = await customRequest(live.dc, CUSTOM.takeCheckpoint, {});
		assert.deepEqual(checkpoint.leaks?.warned, [], 'ignored: neither refused nor warned about');
		assert.equal(checkpoint.name, '');
	}));

	test('Cancel: a checkpoint under way is not kept, and the tree runs on', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		const release = live.helper.hold('dump');
		const taking = customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'to cancel' });
		await customRequest(live.dc, CUSTOM.cancel, {});
		release();
		await assert.rejects(taking, saying(/^the checkpoint was cancelled: CRIU finished its dump/));
		assert.deepEqual(live.helper.checkpoints, []);
		assert.equal(await treeState(live), 'running');
	}));

	test('requests with arguments that are not what they should be are refused in words', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		const cases: Array<[string, unknown, RegExp]> = [
			[CUSTOM.restoreCheckpoint, {}, /say which checkpoint: "id" is missing/],
			[CUSTOM.restoreCheckpoint, { id: 'ck-1', tcpClose: 'yes' }, /"tcpClose" must be a boolean, not "yes"/],
			[CUSTOM.renameCheckpoint, { id: 'ck-1' }, /say the new name: "name" is missing/],
			[CUSTOM.deleteCheckpoint, null, /say which checkpoint: "id" is missing/],
			[CUSTOM.takeCheckpoint, { name: 3 }, /"name" must be a string, not 3/],
			['checkpoint/nope', {}, /unknown request "checkpoint\/nope"/],
		];
		for (const [command, args, message] of cases) await assert.rejects(live.dc.customRequest(command, args), saying(message), command);
		assert.deepEqual(live.helper.checkpoints, []);
	}));
});

describe('LiveDebugSession: restore', TIMEOUT, () => {
	test('restore saves the present first, brings the checkpoint back, and a paused tree runs again', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'good' });
		live.helper.spawn('late', { parent: pid });
		await pause(live, pid);
		const continued = live.dc.waitForEvent('continued');
		const ofSaved = nextCustomEvent(live.dc, CUSTOM.leaksEvent);
		const rescanned = nextCustomEvent(live.dc, CUSTOM.leaksEvent, (body) => body.reason === 'restore');
		const restored = await customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1' });
		assert.equal(restored.rootPid, pid);
		assert.equal(restored.saved?.name, 'before restore to good');
		assert.equal(((await continued) as DebugProtocol.ContinuedEvent).body.allThreadsContinued, true);
		assert.equal((await ofSaved).reason, 'checkpoint', 'first the leaks the checkpoint of the present found');
		assert.equal((await rescanned).rootPid, pid, 'then the restored tree\'s');
		assert.ok(live.output.includes(`console: The replaced state was saved as checkpoint ${restored.saved.id}.\n`), live.output.join(''));
		assert.ok(live.output.includes(`console: Restored checkpoint ck-1: the tree runs again as pid ${pid} (1 process).\n`), live.output.join(''));
		assert.equal(live.helper.isFrozen(pid), false);
		assert.equal(await treeState(live), 'running');
		assert.deepEqual((await live.dc.threadsRequest()).body.threads.map((t) => t.id), [pid], 'the child born after the checkpoint is gone');
		assert.deepEqual((await customRequest(live.dc, CUSTOM.listCheckpoints, {})).checkpoints.map((c) => c.name), ['good', 'before restore to good']);
	}));

	test('a lazy restore (the launch configuration\'s lazyRestore, on by default): its end in the Debug Console; a failed one says so, and the tree is gone', () => withLive(async (live) => {
		live.helper.lazyPages = true;
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'good' });
		await customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1' });
		live.helper.endLazy('ck-1', true);
		const allIn = 'console: Every page of checkpoint ck-1 is in (420 ms after the restore started; it ran from the start).\n';
		await waitFor(() => live.output.includes(allIn), () => live.output.join(''));
		const restoredLine = live.output.findIndex((o) => o.startsWith('console: Restored checkpoint ck-1'));
		assert.ok(restoredLine >= 0 && restoredLine < live.output.indexOf(allIn), 'the restore\'s own line first');
		// a quick daemon, done before the restore is answered: still said after the restore's own line
		live.helper.lazyEndsAtOnce = true;
		const linesBefore = live.output.length;
		await customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1', saveCurrent: false });
		await waitFor(() => live.output.slice(linesBefore).includes(allIn), () => live.output.join(''));
		const fresh = live.output.slice(linesBefore);
		assert.ok(fresh.findIndex((o) => o.startsWith('console: Restored checkpoint ck-1')) < fresh.indexOf(allIn), fresh.join(''));
		live.helper.lazyEndsAtOnce = false;
		await customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1', saveCurrent: false });
		live.helper.endLazy('ck-1', false);
		await waitFor(() => live.output.some((o) => o.startsWith('stderr: Lazy restore of checkpoint ck-1: CRIU\'s lazy-pages daemon was killed by signal 9')), () => live.output.join(''));
		assert.equal(await treeState(live), 'gone');
		assert.equal(live.helper.isAlive(pid), false);
	}));

	test('a failed restore keeps the checkpoint of the present in the store, says which it is, and the session goes on', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'good' });
		live.helper.failNext('restore', new CheckpointError('external-gone', 'the pipe handed to CRIU as external has no live holder any more; nothing was killed'));
		const changed = live.dc.waitForEvent(CUSTOM.checkpointsEvent);
		await assert.rejects(customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1' }), saying(/nothing was killed\. The present state was saved first, as checkpoint ck-2$/));
		await changed;
		assert.deepEqual((await customRequest(live.dc, CUSTOM.listCheckpoints, {})).checkpoints.map((c) => [c.id, c.name]), [['ck-1', 'good'], ['ck-2', 'before restore to good']]);
		assert.equal(await treeState(live), 'running');
		assert.ok(live.helper.isAlive(pid));
		await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'after' });
		assert.equal((await customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-2', saveCurrent: false })).rootPid, pid);
	}));

	test('a restore that failed after the running tree was killed: the session goes on, and the checkpoint of the present brings it back', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'good' });
		live.helper.failNext('restore', criuFailed('restore checkpoint ck-1'), { treeKilled: true });
		await assert.rejects(customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1' }), saying(
			/^CRIU failed to restore checkpoint ck-1\. The running tree was killed before the restore failed; restore a checkpoint to bring it back\. The present state was saved first, as checkpoint ck-2\n/,
		));
		assert.equal(await treeState(live), 'gone');
		await new Promise((resolve) => setTimeout(resolve, 5 * WATCH_MS));
		assert.ok(!live.output.some((o) => /Lost the connection|exited/.test(o)), `the session did not end: ${live.output.join('')}`);
		const restored = await customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-2' });
		assert.deepEqual([restored.rootPid, restored.saved], [pid, undefined], 'nothing to save of a tree that is gone');
		assert.equal(await treeState(live), 'running');
		assert.ok(live.helper.isAlive(pid));
	}));

	test('TCP connections that moved on: refused so that the editor can offer to restore them closed; restored closed when asked', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await customRequest(live.dc, CUSTOM.takeCheckpoint, { name: 'connected' });
		live.helper.failNext('restore', new CheckpointError('connection-moved-on', 'The TCP connection 127.0.0.1:4000 -> 127.0.0.1:5000 (10 bytes received, 0 written) carried data since the checkpoint. Nothing was killed'));
		await assert.rejects(customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1' }), (err: unknown) => errorOf(err).startsWith(`${CONNECTIONS_MOVED_ON}The TCP connection 127.0.0.1:4000`));
		const restored = await customRequest(live.dc, CUSTOM.restoreCheckpoint, { id: 'ck-1', tcpClose: true, saveCurrent: false });
		assert.equal(restored.saved, undefined);
		assert.ok(live.helper.calls.includes('restore ck-1'));
	}));
});

describe('LiveDebugSession: the connection to the target', TIMEOUT, () => {
	test('a dropped connection ends the session in words and lets the helper go, whose end thaws the paused tree', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await pause(live, pid);
		const terminated = live.dc.waitForEvent('terminated');
		live.helper.drop();
		await terminated;
		assert.ok(live.output.some((o) => o.startsWith('stderr: Lost the connection to the target: the helper on root@fake:22 was killed by SIGHUP')), live.output.join(''));
		assert.ok(live.helper.calls.slice(-1)[0] === `thaw ${pid}`, `the adapter asked to thaw last: ${live.helper.calls.join(', ')}`);
		assert.equal(live.sessions.held, 0);
		assert.equal(live.helper.isFrozen(pid), false);
	}));

	test('a helper that stops answering ends the session: the adapter thaws the paused tree itself and says why', () => withLive(async (live) => {
		const pid = live.helper.spawn('workload');
		await attach(live, pid);
		await pause(live, pid);
		const terminated = live.dc.waitForEvent('terminated');
		live.helper.failNext('ps', new CheckpointError('timeout', 'the helper on root@fake:22 did not answer "ps" within 30 s'));
		await terminated;
		assert.ok(live.output.includes('stderr: Lost the connection to the target: the helper on root@fake:22 did not answer "ps" within 30 s\n'), live.output.join(''));
		assert.equal(live.helper.isFrozen(pid), false);
		assert.equal(live.sessions.held, 0);
	}));
});

describe('LiveDebugSession: launch', TIMEOUT, () => {
	async function launch(live: Live, args: Record<string, unknown>): Promise<void> {
		const initialized = live.dc.waitForEvent('initialized');
		await live.dc.launchRequest({ target: 'fake', ...args } as DebugProtocol.LaunchRequestArguments);
		await initialized;
		await live.dc.configurationDoneRequest();
	}

	test('the program\'s output in the Debug Console; its exit ends the session with its code', () => withLive(async (live) => {
		await launch(live, { program: '/usr/bin/counter', args: ['--fast'] });
		const pid = live.states[0].rootPid;
		assert.ok(live.output.includes(`console: Launched /usr/bin/counter --fast as process ${pid} on root@fake:22 (running).\n`), live.output.join(''));
		const printed = live.dc.waitForEvent('output');
		live.helper.write(pid, 'stderr', 'counting\n');
		assert.deepEqual(((await printed) as DebugProtocol.OutputEvent).body, { category: 'stderr', output: 'counting\n' });
		const terminated = live.dc.waitForEvent('terminated');
		live.helper.exit(pid, 3);
		await terminated;
		assert.ok(live.output.includes(`console: Process ${pid} exited with code 3; its checkpoints stay in the store.\n`), live.output.join(''));
	}));

	test('Terminate kills a launched program; a relative path is refused', () => withLive(async (live) => {
		await assert.rejects(live.dc.launchRequest({ target: 'fake', program: 'counter' } as DebugProtocol.LaunchRequestArguments), saying(/"program" must be an absolute path on the target, not "counter"/));
		await launch(live, { program: '/usr/bin/counter' });
		const pid = live.states[0].rootPid;
		const terminated = live.dc.waitForEvent('terminated');
		await live.dc.terminateRequest({});
		await terminated;
		assert.equal(live.helper.isAlive(pid), false);
	}));
});
