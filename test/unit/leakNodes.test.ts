/**
 * The Leaks tree's shape and words: kinds in the wire's order with the worst
 * severity's icon, leaks with their policy and the quick actions they offer,
 * holders as children ("and N more" from the count), the tooltip with every
 * choice; the message above the tree; and the image browser's leak report.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CheckpointImages } from '../../src/core/images/checkpoint';
import { leakJson, type LeakJson } from '../../src/core/leaks';
import { pb } from '../../src/core/protocol';
import type { LeaksBody } from '../../src/debug/leakPolicy';
import { childrenOf, type ImageNode } from '../../src/extension/imageNodes';
import {
	externalChoice, leakChildren, leakGroups, leakRow, leaksMessage, leakTooltip, policyLabel, quickRuleKey, severityOf, worstSeverity, type LeakNode,
} from '../../src/extension/leakNodes';
import { pipeLeak, tracerLeak, ttyLeak, utsLeak } from './leaks.fixtures';

const P = pb.LeakPolicy;
const json = (l: pb.Leak): LeakJson => leakJson(l);
const rows = (nodes: LeakNode[]): string[] => nodes.map((n) => {
	const r = leakRow(n);
	return `${r.label} | ${r.description ?? ''} | ${r.icon.id}`;
});

describe('Leaks view tree', () => {
	const leaks = [json(tracerLeak()), json(pipeLeak()), json(utsLeak()), json(ttyLeak()), json(pipeLeak(P.LEAK_POLICY_WARN))];
	leaks[4].resource = 'pipe:[99]';

	test('kinds that refuse a checkpoint first, then warned, then the rest, each in the wire\'s order, with its count and the worst severity\'s icon', () => {
		const groups = leakGroups(leaks, '101');
		assert.deepEqual(rows(groups), [
			'pipe | 2 · 1 failing, 1 warned | error',
			'terminal | 1 · 1 failing | error',
			'tracer | 1 · 1 failing | error',
			'UTS namespace | 1 · 1 ignored | info',
		]);
		assert.deepEqual(rows(leakGroups([json(utsLeak()), json(pipeLeak(P.LEAK_POLICY_WARN)), json(pipeLeak(P.LEAK_POLICY_IGNORE))], 'x')).map((r) => r.split(' | ')[0]),
			['pipe', 'UTS namespace'], 'a warned pipe before an ignored namespace');
		const uts = leakRow(groups[3]);
		assert.equal(uts.expand, 'collapsed', 'nothing to act on: folded');
		assert.equal(leakRow(groups[0]).expand, 'expanded');
		assert.equal(leakRow(groups[0]).icon.color, 'problemsErrorIcon.foreground');
		assert.equal(leakRow(groups[0]).id, '101/pipe');
		assert.equal(leakRow(groups[0]).contextValue, 'leakGroup can-ignore', 'every pipe leak can be ignored: "Don\'t care" on the kind');
		assert.equal(leakRow(groups[2]).contextValue, 'leakGroup');
	});

	test('leaks: resource, policy, severity icon, and only the quick actions they offer', () => {
		const [pipes, tty, tracer, uts] = leakGroups(leaks, '101');
		const [failing, warned] = leakChildren(pipes);
		assert.deepEqual(rows([failing, warned]), ['pipe:[1234] | fail (the default) | error', 'pipe:[99] | warn (default fail) | warning']);
		assert.equal(leakRow(failing).contextValue, 'leak can-set can-ignore can-external');
		assert.equal(leakRow(warned).icon.color, 'problemsWarningIcon.foreground');
		const [own] = leakChildren(uts);
		assert.deepEqual(rows([own]), ['uts:[4026531838] | ignore (the default) · the host\'s own | info']);
		assert.equal(leakRow(own).contextValue, 'leak can-set', 'ignored already, and no external choice');
		assert.equal(leakRow(leakChildren(tty)[0]).contextValue, 'leak can-set can-external');
		assert.equal(leakRow(leakChildren(tracer)[0]).contextValue, 'leak', 'nothing but fail: no action');
		assert.equal(leakRow(failing).id, '101/pipe/pipe:[1234]');
	});

	test('a leak\'s children: the outside holders, "and N more" from the count, the inside holders, the policy note', () => {
		const pipe = json(pipeLeak(P.LEAK_POLICY_FAIL));
		pipe.policyNote = 'save is not a choice for a pipe: the default applies';
		const children = leakChildren({ kind: 'leak', leak: pipe, siblings: [pipe], scope: '101' });
		assert.deepEqual(rows(children), [
			'88 cat | outside · fd 0 (read end) | link-external',
			'89 tee | outside · fd 0 (read end) | link-external',
			'and 3 more | outside | ellipsis',
			'101 workload | inside · fd 1 (write end) | circle-small-filled',
			'save is not a choice for a pipe: the default applies |  | note',
		]);
		assert.ok(children.every((c) => leakChildren(c).length === 0));
		assert.equal(new Set(children.map((c) => leakRow(c).id)).size, children.length, 'ids are unique');
	});

	test('the tooltip: summary, risk, what CRIU does, every choice with its option and effect, the applied one and the default marked', () => {
		const tip = leakTooltip(json(pipeLeak(P.LEAK_POLICY_EXTERNAL)));
		assert.match(tip, /^\*\*pipe\*\* `pipe:\[1234\]`: \*\*external\*\* \(default fail\)/);
		assert.match(tip, /\*\*Risk:\*\* a restore makes a new pipe/);
		assert.match(tip, /\*\*CRIU by itself:\*\* dumps it silently/);
		assert.match(tip, /^- \*\*fail\*\* \(default\): refuse the checkpoint$/m);
		assert.match(tip, /^- \$\(check\) \*\*external\*\* \(applies\) `--inherit-fd at restore`: the restored tree gets the same pipe/m);
		assert.match(leakTooltip(json(utsLeak())), /^- \$\(check\) \*\*ignore\*\* \(applies, default\): nothing to do$/m);
		// What comes from the target is text, not markdown.
		const odd = json(pipeLeak());
		odd.summary = 'held by *evil* [link](x)';
		assert.match(leakTooltip(odd), /held by \\\*evil\\\* \\\[link\\\]\\\(x\\\)/);
	});

	test('severity follows the policy; policy words', () => {
		assert.equal(severityOf(json(pipeLeak())), 'error');
		assert.equal(severityOf(json(pipeLeak(P.LEAK_POLICY_WARN))), 'warning');
		assert.equal(severityOf(json(pipeLeak(P.LEAK_POLICY_EXTERNAL))), 'info');
		assert.equal(worstSeverity([]), 'info');
		assert.equal(worstSeverity([json(utsLeak()), json(pipeLeak(P.LEAK_POLICY_WARN))]), 'warning');
		assert.equal(policyLabel(json(pipeLeak(P.LEAK_POLICY_IGNORE))), 'ignore (default fail)');
	});

	test('quick actions: external or save where that is the choice; a kind rule when every leak of the kind takes it, else the resource', () => {
		const pipe = json(pipeLeak());
		assert.equal(externalChoice(pipe), 'external');
		assert.equal(externalChoice(json(pipeLeak(P.LEAK_POLICY_EXTERNAL))), undefined, 'external already');
		const tcp: LeakJson = { ...pipe, kind: 'tcp', resource: 'tcp 127.0.0.1:1 -> 127.0.0.1:2', choices: [{ policy: 'fail', criuOption: '', effect: '' }, { policy: 'save', criuOption: '--tcp-established', effect: '' }] };
		assert.equal(externalChoice(tcp), 'save');
		assert.equal(externalChoice(json(tracerLeak())), undefined);
		assert.equal(quickRuleKey(pipe, [pipe, json(pipeLeak(P.LEAK_POLICY_WARN))], 'external'), 'pipe');
		const listening: LeakJson = { ...tcp, resource: 'tcp listening 0.0.0.0:80', choices: [{ policy: 'warn', criuOption: '', effect: '' }] };
		assert.equal(quickRuleKey(tcp, [tcp, listening], 'save'), 'tcp:tcp 127.0.0.1:1 -> 127.0.0.1:2', 'the listening socket cannot be saved: only this one');
	});

	test('the message above the tree', () => {
		const body = (l: LeakJson[]): LeaksBody => ({ rootPid: 101, reason: 'request', leaks: l, policy: {} });
		assert.match(leaksMessage({ kind: 'no-session' }) ?? '', /^No live checkpoint debug session/);
		assert.equal(leaksMessage({ kind: 'loading' }), undefined);
		assert.equal(leaksMessage({ kind: 'error', message: 'gone' }), 'Cannot list the leaks: gone');
		assert.match(leaksMessage({ kind: 'leaks', body: body([]) }) ?? '', /^Process 101: no leaks\./);
		assert.equal(leaksMessage({ kind: 'leaks', body: body([json(pipeLeak()), json(utsLeak())]) }),
			'Process 101: 2 leaks, 1 failing, 1 ignored; a checkpoint is refused now (1 failing: choose another policy for it).');
		assert.equal(leaksMessage({ kind: 'leaks', body: body([json(utsLeak())]) }), 'Process 101: 1 leak, 1 ignored; a checkpoint goes ahead.');
	});
});

describe('the image browser\'s leak report', () => {
	const images = { processes: [], imageVersion: 2, files: [], source: {} } as unknown as CheckpointImages;
	const label = (n: ImageNode): string => {
		if (n.kind === 'value') return `${n.label}=${n.value}`;
		if (n.kind === 'leak') return `leak ${leakRow(n.node).label}`;
		return n.kind;
	};

	test('a checkpoint with a report: summary, policy, the changes of the second scan, the leaks by kind', async () => {
		const manifest = pb.Checkpoint.create({
			id: 'ck-1',
			leaks: pb.LeakReport.create({
				policy: [pb.LeakRule.create({ kind: pb.LeakKind.LEAK_KIND_PIPE, policy: P.LEAK_POLICY_WARN })],
				leaks: [pipeLeak(P.LEAK_POLICY_WARN), utsLeak()],
				rescanned: true,
				changes: [pb.LeakChange.create({ what: pb.LeakChange.What.WHAT_APPEARED, leak: ttyLeak(), detail: 'pid 50 (bash) opened it during the checkpoint' })],
			}),
		});
		const top = await childrenOf({ kind: 'checkpoint', images, title: 't', manifest });
		assert.deepEqual(top.map(label), ['leakReport']);
		const report = await childrenOf(top[0]);
		assert.deepEqual(report.map(label), [
			'summary=2 leaks: 1 warned, 1 ignored; inconsistent: 1 change during the dump',
			'policy=pipe=warn',
			'leakChanges',
			'leak pipe',
			'leak UTS namespace',
		]);
		assert.deepEqual((await childrenOf(report[2])).map(label), ['appeared=tty /dev/pts/3 appeared during the dump: pid 50 (bash) opened it during the checkpoint']);
		const pipes = await childrenOf(report[3]);
		assert.deepEqual(pipes.map(label), ['leak pipe:[1234]']);
		assert.equal((await childrenOf(pipes[0])).length, 4, 'two outside holders, "and 3 more", one inside');
		assert.equal(pipes[0].kind === 'leak' && leakRow(pipes[0].node).id, 'report/ck-1/pipe/pipe:[1234]');
	});

	test('a helper checkpoint made before leak scans says so; CRIU images without a manifest show no report', async () => {
		const old = await childrenOf({ kind: 'checkpoint', images, title: 't', manifest: pb.Checkpoint.create({ id: 'old' }) });
		assert.deepEqual(old.map(label), ['Leaks=not scanned (a checkpoint made before leak scans)']);
		assert.deepEqual((await childrenOf({ kind: 'checkpoint', images, title: 't' })).map(label), []);
		const unscanned = pb.Checkpoint.create({ id: 'x', leaks: pb.LeakReport.create({ rescanned: false, rescanProblem: 'CRIU sent no post-dump notification' }) });
		const report = await childrenOf((await childrenOf({ kind: 'checkpoint', images, title: 't', manifest: unscanned }))[0]);
		assert.deepEqual(report.map(label), [
			'summary=no leaks; not rescanned at post-dump (CRIU sent no post-dump notification): consistency unknown',
			'policy=(the defaults)',
			'second scan=not made: CRIU sent no post-dump notification',
		]);
	});
});
