/**
 * Source-level debugging over DAP against the real target: the live
 * adapter with gdb on the target under a program built with -g (two
 * threads and a child process), launched by a launch configuration:
 * breakpoints (line, conditional, hit count, function, logpoints), the
 * stopped line, locals, stepping, evaluate (watch, hover, repl),
 * setVariable, Pause and Continue with the rest of the tree frozen and
 * thawed, sources read from the target or mapped to this machine.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { openCheckpoint } from '../../src/core/images/checkpoint';
import { HelperImageSource } from '../../src/core/images/helperSource';
import { HelperSession } from '../../src/core/session';
import { SessionPool } from '../../src/core/sessionPool';
import { targetFromSpec } from '../../src/core/targetSpec';
import { LiveDebugSession } from '../../src/debug/liveSession';
import { CUSTOM, type CheckpointSummary } from '../../src/debug/messages';
import { connectClient, consoleOutput, customRequest, serveAdapter } from '../support/dap';
import { connectionFilePath, REPO, sshTarget, TargetShell } from './harness';

const TARGET = connectionFilePath();
const SOURCE_HERE = join(REPO, 'test', 'workloads', 'debuggee.c');
const SOURCE_TEXT = readFileSync(SOURCE_HERE, 'utf8');

let shell: TargetShell;
let helper: HelperSession;
let pool: SessionPool;
const checkpoints = new Set<string>();
let server: Server;
let port = 0;
let DEBUGGEE = '';
let SOURCE_THERE = '';

/** The line of the comment "@name" in debuggee.c. */
function lineOf(name: string): number {
	const index = SOURCE_TEXT.split('\n').findIndex((l) => l.includes(`/* @${name} */`));
	assert.ok(index >= 0, `no @${name} in debuggee.c`);
	return index + 1;
}

before(async () => {
	shell = await TargetShell.open();
	DEBUGGEE = await shell.buildProgram('debuggee', '-g -O0');
	SOURCE_THERE = `${DEBUGGEE}.c`;
	helper = await HelperSession.open(sshTarget());
	pool = new SessionPool((spec) => targetFromSpec(spec));
	({ server, port } = await serveAdapter(() => new LiveDebugSession(pool)));
});

after(async () => {
	for (const id of checkpoints) await helper?.remove(id).catch(() => undefined);
	await helper?.close();
	await shell?.killStarted();
	server?.close();
	await pool?.closeAll();
	shell?.close();
});

interface Launched {
	dc: DebugClient;
	dir: string;
	pid: number;
	output: string[];
	/** The first stop, at one of the breakpoints set before configurationDone. */
	stopped: DebugProtocol.StoppedEvent;
}

/**
 * Launches the debuggee as VS Code does: initialize, launch, the
 * breakpoints (between initialized and configurationDone), configurationDone;
 * then waits for the first stop.
 */
async function launch(lines: DebugProtocol.SourceBreakpoint[], extra: Record<string, unknown> = {}, source: DebugProtocol.Source = { path: SOURCE_THERE }): Promise<Launched> {
	const dir = (await shell.ok('mktemp -d /tmp/ckpt-debuggee-XXXXXX')).trim();
	const dc = await connectClient(port);
	const output = consoleOutput(dc);
	await dc.initializeRequest({ adapterID: 'checkpoint', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsMemoryReferences: true });
	const initialized = dc.waitForEvent('initialized');
	await dc.launchRequest({ target: TARGET, program: DEBUGGEE, args: [dir], ...extra } as DebugProtocol.LaunchRequestArguments);
	await initialized;
	const set = await dc.setBreakpointsRequest({ source, breakpoints: lines });
	assert.equal(set.body.breakpoints.length, lines.length);
	const stopped = dc.waitForEvent('stopped', 20000) as Promise<DebugProtocol.StoppedEvent>;
	await dc.configurationDoneRequest();
	const event = await stopped;
	const { rootPid: pid } = await customRequest(dc, CUSTOM.treeState, {});
	return { dc, dir, pid, output, stopped: event };
}

async function topFrame(dc: DebugClient, threadId: number): Promise<DebugProtocol.StackFrame> {
	const frames = (await dc.stackTraceRequest({ threadId, startFrame: 0, levels: 20 })).body.stackFrames;
	assert.ok(frames.length > 0, 'a stack');
	return frames[0];
}

/** The variables of a frame's scopes by name: "Locals", "Arguments"... */
async function scopeVariables(dc: DebugClient, frameId: number): Promise<Map<string, DebugProtocol.Variable[]>> {
	const scopes = (await dc.scopesRequest({ frameId })).body.scopes;
	const all = new Map<string, DebugProtocol.Variable[]>();
	for (const scope of scopes) {
		if (scope.name === 'Registers') continue;
		all.set(scope.name, (await dc.variablesRequest({ variablesReference: scope.variablesReference })).body.variables);
	}
	return all;
}

/** A local (or argument) of the frame by name. */
async function local(dc: DebugClient, frameId: number, name: string): Promise<DebugProtocol.Variable> {
	for (const vars of (await scopeVariables(dc, frameId)).values()) {
		const found = vars.find((v) => v.name === name);
		if (found) return found;
	}
	assert.fail(`no variable ${name} in frame ${frameId}`);
}

/** The fields of a struct variable, or of the struct a pointer points at (gdb shows the pointee as one child). */
async function fieldsOf(dc: DebugClient, variable: DebugProtocol.Variable): Promise<DebugProtocol.Variable[]> {
	const children = (await dc.variablesRequest({ variablesReference: variable.variablesReference })).body.variables;
	if (children.length === 1 && children[0].variablesReference > 0) return fieldsOf(dc, children[0]);
	return children;
}

async function evaluate(dc: DebugClient, frameId: number, expression: string, context = 'watch'): Promise<string> {
	return (await dc.evaluateRequest({ expression, frameId, context })).body.result;
}

/** Resumes with `request` and waits for the next stop. */
async function resume(dc: DebugClient, request: () => Promise<unknown>): Promise<DebugProtocol.StoppedEvent> {
	const stopped = dc.waitForEvent('stopped', 20000) as Promise<DebugProtocol.StoppedEvent>;
	await request();
	return stopped;
}

async function end(l: Launched): Promise<void> {
	await l.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
	await l.dc.stop();
	await shell.run(`rm -rf ${l.dir}`);
}

/** The count in DIR/NAME (the record's second number). */
async function count(dir: string, name: string): Promise<number> {
	return (await shell.record(dir, name))[1] ?? -1;
}

describe('source-level debugging of a launched program', () => {
	test('a line breakpoint stops at its line with the locals; next, step in, step out; evaluate; setVariable', async () => {
		const l = await launch([{ line: lineOf('advance') }]);
		const { dc, pid } = l;
		try {
			assert.equal(l.stopped.body.reason, 'breakpoint');
			assert.equal(l.stopped.body.threadId, pid, 'the main thread, by its tid');
			assert.equal(l.stopped.body.allThreadsStopped, true);
			assert.equal(l.stopped.body.hitBreakpointIds?.length, 1, 'the breakpoint hit, by the id the editor knows');

			let frame = await topFrame(dc, pid);
			assert.equal(frame.name, 'advance');
			assert.equal(frame.line, lineOf('advance'));
			assert.equal(frame.source?.name, 'debuggee.c');
			assert.equal((await local(dc, frame.id, 'step')).value, '3');
			const acct = await local(dc, frame.id, 'acct');
			assert.ok(acct.variablesReference > 0, 'a pointer to a struct opens');
			const fields = await fieldsOf(dc, acct);
			assert.deepEqual(fields.map((f) => f.name), ['iteration', 'total', 'label']);

			const iterationText = await evaluate(dc, frame.id, 'acct->iteration');
			assert.match(iterationText, /^\d+$/, 'a watch of a field through a pointer');
			assert.equal(await evaluate(dc, frame.id, 'step * 2', 'hover'), '6');
			assert.match(await evaluate(dc, frame.id, 'info line', 'repl'), /debuggee\.c/);

			await resume(dc, () => dc.nextRequest({ threadId: pid }));
			frame = await topFrame(dc, pid);
			assert.equal(frame.line, lineOf('after'), 'next goes to the next line');
			assert.equal((await local(dc, frame.id, 'before')).value, await evaluate(dc, frame.id, 'acct->total'));

			const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
			const holder = scopes.find((s) => s.name === 'Arguments') ?? scopes[0];
			const set = await dc.setVariableRequest({ variablesReference: holder.variablesReference, name: 'step', value: '1000' });
			assert.equal(set.body.value, '1000');
			const exprSet = await dc.send('setExpression', { expression: 'acct->label[0]', value: "'X'", frameId: frame.id }) as DebugProtocol.SetExpressionResponse;
			assert.match(exprSet.body.value, /'X'/);
			const out = await resume(dc, () => dc.stepOutRequest({ threadId: pid }));
			assert.equal(out.body.reason, 'step');
			frame = await topFrame(dc, pid);
			assert.equal(frame.name, 'main');
			assert.equal(frame.line, lineOf('call'), 'step out returns to the call');
			// the total grew by the changed step
			assert.equal(Number(await evaluate(dc, frame.id, 'acct.total')) % 3, 1000 % 3);

			await resume(dc, () => dc.stepInRequest({ threadId: pid }));
			await resume(dc, () => dc.continueRequest({ threadId: pid }));
			frame = await topFrame(dc, pid);
			assert.equal(frame.line, lineOf('advance'), 'continue runs to the breakpoint again');
		} finally {
			await end(l);
		}
	});

	test('the rest of the tree is frozen while the program is stopped, and runs when it runs; Pause stops it anywhere', async () => {
		const l = await launch([{ line: lineOf('advance') }]);
		const { dc, pid, dir } = l;
		try {
			const threads = (await dc.threadsRequest()).body.threads;
			assert.ok(threads.length >= 4, `main, two workers and the child: ${threads.map((t) => t.name).join(', ')}`);
			const child = threads.find((t) => !t.name.startsWith(`${pid}/`));
			assert.ok(child, 'the child process is listed');
			const stillChild = await count(dir, 'child');
			await sleep(300);
			assert.equal(await count(dir, 'child'), stillChild, 'the child is frozen while the program is stopped');
			const childFrames = (await dc.stackTraceRequest({ threadId: child.id })).body.stackFrames;
			assert.match(childFrames[0].name, /frozen/, 'the child is not under gdb: said so');
			const { leaks } = await customRequest(dc, CUSTOM.leaks, {});
			assert.ok(leaks.length > 0 && !leaks.some((leak) => leak.kind === 'tracer'), `the session's own gdb traces the program, and is not a leak: ${leaks.map((leak) => leak.kind).join(', ')}`);

			await dc.setBreakpointsRequest({ source: { path: SOURCE_THERE }, breakpoints: [] });
			await dc.continueRequest({ threadId: pid });
			await shell.waitForCounters(dir, ['child'], (c) => c[0] > stillChild + 5, 'the child did not run on after Continue');
			const paused = await resume(dc, () => dc.pauseRequest({ threadId: pid }));
			assert.equal(paused.body.reason, 'pause');
			const stillState = await count(dir, 'state');
			const stillAgain = await count(dir, 'child');
			await sleep(300);
			assert.equal(await count(dir, 'state'), stillState, 'the program stands still after Pause');
			assert.equal(await count(dir, 'child'), stillAgain, 'the child too');
			const frames = (await dc.stackTraceRequest({ threadId: pid })).body.stackFrames;
			assert.ok(frames.some((f) => f.name === 'main' && f.line === lineOf('call') + 6), `paused in main's tick: ${frames.map((f) => `${f.name}:${f.line}`).join(' ')}`);
		} finally {
			await end(l);
		}
	});

	test('conditional, hit count and function breakpoints, logpoints; a watch across stops', async () => {
		const l = await launch([{ line: lineOf('advance'), condition: 'acct->iteration % 5 == 4' }]);
		const { dc, pid } = l;
		try {
			let frame = await topFrame(dc, pid);
			const first = Number(await evaluate(dc, frame.id, 'acct->iteration'));
			assert.equal(first % 5, 4, 'stopped where the condition holds');
			await resume(dc, () => dc.continueRequest({ threadId: pid }));
			frame = await topFrame(dc, pid);
			assert.equal(Number(await evaluate(dc, frame.id, 'acct->iteration')), first + 5, 'the next stop is 5 iterations on');

			await dc.setBreakpointsRequest({ source: { path: SOURCE_THERE }, breakpoints: [
				{ line: lineOf('after'), hitCondition: '3' },
				{ line: lineOf('call'), logMessage: 'logged {acct.iteration}' },
			] });
			await resume(dc, () => dc.continueRequest({ threadId: pid }));
			frame = await topFrame(dc, pid);
			assert.equal(frame.line, lineOf('after'));
			assert.ok(l.output.some((o) => /logged \d+/.test(o)), `the logpoint wrote to the Debug Console: ${l.output.join('')}`);

			await dc.setBreakpointsRequest({ source: { path: SOURCE_THERE }, breakpoints: [] });
			const fn = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'worker' }, { name: 'no_such_function' }] });
			assert.equal(fn.body.breakpoints.length, 2);
			assert.equal(fn.body.breakpoints[1].verified, false, 'an unknown function is not verified');
			await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'advance' }] });
			const watch = Number(await evaluate(dc, frame.id, 'acct->iteration'));
			const stop = await resume(dc, () => dc.continueRequest({ threadId: pid }));
			assert.equal(stop.body.reason, 'function breakpoint', 'a stop at a function breakpoint says so');
			frame = await topFrame(dc, pid);
			assert.equal(frame.name, 'advance');
			assert.equal(Number(await evaluate(dc, frame.id, 'acct->iteration')), watch + 1, 'the watch follows the program');
		} finally {
			await end(l);
		}
	});

	test('sources: read from the target when not here (read-only), opened here through sourceMap', async () => {
		const l = await launch([{ line: lineOf('advance') }]);
		try {
			const frame = await topFrame(l.dc, l.pid);
			assert.ok(frame.source?.sourceReference, `a source reference: ${JSON.stringify(frame.source)}`);
			const content = await l.dc.sourceRequest({ source: frame.source, sourceReference: frame.source.sourceReference ?? 0 });
			assert.equal(content.body.content, SOURCE_TEXT, 'the text of the file on the target');
		} finally {
			await end(l);
		}
		const mapped = await launch([{ line: lineOf('advance') }], { sourceMap: { '/opt/checkpoint-debugger-tests': join(REPO, 'test', 'workloads') } }, { path: SOURCE_HERE });
		try {
			assert.equal(mapped.stopped.body.reason, 'breakpoint', 'a breakpoint set on the local file stops the program');
			const frame = await topFrame(mapped.dc, mapped.pid);
			assert.equal(frame.source?.path, SOURCE_HERE);
			assert.equal(frame.source?.sourceReference ?? 0, 0);
		} finally {
			await end(mapped);
		}
	});
});

/** The first line after `line` that holds code (next stops there). */
function nextCodeLine(line: number): number {
	const lines = SOURCE_TEXT.split('\n');
	for (let i = line; i < lines.length; i++) if (lines[i].trim()) return i + 1;
	assert.fail(`no code after line ${line}`);
}

async function takeCheckpoint(dc: DebugClient, name: string): Promise<CheckpointSummary> {
	const { checkpoint } = await customRequest(dc, CUSTOM.takeCheckpoint, { name });
	checkpoints.add(checkpoint.id);
	return checkpoint;
}

/** Restores id and waits for the stop it ends in. */
async function restoreStopped(dc: DebugClient, id: string, args: Record<string, unknown> = {}): Promise<DebugProtocol.StoppedEvent> {
	const stopped = dc.waitForEvent('stopped', 30000) as Promise<DebugProtocol.StoppedEvent>;
	const { saved, stopped: said } = await customRequest(dc, CUSTOM.restoreCheckpoint, { id, ...args });
	if (saved) checkpoints.add(saved.id);
	assert.equal(said, true, 'the answer says the restored program stands stopped');
	return stopped;
}

/** The bytes at address as gdb shows them (its breakpoints' own bytes hidden), from `x/Nxb`. */
async function gdbBytes(dc: DebugClient, frameId: number, address: bigint, n: number): Promise<Buffer> {
	const text = await evaluate(dc, frameId, `x/${n}xb 0x${address.toString(16)}`, 'repl');
	const bytes = [...text.matchAll(/0x([0-9a-f]{2})\b/g)].map((m) => parseInt(m[1], 16));
	assert.equal(bytes.length, n, `x/${n}xb said: ${text}`);
	return Buffer.from(bytes);
}

describe('checkpoints while debugging at the source level', () => {
	test('a checkpoint at a breakpoint: the program\'s own code in it; restore stops at the same line with the old locals; then next and continue go on as usual', async () => {
		const AFTER = lineOf('after');
		const l = await launch([{ line: AFTER }]);
		const { dc, pid } = l;
		try {
			let frame = await topFrame(dc, pid);
			assert.equal(frame.line, AFTER);
			const iteration = Number(await evaluate(dc, frame.id, 'acct->iteration'));
			const before = (await local(dc, frame.id, 'before')).value;
			const pc = BigInt(await evaluate(dc, frame.id, '(unsigned long)$pc'));
			const own = await gdbBytes(dc, frame.id, pc, 8);

			const invalidated = dc.waitForEvent('invalidated', 10000);
			const checkpoint = await takeCheckpoint(dc, 'at after');
			await invalidated;
			assert.equal(checkpoint.processes, 2, 'the program and its child');
			frame = await topFrame(dc, pid);
			assert.equal(frame.line, AFTER, 'still stopped at the breakpoint after the checkpoint');
			assert.equal((await local(dc, frame.id, 'before')).value, before);

			const images = await openCheckpoint(new HelperImageSource(helper, checkpoint.id));
			const image = images.processes.find((p) => p.pid === pid);
			assert.ok(image, 'the program is in the checkpoint');
			const code = await image.memory.read(pc, 8);
			assert.ok(code.segments.every((s) => s.data), `gdb's writes made the code page the program's own, so CRIU dumped it: ${JSON.stringify(code.segments.map((s) => s.missing))}`);
			assert.deepEqual([...code.bytes], [...own], 'the checkpoint holds the program\'s bytes at the breakpoint, not an int3');

			for (const n of [1, 2]) {
				const stop = await resume(dc, () => dc.continueRequest({ threadId: pid }));
				assert.equal(stop.body.reason, 'breakpoint');
				frame = await topFrame(dc, pid);
				assert.equal(Number(await evaluate(dc, frame.id, 'acct->iteration')), iteration + n, 'continue runs one round to the breakpoint');
			}
			assert.notEqual((await local(dc, frame.id, 'before')).value, before, 'the local changed');

			const restored = await restoreStopped(dc, checkpoint.id);
			assert.equal(restored.body.reason, 'restore');
			assert.equal(restored.body.threadId, pid, 'the thread that was stopped');
			frame = await topFrame(dc, pid);
			assert.equal(frame.name, 'advance');
			assert.equal(frame.line, AFTER, 'stopped at the line of the checkpoint');
			assert.equal((await local(dc, frame.id, 'before')).value, before, 'with the old locals');
			assert.equal(Number(await evaluate(dc, frame.id, 'acct->iteration')), iteration);
			assert.match(l.output.join(''), /Restored checkpoint \S+: the tree is back as pid \d+ \(2 processes\), stopped at advance \(debuggee\.c:\d+\)\./);

			const step = await resume(dc, () => dc.nextRequest({ threadId: pid }));
			assert.equal(step.body.reason, 'step', 'next steps: the breakpoint it stood on is not reported again');
			frame = await topFrame(dc, pid);
			assert.equal(frame.line, nextCodeLine(AFTER), 'the next line');
			const again = await resume(dc, () => dc.continueRequest({ threadId: pid }));
			assert.equal(again.body.reason, 'breakpoint');
			frame = await topFrame(dc, pid);
			assert.equal(Number(await evaluate(dc, frame.id, 'acct->iteration')), iteration + 1, 'continue runs a whole round from the restored state');
		} finally {
			await end(l);
		}
	});

	test('a conditional breakpoint and a watch across a restore; breakpoints set since the checkpoint are in place after it', async () => {
		const ADVANCE = lineOf('advance');
		const l = await launch([{ line: ADVANCE, condition: 'acct->iteration % 4 == 2' }]);
		const { dc, pid } = l;
		try {
			let frame = await topFrame(dc, pid);
			const watched = Number(await evaluate(dc, frame.id, 'acct->iteration'));
			assert.equal(watched % 4, 2);
			const checkpoint = await takeCheckpoint(dc, 'conditional');
			await resume(dc, () => dc.continueRequest({ threadId: pid }));
			frame = await topFrame(dc, pid);
			assert.equal(Number(await evaluate(dc, frame.id, 'acct->iteration')), watched + 4);

			await dc.setBreakpointsRequest({ source: { path: SOURCE_THERE }, breakpoints: [{ line: ADVANCE, condition: 'acct->iteration % 4 == 3' }] });
			await restoreStopped(dc, checkpoint.id);
			frame = await topFrame(dc, pid);
			assert.equal(Number(await evaluate(dc, frame.id, 'acct->iteration')), watched, 'the watch shows the checkpoint\'s value');
			await resume(dc, () => dc.continueRequest({ threadId: pid }));
			frame = await topFrame(dc, pid);
			assert.equal(Number(await evaluate(dc, frame.id, 'acct->iteration')), watched + 1, 'the condition set after the checkpoint holds after the restore');
		} finally {
			await end(l);
		}
	});

	test('a checkpoint taken running restores running; Restore and Pause restores it stopped', async () => {
		const l = await launch([{ line: lineOf('advance') }]);
		const { dc, pid, dir } = l;
		try {
			await dc.setBreakpointsRequest({ source: { path: SOURCE_THERE }, breakpoints: [] });
			await dc.continueRequest({ threadId: pid });
			const running = await shell.waitForCounters(dir, ['state'], (c) => c[0] > 0, 'the program does not run');
			let stops = 0;
			dc.on('stopped', () => { stops++; });
			const checkpoint = await takeCheckpoint(dc, 'running');
			const late = await shell.waitForCounters(dir, ['state'], (c) => c[0] > running[0] + 20, 'the program did not run on after the checkpoint');
			const { saved, stopped: said } = await customRequest(dc, CUSTOM.restoreCheckpoint, { id: checkpoint.id });
			if (saved) checkpoints.add(saved.id);
			assert.equal(said, false, 'the answer says it runs');
			await shell.waitForCounters(dir, ['state'], (c) => c[0] < late[0], 'the restore did not take the program back');
			await shell.waitForCounters(dir, ['state'], (c) => c[0] > running[0] + 5, 'the restored program does not run');
			assert.equal(stops, 0, 'no stop: the checkpoint was taken running');

			const paused = await restoreStopped(dc, checkpoint.id, { pause: true });
			assert.equal(paused.body.reason, 'restore');
			const still = await count(dir, 'state');
			await sleep(300);
			assert.equal(await count(dir, 'state'), still, 'restored and paused: it stands still');
			const frames = (await dc.stackTraceRequest({ threadId: pid })).body.stackFrames;
			assert.ok(frames.some((f) => f.name === 'main' && f.source?.name === 'debuggee.c'), `gdb shows where it stands: ${frames.map((f) => f.name).join(' < ')}`);
			await dc.continueRequest({ threadId: pid });
			await shell.waitForCounters(dir, ['state'], (c) => c[0] > still + 5, 'Continue after Restore and Pause runs it');
		} finally {
			await end(l);
		}
	});
});

describe('what gdb debugs: from the first instruction, and which process', () => {
	test('a launched program waits for gdb: a breakpoint before its first fork is hit; stopOnEntry stops at main', async () => {
		const early = await launch([{ line: lineOf('fork') }]);
		try {
			assert.equal(early.stopped.body.reason, 'breakpoint', 'the breakpoint at the fork, before anything forked');
			const frame = await topFrame(early.dc, early.pid);
			assert.equal(frame.line, lineOf('fork'));
			const threads = (await early.dc.threadsRequest()).body.threads;
			assert.equal(threads.length, 1, `one process, one thread so far: ${threads.map((t) => t.name).join(', ')}`);
		} finally {
			await end(early);
		}
		const entry = await launch([], { stopOnEntry: true });
		try {
			assert.equal(entry.stopped.body.reason, 'entry');
			const frame = await topFrame(entry.dc, entry.pid);
			assert.equal(frame.name, 'main');
			assert.equal(await count(entry.dir, 'state'), -1, 'nothing of main ran yet');
		} finally {
			await end(entry);
		}
	});

	test('Debug This Process: gdb takes the child, stops and steps it at its source; and back to the program', async () => {
		const l = await launch([{ line: lineOf('advance') }]);
		const { dc, pid, dir } = l;
		try {
			const child = (await dc.threadsRequest()).body.threads.find((t) => !t.name.startsWith(`${pid}/`));
			assert.ok(child, 'the child is listed');
			const taken = dc.waitForEvent('stopped', 20000) as Promise<DebugProtocol.StoppedEvent>;
			const { pid: debugged } = await customRequest(dc, CUSTOM.debugProcess, { pid: child.id });
			assert.equal(debugged, child.id);
			assert.equal((await taken).body.threadId, child.id, 'the session shows the child where it stands');
			const frames = (await dc.stackTraceRequest({ threadId: child.id, levels: 20 })).body.stackFrames;
			assert.ok(frames.some((f) => f.name === 'child_loop' && f.source?.name === 'debuggee.c'), `the child's frames from gdb: ${frames.map((f) => f.name).join(' < ')}`);
			const parentFrames = (await dc.stackTraceRequest({ threadId: pid })).body.stackFrames;
			assert.match(parentFrames[0].name, /frozen/, 'the program is not under gdb any more: said so');

			await dc.setBreakpointsRequest({ source: { path: SOURCE_THERE }, breakpoints: [{ line: lineOf('child') }] });
			const hit = await resume(dc, () => dc.continueRequest({ threadId: child.id }));
			assert.equal(hit.body.reason, 'breakpoint');
			assert.equal(hit.body.threadId, child.id);
			const frame = await topFrame(dc, child.id);
			assert.equal(frame.line, lineOf('child'));
			const counted = Number(await evaluate(dc, frame.id, 'count'));
			await resume(dc, () => dc.continueRequest({ threadId: child.id }));
			assert.equal(Number(await evaluate(dc, (await topFrame(dc, child.id)).id, 'count')), counted + 1, 'one round of the child\'s loop');

			await dc.setBreakpointsRequest({ source: { path: SOURCE_THERE }, breakpoints: [{ line: lineOf('advance') }] });
			await customRequest(dc, CUSTOM.debugProcess, { pid });
			const back = await resume(dc, () => dc.continueRequest({ threadId: pid }));
			assert.equal(back.body.threadId, pid, 'back on the program: its breakpoint stops it');
			assert.equal((await topFrame(dc, pid)).line, lineOf('advance'));
			await assert.rejects(customRequest(dc, CUSTOM.debugProcess, { pid: 1 }), /not a process of the debugged tree/);
			assert.ok((await count(dir, 'child')) > 0);
		} finally {
			await end(l);
		}
	});
});
