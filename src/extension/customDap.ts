/**
 * The editor's end of the adapter's own requests and events
 * (src/debug/messages.ts): a request typed by its name, and listeners that
 * get the body their event carries. Nothing here knows what the views do.
 */
import * as vscode from 'vscode';
import type { CustomArgs, CustomBody, CustomEventBody, CustomEventName, CustomRequestName } from '../debug/messages';

/** Sends a custom request to a checkpoint debug session; the answer is the body its name says (CustomRequests). */
export async function customRequest<K extends CustomRequestName>(session: vscode.DebugSession, command: K, args: CustomArgs<K>): Promise<CustomBody<K>> {
	// VS Code types every answer as any: the contract in messages.ts says what the adapter sends back.
	const body: CustomBody<K> = await session.customRequest(command, args);
	return body;
}

export type CustomEventHandler<K extends CustomEventName> = (session: vscode.DebugSession, body: CustomEventBody<K>) => void;

/**
 * The custom events of one debug type, by name: each view subscribes to the
 * events it cares about, with the body typed by the event's name.
 */
export class CustomEventRouter {
	constructor(private readonly source: vscode.Event<vscode.DebugSessionCustomEvent>, private readonly debugType: string) {}

	on<K extends CustomEventName>(event: K, handler: CustomEventHandler<K>): vscode.Disposable {
		return this.source((e) => {
			// The body is the one CustomEvents gives this name: the adapter sends it through sendCustomEvent.
			if (e.session.type === this.debugType && e.event === event) handler(e.session, e.body);
		});
	}
}
