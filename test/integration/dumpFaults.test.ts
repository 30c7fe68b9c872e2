/**
 * What a dump that fails after CRIU's leaves behind, on the target: the
 * real helper started with `--fault POINT=ERRNO` (its fault injection) so
 * that a write fails as a full disk would. Complete images are never
 * thrown away: a final manifest that cannot be written leaves the first one
 * (provisional) and a listed, restorable checkpoint; a dump that fails
 * after CRIU ended the program keeps its images and says where. The rows of
 * what issue 14 calls the fault matrix, for the dump; other operations get
 * theirs here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { HelperSession } from '../../src/core/session';
import { shellSuite, sshTarget, WORKLOAD } from './harness';

const STORE = '/var/lib/checkpoint-debugger/fault-tests';

const suite = shellSuite((shell) => shell.run(`rm -rf ${STORE}`));

/** A helper session on the fault tests' store whose point fails with errno. */
const faulty = (fault: string): Promise<HelperSession> => HelperSession.open(sshTarget({ helperArgs: ['--store', STORE, '--fault', fault] }));

async function counter(): Promise<{ pid: number; dir: string }> {
	const started = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
	await suite.shell.waitForRecord(started.dir, 'state', (r) => r[1] >= 2);
	return started;
}

describe('dump faults (the helper\'s --fault)', () => {
	test('the final manifest cannot be written (ENOSPC), the program ended by the dump: the checkpoint is listed with its first manifest and restores', async () => {
		const session = await faulty('manifest-final=ENOSPC');
		try {
			const { pid, dir } = await counter();
			const c = await session.dump(pid, { leaveRunning: false, name: 'provisional' });
			assert.equal(c.provisional, true, 'the answer says the manifest is the first one');
			for (let i = 0; i < 100 && await suite.shell.isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
			assert.equal(await suite.shell.isAlive(pid), false, 'CRIU ended the program');
			const listed = (await session.list()).find((x) => x.id === c.id);
			assert.ok(listed?.provisional, 'listed, provisional');
			const restored = await session.restore(c.id, { lazy: false });
			assert.equal(restored.rootPid, pid);
			const before = (await suite.shell.record(dir))[1];
			await suite.shell.waitForRecord(dir, 'state', (r) => r[1] > before);
			await suite.shell.killTree(pid);
			await session.remove(c.id);
		} finally {
			await session.close();
		}
	});

	test('the dump fails after CRIU ended the program: its complete images are kept, the error says so, the next listing lists them and they restore', async () => {
		const session = await faulty('rename-final=EIO');
		try {
			const { pid, dir } = await counter();
			const failure = await session.dump(pid, { leaveRunning: false, name: 'kept' }).then(() => undefined, (err: unknown) => err);
			assert.ok(failure instanceof CheckpointError, String(failure));
			const kept = /its complete images are kept in \S+\.partial, and listed as checkpoint (\S+) from the next listing on/.exec(failure.message);
			assert.ok(kept, failure.message);
			assert.equal(await suite.shell.isAlive(pid), false);
			const listed = (await session.list()).find((c) => c.id === kept[1]);
			assert.ok(listed, 'listed once the dump let go of it');
			assert.equal(listed.provisional, false, 'with its final manifest, written before the rename failed');
			assert.equal(listed.name, 'kept');
			assert.equal((await suite.shell.run(`ls -d ${STORE}/*.partial 2>/dev/null`)).stdout.trim(), '', 'no .partial left');
			const restored = await session.restore(listed.id, { lazy: false });
			assert.equal(restored.rootPid, pid);
			const before = (await suite.shell.record(dir))[1];
			await suite.shell.waitForRecord(dir, 'state', (r) => r[1] > before);
			await suite.shell.killTree(pid);
			await session.remove(listed.id);
		} finally {
			await session.close();
		}
	});

	test('a program left running when the dump fails after CRIU: nothing is kept, it runs on', async () => {
		const session = await faulty('rename-final=EIO');
		try {
			const { pid } = await counter();
			await assert.rejects(session.dump(pid, { leaveRunning: true }), (err: unknown) => err instanceof CheckpointError && !/are kept/.test(err.message));
			assert.ok(await suite.shell.isAlive(pid));
			assert.equal((await suite.shell.run(`ls ${STORE} | grep -v '^\\.'`)).stdout.trim(), '', 'no directory of it left');
			await suite.shell.killTree(pid);
		} finally {
			await session.close();
		}
	});

	test('a damaged store: an empty manifest is listed as damaged with why (and refused by restore, deleted by rm); a copied directory is its own checkpoint, named by its directory', async () => {
		const session = await HelperSession.open(sshTarget({ helperArgs: ['--store', STORE] }));
		try {
			const { pid } = await counter();
			const c = await session.dump(pid, { leaveRunning: true, name: 'original' });
			await suite.shell.ok(`mkdir -p ${STORE}/empty && : > ${STORE}/empty/manifest.pb && cp -a ${STORE}/${c.id} ${STORE}/copied`);
			const list = await session.list();
			const empty = list.find((x) => x.id === 'empty');
			assert.match(empty?.damaged ?? '', /the manifest of checkpoint empty is empty: it names no process/);
			assert.equal(empty?.path, `${STORE}/empty`);
			const copied = list.find((x) => x.id === 'copied');
			assert.equal(copied?.damaged, '');
			assert.equal(copied?.path, `${STORE}/copied`, 'the copy is its own, at its own path');
			assert.equal(list.filter((x) => x.id === c.id).length, 1, 'the original listed once');
			await assert.rejects(session.restore('empty', {}), /the manifest of checkpoint empty is empty/);
			await session.remove('empty');
			for (const id of ['copied', c.id]) await session.remove(id);
			assert.deepEqual((await session.list()).map((x) => x.id), []);
			await suite.shell.killTree(pid);
		} finally {
			await session.close();
		}
	});
});
