/**
 * SnapshotDebugSession over DAP (DebugClient, the adapter in-process) on the
 * checkpoint of checkpoint.fixtures.ts: opened from a local directory, and
 * through the in-memory helper by id. Threads, frames, scopes, variables
 * (registers, the process, its memory map, files and namespaces), readMemory
 * from the checkpoint's pages, and the requests a read-only session refuses
 * in words.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { SnapshotDebugSession } from '../../src/debug/snapshotSession';
import { consoleOutput, launchSnapshot, withClient } from '../support/dap';
import { checkpointFiles, HEAP, PAGE, PID, STACK, TID, writeCheckpoint } from './checkpoint.fixtures';
import { FakeHelper, FakeSessions } from './fakeHelper';

const TIMEOUT = { timeout: 10_000 };
const hex = (v: bigint): string => `0x${v.toString(16)}`;
const errorOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

let dir = '';
before(() => {
	dir = mkdtempSync(join(tmpdir(), 'ckpt-snapshot-'));
	writeCheckpoint(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A snapshot session opened on `args` up to its stop; `body` gets its client and its Debug Console. */
function withSnapshot(args: Record<string, unknown>, body: (dc: DebugClient, output: string[]) => Promise<void>, sessions = new FakeSessions(new FakeHelper())): Promise<void> {
	return withClient(() => new SnapshotDebugSession(sessions), async (dc) => {
		const output = consoleOutput(dc);
		const event = await launchSnapshot(dc, args);
		assert.deepEqual([event.body.reason, event.body.threadId, event.body.allThreadsStopped, event.body.description], ['snapshot', PID, true, 'Checkpoint snapshot (read-only)']);
		await body(dc, output);
	});
}

/** The variables of the scope of that name, in the first frame of thread tid. */
async function scopeVariables(dc: DebugClient, tid: number, scope: string): Promise<DebugProtocol.Variable[]> {
	const frame = (await dc.stackTraceRequest({ threadId: tid })).body.stackFrames[0];
	const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
	const reference = scopes.find((s) => s.name.startsWith(scope))?.variablesReference;
	assert.ok(reference, `no scope ${scope}: ${scopes.map((s) => s.name).join(', ')}`);
	return (await dc.variablesRequest({ variablesReference: reference })).body.variables;
}

const valueOf = (variables: DebugProtocol.Variable[], name: string): string | undefined => variables.find((v) => v.name === name)?.value;

type MemoryBody = DebugProtocol.ReadMemoryResponse['body'];

/** DAP readMemory of `count` bytes at process PID's `address` + `offset`. */
async function readMemory(dc: DebugClient, address: bigint, count: number, offset = 0): Promise<MemoryBody> {
	const body: MemoryBody = (await dc.customRequest('readMemory', { memoryReference: `${PID}:${hex(address)}`, offset, count } satisfies DebugProtocol.ReadMemoryArguments)).body;
	return body;
}

describe('SnapshotDebugSession of a checkpoint directory', TIMEOUT, () => {
	test('threads, a frame per thread named from its ip, and the scopes of a frame', () => withSnapshot({ checkpoint: dir }, async (dc, output) => {
		assert.ok(output.includes(`console: Snapshot of ${dir}: 1 processes, 2 threads (read-only).\n`), output.join(''));
		const threads = (await dc.threadsRequest()).body.threads;
		assert.deepEqual(threads.map((t) => [t.id, t.name]), [[PID, `${PID}/${PID} demo`], [TID, `${PID}/${TID} worker`]]);
		const trace = (await dc.stackTraceRequest({ threadId: TID })).body;
		assert.equal(trace.totalFrames, 1, 'no frame pointer chain to follow');
		assert.deepEqual(trace.stackFrames.map((f) => [f.name, f.instructionPointerReference]), [['?? 0x402000 (no symbols)', `${PID}:0x402000`]]);
		const scopes = (await dc.scopesRequest({ frameId: trace.stackFrames[0].id })).body.scopes;
		assert.deepEqual(scopes.map((s) => s.name), ['Registers', 'Process', 'Memory Map (4)', 'Files (7)', 'Namespaces']);
		await assert.rejects(dc.stackTraceRequest({ threadId: 999 }), (err) => /the snapshot has no thread 999/.test(errorOf(err)));
	}));

	test('variables: each thread\'s registers, the process, its memory map with memory references, files, namespaces', () => withSnapshot({ checkpoint: dir }, async (dc) => {
		const registers = await scopeVariables(dc, PID, 'Registers');
		assert.equal(valueOf(registers, 'ip'), '0x0000000000401000');
		assert.equal(valueOf(registers, 'ax'), '0xfffffffffffffffc', 'exact above 2^53');
		assert.equal(valueOf(registers, 'sp'), `0x${(STACK + 0x1f00n).toString(16).padStart(16, '0')}`);
		assert.deepEqual(registers[registers.length - 1], { name: 'fpu', value: 'xsave', variablesReference: 0 });
		assert.equal(valueOf(await scopeVariables(dc, TID, 'Registers'), 'ip'), '0x0000000000402000', 'the worker\'s own registers');

		const process = await scopeVariables(dc, PID, 'Process');
		assert.deepEqual(['pid', 'comm', 'command line', 'uid'].map((n) => valueOf(process, n)), [String(PID), 'demo', '/usr/bin/demo --flag value', '1000 (effective 1000)']);
		const vmas = await scopeVariables(dc, PID, 'Memory Map');
		assert.deepEqual([vmas[0].value, vmas[0].memoryReference], ['rw-p heap, 1 pages dumped', `${PID}:${hex(HEAP)}`]);
		assert.equal(vmas.length, 4);
		assert.equal(valueOf(await scopeVariables(dc, PID, 'Files'), 'fd 3'), 'pipe pipe:[4242]');
		assert.equal(valueOf(await scopeVariables(dc, PID, 'Namespaces'), 'uts'), '12 (dumped)');
	}));

	test('readMemory: the checkpoint\'s pages; unreadable from the first byte the checkpoint does not hold', () => withSnapshot({ checkpoint: dir }, async (dc) => {
		const read = (address: bigint, count: number, offset = 0): Promise<MemoryBody> => readMemory(dc, address, count, offset);
		const heap = await read(HEAP, 13);
		assert.deepEqual([heap?.address, Buffer.from(heap?.data ?? '', 'base64').toString()], [hex(HEAP), '/usr/bin/demo']);
		const stack = await read(STACK, 8, Number(PAGE));
		assert.deepEqual([stack?.address, stack?.data, stack?.unreadableBytes], [hex(STACK + PAGE), Buffer.alloc(8, 0x5a).toString('base64'), 0]);
		const end = await read(STACK + 2n * PAGE - 4n, 8);
		assert.deepEqual([end?.data, end?.unreadableBytes], [Buffer.alloc(4, 0x5a).toString('base64'), 4], 'the stack ends: what follows is not mapped');
		const hole = await read(STACK, 4);
		assert.deepEqual([hole?.data, hole?.unreadableBytes], ['', 4], 'the stack\'s first page was not dumped');
		await assert.rejects(dc.customRequest('readMemory', { memoryReference: 'heap', count: 4 }), (err) => /"heap" is not a memory reference of this snapshot \(expected pid:0xaddress\)/.test(errorOf(err)));
		await assert.rejects(dc.customRequest('readMemory', { memoryReference: '999:0x1000', count: 4 }), (err) => /the snapshot has no process 999/.test(errorOf(err)));
	}));

	test('a snapshot does not run: continue and the steps are refused, saying how to run from this state', () => withSnapshot({ checkpoint: dir }, async (dc) => {
		const refusals = [dc.continueRequest({ threadId: PID }), dc.nextRequest({ threadId: PID }), dc.stepInRequest({ threadId: PID }), dc.stepOutRequest({ threadId: PID })];
		for (const refused of refusals) {
			await assert.rejects(refused, (err) => /^a snapshot is read-only: it shows the checkpoint as it was taken\. To run from this state, restore the checkpoint from the live session \(Restore Checkpoint\)\.$/.test(errorOf(err)));
		}
		const terminated = dc.waitForEvent('terminated');
		await dc.disconnectRequest({});
		await terminated;
	}));

	test('what is not a checkpoint is refused in words', () => withClient(() => new SnapshotDebugSession(new FakeSessions(new FakeHelper())), async (dc) => {
		await dc.initializeRequest({ adapterID: 'checkpoint', pathFormat: 'path' });
		for (const checkpoint of ['', 42]) {
			await assert.rejects(dc.launchRequest({ checkpoint } as DebugProtocol.LaunchRequestArguments), (err) => /say which checkpoint to open: "checkpoint" is an id \(with "target"\) or a local directory/.test(errorOf(err)));
		}
		const empty = mkdtempSync(join(tmpdir(), 'ckpt-empty-'));
		try {
			await assert.rejects(dc.launchRequest({ checkpoint: empty } as DebugProtocol.LaunchRequestArguments), (err) => /holds no inventory\.img: it is not a CRIU checkpoint directory/.test(errorOf(err)));
		} finally {
			rmSync(empty, { recursive: true, force: true });
		}
	}));
});

describe('SnapshotDebugSession of a checkpoint in the target\'s store', TIMEOUT, () => {
	test('read through the helper by id; the helper session is let go at the end', async () => {
		const helper = new FakeHelper();
		const checkpoint = await helper.dump(helper.spawn('demo'), { leaveRunning: true });
		helper.addImages(checkpoint.id, checkpointFiles());
		const sessions = new FakeSessions(helper);
		await withSnapshot({ target: 'fake', checkpoint: checkpoint.id }, async (dc, output) => {
			assert.ok(output.includes(`console: Snapshot of root@fake:22: checkpoint ${checkpoint.id}: 1 processes, 2 threads (read-only).\n`), output.join(''));
			assert.equal(sessions.held, 1);
			assert.equal((await readMemory(dc, STACK + PAGE, 4))?.data, Buffer.alloc(4, 0x5a).toString('base64'));
			assert.ok(helper.calls.includes(`readImage ${checkpoint.id}`), helper.calls.join(', '));
			await dc.disconnectRequest({});
			assert.equal(sessions.held, 0);
		}, sessions);
	});

	test('an id the store does not hold is refused in words, and the helper session is let go at once', async () => {
		const sessions = new FakeSessions(new FakeHelper());
		await withClient(() => new SnapshotDebugSession(sessions), async (dc) => {
			await dc.initializeRequest({ adapterID: 'checkpoint', pathFormat: 'path' });
			await assert.rejects(dc.launchRequest({ target: 'fake', checkpoint: 'ck-9' } as DebugProtocol.LaunchRequestArguments), (err) => /there is no checkpoint ck-9 in the store/.test(errorOf(err)));
			assert.equal(sessions.held, 0, 'a failed open holds no pooled connection until disconnect');
			await assert.rejects(dc.launchRequest(undefined as unknown as DebugProtocol.LaunchRequestArguments), (err) => /say which checkpoint to open/.test(errorOf(err)), 'no arguments');
			await dc.disconnectRequest({});
			assert.equal(sessions.held, 0);
		});
	});
});
