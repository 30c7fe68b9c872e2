/**
 * One gdb (its DAP interpreter, run by the helper on the target) attached to
 * one process of the debugged tree: DAP requests on its behalf, its events
 * with gdb's thread numbers turned into the process's thread ids (the ids the
 * adapter shows for every process of the tree), and its end in words.
 */
import { EventEmitter } from 'node:events';
import { appendFileSync } from 'node:fs';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { DapClient } from '../core/dap';
import { CheckpointError, errorMessage } from '../core/errors';
import type { GdbLink, HelperOperations } from '../core/session';

export interface GdbEngineEvents {
	/** The process stopped (a breakpoint, a step, a pause, a signal); threadId is a tid. */
	stopped: [DebugProtocol.StoppedEvent['body']];
	continued: [];
	/** gdb's console output (what the repl prints, breakpoint messages). */
	output: [DebugProtocol.OutputEvent['body']];
	/** A breakpoint gdb changed (verified, moved), with gdb's id. */
	breakpoint: [DebugProtocol.BreakpointEvent['body']];
	/** gdb or the process is gone, in words. */
	ended: [string];
}

/** The requests that set the process running (gdb may not say so with a continued event). */
const RESUMING = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto']);

/** The requests whose arguments name a thread by gdb's number. */
const THREAD_ARGS = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'pause', 'stackTrace', 'goto', 'reverseContinue']);

/**
 * The threads standing on an enabled breakpoint location, as "num:pc,...".
 * gdb steps a thread off the breakpoint it stopped at before resuming it,
 * but only when it saw that stop itself: after an attach it does not, and
 * the first resume would report the same breakpoint again at once.
 */
const ON_BREAKPOINT = [
	'sel = gdb.selected_thread()',
	'hits = set(l.address for b in gdb.breakpoints() if b.enabled for l in b.locations if l.enabled)',
	'out = []',
	'for t in gdb.selected_inferior().threads():',
	'    t.switch()',
	'    pc = int(gdb.parse_and_eval("$pc"))',
	'    if pc in hits: out.append("%d:%d" % (t.global_num, pc))',
	'sel.switch()',
	'print(",".join(out))',
].join('\n');

/** Disables the breakpoint locations at address PC (remembered for STEP_OFF_DONE). */
const STEP_OFF_START = (pc: bigint): string => [
	`ckpt_off = [l for b in gdb.breakpoints() for l in b.locations if l.enabled and l.address == ${pc}]`,
	'for l in ckpt_off: l.enabled = False',
].join('\n');
const STEP_OFF_DONE = 'for l in ckpt_off: l.enabled = True';

/** gdb's numbers for the threads and their ids, as gdb knows them. */
const THREAD_MAP = 'python print(",".join("%d:%d" % (t.global_num, t.ptid[1]) for t in gdb.selected_inferior().threads()))';

/** A gdb command line that runs Python code of any length (the repl takes one line). */
export function python(code: string): string {
	return `python exec(${JSON.stringify(code)})`;
}

/** gdb names a frame of a function it knows nothing of "??" (or "???"). */
export function isUnknownFunction(name: string): boolean {
	return /^\?+$/.test(name);
}

/** The DAP traffic with gdb, appended to file (CKPT_GDB_TRACE names it), for finding out what gdb was told and said. */
function traceTo(file: string | undefined, link: GdbLink): (way: '>' | '<', data: Uint8Array) => void {
	if (!file) return () => undefined;
	return (way, data) => appendFileSync(file, `${new Date().toISOString()} ${link.id} ${way} ${Buffer.from(data).toString('utf8')}\n`);
}

/** A DAP client of gdb over its link, reading its output from now on (traced when CKPT_GDB_TRACE says where); unlisten stops reading. */
export function gdbDap(link: GdbLink, description: string): { dap: DapClient; unlisten: () => void } {
	const trace = traceTo(process.env.CKPT_GDB_TRACE, link);
	const dap = new DapClient((data) => { trace('>', data); return link.send(data); }, `gdb on ${description}`);
	const unlisten = link.onOutput((data) => { trace('<', data); dap.feed(data); });
	return { dap, unlisten };
}

/** How an attach goes on (see GdbEngine.attach). */
export interface AttachSteps {
	/** Sets breakpoints before configurationDone. */
	configure(engine: GdbEngine): Promise<void>;
	/**
	 * Called once gdb was told to attach: a frozen process is attached only
	 * when it is let go of, which this does (gdb answers the attach after).
	 * True when the process was let go of in a job-control stop (or waits
	 * in one): the engine ends that stop once gdb holds it.
	 */
	release?(): Promise<boolean>;
	/** Calls the attach off (the session ended meanwhile): gdb is stopped, attach() fails. */
	signal?: AbortSignal;
	/** A gdb started ahead (GdbStart.begin); else one is started now. */
	started?: GdbStart;
}

/** A pause not followed by a stop is said again this often, this many times at most (see pauseUntilStopped). */
const PAUSE_AGAIN_MS = 200;
const PAUSE_TRIES = 25;

/** How long gdb may take to detach from its repl before it is ended the slow way (disconnect, then its exit). */
const DETACH_MS = 3000;

/** gdb's DAP initialize, as this adapter asks for it. */
export const INITIALIZE = { adapterID: 'gdb', clientID: 'checkpoint-debugger', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsMemoryReferences: true };

/** A gdb started and initialized, its DAP read from the start. */
interface StartedGdb {
	link: GdbLink;
	dap: DapClient;
	/** Stops reading its output. */
	unlisten: () => void;
}

/**
 * A gdb started ahead of its attach: starting one (a process on the target,
 * its Python, DAP's initialize) is most of an attach's time, and can run
 * while a checkpoint or restore does.
 */
export class GdbStart {
	private constructor(private readonly started: Promise<StartedGdb>) {
		started.catch(() => undefined);	// a start nobody takes fails quietly; take() says why
	}

	static begin(session: HelperOperations): GdbStart {
		return new GdbStart(startGdb(session));
	}

	take(): Promise<StartedGdb> {
		return this.started;
	}

	/** A start that will not be attached: gdb ends. */
	async discard(): Promise<void> {
		const gdb = await this.started.catch(() => undefined);
		if (!gdb) return;
		gdb.unlisten();
		gdb.dap.close(new CheckpointError('connection', 'gdb was not needed'));
		await gdb.link.stop().catch(() => undefined);
	}
}

async function startGdb(session: HelperOperations): Promise<StartedGdb> {
	const link = await session.gdbStart();
	const { dap, unlisten } = gdbDap(link, session.target.description);
	try {
		await dap.request('initialize', INITIALIZE);
		return { link, dap, unlisten };
	} catch (err) {
		unlisten();
		await link.stop().catch(() => undefined);
		throw err;
	}
}

export class GdbEngine extends EventEmitter<GdbEngineEvents> {
	private readonly gdbOf = new Map<number, number>();
	private readonly tidOf = new Map<number, number>();
	private queue: Promise<void> = Promise.resolve();
	private running = true;
	private ended = false;
	/** The last stop the editor was told of (a tid, gdb's reason). */
	private lastStop?: DebugProtocol.StoppedEvent['body'];
	/** The next stop is the engine's own (an interrupt, a step off a breakpoint): it goes here, not to the editor. */
	private ownStop?: { resolve(body: DebugProtocol.StoppedEvent['body']): void; reject(err: Error): void };
	/** Attached and not resumed yet: a thread may stand on a breakpoint gdb does not know it stopped at. */
	private freshlyAttached = true;
	/** gdb was told to let go: what it says meanwhile is not news; its "terminated" says it let go. */
	private lettingGo?: () => void;
	/** Stops gdb reported so far: a pause said again stops once one came. */
	private stops = 0;
	private readonly unlisten: Array<() => void> = [];

	private constructor(readonly pid: number, private readonly link: GdbLink, private readonly dap: DapClient, stopReading: () => void) {
		super();
		this.unlisten.push(stopReading);
		this.unlisten.push(link.onExit((x) => this.end(`gdb ended (${x.signal ? `signal ${x.signal}` : `exit ${x.code}`})${x.stderr.trim() ? `: ${x.stderr.trim()}` : ''}`)));
		dap.on('event', (e) => { this.queue = this.queue.then(() => this.onEvent(e)).catch(() => undefined); });
	}

	/**
	 * Starts gdb and attaches it to pid; configure (breakpoints) runs before
	 * configurationDone. The process is stopped when this returns: gdb stops
	 * what it attaches.
	 */
	static async attach(session: HelperOperations, pid: number, steps: AttachSteps): Promise<GdbEngine> {
		const { link, dap, unlisten } = await (steps.started ?? GdbStart.begin(session)).take();
		const engine = new GdbEngine(pid, link, dap, unlisten);
		const callOff = (): void => engine.end('the attach was called off');
		steps.signal?.addEventListener('abort', callOff);
		try {
			if (steps.signal?.aborted) callOff();
			await engine.start(steps);
			return engine;
		} catch (err) {
			await engine.stop();
			throw err;
		} finally {
			steps.signal?.removeEventListener('abort', callOff);
		}
	}

	/** gdb's own pid on the target (a tracer of the tree, but the session's own). */
	get gdbPid(): number {
		return this.link.pid;
	}

	/** Whether the process is stopped under gdb. */
	get stopped(): boolean {
		return !this.running && !this.ended;
	}

	/** The last stop the editor was told of, while stopped. */
	get currentStop(): DebugProtocol.StoppedEvent['body'] | undefined {
		return this.stopped ? this.lastStop : undefined;
	}

	/** tid is a thread of this process (as gdb last listed them). */
	owns(tid: number): boolean {
		return this.gdbOf.has(tid) || tid === this.pid;
	}

	/** Any DAP request, its thread given as a tid, answered as gdb answers it. */
	async request(command: string, args: Record<string, unknown> = {}): Promise<unknown> {
		if (this.ended) throw new CheckpointError('connection', `gdb of process ${this.pid} is gone`);
		const threadId = args.threadId;
		const mapped = THREAD_ARGS.has(command) && typeof threadId === 'number' ? { ...args, threadId: this.gdbThread(threadId) } : args;
		if (RESUMING.has(command) && this.freshlyAttached) await this.stepOffBreakpoints();
		if (command === 'pause') return this.pauseUntilStopped(Number(mapped.threadId));
		if (!RESUMING.has(command)) return (await this.dap.raw(command, mapped)).body;
		return this.resume(() => this.dap.raw(command, mapped));
	}

	/**
	 * A resuming request: running from the moment it is sent, since the stop
	 * it leads to may come (and be handled) before its answer; still stopped
	 * when gdb refuses it.
	 */
	private async resume(send: () => Promise<DebugProtocol.Response>): Promise<unknown> {
		this.running = true;
		try {
			return (await send()).body;
		} catch (err) {
			this.running = false;
			throw err;
		}
	}

	/**
	 * Stops the running process for the engine's own purpose (the editor is
	 * not told): its stop, which may be a breakpoint hit at the same moment.
	 */
	async interrupt(): Promise<DebugProtocol.StoppedEvent['body']> {
		if (this.stopped) throw new Error('interrupt() of a stopped process');
		const stop = this.nextOwnStop();
		await this.pauseUntilStopped(this.gdbThread(this.pid)).catch((err: unknown) => {
			// already stopping on its own (its stop is on the way), or gdb failed
			if (this.running) throw err;
		});
		return stop;
	}

	/**
	 * Asks gdb to pause, and asks again until a stop comes: a pause that
	 * reaches gdb just after a resume, before gdb has resumed the process,
	 * is answered and does nothing, and the process runs on (seen: a pause
	 * 0.2 ms after continue's answer, no stop in 120 s).
	 */
	private async pauseUntilStopped(gdbThread: number): Promise<unknown> {
		const stopsBefore = this.stops;
		const body = (await this.dap.raw('pause', { threadId: gdbThread })).body;
		let tries = 0;
		const again = (): void => {
			if (this.stops !== stopsBefore || !this.running || this.ended || ++tries > PAUSE_TRIES) return;
			this.dap.raw('pause', { threadId: gdbThread }).catch(() => undefined);
			setTimeout(again, PAUSE_AGAIN_MS);
		};
		setTimeout(again, PAUSE_AGAIN_MS);
		return body;
	}

	/** Where thread tid stands: "advance (debuggee.c:30)", its function without sources, "" when gdb cannot tell. */
	async whereIs(tid: number): Promise<string> {
		const body = await this.request('stackTrace', { threadId: tid, startFrame: 0, levels: 1 }) as DebugProtocol.StackTraceResponse['body'];
		const top = body.stackFrames[0];
		// gdb names a frame it knows nothing of "??": no place worth telling
		if (!top || isUnknownFunction(top.name)) return '';
		const file = top.source?.path?.split('/').pop() ?? top.source?.name;
		return file && top.line ? `${top.name} (${file}:${top.line})` : top.name;
	}

	/** Makes tid gdb's selected thread (what repl commands act on). */
	async selectThread(tid: number): Promise<void> {
		const num = this.gdbOf.get(tid);
		if (num !== undefined) await this.command(`thread ${num}`);
	}

	/** gdb's console: any gdb command, its output as text. */
	async command(line: string): Promise<string> {
		const body = await this.dap.request('evaluate', { expression: line, context: 'repl' });
		return body?.result ?? '';
	}

	/**
	 * Tells gdb to let the process go (it detaches) and to end; whatever
	 * happens, the engine is done. A stopped process is let go of from the
	 * repl first, and gdb's "terminated" says the detach is done: gdb need
	 * not be waited for as it ends (its exit takes as long as a small
	 * restore). Its answer to that repl command may never come (seen after
	 * the detach of a multi-threaded process).
	 */
	async stop(): Promise<void> {
		const detached = this.stopped && !this.ownStop ? await this.detachFromRepl() : false;
		this.lettingGo ??= () => undefined;
		this.close(new CheckpointError('connection', `gdb of process ${this.pid} was stopped`));
		for (const f of this.unlisten.splice(0)) f();
		await this.link.stop({ atOnce: detached }).catch(() => undefined);
	}

	/** True once gdb said it let go of the process ("terminated"); false when it did not within DETACH_MS. */
	private async detachFromRepl(): Promise<boolean> {
		let timer: NodeJS.Timeout | undefined;
		const terminated = new Promise<boolean>((resolve) => {
			this.lettingGo = () => resolve(true);
			timer = setTimeout(() => resolve(false), DETACH_MS);
		});
		this.dap.request('evaluate', { expression: 'detach', context: 'repl' }).catch(() => undefined);
		try {
			return await terminated;
		} finally {
			clearTimeout(timer);
		}
	}

	private async start(steps: AttachSteps): Promise<void> {
		// the attach's stop is the engine's: the editor hears of the session's stops from its owner
		const stopped = this.nextOwnStop();
		// gdb answers attach only after configurationDone
		const attached = this.dap.request('attach', { pid: this.pid });
		await steps.configure(this);
		await this.dap.request('configurationDone', {});
		const jobStopped = await steps.release?.() ?? false;
		await attached.catch((err: unknown) => {
			throw new CheckpointError('not-permitted', `gdb could not attach to process ${this.pid}: ${errorMessage(err)}`);
		});
		this.lastStop = await stopped;
		if (jobStopped) await this.endJobStop();
	}

	/**
	 * The process waited for gdb in a job-control stop: gdb's attach left
	 * its own SIGSTOP pending (which would stop the program at once), and
	 * the stop itself stays on the process until a SIGCONT (a dump would see
	 * it stopped and CRIU would stop it again after). Both go, quietly.
	 */
	private async endJobStop(): Promise<void> {
		for (const line of ['handle SIGSTOP nostop noprint nopass', 'handle SIGCONT nostop noprint pass', `python import os, signal; os.kill(${this.pid}, signal.SIGCONT)`]) {
			await this.command(line);
		}
	}

	/** The next stop, kept from the editor; it fails when gdb ends first. */
	private nextOwnStop(): Promise<DebugProtocol.StoppedEvent['body']> {
		if (this.ended) return Promise.reject(new CheckpointError('connection', `gdb of process ${this.pid} is gone`));
		return new Promise((resolve, reject) => { this.ownStop = { resolve, reject }; });
	}

	/**
	 * Steps each thread that stands on a breakpoint one instruction, that
	 * breakpoint disabled meanwhile and the other threads held (gdb's own
	 * step over a breakpoint, which it skips after an attach).
	 */
	private async stepOffBreakpoints(): Promise<void> {
		this.freshlyAttached = false;
		const listed = (await this.command(python(ON_BREAKPOINT))).trim();
		for (const pair of listed ? listed.split(',') : []) {
			const [num, pc] = pair.split(':');
			await this.command(python(STEP_OFF_START(BigInt(pc))));
			try {
				const stepped = this.nextOwnStop();
				await this.resume(() => this.dap.raw('stepIn', { threadId: Number(num), granularity: 'instruction', singleThread: true }));
				await stepped;
			} finally {
				await this.command(python(STEP_OFF_DONE));
			}
		}
	}

	private gdbThread(tid: number): number {
		return this.gdbOf.get(tid) ?? this.gdbOf.values().next().value ?? 1;
	}

	private async onEvent(e: DebugProtocol.Event): Promise<void> {
		if (this.lettingGo) {
			if (e.event === 'terminated') this.lettingGo();
			return;
		}
		if (e.event === 'stopped') {
			const body = (e as DebugProtocol.StoppedEvent).body;
			this.stops++;
			this.running = false;
			await this.readThreads();
			const stop = { ...body, threadId: body.threadId === undefined ? undefined : this.tidOf.get(body.threadId) ?? this.pid };
			const own = this.ownStop;
			this.ownStop = undefined;
			if (own) return own.resolve(stop);
			this.lastStop = stop;
			this.emit('stopped', stop);
		} else if (e.event === 'continued') {
			this.running = true;
			this.emit('continued');
		} else if (e.event === 'output') {
			this.emit('output', (e as DebugProtocol.OutputEvent).body);
		} else if (e.event === 'breakpoint') {
			this.emit('breakpoint', (e as DebugProtocol.BreakpointEvent).body);
		} else if (e.event === 'exited' || e.event === 'terminated') {
			this.end(e.event === 'exited' ? `process ${this.pid} exited under gdb` : `gdb let go of process ${this.pid}`);
		}
	}

	/** gdb's numbers for the threads, and their tids: read while the process is stopped. */
	private async readThreads(): Promise<void> {
		const text = await this.command(THREAD_MAP).catch(() => '');
		this.gdbOf.clear();
		this.tidOf.clear();
		for (const pair of text.trim().split(',')) {
			const [num, tid] = pair.split(':').map(Number);
			if (!Number.isInteger(num) || !Number.isInteger(tid) || !tid) continue;
			this.gdbOf.set(tid, num);
			this.tidOf.set(num, tid);
		}
	}

	private end(why: string): void {
		if (this.ended) return;
		this.close(new CheckpointError('connection', why));
		this.emit('ended', why);
	}

	/** No more requests, and an own stop awaited will not come. */
	private close(err: CheckpointError): void {
		this.ended = true;
		this.dap.close(err);
		this.ownStop?.reject(err);
		this.ownStop = undefined;
	}
}
