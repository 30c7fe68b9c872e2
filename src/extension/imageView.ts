/**
 * The Checkpoint Image view: what a checkpoint holds, as a tree: processes ->
 * threads (registers), memory map, files, namespaces. Long lists come in
 * groups so a process with ten thousand areas expands at once.
 */
import * as vscode from 'vscode';
import type { CheckpointImages, ProcessImage, VmaImage } from '../core/images/checkpoint';
import { readManifest } from '../core/images/manifest';
import { checkpointInconsistent, leakReportJson, leakReportBrief } from '../core/leaks';
import type { pb } from '../core/protocol';
import { childrenOf, type ImageNode } from './imageNodes';
import { escapeMarkdown, leakRow } from './leakNodes';
import { rowItem } from './leaksView';
import { byteSize, hex } from '../core/text';
import { printableItem } from './printableItem';

const VMA_ICONS: Record<string, string> = {
	stack: 'layers', heap: 'database', file: 'file-binary', anonymous: 'circle-outline', shared: 'link', 'sysv-shm': 'link', memfd: 'link', vdso: 'chip', vvar: 'chip', vsyscall: 'chip',
};

export class ImageView implements vscode.TreeDataProvider<ImageNode> {
	private readonly changed = new vscode.EventEmitter<void>();
	readonly onDidChangeTreeData = this.changed.event;
	private current?: { images: CheckpointImages; title: string; manifest?: pb.Checkpoint };

	get images(): CheckpointImages | undefined {
		return this.current?.images;
	}

	/** Shows a checkpoint, with its leak report when the helper wrote a manifest next to the images. */
	async show(images: CheckpointImages, title: string): Promise<void> {
		const previous = this.current?.images;
		this.current = { images, title, manifest: await readManifest(images.source) };
		this.changed.fire();
		await vscode.commands.executeCommand('setContext', 'checkpoint.imageOpen', true);
		if (previous && previous !== images) await previous.source.close();
	}

	getTreeItem(node: ImageNode): vscode.TreeItem {
		return printableItem(this.treeItem(node));
	}

	private treeItem(node: ImageNode): vscode.TreeItem {
		const collapsed = vscode.TreeItemCollapsibleState.Collapsed;
		switch (node.kind) {
			case 'checkpoint':
				return checkpointItem(node);
			case 'leakReport':
				return reportItem(node.report);
			case 'leakChanges':
				return Object.assign(new vscode.TreeItem('Changes during the dump', vscode.TreeItemCollapsibleState.Expanded), {
					description: `${node.report.changes?.length ?? 0}: inconsistent`,
					tooltip: 'What the tree shares with the outside changed between the scan before the dump and the one at CRIU\'s post-dump: the checkpoint may hold a state the tree never had as a whole.',
					iconPath: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')),
				});
			case 'leak':
				return rowItem(leakRow(node.node));
			case 'process':
				return Object.assign(new vscode.TreeItem(`${node.process.pid} ${node.process.comm}`, collapsed), {
					description: `${node.process.state}, ${node.process.threads.length} thread${node.process.threads.length === 1 ? '' : 's'}`,
					iconPath: new vscode.ThemeIcon('gear'),
					contextValue: 'imageProcess',
				});
			case 'section':
				return sectionItem(node.process, node.section);
			case 'group': {
				const { vmas, files } = node.process;
				const label = node.section === 'vmas' ? `${hex(vmas[node.from].start)} - ${hex(vmas[node.to - 1].end)}` : `fd ${files[node.from].fd} - ${files[node.to - 1].fd}`;
				const count = node.to - node.from;
				return Object.assign(new vscode.TreeItem(label, collapsed), {
					description: `${count} entries`,
					accessibilityInformation: { label: `${label}, ${count} ${node.section === 'vmas' ? 'areas' : 'files'}` },
					iconPath: new vscode.ThemeIcon('list-flat'),
				});
			}
			case 'thread':
				return Object.assign(new vscode.TreeItem(`${node.thread.tid} ${node.thread.comm}`, collapsed), {
					description: `ip ${hex(node.thread.registers.ip ?? 0n)}`,
					iconPath: new vscode.ThemeIcon('pulse'),
				});
			case 'vma':
				return vmaItem(node.process, node.vma);
			case 'value':
				return Object.assign(new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None), {
					description: node.value,
					tooltip: node.tooltip ?? `${node.label}: ${node.value}`,
					iconPath: node.icon ? new vscode.ThemeIcon(node.icon) : undefined,
					contextValue: 'imageValue',
				});
		}
	}

	async getChildren(node?: ImageNode): Promise<ImageNode[]> {
		if (!node) return this.current ? [{ kind: 'checkpoint', ...this.current }] : [];
		return childrenOf(node);
	}
}

function checkpointItem(node: Extract<ImageNode, { kind: 'checkpoint' }>): vscode.TreeItem {
	const i = node.images;
	const inconsistent = node.manifest ? checkpointInconsistent(node.manifest) : false;
	const changes = inconsistent && node.manifest?.leaks ? leakReportJson(node.manifest.leaks).changes.map((c) => `- ${escapeMarkdown(c.text)}`).join('\n') : '';
	const item = new vscode.TreeItem(node.title, vscode.TreeItemCollapsibleState.Expanded);
	item.description = `${i.processes.length} process${i.processes.length === 1 ? '' : 'es'}, image v${i.imageVersion}${inconsistent ? ', inconsistent' : ''}`;
	item.tooltip = new vscode.MarkdownString(`${escapeMarkdown(i.source.description)}${inconsistent ? `\n\n**Inconsistent**: what the tree shares with the outside changed while it was dumped:\n\n${changes}` : ''}`);
	item.accessibilityInformation = { label: `${node.title}, checkpoint at ${i.source.description}${inconsistent ? ', inconsistent' : ''}` };
	item.iconPath = inconsistent ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')) : new vscode.ThemeIcon('device-camera');
	return item;
}

/** "Leaks": the report's brief, with a warning when the checkpoint is inconsistent or warned about a leak. */
function reportItem(report: pb.ILeakReport): vscode.TreeItem {
	const json = leakReportJson(report);
	const warned = json.leaks.some((l) => l.policy === 'warn');
	const item = new vscode.TreeItem('Leaks', vscode.TreeItemCollapsibleState.Collapsed);
	item.description = leakReportBrief(report);
	item.tooltip = new vscode.MarkdownString(`${escapeMarkdown(json.summary)}${json.changes.length ? `\n\n${json.changes.map((c) => `- ${escapeMarkdown(c.text)}`).join('\n')}` : ''}`);
	item.iconPath = !json.consistent || warned ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')) : new vscode.ThemeIcon('shield');
	item.accessibilityInformation = { label: `Leaks, ${item.description}` };
	return item;
}

function sectionItem(process: ProcessImage, section: Extract<ImageNode, { kind: 'section' }>['section']): vscode.TreeItem {
	const counts = { threads: process.threads.length, vmas: process.vmas.length, files: process.files.length, namespaces: process.namespaces.length, info: undefined };
	const labels = { threads: 'Threads', vmas: 'Memory Map', files: 'Files', namespaces: 'Namespaces', info: 'Process' };
	const icons = { threads: 'list-tree', vmas: 'symbol-array', files: 'files', namespaces: 'symbol-namespace', info: 'info' };
	const item = new vscode.TreeItem(labels[section], vscode.TreeItemCollapsibleState.Collapsed);
	item.description = counts[section] === undefined ? undefined : String(counts[section]);
	item.iconPath = new vscode.ThemeIcon(icons[section]);
	if (section === 'vmas') {
		item.contextValue = 'imageMemoryMap';
		const pages = process.vmas.reduce((n, v) => n + v.pages, 0);
		item.tooltip = `${process.vmas.length} areas, ${pages} pages (${byteSize(pages * 4096)}) in the checkpoint`;
	}
	// Screen readers (and VS Code, which would otherwise read the tooltip) get the name first.
	item.accessibilityInformation = { label: [labels[section], item.description, typeof item.tooltip === 'string' ? item.tooltip : ''].filter(Boolean).join(', ') };
	return item;
}

function vmaItem(process: ProcessImage, vma: VmaImage): vscode.TreeItem {
	const item = new vscode.TreeItem(`${hex(vma.start)}-${hex(vma.end)}`, vscode.TreeItemCollapsibleState.None);
	item.description = `${vma.prot} ${vma.kind}${vma.file ? ` ${vma.file}` : ''}`;
	const size = Number(vma.end - vma.start);
	item.tooltip = new vscode.MarkdownString(
		`\`${hex(vma.start)}-${hex(vma.end)}\` ${vma.prot} **${vma.kind}** (${byteSize(size)})\n\n${vma.file ? `${vma.file} at offset ${hex(vma.pgoff)}\n\n` : ''}${vma.pages} of ${Math.ceil(size / 4096)} pages in the checkpoint`,
	);
	item.iconPath = new vscode.ThemeIcon(VMA_ICONS[vma.kind] ?? 'circle-outline');
	item.contextValue = 'imageVma';
	item.command = { command: 'checkpoint.openMemory', title: 'Open Memory', arguments: [{ process, start: vma.start, end: vma.end }] };
	return item;
}
