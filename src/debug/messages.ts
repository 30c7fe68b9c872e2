/**
 * The adapter's own requests and events (beyond DAP), shared by the adapter
 * and the editor layer that sends and receives them.
 */
import type { TreeState } from '../core/debuggedTree';
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
	/** Event: Terminate was asked for an attached tree: the editor asks the user, then sends kill or disconnects. Body: { rootPid }. */
	confirmKillEvent: 'checkpoint/confirmKill',
	/** Event: the tree's state changed. Body: StateEventBody. */
	stateEvent: 'checkpoint/stateChanged',
	/** Event: checkpoints were taken or deleted. */
	checkpointsEvent: 'checkpoint/checkpointsChanged',
	/** Event: a long operation's stage. Body: { stage, message }. */
	progressEvent: 'checkpoint/progress',
} as const;

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
	};
}
