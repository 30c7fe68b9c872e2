/**
 * Read-only documents showing a checkpoint's memory as a hexdump
 * (checkpoint-memory:/PID/START-END.hex). A region is shown up to a limit; the
 * rest is one click away (a document for the next part).
 */
import * as vscode from 'vscode';
import type { ProcessImage } from '../core/images/checkpoint';
import { hexdump } from '../core/images/hexdump';
import { printable } from '../core/systemText';

export const MEMORY_SCHEME = 'checkpoint-memory';
/** Bytes per document: a hexdump line per 16 bytes, so 4096 lines. */
const SHOWN_BYTES = 64 * 1024;

export class MemoryDocuments implements vscode.TextDocumentContentProvider {
	/** The processes documents were opened for, by a key in the URI (several checkpoints may be open). */
	private readonly processes = new Map<string, ProcessImage>();
	private nextKey = 1;

	/**
	 * Opens [start, end) of a process's memory; a long area is shown from its
	 * first page the checkpoint holds (a stack's dumped pages are at its top).
	 */
	async open(process: ProcessImage, areaStart: bigint, end: bigint, fromFirstDumped = true): Promise<void> {
		const key = this.keyOf(process);
		const dumped = fromFirstDumped && end - areaStart > BigInt(SHOWN_BYTES) ? process.memory.firstDumped(areaStart, end) : undefined;
		const start = dumped !== undefined ? dumped : areaStart;
		const shownEnd = end - start > BigInt(SHOWN_BYTES) ? start + BigInt(SHOWN_BYTES) : end;
		const uri = vscode.Uri.from({ scheme: MEMORY_SCHEME, path: `/${process.pid}/${start.toString(16)}-${shownEnd.toString(16)}.hex`, query: `key=${key}&end=${end.toString(16)}` });
		const doc = await vscode.workspace.openTextDocument(uri);
		await vscode.window.showTextDocument(doc, { preview: true });
	}

	async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
		const m = /^\/(\d+)\/([0-9a-f]+)-([0-9a-f]+)\.hex$/.exec(uri.path);
		const query = new URLSearchParams(uri.query);
		const process = this.processes.get(query.get('key') ?? '');
		if (!m || !process) return 'This memory view belongs to a checkpoint that is no longer open; open the checkpoint again.';
		const start = BigInt(`0x${m[2]}`);
		const end = BigInt(`0x${m[3]}`);
		const regionEnd = BigInt(`0x${query.get('end') ?? m[3]}`);
		const read = await process.read(start, Number(end - start));
		const header = `Process ${process.pid} (${printable(process.comm)}), 0x${start.toString(16)}-0x${end.toString(16)}, as the checkpoint holds it.\n`;
		const more = end < regionEnd ? `\n... ${regionEnd - end} more bytes in this area up to 0x${regionEnd.toString(16)}: "Checkpoint: Open Memory at Address..." with 0x${end.toString(16)} shows the next part.\n` : '';
		return `${header}\n${hexdump(read)}\n${more}`;
	}

	private keyOf(process: ProcessImage): string {
		for (const [key, p] of this.processes) if (p === process) return key;
		const key = String(this.nextKey++);
		this.processes.set(key, process);
		return key;
	}
}
