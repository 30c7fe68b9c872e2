/**
 * The `ckpt` command as a user runs it (the esbuild bundle behind
 * bin/ckpt.js), against the target host.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { connection, connectionFilePath, NEWER_CRIU, pollUntil, REPO, TargetShell, WORKLOAD } from './harness';
import { inetSocketsDumpable } from './richCheckpoint';

const execFileAsync = promisify(execFile);
const CKPT = join(REPO, 'bin', 'ckpt.js');

interface CliResult {
	code: number;
	stdout: string;
	stderr: string;
}

async function ckpt(...args: string[]): Promise<CliResult> {
	try {
		const { stdout, stderr } = await execFileAsync(process.execPath, [CKPT, ...args], { timeout: 60_000, maxBuffer: 64 << 20 });
		return { code: 0, stdout, stderr };
	} catch (err) {
		// A code that is not a number (a timeout, too much output) is said
		// in stderr so that a failed assertion shows why.
		const e = err as { code?: number | string; stdout?: string; stderr?: string; message?: string };
		if (typeof e.code === 'number') return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
		return { code: -1, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}\n(${e.message ?? String(err)})` };
	}
}

async function ckptJson<T>(...args: string[]): Promise<T> {
	const r = await ckpt('--target', connectionFilePath(), '--json', ...args);
	assert.equal(r.code, 0, `ckpt ${args.join(' ')} failed: ${r.stderr}`);
	return JSON.parse(r.stdout) as T;
}

let shell: TargetShell;
let pid = 0;
let dir = '';

before(async () => {
	shell = await TargetShell.open();
	await shell.buildWorkload();
	({ pid, dir } = await shell.start([WORKLOAD, 'counter', '{dir}']));
	await shell.waitForRecord(dir, 'state', (r) => r[1] >= 3);
});

after(async () => {
	await shell.killTree(pid);
	shell.close();
});

describe('ckpt', () => {
	test('hello reports the helper, CRIU and the host', async () => {
		const hello = await ckptJson<{ helperVersion: string; criuVersion: string; kernelRelease: string; euid: number }>('hello');
		assert.match(hello.criuVersion, /^4\./);
		assert.ok(hello.helperVersion);
		assert.equal(hello.euid, 0);
		const text = await ckpt('--target', connectionFilePath(), 'hello');
		assert.equal(text.code, 0);
		assert.match(text.stdout, /criu:\s+4\./);
	});

	test('--criu runs the CRIU named; one that is not an absolute path of an executable is a problem in words', async () => {
		const newer = await ckpt('--target', connectionFilePath(), '--criu', NEWER_CRIU, 'hello');
		assert.equal(newer.code, 0, newer.stderr);
		assert.match(newer.stdout, new RegExp(`criu:\\s+4\\.[2-9]\\S* at ${NEWER_CRIU}\\n`));
		assert.match(newer.stdout, /\ntcp:\s+connections can be saved \(network lock: iptables\)\n/);
		assert.doesNotMatch(newer.stdout, /\ntcp: \S/, 'no reason why not');
		// the target's own CRIU 4.1.1 on this kernel: why not, and what to do
		const own = await ckpt('--target', connectionFilePath(), 'hello');
		if (!(await inetSocketsDumpable(shell)).ok) {
			assert.match(own.stdout, /\ntcp:\s+connections cannot be saved\n/);
			assert.match(own.stdout, /\ntcp: CRIU 4\.1\.\d+ cannot dump TCP or UDP sockets on this kernel: .*Use CRIU 4\.2 or newer/);
		}
		for (const bad of ['criu', '/nonexistent/criu']) {
			const r = await ckpt('--target', connectionFilePath(), '--criu', bad, 'hello');
			assert.equal(r.code, 0, r.stderr);
			assert.match(r.stdout, /criu:\s+not usable/);
			assert.ok(r.stdout.includes(`problem: the CRIU asked for, ${bad}, is not the absolute path of an executable file on the target`), r.stdout);
		}
		const notCriu = await ckpt('--target', connectionFilePath(), '--criu', '/bin/true', 'hello');
		assert.match(notCriu.stdout, /problem: CRIU at \/bin\/true did not answer a VERSION request/);
	});

	test('ps lists the workload with its command line', async () => {
		const { processes } = await ckptJson<{ processes: { pid: number; cmdline: string[]; threads: number[] }[] }>('ps');
		const mine = processes.find((p) => p.pid === pid);
		assert.ok(mine, `pid ${pid} is listed`);
		assert.deepEqual(mine.cmdline, [WORKLOAD, 'counter', dir]);
	});

	test('dump, ls, restore --kill-running and rm, with ssh:// and explicit key files', async () => {
		const c = connection();
		const url = `ssh://${c.user}@${c.host}:${c.port}`;
		const keys = ['--identity', c.identityFile ?? '', '--known-hosts', c.knownHostsFile ?? ''];
		const dumped = await ckpt('--target', url, ...keys, '--json', 'dump', String(pid), '--leave-running', '--name', 'from the cli');
		assert.equal(dumped.code, 0, dumped.stderr);
		const checkpoint = JSON.parse(dumped.stdout) as { id: string; name: string; stats: { pagesWritten: number } };
		assert.equal(checkpoint.name, 'from the cli');
		assert.ok(checkpoint.stats.pagesWritten > 0);

		const listing = await ckpt('--target', connectionFilePath(), 'ls');
		assert.match(listing.stdout, new RegExp(`${checkpoint.id}\\s+from the cli`));

		const refused = await ckpt('--target', connectionFilePath(), 'restore', checkpoint.id);
		assert.equal(refused.code, 1);
		assert.match(refused.stderr, /still runs/);
		assert.match(refused.stderr, /--kill-running/);

		// lazily (the target can): the command ends once every page is in, and says when that was
		const restored = await ckptJson<{ rootPid: number; killedPids: number[]; lazy: boolean; lazyEnd: { ok: boolean; wallTimeUs: string } }>('restore', checkpoint.id, '--kill-running');
		assert.equal(restored.rootPid, pid);
		assert.deepEqual(restored.killedPids, [pid]);
		assert.equal(restored.lazy, true);
		assert.equal(restored.lazyEnd.ok, true);
		assert.ok(Number(restored.lazyEnd.wallTimeUs) > 0);
		assert.ok(await shell.isAlive(pid));
		const full = await ckpt('--target', connectionFilePath(), 'restore', checkpoint.id, '--kill-running', '--no-lazy');
		assert.equal(full.code, 0, full.stderr);
		assert.match(full.stdout, new RegExp(`^restored ${checkpoint.id} after killing ${pid}: root pid ${pid} \\(pids ${pid}\\), CRIU took [0-9.]+ m?s\n$`), 'a full restore: no lazy pages in the line');
		assert.ok(await shell.isAlive(pid));

		const removed = await ckpt('--target', connectionFilePath(), 'rm', checkpoint.id);
		assert.equal(removed.code, 0, removed.stderr);
		assert.doesNotMatch((await ckpt('--target', connectionFilePath(), 'ls')).stdout, new RegExp(checkpoint.id));
	});

	test('diff: a checkpoint against itself has no differences; against another program\'s, its process went and the other came', async () => {
		const other = await shell.start([WORKLOAD, 'counter', '{dir}']);
		await shell.waitForRecord(other.dir, 'state', (r) => r[1] >= 2);
		const a = await ckptJson<{ id: string }>('dump', String(pid), '--leave-running', '--name', 'diff a');
		const b = await ckptJson<{ id: string }>('dump', String(other.pid), '--leave-running', '--name', 'diff b');
		try {
			const same = await ckpt('--target', connectionFilePath(), 'diff', a.id, a.id);
			assert.equal(same.code, 0, same.stderr);
			assert.equal(same.stdout, 'no differences in processes, threads, registers, memory areas, pages, files or leaks\n');
			const d = await ckptJson<{ from: string; to: string; processes: { pid: number; comm: string; change: string }[] }>('diff', a.id, b.id);
			assert.deepEqual([d.from, d.to], [a.id, b.id]);
			assert.deepEqual(d.processes.map((p) => [p.pid, p.comm, p.change]), [[pid, 'workload', 'went'], [other.pid, 'workload', 'came']].sort((x, y) => Number(x[0]) - Number(y[0])));
			const text = await ckpt('--target', connectionFilePath(), 'diff', a.id, b.id);
			assert.match(text.stdout, new RegExp(`^process ${pid} \\(workload\\) went$`, 'm'));
			const usage = await ckpt('--target', connectionFilePath(), 'diff', a.id);
			assert.equal(usage.code, 2);
			assert.match(usage.stderr, /ckpt diff needs two checkpoints/);
		} finally {
			for (const id of [a.id, b.id]) await ckpt('--target', connectionFilePath(), 'rm', id);
			await shell.killTree(other.pid);
		}
	});

	test('diff compares pages on the target: a program that rewrote its memory shows every page of that area changed', async () => {
		const mib = 16;
		const w = await shell.start([WORKLOAD, 'pattern', '{dir}', String(mib)]);
		await shell.waitForRecord(w.dir, 'state', (r) => r[1] >= 2);
		const a = await ckptJson<{ id: string }>('dump', String(w.pid), '--leave-running', '--name', 'pages a');
		await shell.ok(`kill -USR2 ${w.pid}`);
		await shell.waitForRecord(w.dir, 'state', (r) => r[2] === 2);
		const b = await ckptJson<{ id: string }>('dump', String(w.pid), '--leave-running', '--name', 'pages b');
		try {
			const d = await ckptJson<{ pagesCompared: boolean; processes: { pid: number; pages: { area: string; pagesChanged: number; bytesDiffering: number }[] }[] }>('diff', a.id, b.id);
			assert.equal(d.pagesCompared, true);
			const p = d.processes.find((x) => x.pid === w.pid);
			const heap = p?.pages.find((g) => g.pagesChanged >= (mib << 20) / 4096);
			assert.ok(heap, `an area with every page of the ${mib} MiB rewritten: ${JSON.stringify(p?.pages)}`);
			assert.match(heap.area, /^0x[0-9a-f]+-0x[0-9a-f]+ rw-p /);
			assert.ok(heap.bytesDiffering > 0 && heap.bytesDiffering <= heap.pagesChanged * 4096);
		} finally {
			for (const id of [a.id, b.id]) await ckpt('--target', connectionFilePath(), 'rm', id);
			await shell.killTree(w.pid);
		}
	});

	test('diff names a known change: the global variable that changed (by its ELF symbol), the shared memory page, the area mapped, the file opened', async () => {
		const w = await shell.start([WORKLOAD, 'change', '{dir}']);
		await shell.waitForRecord(w.dir, 'state', (r) => r[1] >= 2);
		const a = await ckptJson<{ id: string }>('dump', String(w.pid), '--leave-running', '--name', 'change a');
		await shell.ok(`kill -USR1 ${w.pid}`);
		await shell.waitForRecord(w.dir, 'state', (r) => r[2] === 1);
		const b = await ckptJson<{ id: string }>('dump', String(w.pid), '--leave-running', '--name', 'change b');
		try {
			type Diff = { processes: { pid: number; vmas: { change: string; start: string; end: string; to?: string }[]; files: { fd: number; change: string; to?: string }[]; pages: { area: string; symbols?: string[] }[] }[] };
			const d = await ckptJson<Diff>('diff', a.id, b.id);
			const p = d.processes.find((x) => x.pid === w.pid);
			assert.ok(p, JSON.stringify(d));
			const named = p.pages.filter((g) => g.symbols?.includes('diff_global_counter'));
			assert.equal(named.length, 1, `the page of the global, named: ${JSON.stringify(p.pages)}`);
			assert.match(named[0].area, / rw-p .*workload/, 'in the program\'s data');
			type Area = { area: string; pagesChanged: number; bytesDiffering: number };
			const shared = (p.pages as Area[]).filter((g) => / rw-s \[shared\]$/.test(g.area));
			assert.deepEqual(shared.map((g) => [g.pagesChanged, g.bytesDiffering > 0 && g.bytesDiffering <= 8]), [[1, true]], `the shared page's word: ${JSON.stringify(p.pages)}`);
			const added = p.vmas.filter((v) => v.change === 'added');
			assert.equal(added.length, 1, `one area mapped: ${JSON.stringify(p.vmas)}`);
			assert.equal(BigInt(added[0].end) - BigInt(added[0].start), 3n * 4096n);
			assert.match(added[0].to ?? '', new RegExp(` rw-s ${w.dir}/opened$`));
			assert.deepEqual(p.files.filter((f) => f.change === 'opened').map((f) => f.to), [`regular ${w.dir}/opened`]);
			const text = await ckpt('--target', connectionFilePath(), 'diff', a.id, b.id);
			assert.match(text.stdout, /pages of 0x[0-9a-f]+-0x[0-9a-f]+ rw-p [^\n]*workload: 1 changed \([0-9]+ bytes differ\) in [^;]*diff_global_counter/);
		} finally {
			for (const id of [b.id, a.id]) await ckpt('--target', connectionFilePath(), 'rm', id);
			await shell.killTree(w.pid);
		}
	});

	test('diff names the variables of a program whose path is not UTF-8 (its ELF file read through the helper by the path\'s bytes)', async () => {
		const base = (await shell.ok('mktemp -d /tmp/ckpt-test-XXXXXX')).trim();
		const started = await shell.ok(`cd ${base} && mkdir state && cp ${WORKLOAD} $'w\\xffk' && `
			+ `{ setsid ./$'w\\xffk' change ${base}/state </dev/null >/dev/null 2>&1 & echo $!; }`);
		const pid = Number(started.trim());
		const ids: string[] = [];
		try {
			await shell.waitForRecord(`${base}/state`, 'state', (r) => r[1] >= 2);
			ids.push((await ckptJson<{ id: string }>('dump', String(pid), '--leave-running')).id);
			await shell.ok(`kill -USR1 ${pid}`);
			await shell.waitForRecord(`${base}/state`, 'state', (r) => r[2] === 1);
			ids.push((await ckptJson<{ id: string }>('dump', String(pid), '--leave-running')).id);
			const d = await ckptJson<{ processes: { pid: number; pages: { area: string; symbols?: string[] }[] }[] }>('diff', ids[0], ids[1]);
			const named = d.processes.find((x) => x.pid === pid)?.pages.filter((g) => g.symbols?.includes('diff_global_counter')) ?? [];
			assert.equal(named.length, 1, `the page of the global, named: ${JSON.stringify(d)}`);
			assert.match(named[0].area, / rw-p .*\/w\udcffk$/, 'in the data of the program, named by its path\'s bytes');
		} finally {
			await shell.killTree(pid);
			for (const id of ids) await ckpt('--target', connectionFilePath(), 'rm', id);
			await shell.run(`rm -rf ${base}`);
		}
	});

	test('names, command lines and paths that are not UTF-8 (or hold control characters) survive ps, dump, ls, show and restore, exactly in JSON and escaped in text', async () => {
		// made on the target by the shell ($'...'): the bytes, not UTF-8 text, are the point
		const base = (await shell.ok('mktemp -d /tmp/ckpt-test-XXXXXX')).trim();
		const started = await shell.ok(`cd ${base} && mkdir $'state\\xfd' && cp ${WORKLOAD} $'w\\xffl\\x1bk' && `
			+ `{ setsid ./$'w\\xffl\\x1bk' counter $'${base}/state\\xfd' </dev/null >/dev/null 2>&1 & echo $!; }`);
		const odd = Number(started.trim());
		const state = `${base}/state\udcfd`;
		try {
			await pollUntil(async () => (await shell.run(`test -s $'${base}/state\\xfd/state' && echo yes`)).stdout.trim(), (out) => out === 'yes', 10000, () => 'the workload did not publish its state');
			const { processes } = await ckptJson<{ processes: { pid: number; comm: string; cmdline: string[] }[] }>('ps', String(odd));
			assert.equal(processes[0].comm, 'w\udcffl\u001bk', 'the name\'s bytes, each one not UTF-8 as U+DCxx');
			assert.deepEqual(processes[0].cmdline, ['./w\udcffl\u001bk', 'counter', state]);
			const text = await ckpt('--target', connectionFilePath(), 'ps', String(odd));
			assert.equal(text.code, 0, text.stderr);
			assert.match(text.stdout, /\.\/w\\xffl\\x1bk counter \/tmp\/ckpt-test-\w+\/state\\xfd/);
			assert.doesNotMatch(text.stdout, /[\x00-\x08\x0b-\x1f\x7f\ufffd]/, 'no control character or replacement character reaches the terminal');

			// its state file, on tmpfs, is a leak the report names by its path
			const dumped = await ckptJson<{ id: string; processes: { comm: string; cmdline: string[] }[]; leaks: { leaks: { resource: string }[] } }>('dump', String(odd), '--leave-running');
			assert.equal(dumped.processes[0].comm, 'w\udcffl\u001bk');
			assert.ok(dumped.leaks.leaks.some((l) => l.resource.includes(state)), `a leak names ${state}: ${dumped.leaks.leaks.map((l) => l.resource).join(', ')}`);
			const listed = await ckptJson<{ checkpoints: { id: string; processes: { cmdline: string[] }[] }[] }>('ls');
			assert.deepEqual(listed.checkpoints.find((c) => c.id === dumped.id)?.processes[0].cmdline, ['./w\udcffl\u001bk', 'counter', state]);
			const ls = await ckpt('--target', connectionFilePath(), 'ls');
			assert.equal(ls.code, 0, ls.stderr);

			const show = await ckpt('--target', connectionFilePath(), 'show', dumped.id);
			assert.equal(show.code, 0, show.stderr);
			assert.match(show.stdout, /process \d+ w\\xffl\\x1bk/);
			assert.match(show.stdout, /state\\xfd\/state/, 'the open file\'s path');
			assert.doesNotMatch(show.stdout, /[\x00-\x08\x0b-\x1f\x7f\ufffd]/);

			const restored = await ckptJson<{ rootPid: number }>('restore', dumped.id, '--kill-running');
			assert.equal(restored.rootPid, odd);
			assert.ok(await shell.isAlive(odd));
			assert.equal((await ckpt('--target', connectionFilePath(), 'rm', dumped.id)).code, 0);
		} finally {
			await shell.killTree(odd);
			await shell.run(`rm -rf ${base}`);
		}
	});

	test('restore --kill-running kills the checkpoint\'s program (or one restored from it), never another process that took its pid and name', async () => {
		const { pid: own, dir: ownDir } = await shell.start([WORKLOAD, 'counter', '{dir}']);
		await shell.waitForRecord(ownDir, 'state', (r) => r[1] >= 2);
		const dumped = await ckptJson<{ id: string; processes: { startTicks: string }[] }>('dump', String(own));
		assert.ok(Number(dumped.processes[0].startTicks) > 0, 'its start time is kept');
		for (let i = 0; i < 100 && await shell.isAlive(own); i++) await new Promise((r) => setTimeout(r, 50));
		// another workload at the same pid (the target has a pid namespace of its own, whose next pid can be set)
		const startAtPid = async (): Promise<number> => Number((await shell.ok(`d=$(mktemp -d /tmp/ckpt-test-XXXXXX); for i in $(seq 50); do echo ${own - 1} > /proc/sys/kernel/ns_last_pid; `
			+ `setsid ${WORKLOAD} counter $d </dev/null >/dev/null 2>&1 & p=$!; [ $p = ${own} ] && break; kill $p; done; echo $p`)).trim());
		assert.equal(await startAtPid(), own, 'an unrelated workload holds the pid');
		try {
			const refused = await ckpt('--target', connectionFilePath(), 'restore', dumped.id, '--kill-running');
			assert.equal(refused.code, 1);
			assert.match(refused.stderr, new RegExp(`pid ${own} of checkpoint ${dumped.id} \\(workload\\) is now held by another process \\(workload, of the same name, started after the checkpoint and not restored from a checkpoint of this program\\)`));
			assert.match(refused.stderr, /it is not killed/);
			assert.ok(await shell.isAlive(own), 'the other process lives on');
		} finally {
			await shell.killTree(own);
		}
		// restored there, it is the checkpoint's program: the next restore may kill it
		assert.equal((await ckptJson<{ rootPid: number }>('restore', dumped.id, '--no-lazy')).rootPid, own);
		const again = await ckptJson<{ killedPids: number[] }>('restore', dumped.id, '--kill-running', '--no-lazy');
		assert.deepEqual(again.killedPids, [own]);
		await shell.killTree(own);
		// another program of the same name (another command line) checkpointed at that pid and restored there (another session): not this one's
		assert.equal(await startAtPid(), own);
		const otherProgram = await ckptJson<{ id: string }>('dump', String(own));
		for (let i = 0; i < 100 && await shell.isAlive(own); i++) await new Promise((r) => setTimeout(r, 50));
		try {
			assert.equal((await ckptJson<{ rootPid: number }>('restore', otherProgram.id, '--no-lazy')).rootPid, own);
			const refused = await ckpt('--target', connectionFilePath(), 'restore', dumped.id, '--kill-running');
			assert.equal(refused.code, 1);
			assert.match(refused.stderr, /is now held by another process \(workload, of the same name, started after the checkpoint and not restored from a checkpoint of this program\)/);
			assert.ok(await shell.isAlive(own), 'the other program lives on');
		} finally {
			await shell.killTree(own);
		}
		for (const id of [dumped.id, otherProgram.id]) assert.equal((await ckpt('--target', connectionFilePath(), 'rm', id)).code, 0);
	});

	test('rename gives a checkpoint a new name, "" clears it; its arguments are checked before connecting', async () => {
		const dumped = await ckptJson<{ id: string; name: string }>('dump', String(pid), '--leave-running', '--name', 'cli before');
		assert.equal(dumped.name, 'cli before');
		try {
			const renamed = await ckpt('--target', connectionFilePath(), 'rename', dumped.id, 'cli after');
			assert.equal(renamed.code, 0, renamed.stderr);
			assert.equal(renamed.stdout, `renamed ${dumped.id} to "cli after"\n`);
			assert.match((await ckpt('--target', connectionFilePath(), 'ls')).stdout, new RegExp(`${dumped.id}\\s+cli after`));

			const cleared = await ckptJson<{ id: string; name: string; rootPid: number }>('rename', dumped.id, '');
			assert.deepEqual([cleared.id, cleared.name, cleared.rootPid], [dumped.id, '', pid], '--json prints the rewritten manifest');

			const badName = await ckpt('--target', connectionFilePath(), 'rename', dumped.id, 'a\nb');
			assert.equal(badName.code, 1);
			assert.match(badName.stderr, /^ckpt: .*control characters/m);
			const unknown = await ckpt('--target', connectionFilePath(), 'rename', '20000101-000000-0000', 'x');
			assert.equal(unknown.code, 1);
			assert.match(unknown.stderr, /no checkpoint 20000101-000000-0000/);
			assert.equal(unknown.stdout, '');
		} finally {
			await ckpt('--target', connectionFilePath(), 'rm', dumped.id);
		}

		// a target that does not exist: only the argument checks can answer
		for (const [args, why] of [[['rename'], /needs a checkpoint id/], [['rename', dumped.id], /needs a checkpoint id and a name/], [['rename', 'a', 'b', 'c'], /two arguments; unexpected "c"/]] as const) {
			const r = await ckpt('--target', '/nonexistent/connection.json', ...args);
			assert.equal(r.code, 2, `ckpt ${args.join(' ')}: ${r.stderr}`);
			assert.match(r.stderr, why);
		}
	});

	test('freeze and thaw from the command line', async () => {
		const frozen = await ckpt('--target', connectionFilePath(), 'freeze', String(pid));
		assert.equal(frozen.code, 0, frozen.stderr);
		assert.match(frozen.stdout, /frozen/);
		const thawed = await ckpt('--target', connectionFilePath(), 'thaw', String(pid));
		assert.equal(thawed.code, 0, thawed.stderr);
		const held = (await shell.record(dir))[1];
		await shell.waitForRecord(dir, 'state', (r) => r[1] > held);
	});

	test('a failure exits 1 with the reason on stderr', async () => {
		const r = await ckpt('--target', connectionFilePath(), 'dump', '4194000');
		assert.equal(r.code, 1);
		assert.match(r.stderr, /^ckpt: .*4194000/m);
		assert.equal(r.stdout, '');
	});

	test('show of a path that is not a checkpoint directory on the target fails clearly and exits', async () => {
		const r = await ckpt('--target', connectionFilePath(), 'show', '/nonexistent/checkpoint');
		assert.equal(r.code, 1, r.stderr);
		assert.match(r.stderr, /\/nonexistent\/checkpoint is not a directory/);
	});

	test('leaks lists what a tree shares with the outside; dump refuses a fail leak with exit 3 and the way ahead, and --policy lets it through', async () => {
		// The workload writes into a pipe that cat, outside its tree, reads.
		const piped = await shell.start(['/bin/sh', '-c', `setsid ${WORKLOAD} counter {dir} | cat >/dev/null`]);
		const root = (await shell.waitForRecord(piped.dir, 'state', (r) => r[1] >= 3))[0];
		try {
			interface LeakJson { kind: string; resource: string; policy: string; inside: { pid: number }[]; outside: { pid: number; comm: string }[]; choices: { policy: string }[] }
			const { leaks, stats } = await ckptJson<{ leaks: LeakJson[]; stats: { treeProcesses: number } }>('leaks', String(root));
			assert.equal(stats.treeProcesses, 1);
			const pipe = leaks.find((l) => l.kind === 'pipe');
			assert.ok(pipe, JSON.stringify(leaks.map((l) => l.kind)));
			assert.match(pipe.resource, /^pipe:\[\d+\]$/);
			assert.equal(pipe.policy, 'fail');
			assert.deepEqual(pipe.inside.map((h) => h.pid), [root]);
			assert.deepEqual(pipe.outside.map((h) => h.comm), ['cat']);
			assert.deepEqual(pipe.choices.map((c) => c.policy).sort(), ['external', 'fail', 'ignore', 'warn']);
			const text = await ckpt('--target', connectionFilePath(), 'leaks', String(root), '--policy', 'pipe=warn');
			assert.equal(text.code, 0, text.stderr);
			assert.match(text.stdout, /^ {4}policy {3}warn \(default fail\)$/m);
			assert.match(text.stdout, /A dump with this policy goes ahead\.$/m);

			const before = (await ckptJson<unknown[]>('ls')).length;
			const refused = await ckpt('--target', connectionFilePath(), 'dump', String(root), '--leave-running');
			assert.equal(refused.code, 3, refused.stderr);
			assert.match(refused.stderr, /pipe:\[\d+\]/);
			assert.match(refused.stderr, /--policy/);
			assert.equal((await ckptJson<unknown[]>('ls')).length, before, 'nothing was written');
			assert.ok(await shell.isAlive(root), 'the program runs on');

			const taken = await ckptJson<{ id: string; leaks: { leaks: LeakJson[] } }>('dump', String(root), '--leave-running', '--policy', 'pipe=warn');
			try {
				assert.equal(taken.leaks.leaks.find((l) => l.kind === 'pipe')?.policy, 'warn');
			} finally {
				await ckpt('--target', connectionFilePath(), 'rm', taken.id);
			}
		} finally {
			await shell.killTree(piped.pid);
		}
	});

	test('usage errors exit 2 and say what is wrong', async () => {
		const noTarget = await ckpt('ls');
		assert.equal(noTarget.code, 2);
		assert.match(noTarget.stderr, /--target/);
		const badPid = await ckpt('--target', connectionFilePath(), 'dump', 'abc');
		assert.equal(badPid.code, 2);
		assert.match(badPid.stderr, /abc/);
		const unknown = await ckpt('--target', connectionFilePath(), 'frobnicate');
		assert.equal(unknown.code, 2);
		assert.match(unknown.stderr, /unknown command "frobnicate"/);
		const badFile = await ckpt('--target', '/nonexistent/connection.json', 'ls');
		assert.equal(badFile.code, 2);
		assert.match(badFile.stderr, /\/nonexistent\/connection\.json/);
	});
});
