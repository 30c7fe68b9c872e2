/**
 * ELF symbols of the files a checkpointed program mapped, read on the
 * target over SFTP (by range: headers and symbol tables only). Any failure
 * (the file gone, unreadable, not ELF) is no symbols: naming is a help,
 * never a reason for an operation to fail.
 */
import { ElfSymbols } from './elf';
import type { Target } from './target';

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

/** A file on the target read by range over SFTP. */
export async function readTargetSymbols(target: Target, file: string): Promise<ElfSymbols | undefined> {
	const slash = file.lastIndexOf('/');
	try {
		const dir = await target.imageSource(file.slice(0, slash) || '/');
		try {
			return await ElfSymbols.read({ readRange: (offset, length) => dir.readRange(file.slice(slash + 1), offset, length) });
		} finally {
			await dir.close();
		}
	} catch {
		return undefined;
	}
}

export const targetSymbols = (target: Target): SymbolReader => cached((file) => readTargetSymbols(target, file));
