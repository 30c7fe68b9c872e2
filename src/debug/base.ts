/**
 * What both debug sessions (live tree, checkpoint snapshot) share: async
 * request handling where every failure becomes an error response a user can
 * act on, never an unanswered request.
 */
import { DebugSession } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { errorMessage } from '../core/errors';

/** Error ids in responses: one per session kind, so logs say where a failure came from. */
export const ERROR_ID = { live: 3001, snapshot: 3002 } as const;

export abstract class AsyncDebugSession extends DebugSession {
	protected abstract readonly errorId: number;

	/** Runs `work`, then answers: its body on success, its message (shown to the user) on failure. */
	protected answer<R extends DebugProtocol.Response>(response: R, work: () => Promise<R['body'] | void>): void {
		work().then(
			(body) => {
				if (body !== undefined) response.body = body;
				this.sendResponse(response);
			},
			(err: unknown) => this.fail(response, err),
		);
	}

	/**
	 * Starts the session (attach, launch, open): a start that fails lets go of
	 * what it took (undo) before its failure is answered, so nothing is held
	 * for a session that never began and another attempt takes its own.
	 */
	protected async starting(start: () => Promise<void>, undo: () => Promise<void>): Promise<void> {
		try {
			await start();
		} catch (err) {
			await undo();
			throw err;
		}
	}

	protected fail(response: DebugProtocol.Response, err: unknown): void {
		// The message goes in as a variable (CRIU's text may hold braces a format would eat),
		// named with "_" so it is not treated as personal data and is also in response.message.
		this.sendErrorResponse(response, { id: this.errorId, format: '{_message}', variables: { _message: errorMessage(err) }, showUser: this.showsUser(err, response.command) });
	}

	/** Whether the editor should show the error as it is (false: the session tells it otherwise, with more to act on). */
	protected showsUser(_err: unknown, _command: string): boolean {
		return true;
	}
}
