/**
 * What the Checkpoints view says of a checkpoint's size: its own, what it
 * shares with the checkpoint it stands on, and its size with the
 * checkpoints it stands on. No VS Code here: the view renders these, and
 * the unit tests check them.
 */
import type { CheckpointSummary } from '../debug/messages';
import { PROVISIONAL_TEXT, pagesBytes } from '../core/sharing';
import { byteSize } from '../core/text';
import { escapeMarkdown } from './leakNodes';

/** "3.0 MiB", or "3.0 MiB (66 MiB with parents)" for one that stands on another. */
export function sizeDescription(c: CheckpointSummary): string {
	if (c.provisional) return 'size unknown';
	const own = byteSize(c.sizeBytes);
	if (!c.parent) return own;
	return `${own} (${c.sizeWithParentsBytes === undefined ? '?' : byteSize(c.sizeWithParentsBytes)} with parents)`;
}

/**
 * The tooltip's paragraph on size and sharing (Markdown): the own size;
 * for one standing on a parent, what it shares with it, its size with its
 * parents, and that it restores fully.
 */
export function sizeTooltip(c: CheckpointSummary): string {
	if (c.provisional) return `Its manifest is ${PROVISIONAL_TEXT}.`;
	const own = `${byteSize(c.sizeBytes)} of its own`;
	if (!c.parent) return `${own}: it holds every page, and restores lazily where the target can.`;
	const parent = c.parent.name ? `**${escapeMarkdown(c.parent.name)}** \`${c.parent.id}\`` : `\`${c.parent.id}\``;
	// the dump's numbers: its parent may have been deleted since, its pages handed to this one
	const shares = c.sharing
		? `shares its unchanged pages with ${parent}, which it stands on (${byteSize(pagesBytes(c.sharing.sharedPages))}, ${c.sharing.sharedPages} pages, at the dump)`
		: `stands on ${parent}`;
	const total = c.sizeWithParentsBytes === undefined
		? 'its size with the checkpoints it stands on is not known (one of them is not in the store)'
		: `${byteSize(c.sizeWithParentsBytes)} with the checkpoints it stands on`;
	return `${own}; it ${shares}; ${total}. It restores fully, not lazily: CRIU's lazy-pages daemon cannot read a parent checkpoint's pages.`;
}

/**
 * What deleting c does, for its confirmation (plain text): its images go;
 * the checkpoints of list that stand on it take in the pages they read from
 * it first (their memory stays the same, their own size grows).
 */
export function deleteDetail(c: CheckpointSummary, list: readonly CheckpointSummary[]): string {
	const gone = `Its images (${c.path}) are removed from the target. This cannot be undone.`;
	const children = list.filter((other) => other.parent?.id === c.id);
	if (!children.length) return gone;
	const one = children.length === 1;
	const names = children.map((other) => other.name || other.id).join(', ');
	return `${gone} ${names} ${one ? 'stands' : 'stand'} on it: ${one ? 'it takes' : 'they take'} in the pages ${one ? 'it reads' : 'they read'} from it first, so ${one ? 'its' : 'their'} own size grows.`;
}

/** A damaged checkpoint's tooltip (Markdown): why, and what can be done. */
export function damagedTooltip(c: CheckpointSummary): string {
	return `**Damaged** \`${c.id}\`\n\n${escapeMarkdown(c.damaged ?? '')}\n\nIt cannot be restored; Delete removes it (${escapeMarkdown(c.path)}).`;
}
