/**
 * The Memory Map webview: a process's address space drawn by region, from
 * media/memoryMap.js. One panel per process; clicking an area opens its
 * memory as a hexdump document.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { ProcessImage } from '../core/images/checkpoint';
import type { MemoryDocuments } from './memoryDocuments';
import { printable } from '../core/systemText';

interface OpenMessage {
	type: 'open' | 'ready';
	start?: string;
	end?: string;
}

export class MemoryMapPanels {
	private readonly panels = new Map<ProcessImage, vscode.WebviewPanel>();

	constructor(private readonly extensionUri: vscode.Uri, private readonly memory: MemoryDocuments) {}

	show(process: ProcessImage, checkpointTitle: string): void {
		const existing = this.panels.get(process);
		if (existing) return existing.reveal();
		const media = vscode.Uri.joinPath(this.extensionUri, 'media');
		const panel = vscode.window.createWebviewPanel('checkpoint.memoryMap', `Memory Map: ${process.pid} ${printable(process.comm)}`, vscode.ViewColumn.Active, {
			enableScripts: true,
			localResourceRoots: [media],
		});
		this.panels.set(process, panel);
		panel.onDidDispose(() => this.panels.delete(process));
		panel.webview.html = this.html(panel.webview, media);
		panel.webview.onDidReceiveMessage((m: OpenMessage) => {
			if (m.type === 'ready') {
				void panel.webview.postMessage({ type: 'show', process: payload(process, checkpointTitle) });
			} else if (m.type === 'open' && m.start && m.end) {
				void this.memory.open(process, BigInt(`0x${m.start}`), BigInt(`0x${m.end}`));
			}
		});
	}

	private html(webview: vscode.Webview, media: vscode.Uri): string {
		const nonce = randomBytes(16).toString('base64');
		const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'memoryMap.js'));
		const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'memoryMap.css'));
		return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${style}" rel="stylesheet"><title>Memory Map</title></head>
<body><div id="map">Loading...</div><script nonce="${nonce}" src="${script}"></script></body></html>`;
	}
}

/** Addresses as hex strings: JSON has no 64-bit integers. */
function payload(process: ProcessImage, checkpoint: string): object {
	return {
		pid: process.pid,
		comm: printable(process.comm),
		checkpoint,
		vmas: process.vmas.map((v) => ({ start: `0x${v.start.toString(16)}`, end: `0x${v.end.toString(16)}`, prot: v.prot, kind: v.kind, file: v.file, pages: v.pages })),
	};
}
