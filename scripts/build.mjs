// Bundles the extension and the `ckpt` CLI with esbuild. ssh2 loads two
// optional native modules inside try/catch; they stay external so the bundle
// works without them (ssh2 falls back to pure JavaScript).
import * as esbuild from 'esbuild';

const common = {
	bundle: true,
	platform: 'node',
	target: 'node20',
	format: 'cjs',
	sourcemap: true,
	external: ['vscode', 'cpu-features', '*.node'],
	logLevel: 'warning',
};

await Promise.all([
	esbuild.build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' }),
	esbuild.build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js' }),
]);
