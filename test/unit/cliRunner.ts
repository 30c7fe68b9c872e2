/**
 * Running the compiled `ckpt` as a user does, in a child process, against a
 * fake helper: a node script that speaks the protocol, installed where the
 * local target looks for the helper (CKPT_HELPER_DIR).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { unameMachine } from '../../src/core/helperBinary';

/** out/, where the compiled tests run from (out/test/unit). */
export const OUT = resolve(__dirname, '..', '..');
const CLI = join(OUT, 'src', 'cli', 'main.js');

/** The first line of a fake helper script: node, with the protocol and framing modules at hand as pb, FrameDecoder, encodeFrame. */
export const FAKE_HELPER_HEAD = `#!${process.execPath}
const { pb } = require(${JSON.stringify(join(OUT, 'src', 'core', 'protocol.js'))});
const { FrameDecoder, encodeFrame } = require(${JSON.stringify(join(OUT, 'src', 'core', 'framing.js'))});
`;

export interface CliResult {
	code: number;
	stdout: string;
	stderr: string;
}

/** ckpt with args, the environment's variables overridden by env. */
export function ckpt(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliResult> {
	return new Promise((done) => {
		execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
			const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
			done({ code, stdout, stderr });
		});
	});
}

/** The local target runs the helper as root, or through sudo -n (not in a unit test). */
export const NOT_ROOT = process.getuid?.() !== 0 ? 'the local target runs the helper as root' : false;

/** A directory with script as this machine's helper; env points ckpt at it (target local). remove() takes it away. */
export function installFakeHelper(prefix: string, script: string): { dir: string; env: NodeJS.ProcessEnv; remove: () => void } {
	const dir = mkdtempSync(join(tmpdir(), prefix));
	const helper = join(dir, `checkpoint-helper-${unameMachine(arch())}`);
	writeFileSync(helper, script);
	chmodSync(helper, 0o755);
	return { dir, env: { CKPT_HELPER_DIR: dir, CKPT_TARGET: 'local' }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
