/**
 * The rich workload (test/workloads/rich.c) through the real helper and
 * CRIU: its checkpoint holds every kind of image the image reader decodes
 * (checked with CRIU's own crit on the target), and it restores into its own
 * namespaces and counts on from the checkpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import type { pb } from '../../src/core/protocol';
import { HelperSession } from '../../src/core/session';
import { allAbove, allAtLeast, allBelow, newerCriuTarget, sshTarget, TargetShell } from './harness';
import { buildRich, critDecode, dumpRich, inetSocketsDumpable, RICH_FD_TYPES, richBytes, startRich, type RichTree } from './richCheckpoint';

const PAGE = 4096;
const PE_PRESENT = 4;
const VMA_FILE_PRIVATE = 1 << 6;
const VMA_FILE_SHARED = 1 << 7;
const VMA_AREA_SYSVIPC = 1 << 10;
const MAP_SHARED = 1;

let shell: TargetShell;
let session: HelperSession;
const checkpoints: string[] = [];

let tcp: { ok: boolean; why: string };
let rich: RichTree | undefined;
let checkpoint: pb.Checkpoint | undefined;
/** The root's counters just before and just after the dump (pid left out). */
let beforeDump: number[] = [];
let afterDump: number[] = [];

before(async () => {
	shell = await TargetShell.open();
	await buildRich(shell);
	tcp = await inetSocketsDumpable(shell);
	session = await HelperSession.open(sshTarget());
});

after(async () => {
	await shell.killStarted();
	if (rich) await shell.killTree(rich.info.child);
	for (const id of checkpoints) await session.remove(id).catch(() => undefined);
	await session.close();
	if (rich) await shell.run(`rm -rf ${rich.dir}`);
	shell.close();
});

/** Counters of one record of the workload. */
const counters = (dir: string, name: string): Promise<number[]> => shell.counters(dir, [name]);
const waitUntil = (dir: string, name: string, accept: (c: number[]) => boolean, what: string): Promise<number[]> =>
	shell.waitForCounters(dir, [name], accept, what);

/** `length` bytes at `offset` of a file on the target (also /proc/PID/mem). */
async function readBytes(path: string, offset: number, length: number): Promise<Buffer> {
	const hex = await shell.ok(`python3 -c 'import sys
f = open(sys.argv[1], "rb"); f.seek(int(sys.argv[2])); sys.stdout.write(f.read(int(sys.argv[3])).hex())' ${path} ${offset} ${length}`);
	return Buffer.from(hex.trim(), 'hex');
}

function need<T>(v: T | undefined, what: string): T {
	assert.ok(v !== undefined, `${what} is missing: an earlier test failed`);
	return v;
}

/** Decodes an image of the checkpoint (crit on the target). */
function decode(name: string): Promise<{ magic: string; entries: any[] }> {
	return critDecode(shell, `${need(checkpoint, 'the checkpoint').path}/${name}`);
}

describe('a rich tree: every kind of image', () => {
	test('dumps with leave_running and the rich options', async () => {
		rich = await startRich(shell, { tcp: tcp.ok });
		const { pid, dir, info } = rich;
		assert.equal(info.tcp, tcp.ok, tcp.why);
		assert.equal(info.threads.length, 2);

		beforeDump = await counters(dir, 'state');
		checkpoint = await dumpRich(session, pid, { leaveRunning: true });
		checkpoints.push(checkpoint.id);
		afterDump = await counters(dir, 'state');
		assert.equal(checkpoint.rootPid, pid);
		assert.deepEqual(checkpoint.processes.map((p) => p.pid).sort((a, b) => a - b), [pid, info.child].sort((a, b) => a - b));
		assert.equal(checkpoint.options?.tcpEstablished, tcp.ok, 'the save policy for its TCP connection asked CRIU for tcp_established, and the manifest keeps it for the restore');
		assert.ok(checkpoint.stats && checkpoint.stats.pagesWritten > 0);
		await waitUntil(dir, 'state', allAbove(afterDump), 'the tree does not run on after a leave_running dump');
	});

	test('the checkpoint directory holds the images one expects', async () => {
		const { info } = need(rich, 'the rich tree');
		const ck = need(checkpoint, 'the checkpoint');
		const files = new Set((await shell.ok(`ls ${ck.path}`)).trim().split('\n'));
		const ids = (await decode(`ids-${info.root}.img`)).entries[0];
		const childIds = (await decode(`ids-${info.child}.img`)).entries[0];
		const expected = [
			'inventory.img', 'pstree.img', 'files.img', 'stats-dump', 'pipes-data.img', 'sk-queues.img', 'memfd.img',
			`utsns-${ids.uts_ns_id}.img`, `ipcns-shm-${ids.ipc_ns_id}.img`, `ipcns-var-${ids.ipc_ns_id}.img`,
			`netns-${ids.net_ns_id}.img`, `netdev-${ids.net_ns_id}.img`, `ifaddr-${ids.net_ns_id}.img`,
			`route-${ids.net_ns_id}.img`, `rule-${ids.net_ns_id}.img`, `iptables-${ids.net_ns_id}.img`,
			`fdinfo-${ids.files_id}.img`, `fdinfo-${childIds.files_id}.img`,
			// SysV shm contents go to pagemap-shmem-<shm id>
			`pagemap-shmem-${info.shm.id}.img`,
		];
		for (const pid of [info.root, info.child]) expected.push(`core-${pid}.img`, `mm-${pid}.img`, `pagemap-${pid}.img`, `ids-${pid}.img`, `fs-${pid}.img`);
		for (const tid of info.threads) expected.push(`core-${tid}.img`);
		for (const pid of [info.root, info.child]) expected.push(`pages-${(await decode(`pagemap-${pid}.img`)).entries[0].pages_id}.img`);
		for (const inode of (await decode('memfd.img')).entries) expected.push(`pagemap-shmem-${inode.shmid}.img`);
		if (info.tcp) {
			for (const e of (await decode('files.img')).entries.filter((f) => f.type === 'INETSK' && f.isk.state === 1)) expected.push(`tcp-stream-${e.isk.ino.toString(16)}.img`);
		}
		const missing = expected.filter((f) => !files.has(f));
		assert.deepEqual(missing, [], `images present: ${[...files].sort().join(' ')}`);
		assert.ok(ids.net_ns_id !== (await decode('inventory.img')).entries[0].root_ids.net_ns_id, 'the tree has a net namespace of its own, not CRIU\'s');
	});

	test('crit decodes each descriptor to the kind DIR/info says', async () => {
		const { info } = need(rich, 'the rich tree');
		const files = new Map<number, any>((await decode('files.img')).entries.map((e) => [e.id, e]));
		const fdTable = async (pid: number) => {
			const ids = (await decode(`ids-${pid}.img`)).entries[0];
			return new Map<number, any>((await decode(`fdinfo-${ids.files_id}.img`)).entries.map((e) => [e.fd, e]));
		};
		const rootFds = await fdTable(info.root);
		const childFds = await fdTable(info.child);
		for (const [who, table, want] of [['root', rootFds, info.fds.root], ['child', childFds, info.fds.child]] as const) {
			for (const f of want) {
				const fdi = table.get(f.fd);
				assert.ok(fdi, `${who} fd ${f.fd} (${f.kind}) is in its fdinfo image`);
				assert.equal(fdi.type, RICH_FD_TYPES[f.kind], `${who} fd ${f.fd} (${f.kind}: ${f.what})`);
				assert.equal(files.get(fdi.id)?.type, fdi.type, `files.img entry ${fdi.id} of ${who} fd ${f.fd}`);
			}
			assert.equal(table.size, want.length, `${who} has exactly the descriptors DIR/info lists`);
		}
		const file = (pid: 'root' | 'child', kind: string) => {
			const fd = (pid === 'root' ? info.fds.root : info.fds.child).find((f) => f.kind === kind);
			return files.get((pid === 'root' ? rootFds : childFds).get(need(fd, `${pid} ${kind}`).fd).id);
		};

		assert.equal(file('root', 'pipe').pipe.pipe_id, file('child', 'pipe').pipe.pipe_id, 'root and child hold the two ends of one pipe');
		assert.equal(file('root', 'unix').usk.peer, file('child', 'unix').usk.ino, 'the socketpair joins root and child');
		assert.equal(file('root', 'eventfd').efd.counter, info.eventfdValue);
		const watched = file('root', 'epoll').epfd.tfd.map((t: any) => t.tfd).sort();
		const fdOf = (kind: string) => need(info.fds.root.find((f) => f.kind === kind), kind).fd;
		assert.deepEqual(watched, [fdOf('eventfd'), fdOf('pipe')].sort(), 'epoll watches the eventfd and the pipe');
		const wd = file('root', 'inotify').ify.wd;
		assert.equal(wd.length, 1);
		assert.equal(wd[0].wd, info.inotifyWd);
		assert.equal(wd[0].f_handle.path, rich!.dir, 'the watch is on DIR');
		const memfdInode = (await decode('memfd.img')).entries.find((i) => i.inode_id === file('root', 'memfd').memfd.inode_id);
		assert.equal(memfdInode?.name, info.memfd.name);
		assert.equal(memfdInode?.size, info.memfd.size);
		if (info.tcp) {
			const listen = file('root', 'tcp-listen').isk;
			assert.equal(listen.state, 10, 'TCP_LISTEN');
			assert.equal(listen.src_port, info.tcpPort);
			assert.equal(file('root', 'tcp-client').isk.dst_port, info.tcpPort);
			assert.equal(file('root', 'tcp-server').isk.state, 1, 'TCP_ESTABLISHED');
		}
	});

	test('crit decodes the namespaces, the queued bytes and the process tree', async () => {
		const { info, dir } = need(rich, 'the rich tree');
		const ids = (await decode(`ids-${info.root}.img`)).entries[0];
		assert.equal((await decode(`utsns-${ids.uts_ns_id}.img`)).entries[0].nodename, info.hostname);
		const [shm] = (await decode(`ipcns-shm-${ids.ipc_ns_id}.img`)).entries;
		assert.equal(shm.desc.key, info.shm.key);
		assert.equal(shm.size, info.shm.size);

		const [pipe] = (await decode('pipes-data.img')).entries;
		assert.equal(pipe.bytes, info.messages.pipe.length);
		assert.equal(Buffer.from(pipe.extra, 'base64').toString(), info.messages.pipe);
		const [queued] = (await decode('sk-queues.img')).entries;
		assert.equal(Buffer.from(queued.extra, 'base64').toString(), info.messages.unix);

		const pstree = (await decode('pstree.img')).entries;
		const root = pstree.find((p) => p.pid === info.root);
		assert.deepEqual(root?.threads, [info.root, ...info.threads]);
		assert.equal(pstree.find((p) => p.pid === info.child)?.ppid, info.root);
		assert.equal((await decode(`core-${info.root}.img`)).entries[0].tc.comm, 'rich');

		const vmas: any[] = (await decode(`mm-${info.root}.img`)).entries[0].vmas;
		const vmaAt = (addr: number) => vmas.find((v) => v.start <= addr && addr < v.end);
		assert.equal(vmaAt(info.fixed.addr)?.start, info.fixed.addr, 'a VMA starts at the fixed address');
		assert.equal(vmaAt(info.fixed.addr)?.end, info.fixed.addr + info.fixed.size);
		assert.ok(vmaAt(info.shm.addr).status & VMA_AREA_SYSVIPC, 'the shm attachment is a SysV IPC VMA');
		assert.equal(vmaAt(info.shm.addr).shmid, info.shm.id);
		assert.ok(vmaAt(info.memfd.addr).status & VMA_FILE_SHARED, 'the memfd mapping is a shared file VMA');
		assert.ok(vmaAt(info.anonShared.addr).flags & MAP_SHARED, 'the shared anonymous mapping is MAP_SHARED');
		assert.ok(vmaAt(info.mappedFile.addr).status & VMA_FILE_PRIVATE, 'mapped.dat is a private file VMA');
		const regs = (await decode('files.img')).entries;
		assert.equal(regs.find((f) => f.id === vmaAt(info.mappedFile.addr).shmid)?.reg?.name, `${dir}/mapped.dat`);

		// the pages of the fixed region, the heap marker and the private copy of mapped.dat
		const pagemap = (await decode(`pagemap-${info.root}.img`)).entries;
		const pagesFile = `${checkpoint!.path}/pages-${pagemap[0].pages_id}.img`;
		const offsetOf = (addr: number): number => {
			let offset = 0;
			for (const e of pagemap.slice(1)) {
				const pages = e.nr_pages ?? e.compat_nr_pages ?? 0;
				if (!(e.flags & PE_PRESENT)) continue;
				if (e.vaddr <= addr && addr < e.vaddr + pages * PAGE) return offset + (addr - e.vaddr);
				offset += pages * PAGE;
			}
			throw new Error(`no present page holds 0x${addr.toString(16)}`);
		};
		assert.deepEqual(await readBytes(pagesFile, offsetOf(info.fixed.addr + PAGE), 64), richBytes(info.fixed.pattern, PAGE, 64));
		assert.equal((await readBytes(pagesFile, offsetOf(info.marker.addr), info.marker.text.length)).toString(), info.marker.text);
		const dirty = info.mappedFile.addr + info.mappedFile.dirtyPage * PAGE;
		assert.deepEqual(await readBytes(pagesFile, offsetOf(dirty), 64), richBytes(info.mappedFile.dirtyPattern, 0, 64));
	});

	test('restores into its own namespaces and counts on from the checkpoint', async () => {
		const { pid, dir, info } = need(rich, 'the rich tree');
		const ck = need(checkpoint, 'the checkpoint');
		const late = await waitUntil(dir, 'state', allAtLeast(afterDump.map((v) => v + 50)), 'the tree did not run on after the checkpoint');
		const lateChild = await counters(dir, 'child');
		await shell.killTree(pid);
		assert.equal(await shell.isAlive(pid), false);
		assert.equal(await shell.isAlive(info.child), false);

		const restored = await session.restore(ck.id);
		assert.equal(restored.rootPid, pid, 'CRIU restores the root at its original pid');
		assert.deepEqual([...restored.pids].sort((a, b) => a - b), [pid, info.child].sort((a, b) => a - b));

		const [rolledBack, childBack] = await Promise.all([
			waitUntil(dir, 'state', allBelow(late), 'the restored tree did not go back to the checkpoint'),
			waitUntil(dir, 'child', allBelow(lateChild), 'the restored child did not go back to the checkpoint'),
		]);
		assert.ok(allAtLeast(beforeDump)(rolledBack), `restored counters ${rolledBack.join(' ')} are at least those before the dump (${beforeDump.join(' ')})`);
		await waitUntil(dir, 'state', allAbove(rolledBack), 'the restored root and its threads do not count on');
		await waitUntil(dir, 'child', allAbove(childBack), 'the restored child does not count on');

		assert.deepEqual((await shell.ok(`ls /proc/${pid}/task`)).trim().split('\n').map(Number).sort((a, b) => a - b), [pid, ...info.threads].sort((a, b) => a - b));
		assert.equal((await shell.ok(`nsenter -t ${pid} -u hostname`)).trim(), info.hostname);
		const ns = (await shell.ok(`readlink /proc/${pid}/ns/uts /proc/self/ns/uts /proc/${pid}/ns/ipc /proc/self/ns/ipc /proc/${pid}/ns/net /proc/self/ns/net`)).trim().split('\n');
		assert.notEqual(ns[0], ns[1], 'the restored root has a UTS namespace of its own');
		assert.notEqual(ns[2], ns[3], 'and an IPC namespace of its own');
		assert.notEqual(ns[4], ns[5], 'and a net namespace of its own');
		assert.match(await shell.ok(`nsenter -t ${pid} -i ipcs -m`), new RegExp(`0x${info.shm.key.toString(16)}\\s+${info.shm.id}\\s+root\\s+600\\s+${info.shm.size}`));
		const unix = await shell.ok(`nsenter -t ${pid} -n ss -xpn`);
		assert.match(unix, new RegExp(`u_str\\s+ESTAB\\s+${info.messages.unix.length}\\s.*pid=${info.child},`), 'the unread unix bytes are queued again');

		const mem = `/proc/${pid}/mem`;
		assert.deepEqual(await readBytes(mem, info.fixed.addr, 64), richBytes(info.fixed.pattern, 0, 64));
		assert.equal((await readBytes(mem, info.marker.addr, info.marker.text.length)).toString(), info.marker.text);
		assert.deepEqual(await readBytes(mem, info.shm.addr + 1000, 64), richBytes(info.shm.pattern, 1000, 64));
		assert.deepEqual(await readBytes(mem, info.memfd.addr + PAGE, 64), richBytes(info.memfd.pattern, PAGE, 64));
		assert.deepEqual(await readBytes(mem, info.anonShared.addr + 3 * PAGE, 64), richBytes(info.anonShared.pattern, 3 * PAGE, 64));
		assert.deepEqual(await readBytes(mem, info.mappedFile.addr, 64), richBytes(info.mappedFile.pattern, 0, 64));
		assert.deepEqual(await readBytes(mem, info.mappedFile.addr + PAGE, 64), richBytes(info.mappedFile.dirtyPattern, 0, 64));
	});
});

describe('a rich tree with TCP sockets', () => {
	test('a CRIU that cannot dump AF_INET sockets here is refused before anything is frozen; the target\'s CRIU 4.2 dumps the tree', async (t) => {
		if (tcp.ok) {
			t.skip(`${tcp.why}: the tree above had its TCP sockets`);
			return;
		}
		const withTcp = await startRich(shell, { tcp: true });
		assert.ok(withTcp.info.fds.root.some((f) => f.kind === 'tcp-server'));
		const before = (await session.list()).length;
		await assert.rejects(dumpRich(session, withTcp.pid, { leaveRunning: true }), (err: unknown) => {
			assert.ok(err instanceof CheckpointError);
			assert.equal(err.kind, 'criu-unavailable');
			assert.match(err.message, /^the tree has TCP or UDP sockets; nothing was frozen or written: CRIU 4\.1\.\d+ cannot dump TCP or UDP sockets on this kernel: it asks every socket for SO_PASSCRED/, tcp.why);
			return true;
		});
		assert.equal((await session.list()).length, before, 'no checkpoint is left behind');
		const held = await counters(withTcp.dir, 'state');
		await waitUntil(withTcp.dir, 'state', allAbove(held), 'the tree does not run on after the refused dump');
		const newer = await HelperSession.open(newerCriuTarget());
		try {
			const checkpoint = await dumpRich(newer, withTcp.pid, { leaveRunning: true });
			assert.equal(checkpoint.options?.tcpEstablished, true);
			const images = (await shell.ok(`ls ${checkpoint.path}`)).split('\n');
			assert.ok(images.some((f) => /^tcp-stream-[0-9a-f]+\.img$/.test(f)), `the connection's stream is in the checkpoint: ${images.join(' ')}`);
			await newer.remove(checkpoint.id);
		} finally {
			await newer.close();
		}
		await shell.killTree(withTcp.pid);
		await shell.killTree(withTcp.info.child);
		await shell.run(`rm -rf ${withTcp.dir}`);
	});
});
