/**
 * The CRIU image format layer: names, magics and entries of image files, and
 * their decoding into the project's own messages (proto/criu-images.proto).
 *
 * Representation: every 64-bit integer field (addresses, registers, sizes,
 * counters) is an exact bigint; 32-bit fields are numbers; a field absent
 * from the image is null (repeated fields: an empty array). Unknown fields
 * are skipped, and so is an enum value the schema does not list (the field
 * is then null: e.g. a file type newer than CRIU 4.1.1's; the sub-message
 * that is set still tells the kind). All functions take the whole file as a
 * Buffer and throw only ImageFormatError on bad input.
 */
import { decodeImage, requireKind, type DecodedImage } from './decode';
import { ImageFormatError } from './errors';
import type { EntryImageKind } from './kinds';
import { decodePagemap, type Pagemap } from './pagemap';

export { ImageFormatError } from './errors';
export { describeMagic, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, MAGIC, type MagicName } from './magic';
export {
	criu, IMAGE_KINDS, imageFileName, kindOfFileName,
	type EntryImageKind, type ImageFileName, type ImageKind, type ImageMessages, type ImageSubMessages, type KindSpec, type SubMessageOf,
} from './kinds';
export { openImage, EntryCursor, type Frame, type MessageType, type RawSpan } from './entries';
export type { Extra, SubEntry } from './extra';
export { decodeImage, decodeSingleEntry, iterateImage, requireKind, type DecodedImage, type ImageEntry } from './decode';
export { decodePagemap, PE_LAZY, PE_PARENT, PE_PRESENT, type Pagemap, type PagemapRun } from './pagemap';
export { ImageReader, ImageWriter } from './wire';
export { encodeMessage, frameEntry, imageHeader } from './encode';
export { VMA_STATUS } from './constants';

/** What decodeImageFile returns: the entries, or for a pagemap its normalized runs. */
export type AnyDecodedImage =
	| { [K in EntryImageKind]: DecodedImage<K> }[EntryImageKind]
	| { kind: 'pagemap' | 'pagemap-shmem'; file: string; pagemap: Pagemap };

/** Decodes an image file whose kind its name tells (core-1.img, files.img, stats-dump, ...). */
export function decodeImageFile(file: string, data: Buffer): AnyDecodedImage {
	const { kind } = requireKind(file);
	if (kind === 'pagemap' || kind === 'pagemap-shmem') return { kind, file, pagemap: decodePagemap(file, data) };
	if (kind === 'pages') throw new ImageFormatError(file, 0, 'a pages image is raw page data, read through its pagemap');
	// decodeImage over the union of kinds is typed DecodedImage<union>, which is
	// this union of DecodedImage<kind> in fact (kind and entries agree).
	return decodeImage(kind, file, data) as AnyDecodedImage;
}
