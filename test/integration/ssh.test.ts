/**
 * The SSH side of a target, against the target host's real sshd: host key
 * verification, authentication, helper upload, and what a dropped
 * connection does to a frozen tree.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { utils } from 'ssh2';
import { CheckpointError } from '../../src/core/errors';
import { findHelperBinary } from '../../src/core/helperBinary';
import { knownHostsName } from '../../src/core/knownHosts';
import { HelperSession } from '../../src/core/session';
import { connection, sshTarget, TargetShell, WORKLOAD } from './harness';

let shell: TargetShell;
let scratch: string;

before(async () => {
	shell = await TargetShell.open();
	await shell.buildWorkload();
	scratch = mkdtempSync(join(tmpdir(), 'ckpt-ssh-test-'));
});

after(() => {
	shell.close();
	rmSync(scratch, { recursive: true, force: true });
});

function expectKind(kind: string, check?: (err: CheckpointError) => void) {
	return (err: unknown): boolean => {
		assert.ok(err instanceof CheckpointError, `a CheckpointError, got ${String(err)}`);
		assert.equal(err.kind, kind, err.message);
		check?.(err);
		return true;
	};
}

describe('host keys', () => {
	test('an unknown host key is refused, with the line that would trust it', async () => {
		const knownHostsFile = join(scratch, 'empty_known_hosts');
		writeFileSync(knownHostsFile, '');
		const target = sshTarget({ knownHostsFile });
		await assert.rejects(HelperSession.open(target), expectKind('host-key-unknown', (err) => {
			const c = connection();
			assert.match(err.message, /SHA256:[A-Za-z0-9+/]{43}/, 'shows the fingerprint to check');
			assert.ok(err.message.includes(knownHostsFile), 'names the file to add it to');
			const line = err.message.split('\n').pop() ?? '';
			assert.ok(line.startsWith(`${knownHostsName(c.host, c.port)} ssh-ed25519 `), `ends with the known_hosts line: ${line}`);
		}));
		await target.close();
	});

	test('the line offered for an unknown key is the host\'s real key', async () => {
		const c = connection();
		const trusted = readFileSync(c.knownHostsFile ?? '', 'utf8').trim().split(/\s+/).slice(1, 3).join(' ');
		const target = sshTarget({ knownHostsFile: join(scratch, 'absent_known_hosts') });
		const err = await HelperSession.open(target).then(() => undefined, (e: unknown) => e);
		assert.ok(err instanceof CheckpointError);
		assert.ok(err.message.trim().endsWith(trusted), 'the offered line carries the key the target really has');
	});

	test('a changed host key is refused and the connection not made', async () => {
		const c = connection();
		const other = utils.parseKey(utils.generateKeyPairSync('ed25519').public);
		assert.ok(!(other instanceof Error));
		const knownHostsFile = join(scratch, 'changed_known_hosts');
		writeFileSync(knownHostsFile, `# an old key\n${knownHostsName(c.host, c.port)} ${other.type} ${other.getPublicSSH().toString('base64')}\n`);
		await assert.rejects(HelperSession.open(sshTarget({ knownHostsFile })), expectKind('host-key-changed', (err) => {
			assert.match(err.message, /CHANGED/);
			assert.match(err.message, /line 2/);
			assert.match(err.message, /remove that line/);
		}));
	});
});

describe('ProxyJump', () => {
	test('a target reached through a jump host: helper and images work through the tunnel', async () => {
		const c = connection();
		const hop = { host: c.host, port: c.port, user: c.user, identityFile: c.identityFile, knownHostsFile: c.knownHostsFile };
		// The target's sshd is both the jump host and the destination: the tunnel is real either way.
		const target = sshTarget({ jump: hop });
		assert.match(target.description, / via /);
		const session = await HelperSession.open(target);
		try {
			assert.match((await session.hello()).criuVersion, /^4\./);
			// a regular file (/etc/os-release is a link, and image sources open only regular files)
			const source = await target.imageSource('/usr/lib');
			assert.match((await source.readFile('os-release')).toString(), /trixie/);
		} finally {
			await session.close();
		}
	});

	test('an unknown key of the jump host is refused like any other', async () => {
		const c = connection();
		const knownHostsFile = join(scratch, 'jump_known_hosts');
		writeFileSync(knownHostsFile, '');
		const target = sshTarget({ jump: { host: c.host, port: c.port, user: c.user, identityFile: c.identityFile, knownHostsFile } });
		await assert.rejects(HelperSession.open(target), expectKind('host-key-unknown', (err) => assert.ok(err.message.includes(knownHostsFile))));
	});
});

describe('authentication', () => {
	test('a wrong identity file gives a clear authentication error', async () => {
		const identityFile = join(scratch, 'stranger_ed25519');
		writeFileSync(identityFile, utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
		await assert.rejects(HelperSession.open(sshTarget({ identityFile })), expectKind('authentication', (err) => {
			assert.ok(err.message.includes(identityFile));
			assert.match(err.message, /authorized_keys/);
		}));
	});

	test('a missing identity file says which file', async () => {
		const identityFile = join(scratch, 'no_such_key');
		await assert.rejects(HelperSession.open(sshTarget({ identityFile })), expectKind('authentication', (err) => {
			assert.ok(err.message.includes(identityFile));
		}));
	});

	test('a port where nothing listens is a connection error naming the target', async () => {
		const target = sshTarget({ port: 1 });
		await assert.rejects(HelperSession.open(target), expectKind('connection', (err) => {
			assert.match(err.message, /:1\b/);
		}));
	});
});

describe('helper upload', () => {
	test('the helper is uploaded once, under its content hash, and answers hello', async () => {
		await shell.ok('rm -rf ~/.cache/checkpoint-debugger');
		const first = await HelperSession.open(sshTarget());
		const hello = await first.hello();
		await first.close();
		assert.equal(hello.euid, 0);
		assert.match(hello.criuVersion, /^4\./);
		const listing = (await shell.ok('ls -l --time-style=+%s.%N ~/.cache/checkpoint-debugger')).trim().split('\n').slice(1);
		assert.equal(listing.length, 1, `one helper file: ${listing.join(' | ')}`);
		assert.match(listing[0], /^-rwx------ .* checkpoint-helper-x86_64-[0-9a-f]{16}$/);

		const second = await HelperSession.open(sshTarget());
		await second.hello();
		await second.close();
		const again = (await shell.ok('ls -l --time-style=+%s.%N ~/.cache/checkpoint-debugger')).trim().split('\n').slice(1);
		assert.deepEqual(again, listing, 'an unchanged helper is not uploaded again');
	});

	test('a helper that differs on the target is replaced', async () => {
		const session = await HelperSession.open(sshTarget());
		await session.close();
		const path = (await shell.ok('ls ~/.cache/checkpoint-debugger/checkpoint-helper-*')).trim();
		await shell.ok(`printf 'XXXX' | dd of=${path} bs=1 seek=4096 conv=notrunc status=none`);
		const damaged = (await shell.ok(`sha256sum ${path}`)).split(' ')[0];
		const local = findHelperBinary('x86_64').sha256;
		assert.notEqual(damaged, local);

		const fresh = await HelperSession.open(sshTarget());
		assert.ok((await fresh.hello()).helperVersion);
		await fresh.close();
		assert.equal((await shell.ok(`sha256sum ${path}`)).split(' ')[0], local, 'the damaged copy was replaced by an upload');
	});
});

describe('a dropped connection', () => {
	test('thaws the tree that was frozen', async () => {
		const { pid, dir } = await shell.start([WORKLOAD, 'counter', '{dir}']);
		try {
			await shell.waitForRecord(dir, 'state', (r) => r[1] >= 3);
			const target = sshTarget();
			const session = await HelperSession.open(target);
			await session.freeze(pid);
			const held = (await shell.record(dir))[1];
			await sleep(400);
			assert.equal((await shell.record(dir))[1], held, 'frozen before the drop');

			target.dropConnection();
			await shell.waitForRecord(dir, 'state', (r) => r[1] > held, 15000);
			await assert.rejects(session.hello(), expectKind('helper-exited'));
		} finally {
			await shell.killTree(pid);
		}
	});
});
