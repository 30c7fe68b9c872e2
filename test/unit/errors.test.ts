import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckpointError, errorMessage } from '../../src/core/errors';

describe('CheckpointError', () => {
	test('carries kind, message, errno and name', () => {
		const err = new CheckpointError('no-such-process', 'process 42 does not exist', undefined, 3);
		assert.ok(err instanceof Error);
		assert.equal(err.name, 'CheckpointError');
		assert.equal(err.kind, 'no-such-process');
		assert.equal(err.message, 'process 42 does not exist');
		assert.equal(err.errno, 3);
		assert.equal(err.criu, undefined);
		assert.deepEqual(err.leaks, []);
	});

	test('a leaks-refused error carries the refused leaks', () => {
		const leaks = [{ resource: 'pipe:[1234]' }, { resource: '/dev/pts/3' }];
		const err = new CheckpointError('leaks-refused', 'refused', undefined, undefined, leaks);
		assert.equal(err.kind, 'leaks-refused');
		assert.deepEqual(err.leaks.map((l) => l.resource), ['pipe:[1234]', '/dev/pts/3']);
		assert.equal(err.describe(), 'refused');
	});

	test('describe() without CRIU details is just the message', () => {
		assert.equal(new CheckpointError('timeout', 'too slow').describe(), 'too slow');
	});

	test('describe() adds the CRIU message, each log line indented, and the log path', () => {
		const err = new CheckpointError('criu-failed', 'dump of 42 failed', {
			message: 'Error (criu/cr-dump.c:1234): Dumping FAILED.',
			log: ['(00.01) Error (criu/sk-inet.c:200): Connected TCP socket', '(00.02) Dumping FAILED.'],
			logPath: '/var/lib/ckpt/42/dump.log',
		});
		assert.equal(err.describe(), [
			'dump of 42 failed',
			'CRIU: Error (criu/cr-dump.c:1234): Dumping FAILED.',
			'CRIU log:',
			'  (00.01) Error (criu/sk-inet.c:200): Connected TCP socket',
			'  (00.02) Dumping FAILED.',
			'Full CRIU log on the target: /var/lib/ckpt/42/dump.log',
		].join('\n'));
	});

	test('describe() does not repeat a CRIU message the main message already contains', () => {
		const err = new CheckpointError('criu-failed', 'CRIU said: no space left', { message: 'no space left', log: [] });
		assert.equal(err.describe(), 'CRIU said: no space left');
	});

	test('describe() with only a log path', () => {
		const err = new CheckpointError('criu-failed', 'failed', { message: '', log: [], logPath: '/l/restore.log' });
		assert.equal(err.describe(), 'failed\nFull CRIU log on the target: /l/restore.log');
	});

	test('describe() with log lines but no CRIU message', () => {
		const err = new CheckpointError('criu-failed', 'failed', { message: '', log: ['line one'] });
		assert.equal(err.describe(), 'failed\nCRIU log:\n  line one');
	});
});

describe('errorMessage', () => {
	test('a CheckpointError gives its describe() text', () => {
		const err = new CheckpointError('criu-failed', 'm', { message: 'criu msg', log: ['l1'], logPath: '/p' });
		assert.equal(errorMessage(err), err.describe());
		assert.match(errorMessage(err), /CRIU: criu msg/);
		assert.match(errorMessage(err), /\n {2}l1\n/);
		assert.match(errorMessage(err), /\/p$/);
	});

	test('a plain Error gives its message', () => {
		assert.equal(errorMessage(new Error('boom')), 'boom');
		assert.equal(errorMessage(new TypeError('bad type')), 'bad type');
	});

	test('non-Error values are stringified', () => {
		assert.equal(errorMessage('just a string'), 'just a string');
		assert.equal(errorMessage(42), '42');
		assert.equal(errorMessage(undefined), 'undefined');
		assert.equal(errorMessage(null), 'null');
		assert.equal(errorMessage({ toString: () => 'custom' }), 'custom');
	});
});
