import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CheckpointError } from './errors';

/** Node's arch names as `uname -m` says them. */
export function unameMachine(nodeArch: string): string {
	const names: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };
	return names[nodeArch] ?? nodeArch;
}

export interface HelperBinary {
	path: string;
	machine: string;
	sha256: string;
	bytes: Buffer;
}

/**
 * Finds the helper built for `machine`: $CKPT_HELPER_DIR, else the nearest
 * dist/helper above this module (the bundle lives in dist/, the compiled
 * tests in out/src/core).
 */
export function findHelperBinary(machine: string, from = __dirname): HelperBinary {
	const name = `checkpoint-helper-${machine}`;
	const candidates: string[] = [];
	if (process.env.CKPT_HELPER_DIR) candidates.push(join(process.env.CKPT_HELPER_DIR, name));
	for (let dir = from, i = 0; i < 6; i++, dir = dirname(dir)) {
		candidates.push(join(dir, 'helper', name), join(dir, 'dist', 'helper', name));
	}
	const path = candidates.find((p) => existsSync(p));
	if (!path) {
		throw new CheckpointError('helper-missing',
			`no checkpoint helper built for ${machine}; build it with "npm run build:helper" (looked in ${candidates.slice(0, 3).join(', ')}, ...)`);
	}
	const bytes = readFileSync(path);
	return { path, machine, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}
