/**
 * Source-level checkpoint debugging in a real VS Code (code-server in
 * chromium) against a -g program on the target: open the source, F9 on a
 * line, start the launch configuration; the editor marks the stopped line and
 * Variables shows the locals; Take Checkpoint, Continue (the locals move on),
 * Restore from the Checkpoints view: the same line and the old values again;
 * Open Snapshot of the checkpoint. The screenshots go to the output folder;
 * CKPT_E2E_DOCS=1 also copies them into docs/screenshots.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { HelperSession } from '../../src/core/session';
import { connectionFilePath, REPO, sshTarget, TargetShell } from '../integration/harness';
import { E2eRun, escapeRegExp, openFile, runCommand, treeRow, type Workbench } from './codeServer';

const SOURCE = readFileSync(join(REPO, 'test', 'workloads', 'debuggee.c'), 'utf8');
const AFTER_LINE = SOURCE.split('\n').findIndex((l) => l.includes('/* @after */')) + 1;
const CHECKPOINT_NAME = 'at the breakpoint';

function packageExtension(): string {
	const out = execFileSync('bash', [join(REPO, 'scripts', 'package.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
	return out.trim().split('\n').pop() ?? '';
}

/** A button of the debug toolbar by its title. */
async function clickAction(page: Page, title: RegExp): Promise<void> {
	const buttons = page.locator('.debug-toolbar .action-item a.action-label');
	const count = await buttons.count();
	for (let i = 0; i < count; i++) {
		const label = (await buttons.nth(i).getAttribute('aria-label')) ?? (await buttons.nth(i).getAttribute('title')) ?? '';
		if (title.test(label)) return buttons.nth(i).click();
	}
	throw new Error(`no debug toolbar button matches ${title}`);
}

/** Where the program stopped, as the editor shows it: the number of the line the top stack frame highlights. */
async function stoppedLine(page: Page): Promise<number> {
	const editor = page.locator('.editor-group-container.active .monaco-editor');
	const highlight = editor.locator('.view-overlays .debug-top-stack-frame-line').first();
	await highlight.waitFor({ timeout: 60_000 });
	// the editor may still be scrolling to the line: looked at again until it stands
	for (let tries = 0; tries < 40; tries++) {
		const top = (await highlight.boundingBox())?.y ?? NaN;
		const numbers = editor.locator('.margin-view-overlays .line-numbers');
		for (let i = 0; i < await numbers.count(); i++) {
			const box = await numbers.nth(i).boundingBox();
			if (box && Math.abs(box.y - top) < 2) return Number((await numbers.nth(i).textContent())?.trim());
		}
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
	throw new Error('the highlighted line has no line number in view');
}

/** A variable's value as the Variables view shows it (its row's label is "name, value v"...). */
async function variableValue(page: Page, name: string): Promise<string> {
	const label = new RegExp(`^${escapeRegExp(name)}, value `);
	// VS Code opens the first scope (gdb's Arguments): the locals are in the next one
	const row = await treeRow(page, label, 5_000).catch(async () => {
		const locals = await treeRow(page, /^Scope Locals$/, 30_000);
		if ((await locals.getAttribute('aria-expanded')) !== 'true') await locals.click();
		return treeRow(page, label, 30_000);
	});
	const text = (await row.locator('.value').first().textContent()) ?? '';
	return text.trim();
}

/** Waits until the Variables view shows name with a value other than previous (the program ran to its next stop); that value. */
async function valueChanged(page: Page, name: string, previous: string): Promise<string> {
	const deadline = Date.now() + 30_000;
	for (;;) {
		const now = await variableValue(page, name).catch(() => previous);
		if (now !== previous) return now;
		if (Date.now() > deadline) throw new Error(`${name} stayed ${previous}: the program did not stop again`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

describe('source-level checkpoint debugging in VS Code', () => {
	const run = new E2eRun('source-level');
	let shell: TargetShell;
	let helper: HelperSession;
	let dir = '';

	before(() => run.guard(async () => {
		shell = await TargetShell.open();
		helper = await HelperSession.open(sshTarget());
		const program = await shell.buildProgram('debuggee', '-g -O0');
		dir = (await shell.ok('mktemp -d /tmp/ckpt-e2e-debuggee-XXXXXX')).trim();
		const workspace = join(run.outputDir, 'workspace');
		mkdirSync(join(workspace, '.vscode'), { recursive: true });
		mkdirSync(join(workspace, 'src'), { recursive: true });
		for (const file of ['debuggee.c', 'record.h']) copyFileSync(join(REPO, 'test', 'workloads', file), join(workspace, 'src', file));
		writeFileSync(join(workspace, '.vscode', 'launch.json'), JSON.stringify({
			version: '0.2.0',
			configurations: [{
				type: 'checkpoint', request: 'launch', name: 'Debug the debuggee', target: connectionFilePath(),
				program, args: [dir], sourceMap: { [dirname(program)]: '${workspaceFolder}/src' },
			}],
		}, null, '\t'));
		const wb = await run.open({ workspace, vsix: packageExtension(), settings: { 'checkpoint.leakPolicy': { 'volatile-file': 'ignore' } } });
		await wb.page.locator('.activitybar .action-item a[aria-label^="Checkpoints"]').waitFor({ timeout: 60_000 });
	}));

	after(async () => {
		await run.finish();
		await shell?.killStarted();
		for (const c of await helper?.list().catch(() => []) ?? []) if (c.name === CHECKPOINT_NAME || c.name.startsWith(`before restore to ${CHECKPOINT_NAME}`)) await helper.remove(c.id).catch(() => undefined);
		await helper?.close();
		if (dir) await shell?.run(`rm -rf ${dir}`);
		shell?.close();
		console.error(`e2e screenshots: ${run.outputDir}`);
	});

	const step = (body: (wb: Workbench) => Promise<void>): (() => Promise<void>) => run.step(body);
	const shot = async (wb: Workbench, name: string): Promise<void> => {
		await wb.screenshot(name);
		if (process.env.CKPT_E2E_DOCS === '1') copyFileSync(join(run.outputDir, `${name}.png`), join(REPO, 'docs', 'screenshots', `${name}.png`));
	};
	let oldValue = '';

	test('F9 on a line, then the launch configuration: the editor marks the stopped line, Variables shows the locals', step(async (wb) => {
		await openFile(wb.page, 'debuggee.c');
		await runCommand(wb.page, 'Go to Line/Column...');
		await wb.page.keyboard.type(String(AFTER_LINE));
		await wb.page.keyboard.press('Enter');
		await wb.page.keyboard.press('F9');
		await wb.page.locator('.codicon-debug-breakpoint').first().waitFor({ timeout: 30_000 });
		await runCommand(wb.page, 'workbench.view.debug');
		await wb.page.locator('.start-debug-action-item .codicon-debug-start').first().click();
		assert.equal(await stoppedLine(wb.page), AFTER_LINE, 'the stopped line is marked');
		oldValue = await variableValue(wb.page, 'before');
		assert.match(oldValue, /^\d+$/);
		await shot(wb, 'source-stopped');
	}));

	test('Take Checkpoint at the breakpoint, Continue, Restore: the same line and the old values', step(async (wb) => {
		await clickAction(wb.page, /^Take Checkpoint/);
		const input = wb.page.locator('.quick-input-widget .quick-input-box input');
		await input.waitFor({ state: 'visible' });
		await input.fill(CHECKPOINT_NAME);
		await wb.page.keyboard.press('Enter');
		// the Checkpoints view lists it (its toast may be gone by now: the stop shows the editor again)
		await treeRow(wb.page, new RegExp(`^${escapeRegExp(CHECKPOINT_NAME)}\\b`), 60_000);
		assert.equal(await stoppedLine(wb.page), AFTER_LINE, 'still stopped at the breakpoint');

		let shown = oldValue;
		for (let i = 0; i < 2; i++) {
			await clickAction(wb.page, /^Continue/);
			shown = await valueChanged(wb.page, 'before', shown);
			assert.equal(await stoppedLine(wb.page), AFTER_LINE, 'Continue runs to the breakpoint again');
		}
		await shot(wb, 'source-continued');

		await runCommand(wb.page, 'checkpoint.checkpoints.focus');
		// Restore Checkpoint... from the command palette: a pick of the session's checkpoints
		await runCommand(wb.page, 'checkpoint.restoreCheckpoint');
		const pick = wb.page.locator('.quick-input-widget .quick-input-box input');
		await pick.waitFor({ state: 'visible' });
		await pick.fill(CHECKPOINT_NAME);
		await wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: CHECKPOINT_NAME }).first().waitFor({ timeout: 30_000 });
		await wb.page.keyboard.press('Enter');
		await treeRow(wb.page, new RegExp(`^before restore to ${escapeRegExp(CHECKPOINT_NAME)}`), 60_000);
		assert.equal(await stoppedLine(wb.page), AFTER_LINE, 'the marked line is the breakpoint again');
		const deadline = Date.now() + 30_000;
		let now = '';
		while ((now = await variableValue(wb.page, 'before').catch(() => '')) !== oldValue && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
		assert.equal(now, oldValue, 'the old value is back');
		await shot(wb, 'source-restored');
	}));

	test('Open Snapshot of the checkpoint starts a read-only session of it', step(async (wb) => {
		// the other panes of Run and Debug folded, so that the Call Stack has the room to show both sessions
		for (const pane of [/^Variables/i, /^Watch/i, /^Breakpoints/i, /^Checkpoints/i]) {
			const header = wb.page.locator('.pane-header[aria-expanded="true"]', { hasText: pane });
			if (await header.count()) await header.first().click();
		}
		await runCommand(wb.page, 'Checkpoint: Open Snapshot');
		const input = wb.page.locator('.quick-input-widget .quick-input-box input');
		await input.waitFor({ state: 'visible' });
		await input.fill(CHECKPOINT_NAME);
		await wb.page.keyboard.press('Enter');
		// the snapshot session, under the live one, opened down to its first thread: the main thread at the
		// breakpoint's line, from gdb on the checkpoint's core (the live session's threads are folded by now)
		const snapshot = await treeRow(wb.page, /snapshot \(read-only\)/i, 60_000);
		await snapshot.click({ position: { x: 40, y: 10 } });
		for (const key of ['ArrowRight', 'ArrowRight', 'ArrowRight']) await wb.page.keyboard.press(key);
		await treeRow(wb.page, new RegExp(`^Stack Frame advance, line ${AFTER_LINE}, debuggee\\.c`), 60_000);
		assert.equal(await stoppedLine(wb.page), AFTER_LINE);
		await shot(wb, 'snapshot-source');
		await runCommand(wb.page, 'workbench.action.debug.stop');
	}));
});
