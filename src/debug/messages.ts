/**
 * The adapter's own requests and events (beyond DAP), shared by the adapter
 * and the editor layer that sends and receives them.
 */
import type { TreeState } from '../core/debuggedTree';
import { checkpointInconsistent, changeText, leakName, leakReportBrief, leakReportSummary, warnedLeaks } from '../core/leaks';
import type { pb } from '../core/protocol';

export const CUSTOM = {
	takeCheckpoint: 'checkpoint/take',
	restoreCheckpoint: 'checkpoint/restore',
	listCheckpoints: 'checkpoint/list',
	deleteCheckpoint: 'checkpoint/delete',
	renameCheckpoint: 'checkpoint/rename',
	/** Calls off the checkpoint or restore under way, where it still can be (see DebuggedTree). */
	cancel: 'checkpoint/cancel',
	treeState: 'checkpoint/state',
	/** Kills the tree (after the user said so). */
	kill: 'checkpoint/kill',
	/** The tree's leaks with the session's policy applied. Answer: LeaksBody (reason "request"). */
	leaks: 'checkpoint/leaks',
	/**
	 * Replaces the session's `checkpoint.leakPolicy` layer (args: { setting }) for
	 * the next checkpoints; the launch configuration's `leakPolicy` still wins.
	 * A bad setting is refused and the policy stays as it was. Answer: { policy }.
	 */
	setLeakPolicy: 'checkpoint/setLeakPolicy',
	/** Event: Terminate was asked for an attached tree: the editor asks the user, then sends kill or disconnects. Body: { rootPid }. */
	confirmKillEvent: 'checkpoint/confirmKill',
	/** Event: the tree's state changed. Body: StateEventBody. */
	stateEvent: 'checkpoint/stateChanged',
	/** Event: checkpoints were taken or deleted. */
	checkpointsEvent: 'checkpoint/checkpointsChanged',
	/** Event: a long operation's stage. Body: { stage, message }. */
	progressEvent: 'checkpoint/progress',
	/**
	 * Event: the tree's leaks as a checkpoint found them (before its dump), after
	 * a restore, or with a refusal (sent before the refused request's answer).
	 * Body: LeaksBody.
	 */
	leaksEvent: 'checkpoint/leaksScanned',
} as const;

/**
 * How a restore's failure starts when TCP connections it would bring back
 * carried data since the checkpoint: the editor then offers to restore them
 * closed (the restore request's tcpClose).
 */
export const CONNECTIONS_MOVED_ON = 'Restore not started (connections moved on): ';

export function isMovedOnMessage(message: string): boolean {
	return message.startsWith(CONNECTIONS_MOVED_ON);
}

/** Such a failure as a headline (its first sentence: which connections) and the rest. */
export function movedOnParts(message: string): { headline: string; rest: string } {
	const text = message.slice(CONNECTIONS_MOVED_ON.length);
	const end = text.indexOf('. ');
	const first = end < 0 ? text : text.slice(0, end + 1);
	return { headline: `Restore not started: ${first.charAt(0).toLowerCase()}${first.slice(1)}`, rest: end < 0 ? '' : text.slice(end + 2) };
}

export interface StateEventBody {
	state: TreeState;
	rootPid: number;
	/** The target as people read it: user@host:port. */
	target: string;
}

/** A checkpoint as the editor lists it (plain JSON: it crosses DAP). */
export interface CheckpointSummary {
	id: string;
	name: string;
	/** Milliseconds since the epoch. */
	created: number;
	rootPid: number;
	processes: number;
	sizeBytes: number;
	/** How long the tree was frozen for the dump, when CRIU said. */
	frozenMs?: number;
	path: string;
	/** What the tree shared with the outside at the dump; absent for checkpoints made before leaks were scanned. */
	leaks?: CheckpointLeaks;
}

/** A checkpoint's leak report, in words. */
export interface CheckpointLeaks {
	/** "none", "2 warned", "1 warned, inconsistent". */
	brief: string;
	/** "1 leak: 1 warned; consistent". */
	summary: string;
	/** The tree's sharing changed while it was dumped: the checkpoint may hold a state the tree never had. */
	inconsistent: boolean;
	/** Each change of the second scan, in words. */
	changes: string[];
	/** The leaks the policy warned about ("pipe pipe:[1234]"). */
	warned: string[];
}

export function checkpointLeaks(c: pb.ICheckpoint): CheckpointLeaks | undefined {
	const report = c.leaks;
	if (!report) return undefined;
	return {
		brief: leakReportBrief(report),
		summary: leakReportSummary(report),
		inconsistent: checkpointInconsistent(c),
		changes: (report.changes ?? []).map(changeText),
		warned: warnedLeaks(report).map(leakName),
	};
}

export function checkpointSummary(c: pb.Checkpoint): CheckpointSummary {
	return {
		id: c.id,
		name: c.name,
		created: Number(c.createdUnixMs),
		rootPid: c.rootPid,
		processes: c.processes.length,
		sizeBytes: Number(c.sizeBytes),
		frozenMs: c.stats ? Number(c.stats.frozenTimeUs) / 1000 : undefined,
		path: c.path,
		leaks: checkpointLeaks(c),
	};
}
