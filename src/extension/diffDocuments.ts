/**
 * Compare with...: what changed from one checkpoint to another (processes,
 * threads, registers, memory areas, pages, files, leaks) as a read-only
 * document (checkpoint-diff:/A..B.txt), from both images read through the
 * helper and its page diff on the target.
 */
import * as vscode from 'vscode';
import { diffSources, diffText } from '../core/images/diff';
import { HelperImageSource } from '../core/images/helperSource';
import type { HelperSession } from '../core/session';

export const DIFF_SCHEME = 'checkpoint-diff';
const KEPT_TEXTS = 16;

export interface DiffSide {
	id: string;
	label: string;
	created: number;
}

export class DiffDocuments implements vscode.TextDocumentContentProvider {
	private readonly texts = new Map<string, string>();

	/** Compares the two (the earlier first) and shows the result; session reads both from the store. */
	async show(session: HelperSession, x: DiffSide, y: DiffSide): Promise<void> {
		const [a, b] = x.created <= y.created ? [x, y] : [y, x];
		const diff = await diffSources(new HelperImageSource(session, a.id), new HelperImageSource(session, b.id), () => session.pageDiff(a.id, b.id));
		const uri = vscode.Uri.from({ scheme: DIFF_SCHEME, path: `/${a.id}..${b.id}.txt` });
		// set anew, the comparison is the newest (a Map keeps the first place of a key)
		this.texts.delete(uri.path);
		this.texts.set(uri.path, `From ${a.label} (${a.id}) to ${b.label} (${b.id}):\n\n${diffText(diff)}\n`);
		// the latest comparisons only: each holds a whole text
		for (const old of [...this.texts.keys()].slice(0, Math.max(0, this.texts.size - KEPT_TEXTS))) this.texts.delete(old);
		const doc = await vscode.workspace.openTextDocument(uri);
		await vscode.window.showTextDocument(doc, { preview: true });
	}

	provideTextDocumentContent(uri: vscode.Uri): string {
		return this.texts.get(uri.path) ?? 'This comparison is no longer open; compare the checkpoints again (Compare with... in the Checkpoints view).';
	}
}
