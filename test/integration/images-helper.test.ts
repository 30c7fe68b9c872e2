/**
 * A checkpoint's images read through the helper (HelperImageSource) agree
 * with the same images read over SFTP, and work for a user whose login
 * cannot read the root-only store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openCheckpoint, type CheckpointImages } from '../../src/core/images/checkpoint';
import { HelperImageSource } from '../../src/core/images/helperSource';
import { CheckpointError } from '../../src/core/errors';
import { HelperSession } from '../../src/core/session';
import { showJson } from '../../src/cli/show';
import { sshTarget, TargetShell, WORKLOAD } from './harness';

const SUDO_USER = 'ckpt-images';

let shell: TargetShell;
let session: HelperSession;
let pid = 0;
let checkpointId = '';
let checkpointPath = '';

before(async () => {
	shell = await TargetShell.open();
	await shell.buildWorkload();
	session = await HelperSession.open(sshTarget());
	const started = await shell.start([WORKLOAD, 'threads', '{dir}', '2']);
	pid = started.pid;
	await shell.waitForRecord(started.dir, 'state', (r) => r[1] >= 3);
	const checkpoint = await session.dump(pid, { leaveRunning: true, name: 'images through the helper' });
	checkpointId = checkpoint.id;
	checkpointPath = checkpoint.path;
});

after(async () => {
	await shell.killTree(pid);
	await session.remove(checkpointId).catch(() => undefined);
	await session.close();
	shell.close();
});

async function described(images: CheckpointImages): Promise<object> {
	const shown = await Promise.all(images.processes.map(async (process) => ({ process, cmdline: await process.cmdline() })));
	const json = showJson(images, shown) as { path?: string };
	delete json.path;
	return json;
}

describe('images through the helper', () => {
	test('the model and memory agree with the same checkpoint read over SFTP', async () => {
		const viaHelper = await openCheckpoint(new HelperImageSource(session, checkpointId));
		const viaSftp = await openCheckpoint(await session.target.imageSource(checkpointPath));
		assert.deepEqual(await described(viaHelper), await described(viaSftp));
		const [p, q] = [viaHelper.processes[0], viaSftp.processes[0]];
		const stack = p.vmas.find((v) => v.kind === 'stack');
		assert.ok(stack);
		const [a, b] = await Promise.all([p.read(stack.start, Number(stack.end - stack.start)), q.read(stack.start, Number(stack.end - stack.start))]);
		assert.deepEqual(a.bytes, b.bytes);
		assert.deepEqual(a.segments.map((s) => [s.address, s.length, s.missing]), b.segments.map((s) => [s.address, s.length, s.missing]));
	});

	test('a checkpoint id that is not in the store is a clear error', async () => {
		await assert.rejects(openCheckpoint(new HelperImageSource(session, 'no-such-checkpoint')), (err: unknown) => err instanceof CheckpointError && err.kind === 'not-found' && /no-such-checkpoint/.test(err.message));
	});

	test('a non-root user (sudo) reads the root-only store through the helper, not over SFTP', async () => {
		await shell.ensureUser(SUDO_USER, 'NOPASSWD: ALL');
		const userSession = await HelperSession.open(sshTarget({ user: SUDO_USER }));
		try {
			await assert.rejects(openCheckpoint(await userSession.target.imageSource(checkpointPath)), (err: unknown) => err instanceof CheckpointError && err.kind === 'not-permitted');
			const images = await openCheckpoint(new HelperImageSource(userSession, checkpointId));
			assert.equal(images.processes[0].pid, pid);
			const asRoot = await openCheckpoint(new HelperImageSource(session, checkpointId));
			assert.deepEqual(await described(images), await described(asRoot));
			assert.equal((await images.processes[0].cmdline())?.[1], 'threads');
		} finally {
			await userSession.close();
		}
	});
});
