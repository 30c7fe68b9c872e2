import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { pb } from '../../src/core/protocol';
import { CheckpointError, type ErrorKind } from '../../src/core/errors';
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from '../../src/core/framing';
import { HelperClient, errorFromHelper } from '../../src/core/helperClient';
import { HelperSession, type ProgramEvent } from '../../src/core/session';
import type { HelperChannel, HelperExit, Target } from '../../src/core/target';


/** Per-test limit: a broken client must fail a test, not hang the run. */
const T = { timeout: 5000 };

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The helper's side of a HelperChannel: decodes the Request frames the client
 * writes to stdin and answers on stdout; exits when told to.
 */
class FakeHelper {
	readonly stdin = new PassThrough();
	readonly stdout = new PassThrough();
	readonly stderr = new PassThrough();
	readonly channel: HelperChannel;
	closeCalls = 0;
	stderrSeen = '';
	private exit!: (e: HelperExit) => void;
	private readonly exited: Promise<HelperExit>;
	private readonly decoder = new FrameDecoder();
	private readonly requests: pb.Request[] = [];
	private waiters: (() => void)[] = [];
	private taken = 0;

	constructor() {
		this.exited = new Promise<HelperExit>((resolve) => { this.exit = resolve; });
		this.stdin.on('data', (chunk: Buffer) => {
			for (const frame of this.decoder.push(chunk)) this.requests.push(pb.Request.decode(frame));
			const w = this.waiters;
			this.waiters = [];
			for (const wake of w) wake();
		});
		this.stderr.on('data', (chunk: Buffer) => { this.stderrSeen += chunk.toString(); });
		this.channel = {
			stdin: this.stdin,
			stdout: this.stdout,
			stderr: this.stderr,
			exited: this.exited,
			close: () => {
				this.closeCalls++;
			},
		};
	}

	/** The next request the client sent, in order. */
	async nextRequest(): Promise<pb.Request> {
		while (this.requests.length <= this.taken) await new Promise<void>((resolve) => this.waiters.push(resolve));
		return this.requests[this.taken++];
	}

	/** How many requests have arrived (taken or not). */
	get received(): number {
		return this.requests.length;
	}

	static frame(message: pb.HelperMessage.$Shape): Buffer {
		return encodeFrame(pb.HelperMessage.encode(pb.HelperMessage.create(message)).finish());
	}

	send(message: pb.HelperMessage.$Shape): void {
		this.stdout.write(FakeHelper.frame(message));
	}

	respond(response: pb.Response.$Shape): void {
		this.send({ response });
	}

	event(event: pb.Event.$Shape): void {
		this.send({ event });
	}

	async writeStderr(text: string): Promise<void> {
		const want = this.stderrSeen.length + text.length;
		this.stderr.write(text);
		while (this.stderrSeen.length < want) await tick();
	}

	exitWith(exit: HelperExit): void {
		this.exit(exit);
	}
}

/** Rejects-validator: a CheckpointError of this kind. */
function isKind(kind: ErrorKind, check?: (err: CheckpointError) => void): (err: unknown) => boolean {
	return (err: unknown) => {
		assert.ok(err instanceof CheckpointError, `expected a CheckpointError, got ${String(err)}`);
		assert.equal(err.kind, kind, `kind of "${err.message}"`);
		check?.(err);
		return true;
	};
}

function setup(): { fake: FakeHelper; client: HelperClient } {
	const fake = new FakeHelper();
	return { fake, client: new HelperClient(fake.channel, 'test-host') };
}

/** Ends the fake helper so no request (and no timer) outlives the test. */
async function finish(fake: FakeHelper): Promise<void> {
	fake.exitWith({ code: 0, signal: null });
	await tick();
}

describe('HelperClient', () => {
	test('a request is one frame of a Request with a fresh id and the body under the op field', T, async () => {
		const { fake, client } = setup();
		const p = client.request('freeze', { rootPid: 4242, timeoutMs: 500 });
		const req = await fake.nextRequest();
		assert.ok(req.id > 0);
		assert.equal(req.op, 'freeze');
		assert.equal(req.freeze?.rootPid, 4242);
		assert.equal(req.freeze?.timeoutMs, 500);
		fake.respond({ id: req.id, freeze: { rootPid: 4242, state: pb.TreeState.TREE_STATE_FROZEN, pids: [4242, 4243], cgroup: '/ckpt/4242' } });
		const result = await p;
		assert.ok(result instanceof pb.FreezeResult);
		assert.equal(result.rootPid, 4242);
		assert.equal(result.state, pb.TreeState.TREE_STATE_FROZEN);
		assert.deepEqual(result.pids, [4242, 4243]);
		assert.equal(result.cgroup, '/ckpt/4242');
		await finish(fake);
	});

	test('an empty result message still resolves (hello with defaults)', T, async () => {
		const { fake, client } = setup();
		const p = client.request('hello', {});
		const req = await fake.nextRequest();
		assert.equal(req.op, 'hello');
		fake.respond({ id: req.id, hello: {} });
		const hello = await p;
		assert.equal(hello.helperVersion, '');
		assert.equal(hello.euid, 0);
		await finish(fake);
	});

	test('concurrent requests answered out of order are matched by id', T, async () => {
		const { fake, client } = setup();
		const ps = client.request('ps', { rootPid: 1 });
		const thaw = client.request('thaw', { rootPid: 77 });
		const del = client.request('delete', { checkpointId: 'ck-1' });
		const list = client.request('list', {});
		const reqs = [await fake.nextRequest(), await fake.nextRequest(), await fake.nextRequest(), await fake.nextRequest()];
		assert.deepEqual(reqs.map((r) => r.op), ['ps', 'thaw', 'delete', 'list']);
		assert.equal(new Set(reqs.map((r) => r.id)).size, 4, 'ids are distinct');
		assert.equal(reqs[0].ps?.rootPid, 1);
		assert.equal(reqs[1].thaw?.rootPid, 77);
		assert.equal(reqs[2].delete?.checkpointId, 'ck-1');
		const [rPs, rThaw, rDel, rList] = reqs;

		// Reverse order; two responses share one stdout chunk, one arrives byte by byte.
		fake.stdout.write(Buffer.concat([
			FakeHelper.frame({ response: { id: rList.id, list: { checkpoints: [pb.Checkpoint.create({ id: 'ck-9', name: 'nine' })] } } }),
			FakeHelper.frame({ response: { id: rDel.id, delete: { checkpointId: 'ck-1' } } }),
		]));
		const thawFrame = FakeHelper.frame({ response: { id: rThaw.id, thaw: { rootPid: 77, state: pb.TreeState.TREE_STATE_RUNNING } } });
		for (const byte of thawFrame) fake.stdout.write(Buffer.from([byte]));
		fake.respond({ id: rPs.id, ps: { processes: [pb.ProcessInfo.create({ pid: 1, comm: 'init' }), pb.ProcessInfo.create({ pid: 2, ppid: 1, comm: 'sh' })] } });

		const [psResult, thawResult, delResult, listResult] = await Promise.all([ps, thaw, del, list]);
		assert.deepEqual(psResult.processes.map((p) => [p.pid, p.comm]), [[1, 'init'], [2, 'sh']]);
		assert.equal(thawResult.rootPid, 77);
		assert.equal(thawResult.state, pb.TreeState.TREE_STATE_RUNNING);
		assert.equal(delResult.checkpointId, 'ck-1');
		assert.deepEqual(listResult.checkpoints.map((c) => c.id), ['ck-9']);
		await finish(fake);
	});

	test('a response for an unknown id is ignored', T, async () => {
		const { fake, client } = setup();
		const p = client.request('thaw', { rootPid: 5 });
		const req = await fake.nextRequest();
		fake.respond({ id: req.id + 1000, thaw: { rootPid: 999 } });
		fake.respond({ id: req.id, thaw: { rootPid: 5 } });
		assert.equal((await p).rootPid, 5);
		await finish(fake);
	});

	test('progress events reach the onProgress of their own request only', T, async () => {
		const { fake, client } = setup();
		const seenA: string[] = [];
		const seenB: string[] = [];
		const a = client.request('dump', { rootPid: 10, name: 'a' }, { onProgress: (p) => seenA.push(`${p.stage}:${p.message}`) });
		const b = client.request('dump', { rootPid: 20, name: 'b' }, { onProgress: (p) => seenB.push(`${p.stage}:${p.message}`) });
		const ra = await fake.nextRequest();
		const rb = await fake.nextRequest();
		assert.equal(ra.dump?.name, 'a');
		assert.equal(rb.dump?.name, 'b');
		fake.event({ requestId: rb.id, progress: { stage: 'freezing', message: 'b1' } });
		fake.event({ requestId: ra.id, progress: { stage: 'freezing', message: 'a1' } });
		fake.event({ requestId: 0, progress: { stage: 'stray', message: 'nobody' } });
		fake.event({ requestId: 9999, progress: { stage: 'stray', message: 'unknown id' } });
		fake.event({ requestId: ra.id, progress: { stage: 'dumping', message: 'a2' } });
		fake.respond({ id: ra.id, dump: { checkpoint: pb.Checkpoint.create({ id: 'ck-a', rootPid: 10 }) } });
		// After its response, a request's progress is no longer delivered.
		fake.event({ requestId: ra.id, progress: { stage: 'late', message: 'a3' } });
		fake.event({ requestId: rb.id, progress: { stage: 'dumping', message: 'b2' } });
		fake.respond({ id: rb.id, dump: { checkpoint: pb.Checkpoint.create({ id: 'ck-b', rootPid: 20 }) } });
		const [da, db] = await Promise.all([a, b]);
		assert.equal(da.checkpoint?.id, 'ck-a');
		assert.equal(db.checkpoint?.id, 'ck-b');
		assert.deepEqual(seenA, ['freezing:a1', 'dumping:a2']);
		assert.deepEqual(seenB, ['freezing:b1', 'dumping:b2']);
		await finish(fake);
	});

	test('treeState events are emitted as "treeState"', T, async () => {
		const { fake, client } = setup();
		const seen: Array<[number, pb.TreeState]> = [];
		client.on('treeState', (change) => {
			assert.ok(change instanceof pb.TreeStateChange);
			seen.push([change.rootPid, change.state]);
		});
		const got = new Promise<pb.TreeStateChange>((resolve) => client.once('treeState', resolve));
		fake.event({ requestId: 0, treeState: { rootPid: 321, state: pb.TreeState.TREE_STATE_FROZEN } });
		fake.event({ requestId: 0, treeState: { rootPid: 321, state: pb.TreeState.TREE_STATE_GONE } });
		const first = await got;
		assert.equal(first.rootPid, 321);
		assert.equal(first.state, pb.TreeState.TREE_STATE_FROZEN);
		// An event for a request id that has a treeState still reaches listeners.
		const p = client.request('thaw', { rootPid: 321 });
		const req = await fake.nextRequest();
		fake.event({ requestId: req.id, treeState: { rootPid: 321, state: pb.TreeState.TREE_STATE_RUNNING } });
		fake.respond({ id: req.id, thaw: { rootPid: 321, state: pb.TreeState.TREE_STATE_RUNNING } });
		await p;
		assert.deepEqual(seen, [
			[321, pb.TreeState.TREE_STATE_FROZEN],
			[321, pb.TreeState.TREE_STATE_GONE],
			[321, pb.TreeState.TREE_STATE_RUNNING],
		]);
		await finish(fake);
	});

	test('program output and exit after the launch answer reach their listeners, in order', T, async () => {
		const { fake, client } = setup();
		const seen: string[] = [];
		client.on('programOutput', (o) => {
			assert.ok(o instanceof pb.ProgramOutput);
			seen.push(`${o.rootPid} ${pb.OutputStream[o.stream]} ${Buffer.from(o.data).toString()}`);
		});
		client.on('programExit', (x) => seen.push(`${x.rootPid} exit ${x.exitCode} ${x.signal}`));
		const p = client.request('launch', { program: '/bin/prog', args: ['a', 'b c'], cwd: '/tmp', env: ['A=1'] });
		const req = await fake.nextRequest();
		assert.equal(req.op, 'launch');
		assert.deepEqual(pb.LaunchRequest.toObject(req.launch ?? pb.LaunchRequest.create()), { program: '/bin/prog', args: ['a', 'b c'], cwd: '/tmp', env: ['A=1'] });
		// The answer and the first output in one chunk: the output is not taken for progress.
		fake.stdout.write(Buffer.concat([
			FakeHelper.frame({ response: { id: req.id, launch: { rootPid: 700 } } }),
			FakeHelper.frame({ event: { requestId: req.id, programOutput: { rootPid: 700, stream: pb.OutputStream.OUTPUT_STREAM_STDOUT, data: Buffer.from('one') } } }),
		]));
		assert.equal((await p).rootPid, 700);
		fake.event({ requestId: req.id, programOutput: { rootPid: 700, stream: pb.OutputStream.OUTPUT_STREAM_STDERR, data: Buffer.from('two') } });
		fake.event({ requestId: req.id, programOutput: { rootPid: 700, stream: pb.OutputStream.OUTPUT_STREAM_STDOUT, data: Buffer.from('three') } });
		fake.event({ requestId: req.id, programExit: { rootPid: 700, exitCode: 3 } });
		const k = client.request('kill', { rootPid: 700 });
		const kreq = await fake.nextRequest();
		assert.equal(kreq.kill?.rootPid, 700);
		fake.respond({ id: kreq.id, kill: { rootPid: 700, killedPids: [700, 701] } });
		assert.deepEqual((await k).killedPids, [700, 701]);
		assert.deepEqual(seen, [
			'700 OUTPUT_STREAM_STDOUT one',
			'700 OUTPUT_STREAM_STDERR two',
			'700 OUTPUT_STREAM_STDOUT three',
			'700 exit 3 0',
		]);
		await finish(fake);
	});

	test('an error response rejects with a CheckpointError of the mapped kind, with CRIU details', T, async () => {
		const { fake, client } = setup();
		const p = client.request('dump', { rootPid: 42 });
		const req = await fake.nextRequest();
		fake.respond({
			id: req.id,
			error: {
				code: pb.ErrorCode.ERROR_CODE_CRIU_FAILED,
				message: 'CRIU could not dump process 42',
				errnoValue: 13,
				criuMessage: 'Dumping FAILED.',
				criuLog: ['(00.1) Error: connected TCP socket', '(00.2) Dumping FAILED.'],
				criuLogPath: '/var/lib/ckpt/work/dump.log',
			},
		});
		await assert.rejects(p, isKind('criu-failed', (err) => {
			assert.equal(err.message, 'CRIU could not dump process 42');
			assert.equal(err.errno, 13);
			assert.deepEqual(err.criu, {
				message: 'Dumping FAILED.',
				log: ['(00.1) Error: connected TCP socket', '(00.2) Dumping FAILED.'],
				logPath: '/var/lib/ckpt/work/dump.log',
			});
			assert.match(err.describe(), /CRIU: Dumping FAILED\./);
			assert.match(err.describe(), /\/var\/lib\/ckpt\/work\/dump\.log/);
		}));
		await finish(fake);
	});

	test('a timeout rejects with kind "timeout"; a late answer is ignored and the client keeps working', T, async () => {
		const { fake, client } = setup();
		const started = Date.now();
		const p = client.request('hello', {}, { timeoutMs: 40 });
		const req = await fake.nextRequest();
		await assert.rejects(p, isKind('timeout', (err) => {
			assert.match(err.message, /"hello"/);
			assert.match(err.message, /test-host/);
			assert.match(err.message, /within 40 ms/);
		}));
		assert.ok(Date.now() - started >= 35, 'did not time out early');
		fake.respond({ id: req.id, hello: { helperVersion: 'late' } });
		const again = client.request('hello', {}, { timeoutMs: 1000 });
		const req2 = await fake.nextRequest();
		assert.notEqual(req2.id, req.id);
		fake.respond({ id: req2.id, hello: { helperVersion: '2.0' } });
		assert.equal((await again).helperVersion, '2.0');
		await finish(fake);
	});

	test('a timeout on one request leaves the others pending', T, async () => {
		const { fake, client } = setup();
		const slow = client.request('list', {}, { timeoutMs: 5000 });
		const fast = client.request('ps', {}, { timeoutMs: 20 });
		const rSlow = await fake.nextRequest();
		await fake.nextRequest();
		await assert.rejects(fast, isKind('timeout'));
		fake.respond({ id: rSlow.id, list: { checkpoints: [] } });
		assert.deepEqual((await slow).checkpoints, []);
		await finish(fake);
	});

	test('timeoutMs 0 means no timeout', T, async () => {
		const { fake, client } = setup();
		const p = client.request('ps', {}, { timeoutMs: 0 });
		const req = await fake.nextRequest();
		await sleep(30);
		fake.respond({ id: req.id, ps: { processes: [pb.ProcessInfo.create({ pid: 7 })] } });
		assert.equal((await p).processes[0].pid, 7);
		await finish(fake);
	});

	test('the helper exiting rejects every pending request with "helper-exited" and the stderr tail', T, async () => {
		const { fake, client } = setup();
		const exits: HelperExit[] = [];
		client.on('exit', (e) => exits.push(e));
		const a = client.request('dump', { rootPid: 1 });
		const b = client.request('restore', { checkpointId: 'x' });
		await fake.nextRequest();
		await fake.nextRequest();
		await fake.writeStderr('line 1\nline 2\nline 3\n');
		await fake.writeStderr('line 4\nline 5\nline 6\nfatal: out of memory\n');
		fake.exitWith({ code: 3, signal: null });
		const check = (err: CheckpointError): void => {
			assert.match(err.message, /test-host/);
			assert.match(err.message, /exited with status 3/);
			assert.ok(err.message.includes('line 3 | line 4 | line 5 | line 6 | fatal: out of memory'), err.message);
			assert.ok(!err.message.includes('line 2'), 'only the last five stderr lines');
		};
		await assert.rejects(a, isKind('helper-exited', check));
		await assert.rejects(b, isKind('helper-exited', check));
		assert.deepEqual(exits, [{ code: 3, signal: null }]);

		// Later requests reject at once, without writing anything to the helper.
		const before = fake.received;
		await assert.rejects(client.request('hello', {}), isKind('helper-exited', check));
		await tick();
		assert.equal(fake.received, before);
	});

	test('a helper killed by a signal says so; with no stderr there is no trailing colon', T, async () => {
		const { fake, client } = setup();
		const p = client.request('ps', {});
		await fake.nextRequest();
		fake.exitWith({ code: null, signal: 'SIGKILL' });
		await assert.rejects(p, isKind('helper-exited', (err) => {
			assert.equal(err.message, 'the helper on test-host was killed by SIGKILL');
		}));
	});

	test('an oversize frame header rejects pending requests with "protocol" and closes the channel', T, async () => {
		const { fake, client } = setup();
		const p = client.request('list', {});
		await fake.nextRequest();
		const bad = Buffer.alloc(4);
		bad.writeUInt32LE(MAX_FRAME_BYTES + 1, 0);
		fake.stdout.write(bad);
		await assert.rejects(p, isKind('protocol', (err) => {
			assert.match(err.message, new RegExp(String(MAX_FRAME_BYTES + 1)));
		}));
		assert.equal(fake.closeCalls, 1);
		// Later requests fail with the same error, immediately.
		await assert.rejects(client.request('hello', {}), isKind('protocol'));
		// The helper then exiting does not replace the first cause.
		fake.exitWith({ code: 0, signal: null });
		await tick();
		await assert.rejects(client.request('hello', {}), isKind('protocol'));
	});

	test('a frame that does not decode as a HelperMessage is a protocol error and closes the channel', T, async () => {
		const { fake, client } = setup();
		const p = client.request('list', {});
		await fake.nextRequest();
		// Field 1 (response), length-delimited, claims 5 bytes but has 1.
		fake.stdout.write(encodeFrame(Buffer.from([0x0a, 0x05, 0x08])));
		await assert.rejects(p, isKind('protocol', (err) => assert.match(err.message, /does not decode/)));
		assert.equal(fake.closeCalls, 1);
		await finish(fake);
	});

	test('a response whose result does not match the op is a protocol error', T, async () => {
		const { fake, client } = setup();
		const p = client.request('freeze', { rootPid: 9 });
		const req = await fake.nextRequest();
		fake.respond({ id: req.id, thaw: { rootPid: 9 } });
		await assert.rejects(p, isKind('protocol', (err) => {
			assert.match(err.message, /"freeze"/);
			assert.match(err.message, /thaw/);
		}));
		// The client stays usable: that was one bad answer, not a broken stream.
		const q = client.request('thaw', { rootPid: 9 });
		const req2 = await fake.nextRequest();
		fake.respond({ id: req2.id, thaw: { rootPid: 9 } });
		assert.equal((await q).rootPid, 9);
		assert.equal(fake.closeCalls, 0);
		await finish(fake);
	});

	test('a response with no result at all is a protocol error', T, async () => {
		const { fake, client } = setup();
		const p = client.request('list', {});
		const req = await fake.nextRequest();
		fake.respond({ id: req.id });
		await assert.rejects(p, isKind('protocol', (err) => assert.match(err.message, /nothing/)));
		await finish(fake);
	});

	test('close() closes the channel and resolves only once the helper has exited', T, async () => {
		const { fake, client } = setup();
		const p = client.request('list', {});
		await fake.nextRequest();
		let closed = false;
		const closing = client.close().then(() => { closed = true; });
		assert.equal(fake.closeCalls, 1);
		await sleep(20);
		assert.equal(closed, false, 'close() must wait for the helper to exit');
		fake.exitWith({ code: 0, signal: null });
		await closing;
		assert.equal(closed, true);
		await assert.rejects(p, isKind('helper-exited', (err) => assert.match(err.message, /exited with status 0/)));
	});
});

/** A target whose helper is the fake one. */
class FakeTarget implements Target {
	readonly description = 'fake-target';

	constructor(private readonly fake: FakeHelper) {}

	async startHelper(): Promise<HelperChannel> {
		return this.fake.channel;
	}

	async imageSource(): Promise<never> {
		throw new Error('not used');
	}

	async readFile(): Promise<never> {
		throw new Error('not used');
	}

	async close(): Promise<void> {}
}

describe('HelperSession programs', () => {
	test('launch sends the environment as NAME=value; a bad name is refused before anything is sent', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		const p = session.launch('/bin/env', { env: { A: '1', B: 'x=y', EMPTY: '' } });
		const req = await fake.nextRequest();
		assert.deepEqual(req.launch?.env, ['A=1', 'B=x=y', 'EMPTY=']);
		assert.deepEqual(req.launch?.args, []);
		assert.equal(req.launch?.cwd, '');
		fake.respond({ id: req.id, launch: { rootPid: 5 } });
		assert.equal((await p).rootPid, 5);
		const before = fake.received;
		await assert.rejects(session.launch('/bin/env', { env: { 'A=B': '1' } }), isKind('bad-request', (err) => assert.match(err.message, /A=B/)));
		await assert.rejects(session.launch('/bin/env', { env: { '': '1' } }), isKind('bad-request'));
		await tick();
		assert.equal(fake.received, before);
		await finish(fake);
	});

	test('onProgramEvent gives output as Buffers by stream and the end as code or signal; its disposer stops it', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		const seen: ProgramEvent[] = [];
		const stop = session.onProgramEvent((e) => seen.push(e));
		fake.event({ requestId: 4, programOutput: { rootPid: 9, stream: pb.OutputStream.OUTPUT_STREAM_STDOUT, data: Buffer.from('out') } });
		fake.event({ requestId: 4, programOutput: { rootPid: 9, stream: pb.OutputStream.OUTPUT_STREAM_STDERR, data: Buffer.from('err') } });
		fake.event({ requestId: 4, programExit: { rootPid: 9, exitCode: 0 } });
		fake.event({ requestId: 6, programExit: { rootPid: 10, signal: 9 } });
		fake.event({ requestId: 6, programExit: { rootPid: 11, exitCode: 2 } });
		await sleep(10);
		stop();
		fake.event({ requestId: 6, programOutput: { rootPid: 11, data: Buffer.from('late') } });
		await sleep(10);
		assert.deepEqual(seen, [
			{ kind: 'output', rootPid: 9, stream: 'stdout', data: Buffer.from('out') },
			{ kind: 'output', rootPid: 9, stream: 'stderr', data: Buffer.from('err') },
			{ kind: 'exit', rootPid: 9, code: 0, signal: null },
			{ kind: 'exit', rootPid: 10, code: null, signal: 9 },
			{ kind: 'exit', rootPid: 11, code: 2, signal: null },
		]);
		assert.ok(seen[0].kind === 'output' && Buffer.isBuffer(seen[0].data));
		await finish(fake);
	});
});

describe('HelperSession rename', () => {
	test('sends the id and the name ("" too) and returns the rewritten manifest', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		for (const name of ['after', '']) {
			const p = session.rename('20260101-120000-ab12', name);
			const req = await fake.nextRequest();
			assert.deepEqual(pb.RenameRequest.toObject(req.rename ?? pb.RenameRequest.create(), { defaults: true }), { checkpointId: '20260101-120000-ab12', name });
			fake.respond({ id: req.id, rename: { checkpoint: pb.Checkpoint.create({ id: '20260101-120000-ab12', name, rootPid: 7 }) } });
			const c = await p;
			assert.equal(c.name, name);
			assert.equal(c.rootPid, 7);
		}
		await finish(fake);
	});

	test('a refusal comes back as its kind; an answer without the manifest is a protocol error', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		const missing = session.rename('nope', 'x');
		let req = await fake.nextRequest();
		fake.respond({ id: req.id, error: { code: pb.ErrorCode.ERROR_CODE_NOT_FOUND, message: 'no checkpoint nope in /store' } });
		await assert.rejects(missing, isKind('not-found', (err) => assert.match(err.message, /nope/)));
		const empty = session.rename('a', 'x');
		req = await fake.nextRequest();
		fake.respond({ id: req.id, rename: {} });
		await assert.rejects(empty, isKind('protocol', (err) => assert.match(err.message, /fake-target.*renamed a/)));
		await finish(fake);
	});
});

describe('HelperSession leaks', () => {
	test('sends the root pid and the rules; returns the leaks; a refusal keeps its leaks', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		const rules = [{ kind: pb.LeakKind.LEAK_KIND_PIPE, resource: 'pipe:[1]', policy: pb.LeakPolicy.LEAK_POLICY_EXTERNAL }];
		const p = session.leaks(42, rules);
		let req = await fake.nextRequest();
		assert.equal(req.leaks?.rootPid, 42);
		assert.deepEqual(req.leaks?.policy.map((r) => pb.LeakRule.toObject(r, { defaults: true })), rules);
		fake.respond({ id: req.id, leaks: { leaks: [pb.Leak.create({ kind: pb.LeakKind.LEAK_KIND_PIPE, resource: 'pipe:[1]' })], stats: pb.LeakScanStats.create({ processes: 3 }) } });
		const r = await p;
		assert.equal(r.leaks[0].resource, 'pipe:[1]');
		assert.equal(r.stats?.processes, 3);

		const none = session.leaks(43);
		req = await fake.nextRequest();
		assert.deepEqual(req.leaks?.policy, []);
		fake.respond({ id: req.id, leaks: {} });
		assert.deepEqual((await none).leaks, []);

		const dump = session.dump(44, { policy: rules });
		req = await fake.nextRequest();
		assert.equal(req.dump?.policy[0].resource, 'pipe:[1]');
		fake.respond({ id: req.id, error: { code: pb.ErrorCode.ERROR_CODE_LEAKS_REFUSED, message: 'refused', leaks: [pb.Leak.create({ kind: pb.LeakKind.LEAK_KIND_TTY, resource: '/dev/pts/1' })] } });
		await assert.rejects(dump, isKind('leaks-refused', (err) => assert.deepEqual(err.leaks.map((l) => l.resource), ['/dev/pts/1'])));
		await finish(fake);
	});
});

describe('HelperSession dump', () => {
	test('shares pages unless asked to keep every page (selfContained); the manifest says what it stands on', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		const shared = session.dump(44, { name: 'a' });
		let req = await fake.nextRequest();
		assert.equal(req.dump?.selfContained, false);
		fake.respond({ id: req.id, dump: { checkpoint: pb.Checkpoint.create({ id: 'ck-2', parent: 'ck-1', sharing: pb.PageSharing.create({ sharedPages: 90, ownPages: 10, timeUs: 700 }) }) } });
		const c = await shared;
		assert.equal(c.parent, 'ck-1');
		assert.equal(Number(c.sharing?.sharedPages), 90);

		const whole = session.dump(44, { selfContained: true });
		req = await fake.nextRequest();
		assert.equal(req.dump?.selfContained, true);
		fake.respond({ id: req.id, dump: { checkpoint: pb.Checkpoint.create({ id: 'ck-3' }) } });
		assert.equal((await whole).parent, '');
		await finish(fake);
	});
});

describe('errorFromHelper', () => {
	const table: Array<[pb.ErrorCode, ErrorKind]> = [
		[pb.ErrorCode.ERROR_CODE_BAD_REQUEST, 'bad-request'],
		[pb.ErrorCode.ERROR_CODE_NO_SUCH_PROCESS, 'no-such-process'],
		[pb.ErrorCode.ERROR_CODE_NOT_PERMITTED, 'not-permitted'],
		[pb.ErrorCode.ERROR_CODE_CRIU_FAILED, 'criu-failed'],
		[pb.ErrorCode.ERROR_CODE_CRIU_UNAVAILABLE, 'criu-unavailable'],
		[pb.ErrorCode.ERROR_CODE_CGROUP_UNAVAILABLE, 'cgroup-unavailable'],
		[pb.ErrorCode.ERROR_CODE_NOT_FOUND, 'not-found'],
		[pb.ErrorCode.ERROR_CODE_TREE_RUNNING, 'tree-running'],
		[pb.ErrorCode.ERROR_CODE_PID_IN_USE, 'pid-in-use'],
		[pb.ErrorCode.ERROR_CODE_INTERNAL, 'internal'],
		[pb.ErrorCode.ERROR_CODE_LEAKS_REFUSED, 'leaks-refused'],
		[pb.ErrorCode.ERROR_CODE_EXTERNAL_GONE, 'external-gone'],
		[pb.ErrorCode.ERROR_CODE_UNSPECIFIED, 'internal'],
	];
	for (const [code, kind] of table) {
		test(`${pb.ErrorCode[code]} -> ${kind}`, () => {
			const err = errorFromHelper({ code, message: 'm' });
			assert.equal(err.kind, kind);
			assert.equal(err.message, 'm');
		});
	}

	test('every code of the enum maps to a kind of its own, UNSPECIFIED aside', () => {
		const codes = Object.values(pb.ErrorCode).filter((v): v is pb.ErrorCode => typeof v === 'number' && v !== pb.ErrorCode.ERROR_CODE_UNSPECIFIED);
		const kinds = codes.map((code) => errorFromHelper({ code, message: 'm' }).kind);
		assert.equal(new Set(kinds).size, codes.length, kinds.join(', '));
		assert.ok(kinds.filter((k) => k === 'internal').length === 1);
	});

	test('LEAKS_REFUSED carries the refused leaks, decoded from the wire; other errors carry none', () => {
		const leak = pb.Leak.create({
			kind: pb.LeakKind.LEAK_KIND_PIPE, resource: 'pipe:[1234]', policy: pb.LeakPolicy.LEAK_POLICY_FAIL, defaultPolicy: pb.LeakPolicy.LEAK_POLICY_FAIL,
			choices: [pb.LeakChoice.create({ policy: pb.LeakPolicy.LEAK_POLICY_WARN, effect: 'a new pipe at restore' })],
		});
		const bytes = pb.Error.encode(pb.Error.create({ code: pb.ErrorCode.ERROR_CODE_LEAKS_REFUSED, message: 'process 7\'s tree shares 1 resource', leaks: [leak] })).finish();
		const err = errorFromHelper(pb.Error.decode(bytes));
		assert.equal(err.kind, 'leaks-refused');
		assert.equal(err.leaks.length, 1);
		assert.equal(err.leaks[0].resource, 'pipe:[1234]');
		assert.equal(err.leaks[0].choices?.[0].policy, pb.LeakPolicy.LEAK_POLICY_WARN);
		assert.deepEqual(errorFromHelper({ code: pb.ErrorCode.ERROR_CODE_EXTERNAL_GONE, message: 'gone' }).leaks, []);
	});

	test('an unknown code is "internal"', () => {
		assert.equal(errorFromHelper({ code: 99 as pb.ErrorCode, message: 'm' }).kind, 'internal');
	});

	test('no message: a generic one; no CRIU fields: no criu; errno 0: undefined', () => {
		const err = errorFromHelper(pb.Error.create({ code: pb.ErrorCode.ERROR_CODE_NOT_FOUND }));
		assert.equal(err.message, 'the helper reported an unspecified error');
		assert.equal(err.criu, undefined);
		assert.equal(err.errno, undefined);
	});

	test('a CRIU log without a CRIU message still makes a criu failure', () => {
		const err = errorFromHelper({ code: pb.ErrorCode.ERROR_CODE_CRIU_FAILED, message: 'restore failed', criuLog: ['a', 'b'] });
		assert.deepEqual(err.criu, { message: '', log: ['a', 'b'], logPath: undefined });
		assert.equal(err.describe(), 'restore failed\nCRIU log:\n  a\n  b');
	});

	test('a decoded wire error keeps every field', () => {
		const bytes = pb.Error.encode(pb.Error.create({
			code: pb.ErrorCode.ERROR_CODE_PID_IN_USE, message: 'pid 300 is taken', errnoValue: 17,
			criuMessage: 'cannot restore pid', criuLog: ['x'], criuLogPath: '/r.log',
		})).finish();
		const err = errorFromHelper(pb.Error.decode(bytes));
		assert.equal(err.kind, 'pid-in-use');
		assert.equal(err.message, 'pid 300 is taken');
		assert.equal(err.errno, 17);
		assert.deepEqual(err.criu, { message: 'cannot restore pid', log: ['x'], logPath: '/r.log' });
	});
});

describe('HelperSession lazy restores', () => {
	const ID = '20261206-120000-ab12';

	test('asks lazily by default (not when told not to); the end is told once, also when it comes before the answer', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		const ends: pb.LazyRestoreEnd[] = [];
		// the end after the answer; another checkpoint's end is not this restore's
		let p = session.restore(ID, { onLazyEnd: (end) => ends.push(end) });
		let req = await fake.nextRequest();
		assert.equal(req.restore?.lazy, true);
		fake.respond({ id: req.id, restore: { rootPid: 9, lazy: true } });
		assert.equal((await p).lazy, true);
		assert.equal(ends.length, 0);
		fake.event({ requestId: req.id, lazyRestoreEnd: { checkpointId: 'other', ok: true } });
		// an earlier restore of the same checkpoint ends: not this one
		fake.event({ requestId: req.id + 100, lazyRestoreEnd: { checkpointId: ID, ok: false, message: 'an older restore' } });
		fake.event({ requestId: req.id, lazyRestoreEnd: { checkpointId: ID, ok: true, rootPid: 9, wallTimeUs: 1500 } });
		fake.event({ requestId: req.id, lazyRestoreEnd: { checkpointId: ID, ok: false } });
		await tick();
		assert.deepEqual(ends.map((e) => [e.checkpointId, e.ok, e.rootPid]), [[ID, true, 9]]);
		// the end before the answer (the daemon was quick): kept until the answer says lazy
		ends.splice(0);
		p = session.restore(ID, { onLazyEnd: (end) => ends.push(end) });
		req = await fake.nextRequest();
		fake.stdout.write(Buffer.concat([
			FakeHelper.frame({ event: { requestId: req.id, lazyRestoreEnd: { checkpointId: ID, ok: false, message: 'daemon failed' } } }),
			FakeHelper.frame({ response: { id: req.id, restore: { rootPid: 9, lazy: true } } }),
		]));
		await p;
		await tick();
		assert.deepEqual(ends.map((e) => e.message), ['daemon failed']);
		// not lazy: a full restore has no end to tell
		ends.splice(0);
		p = session.restore(ID, { lazy: false, onLazyEnd: (end) => ends.push(end) });
		req = await fake.nextRequest();
		assert.equal(req.restore?.lazy, false);
		fake.respond({ id: req.id, restore: { rootPid: 9 } });
		await p;
		fake.event({ requestId: req.id, lazyRestoreEnd: { checkpointId: ID, ok: true } });
		await tick();
		assert.equal(ends.length, 0);
		await finish(fake);
	});

	test('a helper that ends before the lazy restore did is a failed end, in words; a refused restore tells nothing', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		const ends: pb.LazyRestoreEnd[] = [];
		const refused = session.restore(ID, { onLazyEnd: (end) => ends.push(end) });
		let req = await fake.nextRequest();
		fake.respond({ id: req.id, error: { code: pb.ErrorCode.ERROR_CODE_BUSY, message: `checkpoint ${ID} is being restored lazily` } });
		await assert.rejects(refused, isKind('busy'));
		const p = session.restore(ID, { onLazyEnd: (end) => ends.push(end) });
		req = await fake.nextRequest();
		fake.respond({ id: req.id, restore: { rootPid: 9, lazy: true } });
		await p;
		await finish(fake);
		assert.equal(ends.length, 1);
		assert.equal(ends[0].ok, false);
		assert.match(ends[0].message, new RegExp(`the helper on fake-target ended before the lazy restore of checkpoint ${ID} did`));
	});

	test('a session closed on purpose while pages are coming tells no failure', T, async () => {
		const fake = new FakeHelper();
		const session = await HelperSession.open(new FakeTarget(fake));
		const ends: pb.LazyRestoreEnd[] = [];
		const p = session.restore(ID, { onLazyEnd: (end) => ends.push(end) });
		const req = await fake.nextRequest();
		fake.respond({ id: req.id, restore: { rootPid: 9, lazy: true } });
		await p;
		const closed = session.close();
		fake.exitWith({ code: 0, signal: null });
		await closed;
		await tick();
		assert.equal(ends.length, 0);
	});
});
