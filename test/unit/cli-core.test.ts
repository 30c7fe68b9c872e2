/**
 * `ckpt core` as a user runs it (the compiled CLI in a child process),
 * against a fake helper that writes no core but answers as the helper does:
 * a CoreResult, and the core's bytes through read_image (a pattern, a bit
 * over one 8 MiB chunk). The file lands whole, private, or not at all.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { coreArgs, formatCore } from '../../src/cli/core';
import { CheckpointError } from '../../src/core/errors';
import { pb } from '../../src/core/protocol';
import { ckpt, FAKE_HELPER_HEAD, installFakeHelper, NOT_ROOT } from './cliRunner';

const CORE_SIZE = 8 * 1024 * 1024 + 4096;

/** The byte at i of the fake core. */
const byteAt = (i: number): number => (i * 13 + (i >> 12)) & 0xff;

/*
 * The fake helper: checkpoint "ck" has processes 100 and 300; "gone" is no
 * checkpoint; CKPT_FAKE_SHORT makes read_image end the core early (a core
 * written again while it is downloaded).
 */
const FAKE_HELPER = `${FAKE_HELPER_HEAD}const SIZE = ${CORE_SIZE};
const byteAt = ${byteAt.toString()};
const decoder = new FrameDecoder();
const send = (m) => process.stdout.write(encodeFrame(pb.HelperMessage.encode(pb.HelperMessage.create(m)).finish()));
const answer = (response) => send({ response: pb.Response.create(response) });
function core(id, rq) {
	if (rq.checkpointId !== 'ck') return answer({ id, error: { code: pb.ErrorCode.ERROR_CODE_NOT_FOUND, message: 'no checkpoint ' + rq.checkpointId + ' in /store' } });
	const pid = rq.pid || 100;
	if (pid !== 100 && pid !== 300) return answer({ id, error: { code: pb.ErrorCode.ERROR_CODE_NOT_FOUND, message: 'cannot write a core file of process ' + pid + ' of checkpoint ck: the checkpoint holds no process ' + pid + '; its processes are 100, 300' } });
	send({ event: { requestId: id, progress: { stage: 'writing-core', message: '2 threads, 2049 pages of the checkpoint into core-' + pid + '.elf' } } });
	answer({ id, core: { checkpointId: 'ck', pid, file: 'core-' + pid + '.elf', path: '/store/ck/core-' + pid + '.elf', sizeBytes: SIZE, threads: 2, segments: 12,
		pagesWritten: 2049, pagesLazy: 3, pagesFromFiles: 2, executable: '/usr/bin/prog', writeTimeUs: 2500 } });
}
function read(id, rq) {
	const data = rq.ranges.map((r) => {
		const end = Math.min(SIZE - (process.env.CKPT_FAKE_SHORT ? 100 : 0), r.offset + r.length);
		const b = Buffer.alloc(Math.max(0, end - r.offset));
		for (let i = 0; i < b.length; i++) b[i] = byteAt(r.offset + i);
		return b;
	});
	answer({ id, readImage: { data } });
}
function handle(req) {
	if (req.core) return core(req.id, req.core);
	if (req.readImage) return read(req.id, req.readImage);
	answer({ id: req.id, error: { code: pb.ErrorCode.ERROR_CODE_BAD_REQUEST, message: 'the fake helper does not do ' + req.op } });
}
process.stdin.on('data', (chunk) => { for (const frame of decoder.push(chunk)) handle(pb.Request.decode(frame)); });
process.stdin.on('end', () => process.exit(0));
`;

let dir: string;
let env: NodeJS.ProcessEnv;
let remove: () => void;

before(() => {
	({ dir, env, remove } = installFakeHelper('ckpt-cli-core-', FAKE_HELPER));
});

after(() => remove());

/** A fresh folder for a command's output. */
function outDir(name: string): string {
	const d = join(dir, name);
	mkdirSync(d);
	return d;
}

function isFakeCore(data: Buffer): boolean {
	if (data.length !== CORE_SIZE) return false;
	for (let i = 0; i < data.length; i++) if (data[i] !== byteAt(i)) return false;
	return true;
}

describe('ckpt core', { skip: NOT_ROOT }, () => {
	test('writes the root\'s core on the target and downloads it whole, private, and says how to open it', async () => {
		const d = outDir('root');
		const file = join(d, 'prog.core');
		const r = await ckpt(env, 'core', 'ck', '-o', file);
		assert.equal(r.code, 0, r.stderr);
		assert.ok(isFakeCore(readFileSync(file)), 'the file holds the core\'s bytes, both chunks');
		assert.equal(statSync(file).mode & 0o777, 0o600);
		assert.deepEqual(readdirSync(d), ['prog.core'], 'nothing else: no partial file');
		assert.equal(r.stdout, [
			`wrote ${file}: the core of process 100 of checkpoint ck, 2 threads, 8.0 MiB`,
			'  2049 pages of the checkpoint and 2 ELF header pages of the mapped files in 12 segments; not in the checkpoint (read as zeros): 3 pages left for a lazy restore',
			'  on the target: /store/ck/core-100.elf (written in 2.5 ms)',
			`  open it with: gdb /usr/bin/prog ${file}`,
			'',
		].join('\n'));
		assert.match(r.stderr, /^… 2 threads, 2049 pages of the checkpoint into core-100\.elf\n$/);
	});

	test('--pid picks the process; --json gives the result and where the file went; an existing file is replaced', async () => {
		const d = outDir('pid');
		const file = join(d, 'core');
		writeFileSync(file, 'old');
		const r = await ckpt(env, '--json', 'core', 'ck', '--pid', '300', '-o', file);
		assert.equal(r.code, 0, r.stderr);
		const json = JSON.parse(r.stdout) as { pid: number; file: string; sizeBytes: number; output: string; pagesFromFiles: number };
		assert.equal(json.pid, 300);
		assert.equal(json.file, 'core-300.elf');
		assert.equal(json.sizeBytes, CORE_SIZE);
		assert.equal(json.pagesFromFiles, 2);
		assert.equal(json.output, file);
		assert.ok(isFakeCore(readFileSync(file)));
	});

	test('refused by the helper: its words, exit status 1, nothing written', async () => {
		const d = outDir('refused');
		const r = await ckpt(env, 'core', 'ck', '--pid', '7', '-o', join(d, 'core'));
		assert.equal(r.code, 1);
		assert.equal(r.stderr, 'ckpt: cannot write a core file of process 7 of checkpoint ck: the checkpoint holds no process 7; its processes are 100, 300\n');
		assert.deepEqual(readdirSync(d), []);
		const gone = await ckpt(env, 'core', 'gone', '-o', join(d, 'core'));
		assert.equal(gone.stderr, 'ckpt: no checkpoint gone in /store\n');
	});

	test('a core that ends early while it is downloaded: refused, the old file kept, no partial file', async () => {
		const d = outDir('short');
		const file = join(d, 'core');
		writeFileSync(file, 'old');
		const r = await ckpt({ ...env, CKPT_FAKE_SHORT: '1' }, 'core', 'ck', '-o', file);
		assert.equal(r.code, 1);
		assert.match(r.stderr, /\nckpt: this machine: checkpoint ck: core-100\.elf ends before byte 8392704 \(got 3996 of 4096 bytes at 8388608\); the image is truncated\n$/);
		assert.equal(readFileSync(file, 'utf8'), 'old');
		assert.deepEqual(readdirSync(d), ['core']);
	});

	test('usage errors before anything is started', async () => {
		const none = { ...env, CKPT_HELPER_DIR: '/nonexistent' };
		const d = outDir('usage');
		const cases: Array<[string[], RegExp]> = [
			[['core', 'ck'], /^ckpt: ckpt core needs -o FILE, where the core file goes, e\.g\. "ckpt core ck -o core\.elf"\n$/],
			[['core', '-o', 'x'], /^ckpt: ckpt core needs a checkpoint id \(see "ckpt ls"\)\n$/],
			[['core', 'ck', 'more', '-o', 'x'], /^ckpt: ckpt core takes one argument; unexpected "more"\n$/],
			[['core', 'ck', '--pid', 'abc', '-o', 'x'], /^ckpt: --pid "abc" is not a process id; give one of the checkpoint's \(see "ckpt show ck"\), or leave it out for its root\n$/],
			[['core', 'ck', '--pid', '0', '-o', 'x'], /--pid "0" is not a process id/],
			[['core', 'ck', '-o', d], /^ckpt: -o .* is a directory; give the core file's path, e\.g\. -o .*\/usage\/core\.elf\n$/],
			[['ls', '-o', 'x'], /^ckpt: -o\/--output is for core, not ls\n$/],
		];
		for (const [args, want] of cases) {
			const r = await ckpt(none, ...args);
			assert.equal(r.code, 2, args.join(' '));
			assert.match(r.stderr, want, args.join(' '));
		}
	});

	test('--help tells the command', async () => {
		const r = await ckpt(env, '--help');
		assert.match(r.stdout, /\n {2}core ID \[--pid P\] -o FILE {11}an ELF core file of process P of the checkpoint \(default: its\n/);
	});
});

describe('coreArgs and formatCore', () => {
	test('the pid defaults to the root; the output is made absolute', () => {
		assert.deepEqual(coreArgs(['ck'], { output: 'rel/core' }), { id: 'ck', pid: 0, output: resolve('rel/core') });
		assert.equal(coreArgs(['ck'], { output: '/x', pid: '42' }).pid, 42);
		assert.throws(() => coreArgs(['ck'], { output: '/x', pid: '1e3' }), (e) => e instanceof CheckpointError && e.kind === 'usage');
	});

	test('a core without pages from files or missing pages, and without a program named', () => {
		const r = pb.CoreResult.create({ checkpointId: 'ck', pid: 5, file: 'core-5.elf', path: '/s/ck/core-5.elf', sizeBytes: 4096, threads: 1, segments: 1, pagesWritten: 1, writeTimeUs: 120 });
		assert.equal(formatCore(r, '/tmp/c'), [
			'wrote /tmp/c: the core of process 5 of checkpoint ck, 1 thread, 4.0 KiB',
			'  1 page of the checkpoint in 1 segment',
			'  on the target: /s/ck/core-5.elf (written in 0.1 ms)',
			'  open it with: gdb PROGRAM /tmp/c',
		].join('\n'));
	});
});
