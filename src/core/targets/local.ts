/**
 * The machine this runs on as a target: the helper is spawned directly, as
 * root or through "sudo -n".
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { arch } from 'node:os';
import { CheckpointError, errorMessage } from '../errors';
import { findHelperBinary, unameMachine } from '../helperBinary';
import { LocalImageSource, type ImageSource } from '../images/source';
import type { HelperChannel, HelperExit, Target } from '../target';

export class LocalTarget implements Target {
	readonly description = 'this machine';

	constructor(private readonly helperArgs: string[] = []) {}

	async startHelper(): Promise<HelperChannel> {
		if (process.platform !== 'linux') {
			throw new CheckpointError('usage', 'checkpointing runs on Linux only; connect to a Linux host over SSH instead');
		}
		const binary = findHelperBinary(unameMachine(arch()));
		const isRoot = process.getuid?.() === 0;
		if (!isRoot) checkSudo();
		const [command, args] = isRoot
			? [binary.path, this.helperArgs]
			: ['sudo', ['-n', binary.path, ...this.helperArgs]];
		const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
		const exited = new Promise<HelperExit>((resolve) => {
			child.once('error', () => resolve({ code: null, signal: null }));
			child.once('close', (code, signal) => resolve({ code, signal }));
		});
		return {
			stdin: child.stdin,
			stdout: child.stdout,
			stderr: child.stderr,
			exited,
			close: () => { child.stdin.end(); },
		};
	}

	async readFile(path: string, maxBytes: number): Promise<Buffer> {
		const size = (await stat(path).catch((err: unknown) => {
			throw new CheckpointError('not-found', `cannot read ${path}: ${errorMessage(err)}`);
		})).size;
		if (size > maxBytes) throw new CheckpointError('bad-request', `${path} is ${size} bytes, more than the ${maxBytes} read of a source file`);
		return readFile(path);
	}

	async imageSource(dir: string): Promise<ImageSource> {
		return new LocalImageSource(dir);
	}

	async close(): Promise<void> {}
}

function checkSudo(): void {
	const result = spawnSync('sudo', ['-n', 'true'], { encoding: 'utf8' });
	if (result.status === 0) return;
	if (/password/i.test(result.stderr ?? '')) {
		throw new CheckpointError('sudo-password', 'the helper must run as root, and sudo asks for a password; run as root or allow passwordless sudo (NOPASSWD) for the helper');
	}
	throw new CheckpointError('not-permitted', `the helper must run as root, and "sudo -n" failed: ${result.stderr?.trim() || result.error?.message}`);
}
