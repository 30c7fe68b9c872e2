/**
 * A helper session on a target: typed operations over the helper client.
 * The CLI, the debug adapter and the extension all go through this.
 */
import { pb } from './protocol';
import { CheckpointError } from './errors';
import { HelperClient, type RequestOptions } from './helperClient';
import type { Target } from './target';


export type ProgressListener = (progress: pb.Progress) => void;

export interface DumpOptions {
	name?: string;
	leaveRunning?: boolean;
	/** How to treat each leak; the helper derives CRIU's options from it. */
	policy?: pb.ILeakRule[];
	/** The tree is stopped in a debugger: where (kept in the manifest, for a restore to stop there again). */
	debuggerStop?: pb.IDebuggerStop;
	/**
	 * Keep every page in the checkpoint (default false): by default the helper
	 * shares the unchanged ones with the newest checkpoint of the same program,
	 * which then restores fully, not lazily (docs/incremental.md).
	 */
	selfContained?: boolean;
	onProgress?: ProgressListener;
}

export interface RestoreOptions {
	killRunning?: boolean;
	/** Restore the TCP connections the checkpoint saved closed: they carried data since, and cannot be resumed. */
	tcpClose?: boolean;
	/** Restore the tree frozen (the result says whether it is): it runs from the checkpoint's state when thawed. */
	frozen?: boolean;
	/**
	 * With CRIU's lazy pages (default true): the tree runs at once while its
	 * memory is copied in; where the target cannot, a full restore (result.lazy false).
	 */
	lazy?: boolean;
	/** Told once when a lazy restore ends (every page in, or its daemon failed); not called for a full restore. */
	onLazyEnd?: (end: pb.LazyRestoreEnd) => void;
	onProgress?: ProgressListener;
}

export interface LaunchOptions {
	/** argv[1], argv[2], ...; argv[0] is the program. */
	args?: string[];
	/** Absolute; default "/". */
	cwd?: string;
	/** The program's whole environment: nothing else is passed on, so without it the program has none (no PATH). */
	env?: Record<string, string>;
	/** Left in a job-control stop at its first instruction, for a debugger to attach before any of its code runs (SIGCONT lets it go). */
	stopped?: boolean;
}

/** What a program the helper launched (or restored with its output) did. */
export type ProgramEvent =
	| { kind: 'output'; rootPid: number; stream: 'stdout' | 'stderr'; data: Buffer }
	/** code is null when a signal ended it; signal is null when it exited. */
	| { kind: 'exit'; rootPid: number; code: number | null; signal: number | null };

export type ProgramListener = (event: ProgramEvent) => void;

/** How a gdb ended on its own; code is null when a signal ended it. */
export interface GdbExit {
	code: number | null;
	signal: number | null;
	/** The end of what it wrote on stderr. */
	stderr: string;
}

/**
 * A gdb (its DAP interpreter) the helper runs for this session: DAP
 * messages in, its stdout out. The helper ends it when it ends.
 */
export interface GdbLink {
	readonly id: number;
	readonly pid: number;
	readonly version: string;
	/** Whole DAP messages (header, blank line, body), one or more. */
	send(data: Buffer): Promise<void>;
	/** Its stdout, cut anywhere, in order; returns the function that stops listening. */
	onOutput(listener: (data: Buffer) => void): () => void;
	/** Its own end (not one stop() asked for). */
	onExit(listener: (exit: GdbExit) => void): () => void;
	/**
	 * Tells it to disconnect (it detaches, its breakpoints out of the
	 * program), then it is killed if it lingers. atOnce: it let go of its
	 * process already (a repl "detach" was answered), so it is killed at
	 * once rather than waited for.
	 */
	stop(options?: { atOnce?: boolean }): Promise<void>;
}

/**
 * A helper session as DebuggedTree and the debug adapters use it: the
 * operations and the program events, not the client that carries them.
 * HelperSession is the real one; the unit tests put an in-memory helper here.
 */
export type HelperOperations = Pick<HelperSession,
	'target' | 'ps' | 'freeze' | 'thaw' | 'dump' | 'leaks' | 'restore' | 'list' | 'remove' | 'rename' | 'kill' | 'launch' | 'onProgramEvent' | 'imageFiles' | 'readImage'
	| 'hello' | 'gdbStart' | 'core'>;

export class HelperSession {
	/** close() was called: the helper's end is no failure of a lazy restore still under way. */
	private closing = false;

	private constructor(readonly target: Target, readonly client: HelperClient) {}

	/** Starts the helper on target; if that fails, the connection made for it is closed. */
	static async open(target: Target): Promise<HelperSession> {
		try {
			const channel = await target.startHelper();
			return new HelperSession(target, new HelperClient(channel, target.description));
		} catch (err) {
			await target.close().catch(() => undefined);
			throw err;
		}
	}

	hello(): Promise<pb.HelloResult> {
		return this.client.request('hello', {});
	}

	async ps(rootPid = 0): Promise<pb.ProcessInfo[]> {
		return (await this.client.request('ps', { rootPid })).processes;
	}

	/**
	 * exceptPids stay out of the freeze (a process a debugger holds); a
	 * frozen tree takes the new list. stopReleased: those it lets go of
	 * leave the freeze in a job-control stop (FreezeResult.stoppedPids).
	 */
	freeze(rootPid: number, options?: RequestOptions & { exceptPids?: number[]; stopReleased?: boolean }): Promise<pb.FreezeResult> {
		return this.client.request('freeze', { rootPid, exceptPids: options?.exceptPids ?? [], stopReleased: options?.stopReleased ?? false }, options);
	}

	thaw(rootPid: number): Promise<pb.ThawResult> {
		return this.client.request('thaw', { rootPid });
	}

	async dump(rootPid: number, options: DumpOptions = {}): Promise<pb.Checkpoint> {
		const result = await this.client.request('dump', {
			rootPid, name: options.name ?? '', leaveRunning: options.leaveRunning ?? false, policy: (options.policy ?? []).map((r) => pb.LeakRule.create(r)),
			debuggerStop: options.debuggerStop ? pb.DebuggerStop.create(options.debuggerStop) : undefined, selfContained: options.selfContained ?? false,
		}, { onProgress: options.onProgress });
		return result.checkpoint ?? pb.Checkpoint.create();
	}

	/**
	 * The leaks of rootPid's tree: what it shares with processes outside it
	 * (docs/leaks.md), each with the policy a dump with these rules would
	 * apply, sorted by kind then resource. Nothing is frozen or written.
	 */
	leaks(rootPid: number, policy: readonly pb.ILeakRule[] = []): Promise<pb.LeaksResult> {
		return this.client.request('leaks', { rootPid, policy: policy.map((r) => pb.LeakRule.create(r)) });
	}

	async restore(checkpointId: string, options: RestoreOptions = {}): Promise<pb.RestoreResult> {
		const end = options.onLazyEnd ? this.lazyEndOf(checkpointId, options.onLazyEnd) : undefined;
		try {
			const result = await this.client.request('restore', {
				checkpointId, killRunning: options.killRunning ?? false, tcpClose: options.tcpClose ?? false, frozen: options.frozen ?? false,
				lazy: options.lazy ?? true,
			}, { onProgress: options.onProgress, onSent: (id) => end?.sent(id) });
			if (result.lazy) end?.expect();
			else end?.stop();
			return result;
		} catch (err) {
			end?.stop();
			throw err;
		}
	}

	/**
	 * Listens for the end of this lazy restore of checkpointId (the event
	 * carries the restore's request id; another restore's end is not this
	 * one's) from before it is asked for: the end may come before the
	 * restore's answer. expect() once the answer says lazy; a helper that
	 * ends first, unless closed on purpose, is a failed end.
	 */
	private lazyEndOf(checkpointId: string, listener: (end: pb.LazyRestoreEnd) => void): { sent(id: number): void; expect(): void; stop(): void } {
		let early: pb.LazyRestoreEnd | undefined;
		let expected = false;
		let requestId = -1;
		const stop = (): void => {
			this.client.off('lazyRestoreEnd', onEnd);
			this.client.off('exit', onExit);
		};
		const tell = (end: pb.LazyRestoreEnd): void => {
			stop();
			listener(end);
		};
		const onEnd = (end: pb.LazyRestoreEnd, id: number): void => {
			if (id !== requestId || end.checkpointId !== checkpointId) return;
			if (expected) tell(end);
			else early ??= end;
		};
		const onExit = (): void => (!expected || this.closing ? stop() : tell(pb.LazyRestoreEnd.create({
			checkpointId, ok: false,
			message: `the helper on ${this.target.description} ended before the lazy restore of checkpoint ${checkpointId} did: its pages may still be coming, and whether they all came is not known here`,
		})));
		this.client.on('lazyRestoreEnd', onEnd);
		this.client.on('exit', onExit);
		return {
			sent: (id) => { requestId = id; },
			expect: () => {
				expected = true;
				if (early) tell(early);
			},
			stop,
		};
	}

	async list(): Promise<pb.Checkpoint[]> {
		return (await this.client.request('list', {})).checkpoints;
	}

	async remove(checkpointId: string): Promise<void> {
		await this.client.request('delete', { checkpointId });
	}

	/**
	 * Gives a checkpoint in the store a new name ("" clears it): at most 256
	 * bytes, no control characters but tab, as a dump's. Returns its
	 * manifest as rewritten, every other field as it was.
	 */
	async rename(checkpointId: string, name: string): Promise<pb.Checkpoint> {
		const result = await this.client.request('rename', { checkpointId, name });
		if (!result.checkpoint) throw new CheckpointError('protocol', `the helper on ${this.target.description} renamed ${checkpointId} but did not send its manifest back`);
		return result.checkpoint;
	}

	/**
	 * The pages that differ between two checkpoints of the store, process by
	 * process, compared on the target (their bytes do not cross the connection).
	 */
	pageDiff(checkpointA: string, checkpointB: string): Promise<pb.PageDiffResult> {
		return this.client.request('pageDiff', { checkpointA, checkpointB });
	}

	/** The image files of a checkpoint in the store, with their sizes. */
	imageFiles(checkpointId: string): Promise<pb.ImageFilesResult> {
		return this.client.request('imageFiles', { checkpointId });
	}

	/** Byte ranges of a checkpoint's image files, in one round trip. */
	async readImage(checkpointId: string, ranges: pb.IByteRange[]): Promise<Uint8Array[]> {
		return (await this.client.request('readImage', { checkpointId, ranges: ranges.map((r) => pb.ByteRange.create(r)) })).data;
	}

	/**
	 * Has the helper write an ELF core file of process pid of a checkpoint
	 * (0: its root) on the target, from the checkpoint's images: gdb opens it
	 * with the program. It is kept in the checkpoint's directory (result.file,
	 * at result.path on the target): read it with readImage (downloadCore).
	 */
	core(checkpointId: string, pid = 0, options: { onProgress?: ProgressListener } = {}): Promise<pb.CoreResult> {
		return this.client.request('core', { checkpointId, pid }, { onProgress: options.onProgress });
	}

	/**
	 * Starts a program on the target as the root of a tree to debug. Its
	 * output and its end come to onProgramEvent listeners: subscribe before
	 * launching, since the first output may arrive with the answer.
	 */
	launch(program: string, options: LaunchOptions = {}): Promise<pb.LaunchResult> {
		const env = Object.entries(options.env ?? {});
		const bad = env.find(([name]) => name === '' || name.includes('='));
		if (bad) {
			return Promise.reject(new CheckpointError('bad-request', `environment variable name "${bad[0]}" is empty or holds "="`));
		}
		return this.client.request('launch', {
			program, args: options.args ?? [], cwd: options.cwd ?? '', env: env.map(([name, value]) => `${name}=${value}`), stopped: options.stopped ?? false,
		});
	}

	/** SIGKILLs the tree of rootPid (thawing it if it is frozen) and waits until it is gone. */
	kill(rootPid: number): Promise<pb.KillResult> {
		return this.client.request('kill', { rootPid });
	}

	/**
	 * Listens to the output and the end of the programs this session
	 * launched, or restored with their output (RestoreResult.outputStreamed).
	 * Returns the function that stops listening.
	 */
	onProgramEvent(listener: ProgramListener): () => void {
		const onOutput = (o: pb.ProgramOutput): void => listener({
			kind: 'output', rootPid: o.rootPid, stream: o.stream === pb.OutputStream.OUTPUT_STREAM_STDERR ? 'stderr' : 'stdout', data: asBuffer(o.data),
		});
		const onExit = (x: pb.ProgramExit): void => listener({
			kind: 'exit', rootPid: x.rootPid, code: x.signal ? null : x.exitCode, signal: x.signal || null,
		});
		this.client.on('programOutput', onOutput);
		this.client.on('programExit', onExit);
		return () => {
			this.client.off('programOutput', onOutput);
			this.client.off('programExit', onExit);
		};
	}

	/**
	 * Starts a gdb on the target (HelloResult.gdbPath; NOT_FOUND with what to
	 * install when it has none that can serve).
	 */
	async gdbStart(): Promise<GdbLink> {
		// its first output may come before the answer: kept until the link exists
		const early: pb.GdbOutput[] = [];
		const keep = (o: pb.GdbOutput): void => { early.push(o); };
		this.client.on('gdbOutput', keep);
		try {
			const started = await this.client.request('gdbStart', {});
			return new HelperGdbLink(this.client, started, early.filter((o) => o.gdbId === started.gdbId));
		} finally {
			this.client.off('gdbOutput', keep);
		}
	}

	/** Ends the helper (it thaws what it froze and kills what it launched) and drops the connection. */
	async close(): Promise<void> {
		this.closing = true;
		await this.client.close();
		await this.target.close();
	}
}

function asBuffer(data: Uint8Array): Buffer {
	return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

class HelperGdbLink implements GdbLink {
	readonly id: number;
	readonly pid: number;
	readonly version: string;
	private early: Buffer[];

	constructor(private readonly client: HelperClient, started: pb.GdbStartResult, early: pb.GdbOutput[]) {
		this.id = started.gdbId;
		this.pid = started.gdbPid;
		this.version = started.gdbVersion;
		this.early = early.map((o) => asBuffer(o.data));
	}

	async send(data: Buffer): Promise<void> {
		await this.client.request('gdbSend', { gdbId: this.id, data });
	}

	onOutput(listener: (data: Buffer) => void): () => void {
		for (const data of this.early.splice(0)) listener(data);
		const onOutput = (o: pb.GdbOutput): void => {
			if (o.gdbId === this.id) listener(asBuffer(o.data));
		};
		this.client.on('gdbOutput', onOutput);
		return () => this.client.off('gdbOutput', onOutput);
	}

	onExit(listener: (exit: GdbExit) => void): () => void {
		const onExit = (x: pb.GdbExit): void => {
			if (x.gdbId === this.id) listener({ code: x.signal ? null : x.exitCode, signal: x.signal || null, stderr: x.stderrTail });
		};
		this.client.on('gdbExit', onExit);
		return () => this.client.off('gdbExit', onExit);
	}

	async stop(options?: { atOnce?: boolean }): Promise<void> {
		await this.client.request('gdbStop', { gdbId: this.id, atOnce: options?.atOnce ?? false });
	}
}
