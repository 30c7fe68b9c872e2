/**
 * What the extension reads from the arguments VS Code runs its commands
 * with: the launch configuration's host for `${command:checkpoint.pickProcess}`
 * (asked for again only when there is none it can use).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configuredTarget } from '../../src/extension/commandArguments';

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
