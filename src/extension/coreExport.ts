/**
 * Export as Core File... on a checkpoint of the Checkpoints view: the
 * helper writes an ELF core of one of the checkpoint's processes on the
 * target (the pages stay there), and it is downloaded to the file the user
 * picks, whole or not at all. gdb (or lldb) opens it with the program.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { downloadCore } from '../core/download';
import { CheckpointError } from '../core/errors';
import type { pb } from '../core/protocol';
import type { HelperSession } from '../core/session';
import { byteSize } from '../core/text';
import type { CheckpointNode } from './checkpointsView';
import type { Connections } from './connections';
import { printable, printableCommandLine } from '../core/systemText';

/** The checkpoint's processes as its manifest lists them, root first. */
async function processesOf(session: HelperSession, id: string): Promise<pb.ICheckpointProcess[]> {
	const checkpoint = (await session.list()).find((c) => c.id === id);
	if (!checkpoint) throw new CheckpointError('not-found', `checkpoint ${id} is no longer in the store of ${session.target.description}`);
	return [...checkpoint.processes].sort((a, b) => Number(b.pid === checkpoint.rootPid) - Number(a.pid === checkpoint.rootPid));
}

/** Which process: asked when the checkpoint has several; undefined when the user gives up. */
async function pickProcess(processes: pb.ICheckpointProcess[], rootPid: number): Promise<pb.ICheckpointProcess | undefined> {
	if (processes.length <= 1) return processes[0] ?? { pid: rootPid, comm: '' };
	const picked = await vscode.window.showQuickPick(processes.map((p) => ({
		label: `${printable(p.comm || 'process')} (${p.pid})`,
		description: p.pid === rootPid ? 'the root' : `child of ${p.ppid}`,
		detail: printableCommandLine(p.cmdline ?? []) || undefined,
		process: p,
	})), { title: 'Export a core file of which process?', placeHolder: 'A core file holds one process: its threads, registers and memory' });
	return picked?.process;
}

/** Asks, writes and downloads; says where the core went and how to open it. */
export async function exportCore(connections: Connections, node: CheckpointNode | undefined): Promise<void> {
	if (!node) return;
	const c = node.checkpoint;
	const session = await connections.acquire(String(node.session.configuration.target));
	try {
		const process = await pickProcess(await processesOf(session, c.id), c.rootPid);
		if (!process) return;
		// a file name of this machine: the process's name with only safe characters
		const name = `${(process.comm || 'process').replace(/[^A-Za-z0-9._-]/g, '_')}-${process.pid}-${c.id}.core`;
		const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? homedir();
		const dest = await vscode.window.showSaveDialog({
			defaultUri: vscode.Uri.file(join(base, name)), saveLabel: 'Export', title: `Export the core of ${printable(process.comm || 'process')} (${process.pid}) of ${c.name || c.id}`,
		});
		if (!dest) return;
		const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Core of process ${process.pid}`, cancellable: true }, (progress, token) => {
			let reported = 0;
			return downloadCore(session, c.id, process.pid ?? 0, dest.fsPath, {
				cancelled: () => token.isCancellationRequested,
				onWriting: (message) => progress.report({ message: `writing it on the target: ${message}` }),
				onProgress: (p) => {
					const percent = (100 * p.doneBytes) / Math.max(1, p.totalBytes);
					progress.report({ message: `downloading ${byteSize(p.doneBytes)} of ${byteSize(p.totalBytes)}`, increment: percent - reported });
					reported = percent;
				},
			});
		});
		const gdb = `gdb ${result.executable || 'PROGRAM'} ${dest.fsPath}`;
		connections.output.appendLine(`${session.target.description}: core of process ${result.pid} of ${c.id} written to ${result.path}, downloaded to ${dest.fsPath} (${byteSize(Number(result.sizeBytes))}); open it with: ${gdb}`);
		const copy = 'Copy gdb Command';
		if ((await vscode.window.showInformationMessage(`Core of ${printable(process.comm || 'process')} (${result.pid}) exported to ${dest.fsPath}. Open it with: ${gdb}`, copy)) === copy) {
			await vscode.env.clipboard.writeText(gdb);
		}
	} finally {
		await connections.release(session);
	}
}
