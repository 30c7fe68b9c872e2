/**
 * The hosts a user can pick: those configured for the extension, those in
 * ~/.ssh/config (concrete Host entries, with HostName, Port, User,
 * IdentityFile and ProxyJump as OpenSSH computes them), and this machine.
 * A debug configuration names a target by one of these names, or by a spec
 * the CLI also takes (ssh://user@host:port, a connection file, "local").
 */
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import SSHConfig, { type Line } from 'ssh-config';
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

/** A TCP port as ssh_config or a ProxyJump hop writes it: decimal, 1 to 65535; undefined for anything else. */
function tcpPort(text: string): number | undefined {
	const port = /^\d{1,5}$/.test(text) ? Number(text) : 0;
	return port >= 1 && port <= 65535 ? port : undefined;
}

function detailOf(o: SshTargetOptions): string {
	return `${o.user ?? process.env.USER ?? 'root'}@${o.host}:${o.port ?? 22}`;
}

type DirectiveValue = string | { val: string; separator: string; quoted?: boolean }[];

/** A directive's words as ssh-config split them (at blanks and "=", quotes taken off). */
function wordsOf(value: DirectiveValue): string[] {
	return typeof value === 'string' ? [value] : value.map((v) => v.val);
}

function valuesOf(value: DirectiveValue): string[] {
	return wordsOf(value).flatMap((v) => v.split(',')).filter(Boolean);
}

/** The options the catalog shows (ssh_config keywords, in lower case), and CanonicalizeHostName, which makes ssh read the file a second time (hostOptions). */
const KEYWORDS = ['hostname', 'port', 'user', 'identityfile', 'proxyjump', 'canonicalizehostname'] as const;
type Keyword = (typeof KEYWORDS)[number];
type HostOptions = Partial<Record<Keyword, string>>;
const isKeyword = (word: string): word is Keyword => (KEYWORDS as readonly string[]).includes(word);

/** The local user's name: "Match localuser" tests it, and "Match user" when no User was given. */
function localUserName(): string {
	try {
		return userInfo().username;
	} catch {
		// userInfo() throws for a user with no name or home directory.
		return process.env.USER || process.env.USERNAME || '';
	}
}

/** What a Match line is decided on, as the names stand when ssh reaches the line. */
interface MatchFacts {
	/** The HostName given by the lines before (%h-style tokens not expanded), else the name asked for. */
	host: string;
	/** The name asked for. */
	originalHost: string;
	/** The User given by the lines before, else the local user. */
	user: string;
	localUser: string;
	finalPass: boolean;
}

/**
 * Whether a Match line applies, by OpenSSH's readconf.c match_cfg_line: all
 * its criteria must hold, "!" before one negates it, an argument is a
 * comma-separated pattern list (./wildcards: linear time; "?" is one
 * character), matched in any case for host and originalhost and in exact case
 * for user and localuser, as OpenSSH does. "all" stands alone (OpenSSH also
 * lets it follow one criterion). "canonical" and "final" hold in the final
 * pass only (see hostOptions); a "final" that is not negated asks for that pass.
 *
 * The criteria the catalog cannot decide make the line not apply, negated or
 * not, so that nothing is applied on a guess: exec (a command is never run
 * here; ssh-config with matchExec false took an exec line as not matching
 * too), localnetwork, tagged, version, command and sessiontype (they depend
 * on the network or on how ssh is started). So do lines OpenSSH refuses (an
 * unknown criterion, a missing argument, "all" among others).
 *
 * The words are ssh-config's (SSHConfig.parse), which takes a negated "all",
 * "canonical" or "final" for a criterion with an argument and so refuses most
 * lines with one ("Match !final", "Match !canonical host x"): such a file
 * gives no hosts, as any file it cannot parse.
 */
function matchLine(words: readonly string[], facts: MatchFacts): { applies: boolean; wantsFinalPass: boolean } {
	let applies = true;
	let wantsFinalPass = false;
	let criteria = 0;
	for (let i = 0; i < words.length && !words[i].startsWith('#');) {
		const negated = words[i].startsWith('!');
		const criterion = words[i++].slice(negated ? 1 : 0).toLowerCase();
		if (criterion === 'all') {
			const alone = criteria <= 1 && (i === words.length || words[i].startsWith('#'));
			return { applies: alone && applies && !negated, wantsFinalPass };
		}
		criteria++;
		let holds: boolean | undefined;
		if (criterion === 'canonical' || criterion === 'final') {
			wantsFinalPass ||= criterion === 'final' && !negated;
			holds = facts.finalPass;
		} else {
			const argument = words[i++];
			if (!argument || argument.startsWith('#')) return { applies: false, wantsFinalPass };
			const patterns = argument.split(',');
			holds = criterion === 'host' ? patternListMatches(patterns, facts.host)
				: criterion === 'originalhost' ? patternListMatches(patterns, facts.originalHost)
				: criterion === 'user' ? patternListMatches(patterns, facts.user, { exactCase: true })
				: criterion === 'localuser' ? patternListMatches(patterns, facts.localUser, { exactCase: true })
				: undefined;
		}
		if (holds === undefined || holds === negated) applies = false;
	}
	return { applies: applies && criteria > 0, wantsFinalPass };
}

/**
 * The options ssh uses for `name`, computed here rather than by ssh-config's
 * compute, whose Host and Match patterns are regular expressions ("*" as
 * ".*", "?" as ".?") that backtrack exponentially ("Host web" and 63 stars,
 * "Match host" and 40 "?" held the Targets view for minutes) and take "?"
 * for zero characters or one. As OpenSSH reads the file: lines in order, a
 * Host section applying when its patterns take the name, a Match section when
 * matchLine says so, the first value given for an option winning.
 *
 * OpenSSH reads the file a second time, the final pass, when a Match line
 * asked for it ("Match final") or CanonicalizeHostName is on; values already
 * given stay. In that pass the host is the HostName found, or the name (ssh
 * sets it before the pass, so a HostName first given there changes nothing);
 * Host lines and "Match host" see it, and "canonical" and "final" hold: in a
 * single read both are false (and "!canonical", "!final" true). The name is
 * not canonicalised (that is a DNS lookup in CanonicalDomains, which the
 * catalog does not make): the final pass sees what ssh sees when the lookup
 * finds nothing.
 */
function hostOptions(config: SSHConfig, name: string, localUser: string): HostOptions {
	const options: HostOptions = {};
	const take = (lines: Iterable<Line>): void => {
		for (const line of lines) {
			if (line.type !== SSHConfig.DIRECTIVE) continue;
			const keyword = line.param.toLowerCase();
			if (isKeyword(keyword) && options[keyword] === undefined) options[keyword] = wordsOf(line.value)[0];
		}
	};
	// An empty HostName ("HostName" and nothing after it) is as good as none: the name is the host.
	const host = (): string => options.hostname || name;
	const pass = (finalPass: boolean): boolean => {
		let wantsFinalPass = false;
		for (const line of config) {
			if (line.type !== SSHConfig.DIRECTIVE) continue;
			if (!('config' in line)) {
				take([line]);
			} else if (/^host$/i.test(line.param)) {
				if (patternListMatches(valuesOf(line.value), finalPass ? host() : name)) take(line.config);
			} else {
				const facts = { host: host(), originalHost: name, user: options.user ?? localUser, localUser, finalPass };
				const match = matchLine(wordsOf(line.value), facts);
				wantsFinalPass ||= match.wantsFinalPass;
				if (match.applies) take(line.config);
			}
		}
		return wantsFinalPass;
	};
	if (pass(false) || /^(yes|true|always)$/i.test(options.canonicalizehostname ?? '')) {
		options.hostname = host();
		pass(true);
	}
	return options;
}

/** The concrete Host names of an ssh_config text (patterns and negations are not hosts one can pick). */
export function sshConfigHosts(text: string): CatalogEntry[] {
	const config = SSHConfig.parse(text);
	const localUser = localUserName();
	const names = new Set<string>();
	for (const line of config) {
		if (!('param' in line) || line.param.toLowerCase() !== 'host') continue;
		const values = typeof line.value === 'string' ? line.value.split(/\s+/) : line.value.map((v) => v.val);
		for (const name of values) if (name && !/[*?!]/.test(name)) names.add(name);
	}
	return [...names].map((name) => {
		const c = hostOptions(config, name, localUser);
		const portText = c.port;
		const port = portText === undefined ? undefined : tcpPort(portText);
		// OpenSSH refuses such a config outright ("Bad port"); here the other hosts stay usable.
		const problem = portText !== undefined && port === undefined
			? `~/.ssh/config gives ${name} the Port "${portText}", which is not a port number (1 to 65535); fix it there`
			: undefined;
		const ssh: SshTargetOptions = {
			// An empty HostName ("HostName" and nothing after it) is as good as none: the name is the host.
			host: c.hostname || name,
			port,
			user: c.user,
			identityFile: c.identityfile ? expandHome(c.identityfile) : undefined,
		};
		const jump = c.proxyjump;
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
