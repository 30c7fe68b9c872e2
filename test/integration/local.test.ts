/**
 * The local target: the helper spawned directly on this machine. This
 * machine has no usable CRIU (it lives in the target host's root file
 * system), which makes it the place to check that its absence is reported
 * clearly; the cgroup freezer works here as anywhere.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CheckpointError } from '../../src/core/errors';
import { HelperSession } from '../../src/core/session';
import { LocalTarget } from '../../src/core/targets/local';

let session: HelperSession;
let scratch: string;

before(async () => {
	scratch = mkdtempSync(join(tmpdir(), 'ckpt-local-test-'));
	session = await HelperSession.open(new LocalTarget(['--store', join(scratch, 'store')]));
});

after(async () => {
	await session.close();
	rmSync(scratch, { recursive: true, force: true });
});

/** A process of this machine that counts into a file every 20 ms. */
function startCounter(file: string): ChildProcess {
	const program = `let n = 0; setInterval(() => require('fs').writeFileSync(${JSON.stringify(file)}, String(++n)), 20);`;
	return spawn(process.execPath, ['-e', program], { stdio: 'ignore' });
}

function count(file: string): number {
	try {
		return Number(readFileSync(file, 'utf8'));
	} catch {
		return 0;
	}
}

async function waitForCount(file: string, min: number): Promise<number> {
	for (let i = 0; i < 250; i++) {
		const n = count(file);
		if (n >= min) return n;
		await sleep(40);
	}
	throw new Error(`${file} never reached ${min} (at ${count(file)})`);
}

describe('the local target', () => {
	test('hello describes this machine', async () => {
		const hello = await session.hello();
		assert.equal(hello.kernelRelease, release());
		assert.equal(hello.euid, process.geteuid?.());
	});

	test('freeze and thaw a process of this machine', async () => {
		const file = join(scratch, 'count');
		const child = startCounter(file);
		try {
			await waitForCount(file, 3);
			const frozen = await session.freeze(child.pid ?? 0);
			assert.deepEqual(frozen.pids, [child.pid]);
			const held = count(file);
			await sleep(400);
			assert.equal(count(file), held);
			await session.thaw(child.pid ?? 0);
			await waitForCount(file, held + 3);
		} finally {
			child.kill('SIGKILL');
		}
	});

	test('without a usable CRIU, dump says what to install and the process runs on', async (t) => {
		const hello = await session.hello();
		if (hello.criuVersion) {
			t.skip('this machine has a usable CRIU; the SSH tests cover dumps');
			return;
		}
		const file = join(scratch, 'count2');
		const child = startCounter(file);
		try {
			await waitForCount(file, 3);
			await assert.rejects(session.dump(child.pid ?? 0), (err: unknown) => {
				assert.ok(err instanceof CheckpointError);
				assert.equal(err.kind, 'criu-unavailable');
				assert.match(err.message, /install criu/i);
				return true;
			});
			const after = count(file);
			await waitForCount(file, after + 3);
		} finally {
			child.kill('SIGKILL');
		}
	});
});
