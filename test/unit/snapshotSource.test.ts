/**
 * Snapshots at the source level, over DAP (DebugClient, the adapter
 * in-process), on the in-memory helper and gdb: a checkpoint of two
 * processes (the fixture's, with two threads, and a child), one gdb each,
 * started when first needed and stopped with the snapshot; frames with
 * sources, locals, expressions, disassembly and memory in ids unique across
 * the gdbs; the snapshot's own scopes beside gdb's; every write refused in
 * words; a process gdb cannot serve (its program rebuilt, no core, gdb gone)
 * at the register level, said once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { CheckpointError } from '../../src/core/errors';
import { criu, PE_PRESENT, VMA_STATUS } from '../../src/core/images/format';
import { encodeMessage, frameEntry, imageHeader } from '../../src/core/images/format/encode';
import { SnapshotDebugSession } from '../../src/debug/snapshotSession';
import { consoleOutput, launchSnapshot, withClient } from '../support/dap';
import { checkpointFiles, PAGE, PID, STACK, TID } from './checkpoint.fixtures';
import { FakeGdb, type FakeCore, type FakeGdbHost } from './fakeGdb';
import { FakeHelper, FakeSessions } from './fakeHelper';

const TIMEOUT = { timeout: 10_000 };
const errorOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The child the fixture's process forked (the fake helper gives pids by tens). */
const CHILD = PID + 10;
const PROGRAM = '/usr/bin/demo';
const SOURCE = '/src/demo.c';
/** The program's build-id, as CRIU recorded it in the child's mapping of it (words, little-endian). */
const BUILD_ID_WORDS = [0x11111111, 0x22222222];
const BUILD_ID = '1111111122222222';
const CHILD_TEXT = 0x400000n;
const CHILD_LIB = '/usr/lib/libchild.so';
const CHILD_LIB_AT = 0x7f3300000000n;
const CHILD_STACK = 0x7ffd00000000n;

function entry<M>(type: { create(props: object): M }, props: object): Buffer {
	return frameEntry(encodeMessage(type as never, type.create(props)));
}

/** The fixture's checkpoint with a child: its own thread, the program mapped (with its build-id), a stack page. */
function twoProcesses(): Record<string, Buffer> {
	const files = checkpointFiles();
	return {
		...files,
		'pstree.img': Buffer.concat([files['pstree.img'], entry(criu.ProcessTreeEntry, { pid: CHILD, ppid: PID, pgid: PID, sid: PID, threads: [CHILD] })]),
		'files.img': Buffer.concat([
			files['files.img'],
			entry(criu.FileEntry, { type: criu.FileType.FILE_TYPE_REG, id: 20, reg: { id: 20, name: PROGRAM, flags: 0, buildId: BUILD_ID_WORDS } }),
			entry(criu.FileEntry, { type: criu.FileType.FILE_TYPE_REG, id: 21, reg: { id: 21, name: CHILD_LIB, flags: 0, buildId: [0x33333333] } }),
		]),
		[`core-${CHILD}.img`]: Buffer.concat([imageHeader('core'), entry(criu.Core, {
			mtype: criu.Arch.ARCH_X86_64, threadInfo: { gpregs: { ip: CHILD_TEXT + 0x10n, sp: CHILD_STACK + 0x100n } }, tc: { taskState: 1, comm: 'demo-child', exitCode: 0 },
		})]),
		[`ids-${CHILD}.img`]: Buffer.concat([imageHeader('ids'), entry(criu.KernelObjectIds, { vmId: 3, filesId: 2, pidNsId: 10, netNsId: 11, utsNsId: 12, ipcNsId: 13, mntNsId: 14 })]),
		[`mm-${CHILD}.img`]: Buffer.concat([imageHeader('mm'), entry(criu.MemoryMap, {
			vmas: [
				{ start: CHILD_TEXT, end: CHILD_TEXT + PAGE, prot: 5, flags: 0x2, status: VMA_STATUS.AREA_REGULAR | VMA_STATUS.FILE_PRIVATE, shmid: 20n, pgoff: 0n },
				{ start: CHILD_LIB_AT, end: CHILD_LIB_AT + PAGE, prot: 5, flags: 0x2, status: VMA_STATUS.AREA_REGULAR | VMA_STATUS.FILE_PRIVATE, shmid: 21n, pgoff: 0n },
				{ start: CHILD_STACK, end: CHILD_STACK + PAGE, prot: 3, flags: 0x122, status: VMA_STATUS.AREA_REGULAR | VMA_STATUS.ANON_PRIVATE },
			],
		})]),
		[`pagemap-${CHILD}.img`]: Buffer.concat([imageHeader('pagemap'), entry(criu.PagemapHead, { pagesId: 5 }), entry(criu.PagemapEntry, { vaddr: CHILD_STACK, compatNrPages: 1, flags: PE_PRESENT })]),
		'pages-5.img': Buffer.alloc(4096, 0x33),
	};
}

/** What gdb finds in the cores: main in advance() with an account, a worker, the child in its loop. */
function cores(path: string): Record<string, FakeCore> {
	return {
		[`${path}/core-${PID}.elf`]: {
			threads: [
				{
					tid: PID, frames: [
						{ name: 'advance', path: SOURCE, line: 30, pc: 0x401136n, module: PROGRAM, locals: { acct: { iteration: '7', total: '21' }, step: '3', before: '18' } },
						{ name: 'main', path: SOURCE, line: 92, pc: 0x401300n, module: PROGRAM, locals: { total: '18' } },
					],
				},
				{ tid: TID, frames: [{ name: '???', pc: 0x7f1100000123n, module: '/usr/lib/libdemo.so' }, { name: 'worker', path: SOURCE, line: 44, pc: 0x4011a0n, module: PROGRAM, locals: { index: '1' } }] },
			],
			// the program's text, which the checkpoint does not hold (gdb reads it from the file)
			memory: [{ address: 0x401000n, bytes: Buffer.alloc(4096, 0xc3) }],
		},
		[`${path}/core-${CHILD}.elf`]: {
			threads: [{ tid: CHILD, frames: [{ name: 'child_loop', path: SOURCE, line: 55, pc: CHILD_TEXT + 0x10n, module: PROGRAM, locals: { count: '5' } }] }],
		},
	};
}

interface Fixture {
	helper: FakeHelper;
	sessions: FakeSessions;
	checkpoint: string;
	gdbs: FakeGdb[];
	host: FakeGdbHost;
}

/** The host with gdb, the program as it was at the checkpoint, and the checkpoint of the two processes. */
async function fixture(programBuildId: string | null = BUILD_ID): Promise<Fixture> {
	const helper = new FakeHelper();
	const root = helper.spawn('demo', { threads: ['worker'], cmdline: [PROGRAM] });
	helper.spawn('demo-child', { parent: root, cmdline: [PROGRAM, 'child'] });
	const c = await helper.dump(root, { leaveRunning: true });
	helper.addImages(c.id, twoProcesses());
	const host: FakeGdbHost = { programs: { [PROGRAM]: programBuildId }, cores: cores(c.path) };
	const gdbs: FakeGdb[] = [];
	helper.installGdb(() => {
		const gdb = new FakeGdb(host);
		gdbs.push(gdb);
		return gdb;
	});
	return { helper, sessions: new FakeSessions(helper), checkpoint: c.id, gdbs, host };
}

function withSource(f: Fixture, body: (dc: DebugClient, output: string[]) => Promise<void>, args: Record<string, unknown> = {}): Promise<void> {
	return withClient(() => new SnapshotDebugSession(f.sessions), async (dc) => {
		const output = consoleOutput(dc);
		const stopped = await launchSnapshot(dc, { target: 'fake', checkpoint: f.checkpoint, ...args });
		assert.equal(stopped.body.threadId, PID);
		await body(dc, output);
	});
}

async function frames(dc: DebugClient, threadId: number): Promise<DebugProtocol.StackFrame[]> {
	return (await dc.stackTraceRequest({ threadId, startFrame: 0, levels: 20 })).body.stackFrames;
}

async function scopes(dc: DebugClient, frameId: number): Promise<DebugProtocol.Scope[]> {
	return (await dc.scopesRequest({ frameId })).body.scopes;
}

async function variables(dc: DebugClient, scope: DebugProtocol.Scope | DebugProtocol.Variable | undefined): Promise<DebugProtocol.Variable[]> {
	assert.ok(scope, 'no such scope or variable');
	return (await dc.variablesRequest({ variablesReference: scope.variablesReference })).body.variables;
}

const named = <T extends { name: string }>(list: T[], name: string): T | undefined => list.find((x) => x.name === name);

/** Waits until cond holds (gdbs start in the background). */
async function until(cond: () => boolean, what: string): Promise<void> {
	for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
	assert.ok(cond(), what);
}

describe('SnapshotDebugSession at the source level (a gdb per process on a core)', TIMEOUT, () => {
	test('every process and thread; frames with sources and lines from gdb; a gdb per process, started when first needed', async () => {
		const f = await fixture();
		await withSource(f, async (dc, output) => {
			const threads = (await dc.threadsRequest()).body.threads;
			assert.deepEqual(threads.map((t) => [t.id, t.name]), [[PID, `${PID}/${PID} demo`], [TID, `${PID}/${TID} worker`], [CHILD, `${CHILD}/${CHILD} demo-child`]]);
			// the stopped thread's process has its gdb under way; the child's waits for its stack
			await until(() => f.gdbs.length === 1, 'the root\'s gdb starts with the stop');
			assert.deepEqual(f.helper.calls.filter((c) => /^(core|gdbStart)/.test(c)), [`core ${f.checkpoint} ${PID}`, 'gdbStart']);

			const main = await frames(dc, PID);
			assert.deepEqual(main.map((fr) => [fr.name, fr.source?.path, fr.line, fr.instructionPointerReference]), [
				['advance', SOURCE, 30, `${PID}:0x401136`], ['main', SOURCE, 92, `${PID}:0x401300`],
			]);
			assert.equal(main[0].source?.origin, 'read-only, from root@fake:22', 'not on this machine: read from the target');
			const worker = await frames(dc, TID);
			assert.deepEqual(worker.map((fr) => fr.name), [`?? 0x7f1100000123 (libdemo.so)`, 'worker'], 'a function gdb cannot name: where it is');
			assert.equal(f.gdbs.length, 1, 'one gdb for both threads of the process');

			const child = await frames(dc, CHILD);
			assert.deepEqual(child.map((fr) => [fr.name, fr.line]), [['child_loop', 55]]);
			assert.equal(f.gdbs.length, 2, 'the child has its own gdb');
			assert.deepEqual([f.gdbs[0].program, f.gdbs[0].corePath, f.gdbs[1].corePath], [PROGRAM, `${f.helper.checkpoints[0].path}/core-${PID}.elf`, `${f.helper.checkpoints[0].path}/core-${CHILD}.elf`]);
			// both gdbs count their frames from 0: the editor's ids are unique
			const ids = [...main, ...worker, ...child].map((fr) => fr.id);
			assert.equal(new Set(ids).size, ids.length, `frame ids ${ids.join(', ')}`);
			assert.deepEqual((await frames(dc, PID)).map((fr) => fr.id), main.map((fr) => fr.id), 'the same frames keep their ids');
			assert.ok(!output.some((o) => /register level/.test(o)), output.join(''));
		});
	});

	test('locals and expressions are the checkpoint\'s, in the frame\'s process; the snapshot\'s scopes beside gdb\'s', async () => {
		const f = await fixture();
		await withSource(f, async (dc) => {
			const [advance, main] = await frames(dc, PID);
			const [child] = await frames(dc, CHILD);
			const names = (await scopes(dc, advance.id)).map((s) => s.name);
			assert.deepEqual(names, ['Locals', 'Registers', 'Process', 'Memory Map (4)', 'Files (7)', 'Namespaces']);
			const locals = await variables(dc, named(await scopes(dc, advance.id), 'Locals'));
			assert.deepEqual(locals.map((v) => [v.name, v.value]), [['acct', '{...}'], ['step', '3'], ['before', '18']]);
			const acct = await variables(dc, named(locals, 'acct'));
			assert.deepEqual(acct.map((v) => [v.name, v.value]), [['iteration', '7'], ['total', '21']]);
			assert.equal(named(locals, 'acct')?.memoryReference, `${PID}:0x7ffc00001000`, 'memory references name the process');

			const childLocals = await variables(dc, named(await scopes(dc, child.id), 'Locals'));
			assert.deepEqual(childLocals.map((v) => [v.name, v.value]), [['count', '5']]);
			const refs = [...locals, ...childLocals].map((v) => v.variablesReference).filter(Boolean);
			assert.equal(new Set(refs).size, refs.length);

			const evaluate = async (expression: string, frameId?: number, context = 'watch'): Promise<string> => (await dc.evaluateRequest({ expression, frameId, context })).body.result;
			assert.equal(await evaluate('acct->iteration', advance.id), '7');
			assert.equal(await evaluate('total', main.id, 'hover'), '18');
			assert.equal(await evaluate('count', child.id), '5', 'in the child\'s gdb');
			await assert.rejects(evaluate('count', advance.id), (err) => /No symbol "count" in current context/.test(errorOf(err)));

			const process = await variables(dc, named(await scopes(dc, child.id), 'Process'));
			assert.equal(named(process, 'pid')?.value, String(CHILD), 'the snapshot\'s own scopes are the frame\'s process\'s');
			const map = await variables(dc, (await scopes(dc, child.id)).find((s) => s.name.startsWith('Memory Map')));
			assert.equal(map[0].value, `r-xp file ${PROGRAM}, 0 pages dumped`);
		});
	});

	test('nothing is written: setVariable, setExpression, writeMemory refused in words; continue and steps as before', async () => {
		const f = await fixture();
		await withSource(f, async (dc) => {
			const [advance] = await frames(dc, PID);
			const locals = named(await scopes(dc, advance.id), 'Locals');
			const readOnly = (err: unknown): boolean => /^a snapshot is read-only: it shows the checkpoint as it was taken\./.test(errorOf(err));
			await assert.rejects(dc.setVariableRequest({ variablesReference: locals?.variablesReference ?? 0, name: 'before', value: '5' }), readOnly);
			await assert.rejects(dc.customRequest('setExpression', { expression: 'before', value: '5', frameId: advance.id }), readOnly);
			await assert.rejects(dc.customRequest('writeMemory', { memoryReference: `${PID}:0x401000`, data: 'AA==' }), readOnly);
			await assert.rejects(dc.nextRequest({ threadId: PID }), readOnly);
			assert.equal(f.gdbs[0].count('setVariable') + f.gdbs[0].count('setExpression') + f.gdbs[0].count('writeMemory'), 0, 'refused before gdb');
		});
	});

	test('disassembly from gdb; memory the checkpoint does not hold (program text) read by gdb, the rest from the pages', async () => {
		const f = await fixture();
		await withSource(f, async (dc) => {
			const [advance] = await frames(dc, PID);
			const dis = (await dc.customRequest('disassemble', { memoryReference: advance.instructionPointerReference, instructionCount: 2 })).body as DebugProtocol.DisassembleResponse['body'];
			assert.deepEqual(dis?.instructions.map((i) => [i.address, i.instruction]), [['0x401136', 'nop'], ['0x401137', 'nop']]);
			const read = async (address: bigint, count: number): Promise<DebugProtocol.ReadMemoryResponse['body']> => (await dc.customRequest('readMemory', { memoryReference: `${PID}:0x${address.toString(16)}`, count })).body;
			const text = await read(0x401000n, 8);
			assert.deepEqual([text?.data, text?.unreadableBytes], [Buffer.alloc(8, 0xc3).toString('base64'), 0]);
			const stack = await read(STACK + PAGE, 4);
			assert.equal(stack?.data, Buffer.alloc(4, 0x5a).toString('base64'), 'the checkpoint\'s page');
			assert.equal(f.gdbs[0].count('readMemory'), 1, 'gdb only for what the pages do not hold');
			const nowhere = await read(0x10000n, 4);
			assert.deepEqual([nowhere?.data, nowhere?.unreadableBytes], ['', 4], 'neither has it: unreadable');
		});
	});

	test('the gdbs are stopped and the helper session let go when the snapshot ends', async () => {
		const f = await fixture();
		await withSource(f, async (dc) => {
			await frames(dc, PID);
			await frames(dc, CHILD);
			assert.equal(f.sessions.held, 1);
			await dc.disconnectRequest({});
			assert.deepEqual(f.gdbs.map((g) => g.stopped), [true, true]);
			assert.equal(f.sessions.held, 0);
		});
	});

	test('sources: the target\'s file read through the session when it is not on this machine, or mapped with sourceMap', async () => {
		const f = await fixture();
		f.helper.target.files.set(SOURCE, Buffer.from('int main(void) { return 0; }\n'));
		await withSource(f, async (dc) => {
			const [advance] = await frames(dc, PID);
			const ref = advance.source?.sourceReference ?? 0;
			assert.ok(ref > 0);
			assert.equal((await dc.sourceRequest({ source: advance.source, sourceReference: ref })).body.content, 'int main(void) { return 0; }\n');
		});
		await withSource(f, async (dc) => {
			const [advance] = await frames(dc, PID);
			assert.deepEqual(advance.source, { name: 'demo.c', path: __filename }, 'mapped to a file on this machine');
		}, { sourceMap: { [SOURCE]: __filename } });
	});
});

describe('SnapshotDebugSession: processes gdb cannot serve stay at the register level, said once', TIMEOUT, () => {
	test('a program rebuilt since the checkpoint: its frames are not named from the new build', async () => {
		const f = await fixture('9999999999999999');
		await withSource(f, async (dc, output) => {
			const [child] = await frames(dc, CHILD);
			assert.equal(child.name, '?? (no symbols) demo+0x10', 'unwound from the images, as before');
			assert.equal(child.line, 0);
			await frames(dc, CHILD);
			const said = output.filter((o) => o.includes(`Process ${CHILD} (demo-child) is shown at the register level`));
			assert.equal(said.length, 1, output.join(''));
			assert.match(said[0], new RegExp(`the program ${PROGRAM} changed since the checkpoint \\(build-id ${BUILD_ID} then, 9999999999999999 now\\)`));
			assert.deepEqual((await scopes(dc, child.id)).map((s) => s.name), ['Registers', 'Process', 'Memory Map (3)', 'Files (7)', 'Namespaces']);
			await assert.rejects(dc.evaluateRequest({ expression: 'count', frameId: child.id, context: 'watch' }), (err) => /process 110 is shown at the register level, without expressions or disassembly: the program \/usr\/bin\/demo changed/.test(errorOf(err)));
			assert.ok(f.gdbs.every((g) => g.stopped || g.corePath?.endsWith(`core-${PID}.elf`)), 'the refused gdb is stopped');
			// the root's program has no build-id in the checkpoint: nothing says it changed, gdb serves it
			assert.equal((await frames(dc, PID))[0].name, 'advance');
		});
	});

	test('a library that changed since the checkpoint: gdb serves the process, and says which file may mislead it', async () => {
		const f = await fixture();
		f.host.cores[`${f.helper.checkpoints[0].path}/core-${CHILD}.elf`].objfiles = [[PROGRAM, BUILD_ID], [CHILD_LIB, '44444444'], ['/usr/lib/libdemo.so', 'abcd']];
		await withSource(f, async (dc, output) => {
			assert.equal((await frames(dc, CHILD))[0].name, 'child_loop');
			await frames(dc, CHILD);
			const said = output.filter((o) => o.includes('changed since the checkpoint'));
			assert.deepEqual(said, [`stderr: Process ${CHILD}: ${CHILD_LIB} changed since the checkpoint (build-id 33333333 then, 44444444 now): gdb reads its code and symbols as the file is now, so frames and values in libchild.so may be wrong.\n`],
				'once; a file without a build-id in the checkpoint is not said to have changed');
		});
	});

	test('no core could be written: register level, in the helper\'s words', async () => {
		const f = await fixture();
		f.helper.failNext('core', new CheckpointError('criu-failed', 'cannot write a core file of its root process of checkpoint ck-1: disk full'));
		await withSource(f, async (dc, output) => {
			const [top] = await frames(dc, PID);
			assert.match(top.name, /^\?\? 0x401000 \(no symbols\)$/);
			assert.ok(output.some((o) => o.includes(`Process ${PID} (demo) is shown at the register level (frames from frame pointers, no source lines or locals): no core file could be written from the checkpoint: cannot write a core file of its root process of checkpoint ck-1: disk full.`)), output.join(''));
			assert.equal(f.gdbs.length, 0);
			assert.equal((await frames(dc, CHILD))[0].name, 'child_loop', 'the other process is served');
		});
	});

	test('the program is gone from the target: gdb\'s words', async () => {
		const f = await fixture();
		delete f.host.programs[PROGRAM];
		await withSource(f, async (dc, output) => {
			await frames(dc, PID);
			assert.ok(output.some((o) => o.includes(`gdb cannot read the program ${PROGRAM}: ${PROGRAM}: No such file or directory.`)), output.join(''));
			assert.ok(f.gdbs.every((g) => g.stopped));
		});
	});

	test('gdb ends on its own: its frames fail in words (they do not hang), the process goes on at the register level', async () => {
		const f = await fixture();
		await withSource(f, async (dc, output) => {
			const [advance] = await frames(dc, PID);
			f.gdbs[0].crash();
			await assert.rejects(dc.scopesRequest({ frameId: advance.id }), (err) => /^process 100 is shown at the register level: gdb ended \(signal 11\): Fatal signal: Segmentation fault$/.test(errorOf(err)));
			const [top] = await frames(dc, PID);
			assert.equal(top.name, '?? 0x401000 (no symbols)');
			assert.equal(output.filter((o) => o.includes(`Process ${PID} (demo) is shown at the register level (frames from frame pointers, no source lines or locals): gdb ended (signal 11): Fatal signal: Segmentation fault.`)).length, 1, output.join(''));
		});
	});

	test('a target without gdb: the whole snapshot at the register level, said once', async () => {
		const helper = new FakeHelper();
		const root = helper.spawn('demo', { threads: ['worker'] });
		const c = await helper.dump(root, { leaveRunning: true });
		helper.addImages(c.id, checkpointFiles());
		await withClient(() => new SnapshotDebugSession(new FakeSessions(helper)), async (dc) => {
			const output = consoleOutput(dc);
			await launchSnapshot(dc, { target: 'fake', checkpoint: c.id });
			const [top] = await frames(dc, PID);
			assert.equal(top.name, '?? 0x401000 (no symbols)');
			assert.deepEqual(output.filter((o) => /register level/.test(o)), ['console: Shown at the register level (frames from frame pointers, no source lines or locals): no gdb on root@fake:22: gdb was not found on this fake host; install gdb 14 or newer on the target (apt-get install gdb)\n']);
			await assert.rejects(dc.evaluateRequest({ expression: 'x', frameId: top.id, context: 'watch' }), (err) => /shown at the register level, without expressions or disassembly: the target has no gdb that can serve/.test(errorOf(err)));
			assert.ok(!helper.calls.some((call) => call.startsWith('core')), 'no core is written for nothing');
		});
	});
});
