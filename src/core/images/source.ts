/**
 * Where a checkpoint's image files are read from: a local directory, or a
 * directory on a target over SFTP. Metadata files are read whole; memory
 * (pages-*.img) only ever by byte range, so a gigabyte checkpoint costs what
 * is looked at.
 */
import { close as closeFd, closeSync, constants, fstatSync, openSync, read as readFd, readFileSync, readSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { CheckpointError, errorMessage } from '../errors';

export interface ImageSource {
	/** For messages: the directory, and the host when it is remote. */
	readonly description: string;
	/** File names in the checkpoint directory. */
	list(): Promise<string[]>;
	readFile(name: string): Promise<Buffer>;
	/** Exactly `length` bytes at `offset`, or an error saying the file is shorter. */
	readRange(name: string, offset: number, length: number): Promise<Buffer>;
	/** The parent image directory (CRIU's "parent" link), when there is one. */
	parent(): Promise<ImageSource | undefined>;
	/** Lets go of the files kept open for range reads. */
	close(): Promise<void>;
}

/** fs errors carry errno names; ssh2's SFTP errors carry SFTP status codes (2 no such file, 3 permission denied). */
function errorCode(err: unknown): unknown {
	return typeof err === 'object' && err !== null ? Reflect.get(err, 'code') : undefined;
}

function sourceError(where: string, name: string, err: unknown): CheckpointError {
	const code = errorCode(err);
	if (code === 'ENOENT' || code === 2) return new CheckpointError('not-found', `${where}: there is no ${name}`);
	if (code === 'EACCES' || code === 3) {
		return new CheckpointError('not-permitted', `${where}: ${name} is not readable (checkpoint images are readable by root only; connect as root)`);
	}
	return new CheckpointError('internal', `${where}: cannot read ${name}: ${errorMessage(err)}`);
}

/** Listing a checkpoint directory failed: most often the path is not one. */
function listError(where: string, err: unknown): CheckpointError {
	const code = errorCode(err);
	// ENOTDIR, or SFTP's "no such file" (2)
	if (code === 'ENOENT' || code === 'ENOTDIR' || code === 2) {
		return new CheckpointError('not-found', `${where} is not a directory: give a checkpoint directory, or a checkpoint id with --target`);
	}
	return sourceError(where, 'directory', err);
}

/**
 * Image files are regular files: a FIFO in their place would block a read
 * for ever, a link to /dev/zero would never end. Neither is read.
 */
function notRegular(where: string, name: string): CheckpointError {
	return new CheckpointError('image-damaged', `${where}: ${name} is not a regular file (a link, a FIFO or a device in its place); the checkpoint is damaged`);
}

// O_NONBLOCK: opening a FIFO for reading would wait for a writer; O_NOFOLLOW: a link is not followed (ELOOP)
const IMAGE_OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

function shortRead(where: string, name: string, offset: number, wanted: number, got: number): CheckpointError {
	return new CheckpointError('internal', `${where}: ${name} ends before byte ${offset + wanted} (read ${got} of ${wanted} bytes at ${offset}); the image is truncated`);
}

/**
 * Reads at most this long are done synchronously: a page or a metadata image
 * comes from the page cache in microseconds, while a round trip through
 * libuv's thread pool costs tens, and a memory view or a checkpoint's opening
 * asks for hundreds of them at once. Longer reads go through the pool so a
 * big one never holds the caller's event loop.
 */
const SYNC_READ_LIMIT = 256 * 1024;

/** A checkpoint directory on this machine. Files read by range stay open until close(). */
export class LocalImageSource implements ImageSource {
	private readonly fds = new Map<string, number>();

	constructor(readonly dir: string) {}

	get description(): string {
		return this.dir;
	}

	async list(): Promise<string[]> {
		try {
			return (await readdir(this.dir)).sort();
		} catch (err) {
			throw listError(this.dir, err);
		}
	}

	async readFile(name: string): Promise<Buffer> {
		const fd = this.openImage(name);
		try {
			// Metadata images are small (a pagemap of a million runs is ~20 MiB, still a few ms).
			return readFileSync(fd);
		} catch (err) {
			throw sourceError(this.dir, name, err);
		} finally {
			closeSync(fd);
		}
	}

	/** A descriptor of image file name, which must be a regular file. */
	private openImage(name: string): number {
		let fd: number;
		try {
			fd = openSync(posix.join(this.dir, name), IMAGE_OPEN_FLAGS);
		} catch (err) {
			throw errorCode(err) === 'ELOOP' ? notRegular(this.dir, name) : sourceError(this.dir, name, err);
		}
		let regular: boolean;
		try {
			regular = fstatSync(fd).isFile();
		} catch (err) {
			closeSync(fd);
			throw sourceError(this.dir, name, err);
		}
		if (!regular) {
			closeSync(fd);
			throw notRegular(this.dir, name);
		}
		return fd;
	}

	async readRange(name: string, offset: number, length: number): Promise<Buffer> {
		const fd = this.fd(name);
		const buffer = Buffer.allocUnsafe(length);
		let got = 0;
		while (got < length) {
			const n = await this.readAt(name, fd, buffer, got, length - got, offset + got);
			if (n === 0) throw shortRead(this.dir, name, offset, length, got);
			got += n;
		}
		return buffer;
	}

	async parent(): Promise<ImageSource | undefined> {
		const link = await readlink(posix.join(this.dir, 'parent')).catch(() => undefined);
		return link === undefined ? undefined : new LocalImageSource(posix.resolve(this.dir, link));
	}

	async close(): Promise<void> {
		const fds = [...this.fds.values()];
		this.fds.clear();
		await Promise.all(fds.map((fd) => new Promise<void>((resolve) => closeFd(fd, () => resolve()))));
	}

	private fd(name: string): number {
		let fd = this.fds.get(name);
		if (fd === undefined) {
			fd = this.openImage(name);
			this.fds.set(name, fd);
		}
		return fd;
	}

	/** Plain descriptors and callback reads: a FileHandle costs several times more per small read. */
	private readAt(name: string, fd: number, buffer: Buffer, at: number, length: number, position: number): Promise<number> {
		if (length <= SYNC_READ_LIMIT) {
			try {
				return Promise.resolve(readSync(fd, buffer, at, length, position));
			} catch (err) {
				return Promise.reject(sourceError(this.dir, name, err));
			}
		}
		return new Promise((resolve, reject) => readFd(fd, buffer, at, length, position, (err, n) => (err ? reject(sourceError(this.dir, name, err)) : resolve(n))));
	}
}

/** A checkpoint directory on a target, read over an SFTP session. */
const SFTP_CHUNK = 64 * 1024;

export class SftpImageSource implements ImageSource {
	private readonly handles = new Map<string, Promise<Buffer>>();

	constructor(private readonly sftp: SFTPWrapper, readonly dir: string, private readonly host: string) {}

	get description(): string {
		return `${this.host}:${this.dir}`;
	}

	list(): Promise<string[]> {
		return new Promise((resolve, reject) => {
			this.sftp.readdir(this.dir, (err, entries) => {
				if (err) reject(listError(this.description, err));
				else resolve(entries.map((e) => e.filename).sort());
			});
		});
	}

	async readFile(name: string): Promise<Buffer> {
		return this.readRange(name, 0, await this.regularSize(name));
	}

	/** The size of image file name, which must be a regular file (not followed when a link). */
	private regularSize(name: string): Promise<number> {
		return new Promise<number>((resolve, reject) => {
			this.sftp.lstat(posix.join(this.dir, name), (err, s) => {
				if (err) reject(sourceError(this.description, name, err));
				else if (!s.isFile()) reject(notRegular(this.description, name));
				else resolve(s.size);
			});
		});
	}

	async readRange(name: string, offset: number, length: number): Promise<Buffer> {
		const handle = await this.handle(name);
		const buffer = Buffer.alloc(length);
		// SFTP servers answer at most about 64 KiB per read; the chunks go out
		// together so a long read costs one round trip, not one per chunk.
		const chunks: Promise<void>[] = [];
		for (let at = 0; at < length; at += SFTP_CHUNK) {
			chunks.push(this.readChunk(name, handle, buffer, at, Math.min(SFTP_CHUNK, length - at), offset));
		}
		await Promise.all(chunks);
		return buffer;
	}

	async close(): Promise<void> {
		const handles = [...this.handles.values()];
		this.handles.clear();
		await Promise.all(handles.map((h) => h.then((fh) => new Promise<void>((resolve) => this.sftp.close(fh, () => resolve())), () => undefined)));
	}

	private async readChunk(name: string, handle: Buffer, buffer: Buffer, at: number, length: number, base: number): Promise<void> {
		let got = 0;
		while (got < length) {
			const n = await new Promise<number>((resolve, reject) => {
				this.sftp.read(handle, buffer, at + got, length - got, base + at + got, (err, bytesRead) => (err ? reject(sourceError(this.description, name, err)) : resolve(bytesRead)));
			});
			if (n === 0) throw shortRead(this.description, name, base, buffer.length, at + got);
			got += n;
		}
	}

	private handle(name: string): Promise<Buffer> {
		let handle = this.handles.get(name);
		if (!handle) {
			// checked first: the server would follow a link, and block on a FIFO
			handle = this.regularSize(name).then(() => new Promise<Buffer>((resolve, reject) => {
				this.sftp.open(posix.join(this.dir, name), 'r', (err, h) => (err ? reject(sourceError(this.description, name, err)) : resolve(h)));
			}));
			handle.catch(() => this.handles.delete(name));
			this.handles.set(name, handle);
		}
		return handle;
	}

	async parent(): Promise<ImageSource | undefined> {
		const link = await new Promise<string | undefined>((resolve) => {
			this.sftp.readlink(posix.join(this.dir, 'parent'), (err, target) => resolve(err ? undefined : target));
		});
		return link === undefined ? undefined : new SftpImageSource(this.sftp, posix.resolve(this.dir, link), this.host);
	}
}
