/**
 * The editor's end of the adapter's own requests (src/debug/messages.ts):
 * a request typed by its name.
 */
import * as vscode from 'vscode';
import type { CustomArgs, CustomBody, CustomRequestName } from '../debug/messages';

/** Sends a custom request to a checkpoint debug session; the answer is the body its name says (CustomRequests). */
export async function customRequest<K extends CustomRequestName>(session: vscode.DebugSession, command: K, args: CustomArgs<K>): Promise<CustomBody<K>> {
	// VS Code types every answer as any: the contract in messages.ts says what the adapter sends back.
	const body: CustomBody<K> = await session.customRequest(command, args);
	return body;
}
