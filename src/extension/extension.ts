/**
 * The VS Code layer: thin, over src/core and src/debug. Wires the views,
 * commands, the debug type and the status bar together, each subscribed to
 * the adapter's events it cares about; the work is done in the modules it
 * imports.
 */
import * as vscode from 'vscode';
import { CheckpointCommands } from './commands';
import { CheckpointsView } from './checkpointsView';
import { Connections } from './connections';
import { CustomEventRouter } from './customDap';
import { AdapterFactory, ConfigurationProvider, DEBUG_TYPE, trackLiveSessions } from './debugging';
import { ImageView } from './imageView';
import { LeaksView } from './leaksView';
import { ComparisonView } from './comparisonView';
import { DIFF_SCHEME, DiffDocuments } from './diffDocuments';
import { MEMORY_SCHEME, MemoryDocuments } from './memoryDocuments';
import { PAGES_SCHEME, PageDocuments } from './pageDocuments';
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
	const comparisons = { diffs: new DiffDocuments(), view: new ComparisonView(), pages: new PageDocuments(connections) };
	const maps = new MemoryMapPanels(context.extensionUri, memory);
	const status = new TreeStatus();
	const configurations = new ConfigurationProvider(connections);
	const commands = new CheckpointCommands(connections, targets, checkpoints, image, memory, maps, leaks, comparisons);
	const leaksTree = vscode.window.createTreeView('checkpoint.leaks', { treeDataProvider: leaks, showCollapseAll: true });
	leaks.attach(leaksTree);
	const events = new CustomEventRouter(vscode.debug.onDidReceiveDebugSessionCustomEvent, DEBUG_TYPE);

	context.subscriptions.push(
		output, connections, status,
		vscode.window.createTreeView('checkpoint.targets', { treeDataProvider: targets, showCollapseAll: true }),
		vscode.window.createTreeView('checkpoint.checkpoints', { treeDataProvider: checkpoints }),
		vscode.window.createTreeView('checkpoint.image', { treeDataProvider: image, showCollapseAll: true }),
		vscode.window.createTreeView('checkpoint.comparison', { treeDataProvider: comparisons.view, showCollapseAll: true }),
		leaksTree,
		vscode.workspace.registerTextDocumentContentProvider(MEMORY_SCHEME, memory),
		vscode.workspace.registerTextDocumentContentProvider(DIFF_SCHEME, comparisons.diffs),
		vscode.workspace.registerTextDocumentContentProvider(PAGES_SCHEME, comparisons.pages),
		vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new AdapterFactory(connections)),
		vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, configurations),
		vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, configurations, vscode.DebugConfigurationProviderTriggerKind.Dynamic),
		...commands.register(),
		...trackLiveSessions(),
		// Each listens to what it shows or acts on; the views before the commands, so a refusal's Show Leaks finds the list there.
		...status.listen(events),
		...targets.listen(),
		...checkpoints.listen(events),
		...leaks.listen(events),
		...commands.listen(events),
	);
	output.appendLine(`Checkpoint Debugger ${String(context.extension.packageJSON.version)} ready.`);
}

export function deactivate(): void {}
