// Generates the TypeScript side of the wire contract (proto/helper.proto):
// a protobufjs static module and its type declarations, in src/generated/.
// The helper's C side is generated from the same file by protoc-c.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'src', 'generated');
const bin = (name) => join(root, 'node_modules', '.bin', name);

mkdirSync(outDir, { recursive: true });
const js = join(outDir, 'helper.js');
execFileSync(bin('pbjs'), [
	'-t', 'static-module', '-w', 'commonjs', '--force-number', '--force-message', '--no-beautify',
	'-o', js, join(root, 'proto', 'helper.proto'),
], { stdio: 'inherit' });
execFileSync(bin('pbts'), ['-o', join(outDir, 'helper.d.ts'), js], { stdio: 'inherit' });
