/**
 * Checkpoints that share pages, as `ckpt` shows them (the compiled CLI in a
 * child process) against a fake helper: a dump stands on the checkpoint
 * before it unless --self-contained asks it to keep every page; `ls` gives
 * each checkpoint's own size, its size with the checkpoints it stands on,
 * and its parent; `show` says what a checkpoint directory stands on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pb } from '../../src/core/protocol';
import { writeCheckpoint } from './checkpoint.fixtures';
import { ckpt, fakeHelperForTests, NOT_ROOT } from './cliRunner';

const MiB = 1024 * 1024;

/*
 * The fake helper's store: ck-1 (64 MiB, every page its own), ck-2 on ck-1
 * (1 MiB of its own); a dump adds ck-3, on ck-2 (2 MiB) or, asked for
 * self_contained, holding every page (64 MiB). CKPT_FAKE_ORPHAN leaves ck-1
 * out of the list.
 */
const fake = fakeHelperForTests('ckpt-cli-sharing-', `const MiB = ${MiB};
const checkpoint = (id, size, parent, shared, own) => pb.Checkpoint.create({ id, rootPid: 42, sizeBytes: size, parent,
	sharing: parent ? pb.PageSharing.create({ sharedPages: shared, ownPages: own, timeUs: 4200 }) : undefined });
const store = [checkpoint('ck-1', 64 * MiB, ''), checkpoint('ck-2', MiB, 'ck-1', 16128, 256)];
function handle(req) {
	if (req.dump) {
		const c = req.dump.selfContained ? checkpoint('ck-3', 64 * MiB, '') : checkpoint('ck-3', 2 * MiB, 'ck-2', 15872, 512);
		return send({ id: req.id, dump: pb.DumpResult.create({ checkpoint: c }) });
	}
	if (req.list) return send({ id: req.id, list: pb.ListResult.create({ checkpoints: process.env.CKPT_FAKE_ORPHAN ? store.slice(1) : store }) });
	refuse(req);
}
`);

describe('ckpt show: what a checkpoint stands on', () => {
	test('from its manifest: the parent and what sharing saved (text and JSON); none for one holding every page', async () => {
		const ck = mkdtempSync(join(tmpdir(), 'ckpt-show-sharing-'));
		const manifest = (c: pb.ICheckpoint): void => writeFileSync(join(ck, 'manifest.pb'), pb.Checkpoint.encode(pb.Checkpoint.create(c)).finish());
		try {
			writeCheckpoint(ck);
			manifest({ id: 'ck-2', rootPid: 100, parent: 'ck-1', sharing: pb.PageSharing.create({ sharedPages: 3, ownPages: 1, timeUs: 1500 }) });
			const r = await ckpt({ CKPT_TARGET: '' }, 'show', ck);
			assert.equal(r.code, 0, r.stderr);
			assert.match(r.stdout, /^├── parent: ck-1; at the dump 3 pages shared \(12 KiB\), 1 own \(4\.0 KiB\), compared in 1\.5 ms; restored fully, not lazily$/m);
			const json = JSON.parse((await ckpt({ CKPT_TARGET: '' }, '--json', 'show', ck)).stdout) as { parent: string; sharing: object | null };
			assert.equal(json.parent, 'ck-1');
			assert.deepEqual(json.sharing, { sharedPages: 3, ownPages: 1, timeUs: 1500 });

			manifest({ id: 'ck-1', rootPid: 100 });
			assert.match((await ckpt({ CKPT_TARGET: '' }, 'show', ck)).stdout, /^├── parent: none: every page its own$/m);
			const none = JSON.parse((await ckpt({ CKPT_TARGET: '' }, '--json', 'show', ck)).stdout) as { parent: string; sharing: object | null };
			assert.deepEqual([none.parent, none.sharing], ['', null]);
		} finally {
			rmSync(ck, { recursive: true, force: true });
		}
	});
});

describe('ckpt dump: sharing pages', { skip: NOT_ROOT }, () => {
	test('by default the checkpoint stands on the one before: what it shares, and that it restores fully', async () => {
		const r = await ckpt(fake.env, 'dump', '42');
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /^ {2}size {6}2\.0 MiB of its own at /m);
		assert.match(r.stdout, /^ {2}parent {4}ck-2; at the dump 15872 pages shared \(62 MiB\), 512 own \(2\.0 MiB\), compared in 4\.2 ms; restored fully, not lazily$/m);
	});

	test('--self-contained keeps every page; --json says so (no parent, no sharing)', async () => {
		const r = await ckpt(fake.env, 'dump', '42', '--self-contained');
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /^ {2}parent {4}none: every page its own$/m);
		const json = JSON.parse((await ckpt(fake.env, '--json', 'dump', '42', '--self-contained')).stdout) as { sizeBytes: number; parent: string; sharing: unknown };
		assert.deepEqual([json.sizeBytes, json.parent, json.sharing], [64 * MiB, '', null]);
	});

	test('--self-contained is for dump only', async () => {
		const r = await ckpt({ ...fake.env, CKPT_HELPER_DIR: '/nonexistent' }, 'ls', '--self-contained');
		assert.equal(r.code, 2);
		assert.match(r.stderr, /^ckpt: --self-contained is for dump, not ls\n$/);
	});

	test('the usage says what sharing does and how to keep every page', async () => {
		const r = await ckpt({}, '--help');
		assert.equal(r.code, 0);
		assert.match(r.stdout, /dump PID \[--name N\] \[--leave-running\] \[--policy P\] \[--self-contained\]/);
		assert.match(r.stdout, /WITH-PARENTS adds/);
		assert.match(r.stdout, /"sizeWithParentsBytes"/);
	});
});

describe('ckpt ls: own size, size with parents, parent', { skip: NOT_ROOT }, () => {
	test('each checkpoint\'s own size, and with every checkpoint it stands on', async () => {
		const r = await ckpt(fake.env, 'ls');
		assert.equal(r.code, 0, r.stderr);
		const rows = r.stdout.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
		assert.deepEqual(rows[0], ['ID', 'NAME', 'CREATED', 'ROOT', 'PROCS', 'SIZE', 'WITH-PARENTS', 'PARENT', 'LEAKS']);
		// no name: one column fewer
		assert.deepEqual(rows.slice(1).map((row) => [row[0], ...row.slice(4, 7)]), [['ck-1', '64 MiB', '64 MiB', '-'], ['ck-2', '1.0 MiB', '65 MiB', 'ck-1']]);
	});

	test('a parent missing from the store: "?" and which one; --json has null', async () => {
		const r = await ckpt({ ...fake.env, CKPT_FAKE_ORPHAN: '1' }, 'ls');
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /^ck-2\s.*\s1\.0 MiB\s+\?\s+ck-1\s/m);
		assert.match(r.stdout, /\n\?: a checkpoint it stands on is not in the store \(ck-1\)\n$/);
		const json = JSON.parse((await ckpt(fake.env, '--json', 'ls')).stdout) as { checkpoints: { id: string; sizeBytes: number; sizeWithParentsBytes: number | null; parent: string; sharing: { sharedPages: number } | null }[] };
		assert.deepEqual(json.checkpoints.map((c) => [c.id, c.sizeBytes, c.sizeWithParentsBytes, c.parent, c.sharing?.sharedPages ?? null]), [
			['ck-1', 64 * MiB, 64 * MiB, '', null], ['ck-2', MiB, 65 * MiB, 'ck-1', 16128],
		]);
		const orphan = JSON.parse((await ckpt({ ...fake.env, CKPT_FAKE_ORPHAN: '1' }, '--json', 'ls')).stdout) as { checkpoints: { sizeWithParentsBytes: number | null }[] };
		assert.equal(orphan.checkpoints[0].sizeWithParentsBytes, null);
	});
});
