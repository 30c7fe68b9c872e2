/**
 * A checkpoint opened as a debug session of its own: stopped for good and
 * read-only. Threads come from the images, every process's. At the source
 * level (a checkpoint in a target's store, gdb on the target): each
 * process's stacks, locals, expressions and disassembly come from a gdb
 * holding the process's program and an ELF core of it (CoreDebugger).
 * Otherwise, or for a process gdb cannot serve (said why): stacks unwound
 * through frame pointers, named from ELF symbols, and each thread's
 * registers. Either way scopes show the process's memory map, files and
 * namespaces, and DAP readMemory serves the checkpoint's pages, so VS
 * Code's memory views work on it.
 */
import { Handles, InitializedEvent, OutputEvent, Response, Scope, StoppedEvent, TerminatedEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { ElfSymbols } from '../core/elf';
import { readMappedSymbols } from '../core/elfFiles';
import { CheckpointError } from '../core/errors';
import { openCheckpoint, orderedRegisters, type CheckpointImages, type ProcessImage, type ThreadImage } from '../core/images/checkpoint';
import { HelperImageSource } from '../core/images/helperSource';
import { LocalImageSource, type ImageSource } from '../core/images/source';
import { unwind, type UnwoundFrame } from '../core/images/unwind';
import type { pb } from '../core/protocol';
import type { HelperOperations } from '../core/session';
import { AsyncDebugSession, ERROR_ID } from './base';
import { CoreDebugger, memoryReference, parseMemoryReference } from './coreDebugger';
import type { SessionProvider } from './liveSession';
import { MAX_SOURCE_BYTES, Sources, sourceMapOf } from './sources';
import { printable, printableCommandLine } from '../core/systemText';

export { memoryReference } from './coreDebugger';

export interface SnapshotArguments extends DebugProtocol.LaunchRequestArguments {
	/** A checkpoint id in the target's store (with `target`), or a local checkpoint directory (without). */
	checkpoint: string;
	target?: string;
	/** Where the target's source files are on this machine: { "/path/on/the/target": "/path/here" }. */
	sourceMap?: Record<string, string>;
}

type Container =
	| { kind: 'registers'; thread: ThreadImage }
	| { kind: 'process'; process: ProcessImage }
	| { kind: 'vmas'; process: ProcessImage }
	| { kind: 'files'; process: ProcessImage }
	| { kind: 'namespaces'; process: ProcessImage }
	/** A variable reference of the gdb of process pid. */
	| { kind: 'gdb'; pid: number; reference: number };

/** A frame the editor knows: one of gdb's (of process pid), or one unwound from the images (depth in the thread's stack). */
type FrameRef =
	| { kind: 'gdb'; pid: number; tid: number; frame: number }
	| { kind: 'unwound'; tid: number; depth: number };

const hex = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

/** What would run the snapshot or write into it. */
const REFUSED = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto', 'restartFrame', 'setVariable', 'setExpression', 'writeMemory']);

const READ_ONLY = new CheckpointError('bad-request', 'a snapshot is read-only: it shows the checkpoint as it was taken. To run from this state, restore the checkpoint from the live session (Restore Checkpoint).');

/** Handles that give the same id to the same key: an id the editor holds stays good for the session. */
class Ids<T> {
	private readonly handles = new Handles<T>(1);
	private readonly byKey = new Map<string, number>();

	of(key: string, value: T): number {
		let id = this.byKey.get(key);
		if (id === undefined) {
			id = this.handles.create(value);
			this.byKey.set(key, id);
		}
		return id;
	}

	get(id: number): T | undefined {
		return this.handles.get(id);
	}
}

export class SnapshotDebugSession extends AsyncDebugSession {
	protected readonly errorId = ERROR_ID.snapshot;
	private images?: CheckpointImages;
	private session?: HelperOperations;
	/** gdb under each process (a checkpoint of a target's store, and the target has gdb). */
	private core?: CoreDebugger;
	/** The sources gdb names, as the editor opens them (read from the target when they are not here). */
	private sources?: Sources;
	/** Where the debugger held the tree when the checkpoint was taken (its manifest says), when it did. */
	private debuggerStop?: pb.IDebuggerStop;
	private readonly containers = new Handles<Container>();
	private readonly frames = new Ids<FrameRef>();
	private readonly gdbReferences = new Map<string, number>();
	private readonly stacks = new Map<number, Promise<UnwoundFrame[]>>();
	private readonly symbols = new Map<string, Promise<ElfSymbols | undefined>>();

	constructor(private readonly sessions: SessionProvider) {
		super();
		this.setDebuggerLinesStartAt1(true);
		this.setDebuggerColumnsStartAt1(true);
	}

	protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
		response.body = {
			supportsConfigurationDoneRequest: true,
			supportsReadMemoryRequest: true,
			supportsTerminateRequest: false,
			// gdb's, where a process has one (refused in words where not)
			supportsEvaluateForHovers: true,
			supportsDisassembleRequest: true,
			supportsDelayedStackTraceLoading: true,
		};
		this.sendResponse(response);
	}

	protected override launchRequest(response: DebugProtocol.LaunchResponse, args: Partial<SnapshotArguments> | undefined): void {
		const config: Partial<SnapshotArguments> = args ?? {};
		this.answer(response, () => this.starting(async () => {
			const checkpoint = config.checkpoint;
			if (typeof checkpoint !== 'string' || !checkpoint) throw new CheckpointError('usage', 'say which checkpoint to open: "checkpoint" is an id (with "target") or a local directory');
			const sourceMap = sourceMapOf(config.sourceMap);
			this.images = await openCheckpoint(await this.source(checkpoint, config.target));
			const tasks = this.images.processes.reduce((n, p) => n + p.threads.length, 0);
			this.sendEvent(new OutputEvent(`Snapshot of ${this.images.source.description}: ${this.images.processes.length} processes, ${tasks} threads (read-only).\n`, 'console'));
			await this.prepareSourceLevel(checkpoint, sourceMap);
			this.sendEvent(new InitializedEvent());
		}, () => this.release()));
	}

	/**
	 * The snapshot stops on the thread the debugger held at the checkpoint
	 * (its manifest says), else on the root's first; the gdb of its process
	 * starts now, as the editor will ask for its stack first.
	 */
	protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
		this.sendResponse(response);
		const processes = this.images?.processes ?? [];
		const heldTid = this.debuggerStop?.tid ?? undefined;
		const held = heldTid ? processes.find((p) => p.threads.some((t) => t.tid === heldTid)) : undefined;
		const tid = held ? heldTid : processes[0]?.threads[0]?.tid;
		const process = held ?? processes[0];
		if (process) this.core?.prepare(process.pid);
		const stopped = new StoppedEvent('snapshot', tid) as DebugProtocol.StoppedEvent;
		stopped.body.allThreadsStopped = true;
		stopped.body.description = held && this.debuggerStop?.location ? `Checkpoint snapshot (read-only), taken at ${this.debuggerStop.location}` : 'Checkpoint snapshot (read-only)';
		this.sendEvent(stopped);
	}

	protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
		const threads = (this.images?.processes ?? []).flatMap((p) => p.threads.map((t) => ({ id: t.tid, name: printable(`${p.pid}/${t.tid} ${t.comm || p.comm}`) })));
		response.body = { threads };
		this.sendResponse(response);
	}

	/** gdb's frames (source, line) where the process has a gdb; else frames unwound through frame pointers. */
	protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
		this.answer(response, async () => {
			const { process, thread } = this.thread(args.threadId);
			const start = args.startFrame ?? 0;
			const fromGdb = await this.core?.stackTrace(process.pid, thread.tid, start, args.levels ?? 0);
			if (fromGdb) return fromGdb;
			const frames = await this.stack(process, thread);
			const count = args.levels || frames.length;
			const shown = frames.slice(start, start + count);
			const names = await Promise.all(shown.map((f) => this.frameName(f)));
			const stackFrames = shown.map((f, i): DebugProtocol.StackFrame => ({
				id: this.frames.of(`${thread.tid}/${start + i}`, { kind: 'unwound', tid: thread.tid, depth: start + i }),
				name: names[i],
				line: 0,
				column: 0,
				instructionPointerReference: memoryReference(process.pid, f.pc),
				presentationHint: 'normal',
			}));
			return { stackFrames, totalFrames: frames.length };
		});
	}

	/** gdb's scopes of the frame (Locals, Registers...) or the thread's registers, then the process's own. */
	protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
		this.answer(response, async () => {
			const frame = this.frameOf(args.frameId);
			const { process, thread } = this.thread(frame.tid);
			const scope = (name: string, container: Container, expensive = false): DebugProtocol.Scope => new Scope(name, this.containers.create(container), expensive);
			const own = frame.kind === 'gdb' && this.core ? await this.core.scopes(frame.pid, frame.frame) : [scope('Registers', { kind: 'registers', thread })];
			return {
				scopes: [
					...own,
					scope('Process', { kind: 'process', process }),
					scope(`Memory Map (${process.vmas.length})`, { kind: 'vmas', process }, process.vmas.length > 1000),
					scope(`Files (${process.files.length})`, { kind: 'files', process }),
					scope('Namespaces', { kind: 'namespaces', process }),
				],
			};
		});
	}

	protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
		this.answer(response, async () => {
			const container = this.containers.get(args.variablesReference);
			if (!container) return { variables: [] };
			if (container.kind === 'gdb') return { variables: await this.gdb().variablesOf(container.pid, container.reference, args) };
			const all = await variablesOf(container);
			const start = args.start ?? 0;
			return { variables: args.count ? all.slice(start, start + args.count) : all.slice(start) };
		});
	}

	/**
	 * Watch, hover and the Debug Console, by gdb against the checkpoint's
	 * memory: in the frame's process, or the root's without a frame. A core
	 * cannot run: calls and assignments fail in gdb's words.
	 */
	protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
		this.answer(response, async () => {
			const frame = args.frameId === undefined ? undefined : this.frameOf(args.frameId);
			if (frame?.kind === 'unwound') throw this.registerLevel(this.thread(frame.tid).process.pid);
			const pid = frame?.pid ?? this.images?.processes[0]?.pid;
			if (pid === undefined) throw new CheckpointError('usage', 'the snapshot is not open');
			if (!this.core) throw this.registerLevel(pid);
			if (!(await this.core.gdbOf(pid))) throw this.registerLevel(pid);
			return this.core.evaluate(pid, frame?.frame, args);
		});
	}

	protected override disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): void {
		this.answer(response, async () => {
			const { pid, address } = parseMemoryReference(args.memoryReference);
			this.processOf(pid);
			if (!this.core || !(await this.core.gdbOf(pid))) throw this.registerLevel(pid);
			return this.core.disassemble(pid, address, args);
		});
	}

	/**
	 * The checkpoint's pages; where it does not hold them all (program text
	 * is read from its file, never dumped), what gdb reads through the core
	 * and the mapped files, when the process has a gdb.
	 */
	protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
		this.answer(response, async () => {
			const { pid, address } = parseMemoryReference(args.memoryReference);
			const process = this.processOf(pid);
			const start = address + BigInt(args.offset ?? 0);
			const read = await process.read(start, args.count);
			// DAP can say "unreadable" only after the readable prefix: stop at the first missing byte.
			const firstMissing = read.segments.findIndex((s) => s.missing);
			const readable = firstMissing < 0 ? args.count : Number(read.segments[firstMissing].address - start);
			const whole = readable < args.count ? await this.core?.readMemory(pid, start, args.count) : undefined;
			return {
				address: `0x${start.toString(16)}`,
				data: (whole ?? read.bytes.subarray(0, readable)).toString('base64'),
				unreadableBytes: whole ? 0 : args.count - readable,
			};
		});
	}

	/** A source read from the target (not found on this machine): its text. */
	protected override sourceRequest(response: DebugProtocol.SourceResponse, args: DebugProtocol.SourceArguments): void {
		this.answer(response, async () => {
			const ref = args.source?.sourceReference ?? args.sourceReference;
			if (!this.sources) throw new CheckpointError('not-found', `no source is known by reference ${ref}`);
			return { content: await this.sources.content(ref), mimeType: 'text/x-c' };
		});
	}

	protected override disconnectRequest(response: DebugProtocol.DisconnectResponse): void {
		this.answer(response, () => this.end());
	}

	/**
	 * A snapshot does not run and is not written: Continue, the steps and
	 * every write (variables, expressions, memory) say so, and how to run
	 * from this state. gdb never sees them.
	 */
	protected override dispatchRequest(request: DebugProtocol.Request): void {
		if (REFUSED.has(request.command)) return this.fail(new Response(request), READ_ONLY);
		super.dispatchRequest(request);
	}

	private async source(checkpoint: string, target: string | undefined): Promise<ImageSource> {
		if (!target) return new LocalImageSource(checkpoint);
		this.session = await this.sessions.acquire(target);
		return new HelperImageSource(this.session, checkpoint);
	}

	/**
	 * gdb under each process, where the checkpoint is in a target's store
	 * and the target has a gdb that can serve; said once, in words, when the
	 * snapshot stays at the register level.
	 */
	private async prepareSourceLevel(checkpoint: string, sourceMap: Record<string, string>): Promise<void> {
		const session = this.session;
		const images = this.images;
		if (!images) return;
		if (!session) {
			this.sendEvent(new OutputEvent('Opened from this machine: shown at the register level (source lines, locals and expressions need gdb on the target the checkpoint was taken on).\n', 'console'));
			return;
		}
		const hello = await session.hello();
		if (hello.gdbProblem || !hello.gdbVersion) {
			this.sendEvent(new OutputEvent(`Shown at the register level (frames from frame pointers, no source lines or locals): no gdb on ${session.target.description}: ${hello.gdbProblem || 'its helper does not run gdb'}\n`, 'console'));
			return;
		}
		this.debuggerStop = (await session.list().catch(() => [])).find((c) => c.id === checkpoint)?.debuggerStop ?? undefined;
		const target = session.target;
		this.sources = new Sources(sourceMap, (path) => target.readFile(path, MAX_SOURCE_BYTES), target.description);
		this.core = new CoreDebugger(session, checkpoint, images.processes, this.sources, {
			frame: (pid, tid, frame) => this.frames.of(`${pid}:${frame}`, { kind: 'gdb', pid, tid, frame }),
			variables: (pid, reference) => this.gdbReference(pid, reference),
		}, { output: (text, category) => this.sendEvent(new OutputEvent(text, category)) });
	}

	/** The editor's id of a variable reference of the gdb of process pid (the same id each time). */
	private gdbReference(pid: number, reference: number): number {
		const key = `${pid}:${reference}`;
		let id = this.gdbReferences.get(key);
		if (id === undefined) {
			id = this.containers.create({ kind: 'gdb', pid, reference });
			this.gdbReferences.set(key, id);
		}
		return id;
	}

	private frameOf(frameId: number): FrameRef {
		const frame = this.frames.get(frameId);
		if (!frame) throw new CheckpointError('not-found', `the snapshot has no frame ${frameId}`);
		return frame;
	}

	private gdb(): CoreDebugger {
		if (!this.core) throw new CheckpointError('usage', 'the snapshot is shown at the register level');
		return this.core;
	}

	/** Why an expression or disassembly cannot be had for process pid, in words. */
	private registerLevel(pid: number): CheckpointError {
		const why = this.core?.registerLevel(pid) ?? (this.session ? 'the target has no gdb that can serve' : 'the checkpoint was opened from this machine, without gdb on its target');
		return new CheckpointError('usage', `process ${pid} is shown at the register level, without expressions or disassembly: ${why}`);
	}

	/** "inner+0x1a (frames)", or "?? (no symbols) libc.so.6+0x11a2b3" when the file gives no name. */
	private async frameName(f: UnwoundFrame): Promise<string> {
		if (!f.module) return `?? 0x${f.pc.toString(16)} (no symbols)`;
		const base = f.module.file.split('/').pop() ?? f.module.file;
		const symbols = await this.symbolsOf(f.module.file);
		// Another build of the file than the one that ran (rebuilt or upgraded since): its names would be wrong.
		if (symbols?.buildId && f.module.buildId && symbols.buildId !== f.module.buildId) {
			return `?? (${base} changed since the checkpoint) ${base}+0x${f.module.offset.toString(16)}`;
		}
		const hit = symbols?.lookup(f.returnAddress ? f.module.offset - 1n : f.module.offset);
		if (hit && f.returnAddress) hit.offset += 1n;
		if (!hit) return `?? (no symbols) ${base}+0x${f.module.offset.toString(16)}`;
		return `${hit.name}+0x${hit.offset.toString(16)} (${base})`;
	}

	/**
	 * Symbols come from the files on the target the checkpoint was taken on
	 * (read through its helper, by the paths the checkpoint names); a
	 * checkpoint opened from a local folder has no such files at hand (this
	 * machine's libc is another build), so its frames stay unnamed.
	 */
	private symbolsOf(file: string): Promise<ElfSymbols | undefined> {
		let symbols = this.symbols.get(file);
		if (!symbols) {
			// a checkpoint read through a helper: it reads the files the checkpoint's processes mapped too
			const source = this.images?.source;
			symbols = !(source instanceof HelperImageSource) || !file.startsWith('/') ? Promise.resolve(undefined) : readMappedSymbols([source], file);
			this.symbols.set(file, symbols);
		}
		return symbols;
	}

	private stack(process: ProcessImage, thread: ThreadImage): Promise<UnwoundFrame[]> {
		let frames = this.stacks.get(thread.tid);
		if (!frames) {
			frames = unwind(process, thread.registers).then((u) => u.frames);
			this.stacks.set(thread.tid, frames);
		}
		return frames;
	}

	private thread(tid: number): { process: ProcessImage; thread: ThreadImage } {
		for (const process of this.images?.processes ?? []) {
			const thread = process.threads.find((t) => t.tid === tid);
			if (thread) return { process, thread };
		}
		throw new CheckpointError('not-found', `the snapshot has no thread ${tid}`);
	}

	private processOf(pid: number): ProcessImage {
		const process = this.images?.processes.find((p) => p.pid === pid);
		if (!process) throw new CheckpointError('not-found', `the snapshot has no process ${pid}`);
		return process;
	}

	/** Stops the gdbs (the cores stay in the checkpoint's directory, with it: the helper keeps them there). */
	private async release(): Promise<void> {
		const images = this.images;
		const session = this.session;
		const core = this.core;
		this.images = undefined;
		this.session = undefined;
		this.core = undefined;
		await core?.stop();
		await images?.source.close();
		if (session) await this.sessions.release(session);
	}

	private async end(): Promise<void> {
		await this.release();
		this.sendEvent(new TerminatedEvent());
	}
}

const leaf = (name: string, value: string, memory?: string): DebugProtocol.Variable => ({ name, value, variablesReference: 0, memoryReference: memory });

async function variablesOf(c: Container): Promise<DebugProtocol.Variable[]> {
	switch (c.kind) {
		case 'registers':
			return orderedRegisters(c.thread)
				.map(([name, value]) => leaf(name, hex(value)))
				.concat(leaf('fpu', c.thread.fpu));
		case 'process': {
			const p = c.process;
			const cmdline = await p.cmdline();
			return [
				leaf('pid', String(p.pid)), leaf('ppid', String(p.ppid)), leaf('comm', printable(p.comm)), leaf('command line', cmdline ? printableCommandLine(cmdline) : '(not in the checkpoint)'),
				leaf('state', p.state), leaf('pgid', String(p.pgid)), leaf('sid', String(p.sid)),
				leaf('uid', p.creds ? `${p.creds.uid} (effective ${p.creds.euid})` : '?'), leaf('gid', p.creds ? `${p.creds.gid} (effective ${p.creds.egid})` : '?'),
			];
		}
		case 'vmas':
			return c.process.vmas.map((v) => leaf(`${hex(v.start)}-${hex(v.end)}`, `${v.prot} ${v.kind}${v.file ? ` ${v.file}` : ''}, ${v.pages} pages dumped`, memoryReference(c.process.pid, v.start)));
		case 'files':
			return c.process.files.map((f) => leaf(`fd ${f.fd}`, printable([f.kind, f.path ?? f.peer ?? '', f.detail ?? '', f.pos !== undefined ? `pos ${f.pos}` : ''].filter(Boolean).join(' '))));
		case 'namespaces':
			return c.process.namespaces.map((n) => leaf(n.kind, `${n.id}${n.dumped ? ' (dumped)' : ' (inherited)'}`));
		case 'gdb':
			throw new Error('a variable reference of gdb is answered by gdb');
	}
}
