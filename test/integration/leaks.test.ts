/**
 * Leaks on the real target (docs/leaks.md): for each kind a tree shares on
 * purpose with a process outside it (test/workloads/leaky.c), the helper's
 * scan names it with the right holders; a dump under the default policy
 * refuses it (nothing frozen, nothing written) or flags it; the other
 * policies hand CRIU the options they stand for, and the checkpoint
 * restores into a program that works, reconnected where the policy says so.
 * Where CRIU itself cannot go on, its own message comes back.
 * Last, the second scan at post-dump: an outside process that takes a hold
 * while CRIU has the tree seized makes the checkpoint inconsistent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CheckpointError } from '../../src/core/errors';
import { pb } from '../../src/core/protocol';
import { HelperSession } from '../../src/core/session';
import { escapeRegExp, NEWER_CRIU, newerCriuTarget, sshTarget, TargetShell, testPort } from './harness';
import { inetSocketsDumpable } from './richCheckpoint';

const LEAKY = '/opt/checkpoint-debugger-tests/leaky';
const K = pb.LeakKind;
const P = pb.LeakPolicy;
const WHAT = pb.LeakChange.What;

let shell: TargetShell;
let session: HelperSession;
let tcp: { ok: boolean; why: string };
/** Checkpoints the tests made (removed in after). */
const checkpoints: string[] = [];
/** Roots of trees a restore re-parented to the helper: start() does not know them. */
const roots: number[] = [];
/** SysV shm segments the shm workload created. */
const shmIds: number[] = [];
/** The state directories of what the tests started. */
const dirs: string[] = [];

before(async () => {
	shell = await TargetShell.open();
	await shell.buildProgram('leaky');
	tcp = await inetSocketsDumpable(shell);
	session = await HelperSession.open(sshTarget());
});

after(async () => {
	await shell.killStarted();
	for (const pid of roots) await shell.killTree(pid);
	for (const id of shmIds) await shell.run(`ipcrm -m ${id} 2>/dev/null`);
	if (dirs.length) await shell.run(`rm -rf ${dirs.join(' ')}`);
	for (const id of checkpoints) await session.remove(id).catch(() => undefined);
	await session.close();
	shell.close();
});

// ---- the trees ----------------------------------------------------------------

interface Leaky {
	mode: string;
	/** The process the test started: it stays outside the tree (P in leaky.c). */
	outside: number;
	/** The tree's root (R): P's child, leading its own session. */
	root: number;
	dir: string;
}

/** Starts a program outside every tree the tests dump (TargetShell.start), remembering its directory. */
async function start(args: string[]): Promise<{ pid: number; dir: string }> {
	const started = await shell.start(args);
	dirs.push(started.dir);
	return started;
}

/** Starts `leaky MODE DIR ARGS...` and waits until its root counts (and P publishes, when it does). */
async function startLeaky(mode: string, args: string[] = [], outsideRecord = true): Promise<Leaky> {
	const { pid, dir } = await start([LEAKY, mode, '{dir}', ...args]);
	try {
		const root = (await shell.waitForRecord(dir, 'state', (r) => r[1] >= 3))[0];
		roots.push(root);
		if (outsideRecord) await shell.waitForRecord(dir, 'outside', (r) => r[0] === pid && r[1] >= 1);
		return { mode, outside: pid, root, dir };
	} catch (err) {
		const alive = await shell.isAlive(pid);
		throw new Error(`leaky ${mode} (pid ${pid}, ${alive ? 'still running' : 'exited'}; run "${LEAKY} ${mode} DIR ${args.join(' ')}" ` +
			`on the target to see why) did not come up in ${dir}: ${(err as Error).message}`);
	}
}

/** The record DIR/NAME without its pid. */
const counters = (t: Leaky, name: string): Promise<number[]> => shell.counters(t.dir, [name]);
const waitFor = (t: Leaky, name: string, accept: (c: number[]) => boolean, what: string, timeoutMs?: number): Promise<number[]> =>
	shell.waitForCounters(t.dir, [name], accept, `leaky ${t.mode}: ${what}`, timeoutMs);

/** Waits until the root's count moves past where it is now. */
async function stillCounts(t: Leaky, what = 'the tree does not run'): Promise<number[]> {
	const now = await counters(t, 'state');
	return waitFor(t, 'state', (c) => c[0] > now[0] + 2, what);
}

/** "fd link" of each descriptor of pid, as the target sees them. */
async function fdLinks(pid: number): Promise<Map<number, string>> {
	const out = await shell.ok(`cd /proc/${pid}/fd && for f in *; do echo "$f $(readlink $f)"; done`);
	return new Map(out.trim().split('\n').map((l) => {
		const i = l.indexOf(' ');
		return [Number(l.slice(0, i)), l.slice(i + 1)] as [number, string];
	}));
}

/** The descriptor of pid whose link matches. */
async function fdOf(pid: number, link: RegExp): Promise<{ fd: number; link: string }> {
	for (const [fd, l] of await fdLinks(pid)) if (link.test(l)) return { fd, link: l };
	assert.fail(`process ${pid} holds no descriptor like ${link}: ${[...(await fdLinks(pid))].map(([fd, l]) => `${fd} ${l}`).join(', ')}`);
}

// ---- what the helper says -------------------------------------------------------

/** LEAK_KIND_UTS_NS -> "uts-ns", as manifest.json and the command line write it. */
const dashed = (name: string, prefix: string): string => name.slice(prefix.length).toLowerCase().replace(/_/g, '-');
const kindName = (k: number | null | undefined): string => pb.LeakKind[k ?? 0] ?? String(k);
const policyOf = (p: number | null | undefined): string => pb.LeakPolicy[p ?? 0] ?? String(p);

function describeLeaks(leaks: readonly pb.ILeak[]): string {
	return leaks.map((l) => `${kindName(l.kind)} ${l.resource} [${policyOf(l.policy)}] in ${(l.inside ?? []).map((h) => h.pid).join(',')} ` +
		`out ${(l.outside ?? []).map((h) => h.pid).join(',')}`).join('; ') || '(none)';
}

/** The one leak of kind that `match` accepts (default: any). */
function theLeak(leaks: readonly pb.ILeak[], kind: pb.LeakKind, match: (l: pb.ILeak) => boolean = () => true): pb.ILeak {
	const found = leaks.filter((l) => l.kind === kind && match(l));
	assert.equal(found.length, 1, `exactly one ${kindName(kind)} leak like that; the leaks: ${describeLeaks(leaks)}`);
	return found[0];
}

/** The distinct pids of holders (a process may hold a resource through several descriptors), sorted. */
const pids = (holders: readonly pb.ILeakHolder[] | null | undefined): number[] => [...new Set((holders ?? []).map((h) => h.pid ?? 0))].sort((a, b) => a - b);

/** Scans the tree and checks the leak of kind: its holders inside and outside (pids), its default and its choices. */
async function detect(t: Leaky, kind: pb.LeakKind, want: {
	inside: number[];
	outside: number[];
	resource?: RegExp | string;
	defaultPolicy: pb.LeakPolicy;
	choices?: pb.LeakPolicy[];
	match?: (l: pb.ILeak) => boolean;
}): Promise<pb.ILeak> {
	const result = await session.leaks(t.root);
	assert.ok(result.stats, 'the scan reports its statistics');
	assert.ok((result.stats.treeProcesses ?? 0) >= 1 && (result.stats.processes ?? 0) > (result.stats.treeProcesses ?? 0), `scan stats ${JSON.stringify(result.stats)}`);
	const leak = theLeak(result.leaks, kind, want.match);
	const what = `${kindName(kind)} ${leak.resource}`;
	if (typeof want.resource === 'string') assert.equal(leak.resource, want.resource, `${what}: the resource`);
	else if (want.resource) assert.match(leak.resource ?? '', want.resource, `${what}: the resource`);
	assert.deepEqual(pids(leak.inside), [...want.inside].sort((a, b) => a - b), `${what}: held inside by ${JSON.stringify(leak.inside)}`);
	assert.deepEqual(pids(leak.outside), [...want.outside].sort((a, b) => a - b), `${what}: held outside by ${JSON.stringify(leak.outside)}`);
	assert.ok((leak.outsideCount ?? 0) >= want.outside.length && (leak.outsideCount ?? 0) >= (leak.outside ?? []).length, `${what}: outside_count ${leak.outsideCount}`);
	assert.equal(leak.defaultPolicy, want.defaultPolicy, `${what}: default ${policyOf(leak.defaultPolicy)}`);
	assert.equal(leak.policy, want.defaultPolicy, `${what}: without rules the default applies`);
	const choices = (leak.choices ?? []).map((c) => c.policy ?? 0).sort();
	assert.ok(choices.includes(want.defaultPolicy), `${what}: the default is among the choices ${choices.map(policyOf).join(', ')}`);
	if (want.choices) assert.deepEqual(choices, [...new Set([want.defaultPolicy, ...want.choices])].sort(), `${what}: the choices`);
	assert.ok(leak.summary, `${what}: a summary`);
	assert.ok(leak.criu, `${what}: what CRIU does with it`);
	return leak;
}

/**
 * A dump (leave_running) that the policy refuses: a leaks-refused error
 * naming the leak with its choices, nothing new in the store, and the tree
 * runs on (it was never frozen).
 */
async function expectRefused(t: Leaky, kind: pb.LeakKind, policy: pb.ILeakRule[] = [], match: (l: pb.ILeak) => boolean = () => true): Promise<CheckpointError> {
	const before = (await session.list()).map((c) => c.id).sort();
	const stages: string[] = [];
	let err: unknown;
	try {
		const ck = await session.dump(t.root, { leaveRunning: true, name: `leaky ${t.mode} refused`, policy, onProgress: (p) => stages.push(p.stage) });
		checkpoints.push(ck.id);
		assert.fail(`the dump of leaky ${t.mode} was not refused; its report: ${describeLeaks(ck.leaks?.leaks ?? [])}`);
	} catch (e) {
		err = e;
	}
	assert.ok(err instanceof CheckpointError, String(err));
	assert.equal(err.kind, 'leaks-refused', err.describe());
	const leak = theLeak(err.leaks, kind, match);
	assert.equal(leak.policy, P.LEAK_POLICY_FAIL);
	assert.ok(err.leaks.every((l) => l.policy === P.LEAK_POLICY_FAIL), `only fail leaks are sent back: ${describeLeaks(err.leaks)}`);
	assert.ok((leak.choices ?? []).length >= 1, 'the refused leak lists its choices');
	assert.match(err.message, new RegExp(`${escapeRegExp(leak.resource ?? '')}`), 'the message names the resource');
	assert.ok(!stages.includes('dumping'), `CRIU was never started: stages ${stages.join(', ')}`);
	assert.deepEqual((await session.list()).map((c) => c.id).sort(), before, 'a refused dump writes no checkpoint');
	await stillCounts(t, 'the tree does not run on after the refusal');
	return err;
}

/** A dump (leave_running) that succeeds; checks the report and the options, and remembers the checkpoint. */
async function dumpOk(t: Leaky, policy: pb.ILeakRule[], want: { kind: pb.LeakKind; policy: pb.LeakPolicy; options?: Partial<pb.IDumpOptions> }, s = session): Promise<pb.Checkpoint> {
	const stages: string[] = [];
	let ck: pb.Checkpoint;
	try {
		ck = await s.dump(t.root, { leaveRunning: true, name: `leaky ${t.mode}`, policy, onProgress: (p) => stages.push(p.stage) });
	} catch (err) {
		assert.fail(`the dump of leaky ${t.mode} with ${JSON.stringify(policy)} failed: ${err instanceof CheckpointError ? `[${err.kind}] ${err.describe()}` : String(err)}`);
	}
	checkpoints.push(ck.id);
	const report = ck.leaks;
	assert.ok(report, 'the manifest holds the leak report');
	assert.deepEqual((report.policy ?? []).map((r) => [r.kind, r.resource ?? '', r.policy]), policy.map((r) => [r.kind, r.resource ?? '', r.policy]), 'the report keeps the rules');
	const leak = theLeak(report.leaks ?? [], want.kind);
	assert.equal(leak.policy, want.policy, `the report lists ${kindName(want.kind)} ${leak.resource} with policy ${policyOf(want.policy)}`);
	assert.ok(report.rescanned, `the tree was scanned again at post-dump (${report.rescanProblem}); stages ${stages.join(', ')}`);
	assert.deepEqual(report.changes ?? [], [], 'nothing changed during the dump');
	const options = { tcpEstablished: false, extUnixSk: false, shellJob: false, fileLocks: false, ...want.options };
	for (const [name, value] of Object.entries(options)) {
		assert.equal((ck.options as Record<string, unknown> | null | undefined)?.[name] ?? false, value, `the manifest's options.${name}`);
	}
	const listed = (await s.list()).find((c) => c.id === ck.id);
	assert.ok(listed?.leaks, 'the listed manifest holds the report too');
	// manifest.json, for people: the same leak by its names
	const json = JSON.parse(await shell.ok(`cat ${ck.path}/manifest.json`)) as { leaks?: { leaks?: Array<{ kind: string; resource: string; policy: string }> } };
	const named = (json.leaks?.leaks ?? []).find((l) => l.kind === dashed(pb.LeakKind[want.kind], 'LEAK_KIND_') && l.resource === leak.resource);
	assert.equal(named?.policy, dashed(pb.LeakPolicy[want.policy], 'LEAK_POLICY_'), `manifest.json lists ${leak.resource} with its policy`);
	return ck;
}

/**
 * Lets the tree run well past the checkpoint, restores it over the running
 * tree (kill_running), and checks that it went back and counts on.
 */
async function restoreWorks(t: Leaky, ck: pb.Checkpoint, s = session): Promise<void> {
	const late = await counters(t, 'state');
	const past = await waitFor(t, 'state', (c) => c[0] >= late[0] + 40, 'the tree did not run on after the checkpoint');
	let restored: pb.RestoreResult;
	try {
		restored = await s.restore(ck.id, { killRunning: true });
	} catch (err) {
		assert.fail(`the restore of leaky ${t.mode} failed: ${err instanceof CheckpointError ? `[${err.kind}] ${err.describe()}` : String(err)}`);
	}
	assert.equal(restored.rootPid, t.root, 'CRIU restores the root at its pid');
	assert.ok(restored.killedPids.includes(t.root), 'the running tree was killed first');
	const back = await waitFor(t, 'state', (c) => c[0] < past[0], 'the restored tree did not go back to the checkpoint');
	await waitFor(t, 'state', (c) => c[0] > back[0] + 5, 'the restored tree does not count on');
	assert.ok(await shell.isAlive(t.root));
}

/** A dump that CRIU fails (not the policy): its message, and the tree runs on. */
async function expectCriuFails(t: Leaky, policy: pb.ILeakRule[], message: RegExp): Promise<CheckpointError> {
	const before = (await session.list()).map((c) => c.id).sort();
	let err: unknown;
	try {
		checkpoints.push((await session.dump(t.root, { leaveRunning: true, name: `leaky ${t.mode}`, policy })).id);
		assert.fail(`CRIU dumped leaky ${t.mode} with ${JSON.stringify(policy)}`);
	} catch (e) {
		err = e;
	}
	assert.ok(err instanceof CheckpointError, String(err));
	assert.equal(err.kind, 'criu-failed', err.describe());
	assert.match(err.describe(), message, 'CRIU\'s own reason comes back');
	assert.ok(err.criu && err.criu.log.length > 0, 'the lines of CRIU\'s log that explain it come along');
	assert.ok(!err.criu.log.some((l) => /RLIMIT_NOFILE/.test(l)), 'noise CRIU logs on every run is left out');
	console.log(`leaky ${t.mode} with ${policy.map((r) => `${dashed(pb.LeakKind[r.kind ?? 0], 'LEAK_KIND_')}=${dashed(pb.LeakPolicy[r.policy ?? 0], 'LEAK_POLICY_')}`).join(',')}: ${err.message}`);
	assert.deepEqual((await session.list()).map((c) => c.id).sort(), before, 'a failed dump leaves no checkpoint');
	await stillCounts(t, 'the tree does not run on after CRIU failed');
	return err;
}

const rule = (kind: pb.LeakKind, policy: pb.LeakPolicy, resource = ''): pb.ILeakRule => ({ kind, policy, resource });

// ---- the matrix -------------------------------------------------------------------

describe('a pipe to an outside reader', () => {
	let t: Leaky;
	let resource = '';

	test('is found: the root holds the write end, the reader outside the read end', async () => {
		t = await startLeaky('pipe');
		const end = await fdOf(t.root, /^pipe:/);
		resource = end.link;
		const leak = await detect(t, K.LEAK_KIND_PIPE, {
			inside: [t.root], outside: [t.outside], resource, defaultPolicy: P.LEAK_POLICY_FAIL,
			choices: [P.LEAK_POLICY_WARN, P.LEAK_POLICY_IGNORE, P.LEAK_POLICY_EXTERNAL],
		});
		const inside = leak.inside![0];
		assert.ok(inside.hasFd && inside.fd === end.fd && inside.writable && !inside.readable, `the inside holder: ${JSON.stringify(inside)}`);
		const outside = leak.outside![0];
		assert.ok(outside.hasFd && outside.readable && !outside.writable, `the outside holder: ${JSON.stringify(outside)}`);
		// the root's parent is outside by definition (ignored by default); the root leads its own session and group
		const { leaks } = await session.leaks(t.root);
		const parent = theLeak(leaks, K.LEAK_KIND_PARENT);
		assert.deepEqual([pids(parent.outside), parent.policy], [[t.outside], P.LEAK_POLICY_IGNORE], `the parent leak: ${JSON.stringify(parent)}`);
		assert.deepEqual(leaks.filter((l) => l.kind === K.LEAK_KIND_SESSION || l.kind === K.LEAK_KIND_PROCESS_GROUP), []);
	});

	test('the default (fail) refuses the dump', async () => {
		await expectRefused(t, K.LEAK_KIND_PIPE);
	});

	test('external: dumped, and the restored root writes into the same pipe, which the reader keeps reading', async () => {
		const ck = await dumpOk(t, [rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_EXTERNAL)], { kind: K.LEAK_KIND_PIPE, policy: P.LEAK_POLICY_EXTERNAL });
		const received = await counters(t, 'outside');
		await restoreWorks(t, ck);
		const now = await counters(t, 'outside');
		await waitFor(t, 'outside', (c) => c[0] > now[0] + 5 && c[0] > received[0], 'the outside reader receives nothing from the restored root');
		assert.equal((await fdOf(t.root, /^pipe:/)).link, resource, 'the restored root holds the same pipe');
		const state = await counters(t, 'state');
		assert.equal(state[1], 0, 'the restored root\'s writes all succeed');
	});

	test('external, with the reader gone by the restore: refused in words, the running tree left as it was, the checkpoint kept', async () => {
		const ck = await dumpOk(t, [rule(K.LEAK_KIND_PIPE, P.LEAK_POLICY_EXTERNAL)], { kind: K.LEAK_KIND_PIPE, policy: P.LEAK_POLICY_EXTERNAL });
		await shell.ok(`kill -9 ${t.outside}`);
		await assert.rejects(session.restore(ck.id, { killRunning: true }), (err: unknown) => {
			assert.ok(err instanceof CheckpointError, String(err));
			assert.equal(err.kind, 'external-gone', err.describe());
			assert.match(err.message, new RegExp(`${escapeRegExp(resource)} was handed to CRIU as external, but none of the outside processes that held it \\(pid ${t.outside}\\) holds it any more`));
			return true;
		});
		assert.ok(await shell.isAlive(t.root), 'the running tree was not killed for a restore that could not be done');
		await stillCounts(t, 'the tree does not run on after the refused restore');
		assert.ok((await session.list()).some((c) => c.id === ck.id), 'the checkpoint stays in the store');
	});
});

describe('a FIFO also open outside', () => {
	let t: Leaky;

	test('is found with both holders; the default (warn) dumps and flags it, and the restore reopens the path', async () => {
		t = await startLeaky('fifo');
		const fifo = `${t.dir}/fifo`;
		await detect(t, K.LEAK_KIND_FIFO, {
			inside: [t.root], outside: [t.outside], defaultPolicy: P.LEAK_POLICY_WARN,
			choices: [P.LEAK_POLICY_FAIL, P.LEAK_POLICY_IGNORE], resource: new RegExp(escapeRegExp(fifo)),
		});
		const ck = await dumpOk(t, [], { kind: K.LEAK_KIND_FIFO, policy: P.LEAK_POLICY_WARN });
		await restoreWorks(t, ck);
		const now = await counters(t, 'outside');
		await waitFor(t, 'outside', (c) => c[0] > now[0] + 5, 'the outside reader receives nothing from the restored root');
	});

	test('fail refuses it; ignore dumps it unflagged', async () => {
		await expectRefused(t, K.LEAK_KIND_FIFO, [rule(K.LEAK_KIND_FIFO, P.LEAK_POLICY_FAIL)]);
		await dumpOk(t, [rule(K.LEAK_KIND_FIFO, P.LEAK_POLICY_IGNORE)], { kind: K.LEAK_KIND_FIFO, policy: P.LEAK_POLICY_IGNORE });
	});
});

for (const [mode, criuSays] of [['unix-stream', /half of stream unix connection/], ['unix-dgram', /name-less external socket/]] as const) {
	describe(`a ${mode} socketpair with the outside`, () => {
		let t: Leaky;

		test('is found: the root holds one end, the outside process the peer', async () => {
			t = await startLeaky(mode);
			const end = await fdOf(t.root, /^socket:/);
			await detect(t, K.LEAK_KIND_UNIX_SOCKET, { inside: [t.root], outside: [t.outside], resource: end.link, defaultPolicy: P.LEAK_POLICY_FAIL, choices: [P.LEAK_POLICY_EXTERNAL] });
		});

		test('the default (fail) refuses the dump', async () => {
			await expectRefused(t, K.LEAK_KIND_UNIX_SOCKET);
		});

		test('external asks CRIU for --ext-unix-sk, which still cannot dump this socket: CRIU says why', async () => {
			await expectCriuFails(t, [rule(K.LEAK_KIND_UNIX_SOCKET, P.LEAK_POLICY_EXTERNAL)], criuSays);
		});
	});
}

describe('a datagram socket connected to a named outside socket', () => {
	let t: Leaky;

	test('is found; the default (fail) refuses; external dumps with --ext-unix-sk and the restored root reconnects', async () => {
		t = await startLeaky('unix-named');
		const end = await fdOf(t.root, /^socket:/);
		await detect(t, K.LEAK_KIND_UNIX_SOCKET, { inside: [t.root], outside: [t.outside], resource: end.link, defaultPolicy: P.LEAK_POLICY_FAIL, choices: [P.LEAK_POLICY_EXTERNAL] });
		await expectRefused(t, K.LEAK_KIND_UNIX_SOCKET);
		const ck = await dumpOk(t, [rule(K.LEAK_KIND_UNIX_SOCKET, P.LEAK_POLICY_EXTERNAL)], { kind: K.LEAK_KIND_UNIX_SOCKET, policy: P.LEAK_POLICY_EXTERNAL, options: { extUnixSk: true } });
		await restoreWorks(t, ck);
		const now = await counters(t, 'outside');
		await waitFor(t, 'outside', (c) => c[0] > now[0] + 5, 'the outside socket receives nothing from the restored root');
	});
});

describe('an established TCP connection to an outside server', () => {
	let t: Leaky;

	test('is found with the local peer outside; the default (fail) refuses; save asks for --tcp-established', async () => {
		const port = testPort();
		t = await startLeaky('tcp', [String(port)]);
		const end = await fdOf(t.root, /^socket:/);
		await detect(t, K.LEAK_KIND_TCP, {
			inside: [t.root], outside: [t.outside], defaultPolicy: P.LEAK_POLICY_FAIL, choices: [P.LEAK_POLICY_SAVE],
			resource: new RegExp(`127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${port}$`),
			match: (l) => (l.inside ?? []).some((h) => h.pid === t.root && h.fd === end.fd),
		});
		await expectRefused(t, K.LEAK_KIND_TCP);
		const policy = [rule(K.LEAK_KIND_TCP, P.LEAK_POLICY_SAVE)];
		if (tcp.ok) {
			const ck = await dumpOk(t, policy, { kind: K.LEAK_KIND_TCP, policy: P.LEAK_POLICY_SAVE, options: { tcpEstablished: true } });
			await restoreWorks(t, ck);
		} else {
			// CRIU 4.1.1 on Linux >= 6.16 (criu#2705) cannot dump any AF_INET socket: said before anything is frozen
			const before = (await session.list()).map((c) => c.id).sort();
			const err = await session.dump(t.root, { leaveRunning: true, policy }).catch((e: unknown) => e);
			assert.ok(err instanceof CheckpointError, String(err));
			assert.equal(err.kind, 'criu-unavailable', err.message);
			assert.match(err.message, /^the tree has TCP or UDP sockets; nothing was frozen or written: CRIU 4\.1\.\d+ cannot dump TCP or UDP sockets on this kernel.*Use CRIU 4\.2 or newer/);
			assert.deepEqual((await session.list()).map((c) => c.id).sort(), before, 'nothing was written');
			await stillCounts(t, 'the tree does not run on after the refusal');
		}
	});
});

/* CRIU 4.1.1 cannot dump TCP sockets on this kernel (above): these run the target's newer CRIU. */
describe('a TCP connection saved, and restored over the running tree (CRIU 4.2)', () => {
	let newer: HelperSession;
	let t: Leaky;
	let ck: pb.Checkpoint;
	const policy = [rule(K.LEAK_KIND_TCP, P.LEAK_POLICY_SAVE)];
	/** P's record: [messages received, the last count received]; equal while every count came once, in order. */
	const outside = (): Promise<number[]> => counters(t, 'outside');

	before(async () => {
		newer = await HelperSession.open(newerCriuTarget());
		const hello = await newer.hello();
		assert.equal(hello.criuPath, NEWER_CRIU, `the helper runs the CRIU asked for (${hello.criuProblem})`);
		assert.match(hello.criuVersion, /^4\.([2-9]|\d\d)/, 'it is CRIU 4.2 or later');
		t = await startLeaky('tcp', [String(testPort())]);
	});

	after(async () => {
		await newer?.close();
	});

	test('paused while saved and restored: the connection carries on exactly, its peer none the wiser', async () => {
		await newer.freeze(t.root);
		const atPause = await outside();
		ck = await dumpOk(t, policy, { kind: K.LEAK_KIND_TCP, policy: P.LEAK_POLICY_SAVE, options: { tcpEstablished: true } }, newer);
		// CRIU's default network lock (iptables) locked the connection and let it go
		const log = await shell.ok(`cat ${ck.path}/dump.log`);
		assert.match(log, /Running iptables \[iptables -w -t filter -I INPUT --protocol tcp .*-j DROP\]/);
		assert.match(log, /net: Unlock network\n/);
		const restored = await newer.restore(ck.id, { killRunning: true });
		assert.equal(restored.rootPid, t.root, 'CRIU restores the root at its pid');
		assert.ok(restored.killedPids.includes(t.root), 'the frozen tree was killed first');
		const on = await waitFor(t, 'outside', (c) => c[0] > atPause[0] + 20, 'the outside server receives nothing from the restored root');
		assert.deepEqual([atPause[0], on[0]], [atPause[1], on[1]], 'each count reached the server once, in order: no gap, no repeat');
		const state = await counters(t, 'state');
		assert.equal(state[1], 0, 'the restored root never failed to send');
	});

	test('on a target without iptables, CRIU locks the connection with nftables, and the paused round trip is as exact', async () => {
		// iptables hidden for the helper (a bind mount in the target's own mount namespace: gone with it, whatever happens)
		await shell.ok('mount --bind /dev/null /usr/sbin/iptables');
		try {
			await newer.freeze(t.root);
			const atPause = await outside();
			const saved = await dumpOk(t, policy, { kind: K.LEAK_KIND_TCP, policy: P.LEAK_POLICY_SAVE, options: { tcpEstablished: true } }, newer);
			const log = await shell.ok(`cat ${saved.path}/dump.log`);
			assert.match(log, /Running nftables \[add element inet CRIU-\S+ conns4 \{ 127\.0\.0\.1 \. \d+ \. 127\.0\.0\.1 \. \d+ \}\]/, 'CRIU locked the connection with nftables');
			assert.doesNotMatch(log, /Running iptables/);
			await newer.restore(saved.id, { killRunning: true });
			const on = await waitFor(t, 'outside', (c) => c[0] > atPause[0] + 20, 'the outside server receives nothing from the restored root');
			assert.deepEqual([atPause[0], on[0]], [atPause[1], on[1]], 'each count reached the server once, in order');
		} finally {
			await shell.ok('umount /usr/sbin/iptables');
		}
	});

	test('after it carried data since the checkpoint, a restore is refused before anything is killed, naming the connection', async () => {
		const before = await outside();
		await waitFor(t, 'outside', (c) => c[0] > before[0] + 40, 'the connection does not carry data');
		let err: unknown;
		try {
			await newer.restore(ck.id, { killRunning: true });
			assert.fail('a restore of a connection that moved on went ahead');
		} catch (e) {
			err = e;
		}
		assert.ok(err instanceof CheckpointError, String(err));
		assert.equal(err.kind, 'connection-moved-on', err.describe());
		assert.match(err.message, /^The TCP connection 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ \(\d+ bytes received, [1-9]\d* written\) carried data since the checkpoint\. /);
		assert.match(err.message, /Nothing was killed/);
		const now = await outside();
		const later = await waitFor(t, 'outside', (c) => c[0] > now[0] + 10, 'the connection stopped after the refusal');
		assert.equal(later[0], later[1], 'the live connection was not disturbed: every count still arrives once, in order');
	});

	test('restored closed (tcpClose): the restored program finds its connection closed, and the server sees it end', async () => {
		const restored = await newer.restore(ck.id, { killRunning: true, tcpClose: true });
		assert.equal(restored.rootPid, t.root);
		const state = await waitFor(t, 'state', (c) => c[1] > 5, 'the restored root\'s sends do not fail');
		assert.ok(state[0] > 0);
		const ended = await outside();
		await sleep(300);
		assert.deepEqual(await outside(), ended, 'the server receives nothing more: the connection ended');
	});
});

describe('a listening TCP socket and a bound UDP socket (CRIU 4.2)', () => {
	let newer: HelperSession;

	before(async () => {
		newer = await HelperSession.open(newerCriuTarget());
	});

	after(async () => {
		await newer?.close();
	});

	test('is found; the default (warn) dumps it; the restored root listens on the address again and answers', async () => {
		const port = testPort();
		const t = await startLeaky('listen', [String(port)], false);
		await detect(t, K.LEAK_KIND_TCP, {
			inside: [t.root], outside: [], defaultPolicy: P.LEAK_POLICY_WARN, choices: [P.LEAK_POLICY_IGNORE, P.LEAK_POLICY_FAIL],
			resource: `tcp listen 127.0.0.1:${port}`,
		});
		const ck = await dumpOk(t, [], { kind: K.LEAK_KIND_TCP, policy: P.LEAK_POLICY_WARN }, newer);
		await restoreWorks(t, ck, newer);
		assert.match(await shell.ok(`ss -Htlnp 'sport = :${port}'`), new RegExp(`pid=${t.root},`), 'the restored root holds the listener');
		const answer = await shell.ok(`python3 -c 'import socket, struct; s = socket.create_connection(("127.0.0.1", ${port})); print(struct.unpack("<q", s.recv(8))[0])'`);
		assert.ok(Number(answer) > 0, `the restored root answers a new connection with its count: ${answer}`);
		await waitFor(t, 'state', (c) => c[1] >= 1, 'the restored root did not count the connection');
	});

	test('a bound UDP socket: found; the default (warn) dumps it; the restored root receives on the address again', async () => {
		const port = testPort();
		const t = await startLeaky('udp', [String(port)], false);
		await waitFor(t, 'state', (c) => c[1] > 0, 'the root receives nothing from the outside process');
		await detect(t, K.LEAK_KIND_UDP, {
			inside: [t.root], outside: [], defaultPolicy: P.LEAK_POLICY_WARN, choices: [P.LEAK_POLICY_IGNORE, P.LEAK_POLICY_FAIL],
			resource: `udp 127.0.0.1:${port}`,
		});
		const ck = await dumpOk(t, [], { kind: K.LEAK_KIND_UDP, policy: P.LEAK_POLICY_WARN }, newer);
		await restoreWorks(t, ck, newer);
		const [, last] = await counters(t, 'state');
		await waitFor(t, 'state', (c) => c[1] > last + 10, 'the restored root receives nothing on the address');
	});
});

describe('a process on a pty whose master is held outside', () => {
	let t: Leaky;

	test('is found: the terminal is the root\'s, the master outside', async () => {
		t = await startLeaky('pty');
		const slave = (await fdOf(t.root, /^\/dev\/pts\/\d+$/)).link;
		const leak = await detect(t, K.LEAK_KIND_TTY, {
			inside: [t.root], outside: [t.outside], defaultPolicy: P.LEAK_POLICY_FAIL, choices: [P.LEAK_POLICY_EXTERNAL],
			match: (l) => (l.resource ?? '').includes(slave) || (l.inside ?? []).some((h) => h.pid === t.root),
		});
		assert.match(leak.resource ?? '', new RegExp(slave), 'the resource names the terminal');
	});

	test('the default (fail) refuses the dump', async () => {
		await expectRefused(t, K.LEAK_KIND_TTY);
	});

	test('external: dumped with --shell-job; the restored root is on the same terminal, and the outside process reads what it prints', async () => {
		const slave = (await fdOf(t.root, /^\/dev\/pts\/\d+$/)).link;
		const ck = await dumpOk(t, [rule(K.LEAK_KIND_TTY, P.LEAK_POLICY_EXTERNAL)], { kind: K.LEAK_KIND_TTY, policy: P.LEAK_POLICY_EXTERNAL, options: { shellJob: true } });
		await restoreWorks(t, ck);
		assert.equal((await fdOf(t.root, /^\/dev\/pts\/\d+$/)).link, slave, 'the restored root\'s stdio is the same terminal');
		const bytes = (await counters(t, 'outside'))[0];
		await waitFor(t, 'outside', (c) => c[0] > bytes + 10, 'the outside process reads nothing from the restored root');
		assert.equal((await counters(t, 'state'))[1], 0, 'the restored root\'s writes to the terminal succeed');
	});
});

describe('a SysV shm segment attached outside', () => {
	test('is found; fail is its only policy: a rule asking for warn is noted and the dump still refused', async () => {
		const t = await startLeaky('shm');
		const shmid = (await counters(t, 'outside'))[0];
		shmIds.push(shmid);
		await detect(t, K.LEAK_KIND_SYSV_SHM, { inside: [t.root], outside: [t.outside], defaultPolicy: P.LEAK_POLICY_FAIL, choices: [], resource: new RegExp(`\\b${shmid}\\b`) });
		await expectRefused(t, K.LEAK_KIND_SYSV_SHM);
		const err = await expectRefused(t, K.LEAK_KIND_SYSV_SHM, [rule(K.LEAK_KIND_SYSV_SHM, P.LEAK_POLICY_WARN)]);
		const leak = theLeak(err.leaks, K.LEAK_KIND_SYSV_SHM);
		assert.match(leak.policyNote ?? '', /warn is not possible/, 'the leak says why the rule did not apply');
	});
});

describe('a shared file mapping written from outside', () => {
	let t: Leaky;

	test('is found; the default (warn) dumps and flags it; the restored root still sees the outside\'s writes', async () => {
		t = await startLeaky('mapped');
		await detect(t, K.LEAK_KIND_SHARED_MEMORY, {
			inside: [t.root], outside: [t.outside], defaultPolicy: P.LEAK_POLICY_WARN, resource: /shared\.dat/,
			choices: [P.LEAK_POLICY_FAIL, P.LEAK_POLICY_IGNORE],
		});
		const ck = await dumpOk(t, [], { kind: K.LEAK_KIND_SHARED_MEMORY, policy: P.LEAK_POLICY_WARN });
		await restoreWorks(t, ck);
		const seen = (await counters(t, 'state'))[1];
		await waitFor(t, 'state', (c) => c[1] > seen + 5, 'the restored root does not see the outside\'s writes through the file');
	});

	test('fail refuses it', async () => {
		await expectRefused(t, K.LEAK_KIND_SHARED_MEMORY, [rule(K.LEAK_KIND_SHARED_MEMORY, P.LEAK_POLICY_FAIL)]);
	});
});

describe('a memfd also held outside', () => {
	test('is found; the default (warn) saves its contents; the restored root writes to a private copy', async () => {
		const t = await startLeaky('memfd');
		await detect(t, K.LEAK_KIND_MEMFD, {
			inside: [t.root], outside: [t.outside], defaultPolicy: P.LEAK_POLICY_WARN, choices: [P.LEAK_POLICY_IGNORE, P.LEAK_POLICY_FAIL],
			resource: /^memfd:leaky-memfd \(inode \d+\)$/,
		});
		const ck = await dumpOk(t, [], { kind: K.LEAK_KIND_MEMFD, policy: P.LEAK_POLICY_WARN });
		await restoreWorks(t, ck);
		// what the leak's risk says: the restored root and the outside process no longer see each other's writes
		const [, seenByRoot] = await counters(t, 'state');
		const [outsideCount, seenByOutside] = await counters(t, 'outside');
		await waitFor(t, 'outside', (c) => c[0] > outsideCount + 20, 'the outside process stopped');
		assert.equal((await counters(t, 'state'))[1], seenByRoot, 'the restored root no longer sees the outside\'s count');
		assert.equal((await counters(t, 'outside'))[1], seenByOutside, 'the outside no longer sees the restored root\'s count');
	});
});

describe('a deleted file the tree holds open', () => {
	test('is found; the default (warn) saves it as a ghost file; the restored root writes to it, deleted again', async () => {
		const t = await startLeaky('deleted', [], false);
		await detect(t, K.LEAK_KIND_DELETED_FILE, {
			inside: [t.root], outside: [], defaultPolicy: P.LEAK_POLICY_WARN, choices: [P.LEAK_POLICY_IGNORE, P.LEAK_POLICY_FAIL],
			resource: new RegExp(`^${escapeRegExp(t.dir)}/ghost \\(`),
		});
		const ck = await dumpOk(t, [], { kind: K.LEAK_KIND_DELETED_FILE, policy: P.LEAK_POLICY_WARN });
		const images = (await shell.ok(`ls ${ck.path}`)).split('\n');
		assert.ok(images.some((f) => /^ghost-file-/.test(f)), `the checkpoint holds the ghost file: ${images.join(' ')}`);
		await restoreWorks(t, ck);
		const ghost = await fdOf(t.root, new RegExp(`^${escapeRegExp(t.dir)}/ghost \\(deleted\\)$`));
		const written = async (): Promise<number> => Number(await shell.ok(`od -An -t d8 -N 8 /proc/${t.root}/fd/${ghost.fd}`));
		const now = await written();
		const [count] = await waitFor(t, 'state', (c) => c[0] > now + 5, 'the restored root does not count');
		assert.ok(await written() >= count - 1, 'the restored root writes its count into the deleted file');
	});
});

describe('shared anonymous memory mapped outside', () => {
	test('is found; the default (fail) refuses; warn dumps it, and the restored root has a private copy', async () => {
		const t = await startLeaky('shared-anon');
		await detect(t, K.LEAK_KIND_SHARED_MEMORY, {
			inside: [t.root], outside: [t.outside], defaultPolicy: P.LEAK_POLICY_FAIL, choices: [P.LEAK_POLICY_WARN, P.LEAK_POLICY_IGNORE],
			resource: /shared anonymous memory/,
		});
		await expectRefused(t, K.LEAK_KIND_SHARED_MEMORY);
		const ck = await dumpOk(t, [rule(K.LEAK_KIND_SHARED_MEMORY, P.LEAK_POLICY_WARN)], { kind: K.LEAK_KIND_SHARED_MEMORY, policy: P.LEAK_POLICY_WARN });
		await restoreWorks(t, ck);
		// what docs/leaks.md warns of: the restored memory is the root's alone
		const a = await counters(t, 'state');
		await sleep(300);
		const b = await counters(t, 'state');
		assert.ok(b[0] > a[0], 'the restored root counts');
		assert.equal(b[1], a[1], 'the restored root no longer sees the outside process\'s writes');
	});
});

for (const mode of ['flock', 'posix-lock'] as const) {
	describe(`a ${mode} lock held by the tree`, () => {
		let t: Leaky;
		let lockLine: RegExp;

		test('is found, with an outside process waiting for the same file', async () => {
			t = await startLeaky(mode, [], false);
			const ino = (await shell.ok(`stat -c %i ${t.dir}/lock`)).trim();
			lockLine = new RegExp(`^\\d+: ${mode === 'flock' ? 'FLOCK' : 'POSIX'} +ADVISORY +WRITE +${t.root} +[0-9a-f]+:[0-9a-f]+:${ino} `, 'm');
			assert.match(await shell.ok('cat /proc/locks'), lockLine);
			const waiter = mode === 'flock'
				? (await start(['flock', `${t.dir}/lock`, 'sleep', '600'])).pid
				: (await start(['python3', '-c', `import fcntl, time\nf = open("${t.dir}/lock", "r+")\nfcntl.lockf(f, fcntl.LOCK_EX)\ntime.sleep(600)`])).pid;
			await sleep(300);
			try {
				await detect(t, K.LEAK_KIND_FILE_LOCK, { inside: [t.root], outside: [waiter], defaultPolicy: P.LEAK_POLICY_FAIL, choices: [P.LEAK_POLICY_SAVE], resource: /lock/ });
			} finally {
				await shell.killTree(waiter);
			}
			// without a waiter the lock is still a leak (CRIU refuses it by itself)
			await detect(t, K.LEAK_KIND_FILE_LOCK, { inside: [t.root], outside: [], defaultPolicy: P.LEAK_POLICY_FAIL, resource: /lock/ });
		});

		test('the default (fail) refuses the dump', async () => {
			await expectRefused(t, K.LEAK_KIND_FILE_LOCK);
		});

		test('save: dumped with --file-locks; the restored root holds the lock again', async () => {
			const ck = await dumpOk(t, [rule(K.LEAK_KIND_FILE_LOCK, P.LEAK_POLICY_SAVE)], { kind: K.LEAK_KIND_FILE_LOCK, policy: P.LEAK_POLICY_SAVE, options: { fileLocks: true } });
			await restoreWorks(t, ck);
			assert.match(await shell.ok('cat /proc/locks'), lockLine, 'the restored root holds its lock');
		});
	});
}

describe('a UTS namespace', () => {
	let t: Leaky;
	let joiner = 0;
	let ns = '';

	test('private to the tree: no uts-ns leak, not even the host\'s', async () => {
		t = await startLeaky('uts', [], false);
		ns = (await shell.ok(`readlink /proc/${t.root}/ns/uts`)).trim();
		assert.notEqual(ns, (await shell.ok('readlink /proc/1/ns/uts')).trim());
		const { leaks } = await session.leaks(t.root);
		assert.deepEqual(leaks.filter((l) => l.kind === K.LEAK_KIND_UTS_NS), [], `the leaks: ${describeLeaks(leaks)}`);
		// the other namespaces are the host's own: listed, ignored
		const ipc = theLeak(leaks, K.LEAK_KIND_IPC_NS);
		assert.ok(ipc.hostOwn && ipc.policy === P.LEAK_POLICY_IGNORE, `the host's IPC namespace: ${JSON.stringify(ipc)}`);
	});

	test('shared with an outside process that joined it: found, refused by default', async () => {
		const started = await start([LEAKY, 'join', String(t.root), 'uts', '{dir}']);
		joiner = started.pid;
		await shell.waitForRecord(started.dir, 'joined', (r) => r[1] >= 1);
		assert.equal((await shell.ok(`readlink /proc/${joiner}/ns/uts`)).trim(), ns);
		await detect(t, K.LEAK_KIND_UTS_NS, { inside: [t.root], outside: [joiner], resource: ns, defaultPolicy: P.LEAK_POLICY_FAIL, choices: [P.LEAK_POLICY_WARN, P.LEAK_POLICY_EXTERNAL] });
		await expectRefused(t, K.LEAK_KIND_UTS_NS);
	});

	test('external: the restored tree joins the namespace the outside process is in', async () => {
		const ck = await dumpOk(t, [rule(K.LEAK_KIND_UTS_NS, P.LEAK_POLICY_EXTERNAL)], { kind: K.LEAK_KIND_UTS_NS, policy: P.LEAK_POLICY_EXTERNAL });
		await restoreWorks(t, ck);
		assert.equal((await shell.ok(`readlink /proc/${t.root}/ns/uts`)).trim(), ns, 'the restored root is in the same UTS namespace as the outside process');
		assert.equal((await shell.ok(`nsenter -t ${t.root} -u hostname`)).trim(), 'leaky-uts');
	});
});

describe('a network namespace shared with an outside process', () => {
	let t: Leaky;
	let joiner = 0;
	let ns = '';

	test('found, refused by default; external is an --external entry', async () => {
		t = await startLeaky('net', [], false);
		ns = (await shell.ok(`readlink /proc/${t.root}/ns/net`)).trim();
		assert.notEqual(ns, (await shell.ok('readlink /proc/1/ns/net')).trim());
		const started = await start([LEAKY, 'join', String(t.root), 'net', '{dir}']);
		joiner = started.pid;
		await shell.waitForRecord(started.dir, 'joined', (r) => r[1] >= 1);
		const leak = await detect(t, K.LEAK_KIND_NET_NS, { inside: [t.root], outside: [joiner], resource: ns, defaultPolicy: P.LEAK_POLICY_FAIL, choices: [P.LEAK_POLICY_WARN, P.LEAK_POLICY_EXTERNAL] });
		const ino = /\[(\d+)\]/.exec(ns)?.[1];
		assert.equal((leak.choices ?? []).find((c) => c.policy === P.LEAK_POLICY_EXTERNAL)?.criuOption, `--external net[${ino}], --inherit-fd at restore`);
		await expectRefused(t, K.LEAK_KIND_NET_NS);
	});

	test('external: not dumped; the restored tree is back in the namespace the outside process is in', async () => {
		const ino = /\[(\d+)\]/.exec(ns)?.[1];
		const ck = await dumpOk(t, [rule(K.LEAK_KIND_NET_NS, P.LEAK_POLICY_EXTERNAL)], { kind: K.LEAK_KIND_NET_NS, policy: P.LEAK_POLICY_EXTERNAL });
		assert.deepEqual(ck.options?.external, [`net[${ino}]:${ns}`], 'the dump\'s --external entry');
		const images = (await shell.ok(`ls ${ck.path}`)).split('\n');
		assert.deepEqual(images.filter((f) => /^(netdev|ifaddr|route|iptables)-/.test(f)), [], `the namespace's devices, addresses, routes and rules are not in the checkpoint: ${images.join(' ')}`);
		await restoreWorks(t, ck);
		assert.equal((await shell.ok(`readlink /proc/${t.root}/ns/net`)).trim(), ns, 'the restored root is in the same net namespace as the outside process');
	});

	test('its outside process gone, the namespace lives on in the tree the restore replaces: held by the helper, the restored tree goes back in it', async () => {
		const ck = await dumpOk(t, [rule(K.LEAK_KIND_NET_NS, P.LEAK_POLICY_EXTERNAL)], { kind: K.LEAK_KIND_NET_NS, policy: P.LEAK_POLICY_EXTERNAL });
		await shell.killTree(joiner);
		await restoreWorks(t, ck);
		assert.equal((await shell.ok(`readlink /proc/${t.root}/ns/net`)).trim(), ns, 'back in the namespace, held through the tree it replaced');
	});
});

// ---- the second scan --------------------------------------------------------------

describe('the second scan at post-dump', () => {
	test('an outside process that opens the tree\'s FIFO while CRIU has the tree seized makes the checkpoint inconsistent', async () => {
		// 64 MiB: a dump of some length, in which the watcher (polling every 100 us) acts
		const t = await startLeaky('fifo-alone', ['64'], false);
		const fifo = `${t.dir}/fifo`;
		const before = await session.leaks(t.root);
		assert.deepEqual(before.leaks.filter((l) => l.kind === K.LEAK_KIND_FIFO), [], 'nobody outside holds the FIFO before the dump');
		// opens the FIFO as soon as CRIU seizes the tree: after the first scan, before post-dump
		const watcher = await start([LEAKY, 'watch', String(t.root), fifo, '{dir}']);
		const stages: string[] = [];
		const ck = await session.dump(t.root, { leaveRunning: true, name: 'leaky two passes', onProgress: (p) => stages.push(p.stage) });
		checkpoints.push(ck.id);
		const watched = await shell.record(watcher.dir, 'watch');
		assert.deepEqual(watched, [watcher.pid, 1], 'the watcher opened the FIFO during the dump');
		const order = ['leak-scan', 'dumping', 'pre-dump', 'post-dump', 'leak-rescan'].map((s) => stages.indexOf(s));
		assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1])), `stages in order: ${stages.join(', ')}`);

		const report = ck.leaks;
		assert.ok(report?.rescanned, `the second scan ran (${report?.rescanProblem})`);
		assert.deepEqual((report.leaks ?? []).filter((l) => l.kind === K.LEAK_KIND_FIFO), [], 'the first scan saw no FIFO leak');
		const changes = (report.changes ?? []).filter((c) => c.leak?.kind === K.LEAK_KIND_FIFO);
		assert.equal(changes.length, 1, `one change for the FIFO: ${JSON.stringify(report.changes)}`);
		const change = changes[0];
		assert.ok(change.what === WHAT.WHAT_APPEARED || change.what === WHAT.WHAT_HOLDERS_CHANGED, `what: ${change.what}`);
		assert.deepEqual(pids(change.leak?.outside), [watcher.pid], 'the change names the watcher as the new outside holder');
		assert.deepEqual(pids(change.leak?.inside), [t.root]);
		assert.ok(change.detail, 'the change says what happened');
		await shell.killTree(watcher.pid);
		await stillCounts(t, 'the tree does not run on after the dump');
	});

	test('a dump during which nothing changes is consistent', async () => {
		const t = await startLeaky('fifo-alone', ['0'], false);
		const ck = await session.dump(t.root, { leaveRunning: true, name: 'leaky one pass' });
		checkpoints.push(ck.id);
		assert.ok(ck.leaks?.rescanned, `the second scan ran (${ck.leaks?.rescanProblem})`);
		assert.deepEqual(ck.leaks.changes, []);
	});
});
