/**
 * Fuzz target: how a user names a target host. The first input byte picks
 * the parser, the rest is its text:
 *  - sshConfigHosts (src/core/targetCatalog.ts): an ~/.ssh/config, through
 *    the ssh-config package;
 *  - parseConnectionFile (src/core/targetSpec.ts): the JSON line that
 *    `npm run target:up` prints;
 *  - parseSshUrl: an ssh://user@host:port URL;
 *  - Match lines of an ~/.ssh/config (sshConfigHosts): three lines, a host
 *    name, a pattern list, a HostName (or none), made into a config whose
 *    Match host, !host, originalhost and user lines test the pattern list.
 *
 * A bug: parseConnectionFile or parseSshUrl throwing anything but a
 * CheckpointError (their documented error, which the CLI and the editor
 * show); sshConfigHosts hanging or giving a host the Targets view cannot
 * use (no name, a pattern as a name, no host, a port that is not a TCP
 * port), or applying a Match line where OpenSSH would not (or not where it
 * would), as a plain reference matcher here decides. sshConfigHosts may throw
 * on a config ssh-config cannot parse: its one caller treats that as no hosts.
 */
import { CheckpointError } from '../../src/core/errors';
import { sshConfigHosts } from '../../src/core/targetCatalog';
import { parseConnectionFile, parseSshUrl } from '../../src/core/targetSpec';
import { allowOnly, FuzzInput, invariant } from './fuzzInput';

function validPort(port: number | undefined): boolean {
	return port === undefined || (Number.isInteger(port) && port >= 1 && port <= 65535);
}

function checkSshConfig(text: string): void {
	let entries: ReturnType<typeof sshConfigHosts>;
	try {
		entries = sshConfigHosts(text);
	} catch {
		return;
	}
	for (const e of entries) {
		invariant(e.name !== '' && !/[*?!]/.test(e.name), `a Host from ssh_config is a name, not a pattern: ${JSON.stringify(e.name)}`);
		invariant(!!e.ssh?.host, `the host ${JSON.stringify(e.name)} has an address to connect to`);
		invariant(validPort(e.ssh?.port), `the port of ${JSON.stringify(e.name)} is a TCP port, not ${e.ssh?.port}`);
	}
}

/**
 * OpenSSH's wildcards the slow, plain way, to check the catalog's against: a
 * table of which pattern prefixes match which name prefixes ("*" any run,
 * "?" one character).
 */
function referenceMatches(pattern: string, name: string): boolean {
	let row = [true, ...Array<boolean>(name.length).fill(false)];
	for (const p of pattern) {
		const next = [p === '*' && row[0]];
		for (let j = 1; j <= name.length; j++) next[j] = p === '*' ? next[j - 1] || row[j] : row[j - 1] && (p === '?' || p === name[j - 1]);
		row = next;
	}
	return row[name.length];
}

/** A comma-separated list: some pattern matches and no "!pattern" does. */
function referenceListMatches(list: string, name: string): boolean {
	const patterns = list.split(',');
	const negated = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
	return patterns.some((p) => !p.startsWith('!') && referenceMatches(p, name)) && !negated.some((p) => referenceMatches(p, name));
}

/**
 * Each option is set by one Match line only (first value wins), so each says
 * whether its line applied: Port by "host" (2001) or "!host" (2002), both
 * seeing the HostName given before them; IdentityFile by "originalhost";
 * ProxyJump by "user" (the User given before, the name). Lower case only, and
 * no character ssh-config's parser treats specially: what sshConfigHosts
 * makes of any text is checkSshConfig's part.
 */
function checkMatchLines(text: string): void {
	const [nameLine = '', patternLine = '', hostNameLine = ''] = text.split('\n');
	const name = nameLine.replace(/[^a-z0-9.-]/g, '').slice(0, 64) || 'h';
	const patterns = patternLine.replace(/[^a-z0-9.*?,!-]/g, '').slice(0, 256) || '*';
	const hostName = hostNameLine.replace(/[^a-z0-9.-]/g, '').slice(0, 64);
	const config = `Host ${name}\n${hostName ? `  HostName ${hostName}\n` : ''}  User ${name}\n`
		+ `Match host ${patterns}\n  Port 2001\nMatch !host ${patterns}\n  Port 2002\n`
		+ `Match originalhost ${patterns}\n  IdentityFile /id/original\nMatch user ${patterns}\n  ProxyJump user-jump\n`;
	const entries = sshConfigHosts(config);
	invariant(entries.length === 1 && entries[0].name === name, `one host, ${name}: ${JSON.stringify(entries.map((e) => e.name))}`);
	const [entry] = entries;
	const expect = (what: string, actual: unknown, expected: unknown): void =>
		invariant(actual === expected, `${what} with the pattern list ${JSON.stringify(patterns)}: ${String(actual)}, not ${String(expected)}\n${config}`);
	expect(`Match host ${hostName || name}`, entry.ssh?.port, referenceListMatches(patterns, hostName || name) ? 2001 : 2002);
	expect(`Match originalhost ${name}`, entry.ssh?.identityFile, referenceListMatches(patterns, name) ? '/id/original' : undefined);
	expect(`Match user ${name}`, entry.proxyJump, referenceListMatches(patterns, name) ? 'user-jump' : undefined);
}

function checkConnectionFile(text: string): void {
	try {
		const c = parseConnectionFile('connection.json', text);
		invariant(typeof c.host === 'string' && c.host !== '', 'a connection file names a host');
		invariant(validPort(c.port), `a connection file's port is a TCP port, not ${c.port}`);
	} catch (err) {
		allowOnly(err, [CheckpointError], 'parseConnectionFile');
	}
}

function checkSshUrl(text: string): void {
	try {
		const target = parseSshUrl(text);
		invariant(target.host !== '', 'an ssh:// URL names a host');
		invariant(validPort(target.port), `an ssh:// URL's port is a TCP port, not ${target.port}`);
	} catch (err) {
		allowOnly(err, [CheckpointError], 'parseSshUrl');
	}
}

const PARSERS = [checkSshConfig, checkConnectionFile, checkSshUrl, checkMatchLines] as const;

export function fuzz(data: Buffer): void {
	const input = new FuzzInput(data);
	const parse = input.pick(PARSERS);
	parse(input.rest().toString('utf8'));
}
