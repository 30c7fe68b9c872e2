/**
 * Snapshots at the source level against the real target: the debuggee
 * (built with -g: main in a loop calling advance(), two worker threads, a
 * child process) launched over DAP, stopped at a breakpoint in advance(),
 * checkpointed, and run on; the checkpoint opened as a snapshot shows every
 * process and thread, frames with source lines, locals and expressions with
 * the checkpoint's values, from one gdb per process on an ELF core the
 * helper wrote, read-only; a program rebuilt since the checkpoint is shown
 * at the register level, said once.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { HelperSession } from '../../src/core/session';
import { SessionPool } from '../../src/core/sessionPool';
import { targetFromSpec } from '../../src/core/targetSpec';
import { LiveDebugSession } from '../../src/debug/liveSession';
import { CUSTOM, type CheckpointSummary } from '../../src/debug/messages';
import { SnapshotDebugSession } from '../../src/debug/snapshotSession';
import { connectClient, consoleOutput, customRequest, launchSnapshot, serveAdapter } from '../support/dap';
import { connectionFilePath, REPO, sshTarget, TargetShell } from './harness';

const TARGET = connectionFilePath();
const SOURCE_TEXT = readFileSync(join(REPO, 'test', 'workloads', 'debuggee.c'), 'utf8');

let shell: TargetShell;
let helper: HelperSession;
let pool: SessionPool;
const servers: Server[] = [];
let livePort = 0;
let snapshotPort = 0;
/** A directory of this test file's own on the target: the program (rebuilt by a test), the debuggee's records. */
let home = '';
let program = '';
let sourceThere = '';

/** The line of the comment "@name" in debuggee.c. */
function lineOf(name: string): number {
	const index = SOURCE_TEXT.split('\n').findIndex((l) => l.includes(`/* @${name} */`));
	assert.ok(index >= 0, `no @${name} in debuggee.c`);
	return index + 1;
}

/** The lines of the body of function name in debuggee.c (its opening line to its closing brace). */
function bodyOf(name: string): [number, number] {
	const lines = SOURCE_TEXT.split('\n');
	const start = lines.findIndex((l) => new RegExp(`^\\w.*\\b${name}\\(`).test(l));
	const end = lines.findIndex((l, i) => i > start && l === '}');
	assert.ok(start >= 0 && end > start, `no function ${name} in debuggee.c`);
	return [start + 1, end + 1];
}

before(async () => {
	shell = await TargetShell.open();
	const built = await shell.buildProgram('debuggee', '-g -O0');
	sourceThere = `${built}.c`;
	home = (await shell.ok('mktemp -d /tmp/ckpt-snapshot-source-XXXXXX')).trim();
	program = `${home}/debuggee`;
	// a copy of its own: a test rebuilds it, others' tests use the shared one meanwhile
	await shell.ok(`cp ${built} ${program}`);
	helper = await HelperSession.open(sshTarget());
	pool = new SessionPool((spec) => targetFromSpec(spec));
	for (const make of [() => new LiveDebugSession(pool), () => new SnapshotDebugSession(pool)]) {
		const served = await serveAdapter(make);
		servers.push(served.server);
		if (!livePort) livePort = served.port;
		else snapshotPort = served.port;
	}
});

let checkpoint: CheckpointSummary | undefined;
let live: { dc: DebugClient; pid: number; dir: string; iteration: number } | undefined;

after(async () => {
	await live?.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
	await live?.dc.stop();
	if (checkpoint) await helper?.remove(checkpoint.id).catch(() => undefined);
	await helper?.close();
	for (const s of servers) s.close();
	await pool?.closeAll();
	if (home) await shell?.run(`rm -rf ${home}`);
	shell?.close();
});

async function evaluate(dc: DebugClient, frameId: number, expression: string, context = 'watch'): Promise<string> {
	return (await dc.evaluateRequest({ expression, frameId, context })).body.result;
}

async function stack(dc: DebugClient, threadId: number): Promise<DebugProtocol.StackFrame[]> {
	return (await dc.stackTraceRequest({ threadId, startFrame: 0, levels: 20 })).body.stackFrames;
}

/** The frame of function name in a stack, which must be there with its source. */
function frameOf(frames: DebugProtocol.StackFrame[], name: string): DebugProtocol.StackFrame {
	const frame = frames.find((f) => f.name === name);
	assert.ok(frame, `no ${name} frame: ${frames.map((f) => `${f.name}:${f.line}`).join(' | ')}`);
	assert.equal(frame.source?.name, 'debuggee.c', `${name} has its source`);
	const [first, last] = bodyOf(name);
	assert.ok(frame.line >= first && frame.line <= last, `${name} at line ${frame.line}, not in its body (${first}-${last})`);
	return frame;
}

async function scopes(dc: DebugClient, frameId: number): Promise<DebugProtocol.Scope[]> {
	return (await dc.scopesRequest({ frameId })).body.scopes;
}

async function variables(dc: DebugClient, ref: number): Promise<DebugProtocol.Variable[]> {
	return (await dc.variablesRequest({ variablesReference: ref })).body.variables;
}

/** The pids of the processes on the target that hold a file of the checkpoint's directory open (its cores: the snapshot's gdbs). */
async function holdingCores(path: string): Promise<number[]> {
	const out = await shell.run(`for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null | grep -q '${path}/core-' && echo \${p#/proc/}; done`);
	return out.stdout.trim().split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
}

/** Opens the checkpoint as a snapshot; the client, its Debug Console and the stop. */
async function openSnapshot(id: string): Promise<{ dc: DebugClient; output: string[]; stopped: DebugProtocol.StoppedEvent }> {
	const dc = await connectClient(snapshotPort);
	const output = consoleOutput(dc);
	const stopped = await launchSnapshot(dc, { target: TARGET, checkpoint: id });
	return { dc, output, stopped };
}

describe('a checkpoint at a breakpoint, opened as a snapshot at the source level', () => {
	before(async () => {
		const dir = (await shell.ok(`mktemp -d ${home}/run-XXXXXX`)).trim();
		const dc = await connectClient(livePort);
		await dc.initializeRequest({ adapterID: 'checkpoint', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsMemoryReferences: true });
		const initialized = dc.waitForEvent('initialized');
		await dc.launchRequest({ target: TARGET, program, args: [dir] } as DebugProtocol.LaunchRequestArguments);
		await initialized;
		await dc.setBreakpointsRequest({ source: { path: sourceThere }, breakpoints: [{ line: lineOf('advance') }] });
		const stopped = dc.waitForEvent('stopped', 20000) as Promise<DebugProtocol.StoppedEvent>;
		await dc.configurationDoneRequest();
		await stopped;
		const { rootPid: pid } = await customRequest(dc, CUSTOM.treeState, {});
		// a few rounds in, so that the iteration is not the first
		await dc.setBreakpointsRequest({ source: { path: sourceThere }, breakpoints: [{ line: lineOf('advance'), hitCondition: '4' }] });
		const again = dc.waitForEvent('stopped', 20000);
		await dc.continueRequest({ threadId: pid });
		await again;
		const top = (await stack(dc, pid))[0];
		assert.equal(top.name, 'advance');
		const iteration = Number(await evaluate(dc, top.id, 'acct->iteration'));
		assert.ok(Number.isInteger(iteration), `acct->iteration in the live session: ${iteration}`);
		live = { dc, pid, dir, iteration };
		checkpoint = (await customRequest(dc, CUSTOM.takeCheckpoint, { name: 'snapshot at advance' })).checkpoint;
		// the live program runs on: its iteration leaves the checkpoint's behind
		await dc.setBreakpointsRequest({ source: { path: sourceThere }, breakpoints: [] });
		await dc.continueRequest({ threadId: pid });
		await shell.waitForCounters(dir, ['state'], (c) => c[0] > iteration + 2, 'the live program did not run on after the checkpoint');
	});

	test('every process and thread; frames with source lines; locals and expressions with the checkpoint\'s values; read-only', async (t) => {
		assert.ok(live && checkpoint);
		const { pid, iteration } = live;
		const t0 = Date.now();
		const { dc, output, stopped } = await openSnapshot(checkpoint.id);
		const opened = Date.now() - t0;
		try {
			assert.equal(stopped.body.threadId, pid, 'stopped on the thread the live session held');
			assert.match(stopped.body.description ?? '', /taken at advance \(debuggee\.c:\d+\)/);
			const threads = (await dc.threadsRequest()).body.threads;
			const ofRoot = threads.filter((th) => th.name.startsWith(`${pid}/`));
			const ofChild = threads.filter((th) => !th.name.startsWith(`${pid}/`));
			assert.equal(ofRoot.length, 3, `main and two workers: ${threads.map((th) => th.name).join(', ')}`);
			assert.equal(ofChild.length, 1, `the child: ${threads.map((th) => th.name).join(', ')}`);
			assert.deepEqual(ofRoot.filter((th) => th.id !== pid).map((th) => th.name.split(' ')[1]).sort(), ['worker-1', 'worker-2']);

			// main: advance at its breakpoint's line, main below at the call
			const t1 = Date.now();
			const main = await stack(dc, pid);
			const firstStack = Date.now() - t1;
			assert.deepEqual([main[0].name, main[0].line, main[0].source?.name], ['advance', lineOf('advance'), 'debuggee.c']);
			assert.equal(main[0].source?.path, sourceThere, 'the source is on this machine only under the target\'s path: read from the target');
			const below = frameOf(main, 'main');
			assert.equal(below.line, lineOf('call'));

			// locals: the checkpoint's values, while the live program has moved on
			assert.equal(await evaluate(dc, main[0].id, 'acct->iteration'), String(iteration));
			assert.equal(await evaluate(dc, main[0].id, 'step', 'hover'), '3');
			assert.equal(await evaluate(dc, below.id, 'acct.iteration'), String(iteration), 'in main\'s frame too');
			assert.ok((await shell.counters(live.dir, ['state']))[0] > iteration + 2, 'the live program is further on');
			const frameScopes = await scopes(dc, main[0].id);
			assert.deepEqual(frameScopes.map((s) => s.name.replace(/ \(\d+\)$/, '')), ['Arguments', 'Locals', 'Registers', 'Globals', 'Process', 'Memory Map', 'Files', 'Namespaces']);
			const args = await variables(dc, frameScopes[0].variablesReference);
			assert.deepEqual(args.map((v) => v.name), ['acct', 'step']);
			const registers = await variables(dc, frameScopes[2].variablesReference);
			assert.match(registers.find((v) => v.name === 'rip')?.value ?? '', /^0x[0-9a-f]+/, 'gdb\'s registers of the frame');
			const globals = await variables(dc, frameScopes[3].variablesReference);
			assert.ok(globals.some((v) => v.name === 'worker_counts'), `globals: ${globals.map((v) => v.name).join(', ')}`);
			const processVars = await variables(dc, frameScopes[4].variablesReference);
			assert.equal(processVars.find((v) => v.name === 'pid')?.value, String(pid));
			assert.match(await evaluate(dc, main[0].id, 'info line', 'repl'), /debuggee\.c/, 'the Debug Console is gdb\'s');

			// read-only: refused in words, before gdb
			await assert.rejects(dc.setVariableRequest({ variablesReference: frameScopes[0].variablesReference, name: 'step', value: '1000' }), /a snapshot is read-only/);
			await assert.rejects(dc.continueRequest({ threadId: pid }), /a snapshot is read-only/);
			// what gets to gdb cannot change a core or run it either
			await assert.rejects(evaluate(dc, main[0].id, 'step = 1000'), /Cannot access memory at address/);
			await assert.rejects(evaluate(dc, main[0].id, 'set var step = 1000', 'repl'), /Cannot access memory at address/);
			await assert.rejects(evaluate(dc, main[0].id, 'print advance(acct, 1)', 'repl'), /You can't do that without a process to debug/);
			await assert.rejects(evaluate(dc, main[0].id, 'next', 'repl'), /The program is not being run/);
			assert.equal(await evaluate(dc, main[0].id, 'step'), '3', 'nothing changed');
			assert.equal(await evaluate(dc, main[0].id, 'acct->iteration'), String(iteration));

			// the workers, in worker(); the child, in child_loop()
			for (const worker of ofRoot.filter((th) => th.id !== pid)) frameOf(await stack(dc, worker.id), 'worker');
			const t2 = Date.now();
			const childFrames = await stack(dc, ofChild[0].id);
			const childStack = Date.now() - t2;
			const loop = frameOf(childFrames, 'child_loop');
			assert.match(await evaluate(dc, loop.id, 'count'), /^\d+$/, 'the child\'s local, from its own gdb');
			await assert.rejects(dc.evaluateRequest({ expression: 'count', frameId: main[0].id, context: 'watch' }), /No symbol "count" in current context/, 'the main thread\'s frame has no count');

			// program text: not in the checkpoint, read by gdb from the program; disassembly from gdb
			const text = (await dc.customRequest('readMemory', { memoryReference: main[0].instructionPointerReference, count: 16 })).body as DebugProtocol.ReadMemoryResponse['body'];
			assert.deepEqual([Buffer.from(text?.data ?? '', 'base64').length, text?.unreadableBytes ?? 0], [16, 0]);
			const dis = (await dc.customRequest('disassemble', { memoryReference: main[0].instructionPointerReference, instructionCount: 3 })).body as DebugProtocol.DisassembleResponse['body'];
			assert.equal(dis?.instructions.length, 3);
			assert.equal(BigInt(dis?.instructions[0].address ?? '0'), BigInt((main[0].instructionPointerReference ?? '').split(':')[1]));

			assert.equal((await holdingCores(checkpoint.path)).length, 2, 'a gdb per process');
			assert.ok(!output.some((o) => /register level/.test(o)), output.join(''));
			t.diagnostic(`snapshot opened in ${opened} ms; main thread's first stack ${firstStack} ms (its gdb started at the stop); the child's first stack ${childStack} ms (core + gdb started then)`);
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
		for (let i = 0; i < 50 && (await holdingCores(checkpoint.path)).length; i++) await sleep(100);
		assert.deepEqual(await holdingCores(checkpoint.path), [], 'the gdbs are gone with the snapshot');
		const files = (await helper.imageFiles(checkpoint.id)).files.map((f) => f.name);
		assert.ok(files.includes(`core-${pid}.elf`), 'the cores stay with the checkpoint (removed with it)');
	});

	test('a program rebuilt since the checkpoint: its processes at the register level, said once each, frames not named from the new build', async () => {
		assert.ok(live && checkpoint);
		const { pid } = live;
		// another build in its place (the live program runs on from the old file)
		await shell.ok(`gcc -std=c11 -g -O1 -pthread -o ${program}.new ${sourceThere} && mv ${program}.new ${program}`);
		const { dc, output } = await openSnapshot(checkpoint.id);
		try {
			const frames = await stack(dc, pid);
			assert.ok(frames.every((f) => f.line === 0), 'no source lines from another build');
			assert.ok(frames.some((f) => /changed since the checkpoint/.test(f.name)), `frames: ${frames.map((f) => f.name).join(' | ')}`);
			await stack(dc, pid);
			const said = output.filter((o) => o.includes(`Process ${pid} (debuggee) is shown at the register level`));
			assert.equal(said.length, 1, output.join(''));
			assert.match(said[0], new RegExp(`the program ${program} changed since the checkpoint \\(build-id [0-9a-f]+ then, [0-9a-f]+ now\\)`));
			await assert.rejects(dc.evaluateRequest({ expression: 'step', frameId: frames[0].id, context: 'watch' }), /shown at the register level, without expressions or disassembly/);
			assert.deepEqual((await scopes(dc, frames[0].id)).map((s) => s.name.replace(/ \(\d+\)$/, '')), ['Registers', 'Process', 'Memory Map', 'Files', 'Namespaces']);
			assert.deepEqual(await holdingCores(checkpoint.path), [], 'no gdb stays for a program that changed');
		} finally {
			await dc.disconnectRequest({});
			await dc.stop();
		}
	});
});
