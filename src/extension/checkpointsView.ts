/**
 * The Checkpoints view in Run and Debug: the checkpoints of the tree being
 * debugged, as a timeline (oldest first), refreshed when the adapter says
 * they changed.
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { CheckpointSummary } from '../debug/messages';
import { activeLiveSession, listCheckpoints } from './debugging';
import { byteSize } from '../core/text';

export interface CheckpointNode {
	checkpoint: CheckpointSummary;
	/** The live debug session it belongs to. */
	session: vscode.DebugSession;
}

export class CheckpointsView implements vscode.TreeDataProvider<CheckpointNode> {
	private readonly changed = new vscode.EventEmitter<void>();
	readonly onDidChangeTreeData = this.changed.event;

	refresh(): void {
		this.changed.fire();
	}

	getTreeItem(node: CheckpointNode): vscode.TreeItem {
		const c = node.checkpoint;
		const time = new Date(c.created).toLocaleTimeString();
		const item = new vscode.TreeItem(c.name || c.id, vscode.TreeItemCollapsibleState.None);
		item.id = c.id;
		item.description = `${time} · ${byteSize(c.sizeBytes)}${c.frozenMs !== undefined ? ` · frozen ${c.frozenMs.toFixed(0)} ms` : ''}`;
		item.tooltip = new vscode.MarkdownString(
			`**${c.name || '(unnamed)'}** \`${c.id}\`\n\n${new Date(c.created).toLocaleString()}, root pid ${c.rootPid}, ${c.processes} process${c.processes === 1 ? '' : 'es'}, ${byteSize(c.sizeBytes)}` +
			`${c.frozenMs !== undefined ? `, the tree was frozen ${c.frozenMs.toFixed(0)} ms` : ''}\n\n${c.path}`,
		);
		item.iconPath = new vscode.ThemeIcon(c.name.startsWith('before restore') ? 'history' : 'device-camera');
		item.contextValue = 'checkpoint';
		item.command = { command: 'checkpoint.selectCheckpoint', title: 'Show in Checkpoint Image', arguments: [node] };
		return item;
	}

	async getChildren(node?: CheckpointNode): Promise<CheckpointNode[]> {
		if (node) return [];
		const session = activeLiveSession();
		if (!session) return [];
		try {
			return (await listCheckpoints(session)).map((checkpoint) => ({ checkpoint, session }));
		} catch (err) {
			void vscode.window.showErrorMessage(`Checkpoint: cannot list checkpoints: ${errorMessage(err)}`);
			return [];
		}
	}
}
