/**
 * Writes seed inputs for the fuzz targets from a real checkpoint directory
 * (CRIU's images and the helper's manifest.pb), in each target's input
 * format, plus an ELF file from the unit tests' fixture:
 *
 *   node out/test/fuzz/makeSeeds.js CHECKPOINT_DIR OUT_DIR
 *
 * writes OUT_DIR/<target>/<name>; for the checkpoint target also the same
 * directory as its own parent with every page in the parent. test/fuzz/corpus/ was seeded so (from
 * CRIU 4.1.1 dumps of test/workloads) and then kept to the inputs that add
 * coverage (libFuzzer's -merge=1); image files and pages are cut to
 * SEED_FILE_BYTES so the corpus stays small.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodePagemap, kindOfFileName, PE_PARENT } from '../../src/core/images/format';
import { pagemap } from '../unit/checkpoint.fixtures';
import { elf, FUNC, OBJECT } from '../unit/elfFixture';
import { CHECKPOINT_FILE_NAMES, encodeDirectory } from './checkpoint.fuzz';
import { KINDS } from './image-format.fuzz';

const SEED_FILE_BYTES = 8192;

function write(out: string, target: string, name: string, data: Buffer): void {
	mkdirSync(join(out, target), { recursive: true });
	writeFileSync(join(out, target, name), data);
}

function main(dir: string, out: string): void {
	const id = basename(dir);
	const files = new Map<string, Buffer>();
	for (const name of readdirSync(dir).sort()) {
		const kind = kindOfFileName(name)?.kind;
		if (kind === undefined) continue;
		const data = readFileSync(join(dir, name)).subarray(0, SEED_FILE_BYTES);
		if (kind !== 'pages') write(out, 'image-format', `${id}-${name}`, Buffer.concat([Buffer.from([KINDS.indexOf(kind)]), data]));
		// Pages are read by range: their first KiB reaches the read paths (a read past it is a truncated image).
		if (CHECKPOINT_FILE_NAMES.includes(name)) files.set(name, kind === 'pages' ? data.subarray(0, 1024) : data);
	}
	write(out, 'checkpoint', id, encodeDirectory({ parentIsSelf: false, probe: { address: 0n, length: 0 }, files }));
	// The same directory as its own parent, every page marked as the parent's: the walk up the chain of parents.
	const inParent = new Map([...files].map(([name, data]): [string, Buffer] => {
		if (kindOfFileName(name)?.kind !== 'pagemap') return [name, data];
		const decoded = decodePagemap(name, data);
		return [name, pagemap(decoded.pagesId, decoded.entries.map((run): [bigint, number, number] => [run.vaddr, run.nrPages, PE_PARENT]))];
	}));
	write(out, 'checkpoint', `${id}-parent-loop`, encodeDirectory({ parentIsSelf: true, probe: { address: 0n, length: 0 }, files: inParent }));
	const manifest = readFileSync(join(dir, 'manifest.pb'));
	const frame = Buffer.alloc(4);
	frame.writeUInt32LE(manifest.length);
	// chunksOf: a size byte of 0 takes the rest of the input as one chunk.
	write(out, 'helper-protocol', `${id}-manifest`, Buffer.concat([Buffer.from([0]), frame, manifest]));
	const symbols = [{ name: 'main', value: 0x1100n, size: 0x40n, type: FUNC }, { name: 'counter', value: 0x4010n, size: 8n, type: OBJECT }];
	write(out, 'elf', 'fixture', Buffer.concat([elf(symbols, symbols.slice(0, 1), 0x100n), Buffer.alloc(16)]));
}

const [dir, out] = process.argv.slice(2);
if (!dir || !out) {
	console.error('usage: node out/test/fuzz/makeSeeds.js CHECKPOINT_DIR OUT_DIR');
	process.exit(2);
}
main(dir, out);
