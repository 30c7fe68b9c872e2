/**
 * How numbers read in every layer's output (the CLI, the debug adapter, the
 * editor): addresses in hex, sizes in binary units.
 */

/** An address or other 64-bit value: 0x7ffd12340000. */
export const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** "1 leak", "3 leaks"; "2 processes" with words given. */
export function plural(n: number, word: string, words = `${word}s`): string {
	return `${n} ${n === 1 ? word : words}`;
}

/** A size: "512 B", "4.0 KiB", "162 KiB", "1.5 GiB". */
export function byteSize(n: number): string {
	if (n < 1024) return `${n} B`;
	const units = ['KiB', 'MiB', 'GiB', 'TiB'];
	let v = n;
	let u = -1;
	do { v /= 1024; u++; } while (v >= 1024 && u < units.length - 1);
	return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
