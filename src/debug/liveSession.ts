/**
 * The debug adapter for a live tree: attach to a running program on a target,
 * Pause freezes the tree, Continue thaws it, Disconnect thaws it and leaves
 * it running. Checkpoints are taken and restored through custom requests
 * (the editor's toolbar buttons and Checkpoints view send them).
 *
 * Knows nothing of VS Code: the extension runs it inline, tests run it over a
 * socket.
 */
import { BreakpointEvent, ContinuedEvent, Event, Handles, InitializedEvent, InvalidatedEvent, OutputEvent, Response, Scope, StoppedEvent, TerminatedEvent, ThreadEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { DebuggedTree, isNamed, type RestoreOutcome, type TreeListener, type TreeState, type TreeTask } from '../core/debuggedTree';
import { CheckpointError, errorMessage } from '../core/errors';
import { leakJson, leakStatsJson } from '../core/leaks';
import { pb } from '../core/protocol';
import type { HelperOperations, ProgramEvent } from '../core/session';
import { AsyncDebugSession, ERROR_ID } from './base';
import { policySetting, refusalOf, sessionRules, type LeaksBody, type LeaksReason, type PolicySetting, type Refusal } from './leakPolicy';
import {
	checkpointSummary, CONNECTIONS_MOVED_ON, CUSTOM, isCustomRequest, runCustomRequest,
	type CheckpointSummary, type CustomBody, type CustomEventBody, type CustomEventName, type CustomRequestHandlers, type RestoreCheckpointArgs,
	type RestoreCheckpointBody, type TakeCheckpointArgs,
} from './messages';
import { byteSize, plural } from '../core/text';
import { pagesBytes } from '../core/sharing';
import { FORWARDED, SourceDebugger } from './sourceDebugger';
import { MAX_SOURCE_BYTES, Sources, sourceMapOf, type SourceMap } from './sources';
import { printable, printableCommandLine } from '../core/systemText';

/** What both kinds of live session take besides their own arguments. */
export interface LiveArguments {
	/** ssh://user@host:port, a connection file, or "local". */
	target: string;
	/** Restores checkpoint the state they replace first (default true). */
	saveBeforeRestore?: boolean;
	/** Restores use CRIU's lazy pages where the target can (default true): the program runs at once, its memory copied in after. */
	lazyRestore?: boolean;
	/**
	 * Checkpoints share the pages they did not change with the previous one of
	 * the program (default true); one that stands on another restores fully, not lazily.
	 */
	sharePages?: boolean;
	/**
	 * How each leak is treated (docs/leaks.md): "kind" or "kind:resource" ->
	 * "fail", "warn", "ignore", "external" or "save". Wins over leakPolicySetting.
	 */
	leakPolicy?: PolicySetting;
	/** The `checkpoint.leakPolicy` setting as the editor had it at the start (CUSTOM.setLeakPolicy replaces it). */
	leakPolicySetting?: PolicySetting;
	/** Source paths on the target -> here, where the program was built elsewhere (as gdb's substitute-path). */
	sourceMap?: SourceMap;
	/** The process of the tree gdb debugs: a pid, or a command name (default: the root). */
	debugProcess?: number | string;
}

export interface AttachArguments extends DebugProtocol.AttachRequestArguments, LiveArguments {
	pid?: number | string;
	processName?: string;
}

export interface LaunchArguments extends DebugProtocol.LaunchRequestArguments, LiveArguments {
	/** Absolute path on the target. */
	program: string;
	args?: string[];
	/** Absolute; default "/". */
	cwd?: string;
	/** Added to DEFAULT_ENV (a null value removes a variable). */
	env?: Record<string, string | null>;
	/** Stop at main before anything else (with gdb on the target). */
	stopOnEntry?: boolean;
}

/**
 * What a launched program starts with, before the configuration's "env": the
 * helper passes on nothing of its own (a program launched from a root shell
 * helper should not inherit root's environment), so a sane minimum.
 */
export const DEFAULT_ENV: Record<string, string> = {
	PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
	LANG: 'C.UTF-8',
};

/** Opens (or reuses) a helper session on a target; `release` is called when the debug session ends. */
export interface SessionProvider {
	acquire(target: string): Promise<HelperOperations>;
	release(session: HelperOperations): Promise<void>;
}

/** How often the adapter checks the tree is still there (it may exit, or be killed, on its own), and the connection with it. */
export const WATCH_INTERVAL_MS = 1500;

/**
 * The adapter's own frames and variable references live far above gdb's
 * (which count from 0 and 1), so that one request's id says whose it is.
 */
const OWN_FRAME_BASE = 1_500_000_000;
/** The requests of the editor's views (stacks, variables, watch, hover): a failure shows in the view, not as a notification. */
const QUIET_FAILURES = new Set(['stackTrace', 'scopes', 'variables', 'evaluate', 'source', 'disassemble', 'readMemory', 'breakpointLocations', 'completions']);
/** The requests gdb answers as they are, its ids in them. */
const AS_GDB_ANSWERS = new Set(['evaluate', 'setVariable', 'setExpression', 'disassemble', 'readMemory', 'writeMemory', 'completions', 'exceptionInfo', 'loadedSources', 'modules']);
const OWN_SCOPE_BASE = 1_000_000_000;

export class LiveDebugSession extends AsyncDebugSession {
	protected readonly errorId = ERROR_ID.live;
	private tree?: DebuggedTree;
	private session?: HelperOperations;
	private saveBeforeRestore = true;
	private lazyRestore = true;
	private sharePages = true;
	/** While restores are answered, a lazy restore's end waits here, to be told after the restore's own lines. */
	private restoresAnswering = 0;
	private readonly afterRestore: (() => void)[] = [];
	/** The launch configuration's leakPolicy: fixed for the session. */
	private launchPolicy: unknown;
	/** The rules every checkpoint gets (sessionRules of the setting's layer and launchPolicy). */
	private rules: pb.ILeakRule[] = [];
	private watch?: NodeJS.Timeout;
	private stopListening?: () => void;
	/** The checkpoint or restore under way, for CUSTOM.cancel. */
	private running?: AbortController;
	private readonly processScopes = new Handles<number>(OWN_SCOPE_BASE);
	/** gdb under the debugged process, when the target has one (hello says). */
	private source?: SourceDebugger;
	private sourceMap: SourceMap = {};
	/** The launched program waits at its first instruction for gdb (LaunchOptions.stopped). */
	private stoppedAtStart = false;
	/** stopOnEntry's breakpoint at main is set and not hit yet. */
	private entryPending = false;
	/** gdb's first attach, under way from configurationDone on. */
	private gdbReady?: Promise<void>;
	/** hello was asked (before a launch, or when the tree started). */
	private sourcePrepared = false;
	/** The launch configuration's stopOnEntry: the first stop is at main, reported as the entry. */
	private stopOnEntry = false;
	/** The configuration's debugProcess: which process of the tree gdb takes first. */
	private wantedProcess?: number | string;
	/** The process gdb debugs (its pid outlives a restore: CRIU restores pids). */
	private debuggedPid?: number;
	/**
	 * The tasks VS Code knows (from a threads answer or thread events), by tid:
	 * what announce() compares with, and what names a stack's frame without
	 * listing the tree again for every thread.
	 */
	private known = new Map<number, TreeTask>();
	/** The custom requests (CUSTOM), each with its args checked by messages.ts. */
	private readonly handlers: CustomRequestHandlers = {
		[CUSTOM.takeCheckpoint]: (args) => this.cancellable((signal) => this.takeCheckpoint(args, signal)),
		[CUSTOM.restoreCheckpoint]: (args) => this.cancellable((signal) => this.restoreCheckpoint(args, signal)),
		[CUSTOM.cancel]: async () => this.running?.abort(),
		[CUSTOM.listCheckpoints]: async () => {
			const { mine, all } = await this.attached().checkpointsInStore();
			return { checkpoints: mine.map((c) => checkpointSummary(c, all)) };
		},
		[CUSTOM.renameCheckpoint]: async ({ id, name }) => ({ checkpoint: checkpointSummary(await this.attached().renameCheckpoint(id, name)) }),
		[CUSTOM.deleteCheckpoint]: ({ id }) => this.attached().deleteCheckpoint(id),
		[CUSTOM.kill]: async () => {
			await this.attached().kill();
			this.sendEvent(new TerminatedEvent());
		},
		[CUSTOM.treeState]: async () => ({ state: this.tree?.state ?? 'gone', rootPid: this.tree?.rootPid ?? 0 }),
		[CUSTOM.leaks]: () => this.scan('request'),
		[CUSTOM.setLeakPolicy]: async ({ setting }) => {
			this.setPolicy(setting, this.launchPolicy);
			return { policy: policySetting(this.rules) };
		},
		[CUSTOM.debugProcess]: ({ pid }) => this.debugProcess(pid),
	};

	constructor(private readonly sessions: SessionProvider, private readonly watchIntervalMs = WATCH_INTERVAL_MS) {
		super();
		this.setDebuggerLinesStartAt1(true);
		this.setDebuggerColumnsStartAt1(true);
	}

	protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
		response.body = {
			supportsConfigurationDoneRequest: true,
			supportsTerminateRequest: true,
			supportTerminateDebuggee: true,
			supportsCancelRequest: false,
			// source level, on gdb (said unverified, in words, where the target has none)
			supportsConditionalBreakpoints: true,
			supportsHitConditionalBreakpoints: true,
			supportsLogPoints: true,
			supportsFunctionBreakpoints: true,
			supportsEvaluateForHovers: true,
			supportsSetVariable: true,
			supportsSetExpression: true,
			supportsDisassembleRequest: true,
			supportsReadMemoryRequest: true,
			supportsWriteMemoryRequest: true,
			supportsSteppingGranularity: true,
			supportsBreakpointLocationsRequest: true,
			supportsValueFormattingOptions: true,
			supportsDelayedStackTraceLoading: true,
		};
		this.sendResponse(response);
	}

	// DAP lets a client leave the arguments out: then every required one is missing, said in words.
	protected override attachRequest(response: DebugProtocol.AttachResponse, args: Partial<AttachArguments> | undefined): void {
		const config: Partial<AttachArguments> = args ?? {};
		this.answer(response, () => this.starting(async () => {
			const session = await this.open(config);
			const pid = await this.resolvePid(session, config);
			await this.started(await DebuggedTree.attach(session, pid, this.treeListener(session)), 'Attached to');
		}, () => this.end()));
	}

	/** Starts the program on the target in its own session, no terminal, only stdin (/dev/null), stdout and stderr. */
	protected override launchRequest(response: DebugProtocol.LaunchResponse, args: Partial<LaunchArguments> | undefined): void {
		const config: Partial<LaunchArguments> = args ?? {};
		this.answer(response, () => this.starting(async () => {
			const program = config.program;
			if (typeof program !== 'string' || !program.startsWith('/')) {
				throw new CheckpointError('usage', `"program" must be an absolute path on the target, not ${JSON.stringify(program)}`);
			}
			const session = await this.open(config);
			this.stopOnEntry = config.stopOnEntry === true;
			// with gdb there, the program waits at its first instruction for gdb and its breakpoints
			const stopped = await this.prepareSourceLevel(session);
			this.stoppedAtStart = stopped;
			const early: ProgramEvent[] = [];
			let rootPid = 0;
			this.stopListening = session.onProgramEvent((e) => (rootPid ? this.programEvent(e) : early.push(e)));
			const tree = await DebuggedTree.launch(session, program, { args: config.args ?? [], cwd: config.cwd, env: launchEnvironment(config.env), stopped }, this.treeListener(session));
			await this.started(tree, `Launched ${[program, ...(config.args ?? [])].join(' ')} as`);
			// output that came before the session knew its tree, in order, then the rest as it comes
			rootPid = tree.rootPid;
			for (const e of early) this.programEvent(e);
		}, () => this.end()));
	}

	/** Terminate: a launched tree is killed; for an attached one the editor asks first (see CUSTOM.confirmKill). */
	protected override terminateRequest(response: DebugProtocol.TerminateResponse): void {
		this.answer(response, async () => {
			const tree = this.attached();
			if (!tree.launched) {
				this.sendCustomEvent(CUSTOM.confirmKillEvent, { rootPid: tree.rootPid });
				return;
			}
			await tree.kill();
			this.sendEvent(new TerminatedEvent());
		});
	}

	/** Checks the configuration (a bad leak policy stops here, before anything is started), then connects. */
	private async open(args: Partial<LiveArguments>): Promise<HelperOperations> {
		if (typeof args.target !== 'string' || !args.target) throw new CheckpointError('usage', 'the launch configuration needs "target": a host name, ssh://user@host:port, a connection file, or "local"');
		this.setPolicy(args.leakPolicySetting, args.leakPolicy);
		this.sourceMap = sourceMapOf(args.sourceMap);
		this.wantedProcess = debugProcessOf(args.debugProcess);
		this.saveBeforeRestore = args.saveBeforeRestore ?? true;
		this.lazyRestore = args.lazyRestore ?? true;
		this.sharePages = args.sharePages ?? true;
		this.session = await this.sessions.acquire(args.target);
		return this.session;
	}

	private treeListener(session: HelperOperations): TreeListener {
		const target = session.target.description;
		return {
			stateChanged: (state, rootPid) => this.sendCustomEvent(CUSTOM.stateEvent, { state, rootPid, target }),
			checkpointsChanged: () => this.sendCustomEvent(CUSTOM.checkpointsEvent, {}),
			lazyRestoreEnded: (end) => this.lazyRestoreEnded(end),
		};
	}

	/** Both layers of the leak policy; a bad one throws and leaves the rules as they were. */
	private setPolicy(setting: unknown, launch: unknown): void {
		this.rules = sessionRules(setting, launch);
		this.launchPolicy = launch;
		if (this.tree) this.tree.policy = this.rules;
	}

	private async started(tree: DebuggedTree, how: string): Promise<void> {
		this.tree = tree;
		if (!this.sourcePrepared) await this.prepareSourceLevel(tree.session);
		tree.policy = this.rules;
		tree.sharePages = this.sharePages;
		const target = tree.session.target.description;
		this.sendEvent(new OutputEvent(`${how} process ${tree.rootPid} on ${target} (${tree.state}).\n`, 'console'));
		this.sendCustomEvent(CUSTOM.stateEvent, { state: tree.state, rootPid: tree.rootPid, target });
		this.sendEvent(new InitializedEvent());
		if (tree.state === 'frozen') this.sendEvent(allStopped(new StoppedEvent('pause', tree.rootPid)));
		this.startWatching();
	}

	/** Why source-level debugging is off, in words (set when hello said so). */
	private noSourceLevel = 'source-level debugging is off: gdb is not attached';

	/** A source debugger when the target has a gdb that can serve (said once, in words, when it has not); whether there is one. */
	private async prepareSourceLevel(session: HelperOperations): Promise<boolean> {
		this.sourcePrepared = true;
		const hello = await session.hello();
		if (hello.gdbProblem || !hello.gdbVersion) {
			this.noSourceLevel = `no source-level debugging on ${session.target.description}: ${hello.gdbProblem || 'its helper does not run gdb'}`;
			this.sendEvent(new OutputEvent(`${this.noSourceLevel}\n`, 'console'));
			return false;
		}
		const target = session.target;
		const sources = new Sources(this.sourceMap, (path) => target.readFile(path, MAX_SOURCE_BYTES), target.description);
		this.source = new SourceDebugger(session, sources, {
			stopped: (body) => this.gdbStopped(body),
			breakpointChanged: (body) => this.sendEvent(new BreakpointEvent(body.reason, body.breakpoint)),
			output: (text, category) => this.sendEvent(new OutputEvent(text, category)),
			lost: (why) => this.sendEvent(new OutputEvent(`Source-level debugging stopped: ${why}\n`, 'stderr')),
		});
		return true;
	}

	/**
	 * gdb takes the root of the tree, its breakpoints set first; it is left
	 * out of the tree's freezes from then on (ptrace cannot reach a frozen
	 * process). gdb stops what it attaches: a running tree runs on.
	 */
	private async attachGdb(tree: DebuggedTree): Promise<void> {
		const source = this.source;
		if (!source || source.pid) return;
		const pid = await this.firstDebugged(tree);
		try {
			// a launch waits for gdb in a job-control stop; a frozen tree lets its process go in one
			await source.attach(pid, async () => (await tree.holdByDebugger([pid])).includes(pid) || (tree.launched && this.stoppedAtStart));
		} catch (err) {
			// the program ended meanwhile: the session ends, nothing to say
			if (this.source !== source || tree.state === 'gone') return;
			if (tree.launched && this.stoppedAtStart) {
				// it waits at its first instruction for a gdb that will not come: it is ended, the launch fails
				await tree.kill().catch(() => undefined);
				throw new CheckpointError('not-permitted', `gdb could not attach to the program, which waited for it at its start, so it was ended: ${errorMessage(err)}`);
			}
			await tree.holdByDebugger([]);
			this.noSourceLevel = `source-level debugging is off: ${errorMessage(err)}`;
			this.sendEvent(new OutputEvent(`${this.noSourceLevel}\n`, 'stderr'));
			return;
		}
		this.debuggedPid = pid;
		this.sendEvent(new OutputEvent(`gdb attached to process ${pid}: breakpoints, stepping, source and locals.\n`, 'console'));
		if (this.stopOnEntry) await this.stopAtMain(source);
		if (tree.state === 'running') await source.continue(pid);
	}

	/** stopOnEntry: a temporary breakpoint at main; its stop is the entry (see gdbStopped). */
	private async stopAtMain(source: SourceDebugger): Promise<void> {
		try {
			await source.forward('evaluate', { expression: 'tbreak main', context: 'repl' });
			this.entryPending = true;
		} catch (err) {
			this.tellFailure(`"stopOnEntry": gdb could not stop at main (${errorMessage(err)}); the program runs to its breakpoints`);
		}
	}

	/**
	 * Pause, a checkpoint or a restore wait for gdb's first attach: the
	 * editor may ask for them as soon as the session shows, while gdb is
	 * still taking the process.
	 */
	private async gdbSettled(): Promise<void> {
		await this.gdbReady?.catch(() => undefined);
	}

	/** The process the configuration's debugProcess names, or the root (said so when it names none of the tree). */
	private async firstDebugged(tree: DebuggedTree): Promise<number> {
		const wanted = this.wantedProcess;
		if (wanted === undefined) return tree.rootPid;
		const processes = await tree.processes();
		const found = processes.find((p) => (typeof wanted === 'number' ? p.pid === wanted : isNamed(p, wanted)));
		if (found) return found.pid;
		const listed = processes.map((p) => `${p.pid} ${printable(p.comm)}`).join(', ');
		this.sendEvent(new OutputEvent(`"debugProcess": ${JSON.stringify(wanted)} names no process of the tree (${listed}); gdb debugs the root, ${tree.rootPid}. Pick another in the Call Stack (Debug This Process).\n`, 'stderr'));
		return tree.rootPid;
	}

	/**
	 * gdb lets go of the process it debugs and takes another of the tree
	 * (tid may name a thread of it). A stopped session stays stopped, now
	 * showing where the new process stands; a running one runs on.
	 */
	private async debugProcess(tid: number): Promise<{ pid: number }> {
		await this.gdbSettled();
		const tree = this.attached();
		const source = this.source;
		if (!source) throw new CheckpointError('usage', this.noSourceLevel);
		const process = (await tree.processes()).find((p) => p.pid === tid || p.threads.includes(tid));
		if (!process) throw new CheckpointError('usage', `${tid} is not a process of the debugged tree (root ${tree.rootPid}); pick one of the Call Stack`);
		if (process.pid === source.pid) return { pid: process.pid };
		const running = !source.stopped && tree.state === 'running';
		await source.aside(tree, async () => undefined, () => process.pid);
		await source.goOn(tree, running);
		this.debuggedPid = process.pid;
		this.sendEvent(new OutputEvent(`gdb debugs process ${process.pid} now (${printable(process.comm)}).\n`, 'console'));
		if (!running) await this.gdbStopped({ reason: 'pause', threadId: process.pid, description: `gdb took process ${process.pid}` });
		return { pid: process.pid };
	}

	/** The process gdb holds stopped: the rest of the tree is frozen too, then the editor shows where. */
	private async gdbStopped(body: DebugProtocol.StoppedEvent['body']): Promise<void> {
		const tree = this.tree;
		if (this.entryPending) {
			this.entryPending = false;
			body = { ...body, reason: 'entry', description: 'Stopped at main (stopOnEntry)' };
		}
		if (tree?.state === 'running') await tree.freeze().catch((err: unknown) => this.tellFailure(`The rest of the tree could not be frozen: ${errorMessage(err)}`));
		const stopped = new StoppedEvent(body.reason, body.threadId, body.text) as DebugProtocol.StoppedEvent;
		stopped.body = { ...body, allThreadsStopped: true };
		this.sendEvent(stopped);
	}

	/** A launched (or restored) program's output goes to the Debug Console; its end ends the session. */
	private programEvent(e: ProgramEvent): void {
		const tree = this.tree;
		if (!tree || e.rootPid !== tree.rootPid) return;
		if (e.kind === 'output') {
			this.sendEvent(new OutputEvent(e.data.toString('utf8'), e.stream));
			return;
		}
		// A restore kills the tree it replaces (and a new one may have the same pid): that end is not the program's.
		if (tree.state === 'restoring' || tree.state === 'checkpointing') return;
		this.treeEnded(tree.rootPid, e.code !== null ? `exited with code ${e.code}` : `was killed by signal ${e.signal}`);
	}

	/** VS Code lists a running session's threads only when told they started. */
	protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
		this.answer(response, async () => {
			if (!this.tree) return;
			this.announce(await this.tree.tasks());
			this.gdbReady = this.attachGdb(this.tree);
			await this.gdbReady;
		});
	}

	protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
		this.answer(response, async () => {
			if (!this.tree || this.tree.state === 'gone') return { threads: [] };
			const tasks = await this.tree.tasks();
			this.known = new Map(tasks.map((t) => [t.tid, t]));
			return { threads: tasks.map((t) => ({ id: t.tid, name: t.name })) };
		});
	}

	/** Pause: gdb stops the process it holds (its stop freezes the rest), or the whole tree is frozen. */
	protected override pauseRequest(response: DebugProtocol.PauseResponse, args: DebugProtocol.PauseArguments): void {
		this.answer(response, async () => {
			await this.gdbSettled();
			const tree = this.attached();
			if (this.source?.pid && !this.source.stopped) return this.source.pause(this.source.pid);
			await tree.freeze();
			this.sendEvent(allStopped(new StoppedEvent('pause', this.source?.pid ?? args.threadId ?? tree.rootPid)));
		});
	}

	/** Continue: the tree thaws, and gdb lets the process it holds run. */
	protected override continueRequest(response: DebugProtocol.ContinueResponse, args: DebugProtocol.ContinueArguments): void {
		this.answer(response, async () => {
			const tree = this.attached();
			if (tree.state === 'frozen') await tree.thaw();
			if (this.source?.stopped) await this.source.continue(this.source.knowsStopped(args.threadId) ? args.threadId : this.source.pid ?? tree.rootPid);
			return { allThreadsContinued: true };
		});
	}

	protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
		this.answer(response, async () => {
			if (this.source) return this.source.setBreakpoints(args);
			return { breakpoints: (args.breakpoints ?? []).map((b) => ({ verified: false, line: b.line, message: this.noSourceLevel })) };
		});
	}

	protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
		this.answer(response, async () => {
			if (this.source) return this.source.setFunctionBreakpoints(args);
			return { breakpoints: args.breakpoints.map(() => ({ verified: false, message: this.noSourceLevel })) };
		});
	}

	/** Requests gdb answers as they are (watch, hover, repl, Variables edits, disassembly, memory views). */
	protected override dispatchRequest(request: DebugProtocol.Request): void {
		if (!AS_GDB_ANSWERS.has(request.command)) return super.dispatchRequest(request);
		this.toGdb(new Response(request), request.command, (request.arguments ?? {}) as object);
	}

	/** A source read from the target (not found here): its text. */
	protected override sourceRequest(response: DebugProtocol.SourceResponse, args: DebugProtocol.SourceArguments): void {
		this.answer(response, async () => {
			const ref = args.source?.sourceReference ?? args.sourceReference;
			return { content: await (await this.gdbWhenReady()).sources.content(ref), mimeType: 'text/x-c' };
		});
	}

	protected override breakpointLocationsRequest(response: DebugProtocol.BreakpointLocationsResponse, args: DebugProtocol.BreakpointLocationsArguments): void {
		this.answer(response, async () => {
			const source = await this.gdbWhenReady();
			const path = source.sources.toTarget(args.source);
			return source.forward('breakpointLocations', { ...args, source: { path } }) as Promise<DebugProtocol.BreakpointLocationsResponse['body']>;
		});
	}

	protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
		this.step(response, 'next', args);
	}

	protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
		this.step(response, 'stepIn', args);
	}

	protected override stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
		this.step(response, 'stepOut', args);
	}

	/**
	 * A step runs the program, so the rest of the tree runs with it (a step
	 * over a call that waits for a child would never end otherwise); its
	 * stop freezes them again.
	 */
	private step(response: DebugProtocol.Response, command: 'next' | 'stepIn' | 'stepOut', args: DebugProtocol.NextArguments): void {
		this.answer(response, async () => {
			const source = await this.gdbWhenReady();
			const tree = this.attached();
			if (tree.state === 'frozen') await tree.thaw();
			await source.forward(command, { ...args });
		});
	}

	/** A request gdb answers as it is (its frame ids, variable references, thread as a tid). */
	private toGdb(response: DebugProtocol.Response, command: string, args: object): void {
		if (!FORWARDED.has(command) && command !== 'scopes' && command !== 'variables') throw new Error(`${command} is not forwarded to gdb`);
		this.answer(response, async () => (await this.gdbWhenReady()).forward(command, gdbArgs(args)) as Promise<DebugProtocol.Response['body']>);
	}

	/** The source debugger once gdb's first attach is over (the editor asks as soon as the session shows). */
	private async gdbWhenReady(): Promise<SourceDebugger> {
		await this.gdbSettled();
		return this.gdb();
	}

	/** The source debugger, when gdb holds a process or is taking one again (a checkpoint, a restore: its requests wait). */
	private gdb(): SourceDebugger {
		if (!this.source?.pid && !this.source?.takingBack) throw new CheckpointError('usage', this.noSourceLevel);
		return this.source;
	}

	/**
	 * A frozen task of a live tree shows one frame saying where to look: its
	 * registers and stack are read from a checkpoint's snapshot, not from the
	 * live process (which is never ptraced).
	 */
	protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
		this.answer(response, async () => {
			if (this.source?.knowsStopped(args.threadId)) return this.source.stackTrace(args);
			const task = this.known.get(args.threadId) ?? (await this.attached().tasks()).find((t) => t.tid === args.threadId);
			if (!task) return { stackFrames: [], totalFrames: 0 };
			const frame: DebugProtocol.StackFrame = {
				id: OWN_FRAME_BASE + task.tid,
				name: `${task.name} (frozen; take a checkpoint and open its snapshot for registers and stack)`,
				line: 0,
				column: 0,
				presentationHint: 'label',
			};
			return { stackFrames: [frame], totalFrames: 1 };
		});
	}

	protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
		if (args.frameId < OWN_FRAME_BASE) return this.toGdb(response, 'scopes', args);
		const tid = args.frameId - OWN_FRAME_BASE;
		response.body = { scopes: [new Scope('Process', this.processScopes.create(tid), false)] };
		this.sendResponse(response);
	}

	protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
		if (args.variablesReference < OWN_SCOPE_BASE) return this.toGdb(response, 'variables', args);
		this.answer(response, async () => {
			const tid = this.processScopes.get(args.variablesReference);
			const processes = await this.attached().processes();
			const process = processes.find((p) => p.pid === tid || p.threads.includes(tid));
			return { variables: process ? processVariables(process) : [] };
		});
	}

	/**
	 * Disconnect: an attached tree is thawed and left running, whatever
	 * terminateDebuggee says: VS Code's Stop on an attach session asks for it
	 * without asking the user, and an attached program is the user's; only
	 * Kill (which asks first) ends it. A launched tree ends with the session
	 * unless terminateDebuggee is false.
	 */
	protected override disconnectRequest(response: DebugProtocol.DisconnectResponse, args: DebugProtocol.DisconnectArguments): void {
		this.answer(response, async () => {
			const tree = this.tree;
			if (tree && tree.state !== 'gone' && tree.launched && args?.terminateDebuggee !== false) await tree.kill().catch(() => undefined);
			await this.end();
		});
	}

	protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
		if (!isCustomRequest(command)) return this.fail(response, new CheckpointError('usage', `unknown request "${command}"`));
		this.answer(response, () => runCustomRequest(this.handlers, command, args));
	}

	/**
	 * The editor shows an error once. A refusal for leaks comes as an event,
	 * with the leaks and their choices (see refused()). A custom request's
	 * failure is the business of the extension code that sent it: it shows it
	 * with what to do next (VS Code would show it a second time, bare).
	 * Failures of DAP's own requests (attach, launch, ...) VS Code shows.
	 */
	protected override showsUser(err: unknown, command: string): boolean {
		if (err instanceof CheckpointError && err.kind === 'leaks-refused') return false;
		// what the views ask for shows in them (a restore leaves in-flight requests with ids of the gdb before)
		if (QUIET_FAILURES.has(command)) return false;
		return !isCustomRequest(command);
	}

	private async cancellable<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
		const controller = new AbortController();
		this.running = controller;
		try {
			return await work(controller.signal);
		} finally {
			if (this.running === controller) this.running = undefined;
		}
	}

	private async takeCheckpoint(args: TakeCheckpointArgs, cancel: AbortSignal): Promise<CustomBody<typeof CUSTOM.takeCheckpoint>> {
		await this.gdbSettled();
		const tree = this.attached();
		// under gdb the tree is frozen for the dump: a refusal says what the program does after it
		const source = this.source?.pid ? this.source : undefined;
		const take = (debuggerStop?: pb.IDebuggerStop): Promise<pb.Checkpoint> => tree.checkpoint(args.name, { onProgress: (p) => this.progress(p), cancel, debuggerStop })
			.catch((err: unknown) => this.refused(err, 'checkpoint', source && !debuggerStop ? 'running' : undefined));
		const checkpoint = source ? await this.underGdb(tree, source, take) : await take();
		const summary = this.checkpointTaken(checkpoint);
		this.sendEvent(new OutputEvent(`Checkpoint ${summary.id}${summary.name ? ` "${summary.name}"` : ''} taken (${describeStats(summary)}).\n`, 'console'));
		this.tellLeaks(summary);
		return { checkpoint: summary };
	}

	/**
	 * A checkpoint of a tree gdb is in: gdb lets go of its process for the
	 * dump and takes it again where it was; the session then goes on as it
	 * was (running, or stopped where it was, its frames renewed).
	 */
	private async underGdb(tree: DebuggedTree, source: SourceDebugger, take: (at?: pb.IDebuggerStop) => Promise<pb.Checkpoint>): Promise<pb.Checkpoint> {
		const pid = source.pid ?? tree.rootPid;
		const aside = await source.aside(tree, take, () => pid);
		await source.goOn(tree, aside.wasRunning, aside.caught);
		// stopped where it was: gdb's frame ids are new
		if (!aside.wasRunning && !aside.caught) this.sendEvent(new InvalidatedEvent(['stacks', 'variables']));
		return aside.result;
	}

	/** The restored tree runs (and the process gdb holds with it). */
	private async runOn(tree: DebuggedTree): Promise<void> {
		if (this.source?.pid) return this.source.goOn(tree, true);
		if (tree.state === 'frozen') await tree.thaw();
	}

	/** The leaks the checkpoint's scan found (before its dump) go to the editor's Leaks view. */
	private checkpointTaken(checkpoint: pb.Checkpoint): CheckpointSummary {
		const report = checkpoint.leaks;
		if (report) this.sendCustomEvent(CUSTOM.leaksEvent, this.leaksBody('checkpoint', report.leaks, report.stats));
		return checkpointSummary(checkpoint);
	}

	/** What the user should know of a checkpoint's leaks, in the Debug Console: what was warned about, and whether it is inconsistent. */
	private tellLeaks(summary: CheckpointSummary): void {
		const leaks = summary.leaks;
		if (leaks?.warned.length) this.sendEvent(new OutputEvent(`  ${leaks.summary}; warned: ${leaks.warned.join(', ')}.\n`, 'console'));
		if (leaks?.inconsistent) {
			this.sendEvent(new OutputEvent(`Checkpoint ${summary.id} is inconsistent: what the tree shares with the outside changed while it was dumped, so it may hold a state the tree never had:\n${leaks.changes.map((c) => `  ${c}\n`).join('')}`, 'stderr'));
		}
	}

	/**
	 * A checkpoint refused for leaks whose policy is fail: the editor gets the
	 * tree's leaks with the refusal (before the answer), the request an error
	 * naming the refused leaks, their choices and what to set. Other errors
	 * pass through as they are.
	 */
	private async refused(err: unknown, during: Refusal['during'], after?: Refusal['state']): Promise<never> {
		if (!(err instanceof CheckpointError) || err.kind !== 'leaks-refused') throw err;
		const refusal = refusalOf(err.leaks, during, after ?? (this.tree?.state === 'frozen' ? 'frozen' : 'running'));
		// The whole list, so the Leaks view shows the refused leaks among the others; the refused ones if the scan fails.
		const body = await this.scan('refused').catch(() => this.leaksBody('refused', err.leaks));
		this.sendCustomEvent(CUSTOM.leaksEvent, { ...body, refusal });
		throw new CheckpointError('leaks-refused', refusal.message, undefined, undefined, err.leaks);
	}

	/** The tree's leaks now, with the session's rules. */
	private async scan(reason: LeaksReason): Promise<LeaksBody> {
		const result = await this.attached().leaks();
		// the session's own gdb traces the tree: not a leak (it lets go for every checkpoint)
		const gdb = this.source?.tracerPid;
		const leaks = result.leaks.filter((l) => !(l.kind === pb.LeakKind.LEAK_KIND_TRACER && (l.outside ?? []).every((h) => h.pid === gdb)));
		return this.leaksBody(reason, leaks, result.stats);
	}

	private leaksBody(reason: LeaksReason, leaks: readonly pb.ILeak[], stats?: pb.ILeakScanStats | null): LeaksBody {
		return {
			rootPid: this.tree?.rootPid ?? 0, reason, leaks: leaks.map(leakJson), stats: stats ? leakStatsJson(stats) : undefined, policy: policySetting(this.rules),
		};
	}

	/** A restore's answer first, then what a lazy restore's end (that came meanwhile) has to say. */
	private async restoreCheckpoint(args: RestoreCheckpointArgs, cancel: AbortSignal): Promise<RestoreCheckpointBody> {
		this.restoresAnswering++;
		try {
			return await this.restoreCheckpointNow(args, cancel);
		} finally {
			// the last restore being answered tells what came meanwhile (a second one is refused, but overlaps)
			if (--this.restoresAnswering === 0) for (const tell of this.afterRestore.splice(0)) tell();
		}
	}

	private async restoreCheckpointNow(args: RestoreCheckpointArgs, cancel: AbortSignal): Promise<RestoreCheckpointBody> {
		await this.gdbSettled();
		const tree = this.attached();
		const { id } = args;
		const wasFrozen = tree.state === 'frozen';
		const checkpoint = (await tree.checkpoints()).find((c) => c.id === id);
		// stopped after: asked, or taken where a debugger held the tree (a breakpoint, a step)
		const pause = args.pause ?? !!checkpoint?.debuggerStop;
		const source = this.source?.pid ? this.source : undefined;
		const restore = (debuggerStop?: pb.IDebuggerStop): Promise<RestoreOutcome> => tree.restore(id, {
			saveCurrent: args.saveCurrent ?? this.saveBeforeRestore, tcpClose: args.tcpClose, onProgress: (p) => this.progress(p), cancel,
			frozen: pause || !!source, debuggerStop, lazy: this.lazyRestore,
		}).catch((err: unknown) => {
			if (err instanceof CheckpointError && err.kind === 'connection-moved-on') throw new CheckpointError(err.kind, `${CONNECTIONS_MOVED_ON}${err.message}`);
			return this.refused(err, 'restore', source && !debuggerStop ? 'running' : undefined);
		});
		const outcome = source ? (await source.aside(tree, restore, (o) => this.debuggedAfter(o))).result : await restore();
		if (outcome.saved) {
			const saved = this.checkpointTaken(outcome.saved);
			this.sendEvent(new OutputEvent(`The replaced state was saved as checkpoint ${saved.id}.\n`, 'console'));
			this.tellLeaks(saved);
		}
		if (outcome.restored.warning) this.tellFailure(outcome.restored.warning);
		if (!pause || tree.state !== 'frozen') await this.runOn(tree);
		const processes = `as pid ${outcome.restored.rootPid} (${plural(outcome.restored.pids.length, 'process', 'processes')})`;
		const where = checkpoint?.debuggerStop?.location ? ` at ${checkpoint.debuggerStop.location}` : '';
		const how = tree.state === 'frozen' ? `the tree is back ${processes}, stopped${where}` : `the tree runs again ${processes}`;
		this.sendEvent(new OutputEvent(`Restored checkpoint ${id}: ${how}.\n`, 'console'));
		this.announce(await tree.tasks());
		this.sendEvent(new InvalidatedEvent(['threads', 'stacks', 'variables']));
		if (tree.state === 'frozen') await this.stoppedByRestore(tree, checkpoint);
		else if (wasFrozen) this.sendEvent(new ContinuedEvent(tree.rootPid, true));
		// New pids, maybe new holders: the editor's list of leaks is stale.
		void this.scan('restore').then((body) => this.sendCustomEvent(CUSTOM.leaksEvent, body), () => undefined);
		return { rootPid: outcome.restored.rootPid, stopped: tree.state === 'frozen', saved: outcome.saved ? checkpointSummary(outcome.saved) : undefined };
	}

	/** The process gdb takes after a restore: the one it debugged, when the checkpoint has it, else the root. */
	private debuggedAfter(outcome: RestoreOutcome): number {
		const pid = this.debuggedPid;
		const kept = pid !== undefined && outcome.restored.pids.includes(pid);
		if (!kept) this.debuggedPid = outcome.restored.rootPid;
		return kept ? pid : outcome.restored.rootPid;
	}

	/** The editor shows the restored tree stopped, on the thread that was stopped at its checkpoint (when there is one). */
	private async stoppedByRestore(tree: DebuggedTree, checkpoint: pb.Checkpoint | undefined): Promise<void> {
		const tid = checkpoint?.debuggerStop?.tid;
		const threadId = tid && this.known.has(tid) ? tid : this.source?.pid ?? tree.rootPid;
		await this.source?.select(threadId).catch(() => undefined);
		const event = new StoppedEvent('restore', threadId) as DebugProtocol.StoppedEvent;
		event.body.allThreadsStopped = true;
		event.body.description = `Restored "${checkpoint?.name || checkpoint?.id}"`;
		this.sendEvent(event);
	}

	private sendCustomEvent<K extends CustomEventName>(name: K, body: CustomEventBody<K>): void {
		this.sendEvent(new Event(name, body));
	}

	private progress(p: pb.Progress): void {
		this.sendCustomEvent(CUSTOM.progressEvent, { stage: p.stage, message: p.message });
	}

	private async resolvePid(session: HelperOperations, args: Partial<AttachArguments>): Promise<number> {
		if (args.pid !== undefined && args.pid !== '') {
			const pid = Number(args.pid);
			if (!Number.isInteger(pid) || pid <= 0) throw new CheckpointError('usage', `"pid" must be a process id, not ${JSON.stringify(args.pid)}`);
			return pid;
		}
		if (args.processName) return DebuggedTree.findProcess(session, args.processName);
		throw new CheckpointError('usage', 'the attach configuration needs "pid" (or "${command:checkpoint.pickProcess}") or "processName"');
	}

	private attached(): DebuggedTree {
		if (!this.tree) throw new CheckpointError('bad-request', 'not attached to a process yet');
		return this.tree;
	}

	/** Tasks come and go (threads, children, a restore): thread events keep VS Code's list right. */
	private announce(tasks: TreeTask[]): void {
		const now = new Map(tasks.map((t) => [t.tid, t]));
		for (const tid of this.known.keys()) if (!now.has(tid)) this.sendEvent(new ThreadEvent('exited', tid));
		for (const tid of now.keys()) if (!this.known.has(tid)) this.sendEvent(new ThreadEvent('started', tid));
		this.known = now;
	}

	/** The tree may end on its own, and the connection to the target may drop: either ends the session. */
	private startWatching(): void {
		this.watch = setInterval(() => void this.checkTree(), this.watchIntervalMs);
		this.watch.unref();
	}

	private async checkTree(): Promise<void> {
		const tree = this.tree;
		// A busy tree is looked at when it is done; one that went under this session's eyes (killed, or lost to a failed restore) was told of then.
		if (!tree || (tree.state !== 'running' && tree.state !== 'frozen')) return;
		try {
			const tasks = await tree.tasks();
			if (this.tree !== tree) return;
			if (tasks.length === 0) this.treeEnded(tree.rootPid, 'exited');
			else this.announce(tasks);
		} catch (err) {
			if (this.tree !== tree) return;
			// The helper answers for a tree whose root is gone with "no such process": the program ended, the connection is fine.
			if (err instanceof CheckpointError && err.kind === 'no-such-process') this.treeEnded(tree.rootPid, 'exited');
			else this.connectionLost(err);
		}
	}

	private treeEnded(rootPid: number, how: string): void {
		if (!this.tree) return;
		this.tree = undefined;
		this.sendEvent(new OutputEvent(`Process ${rootPid} ${how}; its checkpoints stay in the store.\n`, 'console'));
		void this.end().finally(() => this.sendEvent(new TerminatedEvent()));
	}

	private connectionLost(err: unknown): void {
		this.sendEvent(new OutputEvent(`Lost the connection to the target: ${errorMessage(err)}\n`, 'stderr'));
		void this.end().finally(() => this.sendEvent(new TerminatedEvent()));
	}

	/** Thaws what this session froze, lets the helper session go; says what it could not do, and never fails. Safe to call twice. */
	private async end(): Promise<void> {
		const source = this.source;
		this.source = undefined;
		await source?.detach().catch((err: unknown) => this.tellFailure(`Could not let gdb detach: ${errorMessage(err)}`));
		if (this.watch) clearInterval(this.watch);
		this.watch = undefined;
		this.stopListening?.();
		this.stopListening = undefined;
		const tree = this.tree;
		const session = this.session;
		this.tree = undefined;
		this.session = undefined;
		if (tree && tree.state !== 'gone') {
			await tree.detach().catch((err: unknown) => this.tellFailure(`Could not thaw process ${tree.rootPid} (${errorMessage(err)}); the helper thaws what it froze when its connection ends.`));
		}
		if (session) await this.sessions.release(session).catch((err: unknown) => this.tellFailure(`Could not close the connection to the target: ${errorMessage(err)}`));
	}

	/** Every page of a lazy restore is in (said in the Debug Console), or its daemon failed and took the tree (said as a failure). */
	private lazyRestoreEnded(end: pb.LazyRestoreEnd): void {
		if (this.restoresAnswering > 0) {
			this.afterRestore.push(() => this.lazyRestoreEnded(end));
			return;
		}
		if (!end.ok) {
			this.tellFailure(`Lazy restore of checkpoint ${end.checkpointId}: ${end.message}`);
			return;
		}
		const ms = (Number(end.wallTimeUs) / 1000).toFixed(0);
		this.sendEvent(new OutputEvent(`Every page of checkpoint ${end.checkpointId} is in (${ms} ms after the restore started; it ran from the start).\n`, 'console'));
	}

	private tellFailure(text: string): void {
		this.sendEvent(new OutputEvent(`${text}\n`, 'stderr'));
	}
}

/** A request's arguments for gdb: a frame of the adapter's own (a frozen task) is no frame of gdb's. */
function gdbArgs(args: object): Record<string, unknown> {
	const copy: Record<string, unknown> = { ...args };
	if (typeof copy.frameId === 'number' && copy.frameId >= OWN_FRAME_BASE) delete copy.frameId;
	return copy;
}

/** The whole tree stops together (it is frozen as one cgroup). */
function allStopped(event: StoppedEvent): StoppedEvent {
	(event as DebugProtocol.StoppedEvent).body.allThreadsStopped = true;
	return event;
}

/** "2.0 MiB, 62 MiB shared with ck-1, frozen 42 ms": its own size, what it reads from the checkpoint it stands on, the freeze. */
function describeStats(c: CheckpointSummary): string {
	const shared = c.parent && c.sharing ? `, ${byteSize(pagesBytes(c.sharing.sharedPages))} shared with ${c.parent.name || c.parent.id}` : '';
	return `${byteSize(c.sizeBytes)}${shared}${c.frozenMs === undefined ? '' : `, frozen ${c.frozenMs.toFixed(0)} ms`}`;
}

function processVariables(p: pb.ProcessInfo): DebugProtocol.Variable[] {
	const v = (name: string, value: string): DebugProtocol.Variable => ({ name, value, variablesReference: 0 });
	return [
		v('pid', String(p.pid)), v('ppid', String(p.ppid)), v('comm', printable(p.comm)), v('command line', printableCommandLine(p.cmdline)),
		v('state', p.state), v('threads', p.threads.join(', ')), v('uid', String(p.uid)), v('pgid', String(p.pgid)), v('sid', String(p.sid)),
		v('tty', p.tty || '(none)'), v('frozen', String(p.frozen)),
	];
}

export type { TreeState };

/** DEFAULT_ENV with the configuration's changes (null removes a variable). */
export function launchEnvironment(changes: Record<string, string | null> = {}): Record<string, string> {
	const env: Record<string, string> = { ...DEFAULT_ENV };
	for (const [name, value] of Object.entries(changes)) {
		if (value === null) delete env[name];
		else env[name] = String(value);
	}
	return env;
}

/** The configuration's debugProcess, checked: a pid or a command name. */
function debugProcessOf(value: unknown): number | string | undefined {
	if (value === undefined || value === null || value === '') return undefined;
	if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
	if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
	if (typeof value === 'string') return value;
	throw new CheckpointError('usage', `"debugProcess" is a pid or a command name of a process of the tree, not ${JSON.stringify(value)}`);
}
