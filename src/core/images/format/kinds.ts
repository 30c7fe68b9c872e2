/**
 * The image files a CRIU dump directory holds: their names, magics and the
 * message their entries carry. File name formats are those of CRIU 4.1.1's
 * image table (criu/image-desc.c; checked against the format strings in
 * trixie's /usr/sbin/criu), magics those of pycriu's magic.py.
 */
import { checkpoint } from '../../../generated/images';
import type { MagicName } from './magic';

export import criu = checkpoint.criu.v1;

/** The message each entry of an image kind carries. */
export interface ImageMessages {
	'inventory': criu.Inventory;
	'pstree': criu.ProcessTreeEntry;
	'core': criu.Core;
	'ids': criu.KernelObjectIds;
	'creds': criu.Credentials;
	'fs': criu.FsEntry;
	'mm': criu.MemoryMap;
	'vmas': criu.Vma;
	'files': criu.FileEntry;
	'fdinfo': criu.FdInfo;
	'reg-files': criu.RegularFile;
	'pipes': criu.Pipe;
	'pipes-data': criu.PipeData;
	'fifo': criu.Fifo;
	'fifo-data': criu.PipeData;
	'unixsk': criu.UnixSocket;
	'inetsk': criu.InetSocket;
	'netlinksk': criu.NetlinkSocket;
	'sk-queues': criu.SocketQueueEntry;
	'tcp-stream': criu.TcpStream;
	'tty': criu.TtyFile;
	'tty-info': criu.TtyInfo;
	'eventfd': criu.EventFd;
	'eventpoll': criu.EventPoll;
	'eventpoll-tfd': criu.EventPollTarget;
	'signalfd': criu.SignalFd;
	'inotify': criu.Inotify;
	'inotify-wd': criu.InotifyWatch;
	'memfd': criu.MemfdInode;
	'ns-files': criu.NamespaceFile;
	'ghost-file': criu.GhostFile;
	'filelocks': criu.FileLock;
	'utsns': criu.UtsNamespace;
	'ipcns-var': criu.IpcVariables;
	'ipcns-shm': criu.IpcShmSegment;
	'ipcns-msg': criu.IpcMessageQueue;
	'ipcns-sem': criu.IpcSemaphoreSet;
	'netns': criu.NetNamespace;
	'timens': criu.TimeNamespace;
	'stats': criu.Stats;
}

/** Messages nested under an entry, each followed by raw bytes: a queue's messages, a ghost file's chunks. */
export interface ImageSubMessages {
	'ipcns-msg': criu.IpcMessage;
	'ghost-file': criu.GhostChunk;
}

/** Image kinds made of length-prefixed entries of one message type. */
export type EntryImageKind = keyof ImageMessages;

/**
 * Every image kind this layer knows. pagemap images mix two message types
 * (see decodePagemap); pages images are raw page data without any header.
 */
export type ImageKind = EntryImageKind | 'pagemap' | 'pagemap-shmem' | 'pages';

export type SubMessageOf<K extends EntryImageKind> = K extends keyof ImageSubMessages ? ImageSubMessages[K] : never;

/** What identifies one image file of a kind. */
export interface ImageFileName {
	kind: ImageKind;
	/** The number in the name: a pid, an id from another image, an inode (hex in the name for tcp-stream and ghost-file). */
	id?: number;
	/** Which stats file: stats-dump or stats-restore. */
	stage?: 'dump' | 'restore';
}

export interface KindSpec {
	/** CRIU's name format: %u a decimal number, %x a hexadecimal one, %s the stats stage. */
	file: string;
	/** The image's own magic, or null for raw files without any header. */
	magic: MagicName | null;
}

export const IMAGE_KINDS: Readonly<Record<ImageKind, KindSpec>> = Object.freeze({
	'inventory': { file: 'inventory.img', magic: 'INVENTORY' },
	'pstree': { file: 'pstree.img', magic: 'PSTREE' },
	'core': { file: 'core-%u.img', magic: 'CORE' },
	'ids': { file: 'ids-%u.img', magic: 'IDS' },
	'creds': { file: 'creds-%u.img', magic: 'CREDS' },
	'fs': { file: 'fs-%u.img', magic: 'FS' },
	'mm': { file: 'mm-%u.img', magic: 'MM' },
	'vmas': { file: 'vmas-%u.img', magic: 'VMAS' },
	'pagemap': { file: 'pagemap-%u.img', magic: 'PAGEMAP' },
	// CRIU's SHMEM_PAGEMAP_MAGIC is PAGEMAP_MAGIC.
	'pagemap-shmem': { file: 'pagemap-shmem-%u.img', magic: 'PAGEMAP' },
	'pages': { file: 'pages-%u.img', magic: null },
	'files': { file: 'files.img', magic: 'FILES' },
	'fdinfo': { file: 'fdinfo-%u.img', magic: 'FDINFO' },
	'reg-files': { file: 'reg-files.img', magic: 'REG_FILES' },
	'pipes': { file: 'pipes.img', magic: 'PIPES' },
	'pipes-data': { file: 'pipes-data.img', magic: 'PIPES_DATA' },
	'fifo': { file: 'fifo.img', magic: 'FIFO' },
	'fifo-data': { file: 'fifo-data.img', magic: 'FIFO_DATA' },
	'unixsk': { file: 'unixsk.img', magic: 'UNIXSK' },
	'inetsk': { file: 'inetsk.img', magic: 'INETSK' },
	'netlinksk': { file: 'netlinksk.img', magic: 'NETLINK_SK' },
	'sk-queues': { file: 'sk-queues.img', magic: 'SK_QUEUES' },
	'tcp-stream': { file: 'tcp-stream-%x.img', magic: 'TCP_STREAM' },
	'tty': { file: 'tty.img', magic: 'TTY_FILES' },
	'tty-info': { file: 'tty-info.img', magic: 'TTY_INFO' },
	'eventfd': { file: 'eventfd.img', magic: 'EVENTFD_FILE' },
	'eventpoll': { file: 'eventpoll.img', magic: 'EVENTPOLL_FILE' },
	'eventpoll-tfd': { file: 'eventpoll-tfd.img', magic: 'EVENTPOLL_TFD' },
	'signalfd': { file: 'signalfd.img', magic: 'SIGNALFD' },
	'inotify': { file: 'inotify.img', magic: 'INOTIFY_FILE' },
	'inotify-wd': { file: 'inotify-wd.img', magic: 'INOTIFY_WD' },
	'memfd': { file: 'memfd.img', magic: 'MEMFD_INODE' },
	'ns-files': { file: 'ns-files.img', magic: 'NS_FILES' },
	'ghost-file': { file: 'ghost-file-%x.img', magic: 'GHOST_FILE' },
	'filelocks': { file: 'filelocks.img', magic: 'FILE_LOCKS' },
	'utsns': { file: 'utsns-%u.img', magic: 'UTSNS' },
	'ipcns-var': { file: 'ipcns-var-%u.img', magic: 'IPC_VAR' },
	'ipcns-shm': { file: 'ipcns-shm-%u.img', magic: 'IPCNS_SHM' },
	'ipcns-msg': { file: 'ipcns-msg-%u.img', magic: 'IPCNS_MSG' },
	'ipcns-sem': { file: 'ipcns-sem-%u.img', magic: 'IPCNS_SEM' },
	'netns': { file: 'netns-%u.img', magic: 'NETNS' },
	'timens': { file: 'timens-%u.img', magic: 'TIMENS' },
	'stats': { file: 'stats-%s', magic: 'STATS' },
});

interface NamePattern {
	kind: ImageKind;
	regex: RegExp;
	radix: 10 | 16 | undefined;
}

function patternOf(kind: ImageKind, file: string): NamePattern {
	const escaped = file.replace(/[.]/g, '\\.');
	if (file.includes('%u')) return { kind, regex: new RegExp(`^${escaped.replace('%u', '(\\d+)')}$`), radix: 10 };
	if (file.includes('%x')) return { kind, regex: new RegExp(`^${escaped.replace('%x', '([0-9a-f]+)')}$`), radix: 16 };
	if (file.includes('%s')) return { kind, regex: new RegExp(`^${escaped.replace('%s', '(dump|restore)')}$`), radix: undefined };
	return { kind, regex: new RegExp(`^${escaped}$`), radix: undefined };
}

const NAME_PATTERNS: readonly NamePattern[] = (Object.keys(IMAGE_KINDS) as ImageKind[])
	.map((kind) => patternOf(kind, IMAGE_KINDS[kind].file));

/**
 * The kind (and number) of an image file from its name, e.g. core-123.img ->
 * { kind: 'core', id: 123 }, stats-dump -> { kind: 'stats', stage: 'dump' }.
 * A path is reduced to its last component. undefined for any other name
 * (CRIU writes more files than this layer reads).
 */
export function kindOfFileName(name: string): ImageFileName | undefined {
	const base = name.slice(name.lastIndexOf('/') + 1);
	for (const p of NAME_PATTERNS) {
		const m = p.regex.exec(base);
		if (!m) continue;
		if (p.radix === undefined) return m[1] ? { kind: p.kind, stage: m[1] as 'dump' | 'restore' } : { kind: p.kind };
		const id = parseInt(m[1], p.radix);
		return Number.isSafeInteger(id) ? { kind: p.kind, id } : undefined;
	}
	return undefined;
}

/** The file name CRIU gives an image: imageFileName('core', 42) -> 'core-42.img', ('stats', 'dump') -> 'stats-dump'. */
export function imageFileName(kind: ImageKind, id?: number | 'dump' | 'restore'): string {
	const file = IMAGE_KINDS[kind].file;
	const slot = /%[uxs]/.exec(file)?.[0];
	if (slot === undefined) return file;
	if (slot === '%s') {
		if (id !== 'dump' && id !== 'restore') throw new RangeError(`a ${kind} image name needs a stage (dump or restore)`);
		return file.replace(slot, id);
	}
	if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new RangeError(`a ${kind} image name needs a number`);
	return file.replace(slot, id.toString(slot === '%x' ? 16 : 10));
}
