/**
 * An in-memory helper for the unit tests of DebuggedTree and the debug
 * adapters: a host's processes (trees of them, with threads), the cgroup
 * freezer, a store of checkpoints, what each process shares with the
 * outside, program output and exits. Each operation keeps the real helper's
 * contract (proto/helper.proto, native-helper/): a dump leaves the tree as
 * it was, also when it fails; a leak whose policy is fail refuses it before
 * anything is frozen or written; a restore kills the tree running on the
 * checkpoint's pids and brings its processes back, with their pids; a dump
 * stands on the newest checkpoint of the same root (five pages in six
 * shared) unless asked to keep every page, and a delete hands the pages
 * others read from the deleted one to them; when the connection ends the
 * helper thaws what it froze and kills what it launched. Tests inject faults by operation, hold an operation half-way,
 * and drop the connection.
 */
import { CheckpointError } from '../../src/core/errors';
import type { ImageSource } from '../../src/core/images/source';
import { leakName } from '../../src/core/leaks';
import { pb } from '../../src/core/protocol';
import type { DumpOptions, GdbLink, HelperOperations, LaunchOptions, ProgramListener, RestoreOptions } from '../../src/core/session';
import type { HelperChannel, Target } from '../../src/core/target';
import type { SessionProvider } from '../../src/debug/liveSession';

export type Operation = 'ps' | 'freeze' | 'thaw' | 'dump' | 'leaks' | 'restore' | 'list' | 'remove' | 'rename' | 'kill' | 'launch' | 'imageFiles' | 'readImage' | 'core' | 'gdbStart';

interface FakeProcess {
	pid: number;
	ppid: number;
	comm: string;
	cmdline: string[];
	threads: number[];
	threadNames: string[];
	/** What it shares with processes outside its tree. */
	leaks: pb.ILeak[];
}

interface StoredCheckpoint {
	checkpoint: pb.Checkpoint;
	/** The tree as it was dumped: what a restore brings back. */
	processes: FakeProcess[];
	files: Map<string, Buffer>;
}

interface Fault {
	error: CheckpointError;
	/** A restore's fault comes after it killed the running tree (CRIU failed half-way), not before. */
	treeKilled: boolean;
}

/** Where the helper on the fake host runs: it has no files to read (frames stay unnamed) but the ones a test puts there. */
class FakeTarget implements Target {
	/** Files readFile reads, by path. */
	readonly files = new Map<string, Buffer>();

	constructor(readonly description: string) {}

	async startHelper(): Promise<HelperChannel> {
		throw new CheckpointError('helper-missing', 'the fake target starts no helper');
	}

	async imageSource(dir: string): Promise<ImageSource> {
		throw new CheckpointError('not-found', `${this.description}: there is no ${dir}`);
	}

	async readFile(path: string): Promise<Buffer> {
		const file = this.files.get(path);
		if (!file) throw new CheckpointError('not-found', `${this.description}: there is no ${path}`);
		return file;
	}

	async close(): Promise<void> {}
}

const progress = (stage: string, message: string): pb.Progress => pb.Progress.create({ stage, message });
const noSuchProcess = (pid: number): CheckpointError => new CheckpointError('no-such-process', `process ${pid} does not exist`);

/** What the fake helper says of gdb: it has none. */
export const FAKE_NO_GDB = 'gdb was not found on this fake host; install gdb 14 or newer on the target (apt-get install gdb)';

export class FakeHelper implements HelperOperations {
	readonly target: FakeTarget;
	/** Every operation asked for, in order ("freeze 100"): what a test says the layer above did. */
	readonly calls: string[] = [];
	private readonly processes = new Map<number, FakeProcess>();
	/** The roots of the trees this helper froze (one cgroup each). */
	private readonly frozenRoots = new Set<number>();
	private readonly launched = new Set<number>();
	private readonly store = new Map<string, StoredCheckpoint>();
	private readonly faults = new Map<Operation, Fault[]>();
	/** Restores asked lazily are lazy (as on a target with CRIU's lazy pages); their ends wait for endLazy. */
	lazyPages = false;
	/** ...and end at once, before the restore is answered. */
	lazyEndsAtOnce = false;
	private readonly lazyEnds = new Map<string, (end: pb.LazyRestoreEnd) => void>();
	private readonly holds = new Map<Operation, Promise<void>>();
	private readonly listeners = new Set<ProgramListener>();
	private closed?: CheckpointError;
	private nextPid = 100;
	private nextCheckpoint = 1;
	private clock = Date.UTC(2025, 0, 1);
	/** gdb on the fake host, once a test gives it one: what gdbStart starts. */
	private gdb?: () => GdbLink;

	constructor(description = 'root@fake:22') {
		this.target = new FakeTarget(description);
	}

	// ---- the host, as a test sets it up and looks at it ---------------------------

	/** Starts a process (with threads named after `threads`); its pid. Pids go up by ten, threads take the ones between. */
	spawn(comm: string, options: { parent?: number; threads?: string[]; leaks?: pb.ILeak[]; cmdline?: string[] } = {}): number {
		const pid = this.nextPid;
		this.nextPid += 10;
		const names = [comm, ...(options.threads ?? [])];
		this.processes.set(pid, {
			pid, ppid: options.parent ?? 1, comm, cmdline: options.cmdline ?? [`/usr/bin/${comm}`], threads: names.map((_, i) => pid + i), threadNames: names, leaks: options.leaks ?? [],
		});
		return pid;
	}

	isAlive(pid: number): boolean {
		return this.processes.has(pid);
	}

	isFrozen(pid: number): boolean {
		return [...this.frozenRoots].some((root) => this.processes.has(root) && this.treeOf(root).some((p) => p.pid === pid));
	}

	/** The store as it is, oldest first (not an operation: it is not in `calls`). */
	get checkpoints(): pb.Checkpoint[] {
		return [...this.store.values()].map((s) => s.checkpoint);
	}

	/** A checkpoint directory whose manifest cannot be read, listed as the helper lists one (root pid 0, why). */
	addDamaged(id: string, why: string): void {
		const checkpoint = pb.Checkpoint.create({ id, name: '', path: `/var/lib/checkpoint-debugger/checkpoints/${id}`, damaged: why });
		this.store.set(id, { checkpoint, processes: [], files: new Map() });
	}

	/** A checkpoint's image files (CRIU's output), for reads through imageFiles and readImage. */
	addImages(id: string, files: Record<string, Buffer>): void {
		this.find(id).files = new Map(Object.entries(files));
	}

	/** The next call of `op` fails with `error` (a dump after its leak scan; a restore before it kills anything, or after). */
	failNext(op: Operation, error: CheckpointError, options: { treeKilled?: boolean } = {}): void {
		this.faults.set(op, [...(this.faults.get(op) ?? []), { error, treeKilled: options.treeKilled ?? false }]);
	}

	/** The next call of `op` waits until the returned function is called (CRIU at work, a slow host). */
	hold(op: Operation): () => void {
		let release = (): void => undefined;
		this.holds.set(op, new Promise<void>((resolve) => { release = resolve; }));
		return () => release();
	}

	/** A launched program writes. */
	write(rootPid: number, stream: 'stdout' | 'stderr', text: string): void {
		for (const listener of this.listeners) listener({ kind: 'output', rootPid, stream, data: Buffer.from(text) });
	}

	/** The tree ends on its own (its root exits); a launched program's end is an event. */
	exit(rootPid: number, code: number): void {
		this.removeTree(rootPid);
		if (this.launched.delete(rootPid)) this.tellExit(rootPid, code, null);
	}

	/** The connection drops: every call fails from now on; the helper, its stdin closed, thaws what it froze and kills what it launched. */
	drop(reason = 'Connection reset by peer'): void {
		this.closed = new CheckpointError('helper-exited', `the helper on ${this.target.description} was killed by SIGHUP: ${reason}`);
		this.frozenRoots.clear();
		for (const root of this.launched) this.removeTree(root);
		this.launched.clear();
	}

	// ---- the operations ---------------------------------------------------------------

	async ps(rootPid = 0): Promise<pb.ProcessInfo[]> {
		await this.enter('ps', rootPid);
		const processes = rootPid ? this.treeOf(rootPid) : [...this.processes.values()];
		return processes.map((p) => this.processInfo(p));
	}

	async freeze(rootPid: number, options: { exceptPids?: number[] } = {}): Promise<pb.FreezeResult> {
		await this.enter('freeze', rootPid);
		const pids = this.treeOf(rootPid).map((p) => p.pid).filter((pid) => !options.exceptPids?.includes(pid));
		this.frozenRoots.add(rootPid);
		return pb.FreezeResult.create({ rootPid, state: pb.TreeState.TREE_STATE_FROZEN, pids });
	}

	/** Thawing a tree this helper did not freeze is a no-op: it runs. */
	async thaw(rootPid: number): Promise<pb.ThawResult> {
		await this.enter('thaw', rootPid);
		if (!this.frozenRoots.delete(rootPid) && !this.processes.has(rootPid)) throw noSuchProcess(rootPid);
		return pb.ThawResult.create({ rootPid, state: pb.TreeState.TREE_STATE_RUNNING });
	}

	async dump(rootPid: number, options: DumpOptions = {}): Promise<pb.Checkpoint> {
		await this.enter('dump', rootPid);
		const tree = this.treeOf(rootPid);
		options.onProgress?.(progress('leak-scan', `scanning the tree of process ${rootPid} for leaks`));
		const leaks = this.scan(tree, options.policy ?? []);
		const failing = leaks.filter((l) => l.policy === pb.LeakPolicy.LEAK_POLICY_FAIL);
		if (failing.length) {
			throw new CheckpointError('leaks-refused', `the tree of process ${rootPid} shares ${failing.map(leakName).join(', ')} with processes outside it and the leak policy is fail; nothing was frozen or written`, undefined, undefined, failing);
		}
		options.onProgress?.(progress('dumping', `CRIU is checkpointing the tree of process ${rootPid}`));
		// CRIU failed: the tree stays as it was (running, or frozen), the partial directory is removed.
		this.throwFault('dump');
		const checkpoint = this.keep(tree, options, leaks);
		if (!options.leaveRunning) this.removeTree(rootPid);
		return checkpoint;
	}

	/** The host gets a gdb (hello says so): gdbStart gives what start() makes. */
	installGdb(start: () => GdbLink): void {
		this.gdb = start;
	}

	/** A host without gdb (until installGdb): sessions run without source-level debugging, as the real helper says. */
	async hello(): Promise<pb.HelloResult> {
		if (this.gdb) return pb.HelloResult.create({ helperVersion: 'fake', criuVersion: '4.1.1', gdbVersion: '16.3', gdbPath: '/usr/bin/gdb' });
		return pb.HelloResult.create({ helperVersion: 'fake', criuVersion: '4.1.1', gdbProblem: FAKE_NO_GDB });
	}

	async gdbStart(): Promise<GdbLink> {
		if (!this.gdb) throw new CheckpointError('not-found', FAKE_NO_GDB);
		await this.enter('gdbStart');
		return this.gdb();
	}

	/** An ELF core of a process of a checkpoint, "written" in its directory (the program: the process's argv[0]). */
	async core(checkpointId: string, pid = 0): Promise<pb.CoreResult> {
		await this.enter('core', `${checkpointId} ${pid}`);
		const stored = this.find(checkpointId);
		const process = stored.processes.find((p) => p.pid === (pid || stored.checkpoint.rootPid));
		if (!process) throw new CheckpointError('not-found', `checkpoint ${checkpointId} has no process ${pid}`);
		const file = `core-${process.pid}.elf`;
		return pb.CoreResult.create({
			checkpointId, pid: process.pid, file, path: `${stored.checkpoint.path}/${file}`, executable: process.cmdline[0] ?? '', threads: process.threads.length, sizeBytes: 4096 * 10,
		});
	}

	async leaks(rootPid: number, policy: readonly pb.ILeakRule[] = []): Promise<pb.LeaksResult> {
		await this.enter('leaks', rootPid);
		const tree = this.treeOf(rootPid);
		return pb.LeaksResult.create({ leaks: this.scan(tree, policy), stats: this.scanStats(tree) });
	}

	async restore(checkpointId: string, options: RestoreOptions = {}): Promise<pb.RestoreResult> {
		await this.enter('restore', checkpointId);
		const stored = this.find(checkpointId);
		const pids = stored.processes.map((p) => p.pid);
		const inUse = pids.filter((pid) => this.processes.has(pid));
		if (inUse.length && !options.killRunning) throw new CheckpointError('pid-in-use', `pids ${inUse.join(', ')} are in use; nothing was killed`);
		const fault = this.faults.get('restore')?.shift();
		if (fault && !fault.treeKilled) throw fault.error;
		options.onProgress?.(progress('killing', `killing the tree of process ${stored.checkpoint.rootPid}`));
		for (const pid of inUse) this.removeTree(pid);
		if (fault) throw fault.error;
		options.onProgress?.(progress('restoring', `CRIU is restoring checkpoint ${checkpointId}`));
		for (const p of stored.processes) this.processes.set(p.pid, { ...p });
		if (options.frozen) this.frozenRoots.add(stored.checkpoint.rootPid);
		const lazy = this.lazyPages && (options.lazy ?? true);
		if (lazy && options.onLazyEnd) this.lazyEnds.set(checkpointId, options.onLazyEnd);
		// a quick daemon: the end comes before the restore's answer (the session's listener hears it first)
		if (lazy && this.lazyEndsAtOnce) queueMicrotask(() => this.endLazy(checkpointId, true));
		return pb.RestoreResult.create({ rootPid: stored.checkpoint.rootPid, pids, killedPids: inUse, frozen: options.frozen ?? false, lazy });
	}

	/** Ends the lazy restore of checkpointId: every page in, or (ok false) its daemon failed and the restored tree is killed. */
	endLazy(checkpointId: string, ok: boolean): void {
		const tell = this.lazyEnds.get(checkpointId);
		if (!tell) throw new Error(`no lazy restore of ${checkpointId} under way`);
		this.lazyEnds.delete(checkpointId);
		const rootPid = this.find(checkpointId).checkpoint.rootPid;
		const killedPids = ok ? [] : this.treeOf(rootPid).map((p) => p.pid);
		if (!ok) this.removeTree(rootPid);
		tell(pb.LazyRestoreEnd.create({
			checkpointId, rootPid, ok, killedPids, wallTimeUs: 420_000, logPath: `/store/.logs/${checkpointId}/lazy-pages.log`,
			message: ok ? '' : `CRIU's lazy-pages daemon was killed by signal 9 (Killed) before every page of checkpoint ${checkpointId} was copied in; the restored processes were killed (${killedPids.length} of them)`,
		}));
	}

	async list(): Promise<pb.Checkpoint[]> {
		await this.enter('list');
		return this.checkpoints;
	}

	/** Those standing on the deleted checkpoint take in what it held (its size) and stand on its parent; their manifests say so. */
	async remove(checkpointId: string): Promise<void> {
		await this.enter('remove', checkpointId);
		const gone = this.find(checkpointId).checkpoint;
		this.store.delete(checkpointId);
		for (const child of this.store.values()) {
			if (child.checkpoint.parent !== checkpointId) continue;
			child.checkpoint = pb.Checkpoint.create({ ...child.checkpoint, parent: gone.parent, sizeBytes: child.checkpoint.sizeBytes + gone.sizeBytes });
		}
	}

	async rename(checkpointId: string, name: string): Promise<pb.Checkpoint> {
		await this.enter('rename', checkpointId);
		const stored = this.find(checkpointId);
		stored.checkpoint = pb.Checkpoint.create({ ...stored.checkpoint, name });
		return stored.checkpoint;
	}

	async kill(rootPid: number): Promise<pb.KillResult> {
		await this.enter('kill', rootPid);
		const killedPids = this.treeOf(rootPid).map((p) => p.pid);
		this.removeTree(rootPid);
		if (this.launched.delete(rootPid)) this.tellExit(rootPid, null, 9);
		return pb.KillResult.create({ rootPid, killedPids });
	}

	async launch(program: string, options: LaunchOptions = {}): Promise<pb.LaunchResult> {
		await this.enter('launch', program);
		const rootPid = this.spawn(program.split('/').pop() ?? program, { cmdline: [program, ...(options.args ?? [])] });
		this.launched.add(rootPid);
		return pb.LaunchResult.create({ rootPid });
	}

	onProgramEvent(listener: ProgramListener): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	async imageFiles(checkpointId: string): Promise<pb.ImageFilesResult> {
		await this.enter('imageFiles', checkpointId);
		const stored = this.find(checkpointId);
		const files = [...stored.files].map(([name, data]) => pb.ImageFile.create({ name, size: data.length }));
		// as the helper: the parent only when it is a checkpoint of the store
		const parent = stored.checkpoint.parent;
		return pb.ImageFilesResult.create({ files, parentId: this.store.has(parent) ? parent : '' });
	}

	async readImage(checkpointId: string, ranges: pb.IByteRange[]): Promise<Uint8Array[]> {
		await this.enter('readImage', checkpointId);
		const files = this.find(checkpointId).files;
		return ranges.map((r) => {
			const offset = Number(r.offset ?? 0);
			return (files.get(r.file ?? '') ?? Buffer.alloc(0)).subarray(offset, offset + (r.length ?? 0));
		});
	}

	// ---- the model ----------------------------------------------------------------------

	/** Every call: said in `calls`; refused once the connection is gone; held or failed when a test says so. */
	private async enter(op: Operation, subject?: string | number): Promise<void> {
		this.calls.push(subject === undefined ? op : `${op} ${subject}`);
		const held = this.holds.get(op);
		this.holds.delete(op);
		await held;
		if (this.closed) throw this.closed;
		if (op !== 'dump' && op !== 'restore') this.throwFault(op);
	}

	private throwFault(op: Operation): void {
		const fault = this.faults.get(op)?.shift();
		if (fault) throw fault.error;
	}

	/** The tree rooted at `root`, root first, breadth first; refused when the root is not there. */
	private treeOf(root: number): FakeProcess[] {
		const top = this.processes.get(root);
		if (!top) throw noSuchProcess(root);
		const tree = [top];
		for (let i = 0; i < tree.length; i++) tree.push(...[...this.processes.values()].filter((p) => p.ppid === tree[i].pid));
		return tree;
	}

	private processInfo(p: FakeProcess): pb.ProcessInfo {
		return pb.ProcessInfo.create({
			pid: p.pid, ppid: p.ppid, pgid: p.pid, sid: p.pid, comm: p.comm, cmdline: p.cmdline, state: 'S', threads: p.threads, threadNames: p.threadNames, frozen: this.isFrozen(p.pid),
		});
	}

	/** Each leak of the tree with the policy the rules give it (a resource's rule before its kind's; one it cannot take leaves the default). */
	private scan(tree: FakeProcess[], rules: readonly pb.ILeakRule[]): pb.Leak[] {
		return tree.flatMap((p) => p.leaks).map((leak) => {
			const rule = rules.find((r) => r.kind === leak.kind && r.resource && r.resource === leak.resource) ?? rules.find((r) => r.kind === leak.kind && !r.resource);
			const possible = rule?.policy !== undefined && rule.policy !== null && (leak.choices ?? []).some((c) => c.policy === rule.policy);
			return pb.Leak.create({ ...leak, policy: possible ? rule?.policy : leak.defaultPolicy });
		});
	}

	private scanStats(tree: FakeProcess[]): pb.LeakScanStats {
		return pb.LeakScanStats.create({ processes: this.processes.size, treeProcesses: tree.length, descriptors: 3 * this.processes.size, scanTimeUs: 1500 });
	}

	private keep(tree: FakeProcess[], options: DumpOptions, leaks: pb.Leak[]): pb.Checkpoint {
		const id = `ck-${this.nextCheckpoint++}`;
		this.clock += 60_000;
		const parent = options.selfContained ? undefined : [...this.store.values()].reverse().find((s) => s.checkpoint.rootPid === tree[0].pid)?.checkpoint;
		const pages = 300 * tree.length;
		const sharing = parent ? pb.PageSharing.create({ sharedPages: pages - pages / 6, ownPages: pages / 6, timeUs: 900 }) : undefined;
		const checkpoint = pb.Checkpoint.create({
			id, name: options.name ?? '', createdUnixMs: this.clock, rootPid: tree[0].pid, leaveRunning: options.leaveRunning ?? false,
			processes: tree.map((p) => pb.CheckpointProcess.create({ pid: p.pid, ppid: p.ppid, comm: p.comm, cmdline: p.cmdline })),
			stats: pb.DumpStats.create({ frozenTimeUs: 42_000 }), path: `/var/lib/checkpoint-debugger/checkpoints/${id}`, sizeBytes: 4096 * (sharing?.ownPages ?? pages),
			parent: parent?.id ?? '', sharing,
			leaks: pb.LeakReport.create({ policy: (options.policy ?? []).map((r) => pb.LeakRule.create(r)), leaks, rescanned: true, stats: this.scanStats(tree) }),
			debuggerStop: options.debuggerStop ? pb.DebuggerStop.create(options.debuggerStop) : undefined,
		});
		this.store.set(id, { checkpoint, processes: tree.map((p) => ({ ...p })), files: new Map() });
		return checkpoint;
	}

	private find(id: string): StoredCheckpoint {
		const stored = this.store.get(id);
		if (!stored) throw new CheckpointError('not-found', `there is no checkpoint ${id} in the store`);
		return stored;
	}

	private removeTree(root: number): void {
		if (this.processes.has(root)) for (const p of this.treeOf(root)) this.removeProcess(p.pid);
	}

	private removeProcess(pid: number): void {
		this.processes.delete(pid);
		this.frozenRoots.delete(pid);
	}

	private tellExit(rootPid: number, code: number | null, signal: number | null): void {
		for (const listener of this.listeners) listener({ kind: 'exit', rootPid, code, signal });
	}
}

/** The SessionProvider a debug adapter gets: the fake helper for its target, counting what was taken and let go. */
export class FakeSessions implements SessionProvider {
	/** Sessions acquired and not released yet. */
	held = 0;

	constructor(private readonly helper: FakeHelper, private readonly target = 'fake') {}

	async acquire(target: string): Promise<HelperOperations> {
		if (target !== this.target) throw new CheckpointError('connection', `cannot connect to ${target}: no such host`);
		this.held++;
		return this.helper;
	}

	async release(session: HelperOperations): Promise<void> {
		if (session !== this.helper) throw new Error('released a session this provider did not give');
		this.held--;
	}
}
