/**
 * Copies a checkpoint from a target's store to a local folder, through the
 * helper (so it works for sudo users, whose login cannot read the store).
 * The copy is self-describing (images and manifest) and opens offline. It is
 * written under a temporary name and renamed when complete, so a cancelled
 * or failed download never leaves something that looks like a checkpoint.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from './errors';
import { HelperImageSource } from './images/helperSource';
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
				for (let at = 0; at < Number(file.size); at += CHUNK) {
					if (options.cancelled?.()) throw new CheckpointError('bad-request', `the download of ${id} was cancelled`);
					const data = await source.readRange(file.name, at, Math.min(CHUNK, Number(file.size) - at));
					await out.write(data, 0, data.length, at);
					doneBytes += data.length;
					options.onProgress?.({ file: file.name, doneBytes, totalBytes });
				}
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
