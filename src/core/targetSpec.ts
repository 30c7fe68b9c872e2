/**
 * Turns the ways a user names a target into a Target: "local", an
 * ssh://user@host:port URL, or a file holding the JSON line that
 * `npm run target:up` prints.
 */
import { readFileSync } from 'node:fs';
import { CheckpointError } from './errors';
import { LocalTarget } from './targets/local';
import { SshTarget, type SshTargetOptions } from './targets/ssh';
import type { Target } from './target';

export interface TargetFlags {
	identityFile?: string;
	knownHostsFile?: string;
	helperArgs?: string[];
}

export interface ConnectionFile {
	host: string;
	port?: number;
	user?: string;
	identityFile?: string;
	knownHostsFile?: string;
}

export function parseConnectionFile(path: string, text: string): ConnectionFile {
	const line = text.split('\n').map((l) => l.trim()).filter(Boolean).pop();
	let value: unknown;
	try {
		value = JSON.parse(line ?? '');
	} catch {
		throw new CheckpointError('usage', `${path} does not end with a JSON connection line like the one "npm run target:up" prints`);
	}
	const v = value as Record<string, unknown> | null;
	if (!v || typeof v.host !== 'string' || !v.host) throw new CheckpointError('usage', `the connection line in ${path} has no "host"`);
	if (v.port !== undefined && !(Number.isInteger(v.port) && (v.port as number) > 0 && (v.port as number) < 65536)) {
		throw new CheckpointError('usage', `the connection line in ${path} has "port": ${JSON.stringify(v.port)}; it must be a number from 1 to 65535`);
	}
	for (const key of ['user', 'identityFile', 'knownHostsFile'] as const) {
		if (v[key] !== undefined && typeof v[key] !== 'string') throw new CheckpointError('usage', `the connection line in ${path} has a "${key}" that is not a string`);
	}
	return v as unknown as ConnectionFile;
}

export function parseSshUrl(url: string): Pick<SshTargetOptions, 'host' | 'port' | 'user'> {
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		throw new CheckpointError('usage', `"${url}" is not an ssh:// URL; write it as ssh://user@host:port`);
	}
	if (parsed.protocol !== 'ssh:' || !parsed.hostname) throw new CheckpointError('usage', `"${url}" is not an ssh:// URL; write it as ssh://user@host:port`);
	return {
		host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
		port: parsed.port ? Number(parsed.port) : 22,
		user: parsed.username ? userName(url, parsed.username) : undefined,
	};
}

/** The URL's user name, its %XX escapes decoded (a "@" in a name is written %40). */
function userName(url: string, escaped: string): string {
	try {
		return decodeURIComponent(escaped);
	} catch {
		throw new CheckpointError('usage', `the user name in "${url}" has a "%" that is not followed by an escape of UTF-8 (write a "%" as %25, a "@" as %40)`);
	}
}

export function targetFromSpec(spec: string, flags: TargetFlags = {}): Target {
	if (spec === 'local') return new LocalTarget(flags.helperArgs);
	if (spec.startsWith('ssh://')) {
		return new SshTarget({ ...parseSshUrl(spec), identityFile: flags.identityFile, knownHostsFile: flags.knownHostsFile, helperArgs: flags.helperArgs });
	}
	let text: string;
	try {
		text = readFileSync(spec, 'utf8');
	} catch (err) {
		throw new CheckpointError('usage', `--target ${spec}: not "local", not an ssh:// URL, and not a readable connection file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
	}
	const c = parseConnectionFile(spec, text);
	return new SshTarget({
		host: c.host, port: c.port, user: c.user,
		identityFile: flags.identityFile ?? c.identityFile,
		knownHostsFile: flags.knownHostsFile ?? c.knownHostsFile,
		helperArgs: flags.helperArgs,
	});
}
