/**
 * The Checkpoint Image tree's shape: sections per process, registers per
 * thread, and long lists in groups (a process with 10,000 areas shows 20
 * groups of 500, each expanding to its own areas, in order, none lost).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CheckpointImages, FileImage, ProcessImage, VmaImage } from '../../src/core/images/checkpoint';
import { childrenOf, GROUP, type ImageNode } from '../../src/extension/imageNodes';

function processWith(areas: number, fds: number): ProcessImage {
	const vmas: VmaImage[] = Array.from({ length: areas }, (_, i) => ({
		start: 0x10000000n + BigInt(i) * 0x2000n, end: 0x10001000n + BigInt(i) * 0x2000n, prot: i % 2 ? 'r--p' : 'rw-p', kind: 'anonymous', pgoff: 0n, pages: i % 2,
	}));
	const files: FileImage[] = Array.from({ length: fds }, (_, fd) => ({ fd, kind: 'regular', id: fd, path: `/tmp/f${fd}`, flags: 0 }));
	return {
		pid: 42, ppid: 1, pgid: 42, sid: 42, comm: 'many', state: 'alive', vmas, files,
		threads: [{ tid: 42, comm: 'many', registers: { ip: 0x401000n, sp: 0x7ffd0000n }, fpu: 'xsave' }],
		namespaces: [{ kind: 'uts', id: 4026531838, dumped: false }],
		cmdline: async () => ['/usr/bin/many', '--areas'],
	} as unknown as ProcessImage;
}

const images = (p: ProcessImage): CheckpointImages => ({ processes: [p], imageVersion: 2, files: [], source: {} as CheckpointImages['source'] });
const labels = (nodes: ImageNode[]): string[] => nodes.map((n) => (n.kind === 'value' ? `${n.label}=${n.value}` : n.kind));

describe('image tree', () => {
	test('a checkpoint -> its processes -> five sections', async () => {
		const p = processWith(3, 2);
		const processes = await childrenOf({ kind: 'checkpoint', images: images(p), title: 't' });
		assert.deepEqual(labels(processes), ['process']);
		const sections = await childrenOf(processes[0]);
		assert.deepEqual(sections.map((s) => (s.kind === 'section' ? s.section : s.kind)), ['info', 'threads', 'vmas', 'files', 'namespaces']);
		const info = await childrenOf(sections[0]);
		assert.equal(labels(info)[0], 'command line=/usr/bin/many --areas');
		const threads = await childrenOf(sections[1]);
		assert.deepEqual(labels(await childrenOf(threads[0])), ['ip=0x401000', 'sp=0x7ffd0000']);
		assert.deepEqual(labels(await childrenOf(sections[4])), ["uts=4026531838 (inherited: restore joins the restorer's)"]);
	});

	test('short lists are flat', async () => {
		const p = processWith(GROUP, GROUP);
		assert.equal((await childrenOf({ kind: 'section', process: p, section: 'vmas' })).length, GROUP);
		assert.ok((await childrenOf({ kind: 'section', process: p, section: 'files' })).every((n) => n.kind === 'value'));
	});

	test('10,000 areas come in 20 groups of 500 that hold every area once, in order', async () => {
		const p = processWith(10_000, 1_201);
		const groups = await childrenOf({ kind: 'section', process: p, section: 'vmas' });
		assert.equal(groups.length, 20);
		assert.ok(groups.every((g) => g.kind === 'group'));
		const all: VmaImage[] = [];
		for (const g of groups) {
			const areas = await childrenOf(g);
			assert.ok(areas.length <= GROUP);
			for (const a of areas) if (a.kind === 'vma') all.push(a.vma);
		}
		assert.deepEqual(all, p.vmas);
		const fileGroups = await childrenOf({ kind: 'section', process: p, section: 'files' });
		assert.deepEqual(fileGroups.map((g) => (g.kind === 'group' ? g.to - g.from : 0)), [500, 500, 201]);
		assert.deepEqual(labels(await childrenOf(fileGroups[2])).slice(-1), ['fd 1200=regular  /tmp/f1200']);
	});
});
