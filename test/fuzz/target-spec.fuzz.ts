/**
 * Fuzz target: how a user names a target host. The first input byte picks
 * the parser, the rest is its text:
 *  - sshConfigHosts (src/core/targetCatalog.ts): an ~/.ssh/config, through
 *    the ssh-config package;
 *  - parseConnectionFile (src/core/targetSpec.ts): the JSON line that
 *    `npm run target:up` prints;
 *  - parseSshUrl: an ssh://user@host:port URL.
 *
 * A bug: parseConnectionFile or parseSshUrl throwing anything but a
 * CheckpointError (their documented error, which the CLI and the editor
 * show); sshConfigHosts hanging or giving a host the Targets view cannot
 * use (no name, a pattern as a name, no host, a port that is not a TCP
 * port). sshConfigHosts may throw on a config ssh-config cannot parse: its
 * one caller treats that as no hosts.
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

const PARSERS = [checkSshConfig, checkConnectionFile, checkSshUrl] as const;

export function fuzz(data: Buffer): void {
	const input = new FuzzInput(data);
	const parse = input.pick(PARSERS);
	parse(input.rest().toString('utf8'));
}
