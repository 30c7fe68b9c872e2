/**
 * What image entries mean to a user: the kind and backing of a memory area,
 * the kind and path (or peer) of an open file. Pure functions over decoded
 * entries, shared by the model and its tests.
 */
import { VMA_STATUS, criu } from './format';
import { decodeSystemText } from '../systemText';

export type VmaKind =
	| 'anonymous' | 'file' | 'shared' | 'stack' | 'heap'
	| 'vdso' | 'vvar' | 'vsyscall' | 'sysv-shm' | 'memfd' | 'socket' | 'aio';

export type FileKind =
	| 'regular' | 'pipe' | 'fifo' | 'unix-socket' | 'inet-socket' | 'netlink-socket' | 'packet-socket'
	| 'tty' | 'eventfd' | 'eventpoll' | 'signalfd' | 'inotify' | 'fanotify' | 'memfd' | 'namespace'
	| 'timerfd' | 'tun' | 'bpf-map' | 'pidfd' | 'other';

const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_SHARED = 1;
export const MAP_GROWSDOWN = 0x100;

/** "r-xp" as /proc/PID/maps writes it. */
export function protString(prot: number, flags: number): string {
	return `${prot & PROT_READ ? 'r' : '-'}${prot & PROT_WRITE ? 'w' : '-'}${prot & PROT_EXEC ? 'x' : '-'}${flags & MAP_SHARED ? 's' : 'p'}`;
}

/**
 * The kind of a memory area from CRIU's VMA status bits (most specific
 * first). CRIU 4.1 does not set AREA_STACK on the main stack: the caller
 * says whether the area holds mm_start_stack or grows down.
 */
export function vmaKind(status: number, memfdName?: string, isStack = false): VmaKind {
	const has = (bit: number): boolean => (status & bit) !== 0;
	if (has(VMA_STATUS.AREA_VDSO)) return 'vdso';
	if (has(VMA_STATUS.AREA_VVAR)) return 'vvar';
	if (has(VMA_STATUS.AREA_VSYSCALL)) return 'vsyscall';
	if (has(VMA_STATUS.AREA_SYSVIPC)) return 'sysv-shm';
	if (has(VMA_STATUS.AREA_SOCKET)) return 'socket';
	if (has(VMA_STATUS.AREA_AIORING)) return 'aio';
	// CRIU 4.1 dumps MAP_SHARED|MAP_ANONYMOUS memory as a memfd named after /dev/zero.
	if (has(VMA_STATUS.AREA_MEMFD)) return memfdName?.startsWith('/dev/zero') ? 'shared' : 'memfd';
	if (has(VMA_STATUS.AREA_STACK) || isStack) return 'stack';
	if (has(VMA_STATUS.AREA_HEAP)) return 'heap';
	if (has(VMA_STATUS.ANON_SHARED)) return 'shared';
	if (has(VMA_STATUS.FILE_PRIVATE) || has(VMA_STATUS.FILE_SHARED)) return 'file';
	return 'anonymous';
}

const FILE_KINDS: Partial<Record<criu.FileType, FileKind>> = {
	[criu.FileType.FILE_TYPE_REG]: 'regular',
	[criu.FileType.FILE_TYPE_PIPE]: 'pipe',
	[criu.FileType.FILE_TYPE_FIFO]: 'fifo',
	[criu.FileType.FILE_TYPE_INETSK]: 'inet-socket',
	[criu.FileType.FILE_TYPE_UNIXSK]: 'unix-socket',
	[criu.FileType.FILE_TYPE_NETLINKSK]: 'netlink-socket',
	[criu.FileType.FILE_TYPE_PACKETSK]: 'packet-socket',
	[criu.FileType.FILE_TYPE_TTY]: 'tty',
	[criu.FileType.FILE_TYPE_EVENTFD]: 'eventfd',
	[criu.FileType.FILE_TYPE_EVENTPOLL]: 'eventpoll',
	[criu.FileType.FILE_TYPE_SIGNALFD]: 'signalfd',
	[criu.FileType.FILE_TYPE_INOTIFY]: 'inotify',
	[criu.FileType.FILE_TYPE_FANOTIFY]: 'fanotify',
	[criu.FileType.FILE_TYPE_MEMFD]: 'memfd',
	[criu.FileType.FILE_TYPE_NS]: 'namespace',
	[criu.FileType.FILE_TYPE_TIMERFD]: 'timerfd',
	[criu.FileType.FILE_TYPE_TUNF]: 'tun',
	[criu.FileType.FILE_TYPE_BPFMAP]: 'bpf-map',
	[criu.FileType.FILE_TYPE_PIDFD]: 'pidfd',
};

export function fileKind(type: criu.FileType | null | undefined): FileKind {
	return (type != null && FILE_KINDS[type]) || 'other';
}

const NS_FLAGS: Record<number, string> = {
	0x00020000: 'mnt', 0x02000000: 'cgroup', 0x04000000: 'uts', 0x08000000: 'ipc',
	0x10000000: 'user', 0x20000000: 'pid', 0x40000000: 'net', 0x00000080: 'time',
};

/** What one open file object is, for a user: a path, or what it is connected to. */
export interface FileDescription {
	path?: string;
	peer?: string;
	/** Extra facts: an eventfd's counter, an epoll's targets, a socket's state. */
	detail?: string;
	pos?: bigint;
}

/** Lookups across files.img a description needs (sockets by inode, memfd inodes, files by id). */
export interface FileTable {
	byId(id: number): criu.FileEntry | undefined;
	unixByInode(ino: number): criu.UnixSocket | undefined;
	memfdInode(inodeId: number): criu.MemfdInode | undefined;
	ttyInfo(id: number): criu.TtyInfo | undefined;
}

const TTY_TYPES: Partial<Record<criu.TtyType, string>> = {
	[criu.TtyType.TTY_TYPE_PTY]: 'pty', [criu.TtyType.TTY_TYPE_CONSOLE]: 'console', [criu.TtyType.TTY_TYPE_VT]: 'vt',
	[criu.TtyType.TTY_TYPE_CTTY]: 'controlling tty', [criu.TtyType.TTY_TYPE_EXT_TTY]: 'external tty', [criu.TtyType.TTY_TYPE_SERIAL]: 'serial',
};

/** A terminal: its device path (from the regular file entry CRIU links it to), kind and session. */
function describeTty(tty: criu.TtyFile, files: FileTable): FileDescription {
	const info = files.ttyInfo(tty.ttyInfoId ?? -1);
	const kind = (info?.type != null && TTY_TYPES[info.type]) || 'tty';
	const session = info?.sid ? `, session ${info.sid}` : '';
	const pty = info?.pty?.index != null ? ` ${info.pty.index}` : '';
	return { path: files.byId(tty.regfId ?? -1)?.reg?.name ?? undefined, detail: `${kind}${pty}${session}` };
}

function ipv4(addr: number[]): string {
	const a = addr[0] ?? 0;
	return [a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, a >>> 24].join('.');
}

function inetAddress(addr: number[], port: number, family: number): string {
	if (family === 2) return `${ipv4(addr)}:${port}`;
	const words = addr.map((w) => [w & 0xffff, w >>> 16].map((h) => ((h & 0xff) << 8 | h >>> 8).toString(16))).flat();
	return `[${words.join(':')}]:${port}`;
}

function unixName(s: criu.UnixSocket): string | undefined {
	if (!s.name || s.name.length === 0) return undefined;
	const name = Buffer.from(s.name);
	// An abstract name starts with a NUL byte; ss and /proc/net/unix show it as "@".
	return name[0] === 0 ? `@${decodeSystemText(name, 1)}` : decodeSystemText(name);
}

function describeUnix(s: criu.UnixSocket, files: FileTable): FileDescription {
	const peer = s.peer ? files.unixByInode(s.peer) : undefined;
	const type = s.type === 1 ? 'stream' : s.type === 2 ? 'dgram' : s.type === 5 ? 'seqpacket' : `type ${s.type}`;
	return {
		path: unixName(s),
		peer: s.peer ? `${peer ? unixName(peer) ?? 'unnamed' : 'outside the checkpoint'} socket:[${s.peer}]` : undefined,
		detail: `${type}, socket:[${s.ino}]`,
	};
}

function describeInet(s: criu.InetSocket): FileDescription {
	const proto = s.proto === 6 ? 'tcp' : s.proto === 17 ? 'udp' : `proto ${s.proto}`;
	const local = inetAddress(s.srcAddr, s.srcPort ?? 0, s.family ?? 2);
	const listening = s.state === 10;
	return {
		path: `${proto} ${local}`,
		peer: listening || !s.dstPort ? undefined : inetAddress(s.dstAddr, s.dstPort, s.family ?? 2),
		detail: listening ? 'listening' : `state ${s.state}`,
	};
}

function describeEventPoll(e: criu.EventPoll): FileDescription {
	return { detail: `watches fd ${e.tfd.map((t) => t.tfd).join(', ') || 'nothing'}` };
}

function describeInotify(i: criu.Inotify): FileDescription {
	const paths = i.wd.map((w) => w.fHandle?.path).filter((p): p is string => !!p);
	return { path: paths.join(', ') || undefined, detail: `${i.wd.length} watch${i.wd.length === 1 ? '' : 'es'}` };
}

/** The path or peer of one files.img entry. */
export function describeFile(entry: criu.FileEntry, files: FileTable): FileDescription {
	if (entry.reg) return { path: entry.reg.name ?? undefined, pos: entry.reg.pos ?? undefined };
	if (entry.pipe) return { path: `pipe:[${entry.pipe.pipeId}]` };
	if (entry.fifo) return { path: files.byId(entry.fifo.regfId ?? -1)?.reg?.name ?? undefined, detail: `pipe:[${entry.fifo.pipeId}]` };
	if (entry.usk) return describeUnix(entry.usk, files);
	if (entry.isk) return describeInet(entry.isk);
	if (entry.nlsk) return { detail: `netlink protocol ${entry.nlsk.protocol}` };
	if (entry.efd) return { detail: `counter ${entry.efd.counter ?? 0n}` };
	if (entry.epfd) return describeEventPoll(entry.epfd);
	if (entry.sgfd) return { detail: `mask 0x${(entry.sgfd.sigmask ?? 0n).toString(16)}` };
	if (entry.ify) return describeInotify(entry.ify);
	if (entry.memfd) {
		const inode = files.memfdInode(entry.memfd.inodeId ?? -1);
		return { path: inode?.name ? `memfd:${inode.name}` : undefined, pos: entry.memfd.pos ?? undefined, detail: inode ? `${inode.size ?? 0n} bytes` : undefined };
	}
	if (entry.nsf) return { path: `${NS_FLAGS[entry.nsf.nsCflag ?? 0] ?? 'unknown'}:[${entry.nsf.nsId}]` };
	if (entry.tty) return describeTty(entry.tty, files);
	return {};
}
