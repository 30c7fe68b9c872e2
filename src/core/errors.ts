/**
 * Errors a user can act on. Every failure that reaches the CLI or the editor
 * is a CheckpointError whose message says what happened and what to do.
 */
import type { pb } from './protocol';

export type ErrorKind =
	| 'bad-request'
	| 'no-such-process'
	| 'not-permitted'
	| 'criu-failed'
	| 'criu-unavailable'
	| 'cgroup-unavailable'
	| 'not-found'
	| 'tree-running'
	| 'pid-in-use'
	| 'internal'
	/** A dump refused before anything was frozen: the leaks whose policy is fail are in `leaks`. */
	| 'leaks-refused'
	/** A restore refused: what a leak was handed to CRIU as (a pipe, a namespace) has no live holder any more. */
	| 'external-gone'
	/** A restore refused: a TCP connection it would bring back carried data since the checkpoint (restore with tcpClose). */
	| 'connection-moved-on'
	/** A checkpoint's images are damaged or incomplete. */
	| 'image-damaged'
	/** The checkpoint holds what the helper cannot handle (another architecture, a 32-bit process). */
	| 'unsupported'
	/** The checkpoint or the tree is in use: a lazy restore still copies its pages in (try again in a moment). */
	| 'busy'
	| 'connection'
	| 'host-key-unknown'
	| 'host-key-changed'
	| 'authentication'
	| 'sudo-password'
	| 'helper-missing'
	| 'helper-exited'
	| 'protocol'
	| 'timeout'
	| 'usage'
	| 'cancelled';

export interface CriuFailure {
	/** CRIU's own message (cr_errmsg), verbatim. */
	message: string;
	/** The lines of CRIU's log that explain the failure. */
	log: string[];
	/** Where the full log is kept on the target. */
	logPath?: string;
}

export class CheckpointError extends Error {
	constructor(
		readonly kind: ErrorKind,
		message: string,
		readonly criu?: CriuFailure,
		readonly errno?: number,
		/** leaks-refused: the leaks whose policy is fail, each with its choices. Empty for the other kinds. */
		readonly leaks: readonly pb.ILeak[] = [],
	) {
		super(message);
		this.name = 'CheckpointError';
	}

	/** The message, followed by CRIU's explanation when there is one. */
	describe(): string {
		const lines = [this.message];
		if (this.criu?.message && !this.message.includes(this.criu.message)) lines.push(`CRIU: ${this.criu.message}`);
		if (this.criu?.log.length) {
			lines.push('CRIU log:');
			for (const l of this.criu.log) lines.push(`  ${l}`);
		}
		if (this.criu?.logPath) lines.push(`Full CRIU log on the target: ${this.criu.logPath}`);
		return lines.join('\n');
	}
}

export function errorMessage(err: unknown): string {
	if (err instanceof CheckpointError) return err.describe();
	if (err instanceof Error) return err.message;
	return String(err);
}
