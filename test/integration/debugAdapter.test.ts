/**
 * The debug adapters driven over DAP (@vscode/debugadapter-testsupport's
 * DebugClient) against real programs on the target host: attach, pause
 * (frozen, seen from outside), checkpoint, continue, restore (the program's
 * state goes back), disconnect (the program runs on); and a checkpoint opened
 * as a snapshot session (threads, registers, frames, readMemory; the
 * source level of snapshots: snapshotSource.test.ts).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DebugSession } from '@vscode/debugadapter';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ElfSymbols } from '../../src/core/elf';
import { openCheckpoint } from '../../src/core/images/checkpoint';
import { HelperImageSource } from '../../src/core/images/helperSource';
import { LocalImageSource } from '../../src/core/images/source';
import { HelperSession } from '../../src/core/session';
import { SessionPool } from '../../src/core/sessionPool';
import { targetFromSpec } from '../../src/core/targetSpec';
import { LiveDebugSession } from '../../src/debug/liveSession';
import type { LeakJson } from '../../src/core/leaks';
import { pb } from '../../src/core/protocol';
import type { LeaksBody } from '../../src/debug/leakPolicy';
import { CONNECTIONS_MOVED_ON, CUSTOM, type CheckpointSummary } from '../../src/debug/messages';
import { SnapshotDebugSession } from '../../src/debug/snapshotSession';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { downloadCheckpoint } from '../../src/core/download';
import { join } from 'node:path';
import { connectClient, launchSnapshot, serveAdapter } from '../support/dap';
import { allAbove, allAtLeast, allBelow, connectionFilePath, newerCriuTarget, REPO, sshTarget, TargetShell, testPort, WORKLOAD } from './harness';

const TARGET = connectionFilePath();
/** The target again, its helper running the newer CRIU (which can dump TCP connections here). */
const TARGET_NEWER_CRIU = 'target with CRIU 4.2';
let shell: TargetShell;
let helper: HelperSession;
let pool: SessionPool;
let FRAMES = '';
const servers: Server[] = [];
const checkpoints = new Set<string>();

/** An adapter listening on a port: each connection gets a fresh session, as VS Code's inline factory does. */
async function serve(make: () => DebugSession): Promise<number> {
	const { server, port } = await serveAdapter(make);
	servers.push(server);
	return port;
}

let livePort = 0;
let snapshotPort = 0;

before(async () => {
	shell = await TargetShell.open();
	await shell.buildWorkload();
	FRAMES = await shell.buildProgram('frames');
	helper = await HelperSession.open(sshTarget());
	pool = new SessionPool((spec) => (spec === TARGET_NEWER_CRIU ? newerCriuTarget() : targetFromSpec(spec)));
	livePort = await serve(() => new LiveDebugSession(pool));
	snapshotPort = await serve(() => new SnapshotDebugSession(pool));
});

after(async () => {
	await shell.killStarted();
	for (const id of checkpoints) await helper.remove(id).catch(() => undefined);
	for (const s of servers) s.close();
	await pool.closeAll();
	await helper.close();
	shell.close();
});

/** Attach requests of a fresh client, each refused with a message that matches. */
async function attachRefused(cases: Array<[Record<string, unknown>, RegExp]>): Promise<void> {
	const bad = await client(livePort);
	try {
		await bad.initializeRequest();
		for (const [args, message] of cases) {
			await assert.rejects(bad.attachRequest(args as DebugProtocol.AttachRequestArguments), (e) => message.test(errorOf(e)), `attach ${JSON.stringify(args)}`);
		}
	} finally {
		await bad.stop();
	}
}

const client = connectClient;

/** Attaches to pid and finishes the configuration sequence. */
async function attach(pid: number, extra: Record<string, unknown> = {}): Promise<DebugClient> {
	const dc = await client(livePort);
	await dc.initializeRequest({ adapterID: 'checkpoint', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsMemoryReferences: true });
	const initialized = dc.waitForEvent('initialized');
	await dc.attachRequest({ target: TARGET, pid, ...extra } as DebugProtocol.AttachRequestArguments);
	await initialized;
	await dc.configurationDoneRequest();
	return dc;
}

async function takeCheckpoint(dc: DebugClient, name: string): Promise<CheckpointSummary> {
	const r = await dc.customRequest(CUSTOM.takeCheckpoint, { name });
	const checkpoint = (r.body as { checkpoint: CheckpointSummary }).checkpoint;
	checkpoints.add(checkpoint.id);
	return checkpoint;
}

const errorOf = (err: unknown): string => (err as Error).message;

/** A hang says which group it was in (the file's own timeout names only the file). */
const PER_GROUP_MS = 150_000;

describe('live debug session (attach)', { timeout: PER_GROUP_MS }, () => {
	test('attach, pause, checkpoint, continue, restore, disconnect', async () => {
		const { pid, dir } = await shell.start([WORKLOAD, 'threads', '{dir}', '3']);
		await shell.waitForCounters(dir, ['state'], (c) => c.every((v) => v >= 5), 'the workload did not start counting');
		// the target's pids start again with it: a store kept from an earlier run may hold checkpoints of this pid
		const earlier = (await helper.list()).filter((c) => c.rootPid === pid).sort((a, b) => Number(a.createdUnixMs) - Number(b.createdUnixMs));
		const dc = await attach(pid);
		try {
			const threads = (await dc.threadsRequest()).body.threads;
			assert.equal(threads.length, 4, `the main thread and 3 workers: ${threads.map((t) => t.name).join(', ')}`);
			assert.equal(threads[0].name, `${pid}/${pid} workload`);
			assert.deepEqual(threads.slice(1).map((t) => t.name.replace(/\/\d+ /, '/TID ')).sort(), [1, 2, 3].map((n) => `${pid}/TID worker-${n}`), 'each thread by its own name');

			const stopped = dc.waitForEvent('stopped');
			await dc.pauseRequest({ threadId: pid });
			const event = (await stopped) as DebugProtocol.StoppedEvent;
			assert.equal(event.body.reason, 'pause');
			assert.equal(event.body.allThreadsStopped, true);
			const frozen = await shell.counters(dir, ['state']);
			await sleep(300);
			assert.deepEqual(await shell.counters(dir, ['state']), frozen, 'every thread stands still while paused');

			// gdb holds the process: a worker's frames are gdb's, down to the workload's own function
			const frames = (await dc.stackTraceRequest({ threadId: threads[1].id })).body.stackFrames;
			assert.ok(frames.some((f) => f.name.startsWith('thread_main')), `a worker runs thread_main: ${frames.map((f) => f.name).join(' < ')}`);
			const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
			assert.ok(scopes.some((s) => s.name === 'Registers'), `gdb's scopes: ${scopes.map((s) => s.name).join(', ')}`);

			const checkpoint = await takeCheckpoint(dc, 'paused');
			assert.equal(checkpoint.rootPid, pid);
			assert.equal(checkpoint.name, 'paused');
			assert.deepEqual(await shell.counters(dir, ['state']), frozen, 'a checkpoint of a paused tree leaves it paused');

			await dc.continueRequest({ threadId: pid });
			const late = await shell.waitForCounters(dir, ['state'], allAtLeast(frozen.map((v) => v + 50)), 'the tree did not run on after Continue');

			// taken paused under gdb: the restore stops where the checkpoint was taken, and Continue runs it
			const restoredStop = dc.waitForEvent('stopped');
			const restored = await dc.customRequest(CUSTOM.restoreCheckpoint, { id: checkpoint.id });
			assert.equal((await restoredStop as DebugProtocol.StoppedEvent).body.reason, 'restore');
			const body = restored.body as { rootPid: number; saved?: CheckpointSummary };
			assert.equal(body.rootPid, pid);
			assert.ok(body.saved, 'the replaced state was checkpointed first');
			checkpoints.add(body.saved.id);
			assert.equal(body.saved.name, 'before restore to paused');
			// stopped, the restored program writes nothing: its file shows the replaced one's last counts until Continue
			const still = await shell.counters(dir, ['state']);
			await sleep(300);
			assert.deepEqual(await shell.counters(dir, ['state']), still, 'the restored program stands still until Continue');
			await dc.continueRequest({ threadId: pid });
			const rolledBack = await shell.waitForCounters(dir, ['state'], allBelow(late), 'the restore did not take the program back');
			assert.ok(allAtLeast(frozen)(rolledBack), `restored counters ${rolledBack} start from the checkpoint's ${frozen}`);
			await shell.waitForCounters(dir, ['state'], allAbove(rolledBack), 'the restored program does not run after Continue');

			const listed = (await dc.customRequest(CUSTOM.listCheckpoints, {})).body as { checkpoints: CheckpointSummary[] };
			assert.deepEqual(listed.checkpoints.map((c) => c.id), [...earlier.map((c) => c.id), checkpoint.id, body.saved.id], 'the timeline: oldest first');
			const checkpointsChanged = dc.waitForEvent(CUSTOM.checkpointsEvent);
			await dc.customRequest(CUSTOM.renameCheckpoint, { id: checkpoint.id, name: 'paused, renamed' });
			await checkpointsChanged;
			const renamed = (await dc.customRequest(CUSTOM.listCheckpoints, {})).body as { checkpoints: CheckpointSummary[] };
			assert.deepEqual(renamed.checkpoints.map((c) => c.name), [...earlier.map((c) => c.name), 'paused, renamed', 'before restore to paused']);
			assert.equal((await dc.threadsRequest()).body.threads.length, 4, 'threads of the restored tree');
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
		const free = await shell.counters(dir, ['state']);
		await shell.waitForCounters(dir, ['state'], allAbove(free), 'the program does not run on after Disconnect');
	});

	test('disconnect while paused thaws the tree, even when asked to terminate it (VS Code\'s Stop on an attach session)', async () => {
		const { pid, dir } = await shell.start([WORKLOAD, 'counter', '{dir}']);
		await shell.waitForCounters(dir, ['state'], (c) => c[0] >= 5, 'the workload did not start counting');
		const dc = await attach(pid);
		const stopped = dc.waitForEvent('stopped');
		await dc.pauseRequest({ threadId: pid });
		await stopped;
		const frozen = await shell.counters(dir, ['state']);
		await dc.disconnectRequest({ terminateDebuggee: true });
		await dc.stop();
		await shell.waitForCounters(dir, ['state'], allAbove(frozen), 'the tree stayed frozen after Disconnect');
	});

	test('attach by process name; a bad configuration says what to write', async () => {
		const { pid, dir } = await shell.start([FRAMES, '{dir}']);
		await shell.waitForRecord(dir, 'state', () => true);
		const dc = await attach(0, { pid: undefined, processName: 'frames' });
		try {
			assert.equal((await dc.threadsRequest()).body.threads[0].name, `${pid}/${pid} frames`);
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
		await attachRefused([
			[{ target: TARGET }, /needs "pid"/],
			[{ target: TARGET, processName: 'no-such-program-here' }, /no process named "no-such-program-here"/],
			[{ target: TARGET, pid: 999999 }, /999999 does not exist/],
			[{ pid: 1 }, /needs "target"/],
		]);
	});

	test('a checkpoint refused for a leak is an error in words with the choices, and the paused program stays paused', async () => {
		const port = testPort();
		await shell.start([WORKLOAD, 'tcp-listen', String(port)]);
		await shell.waitForListener(port);
		const { pid, dir } = await shell.start([WORKLOAD, 'tcp-client', '{dir}', String(port)]);
		await shell.waitForCounters(dir, ['state'], (c) => c[0] >= 3, 'the client did not connect and count');
		const dc = await attach(pid);
		try {
			const stopped = dc.waitForEvent('stopped');
			await dc.pauseRequest({ threadId: pid });
			await stopped;
			const frozen = await shell.counters(dir, ['state']);
			const before = (await helper.list()).length;
			// An established TCP connection: CRIU would fail on it by itself; the default policy refuses it first.
			await assert.rejects(dc.customRequest(CUSTOM.takeCheckpoint, { name: 'refused' }), (e) => /^Checkpoint refused: the tree shares tcp .*the program stays paused\./.test(errorOf(e)) &&
				/save \[--tcp-established\]/.test(errorOf(e)) && /"tcp": "save"/.test(errorOf(e)));
			await sleep(200);
			assert.deepEqual(await shell.counters(dir, ['state']), frozen, 'still paused after the failed checkpoint');
			assert.equal((await helper.list()).length, before, 'no checkpoint is left behind');
			const state = (await dc.customRequest(CUSTOM.treeState, {})).body as { state: string };
			assert.equal(state.state, 'frozen');
			await dc.continueRequest({ threadId: pid });
			await shell.waitForCounters(dir, ['state'], allAbove(frozen), 'the program does not run on');
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
	});

	test('Cancel: a checkpoint under way is not kept, a restore not yet started replaces nothing', async () => {
		const { pid, dir } = await shell.start([WORKLOAD, 'counter', '{dir}']);
		await shell.waitForCounters(dir, ['state'], (c) => c[0] >= 5, 'the workload did not start counting');
		const dc = await attach(pid);
		try {
			const before = (await helper.list()).map((c) => c.id);
			const taking = dc.customRequest(CUSTOM.takeCheckpoint, { name: 'to cancel' });
			await dc.customRequest(CUSTOM.cancel, {});
			await assert.rejects(taking, (e) => /checkpoint was cancelled/.test(errorOf(e)));
			assert.deepEqual((await helper.list()).map((c) => c.id), before, 'the cancelled checkpoint was not kept');

			const kept = await takeCheckpoint(dc, 'kept');
			const late = await shell.waitForCounters(dir, ['state'], (c) => c[0] >= 60, 'the program did not run on');
			const restoring = dc.customRequest(CUSTOM.restoreCheckpoint, { id: kept.id });
			await dc.customRequest(CUSTOM.cancel, {});
			await assert.rejects(restoring, (e) => /restore was cancelled before anything was replaced; the current state stays, and is also saved as /.test(errorOf(e)));
			await shell.waitForCounters(dir, ['state'], allAbove(late), 'the program was replaced or stopped by a cancelled restore');
			for (const c of await helper.list()) if (c.rootPid === pid) checkpoints.add(c.id);
			assert.equal(((await dc.customRequest(CUSTOM.treeState, {})).body as { state: string }).state, 'running');
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
	});

	test('the session ends when the program exits on its own', async () => {
		const { pid, dir } = await shell.start([WORKLOAD, 'counter', '{dir}']);
		await shell.waitForCounters(dir, ['state'], (c) => c[0] >= 1, 'the workload did not start counting');
		const dc = await attach(pid);
		const terminated = dc.waitForEvent('terminated', 10_000);
		await shell.killTree(pid);
		await terminated;
		await dc.stop();
	});
});

describe('leaks in a live debug session', { timeout: PER_GROUP_MS }, () => {
	/**
	 * `sh -c 'setsid workload counter DIR | cat'`: the tree is the workload (its
	 * own session leader), whose stdout is a pipe that cat, its sibling
	 * outside the tree, reads: a pipe leak, refused by default.
	 */
	async function pipedWorkload(): Promise<{ pid: number; cat: number; dir: string }> {
		const { pid: sh, dir } = await shell.start(['/bin/sh', '-c', `setsid ${WORKLOAD} counter {dir} | cat >/dev/null`]);
		const pid = (await shell.waitForRecord(dir, 'state', (r) => r[1] >= 3))[0];
		const children = (await shell.ok(`ps -o pid=,comm= --ppid ${sh}`)).trim().split('\n').map((l) => l.trim().split(/\s+/));
		const cat = Number(children.find(([, comm]) => comm === 'cat')?.[0]);
		assert.ok(cat > 0, `cat runs beside the workload under sh: ${children.join('; ')}`);
		assert.deepEqual((await helper.ps(pid)).map((p) => p.comm), ['workload'], 'cat is not in the tree');
		return { pid, cat, dir };
	}

	const leaksOf = async (dc: DebugClient): Promise<LeaksBody> => (await dc.customRequest(CUSTOM.leaks, {})).body as LeaksBody;
	const pipeOf = (body: LeaksBody): LeakJson | undefined => body.leaks.find((l) => l.kind === 'pipe');
	/** The ids in the store of checkpoints of pid. */
	const storedOf = async (pid: number): Promise<string[]> => (await helper.list()).filter((c) => c.rootPid === pid).map((c) => c.id);

	test('a pipe to an outside reader: refused with its choices, listed, let through by the setting for the next checkpoint', async () => {
		const { pid, cat, dir } = await pipedWorkload();
		// a store kept from an earlier run may hold checkpoints of this pid (the target's pids start again with it)
		const earlier = await storedOf(pid);
		const dc = await attach(pid);
		try {
			const scanned = dc.waitForEvent(CUSTOM.leaksEvent);
			await assert.rejects(dc.customRequest(CUSTOM.takeCheckpoint, { name: 'refused' }), (e) => {
				const text = errorOf(e);
				return /^Checkpoint refused: the tree shares pipe pipe:\[\d+\] \(outside: \d+ cat \(fd 0 \(read end\)\)\) with processes outside it, and the leak policy is fail for it\. Nothing was frozen or written; the program runs on\./.test(text) &&
					/^pipe pipe:\[\d+\]: the choices are warn .*; ignore .*; external \[--inherit-fd at restore\]/m.test(text) &&
					/set e\.g\. \{ "pipe": "warn" \} in the setting checkpoint\.leakPolicy/.test(text);
			});
			const event = (await scanned).body as LeaksBody;
			assert.equal(event.reason, 'refused');
			assert.deepEqual(event.refusal?.leaks.map((l) => l.kind), ['pipe']);
			assert.deepEqual(event.refusal?.suggested, { pipe: 'warn' });
			assert.equal(pipeOf(event)?.policy, 'fail', 'the event lists every leak, the refused one among them');
			assert.deepEqual(await storedOf(pid), earlier, 'nothing was written');
			await shell.waitForCounters(dir, ['state'], (c) => c[0] > event.leaks.length + 10, 'the program does not run on after the refusal');
			assert.equal(((await dc.customRequest(CUSTOM.treeState, {})).body as { state: string }).state, 'running');

			const listed = await leaksOf(dc);
			const pipe = pipeOf(listed);
			assert.equal(listed.rootPid, pid);
			assert.deepEqual(listed.policy, {});
			assert.equal(pipe?.policy, 'fail');
			assert.deepEqual(pipe?.outside.map((h) => [h.pid, h.comm, h.how]), [[cat, 'cat', 'fd 0 (read end)']]);
			assert.deepEqual(pipe?.inside.map((h) => [h.pid, h.comm, h.how]), [[pid, 'workload', 'fd 1 (write end)']]);
			assert.deepEqual(pipe?.choices.map((c) => c.policy), ['fail', 'warn', 'ignore', 'external']);

			// A bad setting is refused and changes nothing; a good one applies to the next checkpoint.
			await assert.rejects(dc.customRequest(CUSTOM.setLeakPolicy, { setting: { pipe: 'maybe' } }),
				(e) => /the setting checkpoint\.leakPolicy, "pipe": "maybe" is not a leak policy; the policies are fail, warn, ignore, external, save/.test(errorOf(e)));
			assert.equal(pipeOf(await leaksOf(dc))?.policy, 'fail');
			const set = await dc.customRequest(CUSTOM.setLeakPolicy, { setting: { pipe: 'warn' } });
			assert.deepEqual((set.body as { policy: unknown }).policy, { pipe: 'warn' });
			assert.equal(pipeOf(await leaksOf(dc))?.policy, 'warn');

			const fromCheckpoint = dc.waitForEvent(CUSTOM.leaksEvent);
			const checkpoint = await takeCheckpoint(dc, 'pipe warned');
			assert.ok(checkpoint.leaks?.warned.some((w) => /^pipe pipe:\[\d+\]$/.test(w)), `warned: ${checkpoint.leaks?.warned}`);
			assert.equal(checkpoint.leaks?.inconsistent, false);
			assert.equal(((await fromCheckpoint).body as LeaksBody).reason, 'checkpoint');
			const manifest = (await helper.list()).find((c) => c.id === checkpoint.id);
			const reported = manifest?.leaks?.leaks?.find((l) => l.kind === pb.LeakKind.LEAK_KIND_PIPE);
			assert.equal(reported?.policy, pb.LeakPolicy.LEAK_POLICY_WARN, 'the manifest\'s report lists the pipe as warned');
			assert.equal(reported?.resource, pipe?.resource);
			assert.deepEqual(manifest?.leaks?.policy?.map((r) => [r.kind, r.resource, r.policy]), [[pb.LeakKind.LEAK_KIND_PIPE, '', pb.LeakPolicy.LEAK_POLICY_WARN]]);

			// Back to the default: the checkpoint a restore takes of the present is refused, and nothing is replaced.
			await dc.customRequest(CUSTOM.setLeakPolicy, { setting: {} });
			const running = await shell.counters(dir, ['state']);
			await assert.rejects(dc.customRequest(CUSTOM.restoreCheckpoint, { id: checkpoint.id }),
				(e) => /^Restore not started: the checkpoint of the present state a restore takes first was refused, so nothing was replaced: the tree shares pipe /.test(errorOf(e)) &&
					/"saveBeforeRestore": false/.test(errorOf(e)));
			await shell.waitForCounters(dir, ['state'], allAbove(running), 'the program was replaced or stopped by a refused restore');
			assert.equal((await shell.record(dir, 'state'))[0], pid, 'the same process runs');
			assert.deepEqual(await storedOf(pid), [...earlier, checkpoint.id]);
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
	});

	test('the launch configuration\'s leakPolicy wins over the setting; a bad one stops the attach', async () => {
		const { pid } = await pipedWorkload();
		const dc = await attach(pid, { leakPolicy: { pipe: 'ignore' }, leakPolicySetting: { pipe: 'fail', 'volatile-file': 'ignore' } });
		try {
			const listed = await leaksOf(dc);
			assert.deepEqual(listed.policy, { pipe: 'ignore', 'volatile-file': 'ignore' });
			assert.equal(pipeOf(listed)?.policy, 'ignore');
			await dc.customRequest(CUSTOM.setLeakPolicy, { setting: { pipe: 'fail' } });
			const checkpoint = await takeCheckpoint(dc, 'pipe ignored');
			assert.deepEqual(checkpoint.leaks?.warned.filter((w) => w.startsWith('pipe')), [], 'ignored: not warned about');
			const reported = (await helper.list()).find((c) => c.id === checkpoint.id)?.leaks?.leaks?.find((l) => l.kind === pb.LeakKind.LEAK_KIND_PIPE);
			assert.equal(reported?.policy, pb.LeakPolicy.LEAK_POLICY_IGNORE);
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
		await attachRefused([
			[{ target: TARGET, pid, leakPolicy: { 'pipe:': 'warn' } }, /the launch configuration's "leakPolicy", "pipe:": "pipe:" names no resource/],
			[{ target: TARGET, pid, leakPolicy: ['pipe=warn'] }, /the launch configuration's "leakPolicy" must be an object .* it is an array/],
		]);
		assert.ok(await shell.isAlive(pid), 'a refused attach leaves the program alone');
	});
});

describe('saved TCP connections in a live debug session (CRIU 4.2)', { timeout: PER_GROUP_MS }, () => {
	const established = async (port: number): Promise<string[]> =>
		(await shell.ok(`ss -Htn state established '( sport = :${port} or dport = :${port} )' | awk '{ print $3, $4 }' | sort`)).trim().split('\n').filter(Boolean);

	test('an idle connection (a pool\'s, say) is saved, and comes back over the running program as it was: its peer sees nothing', async () => {
		const port = testPort();
		await shell.start([WORKLOAD, 'tcp-listen', String(port)]);
		await shell.waitForListener(port);
		const { pid, dir } = await shell.start([WORKLOAD, 'tcp-client', '{dir}', String(port)]);
		await shell.waitForCounters(dir, ['state'], (c) => c[0] >= 3, 'the client did not connect and count');
		const ends = await established(port);
		assert.equal(ends.length, 2, `both ends of the connection: ${ends.join('; ')}`);
		const dc = await attach(pid, { target: TARGET_NEWER_CRIU, leakPolicy: { tcp: 'save' } });
		try {
			const checkpoint = await takeCheckpoint(dc, 'idle connection');
			const at = await shell.counters(dir, ['state']);
			// well past the checkpoint: the restore (the present saved first, then CRIU) must not outrun it
			const late = await shell.waitForCounters(dir, ['state'], (c) => c[0] >= at[0] + 300, 'the program does not run on');
			const restored = (await dc.customRequest(CUSTOM.restoreCheckpoint, { id: checkpoint.id })).body as { rootPid: number; saved?: CheckpointSummary };
			if (restored.saved) checkpoints.add(restored.saved.id);
			assert.equal(restored.rootPid, pid);
			await shell.waitForCounters(dir, ['state'], allBelow(late), 'the restore did not take the program back');
			assert.deepEqual(await established(port), ends, 'the same connection, established at both ends: the server never saw it close');
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
			await shell.killTree(pid);	// restored, it is no longer a child of what shell.start started
		}
	});

	test('a connection that carried data since: the restore is refused, the program runs on; then restored closed on request', async () => {
		const leaky = await shell.buildProgram('leaky');
		const port = testPort();
		const { dir } = await shell.start([leaky, 'tcp', '{dir}', String(port)]);
		const pid = (await shell.waitForRecord(dir, 'state', (r) => r[1] >= 3))[0];
		const dc = await attach(pid, { target: TARGET_NEWER_CRIU, leakPolicy: { tcp: 'save' } });
		try {
			const checkpoint = await takeCheckpoint(dc, 'sending');
			const at = await shell.counters(dir, ['outside']);
			await shell.waitForCounters(dir, ['outside'], (c) => c[0] >= at[0] + 20, 'the server receives nothing');
			await assert.rejects(dc.customRequest(CUSTOM.restoreCheckpoint, { id: checkpoint.id }), (e) => {
				const message = errorOf(e);
				const saved = /The present state was saved first, as checkpoint (\S+)$/.exec(message);
				if (saved) checkpoints.add(saved[1]);
				return message.startsWith(`${CONNECTIONS_MOVED_ON}The TCP connection 127.0.0.1:`) && /-> 127\.0\.0\.1:\d+ \(\d+ bytes received, \d+ written\) carried data since the checkpoint\./.test(message) &&
					/Nothing was killed/.test(message) && saved !== null;
			});
			const state = (await dc.customRequest(CUSTOM.treeState, {})).body as { state: string };
			assert.equal(state.state, 'running');
			const still = await shell.counters(dir, ['outside']);
			await shell.waitForCounters(dir, ['outside'], (c) => c[0] > still[0] + 10, 'the connection stopped after the refused restore');
			const restored = (await dc.customRequest(CUSTOM.restoreCheckpoint, { id: checkpoint.id, tcpClose: true, saveCurrent: false })).body as { rootPid: number; saved?: CheckpointSummary };
			assert.equal(restored.rootPid, pid);
			assert.equal(restored.saved, undefined, 'saveCurrent: false saves nothing');
			await shell.waitForCounters(dir, ['state'], (c) => c[1] > 5, 'the restored program\'s sends on its closed connection do not fail');
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
			await shell.killTree(pid);	// restored, it is no longer a child of what shell.start started
		}
	});
});

describe('live debug session (launch)', { timeout: PER_GROUP_MS }, () => {
	/** Collects the Debug Console output of a category, as numbers (the print workload writes one per line). */
	function counts(dc: DebugClient, category: 'stdout' | 'stderr'): number[] {
		const seen: number[] = [];
		let partial = '';
		dc.on('output', (e: DebugProtocol.OutputEvent) => {
			if (e.body.category !== category) return;
			const lines = (partial + e.body.output).split('\n');
			partial = lines.pop() ?? '';
			seen.push(...lines.filter(Boolean).map(Number));
		});
		return seen;
	}

	/** Launches; `listen` runs before the launch request, so no early output is missed. */
	async function launch(args: Record<string, unknown>, listen: (dc: DebugClient) => void): Promise<DebugClient> {
		const dc = await client(livePort);
		listen(dc);
		await dc.initializeRequest({ adapterID: 'checkpoint', pathFormat: 'path' });
		const initialized = dc.waitForEvent('initialized');
		await dc.launchRequest({ target: TARGET, ...args } as DebugProtocol.LaunchRequestArguments);
		await initialized;
		await dc.configurationDoneRequest();
		return dc;
	}

	/** Resolves with the first output event whose text matches. */
	const outputMatching = (dc: DebugClient, text: RegExp): Promise<string> => new Promise((resolve) => {
		const listener = (e: DebugProtocol.OutputEvent): void => {
			if (!text.test(e.body.output)) return;
			dc.removeListener('output', listener);
			resolve(e.body.output);
		};
		dc.on('output', listener);
	});

	const until = async (what: string, ok: () => boolean, ms = 10_000): Promise<void> => {
		for (const deadline = Date.now() + ms; !ok(); await sleep(40)) if (Date.now() > deadline) throw new Error(what);
	};

	test('output in the Debug Console; checkpoint and restore with the output going on; Terminate kills', async () => {
		let out: number[] = [];
		let err: number[] = [];
		const session = await launch({ program: WORKLOAD, args: ['print'], cwd: '/tmp', env: { CKPT_TEST: 'yes' } }, (dc) => {
			out = counts(dc, 'stdout');
			err = counts(dc, 'stderr');
		});
		try {
			await until('no output arrived', () => out.length >= 20);
			assert.deepEqual(out.slice(0, 20), Array.from({ length: 20 }, (_, i) => i + 1), 'stdout, in order, from 1');
			await until('no stderr arrived', () => err.length >= 1);
			assert.equal(err[0], 10, 'every tenth count goes to stderr');
			const pid = Number(((await session.customRequest(CUSTOM.treeState, {})).body as { rootPid: number }).rootPid);
			assert.equal((await shell.ok(`tr '\\0' '\\n' < /proc/${pid}/environ | sort`)).trim(), 'CKPT_TEST=yes\nLANG=C.UTF-8\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
			assert.equal((await shell.ok(`readlink /proc/${pid}/cwd`)).trim(), '/tmp');

			const checkpoint = await takeCheckpoint(session, 'printing');
			const atCheckpoint = out[out.length - 1];
			await until('the program did not print on after the checkpoint', () => out[out.length - 1] >= atCheckpoint + 40);
			const before = out.length;
			await session.customRequest(CUSTOM.restoreCheckpoint, { id: checkpoint.id, saveCurrent: false });
			// The replaced program may print a last line or two before it is killed: the restored one starts where the count drops.
			const drop = (): number => out.findIndex((v, i) => i >= before && i > 0 && v < out[i - 1]);
			await until('the count never went back after the restore', () => drop() >= 0 && out.length >= drop() + 10);
			const after = out.slice(drop());
			// Output trails the program (pipe, helper, SSH) and the dump's answer comes after the thaw:
			// the last count seen at the answer is within a few ticks of the checkpoint's.
			const slack = 6;
			assert.ok(Math.abs(after[0] - atCheckpoint) <= slack, `the restored program prints from the checkpoint on (${atCheckpoint} ± ${slack}): ${after.slice(0, 5)}`);
			assert.deepEqual(after.slice(0, 10), Array.from({ length: 10 }, (_, i) => after[0] + i), 'and counts on without gaps');

			const terminated = session.waitForEvent('terminated');
			await session.terminateRequest({});
			await terminated;
			assert.equal(await shell.isAlive(pid), false, 'Terminate killed the launched program');
		} finally {
			await session.disconnectRequest({}).catch(() => undefined);
			await session.stop();
		}
	});

	test('the program ending ends the session, with its exit code', async () => {
		const dc = await client(livePort);
		await dc.initializeRequest({ adapterID: 'checkpoint', pathFormat: 'path' });
		const exited = outputMatching(dc, /exited with code 3/);
		const terminated = dc.waitForEvent('terminated', 10_000);
		await dc.launchRequest({ target: TARGET, program: '/bin/sh', args: ['-c', 'sleep 0.5; exit 3'] } as DebugProtocol.LaunchRequestArguments);
		await dc.configurationDoneRequest();
		await exited;
		await terminated;
		await dc.stop();
	});

	test('a program that is not there, and a relative path, are refused in words', async () => {
		const dc = await client(livePort);
		try {
			await dc.initializeRequest({ adapterID: 'checkpoint', pathFormat: 'path' });
			await assert.rejects(dc.launchRequest({ target: TARGET, program: '/no/such/program' } as DebugProtocol.LaunchRequestArguments), (e) => /\/no\/such\/program/.test(errorOf(e)));
			await assert.rejects(dc.launchRequest({ target: TARGET, program: 'workload' } as DebugProtocol.LaunchRequestArguments), (e) => /absolute path/.test(errorOf(e)));
		} finally {
			await dc.stop();
		}
	});

	test('Terminate on an attached tree asks the editor first and kills nothing by itself', async () => {
		const { pid, dir } = await shell.start([WORKLOAD, 'counter', '{dir}']);
		await shell.waitForCounters(dir, ['state'], (c) => c[0] >= 1, 'the workload did not start counting');
		const dc = await attach(pid);
		try {
			const asked = dc.waitForEvent(CUSTOM.confirmKillEvent);
			await dc.terminateRequest({});
			assert.equal(((await asked).body as { rootPid: number }).rootPid, pid);
			assert.ok(await shell.isAlive(pid));
			const terminated = dc.waitForEvent('terminated');
			await dc.customRequest(CUSTOM.kill, {});
			await terminated;
			assert.equal(await shell.isAlive(pid), false, 'killed once the user said so');
		} finally {
			await dc.disconnectRequest({}).catch(() => undefined);
			await dc.stop();
		}
	});
});

describe('snapshot session', { timeout: PER_GROUP_MS }, () => {
	let pid = 0;
	let checkpoint = '';
	let path = '';

	before(async () => {
		const w = await shell.start([FRAMES, '{dir}']);
		pid = w.pid;
		await shell.waitForRecord(w.dir, 'state', (r) => r[1] >= 2);
		const c = await helper.dump(pid, { leaveRunning: true, name: 'frames' });
		checkpoint = c.id;
		path = c.path;
		checkpoints.add(c.id);
	});

	async function open(args: Record<string, unknown>): Promise<DebugClient> {
		const dc = await client(snapshotPort);
		const event = await launchSnapshot(dc, args);
		assert.equal(event.body.reason, 'snapshot');
		return dc;
	}

	test('threads, registers, frames (from gdb on the program and a core of the checkpoint), memory from the pages', async () => {
		const dc = await open({ target: TARGET, checkpoint });
		try {
			const threads = (await dc.threadsRequest()).body.threads;
			assert.deepEqual(threads.map((t) => t.name), [`${pid}/${pid} frames`]);
			const frames = (await dc.stackTraceRequest({ threadId: pid })).body.stackFrames;
			// inner <- middle <- outer <- main, all in the program's own text (built without -g: no lines)
			assert.ok(frames.length >= 4, `frames: ${frames.map((f) => f.name).join(' | ')}`);
			assert.deepEqual(frames.slice(0, 4).map((f) => [f.name, f.line]), [['inner', 0], ['middle', 0], ['outer', 0], ['main', 0]],
				'named by gdb from the program\'s symbol table on the target');

			const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
			assert.deepEqual(scopes.map((s) => s.name.replace(/ \(\d+\)$/, '')), ['Registers', 'Process', 'Memory Map', 'Files', 'Namespaces']);
			const registers = (await dc.variablesRequest({ variablesReference: scopes[0].variablesReference })).body.variables;
			const reg = (name: string): bigint => BigInt(/^0x[0-9a-f]+/.exec(registers.find((v) => v.name === name)?.value ?? '')?.[0] ?? 'x');

			// the core gdb reads holds the checkpoint's registers
			const images = await openCheckpoint(new HelperImageSource(helper, checkpoint));
			const process = images.processes[0];
			assert.equal(BigInt(frames[0].instructionPointerReference?.split(':')[1] ?? '0'), process.threads[0].registers.ip);
			assert.equal(reg('rip'), process.threads[0].registers.ip);
			const sp = reg('rsp');
			assert.equal(sp, process.threads[0].registers.sp);
			const expected = await process.read(sp, 512);
			const read = (await dc.customRequest('readMemory', { memoryReference: `${pid}:0x${sp.toString(16)}`, count: 512 })).body as DebugProtocol.ReadMemoryResponse['body'];
			assert.equal(read?.unreadableBytes ?? 0, 0);
			assert.ok(Buffer.from(read?.data ?? '', 'base64').equals(expected.bytes), 'readMemory gives the bytes the image reader (checked against crit) gives');

			// Reading up to the end of a mapping: the bytes after it are unreadable, not invented.
			const last = process.vmas[process.vmas.length - 2];
			const edge = (await dc.customRequest('readMemory', { memoryReference: `${pid}:0x${(last.end - 16n).toString(16)}`, count: 64 })).body as DebugProtocol.ReadMemoryResponse['body'];
			assert.ok((edge?.unreadableBytes ?? 0) > 0, 'bytes past a mapping are reported unreadable');

			const map = (await dc.variablesRequest({ variablesReference: scopes[2].variablesReference })).body.variables;
			assert.equal(map.length, process.vmas.length);
			assert.ok(map.every((v) => v.memoryReference?.startsWith(`${pid}:0x`)), 'each area can be opened in a memory view');
			const files = (await dc.variablesRequest({ variablesReference: scopes[3].variablesReference })).body.variables;
			assert.ok(files.some((v) => v.name === 'fd 3' && /\/state/.test(v.value)), `files: ${files.map((f) => `${f.name}=${f.value}`).join(', ')}`);
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
	});

	test('a checkpoint directory on this machine opens without a target', async () => {
		const rootfs = execFileSync('bash', [join(REPO, 'test', 'target', 'target.sh'), 'rootfs'], { encoding: 'utf8' }).trim();
		const dc = await open({ checkpoint: join(rootfs, path) });
		try {
			const frames = (await dc.stackTraceRequest({ threadId: pid })).body.stackFrames;
			assert.ok(frames.length >= 4);
			assert.match(frames[0].name, /^\?\? \(no symbols\) frames\+0x[0-9a-f]+$/, 'no target at hand: the frame is honestly unnamed');
			const local = await openCheckpoint(new LocalImageSource(join(rootfs, path)));
			assert.equal(local.processes[0].pid, pid);
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
	});

	test('a checkpoint downloaded through the helper opens offline as the same snapshot', async () => {
		const parent = mkdtempSync(join(tmpdir(), 'ckpt-download-'));
		try {
			let reports = 0;
			await assert.rejects(downloadCheckpoint(helper, checkpoint, parent, { cancelled: () => reports > 0, onProgress: () => reports++ }), /cancelled/);
			assert.deepEqual(readdirSync(parent), [], 'a cancelled download leaves nothing behind');

			const dir = await downloadCheckpoint(helper, checkpoint, parent);
			assert.equal(statSync(dir).mode & 0o777, 0o700);
			assert.ok(readdirSync(dir).every((f) => (statSync(join(dir, f)).mode & 0o777) === 0o600), 'process memory stays private');
			const remote = await openCheckpoint(new HelperImageSource(helper, checkpoint));
			const local = await openCheckpoint(new LocalImageSource(dir));
			assert.deepEqual(local.files, remote.files);
			const sp = local.processes[0].threads[0].registers.sp;
			assert.ok((await local.processes[0].read(sp, 4096)).bytes.equals((await remote.processes[0].read(sp, 4096)).bytes));
			await local.source.close();
		} finally {
			rmSync(parent, { recursive: true, force: true });
		}
	});

	test('frames of a program rebuilt since the checkpoint are not named from the new build', async () => {
		// CRIU recorded the build-id of the program it dumped; the file on the target is the same build now.
		const images = await openCheckpoint(new HelperImageSource(helper, checkpoint));
		const text = images.processes[0].vmas.find((v) => v.file === FRAMES && v.prot.includes('x'));
		const target = sshTarget();
		const dir = await target.imageSource('/opt/checkpoint-debugger-tests');
		const onTarget = await ElfSymbols.read({ readRange: (offset, length) => dir.readRange('frames', offset, length) });
		assert.ok(text?.buildId && text.buildId === onTarget?.buildId, `build-id in the checkpoint ${text?.buildId}, on the target ${onTarget?.buildId}`);
		await target.close();
		// Another build (other flags) in its place: the snapshot refuses to name its frames from it.
		await shell.ok(`gcc -std=c11 -O2 -pthread -o ${FRAMES}.new ${FRAMES}.c && mv ${FRAMES}.new ${FRAMES}`);
		try {
			const dc = await open({ target: TARGET, checkpoint });
			try {
				const frames = (await dc.stackTraceRequest({ threadId: pid })).body.stackFrames;
				assert.match(frames[0].name, /^\?\? \(frames changed since the checkpoint\) frames\+0x[0-9a-f]+$/);
			} finally {
				await dc.disconnectRequest({});
				await dc.stop();
			}
		} finally {
			await shell.buildProgram('frames');
		}
	});

	test('an unknown checkpoint is refused in words', async () => {
		const dc = await client(snapshotPort);
		try {
			await dc.initializeRequest();
			await assert.rejects(dc.launchRequest({ target: TARGET, checkpoint: '20000101-000000-dead' } as DebugProtocol.LaunchRequestArguments), (e) => /20000101-000000-dead/.test(errorOf(e)));
		} finally {
			await dc.stop();
		}
	});
});
