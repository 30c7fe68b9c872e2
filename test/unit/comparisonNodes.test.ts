/**
 * The Comparison tree's shape: a comparison's processes, their sections
 * (only those with something in them), threads with their registers, pages
 * by area (named variables in the row) down to runs that show their bytes on
 * click, and leaks; no differences said in a row.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CheckpointDiff } from '../../src/core/images/diff';
import { comparisonChildren, comparisonRow, type ComparisonNode, type ShownComparison } from '../../src/extension/comparisonNodes';

const diff: CheckpointDiff = {
	pagesCompared: true,
	leaks: { appeared: ['file /tmp/x'], went: [] },
	processes: [
		{
			pid: 10, comm: 'prog', change: 'changed',
			attributes: [{ name: 'state', from: 'alive', to: 'stopped' }],
			threads: [{ tid: 10, change: 'changed', registers: [{ name: 'ip', from: '0x1000', to: '0x1010' }] }, { tid: 11, change: 'came', registers: [] }],
			vmas: [{ start: '0x9000', end: '0xc000', change: 'added', to: '0x9000-0xc000 rw-s /tmp/opened' }],
			files: [],
			pages: [{
				area: '0x4000-0x5000 rw-p /usr/bin/prog', pagesChanged: 1, bytesDiffering: 8, pagesOnlyBefore: 0, pagesOnlyAfter: 3, symbols: ['counter'],
				runs: [{ start: '0x4000', end: '0x5000', kind: 'changed', bytesDiffering: 8 }, { start: '0x9000', end: '0xc000', kind: 'only-after' }],
			}],
		},
		{ pid: 20, comm: 'child', change: 'went', attributes: [], threads: [], vmas: [], files: [], pages: [] },
	],
};

const shown = (d: CheckpointDiff): ShownComparison => ({ target: 'local', before: { id: 'a', label: '"first"' }, after: { id: 'b', label: '"second"' }, diff: d });
const labels = (nodes: ComparisonNode[]): string[] => nodes.map((n) => comparisonRow(n).label);

describe('comparison nodes', () => {
	const root: ComparisonNode = { kind: 'root', c: shown(diff) };

	test('the root: both checkpoints, its processes and the leaks', () => {
		assert.deepEqual(comparisonRow(root), { label: '"first" → "second"', description: '2 processes differ', open: 'expanded', tooltip: 'From "first" (a) to "second" (b)' });
		const top = comparisonChildren(root);
		assert.deepEqual(labels(top), ['10 prog', '20 child', 'Leaks']);
		assert.deepEqual([comparisonRow(top[0]).open, comparisonRow(top[1]).open], ['expanded', 'none'], 'a process that went has nothing under it');
		assert.deepEqual(comparisonChildren(top[2]).map((n) => comparisonRow(n)), [{ label: 'file /tmp/x', description: 'appeared', tooltip: 'file /tmp/x: appeared', open: 'none' }]);
	});

	test('a changed process: only the sections with something in them; threads down to their registers', () => {
		const [prog] = comparisonChildren(root);
		const sections = comparisonChildren(prog);
		assert.deepEqual(labels(sections), ['Changed', 'Threads', 'Memory areas', 'Pages']);
		assert.deepEqual(comparisonChildren(sections[0]).map((n) => comparisonRow(n).description), ['alive → stopped']);
		const threads = comparisonChildren(sections[1]);
		assert.deepEqual(threads.map((n) => [comparisonRow(n).label, comparisonRow(n).description]), [['thread 10', 'ip'], ['thread 11', 'came']]);
		assert.deepEqual(comparisonChildren(threads[0]).map((n) => [comparisonRow(n).label, comparisonRow(n).description]), [['ip', '0x1000 → 0x1010']]);
		assert.deepEqual(comparisonChildren(sections[2]).map((n) => comparisonRow(n).description), ['added: 0x9000-0xc000 rw-s /tmp/opened']);
	});

	test('pages: an area says what changed and the variables there; its runs show their bytes on click', () => {
		const pages = comparisonChildren(comparisonChildren(comparisonChildren(root)[0])[3]);
		assert.equal(pages.length, 1);
		const area = comparisonRow(pages[0]);
		assert.equal(area.description, '1 changed, 8 bytes, 3 only after in counter');
		const runs = comparisonChildren(pages[0]);
		assert.deepEqual(runs.map((n) => comparisonRow(n)), [
			{ label: '0x4000-0x5000', description: '1 page changed, 8 bytes differ', open: 'none', showsPages: true, tooltip: 'Show the bytes of both checkpoints here, side by side' },
			{ label: '0x9000-0xc000', description: '3 pages only in the later', open: 'none', showsPages: true, tooltip: 'Show the bytes here' },
		]);
		assert.equal(runs[0].kind === 'run' && runs[0].p.pid, 10, 'a run knows its process (to read its memory)');
	});

	test('no differences: one row that says so, and whether pages were compared', () => {
		const none = comparisonChildren({ kind: 'root', c: shown({ processes: [], leaks: { appeared: [], went: [] }, pagesCompared: false }) });
		assert.deepEqual(none.map((n) => comparisonRow(n)), [{ label: 'No differences', description: 'pages not compared', tooltip: 'No differences: pages not compared', open: 'none' }]);
	});
});
