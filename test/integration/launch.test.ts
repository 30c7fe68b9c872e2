/**
 * Programs the helper launches on the target host: their output and end as
 * events, what they start with, checkpoint and restore with their output
 * streaming on, and kill, through the real helper and CRIU, over SSH.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ErrorKind } from '../../src/core/errors';
import { HelperSession, type ProgramEvent } from '../../src/core/session';
import { sshTarget, TargetShell, WORKLOAD } from './harness';

let shell: TargetShell;
let session: HelperSession;
let helperPid: number;
const events: ProgramEvent[] = [];
const roots: number[] = [];
const checkpoints: string[] = [];

before(async () => {
	shell = await TargetShell.open();
	await shell.buildWorkload();
	session = await HelperSession.open(sshTarget());
	session.onProgramEvent((e) => events.push(e));
	helperPid = (await session.hello()).helperPid;
});

after(async () => {
	for (const id of checkpoints) await session.remove(id).catch(() => undefined);
	await session.close();
	// The helper kills what it launched when it ends; whatever is left is a test failure to clean up.
	for (const pid of roots) await shell.killTree(pid);
	shell.close();
});

async function launch(program: string, options: Parameters<HelperSession['launch']>[1] = {}): Promise<number> {
	const { rootPid } = await session.launch(program, options);
	roots.push(rootPid);
	return rootPid;
}

/** Everything rootPid wrote to stream, from event index `from` on. */
function output(rootPid: number, stream: 'stdout' | 'stderr', from = 0): string {
	return Buffer.concat(events.slice(from).flatMap((e) => (e.kind === 'output' && e.rootPid === rootPid && e.stream === stream ? [e.data] : []))).toString();
}

/** The complete lines of a counting program's output, as numbers. */
function counts(rootPid: number, stream: 'stdout' | 'stderr', from = 0): number[] {
	return output(rootPid, stream, from).split('\n').slice(0, -1).map(Number);
}

async function until<T>(what: string, read: () => T | undefined, timeoutMs = 10000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = read();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
		await sleep(20);
	}
}

const exitOf = (rootPid: number, from = 0): Promise<ProgramEvent> =>
	until(`process ${rootPid} did not report its end`, () => events.slice(from).find((e) => e.kind === 'exit' && e.rootPid === rootPid));

const countedTo = (rootPid: number, n: number, from = 0): Promise<number[]> =>
	until(`process ${rootPid} did not count to ${n} on stdout`, () => {
		const c = counts(rootPid, 'stdout', from);
		return c.length > 0 && c[c.length - 1] >= n ? c : undefined;
	});

/** What assert.rejects checks of a CheckpointError: its kind, and what its message says. */
const failure = (kind: ErrorKind, message?: RegExp, errno?: number): object =>
	({ name: 'CheckpointError', kind, ...(message && { message }), ...(errno !== undefined && { errno }) });

const consecutive = (c: number[]): boolean => c.every((v, i) => i === 0 || v === c[i - 1] + 1);

/** Descriptors of pid as "fd -> target" lines, read from outside the tree. */
async function fds(pid: number): Promise<string[]> {
	const out = await shell.ok(`cd /proc/${pid}/fd && for f in *; do echo "$f -> $(readlink $f)"; done`);
	return out.trim().split('\n');
}

describe('launch', () => {
	test('a program gets its args, cwd and environment; stdout and stderr arrive apart and in order; its exit code comes last', async () => {
		const script = 'for i in $(seq 1 300); do echo "out $i"; echo "err $i" >&2; done; echo "args:$1|$2"; pwd; echo "FOO=$FOO"; exit 3';
		const pid = await launch('/bin/sh', { args: ['-c', script, 'sh', 'one', 'two words'], cwd: '/tmp', env: { FOO: 'bar baz', PATH: '/usr/bin:/bin' } });
		const exit = await exitOf(pid);
		assert.deepEqual(exit, { kind: 'exit', rootPid: pid, code: 3, signal: null });

		const lines = (n: number, word: string): string[] => Array.from({ length: n }, (_, i) => `${word} ${i + 1}`);
		assert.deepEqual(output(pid, 'stdout').split('\n'), [...lines(300, 'out'), 'args:one|two words', '/tmp', 'FOO=bar baz', '']);
		assert.deepEqual(output(pid, 'stderr').split('\n'), [...lines(300, 'err'), '']);
		const mine = events.filter((e) => e.rootPid === pid);
		assert.equal(mine[mine.length - 1], exit, 'the end is reported after all the output');
	});

	test('the environment is exactly the one given; none given is an empty one', async () => {
		const pid = await launch('/usr/bin/env', { env: { A: '1', B: 'two words', EMPTY: '' } });
		assert.deepEqual(await exitOf(pid), { kind: 'exit', rootPid: pid, code: 0, signal: null });
		assert.equal(output(pid, 'stdout'), 'A=1\nB=two words\nEMPTY=\n');

		const bare = await launch('/usr/bin/env');
		assert.deepEqual(await exitOf(bare), { kind: 'exit', rootPid: bare, code: 0, signal: null });
		assert.equal(output(bare, 'stdout'), '');
		assert.equal(output(bare, 'stderr'), '');
	});

	test('a program that cannot start is an error naming it, and leaves no process behind', async () => {
		const missing = '/opt/checkpoint-debugger-tests/no-such-program';
		await assert.rejects(session.launch(missing), failure('not-found', /^cannot execute \/opt\/checkpoint-debugger-tests\/no-such-program: No such file/, 2));
		await assert.rejects(session.launch('/tmp'), failure('not-permitted', /^cannot execute \/tmp: Permission denied$/, 13));
		await assert.rejects(session.launch('/bin/true', { cwd: '/no/such/dir' }), failure('not-found', /^cannot start \/bin\/true: cannot change to directory \/no\/such\/dir/, 2));
		await assert.rejects(session.launch('true'), failure('bad-request', /absolute path/));
		await assert.rejects(session.launch('/bin/true', { cwd: 'tmp' }), failure('bad-request', /cwd/));
		await assert.rejects(session.launch('/bin/true', { env: { 'A=B': 'c' } }), failure('bad-request', /A=B/));

		const children = await shell.ok(`ps -o pid=,stat= --ppid ${helperPid} || true`);
		assert.ok(!/\sZ/.test(children), `no zombie child of the helper: ${children}`);
	});

	test('a program starts with only /dev/null and two pipes open, in a session of its own with no terminal, nothing blocked', async () => {
		const pid = await launch(WORKLOAD, { args: ['print'] });
		await countedTo(pid, 3);

		const open = await fds(pid);
		assert.equal(open.length, 3, `only 0, 1 and 2 are open: ${open.join(', ')}`);
		assert.equal(open[0], '0 -> /dev/null');
		const pipes = open.slice(1).map((l) => /^[12] -> (pipe:\[\d+\])$/.exec(l)?.[1]);
		assert.ok(pipes[0] && pipes[1] && pipes[0] !== pipes[1], `stdout and stderr are two pipes: ${open.join(', ')}`);

		const [info] = await session.ps(pid);
		assert.equal(info.sid, pid, 'its own session');
		assert.equal(info.pgid, pid);
		assert.equal(info.ppid, helperPid, 'the helper is its parent');
		assert.equal(info.tty, '', 'no controlling terminal');
		assert.equal(info.ttyNr, 0);
		const status = await shell.ok(`grep -E '^(SigBlk|SigIgn|Umask):' /proc/${pid}/status`);
		assert.match(status, /^Umask:\s+0022$/m);
		assert.match(status, /^SigBlk:\s+0+$/m, 'no signal blocked (the helper blocks some for its signalfd)');
		assert.match(status, /^SigIgn:\s+0+$/m, 'no signal ignored (the helper ignores SIGPIPE)');

		assert.deepEqual((await session.kill(pid)).killedPids, [pid]);
		assert.deepEqual(await exitOf(pid), { kind: 'exit', rootPid: pid, code: null, signal: 9 });
	});
});

describe('checkpoint and restore of a launched program', () => {
	test('dump with leave_running, kill, restore: the output goes on from the checkpoint, as events for the restored root', async () => {
		const pid = await launch(WORKLOAD, { args: ['print'] });
		const before = (await countedTo(pid, 10)).at(-1) ?? 0;
		const pipesBefore = await fds(pid);

		const checkpoint = await session.dump(pid, { leaveRunning: true, name: 'launched print' });
		checkpoints.push(checkpoint.id);
		assert.ok(checkpoint.outputPipes && checkpoint.outputPipes.stdoutPipeId > 0 && checkpoint.outputPipes.stderrPipeId > 0,
			'the manifest names the pipes the program wrote to');
		assert.equal(pipesBefore[1], `1 -> pipe:[${checkpoint.outputPipes.stdoutPipeId}]`);
		const atDump = counts(pid, 'stdout').at(-1) ?? 0;
		const late = (await countedTo(pid, atDump + 30)).at(-1) ?? 0;

		assert.deepEqual((await session.kill(pid)).killedPids, [pid]);
		assert.deepEqual(await exitOf(pid), { kind: 'exit', rootPid: pid, code: null, signal: 9 });
		assert.equal(await shell.isAlive(pid), false);

		const mark = events.length;
		const restored = await session.restore(checkpoint.id);
		assert.equal(restored.rootPid, pid, 'CRIU restores the root at its original pid');
		assert.equal(restored.outputStreamed, true);
		const after = await until('the restored program wrote no 25 counts', () => {
			const c = counts(pid, 'stdout', mark);
			return c.length >= 25 ? c : undefined;
		});
		// Output events trail the program (pipe, helper, SSH): lines written just before the freeze may
		// arrive after the dump's answer, so the checkpoint's count can be a few past atDump (a tick is 20 ms).
		const inFlight = 5;
		assert.ok(after[0] > before && after[0] <= atDump + 1 + inFlight, `the restored count starts after the checkpoint's (${before} < ${after[0]} <= ${atDump + 1 + inFlight})`);
		assert.ok(after[0] < late, `the restored count went back (${after[0]} < ${late})`);
		assert.ok(consecutive(after), `it counts on without a gap: ${after.join(' ')}`);
		await until('the restored program wrote nothing to stderr', () => (counts(pid, 'stderr', mark).length > 0 ? true : undefined));
		assert.ok(counts(pid, 'stderr', mark).every((v) => v % 10 === 0 && v > before));

		const open = await fds(pid);
		assert.equal(open.length, 3, open.join(', '));
		assert.equal(open[0], '0 -> /dev/null');
		assert.notEqual(open[1], pipesBefore[1], 'stdout is the helper\'s new pipe');
		assert.match(open[2], /^2 -> pipe:\[\d+\]$/);
		const [info] = await session.ps(pid);
		assert.equal(info.ppid, helperPid, 'the restored root is the helper\'s child again');

		assert.deepEqual((await session.kill(pid)).killedPids, [pid]);
		assert.deepEqual(await exitOf(pid, mark), { kind: 'exit', rootPid: pid, code: null, signal: 9 });
	});

	test('a dump that ends the program reports its end; a restore of a restored program streams again', async () => {
		const pid = await launch(WORKLOAD, { args: ['print'] });
		await countedTo(pid, 5);
		const first = await session.dump(pid);
		checkpoints.push(first.id);
		assert.deepEqual(await exitOf(pid), { kind: 'exit', rootPid: pid, code: null, signal: 9 }, 'CRIU ends the tree after the dump');

		let mark = events.length;
		await session.restore(first.id);
		const resumed = await countedTo(pid, 5, mark);
		const second = await session.dump(pid, { leaveRunning: true });
		checkpoints.push(second.id);
		assert.notEqual(second.outputPipes?.stdoutPipeId, first.outputPipes?.stdoutPipeId, 'the restored program writes to new pipes');

		mark = events.length;
		const again = await session.restore(second.id, { killRunning: true });
		assert.deepEqual(again.killedPids, [pid]);
		// The killed program has the restored one's pid: its last output and its end come first.
		const end = events.findIndex((e, i) => i >= mark && e.kind === 'exit' && e.rootPid === pid);
		assert.ok(end >= 0, 'the end of the program killed for the restore is reported before the restore\'s answer');
		mark = end + 1;
		const c = await until('the program restored twice does not count', () => {
			const v = counts(pid, 'stdout', mark);
			return v.length >= 5 ? v : undefined;
		});
		assert.ok(c[0] > resumed[0] && consecutive(c), c.join(' '));
		await session.kill(pid);
	});

	test('a descendant of a launched program, dumped alone, is restored with its output, as a program of its own', async () => {
		// setsid: CRIU dumps a tree whose session leader is in it
		const pid = await launch('/bin/sh', { args: ['-c', `setsid ${WORKLOAD} print & wait`] });
		await countedTo(pid, 5);
		const child = (await session.ps(pid)).find((p) => p.comm === 'workload')?.pid ?? 0;
		assert.ok(child > 0, 'the shell started the counter');
		const checkpoint = await session.dump(child, { leaveRunning: true });
		checkpoints.push(checkpoint.id);
		assert.equal(checkpoint.processes.length, 1);
		assert.ok(checkpoint.outputPipes && checkpoint.outputPipes.stdoutPipeId > 0, 'the program\'s pipes, found up the tree');

		assert.deepEqual((await session.kill(pid)).killedPids, [pid, child]);
		assert.deepEqual(await exitOf(pid), { kind: 'exit', rootPid: pid, code: null, signal: 9 });
		const mark = events.length;
		const restored = await session.restore(checkpoint.id);
		assert.equal(restored.rootPid, child);
		assert.equal(restored.outputStreamed, true);
		const c = await until('the restored counter wrote no 5 counts', () => {
			const v = counts(child, 'stdout', mark);
			return v.length >= 5 ? v : undefined;
		});
		assert.ok(consecutive(c), c.join(' '));
		assert.deepEqual((await session.kill(child)).killedPids, [child]);
		assert.deepEqual(await exitOf(child, mark), { kind: 'exit', rootPid: child, code: null, signal: 9 });
	});
});

describe('kill', () => {
	test('kills a running tree, the root and its child, and reports the root\'s end', async () => {
		const dir = (await shell.ok('mktemp -d /tmp/ckpt-test-XXXXXX')).trim();
		const pid = await launch(WORKLOAD, { args: ['family', dir] });
		const child = (await shell.waitForRecord(dir, 'child', (r) => r[1] >= 1))[0];

		const killed = await session.kill(pid);
		assert.equal(killed.rootPid, pid);
		assert.deepEqual(killed.killedPids, [pid, child]);
		assert.equal(await shell.isAlive(pid), false);
		assert.equal(await shell.isAlive(child), false);
		assert.deepEqual(await exitOf(pid), { kind: 'exit', rootPid: pid, code: null, signal: 9 });
	});

	test('kills a frozen tree and lets go of its freeze cgroup', async () => {
		const { pid, dir } = await shell.start([WORKLOAD, 'family', '{dir}']);
		roots.push(pid);
		const child = (await shell.waitForRecord(dir, 'child', (r) => r[1] >= 1))[0];
		const frozen = await session.freeze(pid);
		assert.equal(frozen.pids.length, 2);

		const killed = await session.kill(pid);
		assert.deepEqual([...killed.killedPids].sort((a, b) => a - b), [pid, child].sort((a, b) => a - b));
		assert.equal(await shell.isAlive(pid), false, 'the frozen root is gone');
		assert.equal(await shell.isAlive(child), false, 'the frozen child is gone');
		assert.equal((await shell.run(`test -e ${frozen.cgroup}`)).code, 1, `the freeze cgroup ${frozen.cgroup} is removed`);
		await assert.rejects(session.thaw(pid), failure('no-such-process'));
	});

	test('kill, freeze and dump refuse pid 1, the helper, its ancestors (it would take itself, and the ssh session, with them); kill a pid that does not exist', async () => {
		const parent = Number(await shell.ok(`ps -o ppid= -p ${helperPid}`));
		const refusals: [string, (pid: number) => Promise<unknown>][] = [
			['killing', (pid) => session.kill(pid)], ['freezing', (pid) => session.freeze(pid)], ['checkpointing', (pid) => session.dump(pid, { leaveRunning: true })],
		];
		for (const [doing, ask] of refusals) {
			for (const pid of [1, 0, -3]) await assert.rejects(ask(pid), failure('bad-request', /above 1/));
			for (const pid of [helperPid, parent]) {
				await assert.rejects(ask(pid), failure('bad-request', new RegExp(`helper or one of its ancestors .*: ${doing} it would take this helper with it`)));
			}
		}
		assert.ok(await shell.isAlive(parent));
		assert.equal((await session.hello()).helperPid, helperPid, 'the helper still answers');

		const missing = Number(await shell.ok('echo $(( $(cat /proc/sys/kernel/pid_max) - 11 ))'));
		await assert.rejects(session.kill(missing), failure('no-such-process', new RegExp(`${missing}`)));
	});
});
