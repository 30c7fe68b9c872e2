/**
 * pagemap-<pid>.img (and pagemap-shmem-<shmid>.img): a pagemap_head naming
 * the pages-<pages_id>.img that holds the data, then one entry per run of
 * pages. Normalized here over CRIU versions:
 *  - the page count is field 5 (CRIU >= 4.2, 64-bit) when present, else
 *    field 2 (older CRIU; 4.2 writes 0 there);
 *  - images older than the `flags` field only have `in_parent`: as CRIU's own
 *    reader does, in_parent means PE_PARENT, and a run without flags is
 *    PE_PRESENT.
 */
import { ImageFormatError } from './errors';
import { openImage, type EntryCursor } from './entries';
import { criu } from './kinds';

/** The run's pages are in the parent checkpoint's images. */
export const PE_PARENT = 1;
/** The run's pages may be restored lazily (CRIU marks private anonymous memory so, even in a plain dump). */
export const PE_LAZY = 2;
/** The run's pages are in this checkpoint's pages image. */
export const PE_PRESENT = 4;

export interface PagemapRun {
	/** Offset of the entry's length prefix in the file. */
	offset: number;
	/** First address, exact (see ./wire). */
	vaddr: bigint;
	nrPages: number;
	/** PE_* bits. */
	flags: number;
	/** flags & PE_PARENT, for convenience. */
	inParent: boolean;
}

export interface Pagemap {
	file: string;
	/** N of the pages-N.img holding this pagemap's PE_PRESENT data. */
	pagesId: number;
	entries: PagemapRun[];
}

function pageCount(e: criu.PagemapEntry, cursor: EntryCursor, offset: number): number {
	if (e.nrPages === null) return e.compatNrPages ?? 0;
	if (e.nrPages > BigInt(Number.MAX_SAFE_INTEGER)) cursor.fail(offset, `page count ${e.nrPages} is not a plausible number of pages`);
	return Number(e.nrPages);
}

function normalizedFlags(e: criu.PagemapEntry): number {
	let flags = e.flags ?? 0;
	if (e.inParent) flags |= PE_PARENT;
	else if (e.flags === null) flags = PE_PRESENT;
	return flags;
}

function readRun(cursor: EntryCursor): PagemapRun {
	const frame = cursor.nextFrame();
	const e = cursor.decode(criu.PagemapEntry, 'PagemapEntry', frame);
	if (e.vaddr === null) cursor.fail(frame.payload.offset, 'pagemap entry without an address (vaddr)');
	const flags = normalizedFlags(e);
	return { offset: frame.offset, vaddr: e.vaddr, nrPages: pageCount(e, cursor, frame.payload.offset), flags, inParent: (flags & PE_PARENT) !== 0 };
}

/** Decodes a pagemap image (pagemap-N.img or pagemap-shmem-N.img). */
export function decodePagemap(file: string, data: Buffer): Pagemap {
	// Typed explicitly so that cursor.fail() (never) narrows.
	const cursor: EntryCursor = openImage('pagemap', file, data);
	if (cursor.atEnd()) throw new ImageFormatError(file, cursor.pos, 'no pagemap head entry');
	const headFrame = cursor.nextFrame();
	const head = cursor.decode(criu.PagemapHead, 'PagemapHead', headFrame);
	if (head.pagesId === null) cursor.fail(headFrame.payload.offset, 'pagemap head without pages_id');
	const entries: PagemapRun[] = [];
	while (!cursor.atEnd()) entries.push(readRun(cursor));
	return { file, pagesId: head.pagesId, entries };
}
