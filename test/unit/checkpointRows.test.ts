/**
 * What the Checkpoints view says of sizes and sharing: a checkpoint's own
 * size; for one that stands on another, its size with the checkpoints it
 * stands on, what it shares with its parent (by name), and that it restores
 * fully. And the summaries the adapter sends for them (checkpointSummary).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pb } from '../../src/core/protocol';
import { checkpointSummary, type CheckpointSummary } from '../../src/debug/messages';
import { damagedTooltip, deleteDetail, sizeDescription, sizeTooltip } from '../../src/extension/checkpointRows';

const MiB = 1024 * 1024;
const first = pb.Checkpoint.create({ id: 'ck-1', name: 'before *login*', sizeBytes: 64 * MiB });
const second = pb.Checkpoint.create({ id: 'ck-2', sizeBytes: MiB, parent: 'ck-1', sharing: pb.PageSharing.create({ sharedPages: 16128, ownPages: 256, timeUs: 900 }) });
const third = pb.Checkpoint.create({ id: 'ck-3', sizeBytes: 2 * MiB, parent: 'ck-2', sharing: pb.PageSharing.create({ sharedPages: 16000, ownPages: 512 }) });

describe('checkpointSummary: parent, sharing and size with parents', () => {
	test('with the store\'s list: the parent\'s name and every ancestor\'s size added', () => {
		const all = [first, second, third];
		const s = checkpointSummary(third, all);
		assert.deepEqual([s.sizeBytes, s.sizeWithParentsBytes, s.parent, s.sharing], [2 * MiB, 67 * MiB, { id: 'ck-2', name: '' }, { sharedPages: 16000, ownPages: 512 }]);
		assert.deepEqual(checkpointSummary(second, all).parent, { id: 'ck-1', name: 'before *login*' });
		const alone = checkpointSummary(first, all);
		assert.deepEqual([alone.sizeWithParentsBytes, alone.parent, alone.sharing], [64 * MiB, undefined, undefined]);
	});

	test('without the list, or with an ancestor missing from it: no size with parents', () => {
		assert.equal(checkpointSummary(third).sizeWithParentsBytes, undefined);
		assert.equal(checkpointSummary(third, [second, third]).sizeWithParentsBytes, undefined);
		assert.deepEqual(checkpointSummary(third).parent, { id: 'ck-2', name: '' });
	});
});

describe('Checkpoints view: size and sharing', () => {
	const summary = (c: pb.Checkpoint, all = [first, second, third]): CheckpointSummary => checkpointSummary(c, all);

	test('description: the own size; "with parents" for one that stands on another ("?" when not known)', () => {
		assert.equal(sizeDescription(summary(first)), '64 MiB');
		assert.equal(sizeDescription(summary(second)), '1.0 MiB (65 MiB with parents)');
		assert.equal(sizeDescription(summary(third, [third])), '2.0 MiB (? with parents)');
	});

	test('tooltip: what it shares with its parent (by name), its size with parents, and that it restores fully', () => {
		assert.equal(sizeTooltip(summary(first)), '64 MiB of its own: it holds every page, and restores lazily where the target can.');
		assert.equal(sizeTooltip(summary(second)),
			'1.0 MiB of its own; it shares its unchanged pages with **before \\*login\\*** `ck-1`, which it stands on (63 MiB, 16128 pages, at the dump); ' +
			'65 MiB with the checkpoints it stands on. ' +
			'It restores fully, not lazily: CRIU\'s lazy-pages daemon cannot read a parent checkpoint\'s pages.');
		const unknown = sizeTooltip(summary(third, [third]));
		assert.match(unknown, /with `ck-2`, which it stands on \(63 MiB, 16000 pages, at the dump\); its size with the checkpoints it stands on is not known \(one of them is not in the store\)\./);
		assert.match(sizeTooltip(summary(pb.Checkpoint.create({ ...third, sharing: null }), [third])), /^2\.0 MiB of its own; it stands on `ck-2`; /);
	});

	test('delete\'s confirmation: the checkpoints that stand on it take in its pages first', () => {
		const all = [first, second, third].map((c) => summary(c));
		const gone = `Its images (${all[0].path}) are removed from the target. This cannot be undone.`;
		assert.equal(deleteDetail(all[2], all), gone);
		assert.equal(deleteDetail(all[0], all), `${gone} ck-2 stands on it: it takes in the pages it reads from it first, so its own size grows.`);
		const twins = [...all, summary(pb.Checkpoint.create({ ...third, id: 'ck-4', name: 'other' }))];
		assert.equal(deleteDetail(all[1], twins), `${gone} ck-3, other stand on it: they take in the pages they read from it first, so their own size grows.`);
	});
	test('a provisional manifest: no size shown, the tooltip says why', () => {
		const c: CheckpointSummary = { id: 'p', name: '', created: 0, rootPid: 5, processes: 1, sizeBytes: 0, provisional: true, path: '/s/p' };
		assert.equal(sizeDescription(c), 'size unknown');
		assert.match(sizeTooltip(c), /^Its manifest is the one written before the dump .* the images are complete; its sizes and figures are missing\.$/);
	});
});

describe('Checkpoints view: a damaged checkpoint', () => {
	test('its summary carries why; its tooltip says why, that it cannot be restored and that Delete removes it', () => {
		const c = checkpointSummary(pb.Checkpoint.create({ id: 'broken', path: '/store/broken', damaged: 'the manifest of checkpoint broken in /store is not a regular file (a link, a FIFO or a device in its place)' }));
		assert.equal(c.damaged, 'the manifest of checkpoint broken in /store is not a regular file (a link, a FIFO or a device in its place)');
		assert.equal(damagedTooltip(c), '**Damaged** `broken`\n\nthe manifest of checkpoint broken in /store is not a regular file \\(a link, a FIFO or a device in its place\\)\n\nIt cannot be restored; Delete removes it (/store/broken).');
		assert.equal(checkpointSummary(pb.Checkpoint.create({ id: 'fine', path: '/store/fine' })).damaged, undefined);
	});
});
