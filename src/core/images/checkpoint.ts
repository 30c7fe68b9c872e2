/**
 * A checkpoint as a user thinks of it: processes, with their threads and
 * registers, memory map, open files and namespaces, plus the dump's
 * statistics. Opening reads metadata images only; memory (pages-*.img) is
 * read by byte range when asked for (cmdline, read).
 */
import { describeFile, fileKind, MAP_GROWSDOWN, protString, vmaKind, type FileKind, type FileTable, type VmaKind } from './describe';
import {
	criu, decodeImage, decodePagemap, decodeSingleEntry, imageFileName, kindOfFileName, VMA_STATUS,
	type EntryImageKind, type ImageKind, type ImageMessages, type Pagemap,
} from './format';
import { ProcessMemory, WHOLE_OBJECT, type MappedRange, type MemoryRead } from './memory';
import type { ImageSource } from './source';
import { CheckpointError } from '../errors';
import { decodeSystemText } from '../systemText';

export interface ThreadImage {
	tid: number;
	/** The thread's name (pthread_setname_np), as comm in /proc/PID/task/TID. */
	comm: string;
	/** x86_64 general-purpose registers by name (rip is "ip", as CRIU names them). */
	registers: Record<string, bigint>;
	/** Whether the FPU state was dumped, and whether as XSAVE. */
	fpu: 'none' | 'fxsave' | 'xsave';
}

export interface VmaImage {
	start: bigint;
	end: bigint;
	/** "rw-p", as /proc/PID/maps writes it. */
	prot: string;
	kind: VmaKind;
	/** The backing file, memfd or SysV segment, when there is one. */
	file?: string;
	/** The backing file's ELF build-id (hex) as CRIU recorded it at the dump, when it did. */
	buildId?: string;
	/** The shared memory object it shows (anonymous shared, memfd, SysV: pagemap-shmem-<shmid>.img), when it shows one. */
	shmid?: number;
	pgoff: bigint;
	/** Pages the checkpoint holds for this area. */
	pages: number;
}

export interface FileImage {
	fd: number;
	kind: FileKind;
	/** The id of the open file object in files.img (shared fds have the same id). */
	id: number;
	path?: string;
	peer?: string;
	detail?: string;
	flags: number;
	pos?: bigint;
}

export type NamespaceKind = 'pid' | 'net' | 'ipc' | 'uts' | 'mnt' | 'user' | 'cgroup' | 'time';

export interface NamespaceImage {
	kind: NamespaceKind;
	id: number;
	/** Dumped into the images (restored as a new namespace), or inherited from where CRIU ran. */
	dumped: boolean;
}

export interface Credentials {
	uid: number;
	gid: number;
	euid: number;
	egid: number;
	groups: number[];
}

export interface ProcessImage {
	pid: number;
	ppid: number;
	pgid: number;
	sid: number;
	comm: string;
	state: 'alive' | 'dead' | 'stopped' | 'zombie' | 'unknown';
	creds?: Credentials;
	threads: ThreadImage[];
	vmas: VmaImage[];
	files: FileImage[];
	namespaces: NamespaceImage[];
	/** The memory as the checkpoint holds it. */
	memory: ProcessMemory;
	/** The command line, read from the process's memory (arg_start..arg_end); undefined when not dumped. */
	cmdline(): Promise<string[] | undefined>;
	read(address: bigint, length: number): Promise<MemoryRead>;
}

export interface CheckpointImages {
	source: ImageSource;
	imageVersion: number;
	processes: ProcessImage[];
	stats?: criu.DumpStats;
	/** Image files present, by name: what the reader read and what it left alone. */
	files: string[];
}

const TASK_STATES: Record<number, ProcessImage['state']> = { 1: 'alive', 2: 'dead', 3: 'stopped', 6: 'zombie' };

/** Which image file says a namespace was dumped. */
const NAMESPACE_IMAGES: Partial<Record<NamespaceKind, EntryImageKind>> = {
	net: 'netns', ipc: 'ipcns-var', uts: 'utsns', time: 'timens',
};
const NAMESPACE_FILE_PREFIX: Partial<Record<NamespaceKind, string>> = { mnt: 'mountpoints', user: 'userns', pid: 'pidns' };

const NAMESPACE_IDS: Record<NamespaceKind, keyof criu.IKernelObjectIds> = {
	pid: 'pidNsId', net: 'netNsId', ipc: 'ipcNsId', uts: 'utsNsId', mnt: 'mntNsId', user: 'userNsId', cgroup: 'cgroupNsId', time: 'timeNsId',
};

/** Images a model reads whole; pages-*.img is only ever read by range. */
function isMetadataImage(name: string): boolean {
	const kind = kindOfFileName(name)?.kind;
	return kind !== undefined && kind !== 'pages';
}

class ImageDirectory {
	private readonly present: Set<string>;
	private readonly contents = new Map<string, Promise<Buffer>>();

	constructor(readonly source: ImageSource, readonly files: string[]) {
		this.present = new Set(files);
	}

	has(name: string): boolean {
		return this.present.has(name);
	}

	/** The ids in the names of the images of one kind present (ipcns-shm-<ns>.img, ...). */
	ids(kind: ImageKind): number[] {
		return this.files.map((name) => kindOfFileName(name)).filter((n) => n?.kind === kind && n.id !== undefined).map((n) => n?.id ?? -1);
	}

	/**
	 * Asks for every metadata image at once: one wave of reads (one request
	 * through the helper) instead of one per step of the model's walk.
	 */
	prefetch(): void {
		for (const name of this.files) if (isMetadataImage(name)) void this.read(name).catch(() => undefined);
	}

	read(name: string): Promise<Buffer> {
		let data = this.contents.get(name);
		if (!data) {
			data = this.source.readFile(name);
			this.contents.set(name, data);
		}
		return data;
	}

	async entries<K extends EntryImageKind>(kind: K, id?: number | 'dump' | 'restore'): Promise<ImageMessages[K][]> {
		const name = imageFileName(kind, id);
		if (!this.has(name)) return [];
		return decodeImage(kind, name, await this.read(name)).entries.map((e) => e.message);
	}

	async single<K extends EntryImageKind>(kind: K, id?: number | 'dump' | 'restore'): Promise<ImageMessages[K] | undefined> {
		const name = imageFileName(kind, id);
		if (!this.has(name)) return undefined;
		return decodeSingleEntry(kind, name, await this.read(name));
	}

	async pagemap(pid: number): Promise<Pagemap | undefined> {
		const name = imageFileName('pagemap', pid);
		if (!this.has(name)) return undefined;
		return decodePagemap(name, await this.read(name));
	}
}

class FileIndex implements FileTable {
	private readonly ids = new Map<number, criu.FileEntry>();
	private readonly unix = new Map<number, criu.UnixSocket>();
	private readonly memfds = new Map<bigint, criu.MemfdInode>();
	private readonly ttys = new Map<number, criu.TtyInfo>();

	constructor(files: criu.FileEntry[], memfds: criu.MemfdInode[], ttys: criu.TtyInfo[]) {
		for (const f of files) {
			this.ids.set(f.id ?? -1, f);
			if (f.usk?.ino != null) this.unix.set(f.usk.ino, f.usk);
		}
		for (const m of memfds) this.memfds.set(m.inodeId ?? -1n, m);
		for (const t of ttys) this.ttys.set(t.id ?? -1, t);
	}

	ttyInfo(id: number): criu.TtyInfo | undefined {
		return this.ttys.get(id);
	}

	byId(id: number): criu.FileEntry | undefined {
		return this.ids.get(id);
	}

	unixByInode(ino: number): criu.UnixSocket | undefined {
		return this.unix.get(ino);
	}

	memfdInode(inodeId: number): criu.MemfdInode | undefined {
		return this.memfds.get(BigInt(inodeId));
	}
}

/** Registers as people read them: where it is (ip, sp, bp), then the general ones, then the rest in CRIU's order. */
const REGISTER_ORDER = ['ip', 'sp', 'bp', 'ax', 'bx', 'cx', 'dx', 'si', 'di', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'flags', 'orig_ax'];

function registerRank(name: string): number {
	const at = REGISTER_ORDER.indexOf(name);
	return at < 0 ? REGISTER_ORDER.length : at;
}

/** A thread's registers, name and value, in REGISTER_ORDER. */
export function orderedRegisters(thread: ThreadImage): [string, bigint][] {
	return Object.entries(thread.registers).sort(([a], [b]) => registerRank(a) - registerRank(b));
}

/** Every x86_64 register the core holds, by CRIU's names. */
function registersOf(regs: criu.IX86Registers | null | undefined): Record<string, bigint> {
	const out: Record<string, bigint> = {};
	if (!regs) return out;
	for (const [name, value] of Object.entries(regs)) if (typeof value === 'bigint') out[name] = value;
	return out;
}

function threadOf(tid: number, core: criu.Core | undefined): ThreadImage {
	const info = core?.threadInfo;
	return {
		tid,
		comm: core?.threadCore?.comm ?? core?.tc?.comm ?? '',
		registers: registersOf(info?.gpregs),
		fpu: !info?.fpregs ? 'none' : info.fpregs.xsave ? 'xsave' : 'fxsave',
	};
}

function credsOf(core: criu.Core | undefined): Credentials | undefined {
	const c = core?.threadCore?.creds;
	if (!c) return undefined;
	return { uid: c.uid ?? 0, gid: c.gid ?? 0, euid: c.euid ?? 0, egid: c.egid ?? 0, groups: c.groups };
}

/**
 * What vma.shmid names depends on the status: a SysV shm id for SysV IPC
 * areas, a files.img id for file-backed ones (memfd included), an anonymous
 * shared memory id or 0 otherwise. Looked up only where it names a file or
 * segment: a private anonymous area has shmid 0, which is also the id of the
 * first SysV segment of an IPC namespace.
 */
/** CRIU keeps a build-id as its bytes packed into 32-bit words (little-endian on the machines it dumps). */
export function buildIdHex(words: number[]): string | undefined {
	if (!words.length) return undefined;
	const bytes = Buffer.alloc(words.length * 4);
	words.forEach((w, i) => bytes.writeUInt32LE(w >>> 0, i * 4));
	return bytes.toString('hex');
}

function vmaFile(vma: criu.Vma, files: FileIndex, shm: Map<number, criu.IpcShmSegment>): { file?: string; memfdName?: string; buildId?: string } {
	const status = vma.status ?? 0;
	const id = Number(vma.shmid ?? 0n);
	if (status & VMA_STATUS.AREA_SYSVIPC) {
		const segment = shm.get(id);
		return segment ? { file: `SYSV${(segment.desc?.key ?? 0).toString(16).padStart(8, '0')} (shmid ${id})` } : {};
	}
	if (!(status & (VMA_STATUS.FILE_PRIVATE | VMA_STATUS.FILE_SHARED | VMA_STATUS.AREA_MEMFD))) return {};
	const entry = files.byId(id);
	if (entry?.reg?.name) return { file: entry.reg.name, buildId: buildIdHex(entry.reg.buildId) };
	if (entry?.memfd) {
		const name = files.memfdInode(entry.memfd.inodeId ?? -1)?.name ?? undefined;
		return { file: name ? `memfd:${name}` : undefined, memfdName: name };
	}
	return {};
}

function buildVmas(mm: criu.MemoryMap | undefined, memory: ProcessMemory, files: FileIndex, shm: Map<number, criu.IpcShmSegment>): VmaImage[] {
	return (mm?.vmas ?? []).map((v) => {
		const start = v.start ?? 0n;
		const end = v.end ?? 0n;
		const { file, memfdName, buildId } = vmaFile(v, files, shm);
		const stackTop = mm?.mmStartStack ?? -1n;
		const isStack = ((v.flags ?? 0) & MAP_GROWSDOWN) !== 0 || (stackTop >= start && stackTop < end);
		const kind = vmaKind(v.status ?? 0, memfdName, isStack);
		const shmid = sharedObjectId(v, files);
		return {
			start, end, prot: protString(v.prot ?? 0, v.flags ?? 0), kind,
			file: kind === 'shared' ? undefined : file,
			...(buildId && kind !== 'shared' ? { buildId } : {}),
			...(shmid !== undefined ? { shmid } : {}),
			pgoff: v.pgoff ?? 0n, pages: memory.pagesIn(start, end),
		};
	});
}

function buildFiles(fdinfo: criu.FdInfo[], files: FileIndex): FileImage[] {
	return fdinfo.map((fi) => {
		const entry = files.byId(fi.id ?? -1);
		const description = entry ? describeFile(entry, files) : {};
		return { fd: fi.fd ?? -1, kind: fileKind(fi.type ?? entry?.type), id: fi.id ?? -1, flags: fi.flags ?? 0, ...description };
	}).sort((a, b) => a.fd - b.fd);
}

function buildNamespaces(ids: criu.KernelObjectIds | undefined, dir: ImageDirectory): NamespaceImage[] {
	if (!ids) return [];
	const out: NamespaceImage[] = [];
	for (const kind of Object.keys(NAMESPACE_IDS) as NamespaceKind[]) {
		const id = ids[NAMESPACE_IDS[kind]];
		if (typeof id !== 'number') continue;
		const image = NAMESPACE_IMAGES[kind];
		const prefix = NAMESPACE_FILE_PREFIX[kind];
		const dumped = image ? dir.has(imageFileName(image, id)) : prefix ? dir.has(`${prefix}-${id}.img`) : false;
		out.push({ kind, id, dumped });
	}
	return out;
}

async function commandLine(memory: ProcessMemory, mm: criu.MemoryMap | undefined): Promise<string[] | undefined> {
	const start = mm?.mmArgStart;
	const end = mm?.mmArgEnd;
	if (start == null || end == null || end <= start || end - start > 1n << 20n) return undefined;
	const read = await memory.read(start, Number(end - start));
	if (read.segments.some((s) => s.missing)) return undefined;
	return decodeSystemText(read.bytes).replace(/\0+$/, '').split('\0');
}

/**
 * A process's memory in one image directory; pages marked PE_PARENT are
 * looked up, on first need, in the parent directory (CRIU's "parent" link of
 * an incremental dump), and so on up the chain. `chain` holds the
 * descriptions of the directories from the opened one down to `source`: a
 * parent link back into it (a "parent" symlink to "." or a cycle of two)
 * would otherwise be followed for ever.
 */
/** Longer than any chain the helper makes (16) or CRIU's pre-dumps reasonably do: a longer one is taken for a loop. */
const MAX_PARENT_CHAIN = 64;

function memoryIn(source: ImageSource, pid: number, pagemap: Pagemap | undefined, ranges: { start: bigint; end: bigint }[],
	chain: readonly string[] = [source.description]): ProcessMemory {
	let parent: Promise<ProcessMemory | undefined> | undefined;
	const loadParent = async (): Promise<ProcessMemory | undefined> => {
		const up = await source.parent();
		if (!up) return undefined;
		if (chain.includes(up.description)) {
			throw new CheckpointError('image-damaged', `${source.description}: its parent checkpoint is ${up.description}, which stands on it in turn `
				+ `(${[...chain, up.description].join(' -> ')}); the pages it marks as the parent's are in none of them. Fix or remove the "parent" link`);
		}
		// names that differ but open the same directories (links to links) go round too, their names growing
		if (chain.length >= MAX_PARENT_CHAIN) {
			throw new CheckpointError('image-damaged', `${chain[0]}: its chain of parent checkpoints is longer than ${MAX_PARENT_CHAIN} (${source.description} `
				+ `stands on ${up.description}); a loop of links is taken for damage. Fix or remove the "parent" links`);
		}
		const dir = new ImageDirectory(up, await up.list().catch(() => []));
		const map = await dir.pagemap(pid);
		return map ? memoryIn(up, pid, map, ranges, [...chain, up.description]) : undefined;
	};
	const pagesFile = pagemap ? imageFileName('pages', pagemap.pagesId) : '';
	return new ProcessMemory(source, pagesFile, pagemap?.entries ?? [], ranges, () => (parent ??= loadParent()));
}


interface SharedTables {
	files: FileIndex;
	shm: Map<number, criu.IpcShmSegment>;
	/** Shared memory objects by the id of their pagemap-shmem-<id>.img. */
	shmem: Map<number, ProcessMemory>;
}

/** The id of the shared memory object an area shows (its pagemap-shmem-<id>.img), when it shows one. */
function sharedObjectId(vma: criu.Vma, files: FileIndex): number | undefined {
	const status = vma.status ?? 0;
	const id = Number(vma.shmid ?? 0n);
	if (status & VMA_STATUS.AREA_MEMFD) return files.memfdInode(files.byId(id)?.memfd?.inodeId ?? -1)?.shmid ?? undefined;
	if (status & (VMA_STATUS.AREA_SYSVIPC | VMA_STATUS.ANON_SHARED)) return id;
	return undefined;
}

/** The shared memory object an area shows, when CRIU dumped it as one. */
function sharedObjectOf(vma: criu.Vma, tables: SharedTables): MappedRange['shared'] {
	const shmid = sharedObjectId(vma, tables.files);
	const object = shmid === undefined ? undefined : tables.shmem.get(shmid);
	return object ? { object, pgoff: vma.pgoff ?? 0n } : undefined;
}

/** Every pagemap-shmem-<id>.img: metadata now, pages on demand. */
async function loadSharedMemory(dir: ImageDirectory): Promise<Map<number, ProcessMemory>> {
	const objects = new Map<number, ProcessMemory>();
	await Promise.all(dir.ids('pagemap-shmem').map(async (shmid) => {
		const name = imageFileName('pagemap-shmem', shmid);
		const pagemap = decodePagemap(name, await dir.read(name));
		objects.set(shmid, new ProcessMemory(dir.source, imageFileName('pages', pagemap.pagesId), pagemap.entries, [WHOLE_OBJECT]));
	}));
	return objects;
}

async function loadProcess(dir: ImageDirectory, entry: criu.ProcessTreeEntry, tables: SharedTables): Promise<ProcessImage> {
	const pid = entry.pid ?? 0;
	const threadIds = entry.threads.length ? entry.threads : [pid];
	const [cores, idsImage, mm, pagemap] = await Promise.all([
		Promise.all(threadIds.map((tid) => dir.single('core', tid))), dir.single('ids', pid), dir.single('mm', pid), dir.pagemap(pid),
	]);
	const main = cores[threadIds.indexOf(pid)] ?? cores[0];
	const ids = idsImage ?? main?.ids ?? undefined;
	const ranges = (mm?.vmas ?? []).map((v): MappedRange => ({ start: v.start ?? 0n, end: v.end ?? 0n, shared: sharedObjectOf(v, tables) }));
	const memory = memoryIn(dir.source, pid, pagemap, ranges);
	const fdinfo = ids?.filesId != null ? await dir.entries('fdinfo', ids.filesId) : [];
	return {
		pid, ppid: entry.ppid ?? 0, pgid: entry.pgid ?? 0, sid: entry.sid ?? 0,
		comm: main?.tc?.comm ?? main?.threadCore?.comm ?? '',
		state: TASK_STATES[main?.tc?.taskState ?? 0] ?? 'unknown',
		creds: credsOf(main),
		threads: threadIds.map((tid, i) => threadOf(tid, cores[i])),
		vmas: buildVmas(mm, memory, tables.files, tables.shm),
		files: buildFiles(fdinfo, tables.files),
		namespaces: buildNamespaces(ids, dir),
		memory,
		cmdline: () => commandLine(memory, mm),
		read: (address, length) => memory.read(address, length),
	};
}

async function loadShm(dir: ImageDirectory): Promise<Map<number, criu.IpcShmSegment>> {
	const shm = new Map<number, criu.IpcShmSegment>();
	for (const nsId of dir.ids('ipcns-shm')) {
		for (const s of await dir.entries('ipcns-shm', nsId)) shm.set(s.desc?.id ?? -1, s);
	}
	return shm;
}

/** Opens a checkpoint directory: metadata only, memory stays where it is. */
export async function openCheckpoint(source: ImageSource): Promise<CheckpointImages> {
	const dir = new ImageDirectory(source, await source.list());
	dir.prefetch();
	if (!dir.has('inventory.img')) throw new Error(`${source.description} holds no inventory.img: it is not a CRIU checkpoint directory`);
	const [inventory, tree, files, memfds, ttys, shm, shmem, statsImage] = await Promise.all([
		dir.single('inventory'), dir.entries('pstree'), dir.entries('files'), dir.entries('memfd'), dir.entries('tty-info'),
		loadShm(dir), loadSharedMemory(dir), dir.single('stats', 'dump'),
	]);
	const tables: SharedTables = { files: new FileIndex(files, memfds, ttys), shm, shmem };
	const processes = await Promise.all(tree.map((entry) => loadProcess(dir, entry, tables)));
	const stats = statsImage?.dump ?? undefined;
	return { source, imageVersion: inventory?.imgVersion ?? 0, processes, stats, files: dir.files };
}
