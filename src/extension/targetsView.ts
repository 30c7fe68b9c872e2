/**
 * The Targets view: hosts (settings, ~/.ssh/config, this machine); expanding
 * one connects and shows its process tree, each process with Attach and
 * Checkpoint actions.
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { pb } from '../core/protocol';
import type { HelperSession } from '../core/session';
import type { CatalogEntry } from '../core/targetCatalog';
import type { Connections } from './connections';
import { onDidEndLiveSession } from './debugging';
import { printableItem } from './printableItem';

export type TargetNode =
	| { kind: 'host'; entry: CatalogEntry }
	| { kind: 'process'; target: string; process: pb.ProcessInfo; children: pb.ProcessInfo[] }
	| { kind: 'message'; text: string };

export class TargetsView implements vscode.TreeDataProvider<TargetNode> {
	private readonly changed = new vscode.EventEmitter<TargetNode | undefined>();
	readonly onDidChangeTreeData = this.changed.event;
	/** Each connected host's processes by ppid, as last listed. */
	private readonly trees = new Map<string, Map<number, pb.ProcessInfo[]>>();
	/** The session the view holds per host it shows (one each, kept while the view shows the host). */
	private readonly held = new Map<string, HelperSession>();

	constructor(private readonly connections: Connections) {}

	refresh(): void {
		this.trees.clear();
		this.changed.fire(undefined);
	}

	/** The hosts change with the setting; a process list with the end of a debug session (a launched tree is gone, an attached one thawed). */
	listen(): vscode.Disposable[] {
		return [
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration('checkpoint.targets')) this.refresh();
			}),
			onDidEndLiveSession(() => this.refresh()),
		];
	}

	getTreeItem(node: TargetNode): vscode.TreeItem {
		return printableItem(this.treeItem(node));
	}

	private treeItem(node: TargetNode): vscode.TreeItem {
		switch (node.kind) {
			case 'host': {
				const item = new vscode.TreeItem(node.entry.name, vscode.TreeItemCollapsibleState.Collapsed);
				item.description = node.entry.source === 'local' ? undefined : node.entry.detail;
				item.tooltip = `${node.entry.detail} (from ${node.entry.source === 'ssh-config' ? '~/.ssh/config' : node.entry.source})`;
				item.iconPath = new vscode.ThemeIcon(node.entry.source === 'local' ? 'vm' : 'remote');
				item.contextValue = this.connections.isConnected(node.entry.name) ? 'host-connected' : 'host';
				item.accessibilityInformation = { label: `${node.entry.name}, ${item.tooltip}` };
				return item;
			}
			case 'process': {
				const p = node.process;
				const item = new vscode.TreeItem(`${p.pid} ${p.comm}`, node.children.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
				item.description = `${p.frozen ? 'frozen' : stateName(p.state)}  ${p.cmdline.join(' ')}`;
				item.tooltip = new vscode.MarkdownString(
					`**${p.pid}** \`${p.cmdline.join(' ') || p.comm}\`\n\nstate ${stateName(p.state)}${p.frozen ? ' (frozen)' : ''}, uid ${p.uid}, ${p.threads.length || 1} threads, session ${p.sid}, group ${p.pgid}${p.tty ? `, tty ${p.tty}` : ''}`,
				);
				item.iconPath = new vscode.ThemeIcon(p.frozen ? 'debug-pause' : 'gear');
				item.contextValue = 'process';
				return item;
			}
			case 'message':
				return Object.assign(new vscode.TreeItem(node.text), { iconPath: new vscode.ThemeIcon('info') });
		}
	}

	async getChildren(node?: TargetNode): Promise<TargetNode[]> {
		if (!node) return this.connections.catalog.entries().map((entry) => ({ kind: 'host', entry }));
		if (node.kind === 'host') return this.processesOf(node.entry.name);
		if (node.kind === 'process') return this.childrenOf(node.target, node.process.pid);
		return [];
	}

	private async processesOf(target: string): Promise<TargetNode[]> {
		try {
			const session = this.held.get(target) ?? (await this.connections.acquire(target));
			this.held.set(target, session);
			const all = await session.ps().catch(async (err: unknown) => {
				// A dead connection is let go, so that the next expand connects again.
				this.held.delete(target);
				await this.connections.release(session);
				throw err;
			});
			const byParent = new Map<number, pb.ProcessInfo[]>();
			for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
			this.trees.set(target, byParent);
			const pids = new Set(all.map((p) => p.pid));
			// Roots: processes whose parent is not listed (pid 1, or outside the helper's pid namespace).
			const roots = all.filter((p) => !pids.has(p.ppid));
			return roots.map((p) => this.processNode(target, p));
		} catch (err) {
			return [{ kind: 'message', text: `Cannot connect: ${errorMessage(err).split('\n')[0]}` }];
		}
	}

	private childrenOf(target: string, pid: number): TargetNode[] {
		return (this.trees.get(target)?.get(pid) ?? []).map((p) => this.processNode(target, p));
	}

	private processNode(target: string, process: pb.ProcessInfo): TargetNode {
		return { kind: 'process', target, process, children: this.trees.get(target)?.get(process.pid) ?? [] };
	}
}

function stateName(state: string): string {
	const names: Record<string, string> = { R: 'running', S: 'sleeping', D: 'disk wait', T: 'stopped', t: 'traced', Z: 'zombie', I: 'idle' };
	return names[state] ?? state;
}
