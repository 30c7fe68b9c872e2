/**
 * ELF symbols of the files a checkpointed program mapped, read on the
 * target through the helper (by range: headers and symbol tables only), by
 * the paths' bytes as the checkpoint names them: SFTP takes only UTF-8
 * paths, and the helper reads only files a checkpoint names. Any failure
 * (the file gone, unreadable, not ELF) is no symbols: naming is a help,
 * never a reason for an operation to fail.
 */
import { ElfSymbols } from './elf';
import { CheckpointError } from './errors';
import { HelperImageSource, type ImageReader } from './images/helperSource';

/** The symbols of file (a path as the checkpoint recorded it), or undefined. */
export type SymbolReader = (file: string) => Promise<ElfSymbols | undefined>;

/** One read per file, however often it is asked for. */
function cached(read: SymbolReader): SymbolReader {
	const files = new Map<string, Promise<ElfSymbols | undefined>>();
	return (file) => {
		let symbols = files.get(file);
		if (!symbols) {
			symbols = read(file).catch(() => undefined);
			files.set(file, symbols);
		}
		return symbols;
	};
}

/**
 * The symbols of file, read as a file one of checkpoints mapped (the first
 * that names it: in a comparison, a library either side mapped).
 */
export async function readMappedSymbols(checkpoints: readonly HelperImageSource[], file: string): Promise<ElfSymbols | undefined> {
	for (const c of checkpoints) {
		try {
			return await ElfSymbols.read({ readRange: (offset, length) => c.readMappedRange(file, offset, length) });
		} catch (err) {
			// this checkpoint names no such file: the next may
			if (!(err instanceof CheckpointError && err.kind === 'bad-request')) return undefined;
		}
	}
	return undefined;
}

/** The symbols of the files the checkpoints (ids, of one session) mapped. */
export const checkpointSymbols = (session: ImageReader, checkpointIds: readonly string[]): SymbolReader => {
	const sources = checkpointIds.map((id) => new HelperImageSource(session, id));
	return cached((file) => (file.startsWith('/') ? readMappedSymbols(sources, file) : Promise.resolve(undefined)));
};
