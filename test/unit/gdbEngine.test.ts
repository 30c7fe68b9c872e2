/**
 * GdbEngine against a scripted gdb (a GdbLink answering DAP as gdb 16's
 * interpreter does for a live process): what the engine must do about
 * gdb's own races, which a real gdb shows only now and then.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { HelperOperations } from '../../src/core/session';
import { GdbEngine } from '../../src/debug/gdbEngine';
import { ScriptedLink } from './scriptedLink';

const PID = 4242;

/**
 * A gdb attached to one single-threaded process. ignorePauses: how many
 * pauses it answers without stopping the process (as gdb does with a pause
 * that comes before it resumed the process it was told to continue).
 */
class ScriptedGdb extends ScriptedLink {
	private running = false;
	/** Output kept back, to go out with the next message in one chunk. */
	private held = Buffer.alloc(0);

	constructor(private ignorePauses: number) {
		super();
	}

	protected answer(request: DebugProtocol.Request): void {
		const respond = (body?: unknown): void => this.emit({ type: 'response', request_seq: request.seq, command: request.command, success: true, body });
		if (request.command === 'attach') {
			this.emit({ type: 'event', event: 'stopped', body: { threadId: 1, allThreadsStopped: true, reason: 'attach' } });
			respond();
		} else if (request.command === 'evaluate') {
			// the engine's Python: the thread map, and the threads standing on a breakpoint (none)
			const expression = String((request.arguments as { expression: string }).expression);
			// the engine lets go from the repl: gdb says "terminated" and may never answer
			if (expression === 'detach') return this.emit({ type: 'event', event: 'terminated' });
			respond({ result: expression.includes('ptid') ? `1:${PID}\n` : '\n', variablesReference: 0 });
		} else if (request.command === 'continue') {
			this.running = true;
			respond({ allThreadsContinued: true });
		} else if (request.command === 'next') {
			// a short step: its stop in the same chunk as its answer, before it (gdb sends them from two threads)
			this.emit({ type: 'event', event: 'stopped', body: { threadId: 1, allThreadsStopped: true, reason: 'step' } }, true);
			respond({});
		} else if (request.command === 'pause') {
			respond();
			if (this.running && this.ignorePauses-- <= 0) {
				this.running = false;
				this.emit({ type: 'event', event: 'stopped', body: { threadId: 1, allThreadsStopped: true, reason: 'pause' } });
			}
		} else {
			respond({});
		}
	}

	/** held: kept back and sent with the next message, in one chunk. */
	private emit(message: object, held = false): void {
		const data = Buffer.concat([this.held, this.frame(message)]);
		this.held = held ? data : Buffer.alloc(0);
		if (!held) this.write(data);
	}
}

/** The engine attached through the scripted gdb, as the session attaches it. */
async function attached(gdb: ScriptedGdb): Promise<GdbEngine> {
	const session = { target: { description: 'scripted' }, gdbStart: async () => gdb } as unknown as HelperOperations;
	return GdbEngine.attach(session, PID, { configure: async () => undefined });
}

describe('GdbEngine', () => {
	test('a pause gdb answers without stopping the process (it came before the resume took) is said again until the stop', async () => {
		const gdb = new ScriptedGdb(2);
		const engine = await attached(gdb);
		try {
			const stopped = new Promise<DebugProtocol.StoppedEvent['body']>((resolve) => engine.once('stopped', resolve));
			await engine.request('continue', { threadId: PID });
			await engine.request('pause', { threadId: PID });
			const stop = await stopped;
			assert.equal(stop.reason, 'pause');
			assert.equal(stop.threadId, PID);
			assert.equal(gdb.count('pause'), 3, 'twice more after the first');
			assert.ok(engine.stopped);
		} finally {
			await engine.stop();
		}
	});

	test('a pause that stops at once is not said again, and does not stop a later resume', async () => {
		const gdb = new ScriptedGdb(0);
		const engine = await attached(gdb);
		try {
			const stopped = new Promise<unknown>((resolve) => engine.once('stopped', resolve));
			await engine.request('continue', { threadId: PID });
			await engine.request('pause', { threadId: PID });
			await stopped;
			await engine.request('continue', { threadId: PID });
			await new Promise((resolve) => setTimeout(resolve, 600));
			assert.equal(gdb.count('pause'), 1);
			assert.ok(!engine.stopped, 'still running');
		} finally {
			await engine.stop();
		}
	});

	test('a step whose stop comes before its answer leaves the engine stopped, not running', async () => {
		const gdb = new ScriptedGdb(0);
		const engine = await attached(gdb);
		try {
			const stopped = new Promise<DebugProtocol.StoppedEvent['body']>((resolve) => engine.once('stopped', resolve));
			await engine.request('next', { threadId: PID });
			assert.equal((await stopped).reason, 'step');
			await new Promise((resolve) => setImmediate(resolve));
			assert.ok(engine.stopped, 'stopped after the step');
		} finally {
			await engine.stop();
		}
	});

	test('the engine\'s own interrupt is said again too', async () => {
		const gdb = new ScriptedGdb(1);
		const engine = await attached(gdb);
		try {
			await engine.request('continue', { threadId: PID });
			const stop = await engine.interrupt();
			assert.equal(stop.reason, 'pause');
			assert.equal(gdb.count('pause'), 2);
		} finally {
			await engine.stop();
		}
	});
});
