/**
 * Copies a checkpoint from a target's store to a local folder, through the
 * helper (so it works for sudo users, whose login cannot read the store).
 * The copy is self-describing (images and manifest) and opens offline. It is
 * written under a temporary name and renamed when complete, so a cancelled
 * or failed download never leaves something that looks like a checkpoint.
 * The same for one process's core file, which the helper writes on the
 * target from the checkpoint's images first.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from './errors';
import { HelperImageSource } from './images/helperSource';
import type { pb } from './protocol';
import type { HelperSession } from './session';

/** Per request: the helper's limit is 16 MiB; a few in flight keep the connection busy. */
const CHUNK = 8 * 1024 * 1024;

export interface DownloadProgress {
	file: string;
	doneBytes: number;
	totalBytes: number;
}

export interface DownloadOptions {
	onProgress?: (p: DownloadProgress) => void;
	/** Checked between chunks; true stops the download (and removes the partial copy). */
	cancelled?: () => boolean;
}

/**
 * Copies size bytes of a checkpoint's file into out, chunk by chunk; each
 * chunk's length goes to copied. A file that ends early (replaced while it
 * is read) is an error, not a short copy (the source refuses short reads).
 */
async function copyFile(source: HelperImageSource, file: string, size: number, out: FileHandle, copied: (bytes: number) => void, options: DownloadOptions): Promise<void> {
	for (let at = 0; at < size; at += CHUNK) {
		if (options.cancelled?.()) throw new CheckpointError('cancelled', `the download of ${file} of checkpoint ${source.checkpointId} was cancelled`);
		const data = await source.readRange(file, at, Math.min(CHUNK, size - at));
		await out.write(data, 0, data.length, at);
		copied(data.length);
	}
}

/** Downloads checkpoint `id` into `parentDir/<id>`; returns that directory. */
export async function downloadCheckpoint(session: HelperSession, id: string, parentDir: string, options: DownloadOptions = {}): Promise<string> {
	const { files } = await session.imageFiles(id);
	const source = new HelperImageSource(session, id);
	const dest = join(parentDir, id);
	const partial = `${dest}.partial`;
	const totalBytes = files.reduce((n, f) => n + Number(f.size), 0);
	let doneBytes = 0;
	await rm(partial, { recursive: true, force: true });
	await mkdir(partial, { recursive: true, mode: 0o700 });
	try {
		for (const file of files) {
			const out = await open(join(partial, file.name), 'w', 0o600);
			try {
				await copyFile(source, file.name, Number(file.size), out, (n) => {
					doneBytes += n;
					options.onProgress?.({ file: file.name, doneBytes, totalBytes });
				}, options);
			} finally {
				await out.close();
			}
		}
		await rm(dest, { recursive: true, force: true });
		await rename(partial, dest);
		return dest;
	} catch (err) {
		await rm(partial, { recursive: true, force: true });
		throw err;
	}
}

/** What writing and downloading a core takes of a session. */
export type CoreSession = Pick<HelperSession, 'target' | 'core' | 'imageFiles' | 'readImage'>;

export interface CoreDownloadOptions extends DownloadOptions {
	/** The helper's word while it writes the core on the target. */
	onWriting?: (message: string) => void;
}

/**
 * Has the helper write the core file of process pid (0: the root) of
 * checkpoint id on the target, then downloads it to dest, private (0600):
 * into a temporary file beside dest, renamed to dest when complete and
 * removed otherwise, so dest is the whole core or what it was before.
 * Returns what the helper wrote.
 */
export async function downloadCore(session: CoreSession, id: string, pid: number, dest: string, options: CoreDownloadOptions = {}): Promise<pb.CoreResult> {
	const result = await session.core(id, pid, { onProgress: (p) => options.onWriting?.(p.message || p.stage) });
	const partial = join(dirname(dest), `.${basename(dest)}.${randomBytes(6).toString('hex')}.partial`);
	const totalBytes = Number(result.sizeBytes);
	let doneBytes = 0;
	try {
		const out = await open(partial, 'wx', 0o600);
		try {
			await out.chmod(0o600);
			await copyFile(new HelperImageSource(session, id), result.file, totalBytes, out, (n) => {
				doneBytes += n;
				options.onProgress?.({ file: result.file, doneBytes, totalBytes });
			}, options);
			await out.sync();
		} finally {
			await out.close();
		}
		await rename(partial, dest);
		return result;
	} catch (err) {
		await rm(partial, { force: true });
		throw err;
	}
}
