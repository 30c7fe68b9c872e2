import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, type ErrorKind } from '../../src/core/errors';
import { parseConnectionFile, parseSshUrl, targetFromSpec } from '../../src/core/targetSpec';
import { LocalTarget } from '../../src/core/targets/local';
import { SshTarget } from '../../src/core/targets/ssh';

/** An assert.throws validator: a CheckpointError of this kind whose message matches. */
function checkpointError(kind: ErrorKind, message?: RegExp | string): (err: unknown) => boolean {
	return (err: unknown) => {
		assert.ok(err instanceof CheckpointError, `expected a CheckpointError, got ${String(err)}`);
		assert.equal(err.kind, kind);
		if (typeof message === 'string') assert.ok(err.message.includes(message), `"${err.message}" should mention "${message}"`);
		else if (message) assert.match(err.message, message);
		return true;
	};
}

describe('parseConnectionFile', () => {
	test('a single JSON line', () => {
		const c = parseConnectionFile('conn.json', '{"host":"127.0.0.1","port":2222,"user":"root","identityFile":"/k","knownHostsFile":"/kh"}\n');
		assert.deepEqual(c, { host: '127.0.0.1', port: 2222, user: 'root', identityFile: '/k', knownHostsFile: '/kh' });
	});

	test('the last JSON line wins; log output before it is ignored', () => {
		const text = [
			'Starting target VM...',
			'{"host":"old.example","port":1}',
			'[ok] sshd is up',
			'',
			'{"host":"10.0.2.2","port":2200,"user":"tester"}',
			'',
			'   ',
		].join('\n');
		assert.deepEqual(parseConnectionFile('f', text), { host: '10.0.2.2', port: 2200, user: 'tester' });
	});

	test('CRLF line endings are fine', () => {
		assert.deepEqual(parseConnectionFile('f', 'noise\r\n{"host":"h"}\r\n'), { host: 'h' });
	});

	test('a JSON line without "host" is a usage error naming the file', () => {
		assert.throws(() => parseConnectionFile('/tmp/conn.txt', '{"port":2222}'), checkpointError('usage', '/tmp/conn.txt'));
		assert.throws(() => parseConnectionFile('/tmp/conn.txt', '{"port":2222}'), checkpointError('usage', '"host"'));
	});

	test('a non-string host, null, arrays and scalars are usage errors', () => {
		for (const line of ['{"host":42}', 'null', '[]', '"host"', '17', 'true']) {
			assert.throws(() => parseConnectionFile('f', line), checkpointError('usage'), line);
		}
	});

	test('text that does not end with JSON is a usage error naming the file', () => {
		assert.throws(() => parseConnectionFile('/x/conn', 'hello world\n'), checkpointError('usage', '/x/conn'));
		assert.throws(() => parseConnectionFile('/x/conn', '{"host":"h"}\nthen junk\n'), checkpointError('usage', 'JSON'));
		assert.throws(() => parseConnectionFile('/x/conn', '{"host":'), checkpointError('usage'));
	});

	test('a port that is not a number from 1 to 65535 is a usage error saying what it must be', () => {
		for (const port of ['"2222"', '0', '70000', '22.5', 'null']) {
			assert.throws(() => parseConnectionFile('conn.json', `{"host":"h","port":${port}}`), checkpointError('usage', /conn\.json.*"port".*1 to 65535/));
		}
	});

	test('user and key files must be strings', () => {
		assert.throws(() => parseConnectionFile('c', '{"host":"h","user":7}'), checkpointError('usage', '"user"'));
		assert.throws(() => parseConnectionFile('c', '{"host":"h","identityFile":[]}'), checkpointError('usage', '"identityFile"'));
	});

	test('an empty file is a usage error', () => {
		assert.throws(() => parseConnectionFile('empty', ''), checkpointError('usage', 'empty'));
		assert.throws(() => parseConnectionFile('blank', '\n\n  \n'), checkpointError('usage', 'blank'));
	});
});

describe('parseSshUrl', () => {
	test('user, host and port', () => {
		assert.deepEqual(parseSshUrl('ssh://alice@example.com:2222'), { host: 'example.com', port: 2222, user: 'alice' });
	});

	test('the port defaults to 22 and the user to undefined', () => {
		assert.deepEqual(parseSshUrl('ssh://example.com'), { host: 'example.com', port: 22, user: undefined });
		assert.deepEqual(parseSshUrl('ssh://bob@example.com'), { host: 'example.com', port: 22, user: 'bob' });
	});

	test('an explicit port 22 is 22', () => {
		assert.equal(parseSshUrl('ssh://example.com:22').port, 22);
	});

	test('IPv6 literals lose their brackets', () => {
		assert.deepEqual(parseSshUrl('ssh://root@[::1]:2200'), { host: '::1', port: 2200, user: 'root' });
		assert.deepEqual(parseSshUrl('ssh://[fe80::1]'), { host: 'fe80::1', port: 22, user: undefined });
	});

	test('a percent-encoded user name is decoded', () => {
		assert.equal(parseSshUrl('ssh://first%20last@h').user, 'first last');
	});

	test('a "%" in the user name that is no escape of UTF-8 is a usage error saying how to write it, not a URIError', () => {
		// Found by the target-spec fuzz target: ssh://ro%4to0x@[::1]:2222 threw "URIError: URI malformed".
		for (const bad of ['ssh://ro%4to0x@[::1]:2222', 'ssh://a%ff@h', 'ssh://%e2%82@h']) {
			assert.throws(() => parseSshUrl(bad), checkpointError('usage', `the user name in "${bad}" has a "%" that is not followed by an escape of UTF-8`), bad);
		}
	});

	test('IPv4 addresses', () => {
		assert.deepEqual(parseSshUrl('ssh://root@127.0.0.1:2222'), { host: '127.0.0.1', port: 2222, user: 'root' });
	});

	test('not a URL, another scheme, or no host: usage error quoting the input', () => {
		for (const bad of ['not a url', 'example.com:22', 'http://example.com', 'ssh://', 'ssh:///path']) {
			assert.throws(() => parseSshUrl(bad), checkpointError('usage', `"${bad}"`), bad);
		}
	});

	test('an invalid port is a usage error', () => {
		assert.throws(() => parseSshUrl('ssh://h:99999'), checkpointError('usage'));
		assert.throws(() => parseSshUrl('ssh://h:port'), checkpointError('usage'));
	});
});

describe('targetFromSpec', () => {
	let dir = '';
	before(() => { dir = mkdtempSync(join(tmpdir(), 'ckpt-targetspec-')); });
	after(() => { rmSync(dir, { recursive: true, force: true }); });

	test('"local" is this machine', () => {
		const t = targetFromSpec('local');
		assert.ok(t instanceof LocalTarget);
		assert.equal(t.description, 'this machine');
	});

	test('an ssh:// URL becomes an SSH target described as user@host:port', () => {
		const t = targetFromSpec('ssh://alice@example.com:2222');
		assert.ok(t instanceof SshTarget);
		assert.equal(t.description, 'alice@example.com:2222');
		assert.equal(targetFromSpec('ssh://bob@example.com').description, 'bob@example.com:22');
	});

	test('an IPv6 host is bracketed in the description', () => {
		assert.equal(targetFromSpec('ssh://root@[::1]:2200').description, 'root@[::1]:2200');
	});

	test('a connection file becomes an SSH target for its last JSON line, without connecting', () => {
		const file = join(dir, 'connection.txt');
		writeFileSync(file, 'booting...\n{"host":"127.0.0.1","port":2222,"user":"root","identityFile":"/nonexistent/key"}\n');
		const t = targetFromSpec(file);
		assert.ok(t instanceof SshTarget);
		assert.equal(t.description, 'root@127.0.0.1:2222');
	});

	test('a connection file without user or port uses $USER (or root) and 22', () => {
		const file = join(dir, 'minimal.json');
		writeFileSync(file, '{"host":"target.lab"}');
		assert.equal(targetFromSpec(file).description, `${process.env.USER ?? 'root'}@target.lab:22`);
	});

	test('a connection file without host is a usage error naming the file', () => {
		const file = join(dir, 'nohost.json');
		writeFileSync(file, '{"port":2222}\n');
		assert.throws(() => targetFromSpec(file), checkpointError('usage', file));
	});

	test('a nonexistent file is a usage error whose message names the path and why', () => {
		const missing = join(dir, 'does-not-exist.json');
		assert.throws(() => targetFromSpec(missing), checkpointError('usage', missing));
		assert.throws(() => targetFromSpec(missing), checkpointError('usage', 'ENOENT'));
	});

	test('a directory is not a connection file', () => {
		assert.throws(() => targetFromSpec(dir), checkpointError('usage', dir));
	});

	test('a bad ssh:// URL is a usage error', () => {
		assert.throws(() => targetFromSpec('ssh://'), checkpointError('usage'));
	});
});
