/**
 * The "checkpoint" debug type in VS Code: the adapters run inline in the
 * extension host; configurations get a target and a process picked when
 * they do not say; checkpoint snapshots open as sessions of their own.
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { pb } from '../core/protocol';
import { sessionRules, SETTING_WHERE } from '../debug/leakPolicy';
import { LiveDebugSession } from '../debug/liveSession';
import { CUSTOM, type CheckpointSummary } from '../debug/messages';
import { SnapshotDebugSession } from '../debug/snapshotSession';
import type { Connections } from './connections';
import { customRequest } from './customDap';
import { printable, printableCommandLine } from '../core/systemText';

export const DEBUG_TYPE = 'checkpoint';

/** A snapshot configuration opens a checkpoint; everything else is a live session. */
export function isSnapshotConfiguration(c: vscode.DebugConfiguration): boolean {
	return c.request === 'launch' && typeof c.checkpoint === 'string';
}

export class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
	constructor(private readonly connections: Connections) {}

	createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
		const adapter = isSnapshotConfiguration(session.configuration) ? new SnapshotDebugSession(this.connections) : new LiveDebugSession(this.connections);
		return new vscode.DebugAdapterInlineImplementation(adapter);
	}
}

export class ConfigurationProvider implements vscode.DebugConfigurationProvider {
	constructor(private readonly connections: Connections) {}

	provideDebugConfigurations(): vscode.DebugConfiguration[] {
		return [{ type: DEBUG_TYPE, request: 'attach', name: 'Checkpoint: Attach to Process', target: this.connections.catalog.entries()[0]?.name ?? 'ssh://root@HOST:22', pid: '${command:checkpoint.pickProcess}' }];
	}

	/** F5 with no launch.json, or a configuration without a target: ask. */
	async resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, c: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
		if (!c.type && !c.request) Object.assign(c, { type: DEBUG_TYPE, request: 'attach', name: 'Checkpoint: Attach to Process' });
		if (isSnapshotConfiguration(c)) return c;
		if (!(await withLeakPolicy(_folder, c))) return undefined;
		const settings = vscode.workspace.getConfiguration('checkpoint', _folder?.uri);
		c.lazyRestore ??= settings.get<boolean>('lazyRestore') ?? true;
		c.sharePages ??= settings.get<boolean>('sharePages') ?? true;
		if (!c.target) {
			const target = await pickTarget(this.connections);
			if (!target) return undefined;
			c.target = target;
		}
		if (c.request === 'attach' && c.pid === undefined && !c.processName) {
			const pid = await pickProcess(this.connections, c.target as string);
			if (!pid) return undefined;
			c.pid = pid;
		}
		return c;
	}
}

/**
 * Hands the adapter the `checkpoint.leakPolicy` setting beside the
 * configuration's own `leakPolicy` (the adapter merges them, the
 * configuration's winning, and gets the setting again when it changes).
 * A bad key or value in either stops the launch here, with what to fix and
 * a button to the place to fix it.
 */
async function withLeakPolicy(folder: vscode.WorkspaceFolder | undefined, c: vscode.DebugConfiguration): Promise<boolean> {
	const setting = vscode.workspace.getConfiguration('checkpoint', folder?.uri).get<unknown>('leakPolicy') ?? {};
	try {
		sessionRules(setting, c.leakPolicy);
	} catch (err) {
		const message = errorMessage(err);
		const inSetting = message.startsWith(SETTING_WHERE);
		const fix = inSetting ? 'Open Settings' : 'Open launch.json';
		const answer = await vscode.window.showErrorMessage(`Checkpoint: cannot start "${c.name}": ${message}`, fix);
		if (answer === fix && inSetting) await vscode.commands.executeCommand('workbench.action.openSettings', 'checkpoint.leakPolicy');
		else if (answer === fix) await vscode.commands.executeCommand('workbench.action.debug.configure');
		return false;
	}
	c.leakPolicySetting = setting;
	return true;
}

export async function pickTarget(connections: Connections): Promise<string | undefined> {
	const items = connections.catalog.entries().map((e) => ({ label: e.name, description: e.source === 'local' ? undefined : e.detail }));
	const picked = await vscode.window.showQuickPick(items, { title: 'Checkpoint: pick a target host', placeHolder: 'Hosts from the checkpoint.targets setting and ~/.ssh/config' });
	return picked?.label;
}

/**
 * The process picker (also `${command:checkpoint.pickProcess}` in launch.json): returns the pid as a string.
 * The host is asked for when `target` is not given.
 */
export async function pickProcess(connections: Connections, target?: string): Promise<string | undefined> {
	const host = target ?? (await pickTarget(connections));
	if (!host) return undefined;
	const session = await connections.acquire(host);
	let processes: pb.ProcessInfo[];
	try {
		processes = await session.ps();
	} finally {
		await connections.release(session);
	}
	const items = processes.map((p) => ({ label: `${p.pid} ${printable(p.comm)}`, description: printableCommandLine(p.cmdline), detail: `uid ${p.uid}, ${p.threads.length || 1} threads${p.frozen ? ', frozen' : ''}`, pid: p.pid }));
	const picked = await vscode.window.showQuickPick(items, { title: `Checkpoint: attach to a process on ${host}`, matchOnDescription: true, placeHolder: 'Type to filter by pid, name or command line' });
	return picked ? String(picked.pid) : undefined;
}

const isLive = (s: vscode.DebugSession | undefined): boolean => !!s && s.type === DEBUG_TYPE && !isSnapshotConfiguration(s.configuration);

/** Live checkpoint sessions running now, latest last (kept by the extension's session events). */
export const liveSessions: vscode.DebugSession[] = [];

const liveSessionEnded = new vscode.EventEmitter<vscode.DebugSession>();
/** A live checkpoint session ended; liveSessions (and so activeLiveSession) has let it go already. */
export const onDidEndLiveSession = liveSessionEnded.event;

/**
 * The live checkpoint session the user means: the active one; with a
 * snapshot active, the session it was opened from; else the latest one.
 */
export function activeLiveSession(): vscode.DebugSession | undefined {
	const active = vscode.debug.activeDebugSession;
	if (active && isLive(active)) return active;
	const parent = active?.parentSession;
	if (parent && isLive(parent)) return parent;
	return liveSessions[liveSessions.length - 1];
}

/** Keeps liveSessions and the "checkpoint.liveSession" context key (views and toolbar buttons) up to date. */
export function trackLiveSessions(): vscode.Disposable[] {
	const update = (): Thenable<unknown> => vscode.commands.executeCommand('setContext', 'checkpoint.liveSession', liveSessions.length > 0);
	return [
		vscode.debug.onDidStartDebugSession((s) => {
			if (!isLive(s)) return;
			liveSessions.push(s);
			void update();
		}),
		vscode.debug.onDidTerminateDebugSession((s) => {
			if (!isLive(s)) return;
			const at = liveSessions.indexOf(s);
			if (at >= 0) {
				liveSessions.splice(at, 1);
				void update();
			}
			liveSessionEnded.fire(s);
		}),
	];
}

/**
 * Calls `redraw` when the live session the user means changes, not on every
 * change of the active session (a redraw under the pointer would swallow a
 * click on a row), and when a live session ends (`ended`).
 */
export function onShownLiveSessionChanged(redraw: (ended?: vscode.DebugSession) => void): vscode.Disposable[] {
	let shown: vscode.DebugSession | undefined;
	return [
		vscode.debug.onDidChangeActiveDebugSession(() => {
			if (activeLiveSession() === shown) return;
			shown = activeLiveSession();
			redraw();
		}),
		onDidEndLiveSession((ended) => {
			shown = activeLiveSession();
			redraw(ended);
		}),
	];
}

/** Opens a checkpoint as a read-only snapshot session (child of the live session when there is one). */
export async function openSnapshot(checkpoint: CheckpointSummary, target: string | undefined, parent?: vscode.DebugSession): Promise<boolean> {
	const name = `Snapshot ${checkpoint.name || checkpoint.id}`;
	// the live session's sourceMap opens the snapshot's sources here too
	const sourceMap: unknown = parent?.configuration.sourceMap;
	const configuration: vscode.DebugConfiguration = target
		? { type: DEBUG_TYPE, request: 'launch', name, target, checkpoint: checkpoint.id, ...(sourceMap ? { sourceMap } : {}) }
		: { type: DEBUG_TYPE, request: 'launch', name, checkpoint: checkpoint.path, ...(sourceMap ? { sourceMap } : {}) };
	return vscode.debug.startDebugging(parent?.workspaceFolder, configuration, { parentSession: parent, compact: false });
}

export async function listCheckpoints(session: vscode.DebugSession): Promise<CheckpointSummary[]> {
	return (await customRequest(session, CUSTOM.listCheckpoints, {})).checkpoints;
}
