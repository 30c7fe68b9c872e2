/**
 * A target reached over SSH (ssh2). Host keys are verified against
 * known_hosts: unknown and changed keys are refused with what to do. One
 * connection serves every helper started through it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { CheckpointError, errorMessage } from '../errors';
import { findHelperBinary, type HelperBinary } from '../helperBinary';
import { SftpImageSource, type ImageSource } from '../images/source';
import {
	fingerprint, knownHostsLine, knownHostsName, parseKnownHosts, verifyHostKey, type HostKeyVerdict,
} from '../knownHosts';
import type { HelperChannel, HelperExit, Target } from '../target';

export interface SshTargetOptions {
	host: string;
	port?: number;
	user?: string;
	/** Private key file; without it the SSH agent ($SSH_AUTH_SOCK) is used. */
	identityFile?: string;
	passphrase?: string;
	/** Default ~/.ssh/known_hosts. */
	knownHostsFile?: string;
	readyTimeoutMs?: number;
	/** Extra arguments for the helper (e.g. --store DIR). */
	helperArgs?: string[];
	/** A host to reach this one through (OpenSSH's ProxyJump); it may have a jump of its own. */
	jump?: SshTargetOptions;
}

interface ExecResult {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** Quotes one word for the remote POSIX shell that sshd runs commands with. */
export function shellQuote(word: string): string {
	return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** An unknown host key, with what a user interface needs to ask whether to trust it. */
export class UnknownHostKeyError extends CheckpointError {
	constructor(readonly hostName: string, readonly fingerprint: string, readonly knownHostsLine: string, readonly knownHostsFile: string) {
		super('host-key-unknown', `the host key of ${hostName} is not known (${fingerprint}). If that fingerprint is right, trust it by adding this line to ${knownHostsFile}:\n${knownHostsLine}`);
	}
}

export class SshTarget implements Target {
	readonly description: string;
	private client?: Client;
	private connecting?: Promise<Client>;
	private imageSftp?: Promise<SFTPWrapper>;
	private readonly port: number;
	private readonly user: string;
	private jumpHost?: SshTarget;

	constructor(private readonly options: SshTargetOptions) {
		this.port = options.port ?? 22;
		this.user = options.user ?? process.env.USER ?? 'root';
		const host = options.host.includes(':') ? `[${options.host}]` : options.host;
		this.description = `${this.user}@${host}:${this.port}`;
		if (options.jump) this.description += ` via ${new SshTarget(options.jump).description}`;
	}

	connect(): Promise<Client> {
		if (this.client) return Promise.resolve(this.client);
		this.connecting ??= this.openConnection().finally(() => { this.connecting = undefined; });
		return this.connecting;
	}

	async startHelper(): Promise<HelperChannel> {
		const client = await this.connect();
		const machine = (await this.run(client, 'uname -m')).stdout.trim();
		const binary = findHelperBinary(machine);
		const isRoot = (await this.run(client, 'id -u')).stdout.trim() === '0';
		if (!isRoot) await this.checkSudo(client);
		const remotePath = await this.uploadHelper(client, binary);
		const words = [remotePath, ...(this.options.helperArgs ?? [])].map(shellQuote);
		const command = `exec ${isRoot ? '' : 'sudo -n '}${words.join(' ')}`;
		const channel = await this.exec(client, command);
		return channelToHelper(channel);
	}

	/** Image files over one SFTP session, kept open until the target closes. */
	async imageSource(dir: string): Promise<ImageSource> {
		const client = await this.connect();
		this.imageSftp ??= openSftp(client, this.description).catch((err: unknown) => {
			this.imageSftp = undefined;
			throw err;
		});
		return new SftpImageSource(await this.imageSftp, dir, this.description);
	}

	async readFile(path: string, maxBytes: number): Promise<Buffer> {
		const client = await this.connect();
		this.imageSftp ??= openSftp(client, this.description).catch((err: unknown) => {
			this.imageSftp = undefined;
			throw err;
		});
		const sftp = await this.imageSftp;
		const stat = await sftpCall<{ size: number }>((cb) => sftp.stat(path, cb)).catch((err: unknown) => {
			throw new CheckpointError('not-found', `cannot read ${path} on ${this.description}: ${errorMessage(err)}`);
		});
		if (stat.size > maxBytes) throw new CheckpointError('bad-request', `${path} on ${this.description} is ${stat.size} bytes, more than the ${maxBytes} read of a source file`);
		return sftpCall<Buffer>((cb) => sftp.readFile(path, cb));
	}

	async close(): Promise<void> {
		const client = this.client;
		this.client = undefined;
		this.imageSftp = undefined;
		if (client) {
			await new Promise<void>((resolve) => {
				client.once('close', () => resolve());
				client.end();
				setTimeout(resolve, 2000).unref();
			});
		}
		await this.jumpHost?.close();
		this.jumpHost = undefined;
	}

	/** Drops the TCP connection at once, as a network failure would. */
	dropConnection(): void {
		const client = this.client as (Client & { _sock?: { destroy(): void } }) | undefined;
		this.client = undefined;
		client?._sock?.destroy();
	}

	/** Through a jump host: a TCP stream to this host opened from there (its host key checked like any other). */
	private async tunnel(): Promise<Duplex | undefined> {
		if (!this.options.jump) return undefined;
		this.jumpHost ??= new SshTarget(this.options.jump);
		const via = this.jumpHost;
		const client = await via.connect();
		return new Promise((resolve, reject) => {
			client.forwardOut('127.0.0.1', 0, this.options.host, this.port, (err, stream) => {
				if (err) reject(new CheckpointError('connection', `the jump host ${via.description} cannot reach ${this.options.host}:${this.port}: ${err.message}`));
				else resolve(stream);
			});
		});
	}

	private async openConnection(): Promise<Client> {
		const { host } = this.options;
		const sock = await this.tunnel();
		const knownHostsFile = this.options.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts');
		const entries = parseKnownHosts(readTextOrEmpty(knownHostsFile));
		let verdict: HostKeyVerdict = { status: 'unknown' };
		let offeredKey: Buffer = Buffer.alloc(0);
		const config: ConnectConfig = {
			host,
			port: this.port,
			username: this.user,
			readyTimeout: this.options.readyTimeoutMs ?? 20000,
			keepaliveInterval: 10000,
			keepaliveCountMax: 3,
			sock,
			hostVerifier: (key: Buffer): boolean => {
				offeredKey = key;
				verdict = verifyHostKey(entries, host, this.port, key);
				return verdict.status === 'trusted';
			},
			...this.authConfig(),
		};
		return new Promise<Client>((resolve, reject) => {
			const client = new Client();
			client.once('ready', () => {
				// Helper requests and answers are small and go back and forth: without
				// TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to many round trips.
				client.setNoDelay(true);
				this.client = client;
				client.once('close', () => { if (this.client === client) this.client = undefined; });
				resolve(client);
			});
			client.once('error', (err: Error & { level?: string; code?: string }) => {
				reject(this.connectError(err, verdict, offeredKey, knownHostsFile));
			});
			client.connect(config);
		});
	}

	private authConfig(): Partial<ConnectConfig> {
		const { identityFile, passphrase } = this.options;
		if (identityFile) {
			let privateKey: Buffer;
			try {
				privateKey = readFileSync(identityFile);
			} catch (err) {
				throw new CheckpointError('authentication', `cannot read identity file ${identityFile}: ${(err as Error).message}`);
			}
			return { privateKey, passphrase };
		}
		if (process.env.SSH_AUTH_SOCK) return { agent: process.env.SSH_AUTH_SOCK };
		throw new CheckpointError('authentication',
			`no way to authenticate to ${this.description}: give an identity file (--identity FILE) or start an SSH agent (SSH_AUTH_SOCK)`);
	}

	private connectError(err: Error & { level?: string; code?: string }, verdict: HostKeyVerdict, key: Buffer, knownHostsFile: string): CheckpointError {
		const name = knownHostsName(this.options.host, this.port);
		if (verdict.status === 'unknown' && key.length > 0) {
			return new UnknownHostKeyError(name, fingerprint(key), knownHostsLine(this.options.host, this.port, key), knownHostsFile);
		}
		if (verdict.status === 'changed') {
			return new CheckpointError('host-key-changed',
				`the host key of ${name} has CHANGED (now ${fingerprint(key)}; ${knownHostsFile} line ${verdict.line} holds another): someone may be intercepting the connection, or the host was reinstalled. Refusing to connect. If the change is expected, remove that line and connect again.`);
		}
		if (verdict.status === 'revoked') {
			return new CheckpointError('host-key-changed', `the host key of ${name} is marked @revoked in ${knownHostsFile} line ${verdict.line}; refusing to connect`);
		}
		if (err.level === 'client-authentication') {
			const how = this.options.identityFile ? `the identity file ${this.options.identityFile}` : 'the keys of the SSH agent';
			return new CheckpointError('authentication',
				`${this.description} did not accept ${how}. Check the user name and that the public key is in ~/.ssh/authorized_keys on the host.`);
		}
		if (err.level === 'client-timeout') {
			return new CheckpointError('connection', `${this.description} did not complete the SSH handshake in time; check the host and port`);
		}
		return new CheckpointError('connection', `cannot connect to ${this.description}: ${err.message}`);
	}

	private exec(client: Client, command: string): Promise<ClientChannel> {
		return new Promise((resolve, reject) => {
			client.exec(command, (err, channel) => {
				if (err) reject(new CheckpointError('connection', `${this.description} refused to run a command: ${err.message}`));
				else resolve(channel);
			});
		});
	}

	private async run(client: Client, command: string): Promise<ExecResult> {
		const channel = await this.exec(client, command);
		return new Promise((resolve) => {
			let stdout = '';
			let stderr = '';
			channel.on('data', (d: Buffer) => { stdout += d.toString(); });
			channel.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
			channel.on('close', (code: number | null) => resolve({ code, stdout, stderr }));
		});
	}

	private async checkSudo(client: Client): Promise<void> {
		const result = await this.run(client, 'sudo -n true');
		if (result.code === 0) return;
		if (/password/i.test(result.stderr)) {
			throw new CheckpointError('sudo-password',
				`the helper must run as root, and sudo on ${this.options.host} asks ${this.user} for a password. Connect as root, or allow ${this.user} passwordless sudo (NOPASSWD) for ~/.cache/checkpoint-debugger/checkpoint-helper-*.`);
		}
		throw new CheckpointError('not-permitted', `the helper must run as root, and "sudo -n" failed on ${this.options.host}: ${result.stderr.trim() || `exit ${result.code}`}`);
	}

	/** Whether remotePath holds exactly this helper (size, then content hash). */
	private async hasCopy(client: Client, sftp: SFTPWrapper, remotePath: string, binary: HelperBinary): Promise<boolean> {
		const existing = await sftpCall<{ size: number }>((cb) => sftp.stat(remotePath, cb)).catch(() => undefined);
		if (existing?.size !== binary.bytes.length) return false;
		const sum = await this.run(client, `sha256sum ${shellQuote(remotePath)}`);
		return sum.code === 0 && sum.stdout.split(' ')[0] === binary.sha256;
	}

	/** Uploads the helper under a name carrying its content hash, unless it is already there. */
	private async uploadHelper(client: Client, binary: HelperBinary): Promise<string> {
		const sftp = await openSftp(client, this.description);
		try {
			const home = await sftpCall<string>((cb) => sftp.realpath('.', cb));
			const dir = `${home}/.cache/checkpoint-debugger`;
			const remotePath = `${dir}/checkpoint-helper-${binary.machine}-${binary.sha256.slice(0, 16)}`;
			if (await this.hasCopy(client, sftp, remotePath, binary)) return remotePath;
			await sftpMkdirs(sftp, dir);
			const partial = `${remotePath}.partial-${randomBytes(4).toString('hex')}`;
			await sftpCall<void>((cb) => sftp.writeFile(partial, binary.bytes, { mode: 0o700 }, cb));
			await sftpCall<void>((cb) => sftp.chmod(partial, 0o700, cb));
			await sftpCall<void>((cb) => sftp.ext_openssh_rename(partial, remotePath, cb));
			return remotePath;
		} finally {
			sftp.end();
		}
	}
}

function openSftp(client: Client, where: string): Promise<SFTPWrapper> {
	return new Promise((resolve, reject) => {
		client.sftp((err, s) => (err ? reject(new CheckpointError('connection', `SFTP is not available on ${where}: ${err.message}`)) : resolve(s)));
	});
}

function readTextOrEmpty(path: string): string {
	try {
		return readFileSync(path, 'utf8');
	} catch {
		return '';
	}
}

function sftpCall<T>(call: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
	return new Promise((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value))));
}

async function sftpMkdirs(sftp: SFTPWrapper, dir: string): Promise<void> {
	const parts = dir.split('/').filter(Boolean);
	let path = '';
	for (const part of parts) {
		path += `/${part}`;
		const exists = await sftpCall<unknown>((cb) => sftp.stat(path, cb)).then(() => true, () => false);
		if (!exists) await sftpCall<void>((cb) => sftp.mkdir(path, { mode: 0o700 }, cb));
	}
}

function channelToHelper(channel: ClientChannel): HelperChannel {
	const exited = new Promise<HelperExit>((resolve) => {
		let exit: HelperExit = { code: null, signal: null };
		channel.on('exit', (code: number | null, signal?: string) => { exit = { code, signal: signal ?? null }; });
		channel.on('close', () => resolve(exit));
	});
	return {
		stdin: channel,
		stdout: channel,
		stderr: channel.stderr,
		exited,
		close: () => { channel.end(); },
	};
}
