/**
 * Lazy restores on the target: CRIU's lazy-pages daemon (through the real
 * helper, over SSH) brings a program back whose memory is checked word by
 * word (workload pattern: pages it touches at once and pages left to the
 * background copy); a checkpoint whose pages are still coming cannot be
 * deleted; a daemon that dies half-way takes the restored tree with it and
 * says so.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import type { pb } from '../../src/core/protocol';
import { shellQuote } from '../../src/core/targets/ssh';
import { targetSuite } from './harness';
import { PatternProgram } from './patternProgram';

const MIB = 64;
const END_WAIT_MS = 60_000;

let lazyPages = false;
const suite = targetSuite(async (opened) => {
	lazyPages = (await opened.session.hello()).criuFeatures?.lazyPages ?? false;
});

/** A pattern workload of generation 1, checkpointed, then at generation 2: what a restore must undo. */
async function checkpointedThenChanged(name: string): Promise<{ program: PatternProgram; pid: number; checkpoint: pb.Checkpoint }> {
	const program = await PatternProgram.start(suite.shell, MIB);
	const checkpoint = await suite.session.dump(program.pid, { leaveRunning: true, name });
	suite.checkpoints.push(checkpoint.id);
	await suite.shell.ok(`kill -USR2 ${program.pid}`);
	await suite.shell.waitForCounters(program.dir, ['state'], (c) => c[1] === 2, 'the workload did not make its second generation');
	return { program, pid: program.pid, checkpoint };
}

/** Restores lazily; the end of the page copying comes with the promise `ended`. */
async function restoreLazily(id: string): Promise<{ restored: pb.RestoreResult; ended: Promise<pb.LazyRestoreEnd> }> {
	let told: (end: pb.LazyRestoreEnd) => void = () => undefined;
	const ended = new Promise<pb.LazyRestoreEnd>((resolve, reject) => {
		told = resolve;
		setTimeout(() => reject(new Error(`no LazyRestoreEnd for ${id} within ${END_WAIT_MS} ms`)), END_WAIT_MS).unref();
	});
	const restored = await suite.session.restore(id, { killRunning: true, onLazyEnd: (end) => told(end) });
	return { restored, ended };
}

/**
 * Stops CRIU's lazy-pages daemon for checkpoint id on the target the moment
 * the restore is done (its CRIU exits; CRIU's restore itself waits for the
 * daemon's last word): the program runs, and no more pages are copied until
 * the daemon is let go. Returns once the watcher runs on the target;
 * `stopped` resolves with the daemon's pid.
 */
async function holdDaemon(id: string, pid: number): Promise<{ stopped: Promise<number> }> {
	const start = (await suite.shell.ok(`cut -d' ' -f22 /proc/${pid}/stat`)).trim();
	const armed = `/tmp/lazy-hold-${id}`;
	// waits in suite.shell builtins only (no fork between the restore's end and the stop)
	const script = [
		`touch ${armed}`,
		// a new start time at pid: the restored root exists, so the restore's CRIU and the daemon do
		`while :; do read -r l < /proc/${pid}/stat 2>/dev/null && { set -- \${l##*) }; [ "\${20}" != "${start}" ] && break; }; done`,
		`rm -f ${armed}`,
		`daemon=$(pgrep -f '^criu lazy-pages --images-dir [^ ]*/${id} ')`,
		`restore=$(pgrep -f '^criu: restore --rpc -D [^ ]*/${id}$')`,
		'while [ -n "$restore" ] && [ -e /proc/$restore ]; do :; done',
		'kill -STOP $daemon && echo $daemon',
	].join('; ');
	const stopped = suite.shell.ok(`timeout 60 bash -c ${shellQuote(script)}`).then((out) => Number(out.trim().split('\n')[0]));
	for (let i = 0; i < 500 && (await suite.shell.run(`test -e ${armed}`)).code !== 0; i++) await new Promise((r) => setTimeout(r, 20));
	return { stopped };
}

describe('lazy restore', () => {
	test('the target says it can (CRIU lazy pages, userfaultfd)', () => {
		assert.ok(lazyPages, 'hello reports CRIU lazy pages on the test target (criu check --feature uffd-noncoop)');
	});

	test('the program runs at once and its memory is the checkpoint\'s, word for word, before and after every page is in', async () => {
		const { program, pid, checkpoint } = await checkpointedThenChanged('lazy pattern');
		const { restored, ended } = await restoreLazily(checkpoint.id);
		assert.equal(restored.lazy, true, 'restored with lazy pages');
		assert.equal(restored.rootPid, pid);
		// checked at once: pages it touches are copied on its faults, the others by the daemon meanwhile
		assert.equal(await program.badWords(), 0, 'every word as the checkpoint had it');
		assert.equal((await program.record())[1], 1, 'the checkpoint\'s generation is back');
		const end = await ended;
		assert.equal(end.ok, true, end.message);
		assert.equal(end.checkpointId, checkpoint.id);
		assert.equal(end.rootPid, pid);
		assert.match(end.logPath, /\/\.logs\/.*\/lazy-pages\.log$/);
		assert.ok(Number(end.wallTimeUs) > 0);
		assert.equal(await program.badWords(), 0, 'still every word, after the daemon ended');
		// the checkpoint is free again: a checkpoint of the restored program and a delete go ahead
		const again = await suite.session.dump(pid, { leaveRunning: true, name: 'after a lazy restore' });
		suite.checkpoints.push(again.id);
		await suite.session.remove(again.id);
	});

	test('--no-lazy (lazy: false) restores every page first', async () => {
		const { program, checkpoint } = await checkpointedThenChanged('full pattern');
		let told = false;
		const restored = await suite.session.restore(checkpoint.id, { killRunning: true, lazy: false, onLazyEnd: () => { told = true; } });
		assert.equal(restored.lazy, false);
		assert.equal(await program.badWords(), 0);
		assert.equal(told, false, 'no lazy end for a full restore');
	});

	test('while pages are coming the checkpoint cannot be deleted; let go, the daemon copies them all and ends', async () => {
		const { program, pid, checkpoint } = await checkpointedThenChanged('held pattern');
		const held = await holdDaemon(checkpoint.id, pid);
		const { restored, ended } = await restoreLazily(checkpoint.id);
		const daemon = await held.stopped;
		assert.equal(restored.lazy, true);
		await assert.rejects(suite.session.remove(checkpoint.id), (err: unknown) => {
			assert.ok(err instanceof CheckpointError);
			assert.equal(err.kind, 'busy');
			assert.match(err.message, /is being restored lazily: CRIU's lazy-pages daemon still copies its pages .* try again in a moment/);
			return true;
		});
		assert.ok((await suite.session.list()).some((c) => c.id === checkpoint.id), 'the checkpoint is still there');
		await suite.shell.ok(`kill -CONT ${daemon}`);
		const end = await ended;
		assert.equal(end.ok, true, end.message);
		assert.equal(await program.badWords(), 0);
	});

	test('a daemon killed half-way: the restored tree is killed (its missing pages would read as zeros), and the end says so', async () => {
		const { pid, checkpoint } = await checkpointedThenChanged('killed daemon');
		const held = await holdDaemon(checkpoint.id, pid);
		const { restored, ended } = await restoreLazily(checkpoint.id);
		const daemon = await held.stopped;
		assert.equal(restored.lazy, true);
		await suite.shell.ok(`kill -KILL ${daemon}`);
		const end = await ended;
		assert.equal(end.ok, false);
		assert.deepEqual(end.killedPids, [pid], end.message);
		assert.match(end.message, new RegExp(`CRIU's lazy-pages daemon was killed by signal 9 \\(Killed\\) before every page of checkpoint ${checkpoint.id} was copied in.*the restored processes were killed \\(1 of them\\), since a page it did not copy would read as zeros`));
		for (let i = 0; i < 100 && await suite.shell.isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
		assert.equal(await suite.shell.isAlive(pid), false, 'the restored process is gone');
		// nothing is busy any more: the checkpoint restores again, fully this time
		const again = await suite.session.restore(checkpoint.id, { lazy: false });
		assert.equal(again.rootPid, pid);
	});
});
