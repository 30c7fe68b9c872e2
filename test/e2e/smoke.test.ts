/**
 * The end-to-end harness on its own, without the project's extension: a real
 * VS Code (code-server) on a workspace with one file, driven in chromium.
 * Needs scripts/setup-vscode.sh to have run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
	e2eOutputDir, editorText, escapeRegExp, freshDirs, openFile, openWorkbench, runCommand, startCodeServer, treeRow,
	type CodeServer, type Workbench,
} from './codeServer';

const FILE_NAME = 'greeting.txt';
const FILE_TEXT = 'Hello from the checkpoint debugger e2e smoke test\nsecond line';

describe('VS Code in chromium (code-server harness)', () => {
	const out = e2eOutputDir('smoke');
	let server: CodeServer | undefined;
	let workbench: Workbench | undefined;
	let failed = false;

	before(async () => {
		try {
			const workspace = join(out, 'workspace');
			mkdirSync(workspace, { recursive: true });
			writeFileSync(join(workspace, FILE_NAME), FILE_TEXT);
			server = await startCodeServer({ workspace, outputDir: out, ...freshDirs(out) });
			workbench = await openWorkbench(server.url, out);
		} catch (err) {
			failed = true;
			throw err;
		}
	});

	after(async () => {
		if (failed && workbench) await workbench.screenshot('failure').catch(() => undefined);
		await workbench?.close();
		await server?.stop();
		if (failed) console.error(`e2e output (logs, screenshots): ${out}`);
	});

	/** A test body that marks the run failed when it throws. */
	const step = (body: (wb: Workbench) => Promise<void>) => async () => {
		try {
			assert.ok(workbench, 'no workbench');
			await body(workbench);
		} catch (err) {
			failed = true;
			throw err;
		}
	};

	test('quick open ("Go to File") opens a workspace file in an editor that shows its text', step(async (wb) => {
		await openFile(wb.page, FILE_NAME);
		assert.equal(await editorText(wb.page), FILE_TEXT);
		await wb.screenshot('file-open');
	}));

	test('the explorer lists the file as a tree row, found by its aria-label', step(async (wb) => {
		await runCommand(wb.page, 'workbench.view.explorer');
		const row = await treeRow(wb.page, new RegExp(`^${escapeRegExp(FILE_NAME)}\\b`));
		await row.click();
		assert.match((await row.getAttribute('class')) ?? '', /\bselected\b/);
	}));
});
