/**
 * Core files of checkpointed processes, against the target host: a
 * two-threaded program built with -g -O0 (test/workloads/core_threads.c,
 * each thread spinning on a known line with known locals) is checkpointed
 * through the helper; the helper writes its core on the target; gdb opens
 * it there (and on this machine, downloaded with ckpt core, where a gdb is
 * installed) and shows both threads at their lines with their locals. The
 * registers, libraries and mappings gdb reads from it are those of gdb's own
 * gcore of the same stopped process. The tests' helper keeps its
 * checkpoints in a store of its own, removed afterwards.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openCheckpoint } from '../../src/core/images/checkpoint';
import { HelperImageSource } from '../../src/core/images/helperSource';
import type { pb } from '../../src/core/protocol';
import { HelperSession } from '../../src/core/session';
import { shellQuote } from '../../src/core/targets/ssh';
import { connectionFilePath, REPO, sshTarget, TargetShell } from './harness';

const STORE = '/var/lib/checkpoint-debugger/core-tests';
const SOURCE = readFileSync(join(REPO, 'test', 'workloads', 'core_threads.c'), 'utf8').split('\n');
/** The source lines the threads spin on (1-based). */
const MAIN_LINE = SOURCE.findIndex((l) => l.includes('/* CORE_MAIN_LINE */')) + 1;
const WORKER_LINE = SOURCE.findIndex((l) => l.includes('/* CORE_WORKER_LINE */')) + 1;
/** CPU time (clock ticks) each thread spends before the dump: only its loop burns any, so it is there. */
const SPUN_TICKS = 20;

let shell: TargetShell;
let session: HelperSession;
let program: string;
let local: string;

before(async () => {
	shell = await TargetShell.open();
	await shell.ok(`rm -rf ${STORE}`);
	program = await shell.buildProgram('core_threads', '-g -O0');
	session = await HelperSession.open(sshTarget({ helperArgs: ['--store', STORE] }));
	local = mkdtempSync(join(tmpdir(), 'ckpt-core-'));
});

after(async () => {
	await shell.killStarted();
	await session.close();
	await shell.run(`rm -rf ${STORE}`);
	shell.close();
	rmSync(local, { recursive: true, force: true });
});

/** Starts the program and waits until both its threads have spun long enough to be in their loops. */
async function startSpinning(): Promise<{ pid: number; dir: string }> {
	const started = await shell.start([program, '{dir}']);
	await shell.waitForRecord(started.dir, 'state', (rec) => rec.length === 3 && rec[1] > 0 && rec[2] > 0);
	const ticks = `cat /proc/${started.pid}/task/*/stat | awk '{ print $14 }'`;
	let t: number[] = [];
	for (let tries = 0; tries < 250; tries++) {
		t = (await shell.ok(ticks)).trim().split('\n').map(Number);
		if (t.length === 2 && t.every((v) => v >= SPUN_TICKS)) return started;
		await sleep(40);
	}
	throw new Error(`the threads of ${program} did not spin: their user times stayed at ${t.join(', ')} ticks`);
}

/** gdb's batch output of "thread apply all bt full" on the target, for a core. */
async function gdbOnTarget(core: string, commands = ['thread apply all bt full']): Promise<string> {
	const ex = commands.map((c) => `-ex ${shellQuote(c)}`).join(' ');
	return (await shell.run(`gdb -batch -nx ${ex} ${shellQuote(program)} ${shellQuote(core)} 2>&1`)).stdout;
}

/** Both threads at their line with their locals, as "thread apply all bt full" tells them. */
function checkBacktraces(out: string, where: string): void {
	const threads = out.split(/^Thread \d+ /m).slice(1);
	assert.equal(threads.length, 2, `${where}: two threads in\n${out}`);
	const main = threads.find((t) => /#0 .* in main \(/.test(t));
	const worker = threads.find((t) => /#0 .* in worker \(/.test(t));
	assert.ok(main && worker, `${where}: one thread in main, one in worker:\n${out}`);
	assert.match(main, new RegExp(`#0 +0x[0-9a-f]+ in main \\(argc=2, argv=0x[0-9a-f]+\\) at (?:\\S*/)?core_threads\\.c:${MAIN_LINE}\\n`), where);
	assert.match(main, /\n {8}main_local = 1717\n {8}main_ratio = 2\.5\n/, where);
	assert.match(worker, new RegExp(`#0 +0x[0-9a-f]+ in worker \\(arg=0x0\\) at (?:\\S*/)?core_threads\\.c:${WORKER_LINE}\\n`), where);
	assert.match(worker, /\n {8}worker_local = 4242\n {8}worker_word = 0x[0-9a-f]+ "worker-word"\n/, where);
}

function ckpt(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
	const cli = join(REPO, 'out', 'src', 'cli', 'main.js');
	return new Promise((done) => {
		execFile(process.execPath, [cli, '--target', connectionFilePath(), '--store', STORE, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
			done({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr });
		});
	});
}

describe('core files', () => {
	let checkpoint: pb.Checkpoint;
	let core: pb.CoreResult;

	test('the helper writes a core of the two-threaded program from its checkpoint; gdb on the target shows both threads at their lines with their locals', async () => {
		const { pid, dir } = await startSpinning();
		checkpoint = await session.dump(pid, { leaveRunning: true, name: 'core' });
		const progress: string[] = [];
		core = await session.core(checkpoint.id, 0, { onProgress: (p) => progress.push(p.stage) });
		assert.equal(core.pid, pid);
		assert.equal(core.file, `core-${pid}.elf`);
		assert.equal(core.path, `${STORE}/${checkpoint.id}/core-${pid}.elf`);
		assert.equal(core.threads, 2);
		assert.equal(core.executable, program);
		assert.ok(Number(core.pagesWritten) > 0 && Number(core.pagesFromFiles) > 0, `pages: ${core.pagesWritten} of the checkpoint, ${core.pagesFromFiles} from files`);
		assert.deepEqual(progress, ['writing-core']);
		const out = await gdbOnTarget(core.path);
		checkBacktraces(out, 'gdb on the target');
		assert.match(out, new RegExp(`Core was generated by \`${program} ${dir}'\.`));
	});

	test('the core is one of the checkpoint\'s files: listed, counted in its size, and the images still read as before', async () => {
		const files = await session.imageFiles(checkpoint.id);
		const file = files.files.find((f) => f.name === core.file);
		assert.equal(Number(file?.size), Number(core.sizeBytes));
		const listed = (await session.list()).find((c) => c.id === checkpoint.id);
		assert.equal(Number(listed?.sizeBytes), Number(checkpoint.sizeBytes) + Number(core.sizeBytes));
		const images = await openCheckpoint(new HelperImageSource(session, checkpoint.id));
		assert.equal(images.processes.length, 1);
		assert.equal(images.processes[0].threads.length, 2);
	});

	test('ckpt core downloads it whole and private; gdb on this machine opens it too, with the program', async (t) => {
		const file = join(local, 'prog.core');
		const r = await ckpt('core', checkpoint.id, '-o', file);
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, new RegExp(`^wrote ${file}: the core of process ${core.pid} of checkpoint ${checkpoint.id}, 2 threads,`));
		assert.equal(statSync(file).mode & 0o777, 0o600);
		const sum = (await shell.ok(`sha256sum ${shellQuote(core.path)}`)).split(' ')[0];
		const { createHash } = await import('node:crypto');
		assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), sum, 'the same bytes as on the target');
		if (spawnSync('gdb', ['--version']).status !== 0) {
			t.skip('no gdb on this machine: the downloaded core was not opened here');
			return;
		}
		const prog = join(local, 'core_threads');
		writeFileSync(prog, Buffer.from((await shell.ok(`base64 -w0 ${shellQuote(program)}`)).trim(), 'base64'), { mode: 0o755 });
		const out = spawnSync('gdb', ['-batch', '-nx', '-ex', 'thread apply all bt full', prog, file], { encoding: 'utf8', cwd: local });
		checkBacktraces(`${out.stdout}${out.stderr}`, 'gdb on this machine');
	});

	test('the registers, libraries and mappings gdb reads from the core are those of gdb\'s own gcore of the same stopped process', async () => {
		const { pid } = await startSpinning();
		await shell.ok(`kill -STOP ${pid}`);
		let states = '';
		for (let tries = 0; tries < 250 && !/^(T\n)+$/.test(states); tries++) {
			states = await shell.ok(`cat /proc/${pid}/task/*/stat | awk '{ print $3 }'`);
			if (!/^(T\n)+$/.test(states)) await sleep(40);
		}
		assert.match(states, /^T\nT\n$/, 'both threads stopped');
		const gcore = `/tmp/ckpt-core-gcore.${pid}`;
		await shell.ok(`gdb -batch -nx -p ${pid} -ex ${shellQuote(`gcore ${gcore}`)} >/dev/null 2>&1`);
		const stopped = await session.dump(pid, { leaveRunning: true, name: 'stopped' });
		const ours = await session.core(stopped.id);
		const commands = ['thread apply all info registers', 'info sharedlibrary', 'info proc mappings'];
		// gdb 16's own gcore writes an XSAVE note it then finds too small: it shows no k0-k7 (ours does)
		const comparable = (out: string): string => out.split('\n')
			.filter((l) => l.trim() && !/^(warning:|k[0-7] |Program terminated with signal)/.test(l) && !/core file too small/.test(l))
			.map((l) => l.replace(gcore, 'CORE').replace(ours.path, 'CORE')).join('\n');
		const theirs = await gdbOnTarget(gcore, commands);
		const mine = await gdbOnTarget(ours.path, commands);
		await shell.run(`rm -f ${gcore}`);
		assert.match(mine, /Program terminated with signal SIGSTOP, Stopped \(signal\)\./);
		assert.match(theirs, /\nrip +0x[0-9a-f]+/, `gdb read registers from its own core:\n${theirs}`);
		assert.equal(comparable(mine), comparable(theirs));
	});

	test('refused in words: a process the checkpoint does not hold, a checkpoint that does not exist', async () => {
		await assert.rejects(session.core(checkpoint.id, 1), (e) => e instanceof Error &&
			/^cannot write a core file of process 1 of checkpoint .*: the checkpoint holds no process 1; its processes are \d+$/.test(e.message));
		await assert.rejects(session.core('no-such-checkpoint', 0), /no checkpoint no-such-checkpoint in /);
	});
});
