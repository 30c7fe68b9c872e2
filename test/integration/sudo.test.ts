/**
 * Connecting as a user other than root: the helper runs through "sudo -n",
 * and a sudo that wants a password is reported as such, with what to do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { findHelperBinary } from '../../src/core/helperBinary';
import { HelperSession } from '../../src/core/session';
import { sshTarget, TargetShell } from './harness';

/** One user with passwordless sudo, one whose sudo asks for a password. */
const SUDO_USER = 'ckpt-sudo';
const PASSWORD_USER = 'ckpt-pw';

let shell: TargetShell;

before(async () => {
	shell = await TargetShell.open();
	await shell.ensureUser(SUDO_USER, 'NOPASSWD: ALL');
	await shell.ensureUser(PASSWORD_USER, 'ALL');
	await shell.ok(`rm -rf /home/${SUDO_USER}/.cache`);
});

after(() => {
	shell.close();
});

describe('a non-root user', () => {
	test('with passwordless sudo gets a root helper, uploaded to its own home', async () => {
		const session = await HelperSession.open(sshTarget({ user: SUDO_USER }));
		try {
			const hello = await session.hello();
			assert.equal(hello.euid, 0, 'the helper runs as root through sudo -n');
			assert.ok((await session.ps()).some((p) => p.pid === 1), 'and sees the whole process tree');
		} finally {
			await session.close();
		}
		const helper = `checkpoint-helper-x86_64-${findHelperBinary('x86_64').sha256.slice(0, 16)}`;
		const uploaded = await shell.ok(`stat -c '%U %a' /home/${SUDO_USER}/.cache/checkpoint-debugger/${helper}`);
		assert.equal(uploaded.trim(), `${SUDO_USER} 700`);
	});

	test('whose sudo asks for a password is told how to fix it', async () => {
		await assert.rejects(HelperSession.open(sshTarget({ user: PASSWORD_USER })), (err: unknown) => {
			assert.ok(err instanceof CheckpointError);
			assert.equal(err.kind, 'sudo-password');
			assert.match(err.message, new RegExp(`asks ${PASSWORD_USER} for a password`));
			assert.match(err.message, /NOPASSWD/);
			assert.match(err.message, /Connect as root/);
			return true;
		});
	});
});
