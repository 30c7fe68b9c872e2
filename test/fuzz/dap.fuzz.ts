/**
 * Fuzz target: the Debug Adapter Protocol client's reading of what the
 * adapter (gdb's DAP interpreter on the target) sends (src/core/dap.ts
 * DapClient.feed): "Content-Length: N\r\n\r\n" headers and JSON bodies, cut
 * into chunks anywhere (chunksOf).
 *
 * A bug: feed throwing anything (it runs in the channel's data handler,
 * where an exception is lost and the session wedged); a request failed with
 * something that is not an Error saying why; a hang.
 */
import { DapClient } from '../../src/core/dap';
import { allowOnly, chunksOf, invariant } from './fuzzInput';

const PENDING_REQUESTS = 3;

export async function fuzz(data: Buffer): Promise<void> {
	const client = new DapClient(async () => undefined, 'the fuzzed adapter');
	client.on('event', () => undefined);
	// Requests waiting as seq 1, 2 and 3: responses in the input may answer or fail them.
	const failures: unknown[] = [];
	const requests = Array.from({ length: PENDING_REQUESTS }, () => client.raw('threads', {}).then(() => undefined, (err: unknown) => { failures.push(err); }));
	try {
		for (const chunk of chunksOf(data)) client.feed(chunk);
	} catch (err) {
		allowOnly(err, [], 'DapClient.feed');
	}
	client.close(new Error('end of the fuzz input'));
	await Promise.all(requests);
	for (const err of failures) invariant(err instanceof Error && err.message !== '', `a failed request fails with an Error that says why, not ${String(err)}`);
}
