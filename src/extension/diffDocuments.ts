/**
 * Compare with...: what changed from one checkpoint to another (processes,
 * threads, registers, memory areas, pages, files, leaks), from both images
 * read through the helper and its page diff on the target, with the
 * variables changed pages hold named by the target's ELF files. Shown as a
 * tree (the Comparison view); also as a read-only document
 * (checkpoint-diff:/A..B.txt), its text made when it is opened.
 */
import * as vscode from 'vscode';
import { checkpointSymbols } from '../core/elfFiles';
import { compareSources, diffText } from '../core/images/diff';
import { HelperImageSource } from '../core/images/helperSource';
import type { HelperSession } from '../core/session';
import type { ShownComparison } from './comparisonNodes';

export const DIFF_SCHEME = 'checkpoint-diff';
const KEPT_COMPARISONS = 16;

export interface DiffSide {
	id: string;
	label: string;
	created: number;
}

export class DiffDocuments implements vscode.TextDocumentContentProvider {
	private readonly comparisons = new Map<string, ShownComparison>();

	/** Compares the two (the earlier first), session reading both from the store of target. */
	async compare(session: HelperSession, target: string, x: DiffSide, y: DiffSide): Promise<ShownComparison> {
		const [a, b] = x.created <= y.created ? [x, y] : [y, x];
		const { diff } = await compareSources(new HelperImageSource(session, a.id), new HelperImageSource(session, b.id), {
			pageDiff: () => session.pageDiff(a.id, b.id),
			symbols: checkpointSymbols(session, [b.id, a.id]),
		});
		const shown: ShownComparison = { target, before: { id: a.id, label: a.label }, after: { id: b.id, label: b.label }, diff };
		const path = this.pathOf(shown);
		// set anew, the comparison is the newest (a Map keeps the first place of a key)
		this.comparisons.delete(path);
		this.comparisons.set(path, shown);
		for (const old of [...this.comparisons.keys()].slice(0, Math.max(0, this.comparisons.size - KEPT_COMPARISONS))) this.comparisons.delete(old);
		return shown;
	}

	/** The comparison as text, in an editor. */
	async openText(c: ShownComparison): Promise<void> {
		const uri = vscode.Uri.from({ scheme: DIFF_SCHEME, path: this.pathOf(c) });
		this.comparisons.set(uri.path, c);
		const doc = await vscode.workspace.openTextDocument(uri);
		await vscode.window.showTextDocument(doc, { preview: true });
	}

	provideTextDocumentContent(uri: vscode.Uri): string {
		const c = this.comparisons.get(uri.path);
		if (!c) return 'This comparison is no longer open; compare the checkpoints again (Compare with... in the Checkpoints view).';
		return `From ${c.before.label} (${c.before.id}) to ${c.after.label} (${c.after.id}):\n\n${diffText(c.diff)}\n`;
	}

	private pathOf(c: ShownComparison): string {
		return `/${c.before.id}..${c.after.id}.txt`;
	}
}
