/**
 * OpenSSH known_hosts checking: plain and hashed (|1|salt|hmac) host
 * patterns, "[host]:port" for ports other than 22, wildcards and negation,
 * @revoked markers. ssh2 accepts any host key unless told otherwise; this is
 * what it is told.
 */
import { createHash, createHmac } from 'node:crypto';
import { patternListMatches } from './wildcards';

export interface KnownHostEntry {
	marker?: '@cert-authority' | '@revoked';
	patterns: string;
	keyType: string;
	key: Buffer;
	line: number;
}

export type HostKeyVerdict =
	| { status: 'trusted' }
	| { status: 'unknown' }
	| { status: 'changed'; line: number }
	| { status: 'revoked'; line: number };

export function parseKnownHosts(text: string): KnownHostEntry[] {
	const entries: KnownHostEntry[] = [];
	text.split(/\r?\n/).forEach((raw, index) => {
		const line = raw.trim();
		if (!line || line.startsWith('#')) return;
		const fields = line.split(/\s+/);
		let marker: KnownHostEntry['marker'];
		if (fields[0] === '@cert-authority' || fields[0] === '@revoked') marker = fields.shift() as KnownHostEntry['marker'];
		if (fields.length < 3) return;
		entries.push({ marker, patterns: fields[0], keyType: fields[1], key: Buffer.from(fields[2], 'base64'), line: index + 1 });
	});
	return entries;
}

/** The name known_hosts uses for a host: "host", or "[host]:port" off port 22. */
export function knownHostsName(host: string, port: number): string {
	return port === 22 ? host : `[${host}]:${port}`;
}

function hashedPatternMatches(pattern: string, name: string): boolean {
	const [, magic, salt, hash] = pattern.split('|');
	if (magic !== '1' || !salt || !hash) return false;
	const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
	return mac === hash;
}

export function patternsMatch(patterns: string, name: string): boolean {
	if (patterns.startsWith('|')) return hashedPatternMatches(patterns, name);
	return patternListMatches(patterns.split(','), name);
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
	if (blob.length < 4) return '';
	const length = blob.readUInt32BE(0);
	return blob.subarray(4, 4 + length).toString('latin1');
}

export function fingerprint(blob: Buffer): string {
	return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function verifyHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
	// OpenSSH lowercases the host name before looking it up, so hashed entries hold the hash of the lowercase name.
	const name = knownHostsName(host.toLowerCase(), port);
	const type = keyTypeOf(key);
	const forHost = entries.filter((e) => e.marker !== '@cert-authority' && patternsMatch(e.patterns, name));
	const revoked = forHost.find((e) => e.marker === '@revoked' && e.key.equals(key));
	if (revoked) return { status: 'revoked', line: revoked.line };
	const plain = forHost.filter((e) => !e.marker);
	if (plain.some((e) => e.key.equals(key))) return { status: 'trusted' };
	const sameType = plain.find((e) => e.keyType === type);
	if (sameType) return { status: 'changed', line: sameType.line };
	return { status: 'unknown' };
}

/** The line to append to known_hosts to trust `key` for host:port. */
export function knownHostsLine(host: string, port: number, key: Buffer): string {
	return `${knownHostsName(host, port)} ${keyTypeOf(key)} ${key.toString('base64')}`;
}
