/**
 * The Checkpoint Image tree as data: which nodes a checkpoint has and what
 * each one's children are. No VS Code here (the view renders these), so the
 * shape of the tree is unit-tested, long lists included: they come in groups
 * so that a process with ten thousand areas expands at once.
 */
import { orderedRegisters, type CheckpointImages, type ProcessImage, type ThreadImage, type VmaImage } from '../core/images/checkpoint';
import { leakReportJson } from '../core/leaks';
import type { pb } from '../core/protocol';
import { hex } from '../core/text';
import { leakChildren, leakGroups, type LeakNode } from './leakNodes';

/** Children per group in long lists (VMAs, files). */
export const GROUP = 500;

export type ImageNode =
	/** manifest: the helper's (manifest.pb), absent for images CRIU wrote without it. */
	| { kind: 'checkpoint'; images: CheckpointImages; title: string; manifest?: pb.ICheckpoint }
	/** What the tree shared with the outside at the dump (the manifest's leak report). */
	| { kind: 'leakReport'; report: pb.ILeakReport; scope: string }
	/** The differences the second scan (at CRIU's post-dump) found. */
	| { kind: 'leakChanges'; report: pb.ILeakReport }
	| { kind: 'leak'; node: LeakNode }
	| { kind: 'process'; process: ProcessImage }
	| { kind: 'section'; process: ProcessImage; section: 'threads' | 'vmas' | 'files' | 'namespaces' | 'info' }
	| { kind: 'thread'; process: ProcessImage; thread: ThreadImage }
	| { kind: 'group'; process: ProcessImage; section: 'vmas' | 'files'; from: number; to: number }
	| { kind: 'vma'; process: ProcessImage; vma: VmaImage }
	| { kind: 'value'; label: string; value: string; icon?: string; tooltip?: string };

/** The root's children, and every node's. */
export async function childrenOf(node: ImageNode): Promise<ImageNode[]> {
	switch (node.kind) {
		case 'checkpoint':
			return [...node.images.processes.map((process): ImageNode => ({ kind: 'process', process })), ...reportNodes(node)];
		case 'leakReport':
			return reportChildren(node.report, node.scope);
		case 'leakChanges':
			return leakReportJson(node.report).changes.map((c) => ({ kind: 'value', label: c.what, value: c.text, icon: 'warning', tooltip: c.text }));
		case 'leak':
			return leakChildren(node.node).map((child) => ({ kind: 'leak', node: child }));
		case 'process':
			return (['info', 'threads', 'vmas', 'files', 'namespaces'] as const).map((section) => ({ kind: 'section', process: node.process, section }));
		case 'section':
			return sectionChildren(node.process, node.section);
		case 'group':
			return node.section === 'vmas'
				? node.process.vmas.slice(node.from, node.to).map((vma) => ({ kind: 'vma', process: node.process, vma }))
				: fileNodes(node.process, node.from, node.to);
		case 'thread':
			return orderedRegisters(node.thread).map(([label, v]) => ({ kind: 'value', label, value: hex(v), icon: 'symbol-variable' }));
		default:
			return [];
	}
}

async function sectionChildren(process: ProcessImage, section: Extract<ImageNode, { kind: 'section' }>['section']): Promise<ImageNode[]> {
	switch (section) {
		case 'threads':
			return process.threads.map((thread) => ({ kind: 'thread', process, thread }));
		case 'vmas':
			return grouped(process.vmas.length, (from, to) => ({ kind: 'group', process, section: 'vmas', from, to }), () => process.vmas.map((vma) => ({ kind: 'vma', process, vma })));
		case 'files':
			return grouped(process.files.length, (from, to) => ({ kind: 'group', process, section: 'files', from, to }), () => fileNodes(process, 0, process.files.length));
		case 'namespaces':
			return process.namespaces.map((n) => ({ kind: 'value', label: n.kind, value: `${n.id} ${n.dumped ? '(dumped: restored as a new namespace)' : "(inherited: restore joins the restorer's)"}`, icon: 'symbol-namespace' }));
		case 'info': {
			const cmdline = await process.cmdline();
			const v = (label: string, value: string): ImageNode => ({ kind: 'value', label, value });
			return [
				v('command line', cmdline ? cmdline.join(' ') : '(not in the checkpoint)'), v('pid', String(process.pid)), v('ppid', String(process.ppid)),
				v('state', process.state), v('session', String(process.sid)), v('process group', String(process.pgid)),
				v('uid', process.creds ? `${process.creds.uid} (effective ${process.creds.euid})` : '?'), v('gid', process.creds ? `${process.creds.gid} (effective ${process.creds.egid})` : '?'),
			];
		}
	}
}

function grouped(count: number, group: (from: number, to: number) => ImageNode, all: () => ImageNode[]): ImageNode[] {
	if (count <= GROUP) return all();
	const groups: ImageNode[] = [];
	for (let from = 0; from < count; from += GROUP) groups.push(group(from, Math.min(count, from + GROUP)));
	return groups;
}

function fileNodes(process: ProcessImage, from: number, to: number): ImageNode[] {
	return process.files.slice(from, to).map((f) => ({
		kind: 'value', label: `fd ${f.fd}`, icon: 'file',
		value: [f.kind, f.path ?? f.peer ?? '', f.detail ?? '', f.pos !== undefined ? `pos ${f.pos}` : ''].filter(Boolean).join('  '),
	}));
}

/** The leak report as the checkpoint's last child; "not scanned" for a helper's checkpoint made before leak scans. */
function reportNodes(node: Extract<ImageNode, { kind: 'checkpoint' }>): ImageNode[] {
	if (!node.manifest) return [];
	const report = node.manifest.leaks;
	if (!report) return [{ kind: 'value', label: 'Leaks', value: 'not scanned (a checkpoint made before leak scans)', icon: 'shield' }];
	return [{ kind: 'leakReport', report, scope: `report/${node.manifest.id ?? node.title}` }];
}

/** The summary, the rules the dump was asked for, the changes of the second scan, and the leaks by kind with their policies. */
function reportChildren(report: pb.ILeakReport, scope: string): ImageNode[] {
	const json = leakReportJson(report);
	const nodes: ImageNode[] = [
		{ kind: 'value', label: 'summary', value: json.summary, icon: json.consistent ? 'pass' : 'warning' },
		{ kind: 'value', label: 'policy', value: json.policy || '(the defaults)', icon: 'settings-gear', tooltip: 'The rules the dump was asked for, as ckpt dump --policy takes them' },
	];
	if (!json.rescanned) nodes.push({ kind: 'value', label: 'second scan', value: `not made${json.rescanProblem ? `: ${json.rescanProblem}` : ''}`, icon: 'question' });
	if (!json.consistent) nodes.push({ kind: 'leakChanges', report });
	return [...nodes, ...leakGroups(json.leaks, scope).map((node): ImageNode => ({ kind: 'leak', node }))];
}
