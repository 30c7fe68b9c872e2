/**
 * Checkpoint, restore, freeze and thaw of real programs on the target host,
 * through the real helper and CRIU, over SSH.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CheckpointError } from '../../src/core/errors';
import { pb } from '../../src/core/protocol';
import { allAbove, allAtLeast, allBelow, targetSuite, testPort, WORKLOAD } from './harness';
import { inetSocketsDumpable } from './richCheckpoint';

const suite = targetSuite();

const counters = (dir: string, names: string[]): Promise<number[]> => suite.shell.counters(dir, names);
const waitUntil = (dir: string, names: string[], accept: (c: number[]) => boolean, what: string): Promise<number[]> =>
	suite.shell.waitForCounters(dir, names, accept, what);

/**
 * Checkpoints a running workload with leave_running, lets it run well past
 * that point, kills it, restores, and checks that every counter went back
 * to (at least) where it was at the checkpoint and counts on from there.
 */
async function rollBack(args: string[], records: string[], expectedProcesses: number): Promise<void> {
	const { pid, dir } = await suite.shell.start(args);
	await waitUntil(dir, records, (c) => c.every((v) => v >= 5), 'the workload did not start counting');

	const beforeDump = await counters(dir, records);
	const progress: string[] = [];
	const checkpoint = await suite.session.dump(pid, { leaveRunning: true, name: `rollback ${args[0]}`, onProgress: (p) => progress.push(p.stage) });
	suite.checkpoints.push(checkpoint.id);
	assert.equal(checkpoint.rootPid, pid);
	assert.equal(checkpoint.processes.length, expectedProcesses);
	assert.ok(checkpoint.stats && checkpoint.stats.pagesWritten > 0, 'CRIU statistics report written pages');
	assert.ok(progress.includes('dumping'), `progress events arrived: ${progress.join(', ')}`);

	const afterDump = await counters(dir, records);
	const late = await waitUntil(dir, records, allAtLeast(afterDump.map((v) => v + 100)), 'the tree did not run on after the checkpoint');
	await suite.shell.killTree(pid);
	assert.equal(await suite.shell.isAlive(pid), false);

	const restored = await suite.session.restore(checkpoint.id);
	assert.equal(restored.rootPid, pid, 'CRIU restores the root at its original pid');
	assert.equal(restored.pids.length, expectedProcesses);

	const rolledBack = await waitUntil(dir, records, allBelow(late), 'the restored tree did not go back to the checkpoint');
	assert.ok(allAtLeast(beforeDump)(rolledBack), `restored counters ${rolledBack.join(' ')} are at least those before the dump (${beforeDump.join(' ')})`);
	await waitUntil(dir, records, allAbove(rolledBack), 'the restored tree does not count on');
	assert.ok(await suite.shell.isAlive(pid));
}

describe('checkpoint and restore', () => {
	test('a single-threaded counter rolls back to the checkpoint and counts on', async () => {
		await rollBack([WORKLOAD, 'counter', '{dir}'], ['state'], 1);
	});

	test('a multi-threaded program rolls back with every thread', async () => {
		await rollBack([WORKLOAD, 'threads', '{dir}', '4'], ['state'], 1);
	});

	test('a parent and its child roll back together', async () => {
		await rollBack([WORKLOAD, 'family', '{dir}'], ['parent', 'child'], 2);
	});

	test('a dump without leave_running ends the tree; restore brings it back', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await waitUntil(dir, ['state'], (c) => c[0] >= 5, 'the workload did not start counting');
		const checkpoint = await suite.session.dump(pid);
		suite.checkpoints.push(checkpoint.id);
		for (let i = 0; i < 40 && await suite.shell.isAlive(pid); i++) await sleep(50);
		assert.equal(await suite.shell.isAlive(pid), false, 'CRIU ends the tree after a dump without leave_running');
		const stopped = await counters(dir, ['state']);
		await sleep(200);
		assert.deepEqual(await counters(dir, ['state']), stopped);

		const restored = await suite.session.restore(checkpoint.id);
		assert.equal(restored.rootPid, pid);
		await waitUntil(dir, ['state'], allAbove(stopped), 'the restored counter does not count on');
	});

	test('restoring over a tree that still runs is refused unless asked to kill it', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await waitUntil(dir, ['state'], (c) => c[0] >= 5, 'the workload did not start counting');
		const checkpoint = await suite.session.dump(pid, { leaveRunning: true });
		suite.checkpoints.push(checkpoint.id);

		await assert.rejects(suite.session.restore(checkpoint.id), (err: unknown) => {
			assert.ok(err instanceof CheckpointError);
			assert.equal(err.kind, 'tree-running');
			assert.match(err.message, new RegExp(`${pid}`));
			return true;
		});
		assert.ok(await suite.shell.isAlive(pid), 'the refused restore left the running tree alone');

		const late = await waitUntil(dir, ['state'], (c) => c[0] >= 60, 'the tree did not run on');
		const restored = await suite.session.restore(checkpoint.id, { killRunning: true });
		assert.deepEqual(restored.killedPids, [pid]);
		assert.equal(restored.rootPid, pid);
		await waitUntil(dir, ['state'], allBelow(late), 'the restore over the killed tree did not roll back');
	});

	test('list shows the checkpoints made, delete removes one', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await waitUntil(dir, ['state'], (c) => c[0] >= 1, 'the workload did not start counting');
		const checkpoint = await suite.session.dump(pid, { leaveRunning: true, name: 'to delete' });
		const listed = (await suite.session.list()).find((c) => c.id === checkpoint.id);
		assert.ok(listed, 'the new checkpoint is listed');
		assert.equal(listed.name, 'to delete');
		assert.equal(listed.rootPid, pid);
		assert.deepEqual(listed.processes[0].cmdline, [WORKLOAD, 'counter', dir]);
		assert.match(listed.criuVersion, /^4\./);

		const mode = await suite.shell.ok(`stat -c '%a' ${listed.path} ${listed.path}/manifest.json ${listed.path}/pstree.img`);
		assert.deepEqual(mode.trim().split('\n'), ['700', '600', '600'], 'images hold process memory: 0700 directories, 0600 files');

		await suite.session.remove(checkpoint.id);
		assert.equal((await suite.session.list()).some((c) => c.id === checkpoint.id), false);
		assert.equal((await suite.shell.run(`test -e ${listed.path}`)).code, 1);
		await assert.rejects(suite.session.remove(checkpoint.id), (err: unknown) => err instanceof CheckpointError && err.kind === 'not-found');
	});
});

describe('rename', () => {
	const fields = (c: pb.Checkpoint): object => pb.Checkpoint.toObject(c, { longs: Number, enums: String, defaults: true, arrays: true });

	/** Both manifests as they are on the target: manifest.pb decoded, manifest.json parsed. */
	async function manifests(path: string): Promise<{ pb: object; json: Record<string, unknown>; modes: string[]; entries: string[] }> {
		const pbBytes = Buffer.from(await suite.shell.ok(`base64 -w0 ${path}/manifest.pb`), 'base64');
		const json = JSON.parse(await suite.shell.ok(`cat ${path}/manifest.json`)) as Record<string, unknown>;
		const modes = (await suite.shell.ok(`stat -c '%a' ${path}/manifest.pb ${path}/manifest.json`)).trim().split('\n');
		const entries = (await suite.shell.ok(`ls -A ${path}`)).trim().split('\n');
		return { pb: fields(pb.Checkpoint.decode(pbBytes)), json, modes, entries };
	}

	test('rename changes the name in list and in both manifests, keeps the rest; bad names and unknown ids are refused', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await waitUntil(dir, ['state'], (c) => c[0] >= 1, 'the workload did not start counting');
		const checkpoint = await suite.session.dump(pid, { leaveRunning: true, name: 'before rename' });
		suite.checkpoints.push(checkpoint.id);
		const before = await manifests(checkpoint.path);
		assert.deepEqual(before.pb, fields(checkpoint), 'manifest.pb is the manifest the dump answered');

		const renamed = await suite.session.rename(checkpoint.id, 'after rename: a \t tab, é');
		const expected = { ...fields(checkpoint), name: 'after rename: a \t tab, é' };
		assert.deepEqual(fields(renamed), expected, 'the answer is the manifest with only the name changed');
		const listed = (await suite.session.list()).find((c) => c.id === checkpoint.id);
		assert.ok(listed, 'the renamed checkpoint is listed');
		assert.deepEqual(fields(listed), expected);
		const after = await manifests(checkpoint.path);
		assert.deepEqual(after.pb, expected);
		assert.deepEqual(after.json, { ...before.json, name: 'after rename: a \t tab, é' }, 'manifest.json changed in its name only');
		assert.deepEqual(after.modes, ['600', '600'], 'the new manifests are 0600 like the old');
		assert.deepEqual(after.entries, before.entries, 'no temporary file is left in the checkpoint');

		const cleared = await suite.session.rename(checkpoint.id, '');
		assert.equal(cleared.name, '');
		assert.equal((await suite.session.list()).find((c) => c.id === checkpoint.id)?.name, '', 'an empty name clears it');
		assert.equal((await manifests(checkpoint.path)).json.name, '');

		for (const bad of ['a\nb', 'bell\u0007', 'x'.repeat(257)]) {
			await assert.rejects(suite.session.rename(checkpoint.id, bad), (err: unknown) => {
				assert.ok(err instanceof CheckpointError);
				assert.equal(err.kind, 'bad-request');
				assert.match(err.message, /256 bytes|control characters/);
				return true;
			});
		}
		assert.ok((await suite.session.rename(checkpoint.id, 'x'.repeat(256))).name.length === 256, '256 bytes is the most a name may have');
		await assert.rejects(suite.session.rename('../etc', 'x'), (err: unknown) => err instanceof CheckpointError && err.kind === 'bad-request' && /invalid checkpoint id/.test(err.message));
		await assert.rejects(suite.session.rename('20000101-000000-0000', 'x'), (err: unknown) => {
			assert.ok(err instanceof CheckpointError);
			assert.equal(err.kind, 'not-found');
			assert.match(err.message, /no checkpoint 20000101-000000-0000/);
			return true;
		});
		assert.deepEqual((await manifests(checkpoint.path)).pb, { ...expected, name: 'x'.repeat(256) }, 'refused renames left the manifest alone');
	});
});

describe('ps', () => {
	test('describes a tree: ids, suite.session, threads, namespaces, frozen or not', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'family', '{dir}']);
		await waitUntil(dir, ['parent', 'child'], (c) => c.every((v) => v >= 1), 'the workload did not start counting');
		const { pid: threaded } = await suite.shell.start([WORKLOAD, 'threads', '{dir}', '3']);
		const childPid = (await suite.shell.record(dir, 'child'))[0];

		const tree = await suite.session.ps(pid);
		assert.deepEqual(tree.map((p) => p.pid).sort((a, b) => a - b), [pid, childPid].sort((a, b) => a - b), 'ps PID lists the tree only');
		const root = tree.find((p) => p.pid === pid);
		const child = tree.find((p) => p.pid === childPid);
		assert.ok(root && child);
		assert.equal(child.ppid, pid);
		assert.equal(root.sid, pid, 'setsid made it a suite.session leader');
		assert.equal(root.pgid, pid);
		assert.equal(child.sid, pid);
		assert.equal(root.uid, 0);
		assert.equal(root.comm, 'workload');
		assert.deepEqual(root.cmdline, [WORKLOAD, 'family', dir]);
		assert.equal(root.tty, '', 'no controlling terminal');
		assert.match(root.state, /^[RS]$/);
		assert.deepEqual(root.threads, [pid]);
		const ownNs = (await suite.shell.ok(`readlink /proc/${pid}/ns/pid /proc/${pid}/ns/mnt /proc/${pid}/ns/net`)).trim().split('\n');
		const inode = (link: string): number => Number(/\[(\d+)\]/.exec(link)?.[1]);
		assert.equal(root.namespaces?.pid, inode(ownNs[0]));
		assert.equal(root.namespaces?.mnt, inode(ownNs[1]));
		assert.equal(root.namespaces?.net, inode(ownNs[2]));
		assert.equal(root.frozen, false);

		const [withThreads] = await suite.session.ps(threaded);
		assert.equal(withThreads.threads.length, 4, 'the main thread and three more');
		assert.equal(withThreads.threads[0], threaded);
		assert.deepEqual(withThreads.threadNames, ['workload', 'worker-1', 'worker-2', 'worker-3'], 'each thread\'s own name, in the order of threads');

		await suite.session.freeze(pid);
		assert.ok((await suite.session.ps(pid)).every((p) => p.frozen), 'ps shows the frozen tree as frozen');
		await suite.session.thaw(pid);
		assert.ok((await suite.session.ps(pid)).every((p) => !p.frozen));
	});

	test('ps of a pid that does not exist says so', async () => {
		await assert.rejects(suite.session.ps(4194000), (err: unknown) => err instanceof CheckpointError && err.kind === 'no-such-process' && /4194000/.test(err.message));
	});
});

describe('freeze and thaw', () => {
	test('freeze stops the tree and thaw resumes it, seen from outside', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'family', '{dir}']);
		const records = ['parent', 'child'];
		await waitUntil(dir, records, (c) => c.every((v) => v >= 3), 'the workload did not start counting');

		const frozen = await suite.session.freeze(pid);
		assert.equal(frozen.rootPid, pid);
		assert.equal(frozen.pids.length, 2, 'parent and child are frozen');
		const held = await counters(dir, records);
		await sleep(500);
		assert.deepEqual(await counters(dir, records), held, 'no counter moves while frozen');

		await suite.session.thaw(pid);
		await waitUntil(dir, records, allAbove(held), 'the tree did not resume after thaw');
	});

	test('a frozen tree is dumped as it stands and stays frozen until thawed', async () => {
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'counter', '{dir}']);
		await waitUntil(dir, ['state'], (c) => c[0] >= 3, 'the workload did not start counting');
		await suite.session.freeze(pid);
		const held = await counters(dir, ['state']);
		const checkpoint = await suite.session.dump(pid, { leaveRunning: true });
		suite.checkpoints.push(checkpoint.id);
		await sleep(400);
		assert.deepEqual(await counters(dir, ['state']), held, 'the tree is still frozen after the dump');
		await suite.session.thaw(pid);
		await waitUntil(dir, ['state'], allAbove(held), 'the tree did not resume after thaw');
	});
});

describe('what CRIU refuses leaves the program running', () => {
	test('dump of a pid that does not exist', async () => {
		const before = (await suite.session.list()).length;
		const missing = Number(await suite.shell.ok('echo $(( $(cat /proc/sys/kernel/pid_max) - 7 ))'));
		await assert.rejects(suite.session.dump(missing), (err: unknown) => {
			assert.ok(err instanceof CheckpointError);
			assert.equal(err.kind, 'no-such-process');
			assert.match(err.message, new RegExp(`${missing}`));
			return true;
		});
		assert.equal((await suite.session.list()).length, before, 'no checkpoint is left behind');
	});

	test('dump of a tree with an established TCP connection to outside it', async () => {
		const port = testPort();
		const listener = await suite.shell.start([WORKLOAD, 'tcp-listen', String(port)]);
		await suite.shell.waitForListener(port);
		const { pid, dir } = await suite.shell.start([WORKLOAD, 'tcp-client', '{dir}', String(port)]);
		await waitUntil(dir, ['state'], (c) => c[0] >= 3, 'the client did not connect and count');
		const before = (await suite.session.list()).length;

		// The default policy refuses it before CRIU runs, naming the connection and the way ahead.
		await assert.rejects(suite.session.dump(pid, { leaveRunning: true }), (err: unknown) => {
			assert.ok(err instanceof CheckpointError);
			assert.equal(err.kind, 'leaks-refused');
			const tcp = err.leaks.find((l) => l.kind === pb.LeakKind.LEAK_KIND_TCP);
			assert.ok(tcp, `the refusal names the TCP connection: ${err.message}`);
			assert.match(tcp.resource ?? '', new RegExp(`^tcp 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${port}$`));
			assert.ok(tcp.choices?.some((c) => c.policy === pb.LeakPolicy.LEAK_POLICY_SAVE && c.criuOption === '--tcp-established'));
			return true;
		});
		// With save, CRIU is asked for tcp_established. The target's CRIU (4.1.1) cannot dump inet sockets on
		// Linux >= 6.16 (criu#2705): the helper says so before anything is frozen (leaks.test.ts saves
		// connections with the target's CRIU 4.2).
		const policy = [{ kind: pb.LeakKind.LEAK_KIND_TCP, policy: pb.LeakPolicy.LEAK_POLICY_SAVE }];
		const tcp = await inetSocketsDumpable(suite.shell);
		const saved = await suite.session.dump(pid, { leaveRunning: true, policy }).catch((err: unknown) => err);
		if (!tcp.ok) {
			assert.ok(saved instanceof CheckpointError, String(saved));
			assert.equal(saved.kind, 'criu-unavailable', saved.message);
			assert.match(saved.message, /^the tree has TCP or UDP sockets; nothing was frozen or written: CRIU 4\.1\.\d+ cannot dump TCP or UDP sockets on this kernel: .*criu#2705\)\. Use CRIU 4\.2 or newer \(ckpt --criu PATH, or criuPath/);
		} else {
			assert.ok(saved instanceof pb.Checkpoint, String(saved));
			assert.equal(saved.options?.tcpEstablished, true, 'the save policy asked CRIU for tcp_established');
			await suite.session.remove(saved.id);
		}
		const held = await counters(dir, ['state']);
		await waitUntil(dir, ['state'], allAbove(held.map((v) => v + 5)), 'the client does not run after the failed dump');
		assert.ok(await suite.shell.isAlive(listener.pid));
		assert.equal((await suite.session.list()).length, before, 'no checkpoint is left behind');
	});
});
