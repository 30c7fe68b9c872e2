/**
 * A live session's leak policy (the setting's layer and the launch
 * configuration's, which wins), quick actions writing the setting without
 * losing the user's other entries, and a refusal in words: the refused
 * leaks, their choices, what stays, and what to set. Also: the settings'
 * schema in package.json names every kind and policy the wire has.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { leakJson, LEAK_KINDS, LEAK_POLICIES } from '../../src/core/leaks';
import { pb } from '../../src/core/protocol';
import {
	applyLabel, isRefusalMessage, launchOverride, leakLabel, policySetting, refusalNotice, refusalOf, sessionRules, settingText, withRule,
} from '../../src/debug/leakPolicy';
import { checkpointSummary, CONNECTIONS_MOVED_ON, isMovedOnMessage, movedOnParts } from '../../src/debug/messages';
import { pipeLeak, tracerLeak, ttyLeak } from './leaks.fixtures';

const K = pb.LeakKind;
const P = pb.LeakPolicy;
const REPO = join(__dirname, '..', '..', '..');

describe('a session\'s leak policy', () => {
	test('the launch configuration wins over the setting for the same kind or resource; other rules stay', () => {
		const rules = sessionRules({ pipe: 'fail', tty: 'external', 'pipe:pipe:[1]': 'ignore' }, { PIPE: 'warn' });
		assert.deepEqual(policySetting(rules), { tty: 'external', 'pipe:pipe:[1]': 'ignore', pipe: 'warn' });
		assert.deepEqual(rules.find((r) => r.kind === K.LEAK_KIND_PIPE && !r.resource)?.policy, P.LEAK_POLICY_WARN);
		assert.deepEqual(sessionRules(undefined, undefined), []);
		assert.deepEqual(sessionRules({}, null), []);
	});

	test('a bad key or value says where it is and what to write', () => {
		assert.throws(() => sessionRules({ pipe: 'maybe' }, {}), (e: CheckpointError) => e.kind === 'bad-request' &&
			e.message === 'the setting checkpoint.leakPolicy, "pipe": "maybe" is not a leak policy; the policies are fail, warn, ignore, external, save');
		assert.throws(() => sessionRules({}, { pipes: 'warn' }), /^CheckpointError: the launch configuration's "leakPolicy", "pipes": "pipes" is not a leak kind; the kinds are uts-ns, /);
		assert.throws(() => sessionRules({}, 'pipe=warn'), /the launch configuration's "leakPolicy" must be an object .*it is string "pipe=warn"/);
		assert.throws(() => sessionRules({ pipe: 3 }, {}), /"pipe": the policy must be a string/);
	});

	test('a quick action replaces the entry for the same reach however it was written, and keeps the others', () => {
		assert.deepEqual(withRule(undefined, 'pipe', 'warn'), { pipe: 'warn' });
		assert.deepEqual(withRule({ ' PIPE ': 'fail', tty: 'external', 'pipe:pipe:[1]': 'ignore' }, 'pipe', 'warn'), { tty: 'external', 'pipe:pipe:[1]': 'ignore', pipe: 'warn' });
		assert.deepEqual(withRule({ 'pipe: pipe:[1] ': 'ignore' }, 'pipe:pipe:[1]', 'external'), { 'pipe:pipe:[1]': 'external' });
		assert.throws(() => withRule(['pipe=warn'], 'pipe', 'warn'), /is not an object \(it is an array\); fix it in the settings first/);
		assert.equal(launchOverride({ Pipe: 'fail' }, 'pipe'), 'fail');
		assert.equal(launchOverride({ 'pipe:pipe:[1]': 'fail' }, 'pipe'), undefined, 'a resource rule is another reach');
		assert.equal(launchOverride(undefined, 'pipe'), undefined);
	});

	test('rules as the setting writes them, on one line', () => {
		assert.deepEqual(policySetting([{ kind: K.LEAK_KIND_TTY, resource: '/dev/pts/3', policy: P.LEAK_POLICY_EXTERNAL }]), { 'tty:/dev/pts/3': 'external' });
		assert.equal(settingText({ pipe: 'warn', 'tty:/dev/pts/3': 'external' }), '{ "pipe": "warn", "tty:/dev/pts/3": "external" }');
	});
});

describe('a leak in a line', () => {
	test('kind and resource; the kind once where the resource names it already', () => {
		const of = (kind: pb.LeakKind, resource: string): string => leakLabel(leakJson(pb.Leak.create({ kind, resource })));
		assert.equal(of(K.LEAK_KIND_PIPE, 'pipe:[12]'), 'pipe pipe:[12]');
		assert.equal(of(K.LEAK_KIND_TCP, 'tcp 127.0.0.1:5 -> 127.0.0.1:6'), 'tcp 127.0.0.1:5 -> 127.0.0.1:6');
		assert.equal(of(K.LEAK_KIND_PROCESS_GROUP, 'process group 7'), 'process group 7');
		assert.equal(of(K.LEAK_KIND_SESSION, 'session 12'), 'session 12');
		assert.equal(of(K.LEAK_KIND_UDP, ''), 'udp (no resource)');
		assert.equal(of(K.LEAK_KIND_FILE_LOCK, 'file-locks of x'), 'file-lock file-locks of x', 'a prefix of the kind is not the kind');
	});
});

describe('a restore refused because connections moved on', () => {
	test('told apart from other failures; its first sentence is the headline, the rest the detail', () => {
		const message = `${CONNECTIONS_MOVED_ON}The TCP connection 10.0.0.1:5 -> 10.0.0.2:80 (3 bytes received, 0 written) carried data since the checkpoint. ` +
			'Both ends would wait. Nothing was killed';
		assert.ok(isMovedOnMessage(message));
		assert.ok(!isMovedOnMessage('Restore not started: pipe pipe:[1] is shared ..., and the leak policy is fail'));
		assert.deepEqual(movedOnParts(message), {
			headline: 'Restore not started: the TCP connection 10.0.0.1:5 -> 10.0.0.2:80 (3 bytes received, 0 written) carried data since the checkpoint.',
			rest: 'Both ends would wait. Nothing was killed',
		});
		assert.deepEqual(movedOnParts(`${CONNECTIONS_MOVED_ON}One sentence`), { headline: 'Restore not started: one sentence', rest: '' });
	});
});

describe('a refused checkpoint', () => {
	test('the error names each refused leak, its outside holders and its choices, and what to set', () => {
		const r = refusalOf([pipeLeak(), tracerLeak()], 'checkpoint', 'running');
		assert.deepEqual(r.suggested, { pipe: 'warn' });
		assert.deepEqual(r.withoutChoice.map((l) => l.kind), ['tracer']);
		assert.equal(r.message, [
			'Checkpoint refused: the tree shares pipe pipe:[1234] (outside: 88 cat (fd 0 (read end)), 89 tee (fd 0 (read end)) and 3 more); tracer pid 77 (outside: 77 gdb (tracer)) ' +
			'with processes outside it, and the leak policy is fail for them. Nothing was frozen or written; the program runs on.',
			'pipe pipe:[1234]: the choices are warn (checkpoint it as CRIU does: a restore makes a new pipe; flagged); ignore (the same, not flagged); ' +
			'external [--inherit-fd at restore] (the restored tree gets the same pipe, reopened through a live outside holder).',
			'tracer pid 77: no policy lets a checkpoint go ahead; the program has to stop sharing it.',
			'To go ahead, set e.g. { "pipe": "warn" } in the setting checkpoint.leakPolicy or the launch configuration\'s "leakPolicy" (the Leaks view does it for you).',
		].join('\n'));
		assert.ok(isRefusalMessage(r.message));
		assert.ok(isRefusalMessage(`Error: ${r.message}`));
		assert.ok(!isRefusalMessage('Checkpoint refused: something else'));
	});

	test('a restore\'s checkpoint of the present: nothing replaced, and restoring without it is the other way', () => {
		const r = refusalOf([ttyLeak()], 'restore', 'frozen');
		assert.match(r.message, /^Restore not started: the checkpoint of the present state a restore takes first was refused, so nothing was replaced: the tree shares tty \/dev\/pts\/3 /);
		assert.match(r.message, /the program stays paused\./);
		assert.match(r.message, /\{ "tty": "external" \} .*, or restore without saving the present \("saveBeforeRestore": false\)\.$/);
		assert.ok(isRefusalMessage(r.message));
		const none = refusalOf([tracerLeak()], 'restore', 'running');
		assert.match(none.message, /To go ahead, restore without saving the present/);
	});

	test('the notification: what was refused, what stays, what the button writes and what it costs', () => {
		const r = refusalOf([pipeLeak(), ttyLeak()], 'checkpoint', 'running');
		assert.equal(refusalNotice(r), 'Checkpoint refused: pipe pipe:[1234], tty /dev/pts/3 are shared with processes outside the tree, and the leak policy is fail; ' +
			'nothing was frozen or written, the program runs on. To go ahead: { "pipe": "warn" }: warn (checkpoint it as CRIU does: a restore makes a new pipe; flagged); ' +
			'{ "tty": "external" }: external [--shell-job] (the restored tree takes the restorer\'s terminal).');
		assert.equal(applyLabel(Object.values(r.suggested)), 'Apply the Suggested Policy');
		assert.match(refusalNotice(refusalOf([ttyLeak()], 'restore', 'frozen')), /^Checkpoint: restore not started: .*nothing was replaced: tty \/dev\/pts\/3 is shared .*the program stays paused\./);
		assert.equal(applyLabel(['external']), 'Hand to CRIU as External');
		assert.equal(applyLabel(['warn', 'warn']), 'Warn Only');
		assert.equal(applyLabel([]), undefined);
	});
});

describe('a checkpoint\'s leaks in the editor\'s list', () => {
	test('brief, summary, warned, and the changes that make it inconsistent', () => {
		const report = pb.LeakReport.create({
			leaks: [pipeLeak(P.LEAK_POLICY_WARN)], rescanned: true,
			changes: [pb.LeakChange.create({ what: pb.LeakChange.What.WHAT_VANISHED, leak: pipeLeak(P.LEAK_POLICY_WARN), detail: 'cat exited' })],
		});
		const summary = checkpointSummary(pb.Checkpoint.create({ id: 'a', leaks: report }));
		assert.deepEqual(summary.leaks, {
			brief: '1 warned, inconsistent', summary: '1 leak: 1 warned; inconsistent: 1 change during the dump', inconsistent: true,
			changes: ['pipe pipe:[1234] vanished during the dump: cat exited'], warned: ['pipe pipe:[1234]'],
		});
		assert.equal(checkpointSummary(pb.Checkpoint.create({ id: 'b' })).leaks, undefined, 'made before leak scans');
	});
});

describe('package.json', () => {
	const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
		contributes: {
			configuration: { properties: Record<string, PolicySchema> };
			debuggers: Array<{ configurationAttributes: Record<'attach' | 'launch', { properties: Record<string, PolicySchema> }> }>;
		};
	};
	interface PolicySchema { type: string; default?: unknown; properties: Record<string, { enum: string[] }>; patternProperties: Record<string, { enum: string[] }> }

	test('checkpoint.leakPolicy and both configurations\' leakPolicy name every kind, with policies the wire has', () => {
		const schemas = [
			pkg.contributes.configuration.properties['checkpoint.leakPolicy'],
			pkg.contributes.debuggers[0].configurationAttributes.attach.properties.leakPolicy,
			pkg.contributes.debuggers[0].configurationAttributes.launch.properties.leakPolicy,
		];
		for (const schema of schemas) {
			assert.equal(schema.type, 'object');
			assert.deepEqual(Object.keys(schema.properties), [...LEAK_KINDS]);
			for (const [kind, p] of Object.entries(schema.properties)) assert.ok(p.enum.length > 0 && p.enum.every((v) => LEAK_POLICIES.includes(v as never)), kind);
			assert.deepEqual(Object.values(schema.patternProperties)[0].enum, [...LEAK_POLICIES]);
			assert.ok(new RegExp(Object.keys(schema.patternProperties)[0]).test('pipe:pipe:[1234]'));
		}
		assert.deepEqual(schemas[0].default, {});
	});
});
