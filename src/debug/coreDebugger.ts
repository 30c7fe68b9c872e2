/**
 * A checkpoint at the source level: one gdb per process of the checkpoint,
 * run on the target by the helper, each holding the process's program and an
 * ELF core the helper wrote from the checkpoint's images (the pages never
 * travel). gdb answers stacks with source lines, locals, expressions,
 * disassembly and memory; nothing runs and nothing is written (a core does
 * not run, and the snapshot refuses every write before it gets here).
 *
 * gdb's ids are its own (frames count from 0 and variable references from 1
 * in every gdb): the ids the editor gets are the adapter's (CoreIds), with
 * the process in them; memory references say the process too ("pid:0x...").
 *
 * A process gdb cannot serve (no core, its program rebuilt since the
 * checkpoint, gdb failing) is shown at the register level, as snapshots were
 * before: the user is told why once, in words.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { DapClient } from '../core/dap';
import { CheckpointError, errorMessage } from '../core/errors';
import type { ProcessImage } from '../core/images/checkpoint';
import type { GdbLink, HelperOperations } from '../core/session';
import { gdbDap, INITIALIZE, isUnknownFunction, python } from './gdbEngine';
import type { Sources } from './sources';
import { printable } from '../core/systemText';

/** What the core debugger needs of a helper session. */
export type CoreOperations = Pick<HelperOperations, 'target' | 'core' | 'gdbStart'>;

/** The ids the editor knows gdb's frames and variable references by: the adapter's, unique across the gdbs and its own. */
export interface CoreIds {
	frame(pid: number, tid: number, gdbFrame: number): number;
	variables(pid: number, gdbReference: number): number;
}

export interface CoreDebuggerHost {
	/** Words for the Debug Console (said once each). */
	output(text: string, category: 'console' | 'stderr'): void;
}

/** How long gdb may take to read a program and its core (a big program's debug info takes a while). */
export const LOAD_TIMEOUT_MS = 120_000;

/** Memory references name the process: "pid:0xaddress". */
export function memoryReference(pid: number, address: bigint): string {
	return `${pid}:0x${address.toString(16)}`;
}

export function parseMemoryReference(ref: string): { pid: number; address: bigint } {
	const m = /^(\d+):(0x[0-9a-f]+)$/i.exec(ref);
	if (!m) throw new CheckpointError('usage', `"${ref}" is not a memory reference of this snapshot (expected pid:0xaddress)`);
	return { pid: Number(m[1]), address: BigInt(m[2]) };
}

/** A file name as gdb's file and core-file commands read it: quoted, its quotes and backslashes escaped, as a Python literal. */
function gdbFileArgument(path: string): string {
	return JSON.stringify(`"${path.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
}

/** Loads the program; prints its build-id as gdb reads it. */
const LOAD_PROGRAM = (program: string): string => python([
	'import json',
	`gdb.execute("file " + ${gdbFileArgument(program)}, to_string=True)`,
	'p = gdb.current_progspace()',
	'o = next((o for o in gdb.objfiles() if o.filename == p.filename), None)',
	'print(json.dumps({"buildId": o.build_id if o else None}))',
].join('\n'));

/**
 * Loads the core, then tells gdb's DAP that the inferior is not running:
 * the threads a core brings count as "started" for it, after which it
 * refuses every request (notStopped) and no stopped event ever comes
 * (gdb-facts.md, "Core files"). Prints gdb's thread numbers with their
 * tids, and the files gdb reads code and symbols from, with their build-ids.
 */
const LOAD_CORE = (core: string): string => python([
	'import json',
	'import gdb.dap.events as E',
	'try:',
	`    gdb.execute("core-file " + ${gdbFileArgument(core)}, to_string=True)`,
	'finally:',
	'    E.inferior_running = False',
	'threads = [[t.global_num, t.ptid[1]] for t in gdb.selected_inferior().threads()]',
	'print(json.dumps({"threads": threads, "objfiles": [[o.filename, o.build_id] for o in gdb.objfiles()]}))',
].join('\n'));

/** gdb's message without the wrapping a Python error gets. */
function gdbMessage(err: unknown): string {
	return errorMessage(err).replace(/^Error occurred in Python: /, '').replace(/\.$/, '');
}

/** The JSON line a LOAD_* command printed. */
function printed<T>(result: string | undefined): T {
	const line = (result ?? '').trim().split('\n').pop() ?? '';
	try {
		return JSON.parse(line) as T;
	} catch {
		throw new CheckpointError('protocol', `gdb did not say what it loaded: ${line.slice(0, 200)}`);
	}
}

/** The base name of a path. */
const baseName = (path: string): string => path.split('/').pop() || path;

/** A process's program or library that is not the file it was at the checkpoint. */
interface Changed {
	file: string;
	then: string;
	now: string;
}

/** One gdb holding one process's program and core. */
export class ProcessGdb {
	private readonly gdbOf = new Map<number, number>();
	private ended?: string;
	private readonly unlisten: Array<() => void> = [];

	private constructor(readonly pid: number, private readonly link: GdbLink, private readonly dap: DapClient, stopReading: () => void) {
		this.unlisten.push(stopReading);
		this.unlisten.push(link.onExit((x) => {
			const stderr = x.stderr.trim();
			this.end(`gdb ended (${x.signal ? `signal ${x.signal}` : `exit ${x.code}`})${stderr ? `: ${stderr}` : ''}`);
		}));
	}

	/**
	 * Starts gdb and loads process's program and core. Refused (with why)
	 * when the program is not the file that ran (its build-id says so);
	 * libraries that changed are given back (gdb reads them as they are now).
	 */
	static async load(ops: CoreOperations, process: ProcessImage, core: { path: string; executable: string }, timeoutMs = LOAD_TIMEOUT_MS): Promise<{ gdb: ProcessGdb; changed: Changed[] }> {
		const link = await ops.gdbStart();
		const { dap, unlisten } = gdbDap(link, ops.target.description);
		const gdb = new ProcessGdb(process.pid, link, dap, unlisten);
		const timer = setTimeout(() => gdb.end(`gdb did not load the program and its core within ${timeoutMs / 1000} s`), timeoutMs);
		try {
			return { gdb, changed: await gdb.start(process, core) };
		} catch (err) {
			await gdb.stop();
			throw err;
		} finally {
			clearTimeout(timer);
		}
	}

	/** Why gdb is gone, once it is. */
	get gone(): string | undefined {
		return this.ended;
	}

	/** tid is a thread gdb found in the core. */
	has(tid: number): boolean {
		return this.gdbOf.has(tid);
	}

	/** A request to gdb, its thread given as a tid; gdb's answer as it is (its ids). */
	async request(command: string, args: Record<string, unknown>): Promise<unknown> {
		if (this.ended) throw new CheckpointError('connection', `gdb of process ${this.pid} is gone: ${this.ended}`);
		const threadId = args.threadId;
		const mapped = typeof threadId === 'number' ? { ...args, threadId: this.gdbOf.get(threadId) ?? threadId } : args;
		return (await this.dap.raw(command, mapped)).body;
	}

	/** Tells gdb to end (the helper kills it if it lingers). */
	async stop(): Promise<void> {
		this.end('the snapshot ended');
		for (const f of this.unlisten.splice(0)) f();
		await this.link.stop().catch(() => undefined);
	}

	private async start(process: ProcessImage, core: { path: string; executable: string }): Promise<Changed[]> {
		await this.dap.request('initialize', INITIALIZE);
		const buildIdThen = (file: string): string | undefined => process.vmas.find((v) => v.file === file && v.buildId)?.buildId;
		const program = await this.repl(LOAD_PROGRAM(core.executable)).catch((err: unknown) => {
			throw new CheckpointError('not-found', `gdb cannot read the program ${core.executable}: ${gdbMessage(err)}`);
		});
		const now = printed<{ buildId: string | null }>(program).buildId;
		const then = buildIdThen(core.executable);
		if (then && now && then !== now) {
			throw new CheckpointError('bad-request', `the program ${core.executable} changed since the checkpoint (build-id ${then} then, ${now} now): its lines and variables would be another build's`);
		}
		const loaded = await this.repl(LOAD_CORE(core.path)).catch((err: unknown) => {
			throw new CheckpointError('bad-request', `gdb cannot read the core ${core.path}: ${gdbMessage(err)}`);
		});
		const { threads, objfiles } = printed<{ threads: Array<[number, number]>; objfiles: Array<[string, string | null]> }>(loaded);
		for (const [num, tid] of threads) this.gdbOf.set(tid, num);
		const changed: Changed[] = [];
		for (const [file, id] of objfiles) {
			const before = buildIdThen(file);
			if (file !== core.executable && before && id && before !== id) changed.push({ file, then: before, now: id });
		}
		return changed;
	}

	private async repl(line: string): Promise<string | undefined> {
		if (this.ended) throw new CheckpointError('connection', this.ended);
		return (await this.dap.request('evaluate', { expression: line, context: 'repl' }))?.result;
	}

	private end(why: string): void {
		if (this.ended) return;
		this.ended = why;
		this.dap.close(new CheckpointError('connection', `gdb of process ${this.pid}: ${why}`));
	}
}

/** The register-level view's reason for a process, as the user reads it. */
function registerLevelText(process: ProcessImage, why: string): string {
	return `Process ${process.pid} (${printable(process.comm)}) is shown at the register level (frames from frame pointers, no source lines or locals): ${why}.\n`;
}

type GdbBody<K extends string> = K extends 'stackTrace' ? DebugProtocol.StackTraceResponse['body']
	: K extends 'scopes' ? DebugProtocol.ScopesResponse['body']
	: K extends 'variables' ? DebugProtocol.VariablesResponse['body']
	: K extends 'evaluate' ? DebugProtocol.EvaluateResponse['body']
	: K extends 'disassemble' ? DebugProtocol.DisassembleResponse['body']
	: K extends 'readMemory' ? DebugProtocol.ReadMemoryResponse['body']
	: unknown;

/**
 * The gdbs of a snapshot's processes, each started when the process's
 * stack is first asked for (or prepared ahead by prepare()), stopped with
 * the snapshot. Answers in the editor's ids.
 */
export class CoreDebugger {
	private readonly gdbs = new Map<number, Promise<ProcessGdb | undefined>>();
	private readonly why = new Map<number, string>();
	private stopped = false;

	constructor(
		private readonly ops: CoreOperations,
		private readonly checkpoint: string,
		private readonly processes: readonly ProcessImage[],
		private readonly sources: Sources,
		private readonly ids: CoreIds,
		private readonly host: CoreDebuggerHost,
		private readonly timeoutMs = LOAD_TIMEOUT_MS,
	) {}

	/** Starts the gdb of process pid, if it is not under way, without waiting for it. */
	prepare(pid: number): void {
		this.gdbOf(pid).catch(() => undefined);
	}

	/** Why process pid is at the register level, once that is known. */
	registerLevel(pid: number): string | undefined {
		return this.why.get(pid);
	}

	/**
	 * The gdb of process pid, started at the first call; undefined when the
	 * process is shown at the register level (the user was told why).
	 */
	async gdbOf(pid: number): Promise<ProcessGdb | undefined> {
		let started = this.gdbs.get(pid);
		if (!started) {
			started = this.start(pid);
			this.gdbs.set(pid, started);
		}
		const gdb = await started;
		if (gdb?.gone && !this.stopped) {
			// gdb ended on its own: the process is shown as it can be without it from now on
			this.gdbs.set(pid, Promise.resolve(undefined));
			this.registerLevelFrom(pid, gdb.gone);
			return undefined;
		}
		return gdb;
	}

	/**
	 * Thread tid's frames from gdb (source, line), with the editor's ids;
	 * undefined when the process (or the thread) is at the register level.
	 */
	async stackTrace(pid: number, tid: number, startFrame: number, levels: number): Promise<DebugProtocol.StackTraceResponse['body'] | undefined> {
		const gdb = await this.gdbOf(pid);
		if (!gdb?.has(tid)) return undefined;
		const body = await this.ask(gdb, 'stackTrace', { threadId: tid, startFrame, levels });
		const stackFrames = body.stackFrames.map((f): DebugProtocol.StackFrame => ({
			...f,
			id: this.ids.frame(pid, tid, f.id),
			name: frameName(f),
			source: this.sources.toEditor(f.source),
			instructionPointerReference: this.memory(pid, f.instructionPointerReference),
		}));
		return { stackFrames, totalFrames: body.totalFrames };
	}

	/** gdb's scopes of a frame (Locals, Registers...). */
	async scopes(pid: number, gdbFrame: number): Promise<DebugProtocol.Scope[]> {
		const body = await this.ask(await this.serving(pid), 'scopes', { frameId: gdbFrame });
		return body.scopes.map((s) => ({ ...s, variablesReference: this.variables(pid, s.variablesReference), source: this.sources.toEditor(s.source) }));
	}

	async variablesOf(pid: number, gdbReference: number, args: DebugProtocol.VariablesArguments): Promise<DebugProtocol.Variable[]> {
		const body = await this.ask(await this.serving(pid), 'variables', { ...args, variablesReference: gdbReference });
		return body.variables.map((v) => ({ ...v, variablesReference: this.variables(pid, v.variablesReference), memoryReference: this.memory(pid, v.memoryReference) }));
	}

	/** An expression (watch, hover, repl) in a frame of process pid, or in the process's global context. */
	async evaluate(pid: number, gdbFrame: number | undefined, args: DebugProtocol.EvaluateArguments): Promise<DebugProtocol.EvaluateResponse['body']> {
		const { frameId: _unused, ...rest } = args;
		const body = await this.ask(await this.serving(pid), 'evaluate', gdbFrame === undefined ? rest : { ...rest, frameId: gdbFrame });
		return { ...body, variablesReference: this.variables(pid, body.variablesReference), memoryReference: this.memory(pid, body.memoryReference) };
	}

	async disassemble(pid: number, address: bigint, args: DebugProtocol.DisassembleArguments): Promise<DebugProtocol.DisassembleResponse['body']> {
		const body = await this.ask(await this.serving(pid), 'disassemble', { ...args, memoryReference: `0x${address.toString(16)}` });
		return { instructions: (body?.instructions ?? []).map((i) => ({ ...i, location: this.sources.toEditor(i.location) })) };
	}

	/**
	 * Memory as gdb reads it: the core's pages, and the mapped files' for
	 * pages the checkpoint does not hold (program text); undefined when gdb
	 * cannot read all of it, or the process has no gdb (started or not:
	 * memory alone does not start one).
	 */
	async readMemory(pid: number, address: bigint, count: number): Promise<Buffer | undefined> {
		const gdb = this.gdbs.has(pid) ? await this.gdbOf(pid) : undefined;
		if (!gdb) return undefined;
		const body = await this.ask(gdb, 'readMemory', { memoryReference: `0x${address.toString(16)}`, count }).catch(() => undefined);
		const data = body?.data ? Buffer.from(body.data, 'base64') : undefined;
		return data?.length === count ? data : undefined;
	}

	/** Stops every gdb; none starts after. */
	async stop(): Promise<void> {
		this.stopped = true;
		const gdbs = await Promise.allSettled([...this.gdbs.values()]);
		await Promise.all(gdbs.map((g) => (g.status === 'fulfilled' ? g.value?.stop() : undefined)));
	}

	private async start(pid: number): Promise<ProcessGdb | undefined> {
		const process = this.processes.find((p) => p.pid === pid);
		if (!process) throw new CheckpointError('not-found', `the snapshot has no process ${pid}`);
		try {
			const core = await this.ops.core(this.checkpoint, pid).catch((err: unknown) => {
				throw new CheckpointError('criu-failed', `no core file could be written from the checkpoint: ${errorMessage(err)}`);
			});
			if (!core.executable) throw new CheckpointError('not-found', 'the checkpoint names no program for it');
			if (this.stopped) throw new CheckpointError('connection', 'the snapshot ended');
			const { gdb, changed } = await ProcessGdb.load(this.ops, process, core, this.timeoutMs);
			if (this.stopped) {
				await gdb.stop();
				throw new CheckpointError('connection', 'the snapshot ended');
			}
			for (const c of changed) {
				this.host.output(`Process ${pid}: ${c.file} changed since the checkpoint (build-id ${c.then} then, ${c.now} now): gdb reads its code and symbols as the file is now, so frames and values in ${baseName(c.file)} may be wrong.\n`, 'stderr');
			}
			return gdb;
		} catch (err) {
			this.registerLevelFrom(pid, errorMessage(err));
			return undefined;
		}
	}

	/** Process pid is shown at the register level from now on: the user is told why. */
	private registerLevelFrom(pid: number, why: string): void {
		const process = this.processes.find((p) => p.pid === pid);
		this.why.set(pid, why);
		if (process && !this.stopped) this.host.output(registerLevelText(process, why), 'stderr');
	}

	/** The gdb of process pid, which must have one (the editor got an id of it). */
	private async serving(pid: number): Promise<ProcessGdb> {
		const gdb = await this.gdbOf(pid);
		if (!gdb) throw new CheckpointError('usage', `process ${pid} is shown at the register level: ${this.why.get(pid) ?? 'gdb does not serve it'}`);
		return gdb;
	}

	private async ask<K extends string>(gdb: ProcessGdb, command: K, args: object): Promise<NonNullable<GdbBody<K>>> {
		const body = await gdb.request(command, args as Record<string, unknown>).catch((err: unknown) => {
			throw new CheckpointError('bad-request', gdbMessage(err));
		});
		if (body === undefined || body === null) throw new CheckpointError('protocol', `gdb answered ${command} without a body`);
		return body as NonNullable<GdbBody<K>>;
	}

	private variables(pid: number, gdbReference: number | undefined): number {
		return gdbReference ? this.ids.variables(pid, gdbReference) : 0;
	}

	private memory(pid: number, gdbReference: string | undefined): string | undefined {
		if (!gdbReference || !/^0x[0-9a-f]+$/i.test(gdbReference)) return gdbReference;
		return memoryReference(pid, BigInt(gdbReference));
	}
}

/** gdb names a frame of a function it knows nothing of "???": say where it is instead. */
function frameName(f: DebugProtocol.StackFrame): string {
	if (f.name && !isUnknownFunction(f.name)) return f.name;
	const module = typeof f.moduleId === 'string' ? baseName(f.moduleId) : undefined;
	return `?? ${f.instructionPointerReference ?? ''}${module ? ` (${module})` : ' (no symbols)'}`;
}
