/**
 * Typed decoding of whole image files held in memory.
 */
import { ImageFormatError } from './errors';
import { openImage, type EntryCursor, type MessageType, type RawSpan } from './entries';
import { readExtra, type SubEntry } from './extra';
import { criu, kindOfFileName, type EntryImageKind, type ImageFileName, type ImageMessages, type SubMessageOf } from './kinds';

/** One entry of an image: its message and where its bytes are. */
export interface ImageEntry<K extends EntryImageKind> {
	/** Offset of the entry's u32 length prefix in the file. */
	offset: number;
	/** Length of the protobuf payload that follows the prefix. */
	length: number;
	message: ImageMessages[K];
	/** Raw data after the payload (pipe and socket queues, SysV IPC contents, a ghost file's contents), padding excluded. */
	extra: RawSpan[];
	/** Messages nested under this one: an ipcns-msg queue's messages, a ghost file's chunks. */
	sub: SubEntry<SubMessageOf<K>>[];
}

export interface DecodedImage<K extends EntryImageKind> {
	kind: K;
	file: string;
	entries: ImageEntry<K>[];
}

interface NamedType<M> {
	type: MessageType<M>;
	name: string;
}

function t<M>(type: MessageType<M>, name: string): NamedType<M> {
	return { type, name };
}

const MESSAGE_TYPES: { readonly [K in EntryImageKind]: NamedType<ImageMessages[K]> } = {
	'inventory': t(criu.Inventory, 'Inventory'),
	'pstree': t(criu.ProcessTreeEntry, 'ProcessTreeEntry'),
	'core': t(criu.Core, 'Core'),
	'ids': t(criu.KernelObjectIds, 'KernelObjectIds'),
	'creds': t(criu.Credentials, 'Credentials'),
	'fs': t(criu.FsEntry, 'FsEntry'),
	'mm': t(criu.MemoryMap, 'MemoryMap'),
	'vmas': t(criu.Vma, 'Vma'),
	'files': t(criu.FileEntry, 'FileEntry'),
	'fdinfo': t(criu.FdInfo, 'FdInfo'),
	'reg-files': t(criu.RegularFile, 'RegularFile'),
	'pipes': t(criu.Pipe, 'Pipe'),
	'pipes-data': t(criu.PipeData, 'PipeData'),
	'fifo': t(criu.Fifo, 'Fifo'),
	'fifo-data': t(criu.PipeData, 'PipeData'),
	'unixsk': t(criu.UnixSocket, 'UnixSocket'),
	'inetsk': t(criu.InetSocket, 'InetSocket'),
	'netlinksk': t(criu.NetlinkSocket, 'NetlinkSocket'),
	'sk-queues': t(criu.SocketQueueEntry, 'SocketQueueEntry'),
	'tcp-stream': t(criu.TcpStream, 'TcpStream'),
	'tty': t(criu.TtyFile, 'TtyFile'),
	'tty-info': t(criu.TtyInfo, 'TtyInfo'),
	'eventfd': t(criu.EventFd, 'EventFd'),
	'eventpoll': t(criu.EventPoll, 'EventPoll'),
	'eventpoll-tfd': t(criu.EventPollTarget, 'EventPollTarget'),
	'signalfd': t(criu.SignalFd, 'SignalFd'),
	'inotify': t(criu.Inotify, 'Inotify'),
	'inotify-wd': t(criu.InotifyWatch, 'InotifyWatch'),
	'memfd': t(criu.MemfdInode, 'MemfdInode'),
	'ns-files': t(criu.NamespaceFile, 'NamespaceFile'),
	'ghost-file': t(criu.GhostFile, 'GhostFile'),
	'filelocks': t(criu.FileLock, 'FileLock'),
	'utsns': t(criu.UtsNamespace, 'UtsNamespace'),
	'ipcns-var': t(criu.IpcVariables, 'IpcVariables'),
	'ipcns-shm': t(criu.IpcShmSegment, 'IpcShmSegment'),
	'ipcns-msg': t(criu.IpcMessageQueue, 'IpcMessageQueue'),
	'ipcns-sem': t(criu.IpcSemaphoreSet, 'IpcSemaphoreSet'),
	'netns': t(criu.NetNamespace, 'NetNamespace'),
	'timens': t(criu.TimeNamespace, 'TimeNamespace'),
	'stats': t(criu.Stats, 'Stats'),
};

function readEntry<K extends EntryImageKind>(kind: K, cursor: EntryCursor): ImageEntry<K> {
	const { type, name } = MESSAGE_TYPES[kind];
	const frame = cursor.nextFrame();
	const message = cursor.decode(type, name, frame);
	const { extra, sub } = readExtra(kind, message, cursor);
	return { offset: frame.offset, length: frame.payload.length, message, extra, sub };
}

/**
 * The entries of an image of `kind`, one at a time: nothing past the entry
 * being read is looked at, so a caller may stop early. Like any generator it
 * starts on the first next(), so a bad header is reported there. The file
 * name only goes into error messages.
 */
export function* iterateImage<K extends EntryImageKind>(kind: K, file: string, data: Buffer): Generator<ImageEntry<K>, void, undefined> {
	const cursor = openImage(kind, file, data);
	while (!cursor.atEnd()) yield readEntry(kind, cursor);
}

/** All entries of an image of `kind`. */
export function decodeImage<K extends EntryImageKind>(kind: K, file: string, data: Buffer): DecodedImage<K> {
	return { kind, file, entries: [...iterateImage(kind, file, data)] };
}

/**
 * The one message of an image that holds a single entry (inventory, core,
 * ids, mm, utsns, ...). Entries after the first are ignored, as CRIU does.
 */
export function decodeSingleEntry<K extends EntryImageKind>(kind: K, file: string, data: Buffer): ImageMessages[K] {
	const cursor = openImage(kind, file, data);
	if (cursor.atEnd()) throw new ImageFormatError(file, cursor.pos, `no entry: a ${kind} image holds one`);
	return readEntry(kind, cursor).message;
}

/** The kind of a file name, or an ImageFormatError for a name this layer does not know. */
export function requireKind(file: string): ImageFileName {
	const name = kindOfFileName(file);
	if (!name) throw new ImageFormatError(file, 0, 'not the name of a CRIU image this reader knows');
	return name;
}
