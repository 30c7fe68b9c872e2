/**
 * Restore to a breakpoint: a program built with -g on the target, holding
 * 64 MiB or 1 GiB (test/workloads/heavy.c), launched through the live debug
 * adapter over DAP (in this process, as the extension runs it), stopped at
 * a breakpoint, checkpointed there (checkpoint/take), then run on to the
 * next stop. Timed: checkpoint/restore {saveCurrent: false} up to the
 * adapter's stopped event (reason "restore"), which includes everything
 * Restore does: gdb lets go of the running process, the helper kills the
 * tree, CRIU restores it frozen, a new gdb attaches with the breakpoint set
 * again, the editor is told where it stopped. Timed at the client, over SSH.
 *
 * Against the same done by hand, in the same run, timed on the target
 * (./gdb-restore-bench.py): `criu restore` (detached, --leave-stopped, the
 * helper's CRIU and options) of a checkpoint of the same program made the
 * same way (a second launch stopped at the same breakpoint, checkpointed by
 * the adapter, then killed: its pid is free for CRIU), then a fresh
 * `gdb -q -nx -i=dap`: initialize, attach, setBreakpoints, configurationDone,
 * its stopped event. The restored process is killed after each round,
 * untimed. Rounds alternate which side goes first; medians, and the ratio
 * ours / by hand against the 1.2 target (printed; never the exit status).
 *
 * Where our time goes: every helper call and every DAP message to and
 * from gdb is stamped as it passes (a wrapper around the helper session:
 * no change to the adapter), and the stages' medians are printed.
 * Environment: CKPT_BENCH_DEBUG_SIZES (MiB, default "64,1024"),
 * CKPT_BENCH_TRACE=1 (every round's stamps on stderr).
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { HelperSession, type GdbLink, type HelperOperations } from '../../src/core/session';
import { SessionPool } from '../../src/core/sessionPool';
import { LiveDebugSession, type SessionProvider } from '../../src/debug/liveSession';
import { CUSTOM, type CheckpointSummary, type CustomEventBody } from '../../src/debug/messages';
import { connectClient, customRequest, serveAdapter } from '../support/dap';
import { connectionFilePath, REPO, sshTarget, type TargetShell } from '../integration/harness';
import { median } from './median';

const SIZES_MIB = (process.env.CKPT_BENCH_DEBUG_SIZES ?? '64,1024').split(',').map(Number);
const TRACE = process.env.CKPT_BENCH_TRACE === '1';
const TARGET_RATIO = 1.2;
const BY_HAND = '/opt/checkpoint-debugger-tests/gdb-restore-bench.py';
const SOURCE_TEXT = readFileSync(join(REPO, 'test', 'workloads', 'heavy.c'), 'utf8');
/** The line of "@visit" in heavy.c. */
const LINE = SOURCE_TEXT.split('\n').findIndex((l) => l.includes('/* @visit */')) + 1;
if (LINE < 1) throw new Error('no @visit line in test/workloads/heavy.c');

/** Moments of one timed round, in ms from its start. */
class Stamps {
	private t0 = 0;
	private on = false;
	marks: Array<{ at: number; what: string }> = [];

	start(): void {
		this.marks = [];
		this.on = true;
		this.t0 = performance.now();
	}

	stop(): void {
		this.on = false;
	}

	mark(what: string): void {
		if (this.on) this.marks.push({ at: performance.now() - this.t0, what });
	}

	/** When the first mark matching `what` came (at or after `from`); NaN when none did. */
	at(what: RegExp, from = 0): number {
		return this.marks.find((m) => m.at >= from && what.test(m.what))?.at ?? NaN;
	}
}

/** The commands and events named in a piece of DAP traffic ("attach", "event stopped"). */
function dapNames(data: Buffer): string {
	const text = data.toString('utf8');
	const names = [...text.matchAll(/"(command|event)"\s*:\s*"([^"]+)"/g)].map((m) => (m[1] === 'event' ? `event ${m[2]}` : m[2]));
	return names.join(', ') || `${data.length} bytes`;
}

/** gdb's link with every message to and from gdb stamped. */
function stampedLink(link: GdbLink, stamps: Stamps): GdbLink {
	const stopListening = link.onOutput((data) => stamps.mark(`gdb says ${dapNames(data)}`));
	return {
		id: link.id, pid: link.pid, version: link.version,
		send: (data) => { stamps.mark(`gdb gets ${dapNames(data)}`); return link.send(data); },
		onOutput: (listener) => link.onOutput(listener),
		onExit: (listener) => link.onExit(listener),
		stop: async (options) => {
			stopListening();
			stamps.mark('gdb stop');
			await link.stop(options);
			stamps.mark('gdb stopped');
		},
	};
}

/** " (CRIU n ms)" for a restore's answer, which says how long CRIU took; "" for other answers. */
function criuTime(answer: unknown): string {
	if (typeof answer !== 'object' || answer === null || !('criuWallTimeUs' in answer)) return '';
	return ` (CRIU ${(Number(answer.criuWallTimeUs) / 1000).toFixed(1)} ms)`;
}

/** The helper session with its calls stamped (start and answer), gdb's links too. */
function stampedSession(session: HelperSession, stamps: Stamps): HelperOperations {
	return new Proxy(session, {
		get(target, key, receiver): unknown {
			const value: unknown = Reflect.get(target, key, receiver);
			if (typeof value !== 'function' || typeof key !== 'string') return value;
			return (...args: unknown[]): unknown => {
				stamps.mark(`helper ${key}`);
				const result: unknown = Reflect.apply(value, target, args);
				if (!(result instanceof Promise)) return result;
				return result.then((r: unknown) => {
					stamps.mark(`helper ${key} answered${criuTime(r)}`);
					// gdbStart answers a GdbLink (HelperSession says so)
					return key === 'gdbStart' ? stampedLink(r as GdbLink, stamps) : r;
				});
			};
		},
	});
}

/** The adapter's sessions, from a pool on the benchmark's store, stamped. */
class StampedProvider implements SessionProvider {
	private readonly real = new Map<HelperOperations, HelperSession>();

	constructor(private readonly pool: SessionPool, private readonly stamps: Stamps) {}

	async acquire(target: string): Promise<HelperOperations> {
		const session = await this.pool.acquire(target);
		const stamped = stampedSession(session, this.stamps);
		this.real.set(stamped, session);
		return stamped;
	}

	async release(session: HelperOperations): Promise<void> {
		const real = this.real.get(session);
		this.real.delete(session);
		if (real) await this.pool.release(real);
	}
}

interface Launched {
	dc: DebugClient;
	pid: number;
	checkpoint: CheckpointSummary;
}

/** Ours: the milliseconds of each round and of each stage. */
interface OursRound {
	total: number;
	stages: Stages;
}

/** By hand: what gdb-restore-bench.py prints. */
interface HandRound {
	total: number;
	criu: number;
	stopped: number;
	gdb_start: number;
	attach: number;
	kill: number;
}

interface Stop {
	/** performance.now() when the event came. */
	at: number;
	body: DebugProtocol.StoppedEvent['body'];
}

/** Sends `request` and waits for the stopped event it leads to (which may come before its answer). */
async function stopAfter(dc: DebugClient, timeoutMs: number, request: () => Promise<unknown>): Promise<Stop> {
	let listener: ((e: DebugProtocol.StoppedEvent) => void) | undefined;
	let timer: NodeJS.Timeout | undefined;
	const stopped = new Promise<Stop>((resolve, reject) => {
		timer = setTimeout(() => reject(new Error(`no stopped event within ${timeoutMs} ms`)), timeoutMs);
		listener = (e) => resolve({ at: performance.now(), body: e.body });
		dc.on('stopped', listener);
	});
	// a timeout while the request is still under way is reported by the await below
	void stopped.catch(() => undefined);
	try {
		await request();
		return await stopped;
	} finally {
		clearTimeout(timer);
		if (listener) dc.removeListener('stopped', listener);
	}
}

/** Launches heavy MIB under the adapter as VS Code does, waits for the breakpoint, checkpoints there. */
async function launchAndCheckpoint(port: number, program: string, mib: number, stamps: Stamps): Promise<Launched> {
	const dc = await connectClient(port);
	try {
		await dc.initializeRequest({ adapterID: 'checkpoint', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
		const initialized = dc.waitForEvent('initialized');
		await dc.launchRequest({ target: connectionFilePath(), program, args: [String(mib)] } as DebugProtocol.LaunchRequestArguments);
		await initialized;
		await dc.setBreakpointsRequest({ source: { path: `${program}.c` }, breakpoints: [{ line: LINE }] });
		const stop = await stopAfter(dc, 120_000, () => dc.configurationDoneRequest());
		if (stop.body.reason !== 'breakpoint') throw new Error(`heavy ${mib} stopped for ${stop.body.reason}, not at its breakpoint`);
		const { rootPid: pid } = await customRequest(dc, CUSTOM.treeState, {});
		const { checkpoint } = await customRequest(dc, CUSTOM.takeCheckpoint, { name: `bench ${mib} MiB` });
		dc.on(CUSTOM.progressEvent, (e: { body: CustomEventBody<typeof CUSTOM.progressEvent> }) => stamps.mark(`progress ${e.body.stage}`));
		return { dc, pid, checkpoint };
	} catch (err) {
		await end(dc);
		throw err;
	}
}

async function end(dc: DebugClient): Promise<void> {
	await dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
	await dc.stop();
}

/** The top frame's line on thread tid, as the editor would show it after the stop. */
async function stoppedLine(dc: DebugClient, tid: number): Promise<number | undefined> {
	return (await dc.stackTraceRequest({ threadId: tid, startFrame: 0, levels: 1 })).body.stackFrames[0]?.line;
}

/** The stages of a round, in order; an indented name is a part of the stage above it. */
type Stages = Array<[string, number]>;

/**
 * Our stages, from the stamps of one round: up to the helper's restore call
 * (the adapter lists the checkpoints, asks gdb where it stands, freezes the
 * tree, gdb detaches and ends), the helper's restore (CRIU as the helper
 * timed it; the rest: the kill of the replaced tree, the checks, the
 * restored tree frozen and let out of CRIU's stop, the answer), the next
 * gdb started up to its answer to initialize (beside all that: it starts as
 * gdb lets go), the attach from the later of the restore's answer and gdb's
 * start up to gdb's stop (breakpoints, configurationDone, the process let
 * out of the freeze), and from there to the editor's stop (gdb's job-control
 * stop ended, its threads, the tree's tasks, the thread selected).
 */
function oursStages(s: Stamps, total: number): Stages {
	const during = (call: string, from: number, to: number): number => {
		const start = s.at(new RegExp(`^${call}$`), from);
		return start < to ? s.at(new RegExp(`^${call} answered`), start) - start : 0;
	};
	const restoreCall = s.at(/^helper restore$/);
	const restoreAnswer = s.at(/^helper restore answered/, restoreCall);
	const criu = Number(/CRIU ([\d.]+) ms/.exec(s.marks.find((m) => /^helper restore answered/.test(m.what))?.what ?? '')?.[1]);
	// the next gdb starts beside the restore (GdbStart): its start is a stage of its own, off the path when it ends first
	const started = s.at(/^helper gdbStart$/);
	const initialized = s.at(/^gdb says .*\binitialize\b/, started);
	const attachFrom = Math.max(restoreAnswer, initialized);
	const gdbStopped = s.at(/^gdb says .*event stopped/, attachFrom);
	return [
		['gdb lets go', restoreCall],
		['  freeze', during('helper freeze', 0, restoreCall)],
		['  gdb ends', s.at(/^gdb stopped$/) - s.at(/^gdb stop$/)],
		['CRIU', criu],
		['helper besides CRIU', restoreAnswer - restoreCall - criu],
		['gdb start (beside the restore)', initialized - started],
		['gdb attach', gdbStopped - attachFrom],
		['  freeze', during('helper freeze', attachFrom, gdbStopped)],
		['to the stop', total - gdbStopped],
	];
}

async function oursRound(shell: TargetShell, a: Launched, stamps: Stamps): Promise<OursRound> {
	// run on to the next stop, as a user would before going back
	await stopAfter(a.dc, 20_000, () => a.dc.continueRequest({ threadId: a.pid }));
	await shell.ok('sync');
	stamps.start();
	const t0 = performance.now();
	const stop = await stopAfter(a.dc, 120_000, async () => {
		await customRequest(a.dc, CUSTOM.restoreCheckpoint, { id: a.checkpoint.id, saveCurrent: false });
		stamps.mark('restore answered');
	}).finally(() => stamps.stop());
	const total = stop.at - t0;
	if (stop.body.reason !== 'restore') throw new Error(`the restore ended in a stop for ${stop.body.reason}`);
	const line = await stoppedLine(a.dc, stop.body.threadId ?? a.pid);
	if (line !== LINE) throw new Error(`the restore stopped at line ${line}, not at the checkpoint's ${LINE}`);
	if (TRACE) process.stderr.write(`    ours ${total.toFixed(1)} ms:\n${stamps.marks.map((m) => `      ${m.at.toFixed(1).padStart(8)} ${m.what}\n`).join('')}`);
	return { total, stages: oursStages(stamps, total) };
}

async function handRound(shell: TargetShell, b: Launched, criu: string, gdb: string, program: string): Promise<HandRound> {
	const work = (await shell.ok('mktemp -d /tmp/ckpt-bench-gdb-XXXXXX')).trim();
	try {
		await shell.ok('sync');
		const out = await shell.ok(`python3 ${BY_HAND} ${criu} ${gdb} ${b.checkpoint.path} ${work} ${b.pid} ${program}.c ${LINE}`);
		const round = JSON.parse(out.trim().split('\n').pop() ?? '{}') as HandRound;
		if (TRACE) process.stderr.write(`    by hand ${JSON.stringify(round)}\n`);
		return round;
	} finally {
		await shell.run(`rm -rf ${work}`);
	}
}

interface SizeResult {
	mib: number;
	ours: OursRound[];
	hand: HandRound[];
}

async function benchSize(shell: TargetShell, port: number, stamps: Stamps, tools: { criu: string; gdb: string; program: string }, mib: number, rounds: number): Promise<SizeResult> {
	const result: SizeResult = { mib, ours: [], hand: [] };
	const a = await launchAndCheckpoint(port, tools.program, mib, stamps);
	let b: Launched | undefined;
	try {
		// the by-hand side's checkpoint: made the same way, its program then killed (CRIU needs its pid free)
		b = await launchAndCheckpoint(port, tools.program, mib, stamps);
		await end(b.dc);
		const theirs = b;
		const ours = (): Promise<OursRound> => oursRound(shell, a, stamps);
		const hand = (): Promise<HandRound> => handRound(shell, theirs, tools.criu, tools.gdb, tools.program);
		// untimed warm-up of both: page cache, gdb's first start, the helper's first restore
		await ours();
		await hand();
		for (let round = 0; round < rounds; round++) {
			if (round % 2 === 0) {
				result.ours.push(await ours());
				result.hand.push(await hand());
			} else {
				result.hand.push(await hand());
				result.ours.push(await ours());
			}
			process.stderr.write(`  ${mib} MiB round ${round + 1}/${rounds}: ours ${result.ours.at(-1)?.total.toFixed(0)} ms, by hand ${result.hand.at(-1)?.total.toFixed(0)} ms\n`);
		}
	} finally {
		for (const id of [a.checkpoint.id, b?.checkpoint.id]) {
			if (id) await customRequest(a.dc, CUSTOM.deleteCheckpoint, { id }).catch(() => undefined);
		}
		await end(a.dc);
	}
	return result;
}

/** The stages' medians: "a 1.0, b 2.0 (c 0.5, d 1.0), e 3.0". */
function stageText(rounds: Stages[]): string {
	const parts: string[] = [];
	let subs: string[] = [];
	const flush = (): void => {
		if (subs.length) parts[parts.length - 1] += ` (${subs.join(', ')})`;
		subs = [];
	};
	(rounds[0] ?? []).forEach(([name], i) => {
		const text = `${name.trim()} ${median(rounds.map((r) => r[i][1])).toFixed(1)}`;
		if (name.startsWith(' ')) subs.push(text);
		else {
			flush();
			parts.push(text);
		}
	});
	flush();
	return parts.join(', ');
}

function report(r: SizeResult): string[] {
	const ours = median(r.ours.map((x) => x.total));
	const hand = median(r.hand.map((x) => x.total));
	const kill = median(r.hand.map((x) => x.kill));
	const withKill = median(r.hand.map((x) => x.total + x.kill));
	const ratio = ours / hand;
	const verdict = ratio <= TARGET_RATIO ? 'PASS' : `FAIL (over the ${TARGET_RATIO.toFixed(2)} target)`;
	const handStages: Stages[] = r.hand.map((x) => [['criu restore', x.criu], ['until stopped', x.stopped], ['gdb start', x.gdb_start], ['gdb attach', x.attach]]);
	return [
		`${`${r.mib} MiB`.padEnd(9)} ${ours.toFixed(0).padStart(8)} ${hand.toFixed(0).padStart(8)} ${ratio.toFixed(2).padStart(6)}  ${verdict}`,
		`          ours:    ${stageText(r.ours.map((x) => x.stages))}`,
		`          by hand: ${stageText(handStages)}`,
		`          by hand, the kill of the restored program after each round (untimed): ${kill.toFixed(1)}; counted in, as ours counts`,
		`          the kill of the tree it replaces: ${withKill.toFixed(0)} ms, ratio ${(ours / withKill).toFixed(2)}`,
	];
}

export async function benchGdbRestore(shell: TargetShell, rounds: number, benchDir: string): Promise<string> {
	const store = `${benchDir}/checkpoint-bench-gdb-store`;
	const program = await shell.buildProgram('heavy', '-g -O0');
	await shell.writeFile(BY_HAND, readFileSync(join(REPO, 'test', 'bench', 'gdb-restore-bench.py')));
	const target = (): ReturnType<typeof sshTarget> => sshTarget({ helperArgs: ['--store', store] });
	const hello = await (async () => {
		const session = await HelperSession.open(target());
		try {
			return await session.hello();
		} finally {
			await session.close();
		}
	})();
	if (!hello.gdbPath) throw new Error(`no gdb on the target: ${hello.gdbProblem}`);
	process.stderr.write(`bench: Restore to a breakpoint, gdb ${hello.gdbVersion} and CRIU ${hello.criuVersion} (${hello.criuPath}) on ${hello.hostname}, ${rounds} rounds, images in ${store}\n`);
	const stamps = new Stamps();
	const pool = new SessionPool(() => target());
	const { server, port }: { server: Server; port: number } = await serveAdapter(() => new LiveDebugSession(new StampedProvider(pool, stamps)));
	const rows = ['size      ours ms  hand ms  ratio'];
	try {
		for (const mib of SIZES_MIB) {
			rows.push(...report(await benchSize(shell, port, stamps, { criu: hello.criuPath, gdb: hello.gdbPath, program }, mib, rounds)));
		}
	} finally {
		server.close();
		await pool.closeAll();
		await shell.run(`rm -rf ${store}`);
	}
	return [
		`Restore to a breakpoint under gdb: medians over ${rounds} rounds, ratio target ${TARGET_RATIO.toFixed(2)}`,
		'  ours: checkpoint/restore {saveCurrent: false} to the adapter\'s stopped event, timed at the client over SSH: gdb lets go',
		'        of the running program, the helper kills its tree, CRIU restores the checkpoint frozen, a new gdb attaches with',
		'        the breakpoint set again, the editor is told where it stopped',
		'  by hand: criu restore -d --leave-stopped of a checkpoint of the same program state (made the same way), then a fresh',
		'        gdb -q -nx -i=dap: initialize, attach, setBreakpoints, configurationDone, its stopped event; timed on the target',
		'  stages (ms, medians): "freeze" is a helper freeze request (the tree\'s cgroup freezer), "gdb ends" the old gdb\'s',
		'        detach (then it is killed), "gdb start" the next gdb\'s spawn up to its answer to initialize (ours: beside',
		'        the restore, from the moment gdb lets go)',
		...rows,
	].join('\n');
}
