/**
 * Checkpoints that share their unchanged pages with the checkpoint before
 * them (docs/incremental.md): what a checkpoint stands on, how much disk it
 * takes with the checkpoints it stands on, and what sharing saved, for every
 * layer's output.
 */
import { PAGE_SIZE } from './images/memory';
import type { pb } from './protocol';
import { byteSize, plural } from './text';

/** A checkpoint's size with the checkpoints it stands on. */
export interface ChainSize {
	/**
	 * Its own size (sizeBytes) plus every ancestor's: what the chain takes
	 * on disk. Undefined when an ancestor is not in the list (or the links loop).
	 */
	withParentsBytes?: number;
	/** The first checkpoint of the chain the list does not have. */
	missing?: string;
}

/** The checkpoints of a list by id. */
export function checkpointsById<C extends pb.ICheckpoint>(list: readonly C[]): Map<string, C> {
	return new Map(list.map((c) => [c.id ?? '', c]));
}

/** c's own size plus that of each checkpoint it stands on, following parent ids through byId. */
export function chainSize(c: pb.ICheckpoint, byId: ReadonlyMap<string, pb.ICheckpoint>): ChainSize {
	let bytes = c.sizeBytes ?? 0;
	const seen = new Set([c.id ?? '']);
	for (let up = c.parent ?? ''; up; ) {
		const parent = byId.get(up);
		if (!parent) return { missing: up };
		if (seen.has(up)) return {};
		seen.add(up);
		bytes += parent.sizeBytes ?? 0;
		up = parent.parent ?? '';
	}
	return { withParentsBytes: bytes };
}

/** Pages as bytes (the helper compares and shares whole 4 KiB pages). */
export function pagesBytes(pages: number | null | undefined): number {
	return Number(pages ?? 0) * PAGE_SIZE;
}

/** "16245 pages shared (63 MiB), 169 own (676 KiB), compared in 12.3 ms". */
export function sharingText(s: pb.IPageSharing): string {
	const shared = s.sharedPages ?? 0;
	const own = s.ownPages ?? 0;
	return `${plural(shared, 'page')} shared (${byteSize(pagesBytes(shared))}), ${own} own (${byteSize(pagesBytes(own))}), compared in ${((s.timeUs ?? 0) / 1000).toFixed(1)} ms`;
}

/**
 * What a checkpoint stands on, in words: "ck-1; at the dump 16245 pages
 * shared (63 MiB), 169 own (676 KiB), compared in 12.3 ms; restored fully,
 * not lazily", or "none: every page its own". The numbers are the dump's:
 * a checkpoint whose parent was deleted since took in its pages and stands
 * on that one's parent.
 */
export function standsOnText(c: pb.ICheckpoint): string {
	if (!c.parent) return 'none: every page its own';
	return `${c.parent}${c.sharing ? `; at the dump ${sharingText(c.sharing)}` : ''}; restored fully, not lazily`;
}

/** What a provisional manifest (Checkpoint.provisional) means to the user. */
export const PROVISIONAL_TEXT = 'the one written before the dump (its final one could not be written: a full disk?): the images are complete; its sizes and figures are missing';
