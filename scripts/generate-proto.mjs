// Generates the TypeScript side of the project's protobuf schemas, as
// protobufjs static modules and their type declarations, in src/generated/:
//  - proto/helper.proto: the wire contract with the native helper (whose C
//    side is generated from the same file by protoc-c);
//  - proto/criu-images.proto: our schema for reading CRIU image files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'src', 'generated');
const bin = (name) => join(root, 'node_modules', '.bin', name);

mkdirSync(outDir, { recursive: true });
const js = join(outDir, 'helper.js');
execFileSync(bin('pbjs'), [
	'-r', 'checkpoint-helper', '-t', 'static-module', '-w', 'commonjs', '--force-number', '--force-message', '--no-beautify',
	'-o', js, join(root, 'proto', 'helper.proto'),
], { stdio: 'inherit' });
execFileSync(bin('pbts'), ['-o', join(outDir, 'helper.d.ts'), js], { stdio: 'inherit' });

generateImages();

/**
 * CRIU images carry addresses and registers that need all 64 bits
 * (0xffffffffff600000), so 64-bit fields must not decode as numbers. They are
 * generated as Long fields and then declared as bigint: the decoding code
 * never produces a Long, because src/core/images/format reads these images
 * only through a reader whose int64/uint64/sint64/fixed64/sfixed64 return
 * bigint (and encodes them only through a writer that accepts bigint).
 * --null-semantics makes an absent proto2 optional field null instead of a
 * prototype default, so absence stays visible (and no Long default exists).
 * Conversion and verification helpers are left out: they assume Long.
 */
function generateImages() {
	const imagesJs = join(outDir, 'images.js');
	execFileSync(bin('pbjs'), [
		'-r', 'checkpoint-criu-images', '-t', 'static-module', '-w', 'commonjs', '--force-long', '--force-message', '--null-semantics',
		'--no-beautify', '--no-verify', '--no-convert', '--no-delimited', '--no-typeurl', '--no-service',
		'-o', imagesJs, join(root, 'proto', 'criu-images.proto'),
	], { stdio: 'inherit' });
	writeFileSync(imagesJs, longToBigint(readFileSync(imagesJs, 'utf8')));
	const dts = join(outDir, 'images.d.ts');
	execFileSync(bin('pbts'), ['-o', dts, imagesJs], { stdio: 'inherit' });
	// pbts always imports "long"; nothing refers to it any more.
	writeFileSync(dts, readFileSync(dts, 'utf8').replace(/^import Long = require\("long"\);\n/m, ''));
}

/**
 * Rewrites the JSDoc types Long -> bigint (pbts builds the .d.ts from them).
 * Code that would produce or test for a Long would make that declaration a
 * lie, so finding any outside comments fails the build.
 */
function longToBigint(source) {
	const lines = source.split('\n');
	const code = lines.filter((line) => /\bLong\b/.test(line) && !/^\s*(\*|\/\/|\/\*)/.test(line));
	if (code.length > 0) {
		throw new Error(`generate-proto: images.js uses Long in code, not only in comments:\n${code.join('\n')}`);
	}
	return lines.map((line) => line.replace(/\bLong\b/g, 'bigint')).join('\n');
}
