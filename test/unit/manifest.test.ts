/**
 * The commands package.json contributes against the ones the extension
 * registers (a contributed command without a handler fails with "command
 * not found" only when a user runs it), and where the live session's
 * commands are offered: Restore and Pause beside Restore in the Checkpoints
 * view.
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

interface Manifest {
	contributes: {
		commands: Array<{ command: string; title: string; category?: string }>;
		menus: Record<string, MenuEntry[]>;
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
});
