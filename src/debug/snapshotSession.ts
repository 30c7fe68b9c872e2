/**
 * A checkpoint opened as a debug session of its own: stopped for good and
 * read-only. Threads come from the images, each with its registers; scopes
 * show the process's memory map, files and namespaces; DAP readMemory serves
 * the checkpoint's pages, so VS Code's memory views work on it; stacks are
 * unwound through frame pointers.
 */
import { Handles, InitializedEvent, OutputEvent, Scope, StoppedEvent, TerminatedEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ElfSymbols } from '../core/elf';
import { CheckpointError } from '../core/errors';
import { openCheckpoint, orderedRegisters, type CheckpointImages, type ProcessImage, type ThreadImage } from '../core/images/checkpoint';
import { HelperImageSource } from '../core/images/helperSource';
import { LocalImageSource, type ImageSource } from '../core/images/source';
import { unwind, type UnwoundFrame } from '../core/images/unwind';
import type { HelperOperations } from '../core/session';
import type { Target } from '../core/target';
import { AsyncDebugSession, ERROR_ID } from './base';
import type { SessionProvider } from './liveSession';

export interface SnapshotArguments extends DebugProtocol.LaunchRequestArguments {
	/** A checkpoint id in the target's store (with `target`), or a local checkpoint directory (without). */
	checkpoint: string;
	target?: string;
}

type Container =
	| { kind: 'registers'; thread: ThreadImage }
	| { kind: 'process'; process: ProcessImage }
	| { kind: 'vmas'; process: ProcessImage }
	| { kind: 'files'; process: ProcessImage }
	| { kind: 'namespaces'; process: ProcessImage };

const hex = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

/** Memory references name the process: "pid:address". */
export function memoryReference(pid: number, address: bigint): string {
	return `${pid}:0x${address.toString(16)}`;
}

function parseMemoryReference(ref: string): { pid: number; address: bigint } {
	const m = /^(\d+):(0x[0-9a-f]+)$/i.exec(ref);
	if (!m) throw new CheckpointError('usage', `"${ref}" is not a memory reference of this snapshot (expected pid:0xaddress)`);
	return { pid: Number(m[1]), address: BigInt(m[2]) };
}

const READ_ONLY = new CheckpointError('bad-request', 'a snapshot is read-only: it shows the checkpoint as it was taken. To run from this state, restore the checkpoint from the live session (Restore Checkpoint).');

/** Frame ids encode the thread and the frame's depth. */
const FRAMES_PER_THREAD = 1024;

export class SnapshotDebugSession extends AsyncDebugSession {
	protected readonly errorId = ERROR_ID.snapshot;
	private images?: CheckpointImages;
	private session?: HelperOperations;
	private readonly containers = new Handles<Container>();
	private readonly stacks = new Map<number, Promise<UnwoundFrame[]>>();
	private readonly symbols = new Map<string, Promise<ElfSymbols | undefined>>();

	constructor(private readonly sessions: SessionProvider) {
		super();
		this.setDebuggerLinesStartAt1(true);
		this.setDebuggerColumnsStartAt1(true);
	}

	protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
		response.body = { supportsConfigurationDoneRequest: true, supportsReadMemoryRequest: true, supportsTerminateRequest: false };
		this.sendResponse(response);
	}

	protected override launchRequest(response: DebugProtocol.LaunchResponse, args: Partial<SnapshotArguments> | undefined): void {
		const config: Partial<SnapshotArguments> = args ?? {};
		this.answer(response, () => this.starting(async () => {
			const checkpoint = config.checkpoint;
			if (typeof checkpoint !== 'string' || !checkpoint) throw new CheckpointError('usage', 'say which checkpoint to open: "checkpoint" is an id (with "target") or a local directory');
			this.images = await openCheckpoint(await this.source(checkpoint, config.target));
			const tasks = this.images.processes.reduce((n, p) => n + p.threads.length, 0);
			this.sendEvent(new OutputEvent(`Snapshot of ${this.images.source.description}: ${this.images.processes.length} processes, ${tasks} threads (read-only).\n`, 'console'));
			this.sendEvent(new InitializedEvent());
		}, () => this.release()));
	}

	protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
		this.sendResponse(response);
		const first = this.images?.processes[0]?.threads[0];
		const stopped = new StoppedEvent('snapshot', first?.tid) as DebugProtocol.StoppedEvent;
		stopped.body.allThreadsStopped = true;
		stopped.body.description = 'Checkpoint snapshot (read-only)';
		this.sendEvent(stopped);
	}

	protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
		const threads = (this.images?.processes ?? []).flatMap((p) => p.threads.map((t) => ({ id: t.tid, name: `${p.pid}/${t.tid} ${t.comm || p.comm}` })));
		response.body = { threads };
		this.sendResponse(response);
	}

	protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
		this.answer(response, async () => {
			const { process, thread } = this.thread(args.threadId);
			const frames = await this.stack(process, thread);
			const start = args.startFrame ?? 0;
			const count = args.levels || frames.length;
			const shown = frames.slice(start, start + count);
			const names = await Promise.all(shown.map((f) => this.frameName(f)));
			const stackFrames = shown.map((f, i): DebugProtocol.StackFrame => ({
				id: thread.tid * FRAMES_PER_THREAD + start + i,
				name: names[i],
				line: 0,
				column: 0,
				instructionPointerReference: memoryReference(process.pid, f.pc),
				presentationHint: 'normal',
			}));
			return { stackFrames, totalFrames: frames.length };
		});
	}

	protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
		this.answer(response, async () => {
			const { process, thread } = this.thread(Math.floor(args.frameId / FRAMES_PER_THREAD));
			const scope = (name: string, container: Container, expensive = false): DebugProtocol.Scope => new Scope(name, this.containers.create(container), expensive);
			return {
				scopes: [
					scope('Registers', { kind: 'registers', thread }),
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
			const all = await variablesOf(container);
			const start = args.start ?? 0;
			return { variables: args.count ? all.slice(start, start + args.count) : all.slice(start) };
		});
	}

	protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
		this.answer(response, async () => {
			const { pid, address } = parseMemoryReference(args.memoryReference);
			const process = this.processOf(pid);
			const start = address + BigInt(args.offset ?? 0);
			const read = await process.read(start, args.count);
			// DAP can say "unreadable" only after the readable prefix: stop at the first missing byte.
			const firstMissing = read.segments.findIndex((s) => s.missing);
			const readable = firstMissing < 0 ? args.count : Number(read.segments[firstMissing].address - start);
			return {
				address: `0x${start.toString(16)}`,
				data: read.bytes.subarray(0, readable).toString('base64'),
				unreadableBytes: args.count - readable,
			};
		});
	}

	protected override disconnectRequest(response: DebugProtocol.DisconnectResponse): void {
		this.answer(response, () => this.end());
	}

	/** A snapshot does not run: Continue and the steps say so, and how to run from this state. */
	protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
		this.fail(response, READ_ONLY);
	}

	protected override nextRequest(response: DebugProtocol.NextResponse): void {
		this.fail(response, READ_ONLY);
	}

	protected override stepInRequest(response: DebugProtocol.StepInResponse): void {
		this.fail(response, READ_ONLY);
	}

	protected override stepOutRequest(response: DebugProtocol.StepOutResponse): void {
		this.fail(response, READ_ONLY);
	}

	private async source(checkpoint: string, target: string | undefined): Promise<ImageSource> {
		if (!target) return new LocalImageSource(checkpoint);
		this.session = await this.sessions.acquire(target);
		return new HelperImageSource(this.session, checkpoint);
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
	 * Symbols come from the files on the target the checkpoint was taken on;
	 * a checkpoint opened from a local folder has no such files at hand (this
	 * machine's libc is another build), so its frames stay unnamed.
	 */
	private symbolsOf(file: string): Promise<ElfSymbols | undefined> {
		let symbols = this.symbols.get(file);
		if (!symbols) {
			const target = this.session?.target;
			symbols = !target || !file.startsWith('/') ? Promise.resolve(undefined) : readSymbols(target, file);
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

	private async release(): Promise<void> {
		const images = this.images;
		const session = this.session;
		this.images = undefined;
		this.session = undefined;
		await images?.source.close();
		if (session) await this.sessions.release(session);
	}

	private async end(): Promise<void> {
		await this.release();
		this.sendEvent(new TerminatedEvent());
	}
}

/** A file on the target read by range over SFTP; any failure (gone, unreadable, not ELF) means no symbols. */
async function readSymbols(target: Target, file: string): Promise<ElfSymbols | undefined> {
	const slash = file.lastIndexOf('/');
	try {
		const dir = await target.imageSource(file.slice(0, slash) || '/');
		try {
			return await ElfSymbols.read({ readRange: (offset, length) => dir.readRange(file.slice(slash + 1), offset, length) });
		} finally {
			await dir.close();
		}
	} catch {
		return undefined;
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
				leaf('pid', String(p.pid)), leaf('ppid', String(p.ppid)), leaf('comm', p.comm), leaf('command line', cmdline ? cmdline.join(' ') : '(not in the checkpoint)'),
				leaf('state', p.state), leaf('pgid', String(p.pgid)), leaf('sid', String(p.sid)),
				leaf('uid', p.creds ? `${p.creds.uid} (effective ${p.creds.euid})` : '?'), leaf('gid', p.creds ? `${p.creds.gid} (effective ${p.creds.egid})` : '?'),
			];
		}
		case 'vmas':
			return c.process.vmas.map((v) => leaf(`${hex(v.start)}-${hex(v.end)}`, `${v.prot} ${v.kind}${v.file ? ` ${v.file}` : ''}, ${v.pages} pages dumped`, memoryReference(c.process.pid, v.start)));
		case 'files':
			return c.process.files.map((f) => leaf(`fd ${f.fd}`, [f.kind, f.path ?? f.peer ?? '', f.detail ?? '', f.pos !== undefined ? `pos ${f.pos}` : ''].filter(Boolean).join(' ')));
		case 'namespaces':
			return c.process.namespaces.map((n) => leaf(n.kind, `${n.id}${n.dumped ? ' (dumped)' : ' (inherited)'}`));
	}
}
