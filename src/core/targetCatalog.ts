/**
 * The hosts a user can pick: those configured for the extension, those in
 * ~/.ssh/config (concrete Host entries, with HostName, Port, User,
 * IdentityFile and ProxyJump as OpenSSH computes them), and this machine.
 * A debug configuration names a target by one of these names, or by a spec
 * the CLI also takes (ssh://user@host:port, a connection file, "local").
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { CheckpointError } from './errors';
import { patternListMatches } from './wildcards';
import { targetFromSpec } from './targetSpec';
import { LocalTarget } from './targets/local';
import { SshTarget, type SshTargetOptions } from './targets/ssh';
import type { Target } from './target';

export interface ConfiguredHost {
	name?: string;
	host: string;
	port?: number;
	user?: string;
	identityFile?: string;
	/** Default ~/.ssh/known_hosts. */
	knownHostsFile?: string;
	/** The CRIU binary the helper runs there (default: the one installed). */
	criuPath?: string;
}

export interface CatalogEntry {
	/** What the Targets view shows and a debug configuration's "target" says. */
	name: string;
	source: 'settings' | 'ssh-config' | 'local';
	/** For display: user@host:port, or "this machine". */
	detail: string;
	ssh?: SshTargetOptions;
	/** A ProxyJump hop, as written (user@host:port or a Host name). */
	proxyJump?: string;
	/** Why the entry cannot be connected to (a Port that is no port number), said where it is listed and when it is opened. */
	problem?: string;
}

export const LOCAL_NAME = 'This machine';

const expandHome = (path: string): string => (path.startsWith('~/') ? join(homedir(), path.slice(2)) : path);

function first(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value[0] : value;
}

/** A TCP port as ssh_config or a ProxyJump hop writes it: decimal, 1 to 65535; undefined for anything else. */
function tcpPort(text: string): number | undefined {
	const port = /^\d{1,5}$/.test(text) ? Number(text) : 0;
	return port >= 1 && port <= 65535 ? port : undefined;
}

function detailOf(o: SshTargetOptions): string {
	return `${o.user ?? process.env.USER ?? 'root'}@${o.host}:${o.port ?? 22}`;
}

type DirectiveValue = string | { val: string; separator: string; quoted?: boolean }[];

function valuesOf(value: DirectiveValue): string[] {
	return (typeof value === 'string' ? [value] : value.map((v) => v.val)).flatMap((v) => v.split(',')).filter(Boolean);
}

/**
 * ssh-config 5.3 matches Host and Match patterns as regular expressions ("*"
 * as ".*", "?" as ".?"), which backtrack exponentially: "Host web" and 63
 * stars, or a "*" and 40 "?", held the Targets view for minutes. (Its "?"
 * also matches no character, where OpenSSH's matches exactly one.) So the
 * Host lines are decided here, by OpenSSH's rules (./wildcards), for the one
 * name computed: in the config handed to ssh-config, a Host line that takes
 * the name says "*", one that does not says "!*". Match lines keep their
 * patterns, runs of "*" made one (a run matches what one star does).
 */
function configFor(config: SSHConfig, name: string): SSHConfig {
	const collapse = (value: DirectiveValue): DirectiveValue => {
		const one = (text: string): string => text.replace(/\*{2,}/g, '*');
		return typeof value === 'string' ? one(value) : value.map((v) => ({ ...v, val: one(v.val) }));
	};
	const view = new SSHConfig();
	for (const line of config) {
		if (line.type === SSHConfig.DIRECTIVE && /^host$/i.test(line.param)) {
			view.push({ ...line, value: patternListMatches(valuesOf(line.value), name) ? '*' : '!*' });
		} else if (line.type === SSHConfig.DIRECTIVE && 'criteria' in line) {
			view.push({ ...line, criteria: Object.fromEntries(Object.entries(line.criteria).map(([key, value]) => [key, collapse(value)])) });
		} else {
			view.push(line);
		}
	}
	return view;
}

/** The concrete Host names of an ssh_config text (patterns and negations are not hosts one can pick). */
export function sshConfigHosts(text: string): CatalogEntry[] {
	const config = SSHConfig.parse(text);
	const names = new Set<string>();
	for (const line of config) {
		if (!('param' in line) || line.param.toLowerCase() !== 'host') continue;
		const values = typeof line.value === 'string' ? line.value.split(/\s+/) : line.value.map((v) => v.val);
		for (const name of values) if (name && !/[*?!]/.test(name)) names.add(name);
	}
	return [...names].map((name) => {
		const c = configFor(config, name).compute(name, { ignoreCase: true, matchExec: false });
		const portText = c.port ? first(c.port) : undefined;
		const port = portText === undefined ? undefined : tcpPort(portText);
		// OpenSSH refuses such a config outright ("Bad port"); here the other hosts stay usable.
		const problem = portText !== undefined && port === undefined
			? `~/.ssh/config gives ${name} the Port "${portText}", which is not a port number (1 to 65535); fix it there`
			: undefined;
		const ssh: SshTargetOptions = {
			// An empty HostName ("HostName" and nothing after it) is as good as none: the name is the host.
			host: first(c.hostname) || name,
			port,
			user: first(c.user),
			identityFile: c.identityfile ? expandHome(first(c.identityfile) ?? '') : undefined,
		};
		const jump = first(c.proxyjump);
		return {
			name, source: 'ssh-config', detail: problem ? `${ssh.host}: Port "${portText}" is not a port number` : detailOf(ssh), ssh,
			proxyJump: jump && jump !== 'none' ? jump : undefined, ...(problem ? { problem } : {}),
		};
	});
}

export class TargetCatalog {
	constructor(private readonly configured: () => ConfiguredHost[], private readonly sshConfigPath = join(homedir(), '.ssh', 'config')) {}

	entries(): CatalogEntry[] {
		const settings = this.configured().map((h): CatalogEntry => {
			const ssh: SshTargetOptions = {
				host: h.host, port: h.port, user: h.user,
				identityFile: h.identityFile ? expandHome(h.identityFile) : undefined,
				knownHostsFile: h.knownHostsFile ? expandHome(h.knownHostsFile) : undefined,
				helperArgs: h.criuPath ? ['--criu', h.criuPath] : undefined,
			};
			return { name: h.name || h.host, source: 'settings', detail: detailOf(ssh), ssh };
		});
		const local: CatalogEntry[] = process.platform === 'linux' ? [{ name: LOCAL_NAME, source: 'local', detail: 'this machine' }] : [];
		const known = new Set(settings.map((e) => e.name));
		return [...settings, ...this.sshConfig().filter((e) => !known.has(e.name)), ...local];
	}

	/** A Target for a name from entries(), or for a spec (ssh://..., a connection file, "local"). */
	open(nameOrSpec: string): Target {
		const entry = this.entries().find((e) => e.name === nameOrSpec);
		if (!entry) return targetFromSpec(nameOrSpec);
		if (entry.source === 'local') return new LocalTarget();
		if (entry.problem) throw new CheckpointError('usage', entry.problem);
		const ssh = entry.ssh ?? { host: nameOrSpec };
		return new SshTarget(entry.proxyJump ? { ...ssh, jump: this.jumpChain(entry.proxyJump, [entry.name]) } : ssh);
	}

	/**
	 * ProxyJump "a,b": connect to a, from there to b, from there to the host.
	 * Each hop is a Host of ~/.ssh/config (with its own settings) or [user@]host[:port].
	 */
	private jumpChain(proxyJump: string, seen: string[]): SshTargetOptions {
		let jump: SshTargetOptions | undefined;
		for (const hop of proxyJump.split(',').map((h) => h.trim()).filter(Boolean)) {
			if (seen.includes(hop)) throw new CheckpointError('usage', `ProxyJump loops through ${hop} (${[...seen, hop].join(' -> ')}); fix ~/.ssh/config`);
			const options = this.hopOptions(hop, [...seen, hop]);
			jump = { ...options, jump: options.jump ?? jump };
		}
		if (!jump) throw new CheckpointError('usage', `ProxyJump "${proxyJump}" names no host`);
		return jump;
	}

	private hopOptions(hop: string, seen: string[]): SshTargetOptions {
		const known = this.sshConfig().find((e) => e.name === hop);
		if (known?.problem) throw new CheckpointError('usage', `ProxyJump through ${hop}: ${known.problem}`);
		if (known?.ssh) return known.proxyJump ? { ...known.ssh, jump: this.jumpChain(known.proxyJump, seen) } : known.ssh;
		const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop);
		if (!m) throw new CheckpointError('usage', `cannot read the ProxyJump hop "${hop}"; write it as [user@]host[:port]`);
		const port = m[3] === undefined ? undefined : tcpPort(m[3]);
		if (m[3] !== undefined && port === undefined) throw new CheckpointError('usage', `the ProxyJump hop "${hop}" has the port ${m[3]}, which is not a port number (1 to 65535)`);
		return { host: m[2].replace(/^\[(.*)\]$/, '$1'), user: m[1], port };
	}

	private sshConfig(): CatalogEntry[] {
		let text: string;
		try {
			text = readFileSync(this.sshConfigPath, 'utf8');
		} catch {
			return [];
		}
		try {
			return sshConfigHosts(text);
		} catch {
			return [];
		}
	}
}
