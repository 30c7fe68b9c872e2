/**
 * The one error the image format layer throws on bad input: every problem
 * with an image file (short header, wrong magic, an entry running past the
 * end, a payload that is not protobuf) comes out as an ImageFormatError that
 * names the file and the byte offset where reading went wrong.
 */
export class ImageFormatError extends Error {
	constructor(
		/** The image file's name, as the caller gave it. */
		readonly file: string,
		/** Byte offset in the file of the structure that is wrong. */
		readonly offset: number,
		/** What is wrong, without the file and offset. */
		readonly detail: string,
	) {
		super(`${file} at byte ${offset}: ${detail}`);
		this.name = 'ImageFormatError';
	}
}
