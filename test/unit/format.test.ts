import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pb } from '../../src/core/protocol';
import {
	checkpointJson, formatCheckpoint, formatHello, formatLeaksResult, formatList, formatPs, formatRestore, leakReportLines, leaksResultJson, listJson, refusalHint, shellWord, toJson,
} from '../../src/cli/format';
import { pipeLeak, tracerLeak, ttyLeak, utsLeak } from './leaks.fixtures';
import { byteSize } from '../../src/core/text';


describe('byteSize', () => {
	test('binary units with one decimal under 10', () => {
		assert.equal(byteSize(0), '0 B');
		assert.equal(byteSize(1023), '1023 B');
		assert.equal(byteSize(1024), '1.0 KiB');
		assert.equal(byteSize(1536), '1.5 KiB');
		assert.equal(byteSize(20 * 1024), '20 KiB');
		assert.equal(byteSize(5 * 1024 * 1024), '5.0 MiB');
		assert.equal(byteSize(3 * 1024 ** 3), '3.0 GiB');
		assert.equal(byteSize(2048 * 1024 ** 4), '2048 TiB');
	});
});

describe('formatHello', () => {
	const hello = pb.HelloResult.create({
		helperVersion: '0.1.0', criuVersion: '4.1.1', criuPath: '/usr/sbin/criu',
		criuFeatures: pb.CriuFeatures.create({ memTrack: true, lazyPages: false, pidfdStore: true }),
		kernelRelease: '6.1.0-18-amd64', cgroupLayout: pb.CgroupLayout.CGROUP_LAYOUT_V2, euid: 0,
		capabilities: ['CAP_SYS_ADMIN', 'CAP_CHECKPOINT_RESTORE'], storeDir: '/var/lib/ckpt',
		machine: 'x86_64', hostname: 'target1', helperPid: 4321,
	});

	test('shows host, helper, CRIU, features, cgroups, store and capabilities', () => {
		const out = formatHello(hello);
		const lines = out.split('\n');
		assert.equal(lines.length, 7);
		assert.match(lines[0], /^host:\s+target1 \(x86_64, Linux 6\.1\.0-18-amd64\)$/);
		assert.match(lines[1], /^helper:\s+0\.1\.0 \(pid 4321, euid 0\)$/);
		assert.match(lines[2], /^criu:\s+4\.1\.1 at \/usr\/sbin\/criu$/);
		assert.match(lines[3], /^criu features:\s+mem_track=yes lazy_pages=no pidfd_store=yes$/);
		assert.match(lines[4], /^cgroups:\s+v2$/);
		assert.match(lines[5], /^store:\s+\/var\/lib\/ckpt$/);
		assert.match(lines[6], /^capabilities:\s+CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE$/);
		// Values line up in one column.
		const column = lines.map((l) => l.search(/(?<=:\s+)\S/));
		assert.equal(new Set(column).size, 1, out);
	});

	test('unusable CRIU: "not usable" and the problem', () => {
		const out = formatHello(pb.HelloResult.create({ hostname: 'h', criuProblem: 'criu is not installed; apt install criu' }));
		assert.match(out, /^criu:\s+not usable$/m);
		assert.match(out, /\nproblem: criu is not installed; apt install criu$/);
	});

	test('TCP: saved with its network lock, or why not (an older helper says neither: no line)', () => {
		assert.match(formatHello(pb.HelloResult.create({ ...hello, networkLock: 'nftables' })), /\ntcp:\s+connections can be saved \(network lock: nftables\)$/);
		const cannot = formatHello(pb.HelloResult.create({ ...hello, tcpProblem: 'CRIU 4.1.1 cannot dump TCP or UDP sockets on this kernel' }));
		assert.match(cannot, /\ntcp:\s+connections cannot be saved\ntcp: CRIU 4\.1\.1 cannot dump TCP or UDP sockets on this kernel$/);
		assert.doesNotMatch(formatHello(hello), /tcp/);
	});

	test('gdb: its version and path, or why it cannot serve (an older helper says neither: no line)', () => {
		assert.match(formatHello(pb.HelloResult.create({ ...hello, gdbVersion: '16.3', gdbPath: '/usr/bin/gdb' })), /\ngdb:\s+16\.3 at \/usr\/bin\/gdb$/);
		const none = formatHello(pb.HelloResult.create({ ...hello, gdbProblem: 'gdb was not found; install gdb 14 or newer' }));
		assert.match(none, /\ngdb:\s+not usable: no source-level debugging\ngdb: gdb was not found; install gdb 14 or newer$/);
		assert.doesNotMatch(formatHello(hello), /gdb/);
	});

	test('many capabilities are summarized', () => {
		const caps = Array.from({ length: 10 }, (_, i) => `CAP_${i}`);
		assert.match(formatHello(pb.HelloResult.create({ capabilities: caps })), /^capabilities:\s+10 \(CAP_0, CAP_1, CAP_2, CAP_3, \.\.\.\)$/m);
	});
});

describe('formatPs', () => {
	test('a tree with children indented under parents, frozen state and tty', () => {
		const out = formatPs([
			pb.ProcessInfo.create({ pid: 100, ppid: 1, state: 'S', cmdline: ['bash', '-l'], tty: '/dev/pts/0', threads: [100] }),
			pb.ProcessInfo.create({ pid: 102, ppid: 101, state: 'T', comm: 'kworker', frozen: true, threads: [102, 103] }),
			pb.ProcessInfo.create({ pid: 101, ppid: 100, state: 'S', cmdline: ['./workload', '--n', '3'], threads: [101] }),
		]);
		const lines = out.split('\n');
		assert.deepEqual(lines[0].split(/\s+/), ['PID', 'PPID', 'STATE', 'TTY', 'THR', 'COMMAND']);
		assert.equal(lines.length, 4);
		assert.match(lines[1], /^100\s+1\s+S\s+\/dev\/pts\/0\s+1\s+bash -l$/);
		assert.match(lines[2], /^101\s+100\s+S\s+-\s+1\s+ {2}\.\/workload --n 3$/);
		assert.match(lines[3], /^102\s+101\s+T frozen\s+-\s+2\s+ {4}\[kworker\]$/);
	});
});

describe('formatCheckpoint / formatList / formatRestore', () => {
	const ck = pb.Checkpoint.create({
		id: 'ck-20240101-abc', name: 'before-bug', createdUnixMs: Date.UTC(2024, 0, 2, 3, 4, 5), rootPid: 500,
		processes: [
			pb.CheckpointProcess.create({ pid: 500, ppid: 1, comm: 'server', cmdline: ['./server', '-p', '80'] }),
			pb.CheckpointProcess.create({ pid: 501, ppid: 500, comm: 'worker', cmdline: ['./worker'] }),
		],
		criuVersion: '4.1.1', leaveRunning: true, path: '/var/lib/ckpt/ck-20240101-abc', sizeBytes: 3 * 1024 * 1024, hostname: 'target1',
		stats: pb.DumpStats.create({
			frozenTimeUs: 12_500, freezingTimeUs: 1_000, memdumpTimeUs: 8_000, memwriteTimeUs: 3_000, criuWallTimeUs: 45_000,
			pagesScanned: 1000, pagesWritten: 800, pagesLazy: 0, pagesSkippedParent: 200,
		}),
	});

	test('formatCheckpoint shows id, name, time, tree, size, timing, pages and processes', () => {
		const out = formatCheckpoint(ck);
		assert.match(out, /^checkpoint ck-20240101-abc "before-bug"$/m);
		assert.match(out, /created\s+2024-01-02 03:04:05 UTC on target1 \(CRIU 4\.1\.1\)/);
		assert.match(out, /tree\s+root pid 500, 2 processes, left running/);
		assert.match(out, /size\s+3\.0 MiB of its own at \/var\/lib\/ckpt\/ck-20240101-abc/);
		assert.match(out, /^ {2}parent {4}none: every page its own$/m);
		assert.match(out, /timing\s+frozen 12\.5 ms \(freezing 1\.0 ms, memdump 8\.0 ms, memwrite 3\.0 ms\), CRIU request 45\.0 ms/);
		assert.match(out, /pages\s+1000 scanned, 800 written, 0 lazy, 200 in parent/);
		assert.match(out, /process\s+500 server: \.\/server -p 80/);
		assert.match(out, /process\s+501 worker: \.\/worker/);
	});

	test('formatCheckpoint: one process, stopped after the dump, no stats', () => {
		const out = formatCheckpoint(pb.Checkpoint.create({ id: 'x', rootPid: 7, processes: [pb.CheckpointProcess.create({ pid: 7, comm: 'a', cmdline: ['a'] })], sizeBytes: 10 }));
		assert.match(out, /^checkpoint x$/m);
		assert.match(out, /root pid 7, 1 process, stopped after the dump/);
		assert.doesNotMatch(out, /timing|pages/);
	});

	test('a provisional manifest (the final one could not be written): said in the checkpoint and under the list', () => {
		const provisional = pb.Checkpoint.create({ ...ck, id: 'ck-p', stats: null, provisional: true });
		assert.match(formatCheckpoint(provisional), /^ {2}manifest {2}the one written before the dump \(its final one could not be written: a full disk\?\): the images are complete; its sizes and figures are missing$/m);
		assert.doesNotMatch(formatCheckpoint(ck), /manifest/);
		const lines = formatList([ck, provisional]).split('\n');
		assert.equal(lines.length, 4);
		assert.match(lines[3], /^ck-p: its manifest is the one written before the dump/);
	});

	test('formatList: a damaged checkpoint (its manifest unreadable) is a row that says so, and why under the list', () => {
		const damaged = pb.Checkpoint.create({ id: 'broken', path: '/s/broken', damaged: 'the manifest of checkpoint broken is empty: it names no process' });
		const lines = formatList([damaged, ck]).split('\n');
		assert.match(lines[1], /^broken\s+DAMAGED(\s+-){7}$/);
		assert.equal(lines[3], 'broken: damaged, it cannot be restored (the manifest of checkpoint broken is empty: it names no process); ckpt rm broken deletes it');
	});

	test('formatList: a row per checkpoint, or "no checkpoints"', () => {
		assert.equal(formatList([]), 'no checkpoints');
		const lines = formatList([ck]).split('\n');
		assert.equal(lines.length, 2);
		assert.deepEqual(lines[0].split(/\s+/), ['ID', 'NAME', 'CREATED', 'ROOT', 'PROCS', 'SIZE', 'WITH-PARENTS', 'PARENT', 'LEAKS']);
		// The creation time to the second, UTC (ISO 'T' or a space between date and time); no parent: its own size twice, "-";
		// "-": no leak report.
		assert.match(lines[1], /^ck-20240101-abc\s+before-bug\s+2024-01-02 03:04:05\s+500\s+2\s+3\.0 MiB\s+3\.0 MiB\s+-\s+-$/);
		const withLeaks = pb.Checkpoint.create({ ...ck, id: 'ck-2', leaks: pb.LeakReport.create({
			leaks: [pipeLeak(pb.LeakPolicy.LEAK_POLICY_WARN)], rescanned: true, changes: [pb.LeakChange.create({ what: pb.LeakChange.What.WHAT_APPEARED })],
		}) });
		assert.match(formatList([withLeaks]).split('\n')[1], /3\.0 MiB\s+3\.0 MiB\s+-\s+1 warned, inconsistent$/);
	});

	const chain = [
		pb.Checkpoint.create({ ...ck, id: 'ck-1', sizeBytes: 64 * 1024 * 1024 }),
		pb.Checkpoint.create({ ...ck, id: 'ck-2', sizeBytes: 1024 * 1024, parent: 'ck-1', sharing: pb.PageSharing.create({ sharedPages: 16128, ownPages: 256, timeUs: 12_345 }) }),
		pb.Checkpoint.create({ ...ck, id: 'ck-3', sizeBytes: 2 * 1024 * 1024, parent: 'ck-2', sharing: pb.PageSharing.create({ sharedPages: 16000, ownPages: 512, timeUs: 9_000 }) }),
	];

	test('formatList: each checkpoint\'s own size, its size with every checkpoint it stands on, and its parent', () => {
		const rows = formatList(chain).split('\n').slice(1).map((l) => l.split(/\s{2,}/));
		assert.deepEqual(rows.map((r) => r.slice(5, 8)), [['64 MiB', '64 MiB', '-'], ['1.0 MiB', '65 MiB', 'ck-1'], ['2.0 MiB', '67 MiB', 'ck-2']]);
	});

	test('formatList: a checkpoint it stands on that is not listed makes its size with parents "?", and a note says which', () => {
		const out = formatList(chain.slice(1));
		const lines = out.split('\n');
		assert.equal(lines.length, 4);
		assert.deepEqual(lines.slice(1, 3).map((l) => l.split(/\s{2,}/).slice(5, 8)), [['1.0 MiB', '?', 'ck-1'], ['2.0 MiB', '?', 'ck-2']]);
		assert.equal(lines[3], '?: a checkpoint it stands on is not in the store (ck-1)');
		// links that loop: not a size either, and no one to name
		const loop = [pb.Checkpoint.create({ ...ck, id: 'a', parent: 'b' }), pb.Checkpoint.create({ ...ck, id: 'b', parent: 'a' })];
		assert.deepEqual(formatList(loop).split('\n').slice(1).map((l) => l.split(/\s{2,}/)[6]), ['?', '?']);
	});

	test('ckpt ls --json: each checkpoint with its parent, sharing and size with parents (null when not known)', () => {
		const { checkpoints } = listJson(chain.slice(1)) as { checkpoints: { id: string; sizeBytes: number; parent: string; sizeWithParentsBytes: number | null; sharing: object | null }[] };
		assert.deepEqual(checkpoints.map((c) => [c.id, c.parent, c.sizeWithParentsBytes]), [['ck-2', 'ck-1', null], ['ck-3', 'ck-2', null]]);
		const all = (listJson(chain) as { checkpoints: { sizeWithParentsBytes: number; sharing: object | null; leaks: unknown }[] }).checkpoints;
		assert.deepEqual(all.map((c) => c.sizeWithParentsBytes), [64 * 1024 * 1024, 65 * 1024 * 1024, 67 * 1024 * 1024]);
		assert.equal(all[0].sharing, null);
		assert.deepEqual(all[1].sharing, { sharedPages: 16128, ownPages: 256, timeUs: 12_345 });
		assert.equal(all[1].leaks, null, 'as checkpointJson');
	});

	test('formatCheckpoint: what it stands on and what sharing saved; it restores fully', () => {
		const out = formatCheckpoint(chain[1]);
		assert.match(out, /^ {2}size {6}1\.0 MiB of its own at /m);
		assert.match(out, /^ {2}parent {4}ck-1; at the dump 16128 pages shared \(63 MiB\), 256 own \(1\.0 MiB\), compared in 12\.3 ms; restored fully, not lazily$/m);
	});

	test('formatRestore: id, root pid, pids, killed pids and CRIU time', () => {
		const r = pb.RestoreResult.create({ rootPid: 600, pids: [600, 601], criuWallTimeUs: 123_400, killedPids: [500, 501] });
		assert.equal(formatRestore('ck-1', r), 'restored ck-1 after killing 500, 501: root pid 600 (pids 600, 601), CRIU took 123.4 ms');
		const r2 = pb.RestoreResult.create({ rootPid: 600, pids: [600], criuWallTimeUs: 1000 });
		assert.equal(formatRestore('ck-1', r2), 'restored ck-1: root pid 600 (pids 600), CRIU took 1.0 ms');
	});

	test('toJson: enums as names, defaults included', () => {
		const json = toJson(pb.ThawResult, pb.ThawResult.create({ rootPid: 3, state: pb.TreeState.TREE_STATE_RUNNING }));
		assert.deepEqual(json, { rootPid: 3, state: 'TREE_STATE_RUNNING' });
		assert.deepEqual(toJson(pb.FreezeResult, pb.FreezeResult.create({ rootPid: 4 })),
			{ rootPid: 4, state: 'TREE_STATE_UNSPECIFIED', pids: [], cgroup: '', freezer: 'CGROUP_LAYOUT_UNKNOWN', stoppedPids: [] });
	});
});

describe('leaks in the CLI output', () => {
	const P = pb.LeakPolicy;
	const report = pb.LeakReport.create({
		policy: [pb.LeakRule.create({ kind: pb.LeakKind.LEAK_KIND_PIPE, policy: P.LEAK_POLICY_WARN })],
		leaks: [utsLeak(), pipeLeak(P.LEAK_POLICY_WARN)], rescanned: true,
	});
	const changed = pb.LeakReport.create({
		...report,
		changes: [pb.LeakChange.create({ what: pb.LeakChange.What.WHAT_APPEARED, leak: ttyLeak(), detail: 'pid 9 (sh) opened it' })],
	});

	test('formatCheckpoint: the leak summary and the warned leaks; "inconsistent:" lines for changes', () => {
		const c = pb.Checkpoint.create({ id: 'x', rootPid: 7, leaks: report });
		const out = formatCheckpoint(c);
		assert.match(out, /^ {2}leaks {5}2 leaks: 1 warned, 1 ignored; consistent$/m);
		assert.match(out, /^ {2}warned {4}pipe pipe:\[1234\]: a pipe the tree writes into and cat \(pid 88\) outside reads from$/m);
		assert.doesNotMatch(out, /inconsistent/);
		const bad = formatCheckpoint(pb.Checkpoint.create({ id: 'x', rootPid: 7, leaks: changed }));
		assert.match(bad, /; inconsistent: 1 change during the dump$/m);
		assert.match(bad, /^ {2}inconsistent: tty \/dev\/pts\/3 appeared during the dump: pid 9 \(sh\) opened it$/m);
		assert.match(formatCheckpoint(pb.Checkpoint.create({ id: 'old' })), /^ {2}leaks {5}leaks not scanned/m);
	});

	test('leakReportLines: the summary first, then warned leaks, then changes', () => {
		assert.deepEqual(leakReportLines(changed, '').map((l) => l.split(' ')[0]), ['leaks', 'warned', 'inconsistent:']);
	});

	test('checkpointJson: the leak report with names; null without one', () => {
		const json = checkpointJson(pb.Checkpoint.create({ id: 'x', name: 'n', leaks: changed })) as { id: string; name: string; leaks: { policy: string; consistent: boolean; leaks: { kind: string; policy: string }[] } };
		assert.equal(json.id, 'x');
		assert.equal(json.name, 'n');
		assert.equal(json.leaks.policy, 'pipe=warn');
		assert.equal(json.leaks.consistent, false);
		assert.deepEqual(json.leaks.leaks.map((l) => `${l.kind}=${l.policy}`), ['uts-ns=ignore', 'pipe=warn']);
		assert.equal((checkpointJson(pb.Checkpoint.create({ id: 'y' })) as { leaks: unknown }).leaks, null);
	});

	test('ckpt leaks --json: each leak\'s fields at its top level, and the scan\'s numbers', () => {
		const json = leaksResultJson(pb.LeaksResult.create({ leaks: [pipeLeak()], stats: pb.LeakScanStats.create({ processes: 5, treeProcesses: 1, descriptors: 20, scanTimeUs: 700 }) }));
		assert.deepEqual(Object.keys(json), ['leaks', 'stats']);
		const { leaks, stats } = json as { leaks: Record<string, unknown>[]; stats: object };
		assert.deepEqual(Object.keys(leaks[0]), ['kind', 'resource', 'summary', 'inside', 'outside', 'outsideCount', 'risk', 'criu', 'policy', 'defaultPolicy', 'choices', 'hostOwn', 'policyNote']);
		assert.equal(leaks[0].kind, 'pipe');
		assert.equal(leaks[0].policy, 'fail');
		assert.deepEqual(stats, { processes: 5, treeProcesses: 1, descriptors: 20, scanTimeUs: 700 });
	});

	test('ckpt leaks: the listing, then whether a dump with the policy goes ahead, and how to make it', () => {
		const ahead = formatLeaksResult(pb.LeaksResult.create({ leaks: [pipeLeak(P.LEAK_POLICY_WARN)] }));
		assert.match(ahead, /^1 leak: 1 warned\n/);
		assert.match(ahead, /\n\nA dump with this policy goes ahead\.$/);
		const refused = formatLeaksResult(pb.LeaksResult.create({ leaks: [pipeLeak(), ttyLeak(), tracerLeak()] }));
		assert.match(refused, /\n\nA dump with this policy is refused: 3 leaks have the policy fail\.\nTo go ahead, e\.g\. --policy pipe=warn,tty=external$/);
		assert.match(formatLeaksResult(pb.LeaksResult.create({ leaks: [tracerLeak()] })), /refused: 1 leak has the policy fail\.$/);
		assert.match(formatLeaksResult(pb.LeaksResult.create()), /^no leaks/);
	});

	test('refusalHint: a --policy from the leaks\' choices; what no policy can pass', () => {
		assert.equal(refusalHint([pipeLeak(), ttyLeak()]), 'To checkpoint anyway, choose another policy for them (see each leak\'s choices), e.g. --policy pipe=warn,tty=external');
		assert.equal(refusalHint([pipeLeak(), pb.Leak.create({ ...pipeLeak(), resource: 'pipe:[5]' })]).split('--policy ')[1], 'pipe=warn');
		assert.equal(refusalHint([pipeLeak(), tracerLeak()]), [
			'No policy lets the dump go ahead with tracer pid 77: stop sharing it first.',
			'For the others, choose another policy (see each leak\'s choices), e.g. --policy pipe=warn',
		].join('\n'));
		assert.equal(refusalHint([tracerLeak()]), 'No policy lets the dump go ahead with tracer pid 77: stop sharing it first.');
		assert.equal(refusalHint([ttyLeak()]), 'To checkpoint anyway, choose another policy for it (see each leak\'s choices), e.g. --policy tty=external');
		assert.match(refusalHint([]), /ckpt leaks PID/);
	});

	test('shellWord quotes what a shell would glob or split', () => {
		assert.equal(shellWord('pipe=warn,tty=external'), 'pipe=warn,tty=external');
		assert.equal(shellWord('pipe:pipe:[1]=external'), "'pipe:pipe:[1]=external'");
		assert.equal(shellWord("a'b c"), "'a'\\''b c'");
	});
});
