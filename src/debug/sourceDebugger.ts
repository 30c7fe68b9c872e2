/**
 * Source-level debugging of one process of the live tree, on gdb: the
 * breakpoints the editor set (kept, so that a new gdb gets them again), the
 * requests that go to gdb, its events made the editor's (sources as the
 * editor opens them, thread ids as the adapter names threads), and the rest
 * of the tree frozen while the process is stopped, as Pause does.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import { CheckpointError, errorMessage } from '../core/errors';
import type { DebuggedTree } from '../core/debuggedTree';
import type { pb } from '../core/protocol';
import type { HelperOperations } from '../core/session';
import { GdbEngine, GdbStart } from './gdbEngine';
import type { Sources } from './sources';

/** What aside() leaves its caller to decide. */
export interface Aside<T> {
	result: T;
	/** The process ran under gdb before (gdb stopped it for the work). */
	wasRunning: boolean;
	/** Where the process was stopped in gdb, unless it was running. */
	at?: pb.IDebuggerStop;
	/** A stop of its own that came as gdb stopped it (a breakpoint hit): the editor should hear of it. */
	caught?: DebugProtocol.StoppedEvent['body'];
}

/** What the adapter does for the source debugger. */
export interface SourceDebuggerHost {
	/** The process stopped: the rest of the tree is frozen, then the editor is told. */
	stopped(body: DebugProtocol.StoppedEvent['body']): Promise<void>;
	breakpointChanged(body: DebugProtocol.BreakpointEvent['body']): void;
	output(text: string, category: 'console' | 'stderr'): void;
	/** gdb went away: the session goes on without source-level debugging. */
	lost(why: string): void;
}

/** The breakpoints of one source, as the editor set them last, with the ids the editor knows them by. */
interface SourceBreakpoints {
	source: DebugProtocol.Source;
	breakpoints: DebugProtocol.SourceBreakpoint[];
	ids: number[];
}

/** The requests that go to gdb as they are (their ids are gdb's). */
export const FORWARDED = new Set([
	'evaluate', 'setVariable', 'setExpression', 'disassemble', 'readMemory', 'writeMemory', 'breakpointLocations',
	'completions', 'exceptionInfo', 'loadedSources', 'modules', 'next', 'stepIn', 'stepOut',
]);

/** What gdb prints of a breakpoint set before its attach: it is confirmed a moment later. */
const PENDING_NOISE = /^(No source file named .*\.|Breakpoint \d+ \(.*\) pending\.|Function ".*" not defined\.)$/;

export class SourceDebugger {
	private engine?: GdbEngine;
	private readonly bySource = new Map<string, SourceBreakpoints>();
	private functions: DebugProtocol.FunctionBreakpoint[] = [];
	private functionIds: number[] = [];
	/**
	 * The editor knows a breakpoint by the adapter's id, which outlives the
	 * gdb that set it (a new gdb after a restore gives it another number).
	 */
	private nextId = 1;
	private readonly idOfGdb = new Map<number, number>();
	/** An attach under way. */
	private attaching?: AbortController;
	/** gdb let go for work on the tree and takes the process again: requests wait for it. */
	private between?: Promise<void>;

	constructor(private readonly session: HelperOperations, readonly sources: Sources, private readonly host: SourceDebuggerHost) {}

	/** The pid gdb debugs, when it does. */
	get pid(): number | undefined {
		return this.engine?.pid;
	}

	get stopped(): boolean {
		return this.engine?.stopped ?? false;
	}

	/** The pid of the gdb tracing the process, when one does. */
	get tracerPid(): number | undefined {
		return this.engine?.gdbPid;
	}

	/** tid is a thread of the process gdb holds stopped: its frames come from gdb. */
	knowsStopped(tid: number): boolean {
		return !!this.engine?.stopped && this.engine.owns(tid);
	}

	/**
	 * Attaches gdb to pid with every breakpoint set so far; the process is
	 * stopped when this returns. release lets the process go from the
	 * tree's freeze once gdb was told to attach (a frozen process is only
	 * attached when it thaws).
	 */
	async attach(pid: number, release?: () => Promise<boolean>, started?: GdbStart): Promise<void> {
		const attaching = new AbortController();
		this.attaching = attaching;
		let engine: GdbEngine;
		try {
			// listened to from the start: gdb confirms pending breakpoints while it attaches
			const configure = async (e: GdbEngine): Promise<void> => {
				this.listen(e);
				await this.configure(e);
			};
			engine = await GdbEngine.attach(this.session, pid, { configure, release, signal: attaching.signal, started });
		} finally {
			if (this.attaching === attaching) this.attaching = undefined;
		}
		this.engine = engine;
	}

	private listen(engine: GdbEngine): void {
		engine.on('stopped', (body) => {
			void this.host.stopped(this.stopOf(body));
		});
		engine.on('breakpoint', (body) => {
			const known = this.toEditor(body);
			if (known) this.host.breakpointChanged(known);
		});
		engine.on('output', (body) => {
			// breakpoints set before the attach are pending for a moment: gdb says so, then confirms them
			const text = this.attaching ? body.output.split('\n').filter((line) => !PENDING_NOISE.test(line.trim())).join('\n') : body.output;
			if (text.trim()) this.host.output(text, 'console');
		});
		engine.on('ended', (why) => this.gone(engine, why));
	}

	/** A stop as the editor knows it: the breakpoints hit by the adapter's ids, a function breakpoint's said so. */
	private stopOf(body: DebugProtocol.StoppedEvent['body']): DebugProtocol.StoppedEvent['body'] {
		if (!body.hitBreakpointIds) return body;
		const hit = body.hitBreakpointIds.map((id) => this.idOfGdb.get(id) ?? id);
		const byFunction = body.reason === 'breakpoint' && hit.some((id) => this.functionIds.includes(id));
		return { ...body, hitBreakpointIds: hit, reason: byFunction ? 'function breakpoint' : body.reason };
	}

	/** gdb lets the process go (its breakpoints out of it) and ends; an attach under way is called off. */
	async detach(): Promise<void> {
		this.attaching?.abort();
		const engine = this.engine;
		this.engine = undefined;
		await engine?.stop();
	}

	/**
	 * gdb lets go of its process for work on the whole tree (a checkpoint, a
	 * restore), then takes the process `pidAfter` names again, stopped where
	 * it stands. Meanwhile the process is frozen with the rest of the tree:
	 * gdb stops it first (the editor is not told), it is put into the
	 * tree's freeze, and gdb's detach (which takes its breakpoints out of
	 * the code) leaves it frozen, so the checkpoint holds the program's own
	 * bytes and the state gdb showed. work gets where the process is
	 * stopped, unless it was running.
	 */
	/** gdb let go of its process for a checkpoint or restore, and will take it again. */
	get takingBack(): boolean {
		return !!this.between;
	}

	async aside<T>(tree: DebuggedTree, work: (at?: pb.IDebuggerStop) => Promise<T>, pidAfter: (result: T) => number): Promise<Aside<T>> {
		let back = (): void => undefined;
		this.between = new Promise((resolve) => { back = resolve; });
		try {
			return await this.asideOnce(tree, work, pidAfter);
		} finally {
			this.between = undefined;
			back();
		}
	}

	private async asideOnce<T>(tree: DebuggedTree, work: (at?: pb.IDebuggerStop) => Promise<T>, pidAfter: (result: T) => number): Promise<Aside<T>> {
		const engine = this.attached();
		const pid = engine.pid;
		const wasRunning = !engine.stopped;
		// the next gdb starts meanwhile: its start is most of an attach's time
		const next = GdbStart.begin(this.session);
		let stop: DebugProtocol.StoppedEvent['body'] | undefined;
		let at: pb.IDebuggerStop | undefined;
		try {
			if (tree.state === 'running') await tree.freeze();
			stop = wasRunning ? await engine.interrupt() : engine.currentStop;
			at = !wasRunning || stop?.reason !== 'pause' ? await this.describe(engine, stop) : undefined;
			await tree.holdByDebugger([]);
			await this.detach();
		} catch (err) {
			await next.discard();
			throw err;
		}
		// a stop of its own that came with the interrupt (a breakpoint) is one the editor must hear of
		const caught = wasRunning && stop?.reason !== 'pause' ? stop : undefined;
		let result: T;
		try {
			result = await work(at);
		} catch (err) {
			// nothing was done: the process goes on as it was
			if (tree.state === 'gone') await next.discard();
			else {
				await this.takeBack(tree, pid, next);
				await this.goOn(tree, wasRunning, caught && this.stopOf(caught));
			}
			throw err;
		}
		await this.takeBack(tree, pidAfter(result), next);
		return { result, wasRunning, at, caught: caught && this.stopOf(caught) };
	}

	/**
	 * After gdb took its process again: a process that ran runs on with its
	 * tree, unless a stop of its own came meanwhile, which the editor hears
	 * of (the rest of the tree stays frozen).
	 */
	async goOn(tree: DebuggedTree, wasRunning: boolean, caught?: DebugProtocol.StoppedEvent['body']): Promise<void> {
		if (caught) return this.host.stopped(caught);
		if (!wasRunning) return;
		if (tree.state === 'frozen') await tree.thaw();
		const engine = this.engine;
		if (engine?.stopped) await engine.request('continue', { threadId: engine.pid });
	}

	/** gdb takes pid of the frozen tree, and the tree lets it go from its freeze (gdb stops it first). */
	private async takeBack(tree: DebuggedTree, pid: number, started: GdbStart): Promise<void> {
		try {
			await this.attach(pid, async () => (await tree.holdByDebugger([pid])).includes(pid), started);
		} catch (err) {
			await tree.holdByDebugger([]).catch(() => undefined);
			this.host.lost(`gdb could not take process ${pid} again: ${errorMessage(err)}`);
		}
	}

	/** Where gdb holds the process, for a checkpoint's manifest. */
	private async describe(engine: GdbEngine, stop: DebugProtocol.StoppedEvent['body'] | undefined): Promise<pb.IDebuggerStop> {
		const tid = stop?.threadId ?? engine.pid;
		const location = await engine.whereIs(tid).catch(() => '');
		return { pid: engine.pid, tid, reason: stop?.reason ?? 'pause', location };
	}

	/** The thread gdb shows first (a restore stops where its checkpoint was taken, on the thread that stopped then). */
	async select(tid: number): Promise<void> {
		await this.engine?.selectThread(tid);
	}

	async setBreakpoints(args: DebugProtocol.SetBreakpointsArguments): Promise<DebugProtocol.SetBreakpointsResponse['body']> {
		const path = this.sources.toTarget(args.source);
		if (!path) throw new CheckpointError('usage', `cannot set breakpoints in ${args.source.name ?? 'a source without a path'}`);
		const breakpoints = args.breakpoints ?? [];
		const ids = breakpoints.map(() => this.nextId++);
		this.bySource.set(path, { source: args.source, breakpoints, ids });
		if (!this.engine) return { breakpoints: breakpoints.map((b, i) => ({ id: ids[i], verified: false, line: b.line, message: 'set when gdb attaches' })) };
		return this.adopt(await this.engine.request('setBreakpoints', { source: { path }, breakpoints }) as DebugProtocol.SetBreakpointsResponse['body'], ids);
	}

	async setFunctionBreakpoints(args: DebugProtocol.SetFunctionBreakpointsArguments): Promise<DebugProtocol.SetFunctionBreakpointsResponse['body']> {
		this.functions = args.breakpoints;
		this.functionIds = args.breakpoints.map(() => this.nextId++);
		if (!this.engine) return { breakpoints: this.functionIds.map((id) => ({ id, verified: false, message: 'set when gdb attaches' })) };
		return this.adopt(await this.engine.request('setFunctionBreakpoints', { breakpoints: args.breakpoints }) as DebugProtocol.SetFunctionBreakpointsResponse['body'], this.functionIds);
	}

	async stackTrace(args: DebugProtocol.StackTraceArguments): Promise<DebugProtocol.StackTraceResponse['body']> {
		await this.between;
		const body = await this.attached().request('stackTrace', { ...args }) as DebugProtocol.StackTraceResponse['body'];
		return { ...body, stackFrames: body.stackFrames.map((f) => ({ ...f, source: this.sources.toEditor(f.source) })) };
	}

	async continue(tid: number): Promise<void> {
		await this.attached().request('continue', { threadId: tid });
	}

	async pause(tid: number): Promise<void> {
		await this.attached().request('pause', { threadId: tid });
	}

	/** Any other request gdb answers as it is (scopes, variables, evaluate, steps, memory...). */
	async forward(command: string, args: Record<string, unknown>): Promise<unknown> {
		await this.between;
		return this.attached().request(command, args);
	}

	private attached(): GdbEngine {
		if (!this.engine) throw new CheckpointError('usage', 'gdb is not attached to the process (source-level debugging is off)');
		return this.engine;
	}

	/** Every breakpoint set so far, given to a new gdb before its configurationDone. */
	private async configure(engine: GdbEngine): Promise<void> {
		for (const [path, set] of this.bySource) {
			const body = await engine.request('setBreakpoints', { source: { path }, breakpoints: set.breakpoints }).catch((err: unknown) => {
				this.host.output(`Breakpoints in ${path} could not be set: ${errorMessage(err)}\n`, 'stderr');
			});
			if (body) this.report(body as DebugProtocol.SetBreakpointsResponse['body'], set.ids);
		}
		if (this.functions.length) {
			this.report(await engine.request('setFunctionBreakpoints', { breakpoints: this.functions }) as DebugProtocol.SetFunctionBreakpointsResponse['body'], this.functionIds);
		}
	}

	/** Breakpoints a new gdb set: the editor hears of each, as changed, by the id it knows. */
	private report(body: { breakpoints: DebugProtocol.Breakpoint[] }, ids: number[]): void {
		for (const b of this.adopt(body, ids).breakpoints) this.host.breakpointChanged({ reason: 'changed', breakpoint: b });
	}

	/** gdb's answer as the editor knows it: the adapter's ids (ids[i] for the i-th), sources as the editor opens them. */
	private adopt<T extends { breakpoints: DebugProtocol.Breakpoint[] }>(body: T, ids: number[]): T {
		const breakpoints = body.breakpoints.map((b, i) => {
			if (b.id !== undefined && ids[i] !== undefined) this.idOfGdb.set(b.id, ids[i]);
			return { ...b, id: ids[i] ?? b.id, source: this.sources.toEditor(b.source) };
		});
		return { ...body, breakpoints };
	}

	/** A breakpoint gdb changed, as the editor knows it; undefined for one it does not (gdb's own). */
	private toEditor(body: DebugProtocol.BreakpointEvent['body']): DebugProtocol.BreakpointEvent['body'] | undefined {
		const id = body.breakpoint.id === undefined ? undefined : this.idOfGdb.get(body.breakpoint.id);
		if (id === undefined) return undefined;
		return { ...body, breakpoint: { ...body.breakpoint, id, source: this.sources.toEditor(body.breakpoint.source) } };
	}

	private gone(engine: GdbEngine, why: string): void {
		if (this.engine !== engine) return;	// one this debugger let go of itself
		this.engine = undefined;
		this.host.lost(why);
	}
}
