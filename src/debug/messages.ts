/**
 * The adapter's own requests and events (beyond DAP): one typed contract,
 * shared by the adapter (which checks the args it gets at run time and
 * answers through CustomRequestHandlers) and the editor layer (which sends
 * and listens through src/extension/customDap.ts), in the spirit of
 * vscode-js-debug's dapCustom.ts.
 */
import type { TreeState } from '../core/debuggedTree';
import { CheckpointError } from '../core/errors';
import { checkpointInconsistent, changeText, leakName, leakReportBrief, leakReportSummary, warnedLeaks } from '../core/leaks';
import type { pb } from '../core/protocol';
import { chainSize, checkpointsById } from '../core/sharing';
import type { LeaksBody, PolicySetting } from './leakPolicy';

/** The wire names of the adapter's own requests and events; what each takes and answers is in CustomRequests and CustomEvents. */
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
	/** The tree's leaks with the session's policy applied (reason "request"). */
	leaks: 'checkpoint/leaks',
	/**
	 * Replaces the session's `checkpoint.leakPolicy` layer for the next
	 * checkpoints; the launch configuration's `leakPolicy` still wins. A bad
	 * setting is refused and the policy stays as it was.
	 */
	setLeakPolicy: 'checkpoint/setLeakPolicy',
	/**
	 * gdb debugs another process of the tree (breakpoints, stepping, locals
	 * of that one); the session stays as it was: stopped (at where the
	 * process stands) or running.
	 */
	debugProcess: 'checkpoint/debugProcess',
	/** Event: Terminate was asked for an attached tree: the editor asks the user, then sends kill or disconnects. */
	confirmKillEvent: 'checkpoint/confirmKill',
	/** Event: the tree's state changed. */
	stateEvent: 'checkpoint/stateChanged',
	/** Event: checkpoints were taken, renamed or deleted. */
	checkpointsEvent: 'checkpoint/checkpointsChanged',
	/** Event: a long operation's stage. */
	progressEvent: 'checkpoint/progress',
	/**
	 * Event: the tree's leaks as a checkpoint found them (before its dump), after
	 * a restore, or with a refusal (sent before the refused request's answer).
	 */
	leaksEvent: 'checkpoint/leaksScanned',
} as const;

/** A request that takes nothing, or an event that says nothing but its name. */
export type Empty = Record<string, never>;

export interface TakeCheckpointArgs {
	/** Its name in the timeline; "" (or absent) for none. */
	name?: string;
}

/** tcpClose restores the checkpoint's TCP connections closed; saveCurrent overrides the session's saveBeforeRestore. */
export interface RestoreCheckpointArgs {
	id: string;
	saveCurrent?: boolean;
	tcpClose?: boolean;
	/** Restore and Pause: the restored tree stays stopped where the checkpoint was taken, even one taken running. */
	pause?: boolean;
}

export interface RestoreCheckpointBody {
	/** The restored tree's root (the same pid as the checkpoint's, CRIU restores pids). */
	rootPid: number;
	/** The restored tree stands stopped (Restore and Pause, or a checkpoint taken where a debugger held it); else it runs. */
	stopped?: boolean;
	/** The checkpoint of the state the restore replaced, unless asked not to take one. */
	saved?: CheckpointSummary;
}

export interface CheckpointIdArgs {
	id: string;
}

export interface RenameCheckpointArgs extends CheckpointIdArgs {
	/** "" clears the name. */
	name: string;
}

export interface SetLeakPolicyArgs {
	/** The setting as the editor reads it: checked by the adapter (sessionRules), which says what is wrong. */
	setting?: unknown;
}

export interface DebugProcessArgs {
	/** A process of the tree (a thread id names its process). */
	pid: number;
}

export interface DebugProcessBody {
	/** The process gdb debugs now. */
	pid: number;
}

export interface ProgressEventBody {
	stage: string;
	message: string;
}

/** Each custom request: what it takes (args) and what it answers (body). */
export interface CustomRequests {
	[CUSTOM.takeCheckpoint]: { args: TakeCheckpointArgs; body: { checkpoint: CheckpointSummary } };
	[CUSTOM.restoreCheckpoint]: { args: RestoreCheckpointArgs; body: RestoreCheckpointBody };
	[CUSTOM.listCheckpoints]: { args: Empty; body: { checkpoints: CheckpointSummary[] } };
	[CUSTOM.deleteCheckpoint]: { args: CheckpointIdArgs; body: void };
	[CUSTOM.renameCheckpoint]: { args: RenameCheckpointArgs; body: { checkpoint: CheckpointSummary } };
	[CUSTOM.cancel]: { args: Empty; body: void };
	[CUSTOM.treeState]: { args: Empty; body: { state: TreeState; rootPid: number } };
	[CUSTOM.kill]: { args: Empty; body: void };
	[CUSTOM.leaks]: { args: Empty; body: LeaksBody };
	[CUSTOM.setLeakPolicy]: { args: SetLeakPolicyArgs; body: { policy: PolicySetting } };
	[CUSTOM.debugProcess]: { args: DebugProcessArgs; body: DebugProcessBody };
}

export type CustomRequestName = keyof CustomRequests;
export type CustomArgs<K extends CustomRequestName> = CustomRequests[K]['args'];
export type CustomBody<K extends CustomRequestName> = CustomRequests[K]['body'];

/** Each custom event's body. */
export interface CustomEvents {
	[CUSTOM.confirmKillEvent]: { rootPid: number };
	[CUSTOM.stateEvent]: StateEventBody;
	[CUSTOM.checkpointsEvent]: Empty;
	[CUSTOM.progressEvent]: ProgressEventBody;
	[CUSTOM.leaksEvent]: LeaksBody;
}

export type CustomEventName = keyof CustomEvents;
export type CustomEventBody<K extends CustomEventName> = CustomEvents[K];

/** What the adapter does with each custom request: typed args in (already checked), its body out. */
export type CustomRequestHandlers = { readonly [K in CustomRequestName]: (args: CustomArgs<K>) => Promise<CustomBody<K>> };

/**
 * The run-time check of each request's args: they come from another process
 * (the editor, a test, anything that speaks DAP), whatever the types say.
 * Throws a CheckpointError ('usage') saying what is wrong.
 */
const ARGS_OF: { readonly [K in CustomRequestName]: (args: unknown) => CustomArgs<K> } = {
	[CUSTOM.takeCheckpoint]: (args) => ({ name: optional(args, 'name', 'string') ?? '' }),
	[CUSTOM.restoreCheckpoint]: (args) => ({
		id: checkpointId(args), saveCurrent: optional(args, 'saveCurrent', 'boolean'), tcpClose: optional(args, 'tcpClose', 'boolean'),
		pause: optional(args, 'pause', 'boolean'),
	}),
	[CUSTOM.listCheckpoints]: () => ({}),
	[CUSTOM.deleteCheckpoint]: (args) => ({ id: checkpointId(args) }),
	[CUSTOM.renameCheckpoint]: (args) => {
		const name = optional(args, 'name', 'string');
		if (name === undefined) throw new CheckpointError('usage', 'say the new name: "name" is missing');
		return { id: checkpointId(args), name };
	},
	[CUSTOM.cancel]: () => ({}),
	[CUSTOM.treeState]: () => ({}),
	[CUSTOM.kill]: () => ({}),
	[CUSTOM.leaks]: () => ({}),
	[CUSTOM.setLeakPolicy]: (args) => ({ setting: field(args, 'setting') }),
	[CUSTOM.debugProcess]: (args) => {
		const pid = optional(args, 'pid', 'number');
		if (pid === undefined || !Number.isInteger(pid) || pid <= 0) throw new CheckpointError('usage', 'say which process gdb should debug: "pid" is a process id of the tree');
		return { pid };
	},
};

export function isCustomRequest(command: string): command is CustomRequestName {
	return Object.hasOwn(ARGS_OF, command);
}

/** Checks the args of a custom request and hands them to its handler; a bad argument is a rejection in words. */
export async function runCustomRequest<K extends CustomRequestName>(handlers: CustomRequestHandlers, command: K, args: unknown): Promise<CustomBody<K>> {
	const checked = ARGS_OF[command](args);
	return handlers[command](checked);
}

/** args[key] when args is an object that has it (its own: not "constructor" and the like). */
function field(args: unknown, key: string): unknown {
	if (typeof args !== 'object' || args === null || !Object.hasOwn(args, key)) return undefined;
	return Reflect.get(args, key);
}

interface TypeNames {
	string: string;
	boolean: boolean;
	number: number;
}

/** args[key], which must be of type `type` when it is there. */
function optional<T extends keyof TypeNames>(args: unknown, key: string, type: T): TypeNames[T] | undefined {
	const value = field(args, key);
	if (value === undefined) return undefined;
	if (typeof value !== type) throw new CheckpointError('usage', `"${key}" must be a ${type}, not ${JSON.stringify(value)}`);
	// typeof said so; TypeScript does not carry a typeof of a generic name over to TypeNames.
	return value as TypeNames[T];
}

function checkpointId(args: unknown): string {
	const id = optional(args, 'id', 'string');
	if (!id) throw new CheckpointError('usage', 'say which checkpoint: "id" is missing');
	return id;
}

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
	/** Its own size on disk: its files, not the pages it reads from the checkpoints it stands on. */
	sizeBytes: number;
	/**
	 * sizeBytes and that of every checkpoint it stands on: what keeping it
	 * takes. Absent when one of them is not in the store's list (or the list was not at hand).
	 */
	sizeWithParentsBytes?: number;
	/** The checkpoint it reads its unchanged pages from (its name: "" when it has none or is not in the list). Absent: it holds every page. */
	parent?: { id: string; name: string };
	/** What sharing pages with the checkpoint before saved, as the dump found it. */
	sharing?: { sharedPages: number; ownPages: number };
	/** How long the tree was frozen for the dump, when CRIU said. */
	frozenMs?: number;
	/** Its manifest is the one written before the dump (the final one could not be): sizes and figures missing. */
	provisional?: boolean;
	/** Its manifest cannot be read (why, in words): it cannot be restored, only deleted. */
	damaged?: string;
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

/**
 * A checkpoint for the editor; with the store's list (all), its parent's
 * name and its size with the checkpoints it stands on.
 */
export function checkpointSummary(c: pb.Checkpoint, all: readonly pb.Checkpoint[] = []): CheckpointSummary {
	const byId = checkpointsById(all);
	return {
		id: c.id,
		name: c.name,
		created: Number(c.createdUnixMs),
		rootPid: c.rootPid,
		processes: c.processes.length,
		sizeBytes: Number(c.sizeBytes),
		sizeWithParentsBytes: all.length ? chainSize(c, byId).withParentsBytes : undefined,
		parent: c.parent ? { id: c.parent, name: byId.get(c.parent)?.name ?? '' } : undefined,
		sharing: c.sharing ? { sharedPages: c.sharing.sharedPages, ownPages: c.sharing.ownPages } : undefined,
		frozenMs: c.stats ? Number(c.stats.frozenTimeUs) / 1000 : undefined,
		...(c.provisional ? { provisional: true } : {}),
		...(c.damaged ? { damaged: c.damaged } : {}),
		path: c.path,
		leaks: checkpointLeaks(c),
	};
}
