/**
 * The Checkpoints view in Run and Debug: the checkpoints of the tree being
 * debugged, as a timeline (oldest first), refreshed when the adapter says
 * they changed.
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { CUSTOM, type CheckpointSummary } from '../debug/messages';
import type { CustomEventRouter } from './customDap';
import { activeLiveSession, listCheckpoints, onShownLiveSessionChanged } from './debugging';
import { damagedTooltip, sizeDescription, sizeTooltip } from './checkpointRows';
import { escapeMarkdown } from './leakNodes';
import { printableItem } from './printableItem';

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

	/** Redrawn when the adapter says the checkpoints changed, and when another live session's timeline is to be shown. */
	listen(events: CustomEventRouter): vscode.Disposable[] {
		return [events.on(CUSTOM.checkpointsEvent, () => this.refresh()), ...onShownLiveSessionChanged(() => this.refresh())];
	}

	getTreeItem(node: CheckpointNode): vscode.TreeItem {
		return printableItem(this.treeItem(node));
	}

	private treeItem(node: CheckpointNode): vscode.TreeItem {
		const c = node.checkpoint;
		if (c.damaged) return damagedItem(c);
		const time = new Date(c.created).toLocaleTimeString();
		const item = new vscode.TreeItem(c.name || c.id, vscode.TreeItemCollapsibleState.None);
		item.id = c.id;
		const inconsistent = c.leaks?.inconsistent ? 'inconsistent · ' : '';
		item.description = `${inconsistent}${time} · ${sizeDescription(c)}${c.frozenMs !== undefined ? ` · frozen ${c.frozenMs.toFixed(0)} ms` : ''}`;
		item.tooltip = new vscode.MarkdownString(
			`**${c.name || '(unnamed)'}** \`${c.id}\`\n\n${new Date(c.created).toLocaleString()}, root pid ${c.rootPid}, ${c.processes} process${c.processes === 1 ? '' : 'es'}` +
			`${c.frozenMs !== undefined ? `, the tree was frozen ${c.frozenMs.toFixed(0)} ms` : ''}\n\n${sizeTooltip(c)}\n\n${c.path}${leaksTooltip(c)}`,
		);
		item.tooltip.supportThemeIcons = true;
		// An inconsistent checkpoint stands out: it may hold a state the tree never had as a whole.
		item.iconPath = c.leaks?.inconsistent
			? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
			: new vscode.ThemeIcon(c.name.startsWith('before restore') ? 'history' : 'device-camera');
		item.contextValue = 'checkpoint';
		item.command = { command: 'checkpoint.selectCheckpoint', title: 'Show in Checkpoint Image', arguments: [node] };
		item.accessibilityInformation = { label: `${c.name || c.id}, ${item.description}` };
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

/** A checkpoint whose manifest cannot be read: said so, with why; it can be deleted, nothing else. */
function damagedItem(c: CheckpointSummary): vscode.TreeItem {
	const item = new vscode.TreeItem(c.id, vscode.TreeItemCollapsibleState.None);
	item.id = c.id;
	item.description = 'damaged';
	item.tooltip = new vscode.MarkdownString(damagedTooltip(c));
	item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
	item.contextValue = 'checkpoint-damaged';
	item.accessibilityInformation = { label: `${c.id}, damaged: ${c.damaged ?? ''}` };
	return item;
}

/** The checkpoint's leak report in the tooltip: the summary, what was warned about, and every change of the second scan. */
function leaksTooltip(c: CheckpointSummary): string {
	const leaks = c.leaks;
	if (!leaks) return '\n\nLeaks: not scanned (a checkpoint made before leak scans)';
	const lines = [`\n\n${leaks.inconsistent ? '$(warning) ' : ''}**Leaks:** ${escapeMarkdown(leaks.summary)}`];
	if (leaks.warned.length) lines.push(`Warned: ${leaks.warned.map((w) => `\`${w}\``).join(', ')}`);
	if (leaks.changes.length) {
		lines.push('**Inconsistent**: what the tree shares with the outside changed while it was dumped, so the checkpoint may hold a state the tree never had:');
		lines.push(leaks.changes.map((ch) => `- ${escapeMarkdown(ch)}`).join('\n'));
	}
	return lines.join('\n\n');
}
