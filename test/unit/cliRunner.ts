/**
 * Running the compiled `ckpt` as a user does, in a child process, against a
 * fake helper: a node script that speaks the protocol, installed where the
 * local target looks for the helper (CKPT_HELPER_DIR).
 */
import { execFile } from 'node:child_process';
import { after, before } from 'node:test';
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

/**
 * The last lines of a fake helper script that defines handle(req): the
 * framing loop over stdin, and for handle to call, send(response) and
 * refuse(req) (an operation the fake does not do).
 */
export const FAKE_HELPER_TAIL = `const decoder = new FrameDecoder();
const send = (response) => process.stdout.write(encodeFrame(pb.HelperMessage.encode(pb.HelperMessage.create({ response: pb.Response.create(response) })).finish()));
const refuse = (req) => send({ id: req.id, error: pb.Error.create({ code: pb.ErrorCode.ERROR_CODE_BAD_REQUEST, message: 'the fake helper does not do ' + req.op }) });
process.stdin.on('data', (chunk) => { for (const frame of decoder.push(chunk)) handle(pb.Request.decode(frame)); });
process.stdin.on('end', () => process.exit(0));
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

/**
 * FAKE_HELPER_HEAD, body (which defines handle) and FAKE_HELPER_TAIL as this
 * machine's helper for the tests of the file: installed before them, removed
 * after; env (set once installed) points ckpt at it.
 */
export function fakeHelperForTests(prefix: string, body: string): { env: NodeJS.ProcessEnv } {
	const installed: { env: NodeJS.ProcessEnv } = { env: {} };
	let remove = (): void => undefined;
	before(() => {
		const fake = installFakeHelper(prefix, `${FAKE_HELPER_HEAD}${body}${FAKE_HELPER_TAIL}`);
		installed.env = fake.env;
		remove = fake.remove;
	});
	after(() => remove());
	return installed;
}
