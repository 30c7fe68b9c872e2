/**
 * A checkpoint's images read through the helper: it runs as root, so this
 * works for users whose login cannot read the store, and the byte ranges
 * asked for in the same tick travel in one request (a memory view's 256
 * scattered reads cost one round trip, not 256).
 */
import { CheckpointError } from '../errors';
import type { HelperOperations } from '../session';

/** What reading a checkpoint through the helper takes of a session. */
export type ImageReader = Pick<HelperOperations, 'target' | 'imageFiles' | 'readImage'>;
import type { ImageSource } from './source';

/** The helper's limits per read_image request (see proto/helper.proto). */
const MAX_RANGES = 4096;
const MAX_BYTES = 16 * 1024 * 1024;

interface PendingRead {
	file: string;
	/** file is the path of a file the checkpoint mapped, on the target's file system (ByteRange.mapped_file). */
	mapped: boolean;
	offset: number;
	length: number;
	resolve: (data: Buffer) => void;
	reject: (err: Error) => void;
}

export class HelperImageSource implements ImageSource {
	private files?: Promise<{ sizes: Map<string, number>; parentId: string }>;
	private queue: PendingRead[] = [];

	constructor(private readonly session: ImageReader, readonly checkpointId: string) {}

	get description(): string {
		return `${this.session.target.description}: checkpoint ${this.checkpointId}`;
	}

	async list(): Promise<string[]> {
		return [...(await this.index()).sizes.keys()];
	}

	async readFile(name: string): Promise<Buffer> {
		const size = (await this.index()).sizes.get(name);
		if (size === undefined) throw new CheckpointError('not-found', `${this.description}: there is no ${name}`);
		return this.inParts(name, false, 0, size);
	}

	readRange(name: string, offset: number, length: number): Promise<Buffer> {
		return this.queued(name, false, offset, length);
	}

	/**
	 * Exactly length bytes at offset of a file the checkpoint's processes
	 * mapped, by its path as the checkpoint names it (bytes SFTP could not
	 * name when they are not UTF-8); the helper reads no other file.
	 */
	readMappedRange(path: string, offset: number, length: number): Promise<Buffer> {
		return this.inParts(path, true, offset, length);
	}

	/** length bytes at offset, asked for in parts within the helper's bytes per request. */
	private async inParts(file: string, mapped: boolean, offset: number, length: number): Promise<Buffer> {
		const parts: Promise<Buffer>[] = [];
		for (let at = 0; at < length; at += MAX_BYTES) parts.push(this.queued(file, mapped, offset + at, Math.min(MAX_BYTES, length - at)));
		return Buffer.concat(await Promise.all(parts));
	}

	private queued(file: string, mapped: boolean, offset: number, length: number): Promise<Buffer> {
		return new Promise((resolve, reject) => {
			this.queue.push({ file, mapped, offset, length, resolve, reject });
			// The first read of a tick schedules the flush; the others ride along.
			if (this.queue.length === 1) queueMicrotask(() => this.flush());
		});
	}

	async parent(): Promise<ImageSource | undefined> {
		const { parentId } = await this.index();
		return parentId ? new HelperImageSource(this.session, parentId) : undefined;
	}

	async close(): Promise<void> {}

	private index(): Promise<{ sizes: Map<string, number>; parentId: string }> {
		this.files ??= this.session.imageFiles(this.checkpointId).then((r) => ({
			sizes: new Map(r.files.map((f) => [f.name, f.size])),
			parentId: r.parentId,
		}));
		return this.files;
	}

	private flush(): void {
		const queued = this.queue;
		this.queue = [];
		for (const batch of batches(queued)) void this.send(batch);
	}

	private async send(batch: PendingRead[]): Promise<void> {
		try {
			const data = await this.session.readImage(this.checkpointId, batch.map((r) => ({ file: r.file, offset: r.offset, length: r.length, mappedFile: r.mapped })));
			batch.forEach((r, i) => {
				const bytes = data[i];
				if (!bytes || bytes.length < r.length) {
					r.reject(new CheckpointError('internal', `${this.description}: ${r.file} ends before byte ${r.offset + r.length} (got ${bytes?.length ?? 0} of ${r.length} bytes at ${r.offset}); the image is truncated`));
				} else {
					r.resolve(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
				}
			});
		} catch (err) {
			for (const r of batch) r.reject(err as Error);
		}
	}
}

/** Reads grouped within the helper's per-request limits (a read over the byte limit goes alone). */
function batches(reads: PendingRead[]): PendingRead[][] {
	const out: PendingRead[][] = [];
	let current: PendingRead[] = [];
	let bytes = 0;
	for (const r of reads) {
		if (current.length && (current.length >= MAX_RANGES || bytes + r.length > MAX_BYTES)) {
			out.push(current);
			current = [];
			bytes = 0;
		}
		current.push(r);
		bytes += r.length;
	}
	if (current.length) out.push(current);
	return out;
}
