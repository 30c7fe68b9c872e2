/**
 * A status bar item for the tree being debugged: its target, root pid and
 * state (running, frozen, checkpointing, restoring), as the adapter of the
 * live session the user means last said.
 */
import * as vscode from 'vscode';
import type { TreeState } from '../core/debuggedTree';
import { CUSTOM, type StateEventBody } from '../debug/messages';
import type { CustomEventRouter } from './customDap';
import { activeLiveSession, onDidEndLiveSession } from './debugging';

const ICONS: Record<TreeState, string> = {
	running: '$(debug-start)', frozen: '$(debug-pause)', checkpointing: '$(loading~spin)', restoring: '$(loading~spin)', gone: '$(debug-disconnect)',
};

export class TreeStatus implements vscode.Disposable {
	private readonly item = vscode.window.createStatusBarItem('checkpoint.treeState', vscode.StatusBarAlignment.Left, 50);
	/** Each live session's tree as it last said. */
	private readonly trees = new Map<vscode.DebugSession, StateEventBody>();

	constructor() {
		this.item.name = 'Checkpoint Debugger';
		this.item.command = 'checkpoint.takeCheckpoint';
	}

	listen(events: CustomEventRouter): vscode.Disposable[] {
		return [
			events.on(CUSTOM.stateEvent, (session, body) => {
				this.trees.set(session, body);
				this.showActive();
			}),
			vscode.debug.onDidChangeActiveDebugSession(() => this.showActive()),
			onDidEndLiveSession((session) => {
				this.trees.delete(session);
				this.showActive();
			}),
		];
	}

	/** The tree of the live session the user means; nothing when it has not said. */
	private showActive(): void {
		const session = activeLiveSession();
		const body = session && this.trees.get(session);
		if (body) this.show(body.target, body.rootPid, body.state);
		else this.item.hide();
	}

	private show(target: string, rootPid: number, state: TreeState): void {
		this.item.text = `${ICONS[state]} ${target}: ${rootPid} ${state}`;
		this.item.tooltip = `Checkpoint Debugger: process tree ${rootPid} on ${target} is ${state}. Click to take a checkpoint.`;
		this.item.show();
	}

	dispose(): void {
		this.item.dispose();
	}
}
