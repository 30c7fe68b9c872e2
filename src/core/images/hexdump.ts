/**
 * Memory as people read it: a classic hexdump, shared by `ckpt mem` and the
 * editor's memory documents.
 */
import type { MemoryRead } from './memory';
import { hex } from '../text';

/** A classic hexdump: address, 16 bytes, ASCII; parts that were not dumped are named, not printed. */
export function hexdump(read: MemoryRead): string {
	const lines: string[] = [];
	for (const s of read.segments) {
		if (!s.data) {
			lines.push(`${hex(s.address)}  ... ${s.length} bytes ${s.missing}`);
			continue;
		}
		for (let off = 0; off < s.data.length; off += 16) {
			const row = s.data.subarray(off, off + 16);
			const bytes = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
			const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
			lines.push(`${(s.address + BigInt(off)).toString(16).padStart(16, '0')}  ${bytes.padEnd(47)}  |${text}|`);
		}
	}
	return lines.join('\n');
}
