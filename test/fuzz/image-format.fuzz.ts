/**
 * Fuzz target: the CRIU image format layer (src/core/images/format) over
 * arbitrary bytes. The first input byte picks the image kind (and with it
 * the file name the decoder is given), the rest is the file.
 *
 * A bug: any exception but ImageFormatError (the layer's only documented
 * error), a hang, or a decoded result that points outside the file (an
 * entry, raw span or sub-entry whose bytes are not all in it).
 */
import {
	decodeImageFile, decodePagemap, decodeSingleEntry, IMAGE_KINDS, imageFileName, ImageFormatError, iterateImage,
	type EntryImageKind, type ImageKind, type RawSpan,
} from '../../src/core/images/format';
import { allowOnly, FuzzInput, invariant } from './fuzzInput';

/** Every kind with a header, in a fixed order so that a corpus file keeps its kind (never reorder). */
export const KINDS: readonly ImageKind[] = (Object.keys(IMAGE_KINDS) as ImageKind[]).filter((k) => k !== 'pages');

function nameFor(kind: ImageKind): string {
	const file = IMAGE_KINDS[kind].file;
	return file.includes('%s') ? imageFileName(kind, 'dump') : file.includes('%') ? imageFileName(kind, 7) : file;
}

function checkSpan(span: RawSpan, size: number, what: string): void {
	invariant(Number.isSafeInteger(span.offset) && Number.isSafeInteger(span.length) && span.offset >= 0 && span.length >= 0
		&& span.offset + span.length <= size, `${what} [${span.offset}, +${span.length}) lies within the ${size}-byte file`);
}

function decodeAll(kind: ImageKind, file: string, data: Buffer): void {
	const decoded = decodeImageFile(file, data);
	invariant(decoded.kind === kind, `decodeImageFile of ${file} gives kind ${kind}, not ${decoded.kind}`);
	if (kind === 'pagemap' || kind === 'pagemap-shmem') {
		const pagemap = decodePagemap(file, data);
		for (const run of pagemap.entries) {
			invariant(run.offset >= 0 && run.offset < data.length, 'a pagemap run starts within the file');
			invariant(Number.isSafeInteger(run.nrPages) && run.nrPages >= 0, `a pagemap run's page count ${run.nrPages} is a safe integer`);
		}
		return;
	}
	const entryKind = kind as EntryImageKind;
	for (const entry of iterateImage(entryKind, file, data)) {
		checkSpan({ offset: entry.offset, length: 4 + entry.length }, data.length, 'an entry');
		for (const span of entry.extra) checkSpan(span, data.length, 'raw data after an entry');
		for (const sub of entry.sub) checkSpan(sub.data, data.length, 'a sub-entry\'s data');
	}
	// The reader of single-entry images (inventory, core, mm, ...) on the same bytes.
	decodeSingleEntry(entryKind, file, data);
}

export function fuzz(data: Buffer): void {
	const input = new FuzzInput(data);
	const kind = input.pick(KINDS);
	const file = nameFor(kind);
	try {
		decodeAll(kind, file, input.rest());
	} catch (err) {
		allowOnly(err, [ImageFormatError], `decoding ${file}`);
	}
}
