import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pb } from '../../src/core/protocol';
import { criu } from '../../src/core/images/format';

test('the helper protocol and the image schemas load side by side (separate protobufjs roots)', () => {
	assert.equal(typeof pb.Request.encode, 'function');
	assert.equal(typeof criu.Core.decode, 'function');
});
