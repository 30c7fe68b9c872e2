/**
 * The Comparison view: what changed from one checkpoint to another (Compare
 * with...) as a tree (comparisonNodes.ts). A run of pages opens, on click, a
 * diff editor of both checkpoints' bytes there as hexdumps (pageDocuments.ts).
 */
import * as vscode from 'vscode';
import { comparisonChildren, comparisonRow, type ComparisonNode, type ShownComparison } from './comparisonNodes';
import { printableItem } from './printableItem';

/** The command a run's click runs (registered by the extension): the hex diff of its pages. */
export const COMPARE_PAGES_COMMAND = 'checkpoint.comparePages';

const OPEN_STATES = {
	none: vscode.TreeItemCollapsibleState.None,
	collapsed: vscode.TreeItemCollapsibleState.Collapsed,
	expanded: vscode.TreeItemCollapsibleState.Expanded,
} as const;

export class ComparisonView implements vscode.TreeDataProvider<ComparisonNode> {
	private shown: ShownComparison | undefined;
	private readonly changed = new vscode.EventEmitter<ComparisonNode | undefined>();
	readonly onDidChangeTreeData = this.changed.event;

	get current(): ShownComparison | undefined {
		return this.shown;
	}

	/** Shows c in place of the comparison before it. */
	async show(c: ShownComparison): Promise<void> {
		this.shown = c;
		this.changed.fire(undefined);
		await vscode.commands.executeCommand('setContext', 'checkpoint.hasComparison', true);
	}

	getChildren(node?: ComparisonNode): ComparisonNode[] {
		if (!node) return this.shown ? [{ kind: 'root', c: this.shown }] : [];
		return comparisonChildren(node);
	}

	getTreeItem(node: ComparisonNode): vscode.TreeItem {
		return printableItem(this.treeItem(node));
	}

	private treeItem(node: ComparisonNode): vscode.TreeItem {
		const row = comparisonRow(node);
		const item = new vscode.TreeItem(row.label, OPEN_STATES[row.open]);
		item.description = row.description;
		item.tooltip = row.tooltip;
		// what a screen reader says (and not the tooltip's several lines)
		item.accessibilityInformation = { label: row.description ? `${row.label}, ${row.description}` : row.label };
		if (node.kind === 'root') item.contextValue = 'comparison';
		if (row.showsPages) {
			item.contextValue = 'page-run';
			item.command = { command: COMPARE_PAGES_COMMAND, title: 'Compare the Pages', arguments: [node] };
		}
		return item;
	}
}
