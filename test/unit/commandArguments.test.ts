/**
 * What the extension reads from the arguments VS Code runs its commands
 * with: the launch configuration's host for `${command:checkpoint.pickProcess}`
 * (asked for again only when there is none it can use), and the thread (and
 * its session) of a Call Stack context menu item for Debug This Process.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { callStackThread, configuredTarget } from '../../src/extension/commandArguments';

describe('configuredTarget (the process picker as a launch.json command variable)', () => {
	test('the configuration\'s target is the host, as it is written (blanks around it dropped)', () => {
		const configuration = { type: 'checkpoint', request: 'attach', name: 'Attach', target: 'ssh://root@10.0.0.7:2222', pid: '${command:checkpoint.pickProcess}' };
		assert.equal(configuredTarget(configuration), 'ssh://root@10.0.0.7:2222');
		assert.equal(configuredTarget({ target: ' local ' }), 'local');
		assert.equal(configuredTarget({ target: '/run/checkpoint-debugger-target/connection.json' }), '/run/checkpoint-debugger-target/connection.json');
	});

	test('no usable target: the picker asks (run from the palette, no target, not a string, empty, a variable not yet substituted)', () => {
		for (const configuration of [undefined, null, 'local', 42, {}, { target: 7 }, { target: ['local'] }, { target: '' }, { target: '   ' }, { target: '${input:host}' }, { target: 'ssh://root@${env:HOST}:22' }]) {
			assert.equal(configuredTarget(configuration), undefined, JSON.stringify(configuration));
		}
	});

	test('only the configuration\'s own target counts, not one it inherits', () => {
		assert.equal(configuredTarget(Object.create({ target: 'local' })), undefined);
	});
});

describe('callStackThread (a Call Stack context menu item)', () => {
	test('VS Code\'s arguments for a thread, the thread id then { sessionId, threadId }: the thread and its session', () => {
		assert.deepEqual(callStackThread([4242, { sessionId: 'a1b2-c3', threadId: 4242 }]), { threadId: 4242, sessionId: 'a1b2-c3' });
	});

	test('the view\'s context alone, or the thread id alone (the session is then the one the user means)', () => {
		assert.deepEqual(callStackThread([{ sessionId: 's', threadId: 17 }]), { threadId: 17, sessionId: 's' });
		assert.deepEqual(callStackThread([17]), { threadId: 17 });
		assert.deepEqual(callStackThread([17, { threadId: 17 }]), { threadId: 17 });
	});

	test('the context\'s thread wins over a first argument that is not a thread id (a frame\'s source, a session\'s id)', () => {
		assert.deepEqual(callStackThread(['file:///src/main.c', { sessionId: 's', threadId: 9, frameId: 1000 }]), { threadId: 9, sessionId: 's' });
	});

	test('nothing that names a thread: none (the palette, a session item, bad ids)', () => {
		for (const args of [[], ['a1b2-c3'], [{ sessionId: 'a1b2-c3' }], [0], [-3], [1.5], [Number.NaN], [{ threadId: '12' }], [{ sessionId: 's', threadId: 0 }], [{ sessionId: 's', threadId: 2.5 }], [null]]) {
			assert.equal(callStackThread(args), undefined, JSON.stringify(args));
		}
	});
});
