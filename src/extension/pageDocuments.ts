/**
 * The bytes of a run of pages as one checkpoint holds them, as a hexdump
 * (checkpoint-pages:/<id>/<pid>/<start>-<end>.hex?target=<name>): the two
 * sides of the diff editor a run of the Comparison view opens. Read when
 * shown, through a helper session of the target (the checkpoint's images
 * opened again: a comparison outlives the session it was made with).
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { openCheckpoint } from '../core/images/checkpoint';
import { hexdump } from '../core/images/hexdump';
import { HelperImageSource } from '../core/images/helperSource';
import type { ComparedCheckpoint, RunNode } from './comparisonNodes';
import type { Connections } from './connections';
import { printable } from '../core/systemText';

export const PAGES_SCHEME = 'checkpoint-pages';
/** Bytes per side: a hexdump line per 16 bytes, so 4096 lines. */
const SHOWN_BYTES = 64n * 1024n;

export class PageDocuments implements vscode.TextDocumentContentProvider {
	constructor(private readonly connections: Pick<Connections, 'acquire' | 'release'>) {}

	/** Opens a run: both checkpoints' bytes side by side when it changed, the one side that holds it otherwise. */
	async show(node: RunNode): Promise<void> {
		const { c, p, run } = node;
		const start = BigInt(run.start);
		const end = BigInt(run.end) - start > SHOWN_BYTES ? start + SHOWN_BYTES : BigInt(run.end);
		const uri = (side: ComparedCheckpoint): vscode.Uri => vscode.Uri.from({
			scheme: PAGES_SCHEME, path: `/${side.id}/${p.pid}/${start.toString(16)}-${end.toString(16)}.hex`, query: new URLSearchParams({ target: c.target }).toString(),
		});
		const where = `${p.pid} ${printable(p.comm)} ${run.start}-0x${end.toString(16)}`;
		if (run.kind === 'changed') {
			await vscode.commands.executeCommand('vscode.diff', uri(c.before), uri(c.after), `${where}: ${c.before.label} ↔ ${c.after.label}`, { preview: true });
			return;
		}
		const doc = await vscode.workspace.openTextDocument(uri(run.kind === 'only-before' ? c.before : c.after));
		await vscode.window.showTextDocument(doc, { preview: true });
	}

	async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
		const m = /^\/([^/]+)\/(\d+)\/([0-9a-f]+)-([0-9a-f]+)\.hex$/.exec(uri.path);
		const target = new URLSearchParams(uri.query).get('target');
		if (!m || !target) return 'Not a page view of a comparison; compare the checkpoints again (Compare with... in the Checkpoints view).';
		const [, id, pid, from, to] = m;
		const start = BigInt(`0x${from}`);
		const length = Number(BigInt(`0x${to}`) - start);
		// the same first line on both sides: only the bytes differ in the diff editor
		const header = `Process ${pid}, 0x${from}-0x${to}\n\n`;
		let session;
		try {
			session = await this.connections.acquire(target);
			const images = await openCheckpoint(new HelperImageSource(session, id));
			const process = images.processes.find((x) => x.pid === Number(pid));
			if (!process) return `${header}Checkpoint ${id} holds no process ${pid}.\n`;
			return `${header}${hexdump(await process.read(start, length))}\n`;
		} catch (err) {
			return `${header}The pages of checkpoint ${id} cannot be read: ${errorMessage(err)}\n`;
		} finally {
			if (session) await this.connections.release(session);
		}
	}
}
