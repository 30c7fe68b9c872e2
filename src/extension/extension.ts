/**
 * The VS Code layer: thin, over src/core. For now it connects to a target
 * and reports what the helper finds there; the debug adapter, snapshots and
 * the image sidebar build on the same session.
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { HelperSession } from '../core/session';
import { targetFromSpec } from '../core/targetSpec';

let output: vscode.OutputChannel | undefined;

export function activate(context: vscode.ExtensionContext): void {
	output = vscode.window.createOutputChannel('Checkpoint Debugger');
	context.subscriptions.push(output, vscode.commands.registerCommand('checkpoint.connect', connect));
}

export function deactivate(): void {
	output = undefined;
}

async function connect(): Promise<void> {
	const spec = await vscode.window.showInputBox({
		title: 'Checkpoint: Connect to Target',
		prompt: 'ssh://user@host:port, a connection file written by "npm run target:up", or "local"',
		ignoreFocusOut: true,
	});
	if (!spec) return;
	try {
		const session = await vscode.window.withProgress(
			{ location: vscode.ProgressLocation.Notification, title: `Connecting to ${spec}` },
			() => HelperSession.open(targetFromSpec(spec)),
		);
		try {
			const hello = await session.hello();
			output?.appendLine(`${session.target.description}: helper ${hello.helperVersion}, CRIU ${hello.criuVersion || 'not usable'}, Linux ${hello.kernelRelease}`);
			if (hello.criuProblem) output?.appendLine(`  problem: ${hello.criuProblem}`);
			void vscode.window.showInformationMessage(`Checkpoint: connected to ${session.target.description} (CRIU ${hello.criuVersion || 'not usable'}).`);
		} finally {
			await session.close();
		}
	} catch (err) {
		output?.appendLine(errorMessage(err));
		void vscode.window.showErrorMessage(`Checkpoint: ${errorMessage(err)}`);
	}
}
