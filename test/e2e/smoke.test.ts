/**
 * The end-to-end harness on its own, without the project's extension: a real
 * VS Code (code-server) on a workspace with one file, driven in chromium,
 * with a one-command probe extension installed from a .vsix.
 * Needs scripts/setup-vscode.sh to have run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { E2eRun, editorText, escapeRegExp, openFile, runCommand, treeRow, waitForNotification } from './codeServer';

const execFileAsync = promisify(execFile);
const VSCE = join(__dirname, '..', '..', '..', 'node_modules', '@vscode', 'vsce', 'vsce');
const FILE_NAME = 'greeting.txt';
const FILE_TEXT = 'Hello from the checkpoint debugger e2e smoke test\nsecond line';
const PROBE_MESSAGE = 'Hello from the e2e probe extension';

/** A one-command extension, packaged offline with vsce; returns the .vsix path. */
async function packageProbeExtension(dir: string): Promise<string> {
	mkdirSync(dir, { recursive: true });
	writeFileSync(join(dir, 'package.json'), JSON.stringify({
		name: 'e2e-probe', publisher: 'checkpoint-debugger-tests', version: '0.0.1', license: 'MIT',
		engines: { vscode: '^1.100.0' }, main: './extension.js', activationEvents: [],
		contributes: { commands: [{ command: 'e2eProbe.hello', title: 'Say Hello', category: 'E2E Probe' }] },
	}));
	writeFileSync(join(dir, 'extension.js'), `const vscode = require('vscode');
let count = 0;
exports.activate = (context) => {
	context.subscriptions.push(vscode.commands.registerCommand('e2eProbe.hello', () => vscode.window.showInformationMessage(${JSON.stringify(PROBE_MESSAGE)} + ' #' + ++count)));
};
`);
	writeFileSync(join(dir, 'README.md'), '# e2e probe\n\nAn extension the end-to-end smoke test installs.\n');
	const vsix = join(dir, 'e2e-probe.vsix');
	await execFileAsync(process.execPath, [VSCE, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', vsix], { cwd: dir, timeout: 60_000 });
	return vsix;
}

describe('VS Code in chromium (code-server harness)', () => {
	const run = new E2eRun('smoke');

	before(() => run.guard(async () => {
		const workspace = join(run.outputDir, 'workspace');
		mkdirSync(workspace, { recursive: true });
		writeFileSync(join(workspace, FILE_NAME), FILE_TEXT);
		await run.open({ workspace, vsix: await packageProbeExtension(join(run.outputDir, 'probe-extension')) });
	}));

	after(() => run.finish());

	test('quick open ("Go to File") opens a workspace file in an editor that shows its text', run.step(async (wb) => {
		await openFile(wb.page, FILE_NAME);
		assert.equal(await editorText(wb.page), FILE_TEXT);
		await wb.screenshot('file-open');
	}));

	test('the explorer lists the file as a tree row, found by its aria-label', run.step(async (wb) => {
		await runCommand(wb.page, 'workbench.view.explorer');
		const row = await treeRow(wb.page, new RegExp(`^${escapeRegExp(FILE_NAME)}\\b`));
		await row.click();
		assert.match((await row.getAttribute('class')) ?? '', /\bselected\b/);
	}));

	test('an extension installed from a .vsix runs its command from the palette and shows a notification', run.step(async (wb) => {
		await runCommand(wb.page, 'E2E Probe: Say Hello');
		assert.equal(await waitForNotification(wb.page, /e2e probe extension #1/), `${PROBE_MESSAGE} #1`);
		await runCommand(wb.page, 'e2eProbe.hello');
		assert.equal(await waitForNotification(wb.page, /e2e probe extension #2/), `${PROBE_MESSAGE} #2`);
		await wb.screenshot('notifications');
	}));
});
