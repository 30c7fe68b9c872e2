/** The leaks in words as `ckpt leaks` prints them (src/cli/leaksText.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatLeaks, policyText } from '../../src/cli/leaksText';
import { pb } from '../../src/core/protocol';
import { pipeLeak, tracerLeak, ttyLeak, utsLeak } from './leaks.fixtures';

const P = pb.LeakPolicy;

describe('policyText', () => {
	test('policyText says the default when another policy applies', () => {
		assert.equal(policyText(pipeLeak()), 'fail (the default)');
		assert.equal(policyText(pipeLeak(P.LEAK_POLICY_EXTERNAL)), 'external (default fail)');
	});
});

describe('formatLeaks', () => {
	const stats = pb.LeakScanStats.create({ processes: 214, treeProcesses: 2, descriptors: 1830, scanTimeUs: 12_345 });
	const out = formatLeaks([ttyLeak(), pipeLeak(P.LEAK_POLICY_WARN), utsLeak(), tracerLeak()], stats);
	const lines = out.split('\n');

	test('a heading with the counts and the scan', () => {
		assert.equal(lines[0], '4 leaks: 2 failing, 1 warned, 1 ignored');
		assert.equal(lines[1], 'scanned 214 processes (2 in the tree) and 1830 descriptors in 12.3 ms');
	});

	test('grouped by kind in the enum order, with the kind\'s title when it says more', () => {
		const headings = lines.filter((l) => /^\S.*: \d+ leaks?$/.test(l));
		assert.deepEqual(headings, ['uts-ns (UTS namespace): 1 leak', 'pipe: 1 leak', 'tty (terminal): 1 leak', 'tracer: 1 leak']);
	});

	test('a leak: resource, summary, policy with its default, holders inside and outside with "and N more", risk, CRIU, choices', () => {
		const start = lines.indexOf('  pipe:[1234]');
		assert.ok(start > 0, out);
		assert.deepEqual(lines.slice(start, start + 18), [
			'  pipe:[1234]',
			'    a pipe the tree writes into and cat (pid 88) outside reads from',
			'    policy   warn (default fail)',
			'    inside   101 workload: fd 1 (write end)',
			'    outside  88 cat: fd 0 (read end)',
			'             89 tee: fd 0 (read end)',
			'             and 3 more',
			'    risk     a restore makes a new pipe that nobody outside holds: what the tree writes after the',
			'             restore goes nowhere, and the reader sees end of file',
			'    CRIU     dumps it silently, with the bytes in the pipe\'s buffer',
			'    choices  (* applies)',
			'        fail      [default] refuse the checkpoint',
			'      * warn      checkpoint it as CRIU does: a restore makes a new pipe; flagged',
			'        ignore    the same, not flagged',
			'        external  [--inherit-fd at restore] the restored tree gets the same pipe, reopened through a',
			'                  live outside holder',
			'',
			'tty (terminal): 1 leak',
		]);
	});

	test('an ignored leak (the host\'s own namespace) in two lines; holders counted but not named; a policy note', () => {
		const start = lines.indexOf('  uts:[4026531838] (the host\'s own)');
		assert.deepEqual(lines.slice(start, start + 4), [
			'  uts:[4026531838] (the host\'s own)',
			'    the host\'s UTS namespace (hostname)',
			'    policy   ignore (the default); could be warn, fail',
			'    holders  1 inside, 212 outside',
		]);
		const warned = formatLeaks([pb.Leak.create({ ...utsLeak(), policy: P.LEAK_POLICY_WARN })]);
		assert.match(warned, /^ {4}outside {2}212 processes$/m);
		const noted = formatLeaks([pb.Leak.create({ ...tracerLeak(), policyNote: 'warn is not possible for this leak (it can take: fail); its default, fail, applies' })]);
		assert.match(noted, /^ {4}note {5}warn is not possible for this leak \(it can take: fail\); its default, fail, applies$/m);
	});

	test('at most 5 holders a side, then "and N more" counting every holder', () => {
		const member = (pid: number): pb.LeakHolder => pb.LeakHolder.create({ pid, comm: 'bash', how: 'member' });
		const many = pb.Leak.create({
			...utsLeak(), policy: P.LEAK_POLICY_WARN, inside: [100, 101, 102, 103, 104, 105].map(member),
			outside: Array.from({ length: 16 }, (_, i) => member(200 + i)), outsideCount: 29,
		});
		const text = formatLeaks([many]).split('\n');
		const at = text.findIndex((l) => l.startsWith('    inside'));
		assert.deepEqual(text.slice(at, at + 10), [
			'    inside   100 bash: member', '             101 bash: member', '             102 bash: member', '             103 bash: member', '             and 2 more',
			'    outside  200 bash: member', '             201 bash: member', '             202 bash: member', '             203 bash: member', '             and 25 more',
		]);
		const five = formatLeaks([pb.Leak.create({ ...utsLeak(), policy: P.LEAK_POLICY_WARN, outside: [1, 2, 3, 4, 5].map(member), outsideCount: 5 })]);
		assert.match(five, /^ {13}5 bash: member\n {4}risk/m);
		assert.doesNotMatch(five, /more/);
		assert.match(formatLeaks([pb.Leak.create({ ...pipeLeak(), outside: [], outsideCount: 0 })]), /^ {4}inside {3}101 workload: fd 1 \(write end\)\n {4}risk/m);
		assert.match(formatLeaks([pb.Leak.create({ ...pipeLeak(), inside: [] })]), /^ {4}inside {3}\(none named\)$/m);
	});

	test('no line is longer than 100 columns', () => {
		for (const l of lines) assert.ok(l.length <= 100, `too long: ${l}`);
	});

	test('no leaks', () => {
		assert.equal(formatLeaks([]), 'no leaks: the tree shares nothing the helper looks for with processes outside it');
		assert.match(formatLeaks([], stats), /\nscanned 214 processes/);
	});
});
