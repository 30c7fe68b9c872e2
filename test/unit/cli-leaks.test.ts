/**
 * `ckpt leaks`, `ckpt dump --policy`, `ckpt ls` and `ckpt show` as a user
 * runs them (the compiled CLI in a child process), against a fake helper:
 * a script that speaks the protocol and answers with the leaks of
 * test/unit/leaks.fixtures.ts, applying the policy as the helper does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pb } from '../../src/core/protocol';
import { criu, encodeMessage, frameEntry, imageHeader, type ImageKind } from '../../src/core/images/format';
import { ckpt, fakeHelperForTests, NOT_ROOT, OUT } from './cliRunner';
import { pipeLeak, ttyLeak } from './leaks.fixtures';

/** The fake helper: pipe:[1234] and /dev/pts/3 leak; a dump refuses while one is fail, else records a report with one change. */
const fake = fakeHelperForTests('ckpt-cli-leaks-', `const fixtures = require(${JSON.stringify(join(OUT, 'test', 'unit', 'leaks.fixtures.js'))});
let dumped;
function scan(rules) {
	return [fixtures.pipeLeak(), fixtures.ttyLeak()].map((leak) => {
		let byKind, byResource;
		for (const r of rules) if (r.kind === leak.kind) { if (!r.resource) byKind = r; else if (r.resource === leak.resource) byResource = r; }
		const rule = byResource || byKind;
		if (rule && leak.choices.some((c) => c.policy === rule.policy)) leak.policy = rule.policy;
		else if (rule) leak.policyNote = 'not possible';
		return leak;
	});
}
const stats = pb.LeakScanStats.create({ processes: 50, treeProcesses: 1, descriptors: 300, scanTimeUs: 2500 });
function handle(req) {
	if (req.leaks) return send({ id: req.id, leaks: pb.LeaksResult.create({ leaks: scan(req.leaks.policy), stats }) });
	if (req.dump) {
		const leaks = scan(req.dump.policy);
		const failing = leaks.filter((l) => l.policy === pb.LeakPolicy.LEAK_POLICY_FAIL);
		if (failing.length) {
			return send({ id: req.id, error: pb.Error.create({ code: pb.ErrorCode.ERROR_CODE_LEAKS_REFUSED, leaks: failing,
				message: 'process ' + req.dump.rootPid + "'s tree shares " + failing.length + ' resources with processes outside it whose policy is fail; nothing was frozen or written' }) });
		}
		dumped = pb.Checkpoint.create({ id: 'ck-1', name: 'n', rootPid: req.dump.rootPid, processes: [pb.CheckpointProcess.create({ pid: req.dump.rootPid, comm: 'workload' })],
			leaks: pb.LeakReport.create({ policy: req.dump.policy, leaks, rescanned: true, stats,
				changes: [pb.LeakChange.create({ what: pb.LeakChange.What.WHAT_HOLDERS_CHANGED, leak: leaks[0], detail: 'pid 90 (sh) opened it during the checkpoint' })] }) });
		return send({ id: req.id, dump: pb.DumpResult.create({ checkpoint: dumped }) });
	}
	if (req.list) return send({ id: req.id, list: pb.ListResult.create({ checkpoints: dumped ? [dumped] : [] }) });
	refuse(req);
}
`);

describe('ckpt leaks', { skip: NOT_ROOT }, () => {
	test('lists the leaks by kind with their choices, and says a dump would be refused', async () => {
		const r = await ckpt(fake.env, 'leaks', '42');
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /^2 leaks: 2 failing\nscanned 50 processes \(1 in the tree\) and 300 descriptors in 2\.5 ms\n/);
		assert.match(r.stdout, /\npipe: 1 leak\n {2}pipe:\[1234\]\n/);
		assert.match(r.stdout, /\ntty \(terminal\): 1 leak\n {2}\/dev\/pts\/3\n/);
		assert.match(r.stdout, /^ {8}external {2}\[--inherit-fd at restore\] the restored tree gets the same pipe/m);
		assert.match(r.stdout, /\n\nA dump with this policy is refused: 2 leaks have the policy fail\.\nTo go ahead, e\.g\. --policy pipe=warn,tty=external\n$/);
	});

	test('--policy applies, --json gives each leak\'s fields with names', async () => {
		const r = await ckpt(fake.env, '--json', 'leaks', '42', '--policy', 'pipe:pipe:[1234]=external', '--policy', 'tty=save');
		assert.equal(r.code, 0, r.stderr);
		const json = JSON.parse(r.stdout) as { leaks: Array<{ kind: string; resource: string; policy: string; defaultPolicy: string; policyNote: string; outsideCount: number }>; stats: { processes: number } };
		assert.deepEqual(json.leaks.map((l) => [l.kind, l.resource, l.policy, l.defaultPolicy]), [['pipe', 'pipe:[1234]', 'external', 'fail'], ['tty', '/dev/pts/3', 'fail', 'fail']]);
		assert.equal(json.leaks[1].policyNote, 'not possible');
		assert.equal(json.leaks[0].outsideCount, 5);
		assert.equal(json.stats.processes, 50);
	});

	test('a bad --policy is a usage error before anything is started', async () => {
		const r = await ckpt({ ...fake.env, CKPT_HELPER_DIR: '/nonexistent' }, 'leaks', '42', '--policy', 'pipe=sometimes');
		assert.equal(r.code, 2);
		assert.match(r.stderr, /^ckpt: --policy entry "pipe=sometimes": "sometimes" is not a leak policy; the policies are fail, warn, ignore, external, save\n$/);
		const other = await ckpt(fake.env, 'ls', '--policy', 'pipe=warn');
		assert.equal(other.code, 2);
		assert.match(other.stderr, /--policy is for dump and leaks, not ls/);
	});
});

describe('ckpt dump --policy', { skip: NOT_ROOT }, () => {
	test('refused: the refused leaks with their choices, the reason, a --policy that would do, exit status 3', async () => {
		const r = await ckpt(fake.env, 'dump', '42', '--policy', 'pipe=fail');
		assert.equal(r.code, 3, r.stderr);
		assert.equal(r.stdout, '');
		assert.match(r.stderr, /^2 leaks: 2 failing\n\npipe: 1 leak\n/);
		assert.match(r.stderr, /choices {2}\(\* applies\)\n {6}\* fail {6}\[default\] refuse the checkpoint\n/);
		assert.match(r.stderr, /\n\nckpt: process 42's tree shares 2 resources with processes outside it whose policy is fail; nothing was frozen or written\n/);
		assert.match(r.stderr, /\nTo checkpoint anyway, choose another policy for them \(see each leak's choices\), e\.g\. --policy pipe=warn,tty=external\n$/);
	});

	test('refused with --json: the error and the leaks on stdout too', async () => {
		const r = await ckpt(fake.env, '--json', 'dump', '42');
		assert.equal(r.code, 3);
		const json = JSON.parse(r.stdout) as { error: { kind: string; message: string }; leaks: Array<{ kind: string; choices: Array<{ policy: string }> }> };
		assert.equal(json.error.kind, 'leaks-refused');
		assert.match(json.error.message, /whose policy is fail/);
		assert.deepEqual(json.leaks.map((l) => l.kind), ['pipe', 'tty']);
		assert.deepEqual(json.leaks[1].choices.map((c) => c.policy), ['fail', 'external']);
	});

	test('done: the leak summary, the warned leaks and the changes; ls shows them in brief', async () => {
		const r = await ckpt(fake.env, 'dump', '42', '--policy', 'pipe=warn,tty=external');
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /^checkpoint ck-1 "n"$/m);
		assert.match(r.stdout, /^ {2}leaks {5}2 leaks: 1 warned, 1 external; inconsistent: 1 change during the dump$/m);
		assert.match(r.stdout, /^ {2}warned {4}pipe pipe:\[1234\]: a pipe the tree writes into/m);
		assert.match(r.stdout, /^ {2}inconsistent: pipe pipe:\[1234\] changed holders during the dump: pid 90 \(sh\) opened it during the checkpoint$/m);
		const json = JSON.parse((await ckpt(fake.env, '--json', 'dump', '42', '--policy', 'pipe=warn,tty=external')).stdout) as { id: string; leaks: { policy: string; consistent: boolean } };
		assert.equal(json.id, 'ck-1');
		assert.deepEqual(json.leaks.policy, 'pipe=warn,tty=external');
		assert.equal(json.leaks.consistent, false);
	});
});

function image<M>(kind: ImageKind, type: { create(p: object): M }, ...entries: object[]): Buffer {
	return Buffer.concat([imageHeader(kind), ...entries.map((e) => frameEntry(encodeMessage(type as never, type.create(e) as never)))]);
}

describe('ckpt show', () => {
	test('a checkpoint directory with a manifest: its leak report', async () => {
		const ck = mkdtempSync(join(tmpdir(), 'ckpt-show-leaks-'));
		try {
			writeFileSync(join(ck, 'inventory.img'), image('inventory', criu.Inventory, { imgVersion: 2 }));
			writeFileSync(join(ck, 'pstree.img'), image('pstree', criu.ProcessTreeEntry, { pid: 100, ppid: 0, pgid: 100, sid: 100, threads: [100] }));
			writeFileSync(join(ck, 'core-100.img'), image('core', criu.Core, { mtype: criu.Arch.ARCH_X86_64, tc: { taskState: 1, comm: 'demo' } }));
			const leaks = [pipeLeak(pb.LeakPolicy.LEAK_POLICY_WARN), ttyLeak()];
			leaks[1].policy = pb.LeakPolicy.LEAK_POLICY_EXTERNAL;
			const report = pb.LeakReport.create({
				leaks, rescanned: true,
				changes: [pb.LeakChange.create({ what: pb.LeakChange.What.WHAT_VANISHED, leak: ttyLeak() })],
			});
			writeFileSync(join(ck, 'manifest.pb'), pb.Checkpoint.encode(pb.Checkpoint.create({ id: 'ck-9', rootPid: 100, leaks: report })).finish());
			const r = await ckpt({ CKPT_TARGET: '' }, 'show', ck);
			assert.equal(r.code, 0, r.stderr);
			assert.match(r.stdout, /^├── leaks: 2 leaks: 1 warned, 1 external; inconsistent: 1 change during the dump$/m);
			assert.match(r.stdout, /^│ {3}├── warned: pipe pipe:\[1234\]: a pipe the tree writes into/m);
			assert.match(r.stdout, /^│ {3}└── inconsistent: tty \/dev\/pts\/3 vanished during the dump$/m);
			const json = JSON.parse((await ckpt({ CKPT_TARGET: '' }, '--json', 'show', ck)).stdout) as { leaks: { consistent: boolean; leaks: unknown[] } };
			assert.equal(json.leaks.consistent, false);
			assert.equal(json.leaks.leaks.length, 2);
		} finally {
			rmSync(ck, { recursive: true, force: true });
		}
	});
});
