/**
 * Where a checkpoint's image files are read from: a local directory, or a
 * directory on a target over SFTP. Metadata files are read whole; memory
 * (pages-*.img) only ever by byte range, so a gigabyte checkpoint costs what
 * is looked at.
 */
import { open, readdir, readlink, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { CheckpointError } from '../errors';

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
}

function sourceError(where: string, name: string, err: unknown): CheckpointError {
	// fs errors carry errno names; ssh2's SFTP errors carry SFTP status codes (2 no such file, 3 permission denied).
	const e = err as { code?: string | number; message?: string };
	if (e.code === 'ENOENT' || e.code === 2) return new CheckpointError('not-found', `${where}: there is no ${name}`);
	if (e.code === 'EACCES' || e.code === 3) {
		return new CheckpointError('not-permitted', `${where}: ${name} is not readable (checkpoint images are readable by root only; connect as root)`);
	}
	return new CheckpointError('internal', `${where}: cannot read ${name}: ${e.message}`);
}

function shortRead(where: string, name: string, offset: number, wanted: number, got: number): CheckpointError {
	return new CheckpointError('internal', `${where}: ${name} ends before byte ${offset + wanted} (read ${got} of ${wanted} bytes at ${offset}); the image is truncated`);
}

/** A checkpoint directory on this machine. */
export class LocalImageSource implements ImageSource {
	constructor(readonly dir: string) {}

	get description(): string {
		return this.dir;
	}

	async list(): Promise<string[]> {
		try {
			return (await readdir(this.dir)).sort();
		} catch (err) {
			throw sourceError(this.dir, 'directory', err);
		}
	}

	async readFile(name: string): Promise<Buffer> {
		const size = await stat(posix.join(this.dir, name)).then((s) => s.size, (err: unknown) => { throw sourceError(this.dir, name, err); });
		return this.readRange(name, 0, size);
	}

	async readRange(name: string, offset: number, length: number): Promise<Buffer> {
		let handle;
		try {
			handle = await open(posix.join(this.dir, name), 'r');
		} catch (err) {
			throw sourceError(this.dir, name, err);
		}
		try {
			const buffer = Buffer.alloc(length);
			let got = 0;
			while (got < length) {
				const { bytesRead } = await handle.read(buffer, got, length - got, offset + got);
				if (bytesRead === 0) throw shortRead(this.dir, name, offset, length, got);
				got += bytesRead;
			}
			return buffer;
		} finally {
			await handle.close();
		}
	}

	async parent(): Promise<ImageSource | undefined> {
		const link = await readlink(posix.join(this.dir, 'parent')).catch(() => undefined);
		return link === undefined ? undefined : new LocalImageSource(posix.resolve(this.dir, link));
	}
}

/** A checkpoint directory on a target, read over an SFTP session. */
export class SftpImageSource implements ImageSource {
	constructor(private readonly sftp: SFTPWrapper, readonly dir: string, private readonly host: string) {}

	get description(): string {
		return `${this.host}:${this.dir}`;
	}

	list(): Promise<string[]> {
		return new Promise((resolve, reject) => {
			this.sftp.readdir(this.dir, (err, entries) => {
				if (err) reject(sourceError(this.description, 'directory', err));
				else resolve(entries.map((e) => e.filename).sort());
			});
		});
	}

	async readFile(name: string): Promise<Buffer> {
		const size = await new Promise<number>((resolve, reject) => {
			this.sftp.stat(posix.join(this.dir, name), (err, s) => (err ? reject(sourceError(this.description, name, err)) : resolve(s.size)));
		});
		return this.readRange(name, 0, size);
	}

	async readRange(name: string, offset: number, length: number): Promise<Buffer> {
		const path = posix.join(this.dir, name);
		const handle = await new Promise<Buffer>((resolve, reject) => {
			this.sftp.open(path, 'r', (err, h) => (err ? reject(sourceError(this.description, name, err)) : resolve(h)));
		});
		try {
			const buffer = Buffer.alloc(length);
			let got = 0;
			while (got < length) {
				// SFTP servers answer at most about 64 KiB per read request.
				const chunk = Math.min(length - got, 64 * 1024);
				const n = await new Promise<number>((resolve, reject) => {
					this.sftp.read(handle, buffer, got, chunk, offset + got, (err, bytesRead) => (err ? reject(sourceError(this.description, name, err)) : resolve(bytesRead)));
				});
				if (n === 0) throw shortRead(this.description, name, offset, length, got);
				got += n;
			}
			return buffer;
		} finally {
			await new Promise<void>((resolve) => this.sftp.close(handle, () => resolve()));
		}
	}

	async parent(): Promise<ImageSource | undefined> {
		const link = await new Promise<string | undefined>((resolve) => {
			this.sftp.readlink(posix.join(this.dir, 'parent'), (err, target) => resolve(err ? undefined : target));
		});
		return link === undefined ? undefined : new SftpImageSource(this.sftp, posix.resolve(this.dir, link), this.host);
	}
}
