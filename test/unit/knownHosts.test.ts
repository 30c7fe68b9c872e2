import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
	fingerprint, keyTypeOf, knownHostsLine, knownHostsName, parseKnownHosts, patternsMatch, verifyHostKey,
} from '../../src/core/knownHosts';

// Real public keys made with `ssh-keygen -t ed25519` / `-t ecdsa`; the
// fingerprints are what `ssh-keygen -lf` (OpenSSH 9.2) printed for them.
const ED1_B64 = 'AAAAC3NzaC1lZDI1NTE5AAAAIAH7d/O9DRUB4lO0Qehx0sKQoVcoGrFlVof30augTF+2';
const ED1_FP = 'SHA256:E9c5+gB4LXWz76a+jfbtcT9sAOiFiPFYVunw6/mqkyU';
const ED2_B64 = 'AAAAC3NzaC1lZDI1NTE5AAAAIIOg9lMgoIBJszPxGbv8GY9CQO72zjLtwEy2ehpG9jMW';
const ED2_FP = 'SHA256:zTrswjY5I/DIpXwwYxX/gJQOsotiH+7oZqm6AgoUxDE';
const EC_B64 = 'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAEnZQTAZ2j53g8hx2bIfGpntHbLpNsvrG+8RH7rHiXkKBeeQsbfYnGJ4eOxpibs0bWBQ3oXfGwsawlPzz/nYvA=';
const EC_FP = 'SHA256:LBJrXnVbtfpPuUbjGczb9WFh2UQz1+nRI+LxfJWLapY';
const ED1 = Buffer.from(ED1_B64, 'base64');
const ED2 = Buffer.from(ED2_B64, 'base64');
const EC = Buffer.from(EC_B64, 'base64');

// `ssh-keygen -H` output for "example.com" and "[example.com]:2222" with ED1.
const SSH_KEYGEN_HASHED_22 = '|1|tjd8MdlA3trM5B526mlMOMBjFds=|cs410qG9cqtUay+dHGHk+GiwZbA=';
const SSH_KEYGEN_HASHED_2222 = '|1|x7RYyyxW3WcLH+O79GPXNYy/NYg=|dBohVNRxTSVFXWpTjI0zK6kIUXk=';

/** A hashed host pattern as OpenSSH writes it: |1|base64(salt)|base64(HMAC-SHA1(key=salt, name)). */
function hashedPattern(name: string, salt: Buffer): string {
	const mac = createHmac('sha1', salt).update(name).digest('base64');
	return `|1|${salt.toString('base64')}|${mac}`;
}

const SALT = Buffer.from('0123456789abcdefghij'); // 20 bytes, as OpenSSH uses

describe('parseKnownHosts', () => {
	test('parses entries with 1-based line numbers, skipping comments, blank and short lines', () => {
		const text = [
			'# a comment',
			'',
			`example.com ssh-ed25519 ${ED1_B64}`,
			'   ',
			`[example.com]:2222,10.0.0.1 ecdsa-sha2-nistp256 ${EC_B64} a trailing comment`,
			'garbage-with-two fields',
			`@revoked * ssh-ed25519 ${ED2_B64}`,
			`@cert-authority *.corp ssh-ed25519 ${ED1_B64}`,
			'@revoked onlyonefield ssh-ed25519',
		].join('\n');
		const entries = parseKnownHosts(text);
		assert.equal(entries.length, 4);
		assert.deepEqual(entries.map((e) => e.line), [3, 5, 7, 8]);
		assert.deepEqual(entries.map((e) => e.patterns), ['example.com', '[example.com]:2222,10.0.0.1', '*', '*.corp']);
		assert.deepEqual(entries.map((e) => e.keyType), ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-ed25519']);
		assert.deepEqual(entries.map((e) => e.marker), [undefined, undefined, '@revoked', '@cert-authority']);
		assert.ok(entries[0].key.equals(ED1));
		assert.ok(entries[1].key.equals(EC));
		assert.ok(entries[2].key.equals(ED2));
	});

	test('CRLF line endings and surrounding whitespace are tolerated', () => {
		const entries = parseKnownHosts(`# c\r\n  example.com\tssh-ed25519   ${ED1_B64}  \r\nother ssh-ed25519 ${ED2_B64}\r\n`);
		assert.equal(entries.length, 2);
		assert.equal(entries[0].line, 2);
		assert.equal(entries[0].patterns, 'example.com');
		assert.ok(entries[0].key.equals(ED1));
		assert.equal(entries[1].line, 3);
		assert.ok(entries[1].key.equals(ED2));
	});

	test('empty text has no entries', () => {
		assert.deepEqual(parseKnownHosts(''), []);
	});
});

describe('knownHostsName', () => {
	test('port 22 is the bare host', () => {
		assert.equal(knownHostsName('example.com', 22), 'example.com');
	});
	test('other ports use [host]:port', () => {
		assert.equal(knownHostsName('example.com', 2222), '[example.com]:2222');
		assert.equal(knownHostsName('127.0.0.1', 2200), '[127.0.0.1]:2200');
		assert.equal(knownHostsName('::1', 2200), '[::1]:2200');
	});
});

describe('patternsMatch', () => {
	test('a plain name matches itself, case-insensitively, and nothing else', () => {
		assert.equal(patternsMatch('example.com', 'example.com'), true);
		assert.equal(patternsMatch('example.com', 'EXAMPLE.com'), true);
		assert.equal(patternsMatch('example.com', 'example.org'), false);
		assert.equal(patternsMatch('example.com', 'www.example.com'), false);
		assert.equal(patternsMatch('example.com', 'example.com.evil'), false);
	});

	test('dots are literal, not regex wildcards', () => {
		assert.equal(patternsMatch('example.com', 'exampleXcom'), false);
		assert.equal(patternsMatch('10.0.0.1', '10a0b0c1'), false);
	});

	test('a comma list matches any of its names', () => {
		assert.equal(patternsMatch('a.test,b.test,10.0.0.1', 'b.test'), true);
		assert.equal(patternsMatch('a.test,b.test,10.0.0.1', '10.0.0.1'), true);
		assert.equal(patternsMatch('a.test,b.test,10.0.0.1', 'c.test'), false);
	});

	test('[host]:port patterns match only that port', () => {
		assert.equal(patternsMatch('[example.com]:2222', '[example.com]:2222'), true);
		assert.equal(patternsMatch('[example.com]:2222', '[example.com]:2223'), false);
		assert.equal(patternsMatch('[example.com]:2222', 'example.com'), false);
		assert.equal(patternsMatch('example.com', '[example.com]:2222'), false);
	});

	test('* and ? wildcards', () => {
		assert.equal(patternsMatch('*.example.com', 'www.example.com'), true);
		assert.equal(patternsMatch('*.example.com', 'a.b.example.com'), true);
		assert.equal(patternsMatch('*.example.com', 'example.com'), false);
		assert.equal(patternsMatch('host?', 'host1'), true);
		assert.equal(patternsMatch('host?', 'host12'), false);
		assert.equal(patternsMatch('host?', 'host'), false);
		assert.equal(patternsMatch('*', 'anything'), true);
		assert.equal(patternsMatch('[*]:2222', '[any.host]:2222'), true);
		assert.equal(patternsMatch('[*]:2222', '[any.host]:22'), false);
	});

	test('many wildcards against a long name take linear time, not exponential', () => {
		// Found with the known-hosts fuzz target's kind of input: this pattern against 60 "a"s ran for minutes as a regular expression.
		const started = Date.now();
		assert.equal(patternsMatch('*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(60)), false);
		assert.equal(patternsMatch('*a*a*a*a*a*a*a*a*a*a*a*a*', 'a'.repeat(60)), true);
		assert.equal(patternsMatch('*.*.*.*.*.*.*.*.*.*.x', `${'a.'.repeat(40)}y`), false);
		assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
	});

	test('a matching negated pattern excludes the host whatever its position in the list', () => {
		assert.equal(patternsMatch('*.example.com,!bad.example.com', 'good.example.com'), true);
		assert.equal(patternsMatch('*.example.com,!bad.example.com', 'bad.example.com'), false);
		assert.equal(patternsMatch('!bad.example.com,*.example.com', 'bad.example.com'), false);
		assert.equal(patternsMatch('!bad.example.com,*.example.com', 'good.example.com'), true);
	});

	test('a negated pattern alone matches nothing (negation only excludes)', () => {
		assert.equal(patternsMatch('!bad.example.com', 'good.example.com'), false);
		assert.equal(patternsMatch('!bad.example.com', 'bad.example.com'), false);
	});

	test('a hashed pattern built with HMAC-SHA1 keyed by the salt matches its name only', () => {
		const p = hashedPattern('example.com', SALT);
		assert.equal(patternsMatch(p, 'example.com'), true);
		assert.equal(patternsMatch(p, 'example.org'), false);
		assert.equal(patternsMatch(p, '[example.com]:2222'), false);
		const pPort = hashedPattern('[example.com]:2222', SALT);
		assert.equal(patternsMatch(pPort, '[example.com]:2222'), true);
		assert.equal(patternsMatch(pPort, 'example.com'), false);
	});

	test('hashed patterns produced by ssh-keygen -H match', () => {
		assert.equal(patternsMatch(SSH_KEYGEN_HASHED_22, 'example.com'), true);
		assert.equal(patternsMatch(SSH_KEYGEN_HASHED_22, '[example.com]:2222'), false);
		assert.equal(patternsMatch(SSH_KEYGEN_HASHED_2222, '[example.com]:2222'), true);
		assert.equal(patternsMatch(SSH_KEYGEN_HASHED_2222, 'example.com'), false);
	});

	test('malformed hashed patterns match nothing', () => {
		const good = hashedPattern('example.com', SALT);
		assert.equal(patternsMatch(good.replace('|1|', '|2|'), 'example.com'), false);
		assert.equal(patternsMatch('|1|', 'example.com'), false);
		assert.equal(patternsMatch(`|1|${SALT.toString('base64')}|`, 'example.com'), false);
		// the right HMAC under another salt
		assert.equal(patternsMatch(`|1|${Buffer.from('another salt 20bytes').toString('base64')}|${good.split('|')[3]}`, 'example.com'), false);
	});
});

describe('keyTypeOf', () => {
	test('reads the type string at the start of the key blob', () => {
		assert.equal(keyTypeOf(ED1), 'ssh-ed25519');
		assert.equal(keyTypeOf(EC), 'ecdsa-sha2-nistp256');
	});
	test('a blob too short for a length is typeless', () => {
		assert.equal(keyTypeOf(Buffer.alloc(0)), '');
		assert.equal(keyTypeOf(Buffer.from([0, 0, 0])), '');
	});
});

describe('fingerprint', () => {
	test('matches what ssh-keygen -lf prints', () => {
		assert.equal(fingerprint(ED1), ED1_FP);
		assert.equal(fingerprint(ED2), ED2_FP);
		assert.equal(fingerprint(EC), EC_FP);
	});
	test('is SHA256: then unpadded base64 of the SHA-256 of the blob', () => {
		// SHA-256 of nothing is 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= in padded base64.
		assert.equal(fingerprint(Buffer.alloc(0)), 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
		assert.match(fingerprint(ED1), /^SHA256:[A-Za-z0-9+/]{43}$/);
	});
});

describe('verifyHostKey', () => {
	test('a plain entry with the same key is trusted on port 22', () => {
		const entries = parseKnownHosts(`example.com ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'trusted' });
	});

	test('[host]:port entries are for that port only', () => {
		const entries = parseKnownHosts(`[example.com]:2222 ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 2222, ED1), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'unknown' });
		assert.deepEqual(verifyHostKey(entries, 'example.com', 2223, ED1), { status: 'unknown' });
	});

	test('a bare-host entry does not cover other ports', () => {
		const entries = parseKnownHosts(`example.com ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 2222, ED1), { status: 'unknown' });
	});

	test('hashed entries (crypto-built) are trusted for port 22 and [host]:port', () => {
		const text = [
			`${hashedPattern('example.com', SALT)} ssh-ed25519 ${ED1_B64}`,
			`${hashedPattern('[10.1.2.3]:2200', Buffer.from('saltsaltsaltsaltsalt'))} ssh-ed25519 ${ED2_B64}`,
		].join('\n');
		const entries = parseKnownHosts(text);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, '10.1.2.3', 2200, ED2), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, '10.1.2.3', 22, ED2), { status: 'unknown' });
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED2), { status: 'changed', line: 1 });
	});

	test('hashed entries written by ssh-keygen -H are trusted', () => {
		const entries = parseKnownHosts(`${SSH_KEYGEN_HASHED_22} ssh-ed25519 ${ED1_B64}\n${SSH_KEYGEN_HASHED_2222} ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, 'example.com', 2222, ED1), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, 'example.com', 2222, ED2), { status: 'changed', line: 2 });
	});

	test('host names are looked up lowercased, as ssh does, so hashed entries match a mixed-case host', () => {
		const entries = parseKnownHosts(`${SSH_KEYGEN_HASHED_22} ssh-ed25519 ${ED1_B64}\n${SSH_KEYGEN_HASHED_2222} ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'Example.COM', 22, ED1), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, 'EXAMPLE.com', 2222, ED1), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, 'Example.COM', 22, ED2), { status: 'changed', line: 1 });
		const plain = parseKnownHosts(`Example.COM ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(plain, 'example.com', 22, ED1), { status: 'trusted' });
	});

	test('wildcard entries apply; a negated pattern excludes its host', () => {
		const entries = parseKnownHosts(`*.lab,!evil.lab ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'node1.lab', 22, ED1), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, 'evil.lab', 22, ED1), { status: 'unknown' });
		assert.deepEqual(verifyHostKey(entries, 'evil.lab', 22, ED2), { status: 'unknown' });
		assert.deepEqual(verifyHostKey(entries, 'node1.lab', 22, ED2), { status: 'changed', line: 1 });
	});

	test('a different key of the same type is "changed" with the line of the entry', () => {
		const text = [
			'# header',
			`other.host ssh-ed25519 ${ED2_B64}`,
			'',
			`example.com ssh-ed25519 ${ED1_B64}`,
		].join('\n');
		const entries = parseKnownHosts(text);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED2), { status: 'changed', line: 4 });
	});

	test('a key matching any of several entries for the host is trusted', () => {
		const text = `example.com ssh-ed25519 ${ED2_B64}\nexample.com ssh-ed25519 ${ED1_B64}\n`;
		assert.deepEqual(verifyHostKey(parseKnownHosts(text), 'example.com', 22, ED1), { status: 'trusted' });
	});

	test('a key of a type the host has no entry for is unknown, not changed', () => {
		const entries = parseKnownHosts(`example.com ecdsa-sha2-nistp256 ${EC_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'unknown' });
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, EC), { status: 'trusted' });
	});

	test('an unknown host is unknown', () => {
		const entries = parseKnownHosts(`example.com ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'stranger.example', 22, ED1), { status: 'unknown' });
		assert.deepEqual(verifyHostKey([], 'example.com', 22, ED1), { status: 'unknown' });
	});

	test('@revoked refuses the key with the line, even when a plain entry trusts it', () => {
		const text = [
			`example.com ssh-ed25519 ${ED1_B64}`,
			`@revoked * ssh-ed25519 ${ED1_B64}`,
		].join('\n');
		const entries = parseKnownHosts(text);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'revoked', line: 2 });
		assert.deepEqual(verifyHostKey(entries, 'elsewhere', 2222, ED1), { status: 'revoked', line: 2 });
	});

	test('@revoked of another key does not affect a trusted key', () => {
		const text = `example.com ssh-ed25519 ${ED1_B64}\n@revoked example.com ssh-ed25519 ${ED2_B64}\n`;
		const entries = parseKnownHosts(text);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'trusted' });
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED2), { status: 'revoked', line: 2 });
	});

	test('a @revoked line is not itself a trusted or a conflicting key', () => {
		const entries = parseKnownHosts(`@revoked example.com ssh-ed25519 ${ED2_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'unknown' });
	});

	test('@cert-authority lines neither trust nor conflict with a plain host key', () => {
		const entries = parseKnownHosts(`@cert-authority example.com ssh-ed25519 ${ED1_B64}\n`);
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED1), { status: 'unknown' });
		assert.deepEqual(verifyHostKey(entries, 'example.com', 22, ED2), { status: 'unknown' });
	});
});

describe('knownHostsLine', () => {
	test('port 22: "host type base64"', () => {
		assert.equal(knownHostsLine('example.com', 22, ED1), `example.com ssh-ed25519 ${ED1_B64}`);
	});

	test('other ports: "[host]:port type base64"', () => {
		assert.equal(knownHostsLine('127.0.0.1', 2222, EC), `[127.0.0.1]:2222 ecdsa-sha2-nistp256 ${EC_B64}`);
	});

	test('parses back into an entry that trusts exactly that key for that host and port', () => {
		for (const [host, port, key] of [['example.com', 22, ED1], ['10.0.0.7', 2222, ED2], ['localhost', 2200, EC]] as const) {
			const text = `# existing\n${knownHostsLine(host, port, key)}\n`;
			const entries = parseKnownHosts(text);
			assert.equal(entries.length, 1);
			assert.equal(entries[0].line, 2);
			assert.equal(entries[0].keyType, keyTypeOf(key));
			assert.ok(entries[0].key.equals(key));
			assert.deepEqual(verifyHostKey(entries, host, port, key), { status: 'trusted' });
			assert.deepEqual(verifyHostKey(entries, host, port === 22 ? 2222 : 22, key), { status: 'unknown' });
		}
	});
});
