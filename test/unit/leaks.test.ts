import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pb } from '../../src/core/protocol';
import { CheckpointError, type ErrorKind } from '../../src/core/errors';
import {
	changeText, checkpointInconsistent, formatPolicy, kindFromName, kindName, kindTitle, LEAK_KINDS, LEAK_POLICIES,
	leakJson, leakReportBrief, leakReportJson, leakReportSummary, leaksWithoutChoice, mergeRules, parsePolicy, policyFromName,
	policyName, rulesFromSettings, severity, suggestedRules, warnedLeaks, type LeakKindName, type LeakPolicyName,
} from '../../src/core/leaks';
import { pipeLeak, tracerLeak, ttyLeak, utsLeak } from './leaks.fixtures';

const K = pb.LeakKind;
const P = pb.LeakPolicy;

/** assert.throws matcher: a CheckpointError of kind whose message matches every pattern. */
function fails(kind: ErrorKind, ...patterns: RegExp[]): (err: unknown) => boolean {
	return (err: unknown) => {
		assert.ok(err instanceof CheckpointError, `not a CheckpointError: ${String(err)}`);
		assert.equal(err.kind, kind, err.message);
		for (const p of patterns) assert.match(err.message, p);
		return true;
	};
}

const rule = (kind: pb.LeakKind, policy: pb.LeakPolicy, resource = ''): pb.ILeakRule => ({ kind, resource, policy });

describe('leak kind and policy names', () => {
	test('every kind of the enum but UNSPECIFIED has a name, in the enum order, and back', () => {
		assert.deepEqual(LEAK_KINDS, [
			'uts-ns', 'ipc-ns', 'net-ns', 'mnt-ns', 'pid-ns', 'user-ns', 'cgroup-ns', 'time-ns', 'pipe', 'fifo', 'unix-socket', 'tcp', 'udp',
			'tty', 'sysv-shm', 'sysv-sem', 'sysv-msg', 'shared-memory', 'file-lock', 'shared-task', 'parent', 'session', 'process-group',
			'tracer', 'memfd', 'deleted-file', 'volatile-file',
		]);
		const values = Object.values(pb.LeakKind).filter((v): v is pb.LeakKind => typeof v === 'number' && v !== K.LEAK_KIND_UNSPECIFIED);
		assert.equal(values.length, LEAK_KINDS.length);
		for (const v of values) {
			const name = kindName(v);
			assert.notEqual(name, 'unknown', `${pb.LeakKind[v]} has a name`);
			assert.equal(name, pb.LeakKind[v].replace('LEAK_KIND_', '').toLowerCase().replace(/_/g, '-'));
			assert.equal(kindFromName(name), v);
			assert.ok(kindTitle(v).length > 0);
		}
		assert.equal(kindName(K.LEAK_KIND_UTS_NS), 'uts-ns');
		assert.equal(kindName(K.LEAK_KIND_VOLATILE_FILE), 'volatile-file');
	});

	test('every policy but UNSPECIFIED has a name, and back', () => {
		assert.deepEqual(LEAK_POLICIES, ['fail', 'warn', 'ignore', 'external', 'save']);
		const values = Object.values(pb.LeakPolicy).filter((v): v is pb.LeakPolicy => typeof v === 'number' && v !== P.LEAK_POLICY_UNSPECIFIED);
		assert.equal(values.length, LEAK_POLICIES.length);
		for (const v of values) assert.equal(policyFromName(policyName(v)), v);
	});

	test('UNSPECIFIED, a missing value and a value from a newer helper are "unknown"', () => {
		assert.equal(kindName(K.LEAK_KIND_UNSPECIFIED), 'unknown');
		assert.equal(kindName(undefined), 'unknown');
		assert.equal(kindName(null), 'unknown');
		assert.equal(kindName(99), 'unknown');
		assert.equal(policyName(P.LEAK_POLICY_UNSPECIFIED), 'unknown');
		assert.equal(policyName(42), 'unknown');
		assert.equal(kindTitle(99), 'unknown kind 99');
	});

	test('the name types are derived from the enums', () => {
		const kinds: LeakKindName[] = ['uts-ns', 'unix-socket', 'volatile-file'];
		const policies: LeakPolicyName[] = ['fail', 'save'];
		// @ts-expect-error not a kind
		const notKind: LeakKindName = 'unspecified';
		// @ts-expect-error not a policy
		const notPolicy: LeakPolicyName = 'unspecified';
		assert.ok(kinds.length && policies.length && notKind && notPolicy);
	});

	test('names are read without regard to case, "_" or surrounding blanks', () => {
		assert.equal(kindFromName(' UTS_NS '), K.LEAK_KIND_UTS_NS);
		assert.equal(kindFromName('Unix-Socket'), K.LEAK_KIND_UNIX_SOCKET);
		assert.equal(policyFromName('WARN'), P.LEAK_POLICY_WARN);
	});

	test('an unknown name throws, as usage by default or as the kind asked for, listing the valid names', () => {
		assert.throws(() => kindFromName('pip'), fails('usage', /"pip" is not a leak kind/, /uts-ns, ipc-ns, .*volatile-file$/));
		assert.throws(() => kindFromName('unspecified', 'bad-request'), fails('bad-request', /not a leak kind/));
		assert.throws(() => kindFromName(''), fails('usage', /no leak kind is given; the kinds are uts-ns/));
		assert.throws(() => policyFromName('wrn'), fails('usage', /"wrn" is not a leak policy; the policies are fail, warn, ignore, external, save$/));
		assert.throws(() => policyFromName('unspecified', 'bad-request', 'here: '), fails('bad-request', /^here: "unspecified" is not/));
	});
});

describe('parsePolicy', () => {
	test('kind rules and resource rules, in order', () => {
		assert.deepEqual(parsePolicy('pipe=warn'), [rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN)]);
		assert.deepEqual(parsePolicy('tcp=save,file-lock=save,tty=external,uts-ns=fail,udp=ignore'), [
			rule(K.LEAK_KIND_TCP, P.LEAK_POLICY_SAVE), rule(K.LEAK_KIND_FILE_LOCK, P.LEAK_POLICY_SAVE),
			rule(K.LEAK_KIND_TTY, P.LEAK_POLICY_EXTERNAL), rule(K.LEAK_KIND_UTS_NS, P.LEAK_POLICY_FAIL), rule(K.LEAK_KIND_UDP, P.LEAK_POLICY_IGNORE),
		]);
	});

	test('a resource may hold ":", "[", "]", "=" and blanks: the kind ends at the first ":", the policy starts after the last "="', () => {
		assert.deepEqual(parsePolicy('pipe:pipe:[1234]=external'), [rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_EXTERNAL, 'pipe:[1234]')]);
		assert.deepEqual(parsePolicy('volatile-file:/srv/a=b.db (8:1 inode 1234)=ignore'),
			[rule(K.LEAK_KIND_VOLATILE_FILE, P.LEAK_POLICY_IGNORE, '/srv/a=b.db (8:1 inode 1234)')]);
		assert.deepEqual(parsePolicy('uts-ns:uts:[4026531838]=warn,pipe=warn'),
			[rule(K.LEAK_KIND_UTS_NS, P.LEAK_POLICY_WARN, 'uts:[4026531838]'), rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN)]);
	});

	test('blanks around entries, kinds, resources and policies do not matter; "\\," is a comma in a resource', () => {
		assert.deepEqual(parsePolicy(' pipe = warn , tty : /dev/pts/3 = external '),
			[rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN), rule(K.LEAK_KIND_TTY, P.LEAK_POLICY_EXTERNAL, '/dev/pts/3')]);
		assert.deepEqual(parsePolicy('deleted-file:/tmp/a\\,b (deleted)=ignore,memfd=warn'),
			[rule(K.LEAK_KIND_DELETED_FILE, P.LEAK_POLICY_IGNORE, '/tmp/a,b (deleted)'), rule(K.LEAK_KIND_MEMFD, P.LEAK_POLICY_WARN)]);
		assert.deepEqual(parsePolicy('deleted-file:c:\\\\d=ignore'), [rule(K.LEAK_KIND_DELETED_FILE, P.LEAK_POLICY_IGNORE, 'c:\\d')]);
	});

	test('an unknown kind says which entry and lists the kinds', () => {
		assert.throws(() => parsePolicy('pipe=warn,pip=warn'), fails('usage', /entry 2 "pip=warn"/, /"pip" is not a leak kind; the kinds are uts-ns/));
		assert.throws(() => parsePolicy('pip:pipe:[1]=warn'), fails('usage', /^--policy entry "pip:pipe:\[1\]=warn": "pip" is not a leak kind/));
	});

	test('an unknown policy says which entry and lists the policies', () => {
		assert.throws(() => parsePolicy('pipe=wrn'), fails('usage', /"pipe=wrn"/, /"wrn" is not a leak policy; the policies are fail, warn, ignore, external, save/));
		assert.throws(() => parsePolicy('pipe='), fails('usage', /no policy is given/));
	});

	test('an entry without "=" says how to write one', () => {
		assert.throws(() => parsePolicy('pipe'), fails('usage', /"pipe": no "=POLICY"; write KIND=POLICY or KIND:RESOURCE=POLICY, e\.g\. pipe=warn/));
		assert.throws(() => parsePolicy('tcp=save,tty'), fails('usage', /entry 2 "tty": no "=POLICY"/));
	});

	test('empty text, an empty entry, a missing kind or an empty resource are refused', () => {
		assert.throws(() => parsePolicy(''), fails('usage', /--policy is empty/));
		assert.throws(() => parsePolicy('   '), fails('usage', /--policy is empty/));
		assert.throws(() => parsePolicy('pipe=warn,,tty=external'), fails('usage', /entry 2 is empty/));
		assert.throws(() => parsePolicy('pipe=warn,'), fails('usage', /entry 2 is empty/));
		assert.throws(() => parsePolicy('=warn'), fails('usage', /no leak kind is given/));
		assert.throws(() => parsePolicy('pipe:=warn'), fails('usage', /"pipe:" names no resource: write pipe=POLICY for every pipe leak, or pipe:RESOURCE=POLICY/));
	});

	test('a resource the helper would refuse is refused here: too long, or with control characters', () => {
		assert.throws(() => parsePolicy(`pipe:${'x'.repeat(513)}=warn`), fails('usage', /longer than 512 bytes/));
		assert.throws(() => parsePolicy('pipe:a\tb=warn'), fails('usage', /control characters/));
	});

	test('formatPolicy writes rules back as parsePolicy reads them', () => {
		const rules = [
			rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN), rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_EXTERNAL, 'pipe:[1234]'),
			rule(K.LEAK_KIND_DELETED_FILE, P.LEAK_POLICY_IGNORE, '/tmp/a,b\\c=d (deleted)'),
		];
		const text = formatPolicy(rules);
		assert.equal(text, 'pipe=warn,pipe:pipe:[1234]=external,deleted-file:/tmp/a\\,b\\\\c=d (deleted)=ignore');
		assert.deepEqual(parsePolicy(text), rules);
		assert.equal(formatPolicy([]), '');
	});
});

describe('rulesFromSettings', () => {
	const where = 'the setting checkpoint.leakPolicy';

	test('keys are kinds or "kind:resource", values policy names', () => {
		assert.deepEqual(rulesFromSettings({ pipe: 'warn', 'pipe:pipe:[1234]': 'external', TCP: 'save' }, where), [
			rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN), rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_EXTERNAL, 'pipe:[1234]'), rule(K.LEAK_KIND_TCP, P.LEAK_POLICY_SAVE),
		]);
	});

	test('absent or empty: no rules', () => {
		assert.deepEqual(rulesFromSettings(undefined, where), []);
		assert.deepEqual(rulesFromSettings(null, where), []);
		assert.deepEqual(rulesFromSettings({}, where), []);
	});

	test('not an object: a bad-request naming where and what it is', () => {
		assert.throws(() => rulesFromSettings(['pipe=warn'], where), fails('bad-request', /^the setting checkpoint\.leakPolicy must be an object/, /it is an array$/));
		assert.throws(() => rulesFromSettings('pipe=warn', 'leakPolicy in launch configuration "run"'),
			fails('bad-request', /^leakPolicy in launch configuration "run" must be an object/, /it is string "pipe=warn"$/));
		assert.throws(() => rulesFromSettings(3, where), fails('bad-request', /it is number 3$/));
	});

	test('a bad key or value names where, the key and what is wrong', () => {
		assert.throws(() => rulesFromSettings({ pip: 'warn' }, where), fails('bad-request', /^the setting checkpoint\.leakPolicy, "pip": "pip" is not a leak kind; the kinds are/));
		assert.throws(() => rulesFromSettings({ pipe: 'wrn' }, where), fails('bad-request', /"pipe": "wrn" is not a leak policy; the policies are fail/));
		assert.throws(() => rulesFromSettings({ pipe: true }, where), fails('bad-request', /"pipe": the policy must be a string, one of fail, warn, ignore, external, save; it is true/));
		assert.throws(() => rulesFromSettings({ 'pipe:': 'warn' }, where), fails('bad-request', /names no resource/));
		assert.throws(() => rulesFromSettings({ tty: null }, where), fails('bad-request', /it is null/));
	});
});

describe('mergeRules', () => {
	test('a later list replaces a rule of the same kind, or kind and resource; other reaches stay', () => {
		const setting = [rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN), rule(K.LEAK_KIND_TTY, P.LEAK_POLICY_EXTERNAL), rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_IGNORE, 'pipe:[1]')];
		const launch = [rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_FAIL), rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_EXTERNAL, 'pipe:[2]')];
		assert.deepEqual(mergeRules(setting, launch), [
			rule(K.LEAK_KIND_TTY, P.LEAK_POLICY_EXTERNAL), rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_IGNORE, 'pipe:[1]'),
			rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_FAIL), rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_EXTERNAL, 'pipe:[2]'),
		]);
	});

	test('within one list the last rule of a reach wins, as in the helper; absent lists are none', () => {
		assert.deepEqual(mergeRules([rule(K.LEAK_KIND_TCP, P.LEAK_POLICY_SAVE), rule(K.LEAK_KIND_TCP, P.LEAK_POLICY_WARN)], undefined), [rule(K.LEAK_KIND_TCP, P.LEAK_POLICY_WARN)]);
		assert.deepEqual(mergeRules(), []);
		assert.deepEqual(mergeRules([], undefined, []), []);
	});

	test('rules without a resource (null, absent) are kind rules', () => {
		assert.deepEqual(mergeRules([{ kind: K.LEAK_KIND_PIPE, policy: P.LEAK_POLICY_WARN }], [{ kind: K.LEAK_KIND_PIPE, resource: null, policy: P.LEAK_POLICY_IGNORE }]),
			[rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_IGNORE)]);
	});
});

describe('leakJson', () => {
	test('names for enums, holders with their fd, every field', () => {
		assert.deepEqual(leakJson(pipeLeak(P.LEAK_POLICY_WARN)), {
			kind: 'pipe',
			resource: 'pipe:[1234]',
			summary: 'a pipe the tree writes into and cat (pid 88) outside reads from',
			inside: [{ pid: 101, comm: 'workload', how: 'fd 1 (write end)', fd: 1 }],
			outside: [{ pid: 88, comm: 'cat', how: 'fd 0 (read end)', fd: 0 }, { pid: 89, comm: 'tee', how: 'fd 0 (read end)', fd: 0 }],
			outsideCount: 5,
			risk: 'a restore makes a new pipe that nobody outside holds: what the tree writes after the restore goes nowhere, and the reader sees end of file',
			criu: 'dumps it silently, with the bytes in the pipe\'s buffer',
			policy: 'warn',
			defaultPolicy: 'fail',
			choices: [
				{ policy: 'fail', criuOption: '', effect: 'refuse the checkpoint' },
				{ policy: 'warn', criuOption: '', effect: 'checkpoint it as CRIU does: a restore makes a new pipe; flagged' },
				{ policy: 'ignore', criuOption: '', effect: 'the same, not flagged' },
				{ policy: 'external', criuOption: '--inherit-fd at restore', effect: 'the restored tree gets the same pipe, reopened through a live outside holder' },
			],
			hostOwn: false,
			policyNote: '',
		});
	});

	test('holders without a descriptor have no fd; an empty leak has defaults; the JSON survives a decoded message', () => {
		const json = leakJson(utsLeak());
		assert.deepEqual(json.inside, [{ pid: 101, comm: 'workload', how: 'member' }]);
		assert.equal(json.hostOwn, true);
		assert.equal(json.outsideCount, 212);
		assert.deepEqual(leakJson({}), {
			kind: 'unknown', resource: '', summary: '', inside: [], outside: [], outsideCount: 0, risk: '', criu: '',
			policy: 'unknown', defaultPolicy: 'unknown', choices: [], hostOwn: false, policyNote: '',
		});
		const decoded = pb.Leak.decode(pb.Leak.encode(pipeLeak()).finish());
		assert.deepEqual(leakJson(decoded), leakJson(pipeLeak()));
		assert.deepEqual(JSON.parse(JSON.stringify(leakJson(decoded))), leakJson(pipeLeak()));
	});
});

describe('severity, suggestions', () => {
	test('fail is an error, warn a warning, the others info', () => {
		assert.equal(severity(pipeLeak(P.LEAK_POLICY_FAIL)), 'error');
		assert.equal(severity(pipeLeak(P.LEAK_POLICY_WARN)), 'warning');
		assert.equal(severity(pipeLeak(P.LEAK_POLICY_IGNORE)), 'info');
		assert.equal(severity(pipeLeak(P.LEAK_POLICY_EXTERNAL)), 'info');
		assert.equal(severity({ policy: P.LEAK_POLICY_SAVE }), 'info');
	});

	test('suggestedRules: per kind, warn before external before save; leaksWithoutChoice: only fail', () => {
		const otherPipe = pb.Leak.create({ ...pipeLeak(), resource: 'pipe:[99]' });
		assert.deepEqual(suggestedRules([pipeLeak(), otherPipe, ttyLeak(), tracerLeak()]),
			[rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN), rule(K.LEAK_KIND_TTY, P.LEAK_POLICY_EXTERNAL)]);
		// Two pipes of one kind that take different choices: one rule each.
		const onlyExternal = pb.Leak.create({ ...otherPipe, choices: otherPipe.choices.filter((c) => c.policy !== P.LEAK_POLICY_WARN) });
		assert.deepEqual(suggestedRules([pipeLeak(), onlyExternal]),
			[rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN, 'pipe:[1234]'), rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_EXTERNAL, 'pipe:[99]')]);
		assert.deepEqual(leaksWithoutChoice([pipeLeak(), tracerLeak()]).map((l) => l.kind), [K.LEAK_KIND_TRACER]);
	});
});

describe('leak reports', () => {
	const appeared = pb.LeakChange.create({
		what: pb.LeakChange.What.WHAT_APPEARED, leak: pipeLeak(P.LEAK_POLICY_WARN), detail: 'pid 88 (cat) opened it during the checkpoint',
	});
	const report = (changes: pb.LeakChange[] = [], rescanned = true): pb.LeakReport => pb.LeakReport.create({
		policy: [pb.LeakRule.create(rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_WARN))],
		leaks: [utsLeak(), pipeLeak(P.LEAK_POLICY_WARN), pb.Leak.create({ ...utsLeak(), kind: K.LEAK_KIND_IPC_NS, resource: 'ipc:[4026531839]' })],
		rescanned, changes, stats: pb.LeakScanStats.create({ processes: 200, treeProcesses: 2, descriptors: 900, scanTimeUs: 4000 }),
	});

	test('checkpointInconsistent: the report has changes', () => {
		assert.equal(checkpointInconsistent(pb.Checkpoint.create({ leaks: report([appeared]) })), true);
		assert.equal(checkpointInconsistent(pb.Checkpoint.create({ leaks: report() })), false);
		assert.equal(checkpointInconsistent(pb.Checkpoint.create()), false);
	});

	test('changeText: the leak, what happened and the detail', () => {
		assert.equal(changeText(appeared), 'pipe pipe:[1234] appeared during the dump: pid 88 (cat) opened it during the checkpoint');
		assert.equal(changeText({ what: pb.LeakChange.What.WHAT_VANISHED, leak: ttyLeak() }), 'tty /dev/pts/3 vanished during the dump');
		assert.equal(changeText({ what: pb.LeakChange.What.WHAT_HOLDERS_CHANGED, leak: pipeLeak(), detail: 'd' }), 'pipe pipe:[1234] changed holders during the dump: d');
		assert.equal(changeText({}), 'a leak changed during the dump');
	});

	test('leakReportSummary: counts by policy, then consistent, inconsistent or not rescanned', () => {
		assert.equal(leakReportSummary(report()), '3 leaks: 1 warned, 2 ignored; consistent');
		assert.equal(leakReportSummary(report([appeared, appeared])), '3 leaks: 1 warned, 2 ignored; inconsistent: 2 changes during the dump');
		assert.equal(leakReportSummary(pb.LeakReport.create({ rescanned: true })), 'no leaks; consistent');
		assert.equal(leakReportSummary(pb.LeakReport.create({ leaks: [pipeLeak(P.LEAK_POLICY_EXTERNAL)], rescanProblem: 'CRIU gave no post-dump notification' })),
			'1 leak: 1 external; not rescanned at post-dump (CRIU gave no post-dump notification): consistency unknown');
		assert.match(leakReportSummary(undefined), /^leaks not scanned/);
	});

	test('leakReportBrief and warnedLeaks', () => {
		assert.equal(leakReportBrief(report()), '1 warned, 2 ignored');
		assert.equal(leakReportBrief(report([appeared])), '1 warned, 2 ignored, inconsistent');
		assert.equal(leakReportBrief(pb.LeakReport.create()), 'none');
		assert.equal(leakReportBrief(null), '-');
		assert.deepEqual(warnedLeaks(report()).map((l) => l.resource), ['pipe:[1234]']);
		assert.deepEqual(warnedLeaks(undefined), []);
	});

	test('leakReportJson: names, the policy as --policy takes it, consistency', () => {
		const json = leakReportJson(report([appeared]));
		assert.equal(json.policy, 'pipe=warn');
		assert.deepEqual(json.leaks.map((l) => [l.kind, l.policy]), [['uts-ns', 'ignore'], ['pipe', 'warn'], ['ipc-ns', 'ignore']]);
		assert.equal(json.consistent, false);
		assert.equal(json.rescanned, true);
		assert.deepEqual(json.changes.map((c) => [c.what, c.leak?.resource, c.detail]), [['appeared', 'pipe:[1234]', 'pid 88 (cat) opened it during the checkpoint']]);
		assert.deepEqual(json.stats, { processes: 200, treeProcesses: 2, descriptors: 900, scanTimeUs: 4000 });
		assert.equal(json.summary, leakReportSummary(report([appeared])));
	});
});
