/**
 * A helper session on a target: typed operations over the helper client.
 * The CLI, the debug adapter and the extension all go through this.
 */
import { pb } from './protocol';
import { HelperClient, type RequestOptions } from './helperClient';
import type { Target } from './target';


export type ProgressListener = (progress: pb.Progress) => void;

export interface DumpOptions {
	name?: string;
	leaveRunning?: boolean;
	criu?: pb.IDumpOptions;
	onProgress?: ProgressListener;
}

export interface RestoreOptions {
	killRunning?: boolean;
	criu?: pb.IDumpOptions;
	onProgress?: ProgressListener;
}

export class HelperSession {
	private constructor(readonly target: Target, readonly client: HelperClient) {}

	/** Starts the helper on target; if that fails, the connection made for it is closed. */
	static async open(target: Target): Promise<HelperSession> {
		try {
			const channel = await target.startHelper();
			return new HelperSession(target, new HelperClient(channel, target.description));
		} catch (err) {
			await target.close().catch(() => undefined);
			throw err;
		}
	}

	hello(): Promise<pb.HelloResult> {
		return this.client.request('hello', {});
	}

	async ps(rootPid = 0): Promise<pb.ProcessInfo[]> {
		return (await this.client.request('ps', { rootPid })).processes;
	}

	freeze(rootPid: number, options?: RequestOptions): Promise<pb.FreezeResult> {
		return this.client.request('freeze', { rootPid }, options);
	}

	thaw(rootPid: number): Promise<pb.ThawResult> {
		return this.client.request('thaw', { rootPid });
	}

	async dump(rootPid: number, options: DumpOptions = {}): Promise<pb.Checkpoint> {
		const result = await this.client.request('dump', {
			rootPid, name: options.name ?? '', leaveRunning: options.leaveRunning ?? false, options: options.criu ? pb.DumpOptions.create(options.criu) : undefined,
		}, { onProgress: options.onProgress });
		return result.checkpoint ?? pb.Checkpoint.create();
	}

	restore(checkpointId: string, options: RestoreOptions = {}): Promise<pb.RestoreResult> {
		return this.client.request('restore', {
			checkpointId, killRunning: options.killRunning ?? false, options: options.criu ? pb.DumpOptions.create(options.criu) : undefined,
		}, { onProgress: options.onProgress });
	}

	async list(): Promise<pb.Checkpoint[]> {
		return (await this.client.request('list', {})).checkpoints;
	}

	async remove(checkpointId: string): Promise<void> {
		await this.client.request('delete', { checkpointId });
	}

	/** The image files of a checkpoint in the store, with their sizes. */
	imageFiles(checkpointId: string): Promise<pb.ImageFilesResult> {
		return this.client.request('imageFiles', { checkpointId });
	}

	/** Byte ranges of a checkpoint's image files, in one round trip. */
	async readImage(checkpointId: string, ranges: pb.IByteRange[]): Promise<Uint8Array[]> {
		return (await this.client.request('readImage', { checkpointId, ranges: ranges.map((r) => pb.ByteRange.create(r)) })).data;
	}

	/** Ends the helper (it thaws what it froze) and drops the connection. */
	async close(): Promise<void> {
		await this.client.close();
		await this.target.close();
	}
}
