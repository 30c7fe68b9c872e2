/**
 * Fuzz target: the known_hosts parser and host key check
 * (src/core/knownHosts.ts). The input's first line is the host name asked
 * for (as a user types it in a target), the rest the known_hosts file.
 *
 * A bug: any exception (a known_hosts file is the user's, but nothing in it
 * may stop a connection from being checked: the check answers trusted,
 * unknown, changed or revoked), a hang (a pattern that takes the matcher
 * exponential time), or an answer that contradicts the file: "trusted"
 * without an entry for the host holding the key, a line number that is not
 * of an entry.
 */
import { knownHostsLine, parseKnownHosts, patternsMatch, verifyHostKey } from '../../src/core/knownHosts';
import { allowOnly, invariant } from './fuzzInput';

/** An ed25519 public key blob: the string "ssh-ed25519", then 32 key bytes. */
function ed25519Key(fill: number): Buffer {
	const type = Buffer.from('ssh-ed25519');
	const key = Buffer.alloc(32, fill);
	const blob = Buffer.alloc(4 + type.length + 4 + key.length);
	blob.writeUInt32BE(type.length, 0);
	type.copy(blob, 4);
	blob.writeUInt32BE(key.length, 4 + type.length);
	key.copy(blob, 8 + type.length);
	return blob;
}

const KEY = ed25519Key(0x41);

export function fuzz(data: Buffer): void {
	const text = data.toString('utf8');
	const newline = text.indexOf('\n');
	const host = newline < 0 ? text : text.slice(0, newline);
	const file = newline < 0 ? '' : text.slice(newline + 1);
	try {
		const entries = parseKnownHosts(file);
		const lines = file.split(/\r?\n/).length;
		for (const e of entries) invariant(e.line >= 1 && e.line <= lines, `entry line ${e.line} is one of the file's ${lines}`);
		for (const port of [22, 2222]) {
			const verdict = verifyHostKey(entries, host, port, KEY);
			if (verdict.status === 'changed' || verdict.status === 'revoked') {
				invariant(entries.some((e) => e.line === verdict.line), `the ${verdict.status} verdict's line ${verdict.line} holds an entry`);
			}
			if (verdict.status === 'trusted') {
				invariant(entries.some((e) => !e.marker && e.key.equals(KEY)), 'a trusted key is in an entry without a marker');
			}
			// The line the extension appends for an accepted key must make the key trusted.
			// (For host names as DNS and addresses write them: printable ASCII, none of known_hosts' own syntax.)
			if (/^[\x21-\x7e]+$/.test(host) && !/[,*?!|#@[]/.test(host)) {
				const appended = parseKnownHosts(knownHostsLine(host, port, KEY));
				invariant(verifyHostKey(appended, host, port, KEY).status === 'trusted', `the line appended for ${JSON.stringify(host)}:${port} trusts its key`);
			}
		}
		for (const e of entries) patternsMatch(e.patterns, host);
	} catch (err) {
		allowOnly(err, [], 'checking a host key against known_hosts');
	}
}
