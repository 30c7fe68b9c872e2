/**
 * The DAP client over a byte channel: requests answered by seq whatever the
 * order, messages cut anywhere or several in one chunk, events, an answer
 * with success false as an error in the adapter's words, and the end of the
 * channel failing what still waits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { DapClient, DapError, dapFrame } from '../../src/core/dap';

/** A client whose sent messages are kept, decoded. */
function client(): { dap: DapClient; sent: DebugProtocol.Request[] } {
	const sent: DebugProtocol.Request[] = [];
	const dap = new DapClient(async (data) => {
		const text = data.toString('utf8');
		const header = /^Content-Length: (\d+)\r\n\r\n/.exec(text);
		assert.ok(header, text);
		assert.equal(Buffer.byteLength(text) - header[0].length, Number(header[1]), 'the length counts bytes');
		sent.push(JSON.parse(text.slice(header[0].length)) as DebugProtocol.Request);
	}, 'gdb');
	return { dap, sent };
}

function answer(request: DebugProtocol.Request, body: unknown, success = true, message?: string): DebugProtocol.Response {
	return { seq: 100 + request.seq, type: 'response', request_seq: request.seq, command: request.command, success, body, message };
}

describe('DapClient', () => {
	test('requests get their own answers, in any order, whatever way the bytes are cut', async () => {
		const { dap, sent } = client();
		const threads = dap.request('threads', {});
		const evaluate = dap.request('evaluate', { expression: 'x', context: 'watch' });
		await new Promise((r) => setImmediate(r));
		assert.deepEqual(sent.map((r) => [r.seq, r.command]), [[1, 'threads'], [2, 'evaluate']]);
		const bytes = Buffer.concat([
			dapFrame(answer(sent[1], { result: 'é 42', variablesReference: 0 })),
			dapFrame({ seq: 7, type: 'event', event: 'stopped', body: { reason: 'breakpoint', threadId: 1 } }),
			dapFrame(answer(sent[0], { threads: [{ id: 1, name: 'main' }] })),
		]);
		const events: DebugProtocol.Event[] = [];
		dap.on('event', (e) => events.push(e));
		for (let i = 0; i < bytes.length; i += 7) dap.feed(bytes.subarray(i, i + 7));	// cut inside headers, bodies and a UTF-8 character
		assert.deepEqual(await evaluate, { result: 'é 42', variablesReference: 0 });
		assert.deepEqual(await threads, { threads: [{ id: 1, name: 'main' }] });
		assert.deepEqual(events.map((e) => [e.event, e.body]), [['stopped', { reason: 'breakpoint', threadId: 1 }]]);
	});

	test('an answer with success false is a DapError in the adapter\'s words', async () => {
		const { dap, sent } = client();
		const attach = dap.request('attach', { pid: 4242 });
		await new Promise((r) => setImmediate(r));
		dap.feed(dapFrame(answer(sent[0], undefined, false, 'ptrace: Operation not permitted.')));
		await assert.rejects(attach, (err) => err instanceof DapError && err.command === 'attach' && err.message === 'ptrace: Operation not permitted.');
	});

	test('closing fails what waits, and what is asked after, with the reason', async () => {
		const { dap } = client();
		const threads = dap.request('threads', {});
		dap.close(new Error('gdb ended'));
		await assert.rejects(threads, /gdb ended/);
		await assert.rejects(dap.request('threads', {}), /gdb ended/);
	});

	test('a channel that cannot send fails the request', async () => {
		const dap = new DapClient(async () => { throw new Error('no gdb 3 runs in this helper'); }, 'gdb');
		await assert.rejects(dap.request('threads', {}), /no gdb 3 runs/);
	});

	test('what is not DAP ends the client in words', async () => {
		const { dap } = client();
		const threads = dap.request('threads', {});
		dap.feed(Buffer.from('Content-Length: 5\r\n\r\nnope!'));
		await assert.rejects(threads, /gdb sent a message that is not JSON: nope!; its answers cannot be read any more/);
	});

	test('a body that is JSON but no object ends the client in words, not the reading of the chunk', async () => {
		// Found writing the dap fuzz target: a body "null" stopped feed() there, and the answer after it in the chunk was never read.
		for (const body of ['null', '0', 'false', '""', '[1]', '42']) {
			const { dap, sent } = client();
			const threads = dap.request('threads', {});
			await new Promise((r) => setImmediate(r));
			dap.feed(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n${body}`), dapFrame(answer(sent[0], { threads: [] }))]));
			await assert.rejects(threads, new RegExp(`gdb sent a message that is not a JSON object: ${body.replace(/[[\]]/g, '\\$&')}; its answers cannot be read any more`), body);
		}
	});
});
