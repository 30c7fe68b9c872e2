import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CheckpointImages, FileImage, ProcessImage, ThreadImage, VmaImage } from '../../src/core/images/checkpoint';
import { ElfSymbols } from '../../src/core/elf';
import { diffCheckpoints, diffText, nameChangedPages } from '../../src/core/images/diff';
import { pb } from '../../src/core/protocol';
import { BUILD_ID, elf, FUNC, OBJECT, reader } from './elfFixture';

function thread(tid: number, ip: bigint, sp = 0x7ffd0000n): ThreadImage {
	return { tid, comm: 'w', registers: { ip, sp, ax: 1n }, fpu: 'xsave' };
}

function vma(start: bigint, end: bigint, prot = 'rw-p', file?: string): VmaImage {
	return { start, end, prot, kind: file ? 'file' : 'anonymous', file, pgoff: 0n, pages: Number((end - start) / 4096n) };
}

function file(fd: number, path: string, pos?: bigint): FileImage {
	return { fd, kind: 'regular', id: fd, path, flags: 0, pos };
}

function proc(pid: number, parts: Partial<ProcessImage> = {}): ProcessImage {
	return {
		pid, ppid: 1, pgid: pid, sid: pid, comm: 'workload', state: 'alive', threads: [thread(pid, 0x401000n)], vmas: [vma(0x1000n, 0x3000n)], files: [file(3, '/tmp/state', 0n)],
		namespaces: [], ...parts,
	} as ProcessImage;
}

function images(processes: ProcessImage[]): CheckpointImages {
	return { processes, files: [], imageVersion: 1 } as unknown as CheckpointImages;
}

describe('diffCheckpoints', () => {
	test('the same images: no difference, in words', () => {
		const d = diffCheckpoints(images([proc(10)]), images([proc(10)]));
		assert.deepEqual(d, { processes: [], leaks: { appeared: [], went: [] }, pagesCompared: false });
		assert.equal(diffText(d), 'no differences in processes, threads, registers, memory areas, files or leaks');
	});

	test('processes and threads that came and went; registers that changed, by name, old and new', () => {
		const a = images([proc(10, { threads: [thread(10, 0x401000n), thread(11, 0x402000n)] }), proc(20)]);
		const b = images([proc(10, { threads: [thread(10, 0x401234n, 0x7ffd0010n), thread(12, 0x402000n)] }), proc(30)]);
		const d = diffCheckpoints(a, b);
		assert.deepEqual(d.processes.map((p) => [p.pid, p.change]), [[10, 'changed'], [20, 'went'], [30, 'came']]);
		assert.deepEqual(d.processes[0].threads, [
			{ tid: 10, change: 'changed', registers: [{ name: 'ip', from: '0x401000', to: '0x401234' }, { name: 'sp', from: '0x7ffd0000', to: '0x7ffd0010' }] },
			{ tid: 11, change: 'went', registers: [] },
			{ tid: 12, change: 'came', registers: [] },
		]);
		assert.match(diffText(d), /^process 10 \(workload\):\n {2}thread 10: ip 0x401000 -> 0x401234, sp 0x7ffd0000 -> 0x7ffd0010\n {2}thread 11 went\n {2}thread 12 came\nprocess 20 \(workload\) went\nprocess 30 \(workload\) came$/);
	});

	test('memory areas added, removed, resized, reprotected or backed by another file, matched by their start', () => {
		const a = images([proc(10, { vmas: [vma(0x1000n, 0x3000n), vma(0x10000n, 0x11000n), vma(0x20000n, 0x21000n, 'r--p', '/lib/a.so'), vma(0x30000n, 0x31000n, 'r--p', '/lib/b.so'), vma(0x40000n, 0x41000n)] })]);
		const b = images([proc(10, { vmas: [vma(0x1000n, 0x5000n), vma(0x20000n, 0x21000n, 'rw-p', '/lib/a.so'), vma(0x30000n, 0x31000n, 'r--p', '/lib/c.so'), vma(0x40000n, 0x41000n), vma(0x50000n, 0x52000n)] })]);
		const d = diffCheckpoints(a, b);
		assert.deepEqual(d.processes[0].vmas.map((v) => [v.start, v.change]), [
			['0x1000', 'resized'], ['0x10000', 'removed'], ['0x20000', 'protection'], ['0x30000', 'backing'], ['0x50000', 'added'],
		]);
		assert.match(diffText(d), / {2}memory resized: 0x1000-0x3000 rw-p \[anonymous\] -> 0x1000-0x5000 rw-p \[anonymous\]/);
		assert.match(diffText(d), / {2}memory added: 0x50000-0x52000 rw-p \[anonymous\]/);
	});

	test('files opened, closed, replaced on the same descriptor, or moved; comm, state and parent', () => {
		const a = images([proc(10, { files: [file(3, '/tmp/state', 0n), file(4, '/tmp/log', 100n), file(5, '/tmp/a')] })]);
		const b = images([proc(10, { comm: 'worker', ppid: 7, files: [file(3, '/tmp/state', 0n), file(4, '/tmp/log', 4196n), file(5, '/tmp/b'), file(6, '/tmp/new')] })]);
		const d = diffCheckpoints(a, b);
		assert.deepEqual(d.processes[0].files.map((f) => [f.fd, f.change, f.from, f.to]), [
			[4, 'moved', 'regular /tmp/log at 100', 'at 4196'], [5, 'replaced', 'regular /tmp/a', 'regular /tmp/b'], [6, 'opened', undefined, 'regular /tmp/new'],
		]);
		assert.deepEqual(d.processes[0].attributes, [{ name: 'comm', from: 'workload', to: 'worker' }, { name: 'parent', from: '1', to: '7' }]);
		const closed = diffCheckpoints(b, a);
		assert.deepEqual(closed.processes[0].files.find((f) => f.fd === 6), { fd: 6, change: 'closed', from: 'regular /tmp/new' });
	});

	test('the helper\'s differing pages, grouped by the area each run starts in (the earlier checkpoint\'s for pages only it holds)', () => {
		const a = images([proc(10, { vmas: [vma(0x1000n, 0x5000n), vma(0x9000n, 0xa000n)] })]);
		const b = images([proc(10, { vmas: [vma(0x1000n, 0x5000n)] })]);
		const range = (r: pb.IPageDiffRange): pb.PageDiffRange => pb.PageDiffRange.create(r);
		const pages: pb.IPageDiffResult = { processes: [pb.ProcessPageDiff.create({ pid: 10, ranges: [
			range({ start: 0x1000, end: 0x2000, kind: pb.PageDiffKind.PAGE_DIFF_KIND_CHANGED, bytesDiffering: 5 }),
			range({ start: 0x3000, end: 0x5000, kind: pb.PageDiffKind.PAGE_DIFF_KIND_CHANGED, bytesDiffering: 4096 }),
			range({ start: 0x9000, end: 0xa000, kind: pb.PageDiffKind.PAGE_DIFF_KIND_ONLY_A }),
		] })] };
		const d = diffCheckpoints(a, b, [undefined, undefined], pages);
		assert.equal(d.pagesCompared, true);
		assert.deepEqual(d.processes[0].pages, [
			{ area: '0x1000-0x5000 rw-p [anonymous]', pagesChanged: 3, bytesDiffering: 4101, pagesOnlyBefore: 0, pagesOnlyAfter: 0, runs: [
				{ start: '0x1000', end: '0x2000', kind: 'changed', bytesDiffering: 5 }, { start: '0x3000', end: '0x5000', kind: 'changed', bytesDiffering: 4096 },
			] },
			{ area: '0x9000-0xa000 rw-p [anonymous]', pagesChanged: 0, bytesDiffering: 0, pagesOnlyBefore: 1, pagesOnlyAfter: 0, runs: [{ start: '0x9000', end: '0xa000', kind: 'only-before' }] },
		]);
		assert.match(diffText(d), / {2}pages of 0x1000-0x5000 rw-p \[anonymous\]: 3 changed \(4101 bytes differ\); at 0x1000-0x2000, 0x3000-0x5000\n/);
		assert.equal(diffText(diffCheckpoints(b, b, [undefined, undefined], {})), 'no differences in processes, threads, registers, memory areas, pages, files or leaks');
	});

	test('changed pages named by the variables (then functions) the mapped ELF files put there, .bss included; another build names nothing', async () => {
		const program = elf([
			{ name: 'main', value: 0x401100n, size: 0x40n, type: FUNC }, { name: 'table', value: 0x401200n, size: 0x100n, type: OBJECT },
			{ name: 'counter', value: 0x403010n, size: 8n, type: OBJECT },
		], [], 0x3000n);
		// file offset 0x1000 mapped at 0x7f0000001000 (bias 0x7effffc00000); its .bss an anonymous area after it
		const areas = [vma(0x7f0000001000n, 0x7f0000003000n, 'rw-p', '/usr/bin/prog'), vma(0x7f0000003000n, 0x7f0000004000n), vma(0x9000n, 0xa000n)];
		areas[0].pgoff = 0x1000n;
		const changed = (start: number, end: number): pb.PageDiffRange => pb.PageDiffRange.create({ start, end, kind: pb.PageDiffKind.PAGE_DIFF_KIND_CHANGED, bytesDiffering: 8 });
		const pages: pb.IPageDiffResult = { processes: [pb.ProcessPageDiff.create({ pid: 10, ranges: [changed(0x7f0000001000, 0x7f0000002000), changed(0x7f0000003000, 0x7f0000004000), changed(0x9000, 0xa000)] })] };
		const named = async (buildId?: string): Promise<(string[] | undefined)[]> => {
			areas[0].buildId = buildId;
			const b = images([proc(10, { vmas: areas })]);
			const d = diffCheckpoints(images([proc(10, { vmas: [] })]), b, [undefined, undefined], pages);
			await nameChangedPages(d, b, pages, async (file) => (file === '/usr/bin/prog' ? ElfSymbols.read(reader(program)) : undefined));
			return d.processes[0].pages.map((g) => g.symbols);
		};
		// areas by address: the heap first (outside every file: no names)
		assert.deepEqual(await named(BUILD_ID), [undefined, ['table', 'main'], ['counter']]);
		assert.deepEqual(await named(), [undefined, ['table', 'main'], ['counter']], 'no build-id recorded: the file is taken as it is');
		assert.deepEqual(await named('0badbeef'), [undefined, undefined, undefined], 'the file on the target is another build');
		const b = images([proc(10, { vmas: areas })]);
		const d = diffCheckpoints(images([proc(10, { vmas: areas })]), b, [undefined, undefined], pages);
		areas[0].buildId = undefined;
		await nameChangedPages(d, b, pages, async () => ElfSymbols.read(reader(program)));
		assert.match(diffText(d), /pages of 0x7f0000003000-0x7f0000004000 rw-p \[anonymous\]: 1 changed \(8 bytes differ\) in counter; at /);
	});

	test('shared memory objects\' differing runs shown in each process\'s area that maps them, at its addresses', () => {
		const shared = (start: bigint, end: bigint, pgoff: bigint, shmid: number): VmaImage => ({ ...vma(start, end, 'rw-s'), kind: 'shared', shmid, pgoff });
		// object 7 mapped whole by both processes; object 9 from its second page on, by 20 only
		const a = images([proc(10, { vmas: [shared(0x10000n, 0x14000n, 0n, 7)] }), proc(20, { vmas: [shared(0x50000n, 0x54000n, 0n, 7)] })]);
		const b = images([proc(10, { vmas: [shared(0x10000n, 0x14000n, 0n, 7)] }), proc(20, { vmas: [shared(0x50000n, 0x54000n, 0n, 7), shared(0x60000n, 0x61000n, 0x1000n, 9)] })]);
		const range = (start: number, end: number, kind: pb.PageDiffKind, bytesDiffering = 0): pb.PageDiffRange => pb.PageDiffRange.create({ start, end, kind, bytesDiffering });
		const pages: pb.IPageDiffResult = { processes: [], sharedMemory: [
			pb.ProcessPageDiff.create({ shmid: 7, ranges: [range(0x1000, 0x2000, pb.PageDiffKind.PAGE_DIFF_KIND_CHANGED, 12)] }),
			pb.ProcessPageDiff.create({ shmid: 9, ranges: [range(0, 0x2000, pb.PageDiffKind.PAGE_DIFF_KIND_CHANGED, 100)] }),
		] };
		const d = diffCheckpoints(a, b, [undefined, undefined], pages);
		const runs = (pid: number): string[] => (d.processes.find((p) => p.pid === pid)?.pages ?? []).flatMap((g) => g.runs.map((r) => `${g.area}: ${r.start}-${r.end} ${r.bytesDiffering ?? ''}`));
		assert.deepEqual(runs(10), ['0x10000-0x14000 rw-s [shared]: 0x11000-0x12000 12']);
		// the second page of object 9 is what 20's area shows (half the run: half its bytes)
		assert.deepEqual(runs(20), ['0x50000-0x54000 rw-s [shared]: 0x51000-0x52000 12', '0x60000-0x61000 rw-s [shared]: 0x60000-0x61000 50']);
	});

	test('leaks that appeared or went, from the manifests', () => {
		const leak = (resource: string): pb.Leak => pb.Leak.create({ kind: pb.LeakKind.LEAK_KIND_PIPE, resource });
		const manifest = (leaks: pb.Leak[]): pb.ICheckpoint => ({ leaks: pb.LeakReport.create({ leaks }) });
		const d = diffCheckpoints(images([proc(10)]), images([proc(10)]), [manifest([leak('pipe:[1]'), leak('pipe:[2]')]), manifest([leak('pipe:[2]'), leak('pipe:[3]')])]);
		assert.equal(d.leaks.appeared.length, 1);
		assert.equal(d.leaks.went.length, 1);
		assert.match(d.leaks.appeared[0], /pipe:\[3\]/);
		assert.match(diffText(d), /^leak appeared: .*pipe:\[3\]\nleak went: .*pipe:\[1\]$/);
	});
});
