/**
 * A checkpoint that holds every kind of image the image reader decodes:
 * test/workloads/rich.c, built and started on the target, dumped with the
 * CRIU options it needs. For tests that want such a checkpoint:
 *
 *   await buildRich(shell);
 *   const rich = await startRich(shell);          // { pid, dir, info, tcp }
 *   const checkpoint = await dumpRich(session, rich.pid, { leaveRunning: true });
 *
 * DIR/info (parsed into `info`) says where everything is: pids, thread ids,
 * the addresses and byte patterns of the memory regions, and each process's
 * descriptors with their kinds.
 */
import { pb } from '../../src/core/protocol';
import type { DumpOptions, HelperSession } from '../../src/core/session';
import type { TargetShell } from './harness';

const WORKLOAD_DIR = '/opt/checkpoint-debugger-tests';
export const RICH = `${WORKLOAD_DIR}/rich`;

/**
 * The leak policy a rich tree needs: its TCP connection (when it has one) is
 * established, which CRIU only dumps when the policy says save (the helper
 * then asks for tcp_established, and CRIU locks the tree's own net namespace
 * while it dumps). Everything else (own IPC/UTS/net namespaces, SysV shm,
 * memfd, inotify, ...) is the tree's own. The restore takes the options the
 * manifest records.
 */
export const RICH_POLICY: readonly pb.ILeakRule[] = Object.freeze([{ kind: pb.LeakKind.LEAK_KIND_TCP, policy: pb.LeakPolicy.LEAK_POLICY_SAVE }]);

/** What each descriptor kind of DIR/info is in CRIU's files.img / fdinfo (FdTypes). */
export const RICH_FD_TYPES: Readonly<Record<RichFdKind, string>> = Object.freeze({
	'reg': 'REG',
	'pipe': 'PIPE',
	'unix': 'UNIXSK',
	'tcp-listen': 'INETSK',
	'tcp-client': 'INETSK',
	'tcp-server': 'INETSK',
	'eventfd': 'EVENTFD',
	'epoll': 'EVENTPOLL',
	'inotify': 'INOTIFY',
	'memfd': 'MEMFD',
});

export type RichFdKind = 'reg' | 'pipe' | 'unix' | 'tcp-listen' | 'tcp-client' | 'tcp-server' | 'eventfd' | 'epoll' | 'inotify' | 'memfd';

export interface RichFd {
	fd: number;
	kind: RichFdKind;
	what: string;
}

/** A memory region filled with `pattern` repeated from its first byte (see richBytes). */
export interface RichRegion {
	addr: number;
	size: number;
	pattern: string;
}

export interface RichInfo {
	/** Root process (the tree's root; also the id of its main thread). */
	root: number;
	child: number;
	/** The two counting threads of the root (besides its main thread). */
	threads: number[];
	hostname: string;
	/** "CKPT-RICH-MARKER-<root>", NUL-terminated, in a heap buffer at addr. */
	marker: { text: string; addr: number };
	/** Private anonymous memory at a fixed address (0x7e0000000000). */
	fixed: RichRegion;
	/** SysV shm segment in the tree's own IPC namespace, attached in root and child. */
	shm: RichRegion & { key: number; id: number };
	/** memfd "ckpt-rich-memfd" mapped MAP_SHARED in the root. */
	memfd: RichRegion & { name: string };
	/** MAP_SHARED|MAP_ANONYMOUS memory in the root. */
	anonShared: RichRegion;
	/** MAP_PRIVATE mapping of DIR/mapped.dat: page `dirtyPage` was overwritten with dirtyPattern (copied on write). */
	mappedFile: RichRegion & { path: string; dirtyPage: number; dirtyPattern: string };
	/** Whether the TCP listener/client/accepted trio exists. */
	tcp: boolean;
	tcpPort: number;
	eventfdValue: number;
	inotifyWd: number;
	/** The unread bytes: in the pipe (child to root), the unix socket (root to child), the TCP connection. */
	messages: { pipe: string; unix: string; tcpC2s: string; tcpS2c: string };
	fds: { root: RichFd[]; child: RichFd[] };
}

export interface RichTree {
	pid: number;
	dir: string;
	info: RichInfo;
}

/** Uploads test/workloads/rich.c and compiles it on the target into RICH. */
export async function buildRich(shell: TargetShell): Promise<void> {
	await shell.buildProgram('rich');
}

/**
 * Whether the target's CRIU can dump AF_INET sockets. Since Linux 6.16,
 * getsockopt(SO_PASSCRED/SO_PASSSEC) fails with EOPNOTSUPP on them, and
 * CRIU 4.1.x asks for both on every socket it dumps: it then refuses any
 * tree with a TCP socket ("Can't get 1:16 opt: Operation not supported",
 * checkpoint-restore/criu#2705, #2718). CRIU fixed it after 4.1.1; this
 * takes 4.2 and later as fixed.
 */
export async function inetSocketsDumpable(shell: TargetShell): Promise<{ ok: boolean; why: string }> {
	const probe = (await shell.run(`python3 -c 'import errno, socket
s = socket.socket()
try:
    s.getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED)
    print("ok")
except OSError as e:
    print("restricted" if e.errno == errno.EOPNOTSUPP else "error %d" % e.errno)'`)).stdout.trim();
	if (probe === 'ok') return { ok: true, why: 'the kernel still answers SO_PASSCRED on TCP sockets' };
	const version = /Version:\s*(\d+)\.(\d+)/.exec((await shell.run('criu --version')).stdout);
	const [major, minor] = version ? [Number(version[1]), Number(version[2])] : [0, 0];
	const fixed = major > 4 || (major === 4 && minor >= 2);
	return {
		ok: fixed,
		why: `the kernel refuses SO_PASSCRED on TCP sockets (${probe}); CRIU ${version ? `${major}.${minor}` : '?'} ` +
			(fixed ? 'copes with that' : 'cannot dump any AF_INET socket then'),
	};
}

/**
 * Starts rich in a fresh directory, waits until root, child and threads count
 * and DIR/info is written, and returns its pid, directory and info. `tcp`
 * (default: what inetSocketsDumpable says) decides whether the TCP trio exists.
 */
export async function startRich(shell: TargetShell, options: { tcp?: boolean } = {}): Promise<RichTree> {
	const tcp = options.tcp ?? (await inetSocketsDumpable(shell)).ok;
	const { pid, dir } = await shell.start([RICH, '{dir}', tcp ? 'tcp' : 'no-tcp']);
	try {
		await shell.waitForRecord(dir, 'state', (r) => r[0] === pid && r.slice(1).every((v) => v >= 3));
		await shell.waitForRecord(dir, 'child', (r) => r[1] >= 3);
		const info = parseRichInfo(await shell.ok(`cat ${dir}/info`));
		if (info.root !== pid) throw new Error(`${dir}/info names root ${info.root}, not ${pid}`);
		return { pid, dir, info };
	} catch (err) {
		const alive = await shell.isAlive(pid);
		await shell.killTree(pid);
		throw new Error(`rich (pid ${pid}, ${alive ? 'still running' : 'exited'}; run "${RICH} DIR" on the target to see why) ` +
			`did not come up in ${dir}: ${(err as Error).message}`);
	}
}

/** Dumps a rich tree with RICH_POLICY. */
export function dumpRich(session: HelperSession, pid: number, options: Omit<DumpOptions, 'policy'> = {}): Promise<pb.Checkpoint> {
	return session.dump(pid, { name: 'rich', ...options, policy: [...RICH_POLICY] });
}

/** The bytes a RichRegion holds from `offset` on: its pattern repeated from the region's start. */
export function richBytes(pattern: string, offset: number, length: number): Buffer {
	const p = Buffer.from(pattern, 'latin1');
	const out = Buffer.alloc(length);
	for (let i = 0; i < length; i++) out[i] = p[(offset + i) % p.length];
	return out;
}

/** Decodes one image file on the target with CRIU's own `crit decode` (JSON). */
export async function critDecode<T = { magic: string; entries: any[] }>(shell: TargetShell, path: string): Promise<T> {
	return JSON.parse(await shell.ok(`crit decode -i ${path}`)) as T;
}

function parseRichInfo(text: string): RichInfo {
	const j = JSON.parse(text);
	const addr = (hex: string): number => {
		const n = Number.parseInt(hex, 16);
		if (!Number.isSafeInteger(n)) throw new Error(`address ${hex} in DIR/info is not a safe integer`);
		return n;
	};
	const region = (r: { addr: string; size: number; pattern: string }): RichRegion => ({ addr: addr(r.addr), size: r.size, pattern: r.pattern });
	return {
		root: j.root,
		child: j.child,
		threads: j.threads,
		hostname: j.hostname,
		marker: { text: j.marker.text, addr: addr(j.marker.addr) },
		fixed: region(j.fixed),
		shm: { ...region(j.shm), key: j.shm.key, id: j.shm.id },
		memfd: { ...region(j.memfd), name: j.memfd.name },
		anonShared: region(j.anon_shared),
		mappedFile: { ...region(j.mapped_file), path: j.mapped_file.path, dirtyPage: j.mapped_file.dirty_page, dirtyPattern: j.mapped_file.dirty_pattern },
		tcp: j.tcp,
		tcpPort: j.tcp_port,
		eventfdValue: j.eventfd_value,
		inotifyWd: j.inotify_wd,
		messages: { pipe: j.messages.pipe, unix: j.messages.unix, tcpC2s: j.messages.tcp_c2s, tcpS2c: j.messages.tcp_s2c },
		fds: j.fds,
	};
}
