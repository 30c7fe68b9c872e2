/**
 * Copies a checkpoint from a target's store to a local folder, through the
 * helper (so it works for sudo users, whose login cannot read the store).
 * The copy is self-describing (images and manifest) and opens offline. A
 * checkpoint that stands on others (it reads its unchanged pages from them,
 * docs/incremental.md) comes with them: each in a sibling directory named
 * by its id, linked as CRIU links them ("parent" -> ../<id>), one already
 * there whole and the same kept as it is. Everything is written under
 * temporary names and renamed when the whole chain is complete, so a
 * cancelled or failed download never leaves something that looks like a
 * checkpoint. The same for one process's core file, which the helper
 * writes on the target from the checkpoint's images first.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readlink, rename, rm, stat, symlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from './errors';
import { HelperImageSource, type ImageReader } from './images/helperSource';
import type { pb } from './protocol';
import type { HelperSession } from './session';

/** Per request: the helper's limit is 16 MiB; a few in flight keep the connection busy. */
const CHUNK = 8 * 1024 * 1024;

/** The helper's checkpoint ids: 1-64 of A-Z a-z 0-9 . _ -, not starting with a dot. */
const CHECKPOINT_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** CRIU's link from a checkpoint directory to the one it stands on. */
const PARENT_LINK = 'parent';

export interface DownloadProgress {
	/** The checkpoint the file is of: the one asked for, or one it stands on. */
	checkpointId: string;
	file: string;
	/** Over the whole download (every checkpoint of the chain copied). */
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
		checkCancelled(options, `the download of ${file} of checkpoint ${source.checkpointId} was cancelled`);
		const data = await source.readRange(file, at, Math.min(CHUNK, size - at));
		await out.write(data, 0, data.length, at);
		copied(data.length);
	}
}

function checkCancelled(options: DownloadOptions, message: string): void {
	if (options.cancelled?.()) throw new CheckpointError('cancelled', message);
}

/** One checkpoint of a chain: its files and the one it stands on ("" for none), as the helper lists them. */
interface ChainLink {
	id: string;
	files: pb.ImageFile[];
	parentId: string;
	source: HelperImageSource;
}

/** Checkpoint id and those it stands on, id first, as the helper lists them now. */
async function chainOf(session: ImageReader, id: string, options: DownloadOptions): Promise<ChainLink[]> {
	const chain: ChainLink[] = [];
	for (let at = id; at; ) {
		if (chain.some((l) => l.id === at)) {
			throw new CheckpointError('image-damaged', `checkpoint ${id} cannot be downloaded: the checkpoints it stands on link back to ${at}`);
		}
		checkCancelled(options, `the download of checkpoint ${id} was cancelled`);
		const { files, parentId } = await session.imageFiles(at);
		// a directory name beside the download: nothing that climbs out of it
		if (parentId && !CHECKPOINT_ID.test(parentId)) {
			throw new CheckpointError('image-damaged', `checkpoint ${at} cannot be downloaded: the checkpoint it stands on has no valid id (${JSON.stringify(parentId)})`);
		}
		chain.push({ id: at, files, parentId, source: new HelperImageSource(session, at) });
		at = parentId;
	}
	return chain;
}

/**
 * Whether dir holds checkpoint link whole as the target has it now: every
 * file at its size, the same parent link, and the same manifest (the helper
 * rewrites it whenever the checkpoint changes: renamed, or standing on
 * another after its parent was deleted). Without a manifest: not known, no.
 */
async function alreadyHere(dir: string, link: ChainLink): Promise<boolean> {
	const manifest = link.files.find((f) => f.name === 'manifest.pb');
	if (!manifest) return false;
	try {
		for (const f of link.files) {
			const s = await stat(join(dir, f.name));
			if (!s.isFile() || s.size !== Number(f.size)) return false;
		}
		const parent = await readlink(join(dir, PARENT_LINK)).catch(() => '');
		if (parent !== (link.parentId ? `../${link.parentId}` : '')) return false;
		const [here, there] = await Promise.all([readFile(join(dir, manifest.name)), link.source.readRange(manifest.name, 0, Number(manifest.size))]);
		return here.equals(there);
	} catch {
		return false;
	}
}

/** Copies link's files into dir (made private), with its parent link. */
async function copyCheckpoint(link: ChainLink, dir: string, copied: (file: string, bytes: number) => void, options: DownloadOptions): Promise<void> {
	await rm(dir, { recursive: true, force: true });
	await mkdir(dir, { recursive: true, mode: 0o700 });
	if (link.parentId) await symlink(`../${link.parentId}`, join(dir, PARENT_LINK));
	for (const file of link.files) {
		const out = await open(join(dir, file.name), 'w', 0o600);
		try {
			await copyFile(link.source, file.name, Number(file.size), out, (n) => copied(file.name, n), options);
		} finally {
			await out.close();
		}
	}
}

/**
 * Downloads checkpoint `id` into `parentDir/<id>`, and each checkpoint it
 * stands on into `parentDir/<its id>` (unless already there: alreadyHere);
 * returns the directory of `id`.
 */
export async function downloadCheckpoint(session: ImageReader, id: string, parentDir: string, options: DownloadOptions = {}): Promise<string> {
	const chain = await chainOf(session, id, options);
	const wanted: ChainLink[] = [];
	for (const link of chain) if (link.id === id || !(await alreadyHere(join(parentDir, link.id), link))) wanted.push(link);
	const totalBytes = wanted.reduce((n, l) => n + l.files.reduce((m, f) => m + Number(f.size), 0), 0);
	let doneBytes = 0;
	const partial = (link: ChainLink): string => join(parentDir, `${link.id}.partial`);
	try {
		for (const link of wanted) {
			await copyCheckpoint(link, partial(link), (file, n) => {
				doneBytes += n;
				options.onProgress?.({ checkpointId: link.id, file, doneBytes, totalBytes });
			}, options);
		}
		checkCancelled(options, `the download of checkpoint ${id} was cancelled`);
		// the oldest first: a checkpoint in place always has what it stands on
		for (const link of [...wanted].reverse()) {
			const dest = join(parentDir, link.id);
			await rm(dest, { recursive: true, force: true });
			await rename(partial(link), dest);
		}
		return join(parentDir, id);
	} catch (err) {
		await Promise.all(wanted.map((link) => rm(partial(link), { recursive: true, force: true })));
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
				options.onProgress?.({ checkpointId: id, file: result.file, doneBytes, totalBytes });
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
