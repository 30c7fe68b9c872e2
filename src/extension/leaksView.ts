/**
 * The Leaks view: what the tree of the live debug session shares with
 * processes outside it, grouped by kind, each leak with its policy, its
 * outside holders and quick actions. It shows the list the adapter last sent
 * (every checkpoint scans before its dump, a refusal and a restore send one
 * too) and asks for a fresh one when there is none or on Refresh.
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { LeaksBody } from '../debug/leakPolicy';
import { CUSTOM } from '../debug/messages';
import { customRequest, type CustomEventRouter } from './customDap';
import { activeLiveSession, onShownLiveSessionChanged } from './debugging';
import { leakChildren, leakGroups, leakRow, leaksMessage, type LeakNode, type LeakRow, type LeaksViewState } from './leakNodes';
import { printableItem } from './printableItem';

export class LeaksView implements vscode.TreeDataProvider<LeakNode> {
	private readonly changed = new vscode.EventEmitter<void>();
	readonly onDidChangeTreeData = this.changed.event;
	/** The latest list of each live session. */
	private readonly bodies = new Map<vscode.DebugSession, LeaksBody>();
	private view?: vscode.TreeView<LeakNode>;

	/** The view this provider fills (for the message above the tree). */
	attach(view: vscode.TreeView<LeakNode>): void {
		this.view = view;
	}

	/** Each list the adapter sends; redrawn for the live session the user means, and an ended one's list is let go. */
	listen(events: CustomEventRouter): vscode.Disposable[] {
		return [
			events.on(CUSTOM.leaksEvent, (session, body) => this.update(session, body)),
			...onShownLiveSessionChanged((ended) => {
				if (ended) this.bodies.delete(ended);
				this.redraw();
			}),
		];
	}

	/** The adapter sent the leaks of a session's tree. */
	private update(session: vscode.DebugSession, body: LeaksBody): void {
		this.bodies.set(session, body);
		if (session === activeLiveSession()) this.changed.fire();
	}

	/** Asks the shown session's adapter again (or all of them: their policies changed). */
	refresh(session?: vscode.DebugSession): void {
		if (session) this.bodies.delete(session);
		else this.bodies.clear();
		this.changed.fire();
	}

	/** The session has no list yet (it had nothing to show before it attached). */
	needsList(session: vscode.DebugSession): boolean {
		return !this.bodies.has(session);
	}

	/** Redraws (the active session changed) without asking anyone. */
	private redraw(): void {
		this.changed.fire();
	}

	/** The list shown now, with its session. */
	shown(): { session: vscode.DebugSession; body: LeaksBody } | undefined {
		const session = activeLiveSession();
		const body = session && this.bodies.get(session);
		return session && body ? { session, body } : undefined;
	}

	getTreeItem(node: LeakNode): vscode.TreeItem {
		return printableItem(this.treeItem(node));
	}

	private treeItem(node: LeakNode): vscode.TreeItem {
		return rowItem(leakRow(node));
	}

	async getChildren(node?: LeakNode): Promise<LeakNode[]> {
		if (node) return leakChildren(node);
		const session = activeLiveSession();
		if (!session) return this.show({ kind: 'no-session' }, []);
		let body = this.bodies.get(session);
		if (!body) {
			try {
				body = await customRequest(session, CUSTOM.leaks, {});
			} catch (err) {
				return this.show({ kind: 'error', message: errorMessage(err) }, []);
			}
			this.bodies.set(session, body);
		}
		return this.show({ kind: 'leaks', body }, leakGroups(body.leaks, `${session.id}/${body.rootPid}`));
	}

	private show(state: LeaksViewState, nodes: LeakNode[]): LeakNode[] {
		if (this.view) this.view.message = leaksMessage(state);
		return nodes;
	}
}

/** A row as VS Code draws it (the Leaks view and the image browser's leak report). */
export function rowItem(row: LeakRow): vscode.TreeItem {
	const expand = { none: vscode.TreeItemCollapsibleState.None, collapsed: vscode.TreeItemCollapsibleState.Collapsed, expanded: vscode.TreeItemCollapsibleState.Expanded }[row.expand];
	const item = new vscode.TreeItem(row.label, expand);
	item.id = row.id;
	item.description = row.description;
	if (row.tooltip) {
		const tooltip = new vscode.MarkdownString(row.tooltip);
		tooltip.supportThemeIcons = true;
		item.tooltip = tooltip;
	}
	item.iconPath = new vscode.ThemeIcon(row.icon.id, row.icon.color ? new vscode.ThemeColor(row.icon.color) : undefined);
	item.contextValue = row.contextValue;
	// Screen readers get the name and the policy, not the whole tooltip.
	item.accessibilityInformation = { label: [row.label, row.description].filter(Boolean).join(', ') };
	return item;
}
