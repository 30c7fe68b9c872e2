/**
 * Checkpoints that share memory, on the target (the real helper and CRIU,
 * over SSH): checkpoints of one program after the first hold only the pages
 * that changed and read the others from the one before (CRIU's `parent`
 * link); each restores to its own memory, checked word by word (workload
 * pattern: every SIGHUP rewrites another hundredth of its pages); deleting
 * one that others stand on (the middle of a chain, its base) hands them its
 * pages first, and they still restore exactly.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { pb } from '../../src/core/protocol';
import { targetSuite } from './harness';
import { PatternProgram, type PatternState } from './patternProgram';

const MIB = 64;
const PAGES = (MIB << 20) / 4096;

const suite = targetSuite();

interface Taken extends PatternState { checkpoint: pb.Checkpoint }

async function take(program: PatternProgram, name: string, selfContained = false): Promise<Taken> {
	const state = await program.state();
	const checkpoint = await suite.session.dump(program.pid, { leaveRunning: true, name, selfContained });
	suite.checkpoints.push(checkpoint.id);
	return { ...state, checkpoint };
}

/** Restores t in place of the running program and checks its memory is t's, word for word. */
async function restoresExactly(program: PatternProgram, t: Taken): Promise<pb.RestoreResult> {
	const { restored, state } = await program.restore(suite.session, t.checkpoint.id);
	assert.equal(restored.rootPid, program.pid);
	assert.deepEqual(state, { rewrites: t.rewrites, bad: t.bad }, `${t.checkpoint.name}: every word as it was taken`);
	return restored;
}

const byId = async (id: string): Promise<pb.Checkpoint | undefined> => (await suite.session.list()).find((c) => c.id === id);

function assertShares(t: Taken, parent: Taken): void {
	const c = t.checkpoint;
	assert.equal(c.parent, parent.checkpoint.id, `${c.name} stands on the one before`);
	const sharing = c.sharing;
	assert.ok(sharing, `${c.name} says what it shares`);
	// a hundredth of the pattern changed; the rest of the process (libraries, stack) barely
	assert.ok(Number(sharing.sharedPages) >= PAGES * 0.98, `${c.name}: ${sharing.sharedPages} pages shared`);
	assert.ok(Number(sharing.ownPages) < PAGES * 0.03, `${c.name}: ${sharing.ownPages} pages of its own`);
	assert.ok(Number(c.sizeBytes) < (MIB << 20) / 10, `${c.name}: ${c.sizeBytes} bytes on disk`);
}

describe('checkpoints that share memory', () => {
	test('a chain: each after the first holds the hundredth that changed and restores exactly; its middle deleted, the rest still do', async () => {
		const program = await PatternProgram.start(suite.shell, MIB);
		const chain: Taken[] = [await take(program, 'share base')];
		for (let i = 1; i < 4; i++) {
			await program.rewrite();
			chain.push(await take(program, `share ${i}`));
		}
		const [base, ...rest] = chain;
		assert.equal(base.checkpoint.parent, '', 'the first stands on nothing');
		assert.ok(Number(base.checkpoint.sizeBytes) >= MIB << 20, 'the first holds every page');
		rest.forEach((t, i) => assertShares(t, chain[i]));
		// newest first, then back to the base and forward again: every one is its own state
		for (const t of [...chain].reverse()) await restoresExactly(program, t);
		const restored = await restoresExactly(program, chain[2]);
		assert.equal(restored.lazy, false, 'a checkpoint standing on another restores fully (CRIU\'s lazy-pages daemon cannot read a parent\'s pages)');

		await suite.session.remove(chain[1].checkpoint.id);
		const after = await byId(chain[2].checkpoint.id);
		assert.equal(after?.parent, base.checkpoint.id, 'the one above the deleted stands on the base now');
		assert.ok(Number(after?.sizeBytes) > Number(chain[2].checkpoint.sizeBytes), 'and holds the pages it read from the deleted one');
		for (const t of [chain[3], chain[2], base]) await restoresExactly(program, t);

		await suite.session.remove(base.checkpoint.id);
		const alone = await byId(chain[2].checkpoint.id);
		assert.equal(alone?.parent, '', 'with its base gone it stands on nothing');
		assert.ok(Number(alone?.sizeBytes) >= MIB << 20, 'and holds every page');
		assert.equal((await byId(chain[3].checkpoint.id))?.parent, chain[2].checkpoint.id);
		await restoresExactly(program, chain[3]);
		const lazily = await restoresExactly(program, chain[2]);
		assert.equal(lazily.lazy, true, 'a checkpoint standing on nothing restores lazily again');
	});

	test('self-contained on request; a restored program goes on from its newest checkpoint', async () => {
		const program = await PatternProgram.start(suite.shell, MIB);
		const first = await take(program, 'self-contained a');
		await program.rewrite();
		const second = await take(program, 'self-contained b', true);
		assert.equal(second.checkpoint.parent, '');
		assert.equal(second.checkpoint.sharing, null);
		assert.ok(Number(second.checkpoint.sizeBytes) >= MIB << 20);
		await restoresExactly(program, first);
		await restoresExactly(program, second);
		await program.rewrite();
		const third = await take(program, 'after the restore');
		assertShares(third, second);
		await restoresExactly(program, third);
	});
});
