/**
 * The VS Code layer: thin, over src/core and src/debug. Wires the views,
 * commands, the debug type and the status bar together; the work is done in
 * the modules it imports.
 */
import * as vscode from 'vscode';
import type { LeaksBody } from '../debug/leakPolicy';
import { CUSTOM, type StateEventBody } from '../debug/messages';
import { CheckpointCommands } from './commands';
import { CheckpointsView } from './checkpointsView';
import { Connections } from './connections';
import { activeLiveSession, AdapterFactory, ConfigurationProvider, DEBUG_TYPE, isSnapshotConfiguration, trackLiveSessions } from './debugging';
import { ImageView } from './imageView';
import { LeaksView } from './leaksView';
import { MEMORY_SCHEME, MemoryDocuments } from './memoryDocuments';
import { MemoryMapPanels } from './memoryMap';
import { TreeStatus } from './statusBar';
import { TargetsView } from './targetsView';

export function activate(context: vscode.ExtensionContext): void {
	const output = vscode.window.createOutputChannel('Checkpoint Debugger');
	const connections = new Connections(output);
	const targets = new TargetsView(connections);
	const checkpoints = new CheckpointsView();
	const image = new ImageView();
	const leaks = new LeaksView();
	const memory = new MemoryDocuments();
	const maps = new MemoryMapPanels(context.extensionUri, memory);
	const status = new TreeStatus();
	const configurations = new ConfigurationProvider(connections);
	let shown: vscode.DebugSession | undefined;
	/** Each live session's tree as it last said; the status bar shows the one of the session the user means. */
	const trees = new Map<vscode.DebugSession, StateEventBody>();
	const showStatus = (): void => {
		const session = activeLiveSession();
		const body = session && trees.get(session);
		if (body) status.show(body.target, body.rootPid, body.state);
		else status.hide();
	};
	const commands = new CheckpointCommands(connections, targets, checkpoints, image, memory, maps, leaks);
	const leaksTree = vscode.window.createTreeView('checkpoint.leaks', { treeDataProvider: leaks, showCollapseAll: true });
	leaks.attach(leaksTree);

	context.subscriptions.push(
		output, connections, status,
		vscode.window.createTreeView('checkpoint.targets', { treeDataProvider: targets, showCollapseAll: true }),
		vscode.window.createTreeView('checkpoint.checkpoints', { treeDataProvider: checkpoints }),
		vscode.window.createTreeView('checkpoint.image', { treeDataProvider: image, showCollapseAll: true }),
		leaksTree,
		vscode.workspace.registerTextDocumentContentProvider(MEMORY_SCHEME, memory),
		vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new AdapterFactory(connections)),
		vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, configurations),
		vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, configurations, vscode.DebugConfigurationProviderTriggerKind.Dynamic),
		...commands.register(),
		vscode.workspace.onDidChangeConfiguration((e) => {
			if (e.affectsConfiguration('checkpoint.targets')) targets.refresh();
			// The next checkpoint of every live session applies the new policy: no restart needed.
			if (e.affectsConfiguration('checkpoint.leakPolicy')) void commands.leaks.settingChanged();
		}),
		vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
			if (e.session.type !== DEBUG_TYPE) return;
			if (e.event === CUSTOM.stateEvent) {
				const body = e.body as StateEventBody;
				trees.set(e.session, body);
				showStatus();
				commands.treeStateChanged(e.session, body.state);
				commands.leaks.treeStateChanged(e.session, body.state);
			} else if (e.event === CUSTOM.checkpointsEvent) {
				checkpoints.refresh();
			} else if (e.event === CUSTOM.confirmKillEvent) {
				void commands.confirmKill(e.session, (e.body as { rootPid: number }).rootPid);
			} else if (e.event === CUSTOM.progressEvent) {
				commands.progress(e.session, e.body as { stage: string; message: string });
			} else if (e.event === CUSTOM.leaksEvent) {
				const body = e.body as LeaksBody;
				leaks.update(e.session, body);
				if (body.refusal) void commands.leaks.showRefusal(body.refusal, e.session);
			}
		}),
		...trackLiveSessions(),
		// The Checkpoints view shows the live session's timeline: redrawn only when that session changes
		// (a redraw under the pointer would swallow a click on a row).
		vscode.debug.onDidChangeActiveDebugSession(() => {
			showStatus();
			if (activeLiveSession() === shown) return;
			shown = activeLiveSession();
			checkpoints.refresh();
			leaks.redraw();
		}),
		vscode.debug.onDidTerminateDebugSession((s) => {
			if (s.type !== DEBUG_TYPE || isSnapshotConfiguration(s.configuration)) return;
			trees.delete(s);
			showStatus();
			shown = activeLiveSession();
			leaks.forget(s);
			leaks.redraw();
			checkpoints.refresh();
			targets.refresh();
		}),
	);
	output.appendLine(`Checkpoint Debugger ${String(context.extension.packageJSON.version)} ready.`);
}

export function deactivate(): void {}
