/**
 * The extension in a real VS Code (code-server in chromium), against a real
 * program on the target host: install the packaged .vsix, start the attach
 * configuration from Run and Debug, Take Checkpoint from the debug toolbar,
 * see it in the Checkpoints view, Restore it and see the program go back,
 * browse the checkpoint's image down to a memory area, open the Memory Map.
 * A screenshot of each step is kept in the output folder.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { pb } from '../../src/core/protocol';
import { HelperSession } from '../../src/core/session';
import { allAbove, allBelow, connection, connectionFilePath, NEWER_CRIU, REPO, sshTarget, TargetShell, testPort, WORKLOAD } from '../integration/harness';
import { E2eRun, editorText, escapeRegExp, runCommand, treeRow, waitForNotification, type Workbench } from './codeServer';

const CHECKPOINT_NAME = 'e2e before';

/** Builds the .vsix with the project's own packaging script (npm run package). */
function packageExtension(): string {
	const out = execFileSync('bash', [join(REPO, 'scripts', 'package.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
	return out.trim().split('\n').pop() ?? '';
}

/** A button of the debug toolbar (or any action bar item) by its title. */
async function clickAction(page: Page, title: RegExp): Promise<void> {
	const button = page.locator('.debug-toolbar .action-item a.action-label').filter({ has: page.locator(':scope') });
	const count = await button.count();
	for (let i = 0; i < count; i++) {
		const label = (await button.nth(i).getAttribute('aria-label')) ?? (await button.nth(i).getAttribute('title')) ?? '';
		if (title.test(label)) return button.nth(i).click();
	}
	throw new Error(`no debug toolbar button matches ${title}`);
}

async function typeAndEnter(page: Page, text: string): Promise<void> {
	const input = page.locator('.quick-input-widget .quick-input-box input');
	await input.waitFor({ state: 'visible' });
	await input.fill(text);
	await page.keyboard.press('Enter');
}

describe('the extension in VS Code', () => {
	const run = new E2eRun('extension');
	let shell: TargetShell;
	let helper: HelperSession;
	let program = { pid: 0, dir: '' };
	let bigCheckpoint = '';
	let knownHosts = '';

	before(() => run.guard(async () => {
		shell = await TargetShell.open();
		await shell.buildWorkload();
		helper = await HelperSession.open(sshTarget());
		program = await shell.start([WORKLOAD, 'counter', '{dir}']);
		await shell.waitForCounters(program.dir, ['state'], (c) => c[0] >= 5, 'the demo program did not start');
		const workspace = join(run.outputDir, 'workspace');
		mkdirSync(join(workspace, '.vscode'), { recursive: true });
		writeFileSync(join(workspace, '.vscode', 'launch.json'), JSON.stringify({
			version: '0.2.0',
			configurations: [{ type: 'checkpoint', request: 'attach', name: 'Attach to the demo counter', target: connectionFilePath(), pid: program.pid }],
		}, null, '\t'));
		// A host in the settings whose key this editor has never seen (an empty known_hosts file).
		const c = connection();
		knownHosts = join(run.outputDir, 'known_hosts');
		writeFileSync(knownHosts, '');
		const host = { host: c.host, port: c.port, user: c.user, identityFile: c.identityFile, knownHostsFile: knownHosts };
		// The same host again, its helper running the newer CRIU (the one that can save TCP connections here).
		const settings = { 'checkpoint.targets': [{ name: 'e2e target', ...host }, { name: 'newer CRIU', ...host, criuPath: NEWER_CRIU }] };
		const wb = await run.open({ workspace, vsix: packageExtension(), settings });
		// The extension's contributions are in once its activity bar container is.
		await wb.page.locator('.activitybar .action-item a[aria-label^="Checkpoints"]').waitFor({ timeout: 60_000 });
	}));

	after(async () => {
		await run.finish();
		await shell?.killStarted();
		for (const c of await helper.list().catch(() => [])) if (c.rootPid === program.pid || c.id === bigCheckpoint) await helper.remove(c.id).catch(() => undefined);
		await helper?.close();
		shell?.close();
		console.error(`e2e screenshots: ${run.outputDir}`);
	});

	const step = (body: (wb: Workbench) => Promise<void>): (() => Promise<void>) => run.step(body);

	test('Targets: a host with an unknown key asks, with its fingerprint; trusted, it shows its processes', step(async (wb) => {
		await runCommand(wb.page, 'checkpoint.targets.focus');
		await (await treeRow(wb.page, /^e2e target, /)).click();
		const dialog = wb.page.locator('.monaco-dialog-box');
		await dialog.waitFor({ timeout: 30_000 });
		assert.match((await dialog.textContent()) ?? '', /host key of .* is not known.*SHA256:[A-Za-z0-9+/]{43}/s);
		await wb.screenshot('0-host-key');
		await dialog.locator('.monaco-button', { hasText: /^Trust and Connect$/ }).click();
		// The process tree: the target's init, and under it (orphans are re-parented there) the demo program.
		await (await treeRow(wb.page, /^1 tini\b/, 60_000)).click();
		await treeRow(wb.page, new RegExp(`^${program.pid} workload`));
		assert.match(readFileSync(knownHosts, 'utf8'), /ssh-ed25519 /, 'the key went into the known_hosts file');
		await wb.screenshot('0-targets');
		// The row's inline Checkpoint action: a checkpoint without a debug session; the program runs on.
		const row = await treeRow(wb.page, new RegExp(`^${program.pid} workload`));
		await pointerOff(wb.page);
		await row.hover();
		await row.locator('.actions .action-label[aria-label^="Checkpoint Process"]').click();
		const input = wb.page.locator('.quick-input-widget .quick-input-box input');
		await input.waitFor({ state: 'visible' });
		await input.fill('from the targets view');
		await wb.page.keyboard.press('Enter');
		const message = await waitForNotification(wb.page, new RegExp(`Checkpoint \\S+ of ${program.pid} taken \\(\\d+(\\.\\d)? [KM]iB\\); the program runs on`), 60_000);
		const taken = (await helper.list()).find((c) => message.includes(c.id));
		assert.equal(taken?.name, 'from the targets view');
		assert.ok(await shell.isAlive(program.pid));
		await helper.remove(taken?.id ?? '');
		// Folded again, so that later steps find the image browser's rows, not these.
		await (await treeRow(wb.page, /^e2e target, /)).click();
		await wb.page.locator(`.monaco-list-row[aria-label^="${program.pid} workload"]`).waitFor({ state: 'detached' });
	}));

	test('the attach configuration starts a session from Run and Debug', step(async (wb) => {
		await runCommand(wb.page, 'workbench.view.debug');
		// The green Start button of Run and Debug, with the launch.json configuration selected.
		await wb.page.locator('.start-debug-action-item .codicon-debug-start').first().click();
		await wb.page.locator('.debug-toolbar').waitFor({ state: 'visible', timeout: 30_000 });
		await wb.page.locator('.statusbar-item', { hasText: `${program.pid} running` }).waitFor({ timeout: 30_000 });
		await wb.screenshot('1-attached');
	}));

	test('Pause freezes the program (seen from outside), Continue thaws it', step(async (wb) => {
		await clickAction(wb.page, /^Pause/);
		await wb.page.locator('.statusbar-item', { hasText: `${program.pid} frozen` }).waitFor({ timeout: 30_000 });
		// Stopped under gdb: the call stack shows the program's frames, from gdb.
		await wb.page.locator('.debug-toolbar .codicon-debug-continue').first().waitFor({ timeout: 30_000 });
		await treeRow(wb.page, /^Stack Frame /, 60_000);
		const frozen = await shell.counters(program.dir, ['state']);
		await new Promise((resolve) => setTimeout(resolve, 300));
		assert.deepEqual(await shell.counters(program.dir, ['state']), frozen, 'the program stands still while paused');
		await wb.screenshot('1b-paused');
		await clickAction(wb.page, /^Continue/);
		await wb.page.locator('.statusbar-item', { hasText: `${program.pid} running` }).waitFor({ timeout: 30_000 });
		await shell.waitForCounters(program.dir, ['state'], allAbove(frozen), 'the program does not run after Continue');
	}));

	let late: number[] = [];

	test('Take Checkpoint on the debug toolbar adds the checkpoint to the Checkpoints view', step(async (wb) => {
		await clickAction(wb.page, /^Take Checkpoint/);
		await typeAndEnter(wb.page, CHECKPOINT_NAME);
		await waitForNotification(wb.page, new RegExp(`Checkpoint ${escapeRegExp(CHECKPOINT_NAME)} taken`), 60_000);
		await treeRow(wb.page, new RegExp(`^${escapeRegExp(CHECKPOINT_NAME)}`));
		const listed = (await helper.list()).filter((c) => c.rootPid === program.pid);
		assert.deepEqual(listed.map((c) => c.name), [CHECKPOINT_NAME]);
		late = await shell.waitForCounters(program.dir, ['state'], (c) => c[0] >= 60, 'the program did not run on after the checkpoint');
		await wb.screenshot('2-checkpoint-taken');
	}));

	test('the Leaks view lists the program\'s leaks; an inline quick action writes the workspace setting, and the view shows it applied', step(async (wb) => {
		await runCommand(wb.page, 'checkpoint.leaks.focus');
		// The counter's state file is on /tmp, a tmpfs: a volatile file, warned about by default.
		await treeRow(wb.page, /^file that may be absent at restore, 1 · 1 warned$/, 60_000);
		await treeRow(wb.page, new RegExp(`^${escapeRegExp(program.dir)}/state .*, warn \\(the default\\)$`));
		await wb.page.locator('.message', { hasText: `Process ${program.pid}: ` }).first().waitFor();
		await wb.screenshot('2b-leaks');
		await clickInline(wb.page, new RegExp(`^${escapeRegExp(program.dir)}/state .*, warn \\(the default\\)$`), 'Don\'t Care About This Kind');
		await waitForNotification(wb.page, /\{ "volatile-file": "ignore" \} written to the setting checkpoint\.leakPolicy \(workspace settings\); it applies to the next checkpoint/);
		const settings = JSON.parse(readFileSync(join(run.outputDir, 'workspace', '.vscode', 'settings.json'), 'utf8')) as Record<string, unknown>;
		assert.deepEqual(settings['checkpoint.leakPolicy'], { 'volatile-file': 'ignore' });
		// The session got the setting at once: its leaks are listed again with it, nothing warned any more.
		await wb.page.locator('.message', { hasText: new RegExp(`^Process ${program.pid}: (\\d+) leaks, \\1 ignored; a checkpoint goes ahead\\.$`) }).first().waitFor();
		// Ignored, the kind went down among the others (the view lists what needs a decision first).
		await (await treeRow(wb.page, /^UTS namespace, 1 · 1 ignored$/)).hover();
		await wb.page.mouse.wheel(0, 5000);
		await treeRow(wb.page, new RegExp(`^${escapeRegExp(program.dir)}/state .*, ignore \\(default warn\\)$`));
		await wb.screenshot('2c-leak-ignored');
		// Back to Run and Debug, where the next step restores from the Checkpoints view.
		await runCommand(wb.page, 'checkpoint.checkpoints.focus');
	}));

	test('Restore from the Checkpoints view takes the program back', step(async (wb) => {
		// The row's inline action (the same command as its context menu's "Restore Checkpoint..."). A refresh of
		// the view (the leak setting just changed) can take the row away under the click: then it is clicked again.
		const restoring = async (): Promise<boolean> => (await helper.list()).some((c) => c.rootPid === program.pid && c.name === `before restore to ${CHECKPOINT_NAME}`);
		for (let attempt = 0; attempt < 2 && !(await restoring()); attempt++) {
			await pointerOff(wb.page);
			const row = await treeRow(wb.page, new RegExp(`^${escapeRegExp(CHECKPOINT_NAME)}`));
			await row.hover();
			await row.locator('.actions .action-label[aria-label^="Restore Checkpoint"]').click();
			for (let i = 0; i < 50 && !(await restoring()); i++) await new Promise((r) => setTimeout(r, 200));
		}
		// Seen in CI: clicks on the inline action that never reach the command (no progress, nothing saved). The same
		// command from the palette then: if that does not restore either, the failure is past the click.
		if (!(await restoring())) {
			await runCommand(wb.page, 'checkpoint.restoreCheckpoint');
			await typeAndEnter(wb.page, CHECKPOINT_NAME);
		}
		await waitForNotification(wb.page, /Restored e2e before: the program runs again/, 60_000);
		const back = await shell.waitForCounters(program.dir, ['state'], allBelow(late), 'the restore did not take the program back');
		await shell.waitForCounters(program.dir, ['state'], allAbove(back), 'the restored program does not run');
		await treeRow(wb.page, /^before restore to e2e before/);
		await wb.screenshot('3-restored');
	}));

	test('Open Snapshot starts a read-only session of the checkpoint: its thread, frames and registers', step(async (wb) => {
		await runCommand(wb.page, 'Checkpoint: Open Snapshot');
		await typeAndEnter(wb.page, CHECKPOINT_NAME);
		// The snapshot session stops at once, under the live one; opened down to its thread, its call stack shows
		// the thread's frames from gdb on the checkpoint's core; a frame's scopes hold the thread's registers.
		const snapshot = await treeRow(wb.page, /snapshot \(read-only\)/i, 60_000);
		await snapshot.click({ position: { x: 40, y: 10 } });
		for (const key of ['ArrowRight', 'ArrowRight', 'ArrowRight', 'ArrowDown']) await wb.page.keyboard.press(key);
		await (await treeRow(wb.page, /^Stack Frame /, 60_000)).click();
		const registers = await treeRow(wb.page, /^Scope Registers$/);
		if ((await registers.getAttribute('aria-expanded')) !== 'true') await registers.click();
		// gdb lists rax first and rip after r15 (out of the pane's view): the first ones and the stack pointer
		await treeRow(wb.page, /^rax\b/);
		await treeRow(wb.page, /^rsp\b/);
		await wb.screenshot('4-snapshot');
		await runCommand(wb.page, 'workbench.action.debug.stop');
	}));

	test('Compare with... shows what changed as a tree; a run of changed pages opens both checkpoints\' bytes side by side; the whole opens as text', step(async (wb) => {
		await runCommand(wb.page, 'checkpoint.compareCheckpoint');
		await typeAndEnter(wb.page, CHECKPOINT_NAME);
		// the second pick leaves the first out: the checkpoint of the present the restore saved
		await typeAndEnter(wb.page, `before restore to ${CHECKPOINT_NAME}`);
		await treeRow(wb.page, new RegExp(`^"${escapeRegExp(CHECKPOINT_NAME)}" → "before restore to ${escapeRegExp(CHECKPOINT_NAME)}"`), 60_000);
		// the counter counted on between them: its process changed, pages of its memory with it (areas by their mapping)
		await treeRow(wb.page, new RegExp(`^${program.pid} workload, changed$`));
		const area = await treeRow(wb.page, /^0x[0-9a-f]+-0x[0-9a-f]+ rw-p .*, \d+ changed, \d+ bytes/);
		await area.click();
		await (await treeRow(wb.page, /^0x[0-9a-f]+-0x[0-9a-f]+, \d+ pages? changed, \d+ bytes differ$/)).click();
		await wb.page.locator('.tabs-container .tab', { hasText: /↔/ }).first().waitFor({ timeout: 60_000 });
		await wb.page.locator('.editor-group-container.active .monaco-diff-editor').waitFor({ timeout: 30_000 });
		// both sides' lines (the diff editor scrolls to the first change): hexdumps of the run's bytes
		assert.match(await editorText(wb.page), /^[0-9a-f]{16} {2}([0-9a-f]{2} ){15}[0-9a-f]{2} +\|/m, 'the bytes, as hexdumps');
		await wb.screenshot('4b-compare');
		await runCommand(wb.page, 'Checkpoint: Open Comparison as Text');
		await wb.page.locator('.tabs-container .tab', { hasText: /\.txt$/ }).first().waitFor({ timeout: 30_000 });
		const text = await editorText(wb.page);
		assert.match(text, new RegExp(`^From "${escapeRegExp(CHECKPOINT_NAME)}" \\(\\S+\\) to "before restore to ${escapeRegExp(CHECKPOINT_NAME)}" \\(\\S+\\):`));
		assert.match(text, new RegExp(`^process ${program.pid} \\(workload\\):$`, 'm'));
		assert.match(text, /^ {2}pages of 0x[0-9a-f]+-0x[0-9a-f]+ rw-p .*: \d+ changed \(\d+ bytes differ\)/m);
	}));

	test('the image browser shows the checkpoint down to a memory area, and the Memory Map opens', step(async (wb) => {
		const row = await treeRow(wb.page, new RegExp(`^${escapeRegExp(CHECKPOINT_NAME)}`));
		await row.click();
		await runCommand(wb.page, 'checkpoint.image.focus');
		await treeRow(wb.page, new RegExp(`^${escapeRegExp(CHECKPOINT_NAME)}, checkpoint at `));
		// The checkpoint's leak report (taken before the volatile file was let go): the state file warned about.
		await (await treeRow(wb.page, /^Leaks, 1 warned\b/)).click();
		await treeRow(wb.page, /^summary: \d+ leaks: 1 warned, \d+ ignored; consistent$/);
		await wb.screenshot('5a-leak-report');
		await (await treeRow(wb.page, new RegExp(`^${program.pid} workload`))).click();
		await (await treeRow(wb.page, /^Memory Map/)).click();
		const vma = await treeRow(wb.page, /^0x[0-9a-f]+-0x[0-9a-f]+/);
		assert.match((await vma.getAttribute('aria-label')) ?? '', /r[w-][x-]p/);
		await wb.screenshot('5-image-browser');
		await runCommand(wb.page, 'Checkpoint: Show Memory Map');
		await typeAndEnter(wb.page, `${program.pid}`);
		const frame = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
		await frame.locator('h1', { hasText: `Memory map of ${program.pid} workload` }).waitFor({ timeout: 30_000 });
		assert.ok((await frame.locator('.vma').count()) > 5, 'the areas are drawn');
		await wb.screenshot('6-memory-map');
		// Clicking the stack opens its memory as the checkpoint holds it.
		await frame.locator('.vma[aria-label^="stack "]').click();
		await wb.page.locator('.tabs-container .tab', { hasText: /\.hex$/ }).first().waitFor({ timeout: 30_000 });
		const text = await editorText(wb.page);
		assert.match(text, new RegExp(`^Process ${program.pid} \\(workload\\), 0x[0-9a-f]+-0x[0-9a-f]+, as the checkpoint holds it\\.`));
		assert.match(text, /^[0-9a-f]{16} {2}([0-9a-f]{2} ){15}[0-9a-f]{2} +\|/m, 'the stack\'s dumped pages, as a hexdump');
		await wb.screenshot('7-memory');
	}));

	test('Open Checkpoint Folder shows a checkpoint from disk; 10,000 memory areas expand in groups', step(async (wb) => {
		const areas = await shell.start([WORKLOAD, 'areas', '{dir}', '10000']);
		try {
			await shell.waitForCounters(areas.dir, ['state'], (c) => c[0] >= 1, 'the areas program did not start');
			const checkpoint = await helper.dump(areas.pid, { leaveRunning: true, name: 'many areas' });
			bigCheckpoint = checkpoint.id;
			const rootfs = execFileSync('bash', [join(REPO, 'test', 'target', 'target.sh'), 'rootfs'], { encoding: 'utf8' }).trim();
			const dir = join(rootfs, checkpoint.path);
			await runCommand(wb.page, 'Checkpoint: Open Checkpoint Folder');
			// VS Code's own folder picker (a quick input here): type the folder, accept it.
			const input = wb.page.locator('.quick-input-widget .quick-input-box input');
			await input.waitFor({ state: 'visible' });
			// The picker fills in its start folder once it has listed it, over anything typed before: type
			// until the path stays, and the picker has moved into it (it lists only ".."); its button accepts it.
			const rows = wb.page.locator('.quick-input-widget .monaco-list-row');
			for (let tries = 0; ; tries++) {
				await input.fill(`${dir}/`);
				await new Promise((resolve) => setTimeout(resolve, 500));
				if ((await input.inputValue()) === `${dir}/` && (await rows.count()) === 1 && (await rows.first().getAttribute('aria-label')) === '..') break;
				if (tries === 20) throw new Error(`the folder picker did not take ${dir}/`);
			}
			await wb.page.locator('.quick-input-widget .monaco-button', { hasText: /^Open Checkpoint$/ }).click();
			// The Leaks view of the live session shares the side bar: folded, it leaves the image browser the room to list many groups.
			const leaksHeader = wb.page.locator('.pane-header[aria-expanded="true"]', { hasText: /^Leaks/ });
			if (await leaksHeader.count()) await leaksHeader.first().click();
			await treeRow(wb.page, new RegExp(`^${escapeRegExp(checkpoint.id)}, checkpoint at `), 60_000);
			await (await treeRow(wb.page, new RegExp(`^${areas.pid} workload`))).click();
			await (await treeRow(wb.page, /^Memory Map, 100\d\d\b/)).click();
			const firstGroup = await treeRow(wb.page, /^0x[0-9a-f]+ - 0x[0-9a-f]+, 500 areas$/);
			const groups = await wb.page.locator('.monaco-list-row[aria-label$=", 500 areas"]').count();
			assert.ok(groups >= 10, `the areas come in groups (${groups} group rows in view)`);
			await firstGroup.click();
			await treeRow(wb.page, /^0x[0-9a-f]+-0x[0-9a-f]+/);
			await wb.screenshot('8-many-areas');
		} finally {
			await shell.killTree(areas.pid);
		}
	}));

	/** `sh -c 'setsid workload counter DIR | cat'`: the workload's stdout is a pipe that cat, outside its tree, reads: refused by default. */
	async function startPiped(): Promise<{ sh: number; pid: number; dir: string }> {
		const { pid: sh, dir } = await shell.start(['/bin/sh', '-c', `setsid ${WORKLOAD} counter {dir} | cat >/dev/null`]);
		return { sh, pid: (await shell.waitForRecord(dir, 'state', (r) => r[1] >= 3))[0], dir };
	}

	/**
	 * The pointer moved off the views, and no tooltip left: the tooltip of a
	 * row (a workbench hover) shows below the pointer, over the next row, and
	 * holds the pointer while it is over it. Seen in CI: a view drawn again
	 * put the "pipe" group under the pointer, its tooltip covered the row
	 * below, and that row never showed its inline actions.
	 */
	async function pointerOff(page: Page): Promise<void> {
		await page.mouse.move(0, 0);
		await page.locator('.workbench-hover-container').first().waitFor({ state: 'hidden', timeout: 5000 });
	}

	/**
	 * Clicks an inline action of a tree row (shown while the row is hovered).
	 * A row found may be drawn again before the click (a label holding a
	 * process state, a view refreshed): then it is found and hovered again.
	 */
	async function clickInline(page: Page, label: RegExp, action: string): Promise<void> {
		for (let tries = 1; ; tries++) {
			try {
				await pointerOff(page);
				const row = await treeRow(page, label);
				await row.hover({ timeout: 5000 });
				await row.locator(`.actions .action-label[aria-label^="${action}"]`).click({ timeout: 5000 });
				return;
			} catch (err) {
				if (tries === 5) throw err;
			}
		}
	}

	/** Clicks an inline action of the piped workload's row in the Targets view (refreshed: it lists the processes it saw when expanded). */
	async function targetsAction(wb: Workbench, piped: { sh: number; pid: number }, action: string): Promise<void> {
		await runCommand(wb.page, 'checkpoint.targets.focus');
		await wb.page.locator('.pane-header .action-label[aria-label^="Refresh Targets"]').click();
		for (const row of [/^e2e target, /, /^1 tini\b/, new RegExp(`^${piped.sh} sh\\b`)]) {
			const found = await treeRow(wb.page, row, 60_000);
			if ((await found.getAttribute('aria-expanded')) !== 'true') await found.click();
		}
		await clickInline(wb.page, new RegExp(`^${piped.pid} workload`), action);
	}

	const workspaceSetting = (): unknown => (JSON.parse(readFileSync(join(run.outputDir, 'workspace', '.vscode', 'settings.json'), 'utf8')) as Record<string, unknown>)['checkpoint.leakPolicy'];

	test('in a debug session, a refused Take Checkpoint names the pipe; Show Leaks, then Set Leak Policy for that pipe lets the next checkpoint go ahead', step(async (wb) => {
		const piped = await startPiped();
		try {
			await targetsAction(wb, piped, 'Attach');
			// A second session does not take the focus from the first: select it in the Call Stack, as a user would.
			await runCommand(wb.page, 'workbench.view.debug');
			// (On its name: the row's right end holds the session's Pause, Disconnect... buttons.)
			await (await treeRow(wb.page, new RegExp(`Checkpoint: ${piped.pid} workload`), 30_000)).click({ position: { x: 40, y: 10 } });
			await wb.page.locator('.statusbar-item', { hasText: `${piped.pid} running` }).waitFor({ timeout: 30_000 });
			await clickAction(wb.page, /^Take Checkpoint/);
			await typeAndEnter(wb.page, 'refused in a session');
			await waitForNotification(wb.page, /^Checkpoint refused: pipe pipe:\[\d+\] is shared with processes outside the tree, and the leak policy is fail; nothing was frozen or written, the program runs on\./, 60_000);
			await wb.screenshot('9-refused-in-session');
			// One notification: the adapter's error is not shown a second time.
			assert.equal(await wb.page.locator('.notification-toast', { hasText: 'Checkpoint refused' }).count(), 1);
			assert.deepEqual((await helper.list()).filter((c) => c.rootPid === piped.pid), [], 'nothing was written');
			await wb.page.locator('.notification-toast .monaco-button', { hasText: /^Show Leaks$/ }).first().click();
			// What refuses a checkpoint is on top.
			await treeRow(wb.page, /^pipe, 1 · 1 failing$/);
			const leak = await treeRow(wb.page, /^pipe:\[\d+\], fail \(the default\)$/);
			const resource = /^(pipe:\[\d+\])/.exec((await leak.getAttribute('aria-label')) ?? '')?.[1] ?? '';
			await clickInline(wb.page, /^pipe:\[\d+\], fail \(the default\)$/, 'Set Leak Policy');
			await typeAndEnter(wb.page, 'warn');
			await typeAndEnter(wb.page, 'Only');
			await waitForNotification(wb.page, new RegExp(`\\{ "pipe:${escapeRegExp(resource)}": "warn" \\} written to the setting checkpoint\\.leakPolicy`));
			await treeRow(wb.page, new RegExp(`^${escapeRegExp(resource)}, warn \\(default fail\\)$`));
			await wb.screenshot('9b-pipe-warned');
			await clickAction(wb.page, /^Take Checkpoint/);
			await typeAndEnter(wb.page, 'warned in a session');
			await waitForNotification(wb.page, /Checkpoint warned in a session taken/, 60_000);
			const taken = (await helper.list()).find((c) => c.rootPid === piped.pid);
			assert.equal(taken?.leaks?.leaks?.find((l) => l.resource === resource)?.policy, pb.LeakPolicy.LEAK_POLICY_WARN);
			await runCommand(wb.page, 'workbench.action.debug.disconnect');
			// The first session is the one left: the status bar shows its program again.
			await wb.page.locator('.statusbar-item', { hasText: `${program.pid} running` }).waitFor({ timeout: 30_000 });
			assert.ok(await shell.isAlive(piped.pid), 'Disconnect lets the attached program run on');
		} finally {
			for (const c of await helper.list()) if (c.rootPid === piped.pid) await helper.remove(c.id);
			await shell.killTree(piped.sh);
		}
	}));

	test('a checkpoint from the Targets view refused for a leak names it and what going ahead costs; its button writes the policy for the kind, and the next checkpoint goes ahead', step(async (wb) => {
		// Another pipe: the rule for the last one's does not reach it.
		const piped = await startPiped();
		const pid = piped.pid;
		try {
			const checkpointRow = async (name: string): Promise<void> => {
				await targetsAction(wb, piped, 'Checkpoint Process');
				await typeAndEnter(wb.page, name);
			};
			await checkpointRow('piped');
			await waitForNotification(wb.page, /^Checkpoint refused: pipe pipe:\[\d+\] is shared with processes outside the tree, and the leak policy is fail; nothing was frozen or written, the program runs on\. To go ahead: \{ "pipe": "warn" \}: warn \(/, 60_000);
			await wb.screenshot('10-refused');
			assert.deepEqual((await helper.list()).filter((c) => c.rootPid === pid), [], 'nothing was written');
			await wb.page.locator('.notification-toast .monaco-button', { hasText: /^Warn Only$/ }).first().click();
			await waitForNotification(wb.page, /\{ "pipe": "warn" \} written to the setting checkpoint\.leakPolicy \(workspace settings\); it applies to the next checkpoint/);
			const setting = workspaceSetting() as Record<string, string>;
			assert.equal(setting.pipe, 'warn');
			assert.equal(setting['volatile-file'], 'ignore', 'added to what was there');

			await checkpointRow('piped, warned');
			await waitForNotification(wb.page, new RegExp(`Checkpoint \\S+ of ${pid} taken`), 60_000);
			const taken = (await helper.list()).filter((c) => c.rootPid === pid);
			assert.deepEqual(taken.map((c) => c.name), ['piped, warned']);
			const pipe = taken[0].leaks?.leaks?.find((l) => l.resource?.startsWith('pipe:'));
			assert.equal(pipe?.policy, pb.LeakPolicy.LEAK_POLICY_WARN, 'the checkpoint\'s report: the pipe, warned');
			await wb.screenshot('10b-warned');
		} finally {
			for (const c of await helper.list()) if (c.rootPid === pid) await helper.remove(c.id);
			await shell.killTree(piped.sh);
		}
	}));

	/** What the outside reader of a printing workload wrote to DIR/received: the counts it read, whole lines only. */
	async function received(dir: string): Promise<number[]> {
		const text = (await shell.run(`cat ${dir}/received 2>/dev/null`)).stdout;
		return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map(Number);
	}

	async function waitForReceived(dir: string, accept: (counts: number[]) => boolean, what: string, timeoutMs = 30_000): Promise<number[]> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const counts = await received(dir);
			if (counts.length && accept(counts)) return counts;
			if (Date.now() > deadline) throw new Error(`${what}: ${dir}/received holds ${counts.length} counts, the last ${counts.slice(-5).join(' ') || '(none)'}`);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}

	test('Hand to CRIU as External on a pipe to an outside reader: the checkpoint goes ahead, and the restored program writes into the same pipe, which the reader keeps reading', step(async (wb) => {
		// `sh -c 'setsid workload print | cat >DIR/received'`: the program prints its count on a pipe that cat, outside its tree, reads.
		const { pid: sh, dir } = await shell.start(['/bin/sh', '-c', `setsid ${WORKLOAD} print | cat >{dir}/received`]);
		const piped = { sh, pid: 0 };
		const name = 'e2e external pipe';
		const settingsFile = join(run.outputDir, 'workspace', '.vscode', 'settings.json');
		const settingsBefore = readFileSync(settingsFile, 'utf8');
		let restored = 0;
		/** The pipe's kind is listed after the namespaces (all of them ignored): the Leaks view scrolled down to its leak. */
		const showPipeLeak = async (leak: RegExp): Promise<void> => {
			await (await treeRow(wb.page, /^pipe, 1 · 1 external$/)).hover();
			await wb.page.mouse.wheel(0, 5000);
			await treeRow(wb.page, leak);
		};
		try {
			await waitForReceived(dir, (c) => c.length >= 3, 'the printing program did not start');
			piped.pid = Number((await shell.ok(`pgrep -P ${sh} -x workload`)).trim());
			assert.ok(piped.pid > 0, 'the printing program\'s pid');
			const resource = (await shell.ok(`readlink /proc/${piped.pid}/fd/1`)).trim();
			assert.match(resource, /^pipe:\[\d+\]$/);
			await targetsAction(wb, piped, 'Attach');
			await runCommand(wb.page, 'workbench.view.debug');
			await (await treeRow(wb.page, new RegExp(`Checkpoint: ${piped.pid} workload`), 30_000)).click({ position: { x: 40, y: 10 } });
			await wb.page.locator('.statusbar-item', { hasText: `${piped.pid} running` }).waitFor({ timeout: 30_000 });

			// The Leaks view: the pipe, under whatever policy the earlier steps left for pipes; its inline quick action hands it to CRIU.
			await runCommand(wb.page, 'checkpoint.leaks.focus');
			const row = new RegExp(`^${escapeRegExp(resource)}, (fail \\(the default\\)|warn \\(default fail\\))$`);
			await treeRow(wb.page, row, 60_000);
			await clickInline(wb.page, row, 'Hand to CRIU as External');
			// Every pipe leak of the tree can be external: the rule is written for the kind.
			await waitForNotification(wb.page, /\{ "pipe": "external" \} written to the setting checkpoint\.leakPolicy \(workspace settings\); it applies to the next checkpoint/);
			assert.equal((workspaceSetting() as Record<string, string>).pipe, 'external');
			const external = new RegExp(`^${escapeRegExp(resource)}, external \\(default fail\\)$`);
			await treeRow(wb.page, external);
			await wb.page.locator('.message', { hasText: new RegExp(`^Process ${piped.pid}: \\d+ leaks, \\d+ ignored, 1 external; a checkpoint goes ahead\\.$`) }).first().waitFor();
			await showPipeLeak(external);
			await wb.screenshot('11-pipe-external');

			const beforeCheckpoint = (await received(dir)).at(-1) ?? 0;
			await clickAction(wb.page, /^Take Checkpoint/);
			await typeAndEnter(wb.page, name);
			await waitForNotification(wb.page, new RegExp(`Checkpoint ${escapeRegExp(name)} taken`), 60_000);
			const afterCheckpoint = (await received(dir)).at(-1) ?? 0;
			const taken = (await helper.list()).filter((c) => c.rootPid === piped.pid);
			assert.deepEqual(taken.map((c) => c.name), [name]);
			const pipe = taken[0].leaks?.leaks?.find((l) => l.resource === resource);
			assert.equal(pipe?.policy, pb.LeakPolicy.LEAK_POLICY_EXTERNAL, 'the checkpoint\'s report: the pipe, handed to CRIU as external');
			// The program runs on past the checkpoint, the reader reading.
			const late = await waitForReceived(dir, (c) => (c.at(-1) ?? 0) >= afterCheckpoint + 25, 'the program did not run on after the checkpoint');
			await wb.screenshot('11b-external-checkpoint');

			await runCommand(wb.page, 'checkpoint.checkpoints.focus');
			await clickInline(wb.page, new RegExp(`^${escapeRegExp(name)}, `), 'Restore Checkpoint');
			const message = await waitForNotification(wb.page, new RegExp(`Restored ${escapeRegExp(name)}: the program runs again as pid \\d+`), 60_000);
			restored = Number(/as pid (\d+)/.exec(message)?.[1]);
			assert.equal((await shell.ok(`readlink /proc/${restored}/fd/1`)).trim(), resource, 'the restored program holds the same pipe');
			// What cat wrote down: the counts up to the restore, then again from the checkpoint's count on, one by one, and on.
			const lastBefore = late.at(-1) ?? 0;
			const counts = await waitForReceived(dir, (c) => {
				const back = c.findIndex((v, i) => i > 0 && v <= c[i - 1]);
				return back > 0 && (c.at(-1) ?? 0) >= c[back] + 25;
			}, 'the outside reader receives nothing from the restored program');
			const back = counts.findIndex((v, i) => i > 0 && v <= counts[i - 1]);
			assert.ok(counts[back - 1] >= lastBefore, `the counts before the restore went on to ${counts[back - 1]}`);
			assert.ok(counts[back] > beforeCheckpoint && counts[back] <= afterCheckpoint + 1,
				`the restored program counts on from the checkpoint's count (between ${beforeCheckpoint} and ${afterCheckpoint}): ${counts[back]} came after ${counts[back - 1]}`);
			assert.deepEqual(counts.slice(back).map((v, i) => v - i), counts.slice(back).map(() => counts[back]), 'after the restore, every count reaches the reader, in order');
			// The Leaks view after the restore: the restored program's pipe, still external.
			await runCommand(wb.page, 'checkpoint.leaks.focus');
			await wb.page.locator('.message', { hasText: `Process ${restored}: ` }).first().waitFor();
			await showPipeLeak(external);
			await wb.screenshot('11c-external-restored');
			await runCommand(wb.page, 'workbench.action.debug.disconnect');
			await wb.page.locator('.statusbar-item', { hasText: `${program.pid} running` }).waitFor({ timeout: 30_000 });
		} finally {
			for (const c of await helper.list()) if (c.rootPid === piped.pid || (restored && c.rootPid === restored)) await helper.remove(c.id);
			// A restored program is no longer sh's child: killed by its pid (the same as before the restore, or the one the restore said).
			for (const pid of new Set([piped.pid, restored].filter((p) => p > 0))) await shell.killTree(pid);
			await shell.killTree(sh);
			// The setting as the earlier steps left it.
			if (readFileSync(settingsFile, 'utf8') !== settingsBefore) writeFileSync(settingsFile, settingsBefore);
		}
	}));

	test('a saved TCP connection that carried data since: the restore asks first, and Restore With Connections Closed brings the program back with it closed', step(async (wb) => {
		const leaky = await shell.buildProgram('leaky');
		const port = testPort();
		// leaky tcp: P (outside the tree) listens; its child R, the tree, connects and sends it a count every tick.
		const { pid: outside, dir } = await shell.start([leaky, 'tcp', '{dir}', String(port)]);
		const root = (await shell.waitForRecord(dir, 'state', (r) => r[1] >= 3))[0];
		const name = 'e2e tcp';
		const settingsFile = join(run.outputDir, 'workspace', '.vscode', 'settings.json');
		const settingsBefore = readFileSync(settingsFile, 'utf8');
		try {
			await runCommand(wb.page, 'checkpoint.targets.focus');
			await wb.page.locator('.pane-header .action-label[aria-label^="Refresh Targets"]').click();
			const first = await treeRow(wb.page, /^e2e target, /);
			// one "1 tini" row in view, the newer CRIU's: folded before looking (else its rows may still be there)
			if ((await first.getAttribute('aria-expanded')) === 'true') await first.click();
			await wb.page.locator('.monaco-list-row[aria-label^="e2e target, "][aria-expanded="false"]').first().waitFor({ timeout: 30_000 });
			for (const row of [/^newer CRIU, /, /^1 tini\b/, new RegExp(`^${outside} leaky\\b`)]) {
				const found = await treeRow(wb.page, row, 60_000);
				if ((await found.getAttribute('aria-expanded')) !== 'true') await found.click();
			}
			await clickInline(wb.page, new RegExp(`^${root} leaky`), 'Attach');
			await runCommand(wb.page, 'workbench.view.debug');
			await (await treeRow(wb.page, new RegExp(`Checkpoint: ${root} leaky`), 30_000)).click({ position: { x: 40, y: 10 } });
			await wb.page.locator('.statusbar-item', { hasText: `${root} running` }).waitFor({ timeout: 30_000 });

			// The connection refuses the checkpoint by default; the notification's button lets CRIU save it, then takes it.
			await clickAction(wb.page, /^Take Checkpoint/);
			await typeAndEnter(wb.page, name);
			await waitForNotification(wb.page, /^Checkpoint refused: tcp 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ /, 60_000);
			await wb.page.locator('.notification-toast .monaco-button', { hasText: /^Let CRIU Save It$/ }).first().click();
			await waitForNotification(wb.page, /\{ "tcp": "save" \} written to the setting checkpoint\.leakPolicy/);
			await wb.page.locator('.notification-toast .monaco-button', { hasText: /^Take Checkpoint$/ }).first().click();
			await typeAndEnter(wb.page, name);
			await waitForNotification(wb.page, new RegExp(`Checkpoint ${escapeRegExp(name)} taken`), 60_000);
			const taken = (await helper.list()).filter((c) => c.rootPid === root);
			assert.deepEqual(taken.map((c) => [c.name, c.options?.tcpEstablished]), [[name, true]], 'saved with --tcp-established');
			const at = await shell.counters(dir, ['outside']);
			await shell.waitForCounters(dir, ['outside'], (c) => c[0] >= at[0] + 20, 'the server receives nothing after the checkpoint');

			// Restore: the connection moved on; the editor says so and asks, before anything is replaced.
			await runCommand(wb.page, 'checkpoint.checkpoints.focus');
			await clickInline(wb.page, new RegExp(`^${escapeRegExp(name)}, `), 'Restore Checkpoint');
			const dialog = wb.page.locator('.monaco-dialog-box');
			await dialog.waitFor({ timeout: 60_000 });
			const text = (await dialog.textContent()) ?? '';
			assert.match(text, /Checkpoint: Restore not started: the TCP connection 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ \(\d+ bytes received, \d+ written\) carried data since the checkpoint\./);
			assert.match(text, /both ends would wait for each other for good\. Nothing was killed\./);
			assert.match(text, /The present state was saved first, as checkpoint \d{8}-\d{6}-[0-9a-f]{4}\.\s*Restore With Connections Closed: the connections end/);
			await wb.screenshot('12-connection-moved-on');
			const still = await shell.counters(dir, ['outside']);
			await shell.waitForCounters(dir, ['outside'], (c) => c[0] > still[0] + 5, 'the program stopped while the editor asked');
			await dialog.locator('.monaco-button', { hasText: /^Restore With Connections Closed$/ }).click();
			await waitForNotification(wb.page, new RegExp(`Restored ${escapeRegExp(name)}: the program runs again as pid ${root}\\.`), 60_000);
			// The restored program's sends fail on its closed connection, and the server hears nothing more.
			await shell.waitForCounters(dir, ['state'], (c) => c[1] > 5, 'the restored program\'s sends do not fail');
			const ended = await shell.counters(dir, ['outside']);
			await new Promise((resolve) => setTimeout(resolve, 300));
			assert.deepEqual(await shell.counters(dir, ['outside']), ended, 'the server receives nothing more');
			await runCommand(wb.page, 'workbench.action.debug.disconnect');
		} finally {
			for (const c of await helper.list()) if (c.rootPid === root) await helper.remove(c.id);
			await shell.killTree(root);
			await shell.killTree(outside);
			if (readFileSync(settingsFile, 'utf8') !== settingsBefore) writeFileSync(settingsFile, settingsBefore);
		}
	}));

});
