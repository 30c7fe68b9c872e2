import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { HelperSession } from '../../src/core/session';
import type { ImageSource } from '../../src/core/images/source';
import type { HelperChannel, Target } from '../../src/core/target';

/** A target whose helper cannot start, counting how often it is closed. */
class FailingTarget implements Target {
	readonly description = 'fake';
	closed = 0;

	async startHelper(): Promise<HelperChannel> {
		throw new CheckpointError('sudo-password', 'sudo asks for a password');
	}

	async imageSource(): Promise<ImageSource> {
		throw new Error('not used');
	}

	async readFile(): Promise<Buffer> {
		throw new Error('not used');
	}

	async close(): Promise<void> {
		this.closed++;
	}
}

describe('HelperSession.open', () => {
	test('a helper that cannot start closes the connection made for it and passes the error on', async () => {
		const target = new FailingTarget();
		await assert.rejects(HelperSession.open(target), (err: unknown) => err instanceof CheckpointError && err.kind === 'sudo-password');
		assert.equal(target.closed, 1);
	});
});
