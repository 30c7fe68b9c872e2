/**
 * What the integration tests stand on: the target host that
 * `npm run target:up` started (real sshd, real CRIU), a shell on it over
 * SSH that is independent of the code under test, and the workload
 * programs of test/workloads, compiled there.
 */
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type SFTPWrapper } from 'ssh2';
import { HelperSession } from '../../src/core/session';
import { parseConnectionFile, type ConnectionFile } from '../../src/core/targetSpec';
import { shellQuote, SshTarget } from '../../src/core/targets/ssh';

export const REPO = join(__dirname, '..', '..', '..');
const DEFAULT_CONNECTION_FILE = '/run/checkpoint-debugger-target/connection.json';
const WORKLOAD_DIR = '/opt/checkpoint-debugger-tests';
export const WORKLOAD = `${WORKLOAD_DIR}/workload`;

/** text matched literally inside a RegExp. */
export function escapeRegExp(text: string): string {
	return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function connectionFilePath(): string {
	return process.env.CKPT_TARGET_FILE ?? DEFAULT_CONNECTION_FILE;
}

export function connection(): ConnectionFile & { port: number; user: string } {
	const path = connectionFilePath();
	let text: string;
	try {
		text = readFileSync(path, 'utf8');
	} catch {
		throw new Error(`no target host connection file at ${path}: start the target with "npm run target:up" (as root)`);
	}
	const c = parseConnectionFile(path, text);
	return { ...c, port: c.port ?? 22, user: c.user ?? 'root' };
}

/** An SSH target for the code under test, from the connection file. */
/**
 * Debian forky's CRIU 4.2.1, beside trixie's 4.1.1 on the target (see
 * test/target/rootfs-recipe.sh): 4.1.x cannot dump TCP sockets on Linux >=
 * 6.16, so the tests of saved connections ask the helper for this one (--criu).
 */
export const NEWER_CRIU = '/opt/criu-forky/usr/sbin/criu';

/** The target, its helper running NEWER_CRIU. */
export function newerCriuTarget(): SshTarget {
	return sshTarget({ helperArgs: ['--criu', NEWER_CRIU] });
}

export function sshTarget(overrides: Partial<ConstructorParameters<typeof SshTarget>[0]> = {}): SshTarget {
	const c = connection();
	return new SshTarget({ host: c.host, port: c.port, user: c.user, identityFile: c.identityFile, knownHostsFile: c.knownHostsFile, ...overrides });
}

export interface RunResult {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** A plain SSH shell on the target, for setting up and observing from outside the tree. */
export class TargetShell {
	/** Roots of the programs start() started, for killStarted(). */
	private readonly started: number[] = [];

	private constructor(private readonly client: Client) {}

	static async open(): Promise<TargetShell> {
		const c = connection();
		const client = new Client();
		await new Promise<void>((resolve, reject) => {
			client.once('ready', resolve).once('error', reject).connect({
				host: c.host, port: c.port, username: c.user,
				privateKey: readFileSync(c.identityFile ?? ''),
				readyTimeout: 20000,
			});
		});
		return new TargetShell(client);
	}

	run(command: string): Promise<RunResult> {
		return new Promise((resolve, reject) => {
			this.client.exec(command, (err, channel) => {
				if (err) return reject(err);
				let stdout = '';
				let stderr = '';
				channel.on('data', (d: Buffer) => { stdout += d.toString(); });
				channel.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
				channel.on('close', (code: number | null) => resolve({ code, stdout, stderr }));
			});
		});
	}

	/** Runs a command that must succeed; returns its stdout. */
	async ok(command: string): Promise<string> {
		const r = await this.run(command);
		if (r.code !== 0) throw new Error(`on the target, "${command}" exited ${r.code}: ${r.stderr.trim()}`);
		return r.stdout;
	}

	async writeFile(path: string, data: Buffer | string): Promise<void> {
		const sftp = await new Promise<SFTPWrapper>((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
		try {
			await new Promise<void>((resolve, reject) => sftp.writeFile(path, data, (err) => (err ? reject(err) : resolve())));
		} finally {
			sftp.end();
		}
	}

	/** Compiles test/workloads/workload.c on the target (its gcc, its libc). */
	async buildWorkload(): Promise<void> {
		await this.buildProgram('workload');
	}

	/** Uploads test/workloads/NAME.c and the shared header, compiles them into WORKLOAD_DIR/NAME (optimised with optimize: -O1, or "-g -O0" for gdb). */
	async buildProgram(name: string, optimize = '-O1'): Promise<string> {
		const out = `${WORKLOAD_DIR}/${name}`;
		await this.ok(`mkdir -p ${WORKLOAD_DIR}`);
		for (const file of [`${name}.c`, 'record.h']) {
			await this.writeFile(`${WORKLOAD_DIR}/${file}`, readFileSync(join(REPO, 'test', 'workloads', file)));
		}
		await this.ok(`gcc -std=c11 ${optimize} -Wall -Wextra -Werror -pthread -o ${out}.new ${out}.c && mv ${out}.new ${out}`);
		return out;
	}

	/**
	 * Starts a program detached as its own session leader with clean stdio
	 * (what CRIU expects of a tree it dumps without --shell-job), in a fresh
	 * state directory; returns its pid and that directory.
	 */
	async start(args: string[]): Promise<{ pid: number; dir: string }> {
		const dir = (await this.ok('mktemp -d /tmp/ckpt-test-XXXXXX')).trim();
		const words = args.map((a) => shellQuote(a.replace(/\{dir\}/g, dir))).join(' ');
		const out = await this.ok(`cd ${dir} && { setsid ${words} </dev/null >/dev/null 2>&1 & echo $!; }`);
		const pid = Number(out.trim());
		if (!Number.isInteger(pid) || pid <= 0) throw new Error(`could not start ${args.join(' ')}: ${out}`);
		this.started.push(pid);
		return { pid, dir };
	}

	/** The counters a workload published in DIR/NAME: [pid, c1, c2, ...]. */
	async record(dir: string, name = 'state'): Promise<number[]> {
		const r = await this.run(`cat ${dir}/${name} 2>/dev/null`);
		return r.stdout.trim().split(/\s+/).filter(Boolean).map(Number);
	}

	/** Waits until the record (pid first, then counters) is accepted. */
	async waitForRecord(dir: string, name: string, accept: (rec: number[]) => boolean, timeoutMs = 10000): Promise<number[]> {
		return pollUntil(() => this.record(dir, name), (rec) => rec.length > 1 && accept(rec), timeoutMs,
			(rec) => `${dir}/${name} never reached the expected state; last record: ${rec.join(' ') || '(none)'}`);
	}

	/** The counters of the named records, in order (each record's pid left out). */
	async counters(dir: string, names: string[]): Promise<number[]> {
		const all: number[] = [];
		for (const name of names) all.push(...(await this.record(dir, name)).slice(1));
		return all;
	}

	/** Waits until the counters of the named records are accepted; `what` says what failed. */
	async waitForCounters(dir: string, names: string[], accept: (c: number[]) => boolean, what: string, timeoutMs = 10000): Promise<number[]> {
		return pollUntil(() => this.counters(dir, names), (c) => c.length > 0 && accept(c), timeoutMs,
			(c) => `${what}: the counters of ${names.join(', ')} in ${dir} stayed at ${c.join(' ') || '(none)'}`);
	}

	/** Waits until something listens on TCP port on the target. */
	async waitForListener(port: number): Promise<void> {
		await pollUntil(async () => (await this.run(`ss -Htln 'sport = :${port}'`)).stdout.trim(), (out) => out !== '', 5000,
			() => `nothing listens on port ${port} on the target`);
	}

	async isAlive(pid: number): Promise<boolean> {
		const r = await this.run(`kill -0 ${pid} 2>/dev/null && ! grep -q '^State:.*Z' /proc/${pid}/status`);
		return r.code === 0;
	}

	/** Kills every tree start() started (for a test file's after hook). */
	async killStarted(): Promise<void> {
		for (const pid of this.started.splice(0)) await this.killTree(pid);
	}

	/** Kills the tree rooted at pid (SIGKILL) and waits until it is gone. */
	async killTree(pid: number): Promise<void> {
		await this.run(`kill -KILL $(ps -o pid= --ppid ${pid}) ${pid} 2>/dev/null`);
		for (let i = 0; i < 100 && await this.isAlive(pid); i++) await sleep(50);
	}

	/**
	 * A login user on the target with our key authorised and a sudoers rule:
	 * "NOPASSWD: ALL" (passwordless sudo) or "ALL" (sudo asks a password).
	 */
	async ensureUser(user: string, sudoRule: 'NOPASSWD: ALL' | 'ALL'): Promise<void> {
		await this.ok([
			`id ${user} >/dev/null 2>&1 || useradd -m -s /bin/sh ${user}`,
			// "*": no password, but not a locked account (sshd refuses locked ones)
			`usermod -p '*' ${user}`,
			`install -d -m 0700 -o ${user} -g ${user} /home/${user}/.ssh`,
			`install -m 0600 -o ${user} -g ${user} /root/.ssh/authorized_keys /home/${user}/.ssh/authorized_keys`,
		].join(' && '));
		const rule = `/etc/sudoers.d/checkpoint-tests-${user}`;
		await this.writeFile(rule, `${user} ALL=(${sudoRule === 'ALL' ? 'ALL' : 'root'}) ${sudoRule}\n`);
		await this.ok(`chmod 0440 ${rule} && visudo -cq`);
	}

	close(): void {
		this.client.end();
	}
}

/** Reads until a value is accepted; past the deadline, fails with the last value read. */
export async function pollUntil<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number, failure: (last: T) => string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last = await read();
	while (!accept(last)) {
		if (Date.now() > deadline) throw new Error(failure(last));
		await sleep(40);
		last = await read();
	}
	return last;
}

/**
 * What most suites hold on the target: a shell (the workload built), a
 * helper session, and the checkpoints their tests took, removed at the end
 * newest first (a checkpoint others stand on is handed to them, not lost).
 * targetSuite() opens it before the suite's tests and closes it after them.
 */
export class TargetSuite {
	readonly checkpoints: string[] = [];
	private opened?: { shell: TargetShell; session: HelperSession };

	get shell(): TargetShell {
		return this.held().shell;
	}

	get session(): HelperSession {
		return this.held().session;
	}

	async open(): Promise<void> {
		const shell = await TargetShell.open();
		await shell.buildWorkload();
		this.opened = { shell, session: await HelperSession.open(sshTarget()) };
	}

	async close(): Promise<void> {
		if (!this.opened) return;
		await this.shell.killStarted();
		for (const id of [...this.checkpoints].reverse()) await this.session.remove(id).catch(() => undefined);
		await this.session.close();
		this.shell.close();
	}

	private held(): { shell: TargetShell; session: HelperSession } {
		if (!this.opened) throw new Error('the suite\'s target is not open yet (targetSuite() opens it before the first test)');
		return this.opened;
	}
}

/**
 * A suite's shell on the target (the workload built), opened before its
 * tests; after them its programs killed, cleanUp run (what else the suite
 * leaves), and it closed.
 */
export function shellSuite(cleanUp?: (shell: TargetShell) => Promise<unknown>): { readonly shell: TargetShell } {
	let opened: TargetShell | undefined;
	before(async () => {
		opened = await TargetShell.open();
		await opened.buildWorkload();
	});
	after(async () => {
		await opened?.killStarted();
		if (opened) await cleanUp?.(opened);
		opened?.close();
	});
	return {
		get shell(): TargetShell {
			if (!opened) throw new Error('the suite\'s shell is not open yet (shellSuite() opens it before the first test)');
			return opened;
		},
	};
}

/** Opens a suite before its tests (then runs opened, if given: what else the suite learns first), closes it after them. */
export function targetSuite(opened?: (suite: TargetSuite) => Promise<void>): TargetSuite {
	const suite = new TargetSuite();
	before(async () => {
		await suite.open();
		await opened?.(suite);
	});
	after(() => suite.close());
	return suite;
}

/**
 * A port for a test's listener on the target: random, below the ephemeral
 * range (32768 and up), where a connection's own source port (ssh's
 * included) could already hold it.
 */
export const testPort = (): number => 20000 + Math.floor(Math.random() * 12000);

/** Counter comparisons for waitForCounters: every counter against its twin in a reference. */
export const allAtLeast = (min: number[]) => (c: number[]): boolean => c.length === min.length && c.every((v, i) => v >= min[i]);
export const allBelow = (max: number[]) => (c: number[]): boolean => c.length === max.length && c.every((v, i) => v < max[i]);
export const allAbove = (min: number[]) => (c: number[]): boolean => c.length === min.length && c.every((v, i) => v > min[i]);
