import type { Readable, Writable } from 'node:stream';
import type { ImageSource } from './images/source';

/** How a helper process ended. */
export interface HelperExit {
	code: number | null;
	signal: string | null;
}

/** A running helper: its stdio and its end. */
export interface HelperChannel {
	readonly stdin: Writable;
	readonly stdout: Readable;
	readonly stderr: Readable;
	readonly exited: Promise<HelperExit>;
	/** Ends the helper: closing its stdin makes it thaw what it froze and exit. */
	close(): void;
}

/** A Linux host the helper can run on. */
export interface Target {
	/** For messages: "root@127.0.0.1:2222", "this machine". */
	readonly description: string;
	/** Starts the helper there, uploading it first if it is missing or differs. */
	startHelper(): Promise<HelperChannel>;
	/** A file of the target (a program's source), up to maxBytes; a larger one is refused in words. */
	readFile(path: string, maxBytes: number): Promise<Buffer>;
	/** Reads a checkpoint directory on the target (image files, by byte range). */
	imageSource(dir: string): Promise<ImageSource>;
	/** Drops the connection; helpers started through it see their stdin close. */
	close(): Promise<void>;
}
