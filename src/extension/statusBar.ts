/**
 * A status bar item for the tree being debugged: its target, root pid and
 * state (running, frozen, checkpointing, restoring).
 */
import * as vscode from 'vscode';
import type { TreeState } from '../core/debuggedTree';

const ICONS: Record<TreeState, string> = {
	running: '$(debug-start)', frozen: '$(debug-pause)', checkpointing: '$(loading~spin)', restoring: '$(loading~spin)', gone: '$(debug-disconnect)',
};

export class TreeStatus implements vscode.Disposable {
	private readonly item = vscode.window.createStatusBarItem('checkpoint.treeState', vscode.StatusBarAlignment.Left, 50);

	constructor() {
		this.item.name = 'Checkpoint Debugger';
		this.item.command = 'checkpoint.takeCheckpoint';
	}

	show(target: string, rootPid: number, state: TreeState): void {
		this.item.text = `${ICONS[state]} ${target}: ${rootPid} ${state}`;
		this.item.tooltip = `Checkpoint Debugger: process tree ${rootPid} on ${target} is ${state}. Click to take a checkpoint.`;
		this.item.show();
	}

	hide(): void {
		this.item.hide();
	}

	dispose(): void {
		this.item.dispose();
	}
}
