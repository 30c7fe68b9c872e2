/**
 * The commands package.json contributes against the ones the extension
 * registers (a contributed command without a handler fails with "command
 * not found" only when a user runs it), and where the live session's
 * commands are offered: Restore and Pause beside Restore in the Checkpoints
 * view, Debug This Process on the threads of a live session's Call Stack.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

const REPO = join(__dirname, '..', '..', '..');
const EXTENSION_SOURCES = join(REPO, 'src', 'extension');

interface MenuEntry {
	command: string;
	when?: string;
	group?: string;
}

interface Property {
	type: string | string[];
	default?: unknown;
	markdownDescription?: string;
}

interface Manifest {
	contributes: {
		commands: Array<{ command: string; title: string; category?: string }>;
		menus: Record<string, MenuEntry[]>;
		configuration: { properties: Record<string, Property> };
		debuggers: Array<{ type: string; configurationAttributes: Record<'attach' | 'launch', { properties: Record<string, Property> }> }>;
	};
}

const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as Manifest;
const contributed = manifest.contributes.commands.map((c) => c.command);

/** The command ids src/extension registers (through registerCommand or the commands' `command(id, run)` helper). */
function registeredCommands(): string[] {
	const ids: string[] = [];
	for (const file of readdirSync(EXTENSION_SOURCES).filter((f) => f.endsWith('.ts'))) {
		const text = readFileSync(join(EXTENSION_SOURCES, file), 'utf8');
		for (const match of text.matchAll(/\b(?:registerCommand|command)\(\s*'(checkpoint\.[\w.]+)'/g)) ids.push(match[1]);
	}
	return ids;
}

function menuEntries(menu: string, command: string): MenuEntry[] {
	return (manifest.contributes.menus[menu] ?? []).filter((entry) => entry.command === command);
}

/** The clauses of a `when` joined by &&, without blanks around them. */
function clauses(when: string | undefined): string[] {
	return (when ?? '').split('&&').map((c) => c.trim()).filter(Boolean);
}

describe('package.json commands', () => {
	test('every contributed command has a handler in src/extension, and every registered one is contributed', () => {
		const registered = registeredCommands();
		assert.deepEqual(contributed.filter((id) => !registered.includes(id)), [], 'contributed, never registered');
		assert.deepEqual(registered.filter((id) => !contributed.includes(id)), [], 'registered, not contributed');
	});

	test('every menu entry names a contributed command', () => {
		for (const [menu, entries] of Object.entries(manifest.contributes.menus)) {
			for (const entry of entries) assert.ok(contributed.includes(entry.command), `${menu}: ${entry.command}`);
		}
	});

	test('Restore and Pause: beside Restore in the Checkpoints view\'s item menu and in the palette, under the same conditions', () => {
		const command = manifest.contributes.commands.find((c) => c.command === 'checkpoint.restoreCheckpointAndPause');
		assert.equal(command?.title, 'Restore and Pause');
		assert.equal(command?.category, 'Checkpoint');
		const [restore] = menuEntries('view/item/context', 'checkpoint.restoreCheckpoint').filter((e) => !e.group?.startsWith('inline'));
		const [andPause, ...more] = menuEntries('view/item/context', 'checkpoint.restoreCheckpointAndPause');
		assert.equal(more.length, 0);
		assert.equal(andPause.when, restore.when);
		assert.equal(andPause.group?.split('@')[0], restore.group?.split('@')[0], 'in the group of Restore Checkpoint');
		assert.deepEqual(menuEntries('commandPalette', 'checkpoint.restoreCheckpointAndPause').map((e) => e.when), menuEntries('commandPalette', 'checkpoint.restoreCheckpoint').map((e) => e.when));
	});

	test('Debug This Process: on the Call Stack\'s threads of a live checkpoint session only, not in the palette (it needs a thread)', () => {
		const command = manifest.contributes.commands.find((c) => c.command === 'checkpoint.debugProcess');
		assert.equal(command?.title, 'Debug This Process');
		const [entry, ...more] = menuEntries('debug/callstack/context', 'checkpoint.debugProcess');
		assert.equal(more.length, 0);
		const when = clauses(entry.when);
		for (const clause of ["debugType == 'checkpoint'", 'checkpoint.liveSession', "callStackItemType == 'thread'"]) assert.ok(when.includes(clause), `${clause} in ${entry.when}`);
		assert.deepEqual(menuEntries('commandPalette', 'checkpoint.debugProcess').map((e) => e.when), ['false']);
	});
});

describe('package.json settings a live session takes', () => {
	const debuggers = manifest.contributes.debuggers.find((d) => d.type === 'checkpoint');
	for (const [setting, attribute] of [['checkpoint.lazyRestore', 'lazyRestore'], ['checkpoint.sharePages', 'sharePages']]) {
		test(`${setting}: a boolean, on by default; launch and attach take "${attribute}", which wins over it`, () => {
			const property = manifest.contributes.configuration.properties[setting];
			assert.deepEqual([property?.type, property?.default], ['boolean', true]);
			assert.match(property?.markdownDescription ?? '', new RegExp(`\`${attribute}\` wins over this`));
			for (const request of ['attach', 'launch'] as const) {
				const own = debuggers?.configurationAttributes[request].properties[attribute];
				assert.equal(own?.type, 'boolean', `${request}.${attribute}`);
				assert.match(own?.markdownDescription ?? '', new RegExp(`Default: the \`${setting}\` setting`));
			}
		});
	}

	test('checkpoint.sharePages says what it costs: full restores of checkpoints that stand on others, and why', () => {
		const text = manifest.contributes.configuration.properties['checkpoint.sharePages']?.markdownDescription ?? '';
		assert.match(text, /restored fully, not lazily, since CRIU's lazy-pages daemon cannot read a parent checkpoint's pages/);
		assert.match(text, /Turn it off for millisecond \(lazy\) restores of every checkpoint, at the cost of disk/);
	});
});
