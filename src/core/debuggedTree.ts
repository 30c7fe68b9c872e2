/**
 * A process tree under a checkpoint debugger: what the debug adapter, the
 * CLI or a test drives. It keeps the tree's state (running, frozen, busy
 * checkpointing or restoring), follows the tree across restores, and makes
 * sure nothing is lost on the way: a restore checkpoints the present first,
 * a failed checkpoint leaves the tree as it was, letting go thaws it.
 */
import { CheckpointError } from './errors';
import type { pb } from './protocol';
import type { HelperOperations, LaunchOptions, ProgressListener } from './session';

export type TreeState = 'running' | 'frozen' | 'checkpointing' | 'restoring' | 'gone';

export interface TreeTask {
	pid: number;
	tid: number;
	/** "1234/1236 worker": what a thread list shows. */
	name: string;
}

export interface RestoreOutcome {
	/** The checkpoint of the state that was replaced (unless asked not to take one). */
	saved?: pb.Checkpoint;
	restored: pb.RestoreResult;
}

export interface CheckpointOptions {
	onProgress?: ProgressListener;
	cancel?: AbortSignal;
	/** The tree is stopped in a debugger: where (the manifest keeps it). */
	debuggerStop?: pb.IDebuggerStop;
}

export interface TreeRestoreOptions {
	/** Checkpoint the present first (default true). */
	saveCurrent?: boolean;
	tcpClose?: boolean;
	/** The restored tree comes back frozen (it runs when thawed), for a debugger to take a process first. */
	frozen?: boolean;
	/** Where a debugger holds the present, for the checkpoint of it. */
	debuggerStop?: pb.IDebuggerStop;
	/** With CRIU's lazy pages where the target can (default true): the listener hears when every page is in. */
	lazy?: boolean;
	onProgress?: ProgressListener;
	cancel?: AbortSignal;
}

export interface TreeListener {
	/** The state changed; `rootPid` is the tree's root now (it changes when a restore gives new pids). */
	stateChanged?(state: TreeState, rootPid: number): void;
	checkpointsChanged?(): void;
	/** A lazy restore ended: every page is in, or its daemon failed and the restored tree was killed (then it is gone). */
	lazyRestoreEnded?(end: pb.LazyRestoreEnd): void;
}

/**
 * A failed restore's error, saying where things stand: a tree the restore
 * killed before it failed, and the checkpoint the present was saved as (the
 * user can go back to it either way).
 */
function failedRestoreError(err: unknown, saved: pb.Checkpoint | undefined, killed: boolean): unknown {
	if (!(err instanceof CheckpointError) || (!saved && !killed)) return err;
	const notes = [
		killed ? 'The running tree was killed before the restore failed; restore a checkpoint to bring it back' : '',
		saved ? `The present state was saved first, as checkpoint ${saved.id}` : '',
	].filter(Boolean);
	return new CheckpointError(err.kind, [err.message, ...notes].join('. '), err.criu, err.errno, err.leaks);
}

/** The name a checkpoint of the replaced state gets, so the timeline says why it is there. */
export function beforeRestoreName(target: pb.Checkpoint): string {
	return `before restore to ${target.name || target.id}`;
}

/** Whether process is the one called name: its command name, its program as given, or that program's file name. */
export function isNamed(process: pb.IProcessInfo, name: string): boolean {
	const program = process.cmdline?.[0];
	return process.comm === name || program === name || !!program?.endsWith(`/${name}`);
}

export class DebuggedTree {
	private stateNow: TreeState = 'running';
	/** Checkpoints taken from this tree, oldest first (ids): the session's timeline. */
	private readonly taken: string[] = [];
	/**
	 * How each leak is treated (docs/leaks.md): read by every checkpoint when
	 * it starts, so a change applies to the next one, the checkpoint a restore
	 * takes of the present included.
	 */
	policy: readonly pb.ILeakRule[] = [];
	/**
	 * Checkpoints share the pages they did not change with the previous one of
	 * the tree (the helper's default); false keeps every page in each, so
	 * each can be restored lazily (docs/incremental.md).
	 */
	sharePages = true;
	/** The processes a debugger holds (holdByDebugger). */
	private debugged: number[] = [];
	/** Restores so far: a lazy restore's end speaks of the tree of its own restore only. */
	private restoreGeneration = 0;
	/** A lazy restore's failure killed the tree while it was being checkpointed. */
	private lostPages = false;

	private constructor(
		readonly session: HelperOperations,
		private root: number,
		frozen: boolean,
		private readonly listener: TreeListener,
		/** Started by this debugger (its output comes through the helper; ending the session ends it). */
		readonly launched = false,
	) {
		this.stateNow = frozen ? 'frozen' : 'running';
	}

	/**
	 * Starts `program` on the target as a tree to debug. Subscribe to the
	 * session's program events first: the first output may come with the answer.
	 */
	static async launch(session: HelperOperations, program: string, options: LaunchOptions, listener: TreeListener = {}): Promise<DebuggedTree> {
		const { rootPid } = await session.launch(program, options);
		return new DebuggedTree(session, rootPid, false, listener, true);
	}

	/** Attaches to the tree rooted at `pid`; refuses a pid that is not there. */
	static async attach(session: HelperOperations, pid: number, listener: TreeListener = {}): Promise<DebuggedTree> {
		const tree = await session.ps(pid);
		const root = tree.find((p) => p.pid === pid);
		if (!root) throw new CheckpointError('no-such-process', `there is no process ${pid} on ${session.target.description}`);
		return new DebuggedTree(session, pid, root.frozen, listener);
	}

	/** The pid of the one process whose command name or command line matches `name`; refuses none or several. */
	static async findProcess(session: HelperOperations, name: string): Promise<number> {
		const all = await session.ps();
		const matches = all.filter((p) => isNamed(p, name));
		if (matches.length === 1) return matches[0].pid;
		if (matches.length === 0) throw new CheckpointError('no-such-process', `no process named "${name}" runs on ${session.target.description}; give "pid" instead, or check the name with "ckpt ps"`);
		const list = matches.slice(0, 10).map((p) => `${p.pid} ${p.cmdline.join(' ') || p.comm}`).join('; ');
		throw new CheckpointError('bad-request', `${matches.length} processes are named "${name}" (${list}); give "pid" to say which one`);
	}

	get rootPid(): number {
		return this.root;
	}

	get state(): TreeState {
		return this.stateNow;
	}

	/** Checkpoint ids taken from this tree in this session, oldest first. */
	get timeline(): readonly string[] {
		return this.taken;
	}

	/** The tree's processes now. */
	processes(): Promise<pb.ProcessInfo[]> {
		return this.session.ps(this.root);
	}

	/** What the tree shares with processes outside it, each leak with the policy a checkpoint would apply now. */
	leaks(): Promise<pb.LeaksResult> {
		return this.session.leaks(this.root, this.policy);
	}

	/** Every task of the tree (threads included), root first. */
	async tasks(): Promise<TreeTask[]> {
		const processes = await this.processes();
		return processes.flatMap((p) => (p.threads.length ? p.threads : [p.pid]).map((tid, i) => ({ pid: p.pid, tid, name: `${p.pid}/${tid} ${p.threadNames[i] || p.comm}` })));
	}

	/**
	 * The processes a debugger holds (gdb): left out of every freeze, since
	 * a frozen process cannot be reached by ptrace. A frozen tree lets them
	 * go at once, in a job-control stop: a debugger attaching may get hold of
	 * them only after they thawed, and they must not run meanwhile. Answers
	 * the pids let go of stopped (the debugger ends their stop).
	 */
	async holdByDebugger(pids: number[]): Promise<number[]> {
		this.debugged = [...pids];
		if (this.stateNow !== 'frozen') return [];
		const result = await this.session.freeze(this.root, { exceptPids: this.debugged, stopReleased: pids.length > 0 });
		return result.stoppedPids ?? [];
	}

	async freeze(): Promise<void> {
		this.expectIdle('pause');
		await this.session.freeze(this.root, { exceptPids: this.debugged });
		this.setState('frozen');
	}

	async thaw(): Promise<void> {
		this.expectIdle('continue');
		await this.session.thaw(this.root);
		this.setState('running');
	}

	/**
	 * Checkpoints the tree and leaves it as it was (a frozen tree stays
	 * frozen, a running one runs on). A failure leaves it as it was too; a
	 * leak whose policy is fail refuses it before anything is frozen
	 * (CheckpointError 'leaks-refused').
	 */
	async checkpoint(name = '', options: CheckpointOptions = {}): Promise<pb.Checkpoint> {
		const before = this.expectIdle('take a checkpoint');
		this.setState('checkpointing');
		try {
			const { onProgress, cancel, debuggerStop } = options;
			const checkpoint = await this.session.dump(this.root, {
				name, leaveRunning: true, onProgress, policy: [...this.policy], debuggerStop, selfContained: !this.sharePages,
			});
			if (cancel?.aborted) {
				await this.session.remove(checkpoint.id);
				throw new CheckpointError('cancelled', 'the checkpoint was cancelled: CRIU finished its dump (stopping it half-way could harm the program), and the checkpoint was not kept');
			}
			this.taken.push(checkpoint.id);
			this.listener.checkpointsChanged?.();
			return checkpoint;
		} finally {
			// a dump waits for a lazy restore's end: one that failed took the tree
			this.setState(this.lostPages ? 'gone' : before);
			this.lostPages = false;
		}
	}

	/**
	 * Replaces the tree with a checkpoint. Unless `saveCurrent` is false, the
	 * present is checkpointed first; if that fails nothing is replaced. The
	 * restored tree runs (or is frozen, when asked and the freeze worked);
	 * its root may have a new pid. A tree that is gone (a failed restore
	 * killed it) is brought back: there is nothing to save.
	 */
	async restore(checkpointId: string, options: TreeRestoreOptions = {}): Promise<RestoreOutcome> {
		const before = this.stateNow === 'gone' ? 'gone' : this.expectIdle('restore');
		const target = (await this.session.list()).find((c) => c.id === checkpointId);
		if (!target) throw new CheckpointError('not-found', `there is no checkpoint ${checkpointId} on ${this.session.target.description}`);
		let saved: pb.Checkpoint | undefined;
		if ((options.saveCurrent ?? true) && before !== 'gone') saved = await this.checkpoint(beforeRestoreName(target), { onProgress: options.onProgress, debuggerStop: options.debuggerStop });
		// The last moment a restore can be called off: nothing has been replaced yet.
		if (options.cancel?.aborted) {
			const kept = saved ? `; the current state stays, and is also saved as ${saved.id}` : '';
			throw new CheckpointError('cancelled', `the restore was cancelled before anything was replaced${kept}`);
		}
		this.setState('restoring');
		try {
			// an end that comes before the answer waits for the tree to be this one
			const generation = ++this.restoreGeneration;
			const early: pb.LazyRestoreEnd[] = [];
			let answered = false;
			const restored = await this.session.restore(checkpointId, {
				killRunning: true, tcpClose: options.tcpClose, frozen: options.frozen, lazy: options.lazy, onProgress: options.onProgress,
				onLazyEnd: (end) => (answered ? this.lazyEnded(end, generation) : early.push(end)),
			});
			this.root = restored.rootPid;
			// new processes: a debugger takes the ones it wants again
			this.debugged = [];
			this.setState(restored.frozen ? 'frozen' : 'running');
			answered = true;
			for (const end of early) this.lazyEnded(end, generation);
			return { saved, restored };
		} catch (err) {
			await this.settleAfterFailedRestore(before);
			throw failedRestoreError(err, saved, before !== 'gone' && this.stateNow === 'gone');
		}
	}

	/** The end of the lazy restore number generation: a later restore's tree is not the one it speaks of. */
	private lazyEnded(end: pb.LazyRestoreEnd, generation: number): void {
		// killed by the daemon's supervisor: its missing pages would have read as zeros
		if (generation === this.restoreGeneration && !end.ok && end.killedPids.includes(this.root)) {
			if (this.stateNow === 'checkpointing') this.lostPages = true;
			else this.setState('gone');
		}
		this.listener.lazyRestoreEnded?.(end);
	}

	/** The checkpoints of this tree in the store: taken in this session, or earlier from the same root pid. */
	async checkpoints(): Promise<pb.Checkpoint[]> {
		return (await this.checkpointsInStore()).mine;
	}

	/**
	 * The checkpoints of this tree (mine, as checkpoints()) and every
	 * checkpoint of the store (all: where theirs stand on). A damaged one
	 * (its manifest unreadable) says of no program whose it is: it is in
	 * every tree's, first, so that it is seen and can be deleted.
	 */
	async checkpointsInStore(): Promise<{ mine: pb.Checkpoint[]; all: pb.Checkpoint[] }> {
		const all = await this.session.list();
		const mine = all.filter((c) => this.taken.includes(c.id) || c.rootPid === this.root || c.damaged).sort((a, b) => Number(a.createdUnixMs) - Number(b.createdUnixMs));
		return { mine, all };
	}

	async renameCheckpoint(id: string, name: string): Promise<pb.Checkpoint> {
		const renamed = await this.session.rename(id, name);
		this.listener.checkpointsChanged?.();
		return renamed;
	}

	async deleteCheckpoint(id: string): Promise<void> {
		await this.session.remove(id);
		const at = this.taken.indexOf(id);
		if (at >= 0) this.taken.splice(at, 1);
		this.listener.checkpointsChanged?.();
	}

	/** Ends the tree (SIGKILL to every process, frozen or not). */
	async kill(): Promise<void> {
		this.expectIdle('terminate');
		await this.session.kill(this.root);
		this.setState('gone');
	}

	/** Lets go: a tree frozen here runs again. */
	async detach(): Promise<void> {
		if (this.stateNow === 'frozen') await this.session.thaw(this.root);
		this.setState('gone');
	}

	/**
	 * The helper refuses a restore before it kills anything when it can; if
	 * the tree is gone anyway, say so, and the saved checkpoint is still there.
	 */
	private async settleAfterFailedRestore(before: TreeState): Promise<void> {
		const alive = await this.session.ps(this.root).then((p) => p.some((x) => x.pid === this.root), () => false);
		this.setState(alive ? before : 'gone');
	}

	private expectIdle(what: string): TreeState {
		const s = this.stateNow;
		if (s === 'checkpointing' || s === 'restoring') throw new CheckpointError('bad-request', `cannot ${what} while ${s}: wait until it finishes`);
		if (s === 'gone') throw new CheckpointError('no-such-process', `cannot ${what}: the tree rooted at ${this.root} is gone (restore a checkpoint to bring it back)`);
		return s;
	}

	private setState(state: TreeState): void {
		if (state === this.stateNow) return;
		this.stateNow = state;
		this.listener.stateChanged?.(state, this.root);
	}
}
