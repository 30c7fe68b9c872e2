/**
 * The fault matrix of issue 14, on the target: each operation that changes
 * something, with the real helper killed (`--fault POINT=KILL`: it dies
 * there as by kill -9) or failing as a full disk would (`--fault
 * POINT=ENOSPC`) at each of its stages; then a fresh helper is asked what is
 * true. After every row: the program runs (and counts on), or it ended and a
 * listed checkpoint restores it; nothing is frozen; nothing half-written is
 * listed or left behind; complete images are never thrown away. A new
 * operation, or a new stage, gets its rows in MATRIX.
 *
 * Stages of a dump: manifest-first (the .partial made, the tree frozen, CRIU
 * not yet run), criu-post-dump (CRIU has written the images and waits for
 * the helper's answer), manifest-final (CRIU done, the final manifest not yet
 * written), rename-final (all written, not yet moved into place). Of a
 * restore --kill-running (of a checkpoint taken with leave-running):
 * restore-criu-first (the running program killed, CRIU not yet run),
 * criu-restored (CRIU has made the tree; restored frozen, it is stopped).
 * Of a delete of a checkpoint another stands on: unshare-pages-taken (the
 * one standing on it has taken in its pages, its manifest and link not yet
 * changed), delete-remove (none stands on it any more, not yet removed),
 * delete-hidden (renamed out of sight, not yet removed).
 * Of a freeze: claim-write (its claim file, before anything is frozen),
 * freeze-answer (the tree frozen, not yet said); the helper
 * killed holding a frozen tree with its watcher killed too is in
 * helperKilled.test.ts. Of the editor's restore (DebuggedTree.restore, which checkpoints the
 * present first): the pre-restore checkpoint failing (manifest-first,
 * disk full: nothing is replaced), or the restore killed after it
 * (restore-criu-first: the present is saved, so it is recoverable).
 * Of a rename: rename-write (the manifest not yet written), manifest-renames
 * (manifest.json renamed into place, manifest.pb not yet): the old name
 * stays, nothing damaged. CONCURRENT: a second request on the same tree or
 * checkpoint from another session while the first runs (two dumps, two
 * restores, two renames, two freezes, two editors' restores; a delete
 * during a restore): one goes ahead, the other waits or says BUSY in words. PAUSE: the first request paused half-way (`--fault
 * POINT=PAUSE`) while the second comes, so that the race goes the same way
 * every time (a restore holding the checkpoint, a delete holding it).
 * FULL: a store on a 1 MiB tmpfs, full while CRIU writes the images of a
 * program holding 16 MiB (CRIU's own writes fail, not the helper's); a
 * delete whose pages cannot be handed over for want of room; a restore from
 * a store with no room left for its logs.
 * DROP: the SSH connection dropped (its sshd process killed) while CRIU
 * dumps or restores a program holding 256 MiB (the editor's restore too),
 * or while a rename or a delete (paused) holds the checkpoint: the helper
 * finishes what it started; or while the session holds the tree frozen: it
 * thaws.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { pb } from '../../src/core/protocol';
import { DebuggedTree } from '../../src/core/debuggedTree';
import { HelperSession } from '../../src/core/session';
import { pollUntil, shellSuite, sshTarget, WORKLOAD } from './harness';

const STORE = '/var/lib/checkpoint-debugger/fault-matrix';
/** A store too small for a program's images (FULL rows). */
const TINY_STORE = '/var/lib/checkpoint-debugger/fault-matrix-tiny';
/** A store with room for a program's checkpoints, filled up before a delete (a FULL delete row). */
const SMALL_STORE = '/var/lib/checkpoint-debugger/fault-matrix-small';
/** What the loser of two dumps or restores of one tree at once is told. */
const TREE_BUSY = /a dump or a restore of the tree of process \d+ is already under way/;

type DumpRow = {
	operation: 'dump';
	point: 'manifest-first' | 'criu-post-dump' | 'manifest-final' | 'rename-final';
	leaveRunning: boolean;
};

type RestoreRow = {
	operation: 'restore';
	/** 'none': the connection dropped while CRIU restores (DROP). */
	point: 'restore-criu-first' | 'criu-restored' | 'none';
	/** Restored frozen (the debugger's way), or running. */
	frozen: boolean;
};

type DeleteRow = {
	operation: 'delete';
	/** 'none': the store full while the pages are handed over (FULL). */
	point: 'unshare-pages-taken' | 'delete-remove' | 'delete-hidden' | 'none';
};

type FreezeRow = {
	operation: 'freeze';
	/** 'none': the connection dropped while the session holds the tree frozen (DROP). */
	point: 'freeze-answer' | 'claim-write' | 'none';
};

type EditorRestoreRow = {
	operation: 'editor restore';
	/** 'none': the connection dropped while CRIU restores (DROP). */
	point: 'manifest-first' | 'restore-criu-first' | 'none';
};

type RenameRow = {
	operation: 'rename';
	point: 'rename-write' | 'manifest-renames';
};

type DumpTwiceRow = {
	operation: 'dump twice';
	point: 'none';
} | {
	operation: 'restore twice';
	point: 'none';
} | {
	operation: 'rename twice';
	point: 'none';
} | {
	operation: 'editor restore twice';
	point: 'none';
} | {
	operation: 'freeze twice';
	point: 'none';
};

/** A restore and a delete of one checkpoint at once: as it comes ('none'), or one paused half-way (PAUSE) while the other starts. */
type DeleteDuringRestoreRow = {
	operation: 'delete during restore';
	point: 'none' | 'restore-criu-first';
} | {
	operation: 'restore during delete';
	point: 'delete-remove';
};

type Row = (DumpRow | RestoreRow | DeleteRow | FreezeRow | EditorRestoreRow | RenameRow | DumpTwiceRow | DeleteDuringRestoreRow) & {
	fault: 'KILL' | 'ENOSPC' | 'EIO' | 'DROP' | 'FULL' | 'CONCURRENT' | 'PAUSE';
	/** What is true after: the program runs or it ended; which checkpoint of it is listed (for a restore: the one restored). */
	program: 'runs' | 'ended';
	checkpoint: 'none' | 'provisional' | 'final';
};

const dump = (point: DumpRow['point'], fault: Row['fault'], leaveRunning: boolean, program: Row['program'], checkpoint: Row['checkpoint']): Row =>
	({ operation: 'dump', point, fault, leaveRunning, program, checkpoint });

const restore = (point: RestoreRow['point'], frozen: boolean, program: Row['program']): Row =>
	({ operation: 'restore', point, fault: 'KILL', frozen, program, checkpoint: 'final' });

/** A delete killed: the program runs on; the checkpoint standing on the deleted one restores, and the delete can be done again. */
const del = (point: DeleteRow['point']): Row => ({ operation: 'delete', point, fault: 'KILL', program: 'runs', checkpoint: 'final' });

/** The editor's restore: its checkpoint of the present fails (nothing replaced), or the restore after it is killed (the present saved). */
const editorRestore = (point: EditorRestoreRow['point'], fault: Row['fault'], program: Row['program']): Row =>
	({ operation: 'editor restore', point, fault, program, checkpoint: 'final' });

const MATRIX: readonly Row[] = [
	// a helper killed holding the tree frozen: its watcher thaws it at once
	{ operation: 'freeze', point: 'freeze-answer', fault: 'KILL', program: 'runs', checkpoint: 'none' },
	// its claim (in /run) cannot be written: nothing frozen, said in words
	{ operation: 'freeze', point: 'claim-write', fault: 'ENOSPC', program: 'runs', checkpoint: 'none' },
	// the connection dropped while the session holds the tree frozen: its helper ends, the tree thaws
	{ operation: 'freeze', point: 'none', fault: 'DROP', program: 'runs', checkpoint: 'none' },
	// killed before CRIU, or while CRIU waits for it: CRIU gives up, the tree is thawed, nothing kept
	dump('manifest-first', 'KILL', false, 'runs', 'none'),
	dump('manifest-first', 'KILL', true, 'runs', 'none'),
	dump('criu-post-dump', 'KILL', false, 'runs', 'none'),
	dump('criu-post-dump', 'KILL', true, 'runs', 'none'),
	// killed after CRIU: the images are complete and listed (with the first manifest, or the final one)
	dump('manifest-final', 'KILL', false, 'ended', 'provisional'),
	dump('manifest-final', 'KILL', true, 'runs', 'provisional'),
	dump('rename-final', 'KILL', false, 'ended', 'final'),
	dump('rename-final', 'KILL', true, 'runs', 'final'),
	// a full disk at each write
	dump('manifest-first', 'ENOSPC', false, 'runs', 'none'),
	dump('manifest-first', 'ENOSPC', true, 'runs', 'none'),
	dump('manifest-final', 'ENOSPC', false, 'ended', 'provisional'),
	dump('manifest-final', 'ENOSPC', true, 'runs', 'provisional'),
	dump('rename-final', 'EIO', false, 'ended', 'final'),
	dump('rename-final', 'EIO', true, 'runs', 'none'),
	// the disk full under CRIU: it gives up, the program runs on, nothing is left
	dump('criu-post-dump', 'FULL', false, 'runs', 'none'),
	dump('criu-post-dump', 'FULL', true, 'runs', 'none'),
	// the connection dropped while CRIU dumps: the checkpoint is made all the same, nothing stays frozen
	dump('criu-post-dump', 'DROP', false, 'ended', 'final'),
	dump('criu-post-dump', 'DROP', true, 'runs', 'final'),
	// a restore killed after it killed what ran: the checkpoint is still there to restore
	restore('restore-criu-first', false, 'ended'),
	restore('restore-criu-first', true, 'ended'),
	// killed once CRIU made the tree: it runs (restored frozen, it is not left stopped)
	restore('criu-restored', false, 'runs'),
	restore('criu-restored', true, 'runs'),
	// a delete killed half-way: nothing lost, and it can be done again
	del('unshare-pages-taken'),
	del('delete-remove'),
	del('delete-hidden'),
	// the editor's restore: the present is checkpointed before anything is replaced
	editorRestore('manifest-first', 'ENOSPC', 'runs'),
	editorRestore('restore-criu-first', 'KILL', 'ended'),
	// the connection dropped while CRIU restores: the helper finishes; the present saved, the target restored
	editorRestore('none', 'DROP', 'runs'),
	// a rename killed or failing before or between its writes: the old name stays, nothing damaged
	{ operation: 'rename', point: 'rename-write', fault: 'KILL', program: 'runs', checkpoint: 'final' },
	{ operation: 'rename', point: 'rename-write', fault: 'ENOSPC', program: 'runs', checkpoint: 'final' },
	{ operation: 'rename', point: 'manifest-renames', fault: 'KILL', program: 'runs', checkpoint: 'final' },
	// the connection dropped while a rename or a delete holds the checkpoint: the helper finishes it
	{ operation: 'rename', point: 'rename-write', fault: 'DROP', program: 'runs', checkpoint: 'final' },
	{ operation: 'delete', point: 'delete-remove', fault: 'DROP', program: 'runs', checkpoint: 'final' },
	// two sessions at once on the same tree or checkpoint
	{ operation: 'dump twice', point: 'none', fault: 'CONCURRENT', program: 'runs', checkpoint: 'final' },
	{ operation: 'restore twice', point: 'none', fault: 'CONCURRENT', program: 'runs', checkpoint: 'final' },
	{ operation: 'rename twice', point: 'none', fault: 'CONCURRENT', program: 'runs', checkpoint: 'final' },
	{ operation: 'freeze twice', point: 'none', fault: 'CONCURRENT', program: 'runs', checkpoint: 'none' },
	{ operation: 'editor restore twice', point: 'none', fault: 'CONCURRENT', program: 'runs', checkpoint: 'final' },
	// the connection dropped while CRIU restores: the helper finishes, the program runs restored
	{ operation: 'restore', point: 'none', fault: 'DROP', frozen: false, program: 'runs', checkpoint: 'final' },
	// the store full while a restore writes its logs: it restores, the checkpoint stays whole
	{ operation: 'restore', point: 'none', fault: 'FULL', frozen: false, program: 'runs', checkpoint: 'final' },
	// the store full while a delete hands pages over: refused in words, both checkpoints whole
	{ operation: 'delete', point: 'none', fault: 'FULL', program: 'runs', checkpoint: 'final' },
	{ operation: 'delete during restore', point: 'none', fault: 'CONCURRENT', program: 'runs', checkpoint: 'final' },
	// the restore has the checkpoint: the delete waits for it, then goes on
	{ operation: 'delete during restore', point: 'restore-criu-first', fault: 'PAUSE', program: 'runs', checkpoint: 'none' },
	// the delete has it: the restore, once let in, finds it gone and kills nothing
	{ operation: 'restore during delete', point: 'delete-remove', fault: 'PAUSE', program: 'runs', checkpoint: 'none' },
];

const suite = shellSuite((shell) => shell.run(`rm -rf ${STORE}; for s in ${TINY_STORE} ${SMALL_STORE}; do umount $s 2>/dev/null; rm -rf $s; done`));

const session = (fault?: string): Promise<HelperSession> =>
	HelperSession.open(sshTarget({ helperArgs: ['--store', STORE, ...(fault ? ['--fault', fault] : [])] }));

const counted = async (dir: string): Promise<number> => (await suite.shell.record(dir))[1];

/** The program counts on: not frozen, not stopped, not gone. */
async function assertCounting(dir: string): Promise<void> {
	const before = await counted(dir);
	await suite.shell.waitForRecord(dir, 'state', (r) => r[1] > before, 10000);
}

/** The operation of row's fault: its result, or what it failed with (a killed helper drops the session). */
async function faultyOperation(r: Row, pid: number, dir: string): Promise<object | Error> {
	if (r.fault === 'DROP') return droppedOperation(r, pid, dir);
	if (r.fault === 'FULL' && r.operation === 'delete') return deleteInFullStore(pid, dir);
	if (r.fault === 'FULL' && r.operation === 'restore') return restoreFromFullStore(pid, dir);
	if (r.fault === 'FULL') return dumpIntoFullStore(r, pid);
	if (r.operation === 'delete') return killedDelete(r, pid, dir);
	if (r.operation === 'editor restore') return faultyEditorRestore(r, pid);
	if (r.operation === 'rename') return faultyRename(r, pid);
	if (r.operation === 'dump twice') return dumpTwice(pid);
	if (r.operation === 'restore twice') return restoreTwice(pid);
	if (r.operation === 'rename twice') return renameTwice(pid);
	if (r.operation === 'freeze twice') return freezeTwice(pid);
	if (r.operation === 'editor restore twice') return editorRestoreTwice(pid);
	if (r.operation === 'delete during restore' && r.point === 'none') return deleteDuringRestore(pid);
	if (r.operation === 'delete during restore' || r.operation === 'restore during delete') return oneAfterTheOther(r, pid);
	return killedOrFailing(r, pid);
}

type FaultRow = (DumpRow | RestoreRow | FreezeRow) & Pick<Row, 'fault'>;

/** The dump, restore (of a checkpoint taken first) or freeze of row, with its fault; what it answered or failed with. */
async function killedOrFailing(r: FaultRow, pid: number): Promise<object | Error> {
	let checkpointId = '';
	if (r.operation === 'restore') {
		const healthy = await session();
		checkpointId = (await healthy.dump(pid, { leaveRunning: true, name: `${r.point}-${r.fault}` }).finally(() => healthy.close())).id;
	}
	const faulty = await session(`${r.point}=${r.fault}`);
	try {
		if (r.operation === 'dump') return await faulty.dump(pid, { leaveRunning: r.leaveRunning, name: `${r.point}-${r.fault}` });
		if (r.operation === 'freeze') return await faulty.freeze(pid);
		return await faulty.restore(checkpointId, { killRunning: true, frozen: r.frozen, lazy: false });
	} catch (err) {
		return err instanceof Error ? err : new Error(String(err));
	} finally {
		await faulty.close().catch(() => undefined);
	}
}

/**
 * Two checkpoints of the program, the second standing on the first; the
 * delete of the first killed at the row's point. Its outcome: the second
 * checkpoint's id, for checkTruth.
 */
async function killedDelete(r: Row, pid: number, dir: string): Promise<{ standing: string; deleted: string }> {
	const healthy = await session();
	let first: pb.Checkpoint;
	let second: pb.Checkpoint;
	try {
		first = await healthy.dump(pid, { leaveRunning: true, name: 'first' });
		const at = await counted(dir);
		await suite.shell.waitForRecord(dir, 'state', (rec) => rec[1] > at + 2);
		second = await healthy.dump(pid, { leaveRunning: true, name: `${r.point}-${r.fault}` });
	} finally {
		await healthy.close();
	}
	assert.equal(second.parent, first.id, 'the second checkpoint stands on the first');
	if (r.fault === 'DROP') {
		await droppedWhileLocked(first.id, r.point, (s) => s.remove(first.id));
		return { standing: second.id, deleted: first.id };
	}
	const faulty = await session(`${r.point}=${r.fault}`);
	const deleted = await faulty.remove(first.id).then(() => undefined, (err: unknown) => err);
	await faulty.close().catch(() => undefined);
	assert.ok(deleted instanceof Error, 'a killed helper answers nothing');
	return { standing: second.id, deleted: first.id };
}

/** A rename paused holding the checkpoint, its connection dropped then: the helper finishes it. */
async function droppedRename(pid: number): Promise<{ id: string }> {
	const healthy = await session();
	const c = await healthy.dump(pid, { leaveRunning: true, name: 'old' }).finally(() => healthy.close());
	await droppedWhileLocked(c.id, 'rename-write', (s) => s.rename(c.id, 'new'));
	return { id: c.id };
}

/** Two renames of one checkpoint at once, from two sessions: one after the other, the manifest whole. */
async function renameTwice(pid: number): Promise<object> {
	return withTwoSessions(async (a, b) => {
		const c = await a.dump(pid, { leaveRunning: true, name: 'old' });
		await Promise.all([a.rename(c.id, 'first'), b.rename(c.id, 'second')]);
		const listed = (await a.list()).find((x) => x.id === c.id);
		assert.ok(listed && ['first', 'second'].includes(listed.name) && !listed.damaged, `one name or the other: ${JSON.stringify(listed)}`);
		return { name: listed.name };
	});
}

/** Two sessions freezing the tree at once: one holds it, the other is told in words; the holder's end thaws it. */
async function freezeTwice(pid: number): Promise<object> {
	return withTwoSessions(async (a, b) => {
		const results = await Promise.allSettled([a.freeze(pid), b.freeze(pid)]);
		assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1, 'one session holds the tree');
		for (const x of results) if (x.status === 'rejected') assert.match(String(x.reason), /the tree of process \d+ is frozen by another helper/);
		return { frozen: 1 };
	});
}

/** After a killed delete: the delete can be done again, and the checkpoint that stood on it restores the program. */
async function checkDeleteTruth(pid: number, dir: string, outcome: { standing: string; deleted: string }): Promise<void> {
	const next = await session();
	try {
		const listed = await next.list();
		assert.deepEqual(listed.filter((c) => c.damaged).map((c) => c.id), [], 'nothing damaged');
		assert.equal((await suite.shell.ok(`ls -A ${STORE} | grep '^[.]deleted-'; true`)).trim(), '', 'what a killed delete hid is removed by the listing');
		if (listed.some((c) => c.id === outcome.deleted)) await next.remove(outcome.deleted);
		const standing = (await next.list()).find((c) => c.id === outcome.standing);
		assert.ok(standing, 'the checkpoint that stood on the deleted one is listed');
		assert.equal(standing.parent, '', 'it stands on nothing now');
		const [info] = await next.ps(pid);
		assert.equal(info?.frozen, false);
		await assertCounting(dir);
		assert.equal((await next.restore(standing.id, { killRunning: true, lazy: false })).rootPid, pid);
		await assertCounting(dir);
		await next.remove(standing.id);
	} finally {
		await next.close();
	}
}

/** A checkpoint to go back to, then the editor's restore of it through a helper failing at the row's point. */
async function faultyEditorRestore(r: Row, pid: number): Promise<{ target: string; error: unknown }> {
	const healthy = await session();
	const target = await healthy.dump(pid, { leaveRunning: true, name: 'target' }).finally(() => healthy.close());
	const faulty = await session(`${r.point}=${r.fault}`);
	try {
		const tree = await DebuggedTree.attach(faulty, pid);
		const error = await tree.restore(target.id, { lazy: false }).then(() => undefined, (err: unknown) => err);
		assert.ok(error instanceof Error, 'the restore fails');
		if (r.point === 'manifest-first') assert.match(error.message, /no space|No space/i);
		return { target: target.id, error };
	} finally {
		await faulty.close().catch(() => undefined);
	}
}

/** After the editor's restore failed: nothing replaced, or the present saved and restorable. */
async function checkEditorRestoreTruth(r: Row, pid: number, dir: string, outcome: { target: string }): Promise<void> {
	const next = await session();
	try {
		const mine = (await next.list()).filter((c) => c.rootPid === pid);
		const saved = mine.filter((c) => c.id !== outcome.target);
		if (r.fault === 'DROP') {
			assert.deepEqual(saved.map((c) => [c.name, c.damaged]), [['before restore to target', '']], 'the present saved, whole');
			await assertCounting(dir);
		} else if (r.program === 'runs') {
			assert.deepEqual(saved.map((c) => c.name), [], 'no checkpoint of the present is left half-made');
			const [info] = await next.ps(pid);
			assert.equal(info?.frozen, false);
			await assertCounting(dir);
		} else {
			assert.equal(await suite.shell.isAlive(pid), false, 'the restore killed what ran');
			assert.deepEqual(saved.map((c) => c.name), ['before restore to target'], 'the present was saved first');
			assert.equal((await next.restore(saved[0].id, { lazy: false })).rootPid, pid, 'and it brings the present back');
			await assertCounting(dir);
		}
		await suite.shell.killTree(pid);
		for (const c of mine) await next.remove(c.id);
	} finally {
		await next.close();
	}
}

/** A session whose store is a tmpfs of size at path, mounted unless it is (the disk-full rows). */
async function sessionOnTmpfs(path: string, size: string): Promise<HelperSession> {
	await suite.shell.ok(`mkdir -p ${path} && (mountpoint -q ${path} || mount -t tmpfs -o size=${size},mode=0700 tmpfs ${path})`);
	return HelperSession.open(sshTarget({ helperArgs: ['--store', path] }));
}

/** f with a session on a store of 48 MiB of its own, unmounted after. */
async function withSmallStore<T>(f: (small: HelperSession) => Promise<T>): Promise<T> {
	const small = await sessionOnTmpfs(SMALL_STORE, '48m');
	try {
		return await f(small);
	} finally {
		await small.close();
		await suite.shell.run(`umount ${SMALL_STORE}; rm -rf ${SMALL_STORE}`);
	}
}

/** A dump into a store that fills up while CRIU writes. */
async function dumpIntoFullStore(r: Row, pid: number): Promise<object | Error> {
	const full = await sessionOnTmpfs(TINY_STORE, '1m');
	try {
		const error = await full.dump(pid, { leaveRunning: r.operation === 'dump' && r.leaveRunning }).then(() => undefined, (err: unknown) => err);
		assert.ok(error instanceof Error, 'the dump fails');
		assert.match(error.message, /No space left on device|ENOSPC|space/i);
		assert.deepEqual((await full.list()).map((c) => c.id), [], 'nothing half-written is listed');
		assert.equal((await suite.shell.ok(`ls -A ${TINY_STORE} | grep -v '^\\.' ; true`)).trim(), '', 'nothing is left in the store');
		return error;
	} finally {
		await full.close();
	}
}

/** A checkpoint named "old", then its rename to "new" through a helper failing at the row's point. */
async function faultyRename(r: Row, pid: number): Promise<{ id: string; error: unknown }> {
	const healthy = await session();
	const c = await healthy.dump(pid, { leaveRunning: true, name: 'old' }).finally(() => healthy.close());
	const faulty = await session(`${r.point}=${r.fault}`);
	const error = await faulty.rename(c.id, 'new').then(() => undefined, (err: unknown) => err);
	await faulty.close().catch(() => undefined);
	// killed between its two renames the helper has written manifest.json: the one read, manifest.pb, is the old
	assert.ok(error instanceof Error, 'the rename fails');
	return { id: c.id, error };
}

/** f with two sessions of their own (two editors, two terminals; faults: each one's --fault), both closed after. */
async function withTwoSessions<T>(f: (a: HelperSession, b: HelperSession) => Promise<T>, faults: [string | undefined, string | undefined] = [undefined, undefined]): Promise<T> {
	const [a, b] = await Promise.all([session(faults[0]), session(faults[1])]);
	try {
		return await f(a, b);
	} finally {
		await Promise.all([a.close(), b.close()]);
	}
}

/** Two dumps of the tree at once, from two sessions: one checkpoint, the other told in words. */
async function dumpTwice(pid: number): Promise<object> {
	return withTwoSessions(async (a, b) => {
		const results = await Promise.allSettled([a.dump(pid, { leaveRunning: true, name: 'first' }), b.dump(pid, { leaveRunning: true, name: 'second' })]);
		const made = results.filter((x) => x.status === 'fulfilled');
		const refused = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
		assert.ok(made.length >= 1, 'one dump goes ahead');
		for (const x of refused) assert.match(String(x.reason), TREE_BUSY);
		return { made: made.length };
	});
}

/** Two restores (killing what runs) of one checkpoint at once, from two sessions: one restores, the other is told in words. */
async function restoreTwice(pid: number): Promise<object> {
	return withTwoSessions(async (a, b) => {
		const c = await a.dump(pid, { leaveRunning: true, name: 'twice' });
		const results = await Promise.allSettled([a.restore(c.id, { killRunning: true, lazy: false }), b.restore(c.id, { killRunning: true, lazy: false })]);
		const made = results.filter((x) => x.status === 'fulfilled');
		assert.ok(made.length >= 1, `one restore goes ahead: ${results.map((x) => x.status === 'rejected' ? String(x.reason) : 'restored').join('; ')}`);
		for (const x of results) if (x.status === 'rejected') assert.match(String(x.reason), TREE_BUSY);
		return { made: made.length };
	});
}

/** A restore whose SSH connection is dropped (its sshd killed) once CRIU restores: the helper finishes it. */
async function droppedRestore(pid: number): Promise<object | Error> {
	const healthy = await session();
	const c = await healthy.dump(pid, { leaveRunning: true, name: 'none-DROP' }).finally(() => healthy.close());
	return droppedAt('restoring', (dropped, onProgress) => dropped.restore(c.id, { killRunning: true, lazy: false, onProgress }));
}

/** The row's operation with its SSH connection dropped half-way. */
function droppedOperation(r: Row, pid: number, dir: string): Promise<object | Error> {
	if (r.operation === 'restore') return droppedRestore(pid);
	if (r.operation === 'freeze') return droppedFrozen(pid);
	if (r.operation === 'rename') return droppedRename(pid);
	if (r.operation === 'delete') return killedDelete(r, pid, dir);
	if (r.operation === 'editor restore') return droppedEditorRestore(pid);
	return droppedDump(r, pid);
}

/** The editor's restore (the present checkpointed first) whose connection drops once CRIU restores. */
async function droppedEditorRestore(pid: number): Promise<{ target: string }> {
	const healthy = await session();
	const target = await healthy.dump(pid, { leaveRunning: true, name: 'target' }).finally(() => healthy.close());
	await droppedAt('restoring', async (s, onProgress) => (await DebuggedTree.attach(s, pid)).restore(target.id, { lazy: false, onProgress }));
	return { target: target.id };
}

/** Two editors restoring one checkpoint of the tree at once: one after the other, or one told in words. */
async function editorRestoreTwice(pid: number): Promise<object> {
	return withTwoSessions(async (a, b) => {
		const target = await a.dump(pid, { leaveRunning: true, name: 'target' });
		const trees = await Promise.all([DebuggedTree.attach(a, pid), DebuggedTree.attach(b, pid)]);
		const results = await Promise.allSettled(trees.map((t) => t.restore(target.id, { lazy: false })));
		assert.ok(results.some((x) => x.status === 'fulfilled'), `one restore goes ahead: ${results.map((x) => x.status === 'rejected' ? String(x.reason) : 'restored').join('; ')}`);
		for (const x of results) if (x.status === 'rejected') assert.match(String(x.reason), TREE_BUSY);
		return { restored: results.filter((x) => x.status === 'fulfilled').length };
	});
}

/** A tree frozen by a session whose SSH connection is then dropped (its sshd killed): what the freeze answered. */
async function droppedFrozen(pid: number): Promise<object | Error> {
	return droppedAt('frozen', async (dropped, onProgress) => {
		const frozen = await dropped.freeze(pid);
		onProgress({ stage: 'frozen' });
		await new Promise((res) => setTimeout(res, 200));	// the drop under way while the tree is held
		return frozen;
	});
}

/** A restore (killing what runs) from a store with no room left: it restores; the checkpoint stays whole and restores again. */
async function restoreFromFullStore(pid: number, dir: string): Promise<object> {
	return withSmallStore(async (small) => {
		const c = await small.dump(pid, { leaveRunning: true, name: 'full' });
		await suite.shell.ok(`dd if=/dev/zero of=${SMALL_STORE}/filler bs=1M count=64 2>/dev/null; true`);
		assert.equal((await small.restore(c.id, { killRunning: true, lazy: false })).rootPid, pid, 'restored with no room left');
		await assertCounting(dir);
		await suite.shell.ok(`rm -f ${SMALL_STORE}/filler`);
		assert.deepEqual((await small.list()).map((x) => [x.id, x.damaged]), [[c.id, '']], 'whole, listed');
		assert.equal((await small.restore(c.id, { killRunning: true, lazy: false })).rootPid, pid, 'and it restores again');
		await assertCounting(dir);
		await small.remove(c.id);
		return { restored: c.id };
	});
}

/**
 * A delete of a checkpoint another stands on, in a store with no room for
 * the pages it hands over: refused in words; both checkpoints stay whole,
 * restore, and the delete goes through once there is room.
 */
async function deleteInFullStore(pid: number, dir: string): Promise<object> {
	return withSmallStore(async (small) => {
		const first = await small.dump(pid, { leaveRunning: true, name: 'first' });
		const at = await counted(dir);
		await suite.shell.waitForRecord(dir, 'state', (rec) => rec[1] > at + 2);
		const second = await small.dump(pid, { leaveRunning: true, name: 'second' });
		assert.equal(second.parent, first.id, 'the second stands on the first');
		// what is left free: less than the first's pages the second would take in
		await suite.shell.ok(`dd if=/dev/zero of=${SMALL_STORE}/filler bs=1M count=$(( $(df -m --output=avail ${SMALL_STORE} | tail -1) - 1 )) 2>/dev/null; true`);
		const refused = await small.remove(first.id).then(() => undefined, (err: unknown) => err);
		assert.ok(refused instanceof Error, 'the delete fails');
		assert.match(refused.message, /No space left on device/);
		await suite.shell.ok(`rm -f ${SMALL_STORE}/filler`);
		const listed = await small.list();
		assert.deepEqual(listed.map((c) => [c.name, c.damaged, c.parent]), [['first', '', ''], ['second', '', first.id]], 'both whole, as they were');
		assert.equal((await suite.shell.ok(`ls -A ${SMALL_STORE}/${second.id} | grep -v -e '^pages-' -e '^pagemap-' -e '[.]img$' -e '^manifest' -e '^parent$' -e '^stats-dump$' -e '[.]log$'; true`)).trim(), '', 'nothing half-written left beside the images');
		for (const c of [first, second]) {
			assert.equal((await small.restore(c.id, { killRunning: true, lazy: false })).rootPid, pid, `${c.name} restores`);
			await assertCounting(dir);
		}
		await small.remove(first.id);
		assert.equal((await small.list()).map((c) => c.parent).join(), '', 'once there is room, the delete goes through');
		await small.remove(second.id);
		return { refused: refused.message };
	});
}

/** A restore (killing what runs) and a delete of the same checkpoint at once: the restore finds it whole, or does not find it. */
async function deleteDuringRestore(pid: number): Promise<object> {
	return withTwoSessions(async (a, b) => {
		const c = await a.dump(pid, { leaveRunning: true, name: 'contended' });
		const [restored, deleted] = await Promise.allSettled([a.restore(c.id, { killRunning: true, lazy: false }), b.remove(c.id)]);
		if (restored.status === 'rejected') assert.match(String(restored.reason), /no checkpoint|not found|being deleted|BUSY|busy/i);
		if (deleted.status === 'rejected') assert.match(String(deleted.reason), /cannot delete checkpoint .* yet/);
		return { restored: restored.status, deleted: deleted.status };
	});
}

/**
 * Until a request of another session holds checkpoint id's directory locked
 * (a restore shared, a delete exclusively): it is under way, and pauses
 * (2 s) holding it; a fixed wait lost the race on a loaded machine.
 */
async function untilLocked(id: string): Promise<void> {
	await pollUntil(async () => (await suite.shell.run(`flock -n -x ${STORE}/${id} true`)).code, (code) => code !== 0, 10000,
		() => `no request took checkpoint ${id}`);
}

/**
 * A restore (killing what runs) and a delete of one checkpoint, the first
 * paused half-way while the second comes: the second waits for the first's
 * lock, and then finds the checkpoint as the first left it.
 */
async function oneAfterTheOther(r: Row & { operation: 'delete during restore' | 'restore during delete' }, pid: number): Promise<object> {
	const first = r.operation === 'delete during restore' ? 'restore' : 'delete';
	return withTwoSessions(async (a, b) => {
		const c = await a.dump(pid, { leaveRunning: true, name: 'contended' });
		const restore = () => a.restore(c.id, { killRunning: true, lazy: false });
		const remove = () => b.remove(c.id);
		const started = first === 'restore' ? restore() : remove();
		await untilLocked(c.id);
		const [one, two] = await Promise.allSettled([started, first === 'restore' ? remove() : restore()]);
		// the answers may come in either order (the first lets go of the lock before it answers): their contents say who went first
		assert.equal(one.status, 'fulfilled', `the ${first} goes through: ${one.status === 'rejected' ? String(one.reason) : ''}`);
		if (first === 'restore') assert.equal(two.status, 'fulfilled', 'then the delete does');
		else assert.match(two.status === 'rejected' ? String(two.reason) : 'the restore went through', /no checkpoint \S+ any more: it was deleted while this waited/);
		return { first, second: two.status };
	}, [first === 'restore' ? `${r.point}=PAUSE` : undefined, first === 'delete' ? `${r.point}=PAUSE` : undefined]);
}

/** After a rename failed: the checkpoint keeps its old name, its manifest reads, nothing is left half-written. */
async function checkRenameTruth(pid: number, dir: string, outcome: { id: string }, name: 'old' | 'new'): Promise<void> {
	const next = await session();
	try {
		const c = (await next.list()).find((x) => x.id === outcome.id);
		assert.ok(c, 'still listed');
		assert.equal(c.damaged, '');
		assert.equal(c.name, name, name === 'old' ? 'the old name' : 'the new name: the helper finished the rename');
		await assertCounting(dir);
		assert.equal((await next.rename(c.id, 'new')).name, 'new', 'and the rename can be done again');
		assert.equal((await suite.shell.ok(`ls -A ${STORE}/${c.id} | grep '[.]tmp$'; true`)).trim(), '', 'what the killed rename left is gone with it');
		await next.remove(c.id);
		await suite.shell.killTree(pid);
	} finally {
		await next.close();
	}
}

/** After two requests at once: the program runs, every checkpoint of it listed is whole and restores. */
async function checkConcurrentTruth(pid: number, dir: string): Promise<void> {
	const next = await session();
	try {
		const mine = (await next.list()).filter((c) => c.rootPid === pid || c.damaged);
		assert.deepEqual(mine.map((c) => c.damaged).filter(Boolean), [], 'nothing damaged');
		assert.equal((await suite.shell.run(`ls -d ${STORE}/*.partial 2>/dev/null`)).stdout.trim(), '', 'nothing half-written is left');
		const [info] = await next.ps(pid);
		assert.equal(info?.frozen, false);
		await assertCounting(dir);
		for (const c of mine) {
			assert.equal((await next.restore(c.id, { killRunning: true, lazy: false })).rootPid, pid, `${c.name} restores`);
			await assertCounting(dir);
			await next.remove(c.id);
		}
	} finally {
		await next.close();
	}
}

/** A dump whose SSH connection is dropped (the sshd process serving it killed) once CRIU runs. */
function droppedDump(r: Row, pid: number): Promise<object | Error> {
	const leaveRunning = r.operation === 'dump' && r.leaveRunning;
	return droppedAt('dumping', (dropped, onProgress) => dropped.dump(pid, { leaveRunning, name: `${r.point}-${r.fault}`, onProgress }));
}

/**
 * A request whose SSH connection is dropped (the sshd process serving it
 * killed) once it reports stage: its result or error, after its helper
 * (which finishes what it started, then ends with its connection) is gone.
 */
async function droppedAt(stage: string, request: (s: HelperSession, onProgress: (p: pb.IProgress) => void) => Promise<object>): Promise<object | Error> {
	return dropped(undefined, (s, kill) => request(s, (p) => { if (p.stage === stage) kill(); }));
}

/**
 * A request paused (`--fault POINT=PAUSE`) holding checkpoint id locked,
 * its SSH connection dropped then: what it answered, or its error.
 */
function droppedWhileLocked(id: string, point: string, request: (s: HelperSession) => Promise<unknown>): Promise<object | Error> {
	return dropped(`${point}=PAUSE`, async (s, kill) => {
		const asked = request(s);
		await untilLocked(id);
		kill();
		await asked;
		return { id };
	});
}

/** A request whose connection its kill() drops (the sshd serving it killed); its helper gone after. */
async function dropped(fault: string | undefined, request: (s: HelperSession, kill: () => void) => Promise<object>): Promise<object | Error> {
	const dropped = await session(fault);
	const { helperPid } = await dropped.hello();
	const sshd = (await suite.shell.ok(`ps -o ppid= -p ${helperPid}`)).trim();
	let drop: Promise<unknown> | undefined;
	try {
		return await request(dropped, () => { drop ??= suite.shell.ok(`kill -KILL ${sshd}`); });
	} catch (err) {
		return err instanceof Error ? err : new Error(String(err));
	} finally {
		await drop;
		await dropped.close().catch(() => undefined);
		for (let i = 0; i < 200 && await suite.shell.isAlive(helperPid); i++) await new Promise((res) => setTimeout(res, 50));
	}
}

/** What the next helper says, checked against the row. */
async function checkTruth(r: Row, pid: number, dir: string, outcome: object | Error): Promise<void> {
	const next = await session();
	try {
		const mine = (await next.list()).filter((c) => c.rootPid === pid || c.damaged);
		assert.deepEqual(mine.map((c) => c.damaged), r.checkpoint === 'none' ? [] : [''], `listed: ${JSON.stringify(mine.map((c) => [c.id, c.damaged]))} (the dump: ${outcome instanceof Error ? outcome.message : 'succeeded'})`);
		assert.equal((await suite.shell.run(`ls -d ${STORE}/*.partial 2>/dev/null`)).stdout.trim(), '', 'nothing half-written is left');
		assert.equal((await suite.shell.ok(`find /sys/fs/cgroup -maxdepth 8 -name 'checkpoint-freeze-${pid}' 2>/dev/null; true`)).trim(), '', 'no freeze cgroup is left');
		if (r.program === 'runs') {
			const [info] = await next.ps(pid);
			assert.equal(info?.frozen, false, 'ps says it is not frozen');
			await assertCounting(dir);
		} else {
			for (let i = 0; i < 100 && await suite.shell.isAlive(pid); i++) await new Promise((res) => setTimeout(res, 50));
			assert.equal(await suite.shell.isAlive(pid), false, r.operation === 'dump' ? 'CRIU ended the program' : 'the restore killed it');
		}
		if (r.checkpoint === 'none') return;
		const [c] = mine;
		assert.equal(c.provisional, r.checkpoint === 'provisional', `its manifest is ${r.checkpoint}`);
		assert.equal(c.name, `${r.point}-${r.fault}`, 'the name asked for');
		if (r.program === 'ended') {
			assert.equal((await next.restore(c.id, { lazy: false })).rootPid, pid);
			await assertCounting(dir);
		}
		await suite.shell.killTree(pid);
		await next.remove(c.id);
	} finally {
		await next.close();
	}
}

describe('the fault matrix: each operation, each stage, killed or failing; the next helper tells the truth', () => {
	for (const r of MATRIX) {
		const how = r.fault === 'KILL' ? 'the helper killed' : r.fault === 'DROP' ? 'the connection dropped' : r.fault === 'FULL' ? 'the disk full' : r.fault === 'CONCURRENT' ? 'at once' : r.fault === 'PAUSE' ? 'the first paused' : r.fault;
		const variant = r.operation === 'dump' ? (r.leaveRunning ? ' --leave-running' : '') : r.operation === 'restore' ? ` --kill-running${r.frozen ? ' frozen' : ''}`
			: r.operation === 'delete' ? ' of a checkpoint another stands on' : r.operation === 'editor restore' ? ' (the present checkpointed first)' : '';
		const where = r.fault === 'DROP' && (r.operation === 'restore' || r.operation === 'editor restore') ? 'while CRIU restores' : r.fault === 'DROP' && r.operation === 'freeze' ? 'while it holds the tree frozen'
			: r.fault === 'DROP' && (r.operation === 'rename' || r.operation === 'delete') ? `while it holds the checkpoint (paused at ${r.point})` : r.fault === 'FULL' && r.operation === 'delete' ? 'while it hands pages over' : r.fault === 'FULL' && r.operation === 'restore' ? 'while it writes its logs'
			: r.fault === 'DROP' || r.fault === 'FULL' ? 'while CRIU dumps' : r.fault === 'CONCURRENT' ? 'from two sessions' : `at ${r.point}`;
		test(`${r.operation}${variant}, ${how} ${where}: the program ${r.program}, checkpoint listed: ${r.checkpoint}`, async () => {
			const held = r.fault === 'DROP' ? '256' : r.fault === 'FULL' ? '16' : undefined;
			const { pid, dir } = await suite.shell.start(held ? [WORKLOAD, 'memory', '{dir}', held] : [WORKLOAD, 'counter', '{dir}']);
			try {
				await suite.shell.waitForRecord(dir, 'state', (rec) => rec[1] >= 2);
				const outcome = await faultyOperation(r, pid, dir);
				if ((r.operation === 'delete' || r.operation === 'restore') && r.fault === 'FULL') return;	// checked as it went
				if (r.operation === 'delete') return await checkDeleteTruth(pid, dir, outcome as { standing: string; deleted: string });
				if (r.operation === 'editor restore') return await checkEditorRestoreTruth(r, pid, dir, outcome as { target: string });
				if (r.operation === 'rename') return await checkRenameTruth(pid, dir, outcome as { id: string }, r.fault === 'DROP' ? 'new' : 'old');
				if (r.fault === 'CONCURRENT' || r.fault === 'PAUSE') return await checkConcurrentTruth(pid, dir);
				if (r.fault === 'KILL' || (r.fault === 'DROP' && r.operation === 'dump')) assert.ok(outcome instanceof Error, 'a killed helper or a dropped connection answers nothing');
				if (r.operation === 'freeze' && r.fault === 'ENOSPC') assert.match(outcome instanceof Error ? outcome.message : 'frozen', /cannot claim the freeze of process \d+ .*No space left on device/);
				await checkTruth(r, pid, dir, outcome);
			} finally {
				await suite.shell.killTree(pid);
			}
		});
	}
});
