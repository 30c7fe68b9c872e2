/**
 * Raw bytes that follow an entry's payload, for the image kinds that have
 * them. The rules mirror what CRIU 4.1.1 writes (and crit's images.py reads):
 *
 *   pipes-data, fifo-data  `bytes` bytes of queued pipe data
 *   sk-queues              `length` bytes of one queued socket packet
 *   tcp-stream             `inq_len` bytes of the receive queue, then
 *                          `outq_len` bytes of the send queue
 *   ipcns-shm              the segment: `size` bytes padded to a multiple of
 *                          4 (round_up(size, sizeof(u32))), unless
 *                          `in_pagemaps` is set (CRIU 4.1.1 always sets it):
 *                          then the contents are in pagemap-shmem/pages
 *                          images and nothing follows. CRIU's restore checks
 *                          the flag; crit 4.1.1 does not and would swallow
 *                          the next segments of such an image.
 *   ipcns-sem              `nsems` u16 values, padded to a multiple of 8
 *   ipcns-msg              `qnum` messages, each a length-prefixed ipc_msg
 *                          then `msize` bytes of text padded to a multiple of 8
 *   ghost-file             one entry; then, with `chunks`, length-prefixed
 *                          ghost_chunk entries each followed by `len` bytes,
 *                          else the file's contents up to the end of the image
 */
import { criu, type EntryImageKind, type ImageMessages, type SubMessageOf } from './kinds';
import type { EntryCursor, Frame, MessageType, RawSpan } from './entries';

/** A message nested under an entry, with the raw bytes that follow it. */
export interface SubEntry<S> {
	/** Offset of the sub-entry's length prefix. */
	offset: number;
	message: S;
	data: RawSpan;
}

export interface Extra<S> {
	/** Raw data after the payload, padding excluded; for tcp-stream [in queue, out queue]. */
	extra: RawSpan[];
	sub: SubEntry<S>[];
}

type ExtraRule<M, S> = (message: M, cursor: EntryCursor) => Extra<S>;

/** Nothing follows (fresh arrays: entries must not share them). */
function none(): Extra<never> {
	return { extra: [], sub: [] };
}

/** A 64-bit size as a number; anything beyond 2^53 cannot be in a file we hold in memory anyway. */
function size64(value: bigint | null): number {
	if (value === null) return 0;
	return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Number.MAX_SAFE_INTEGER + 1;
}

function spans(...list: RawSpan[]): Extra<never> {
	return { extra: list, sub: [] };
}

function subEntries<S>(cursor: EntryCursor, type: MessageType<S>, typeName: string, count: number | undefined,
	dataOf: (message: S, cursor: EntryCursor) => RawSpan): SubEntry<S>[] {
	const out: SubEntry<S>[] = [];
	while (count === undefined ? !cursor.atEnd() : out.length < count) {
		const frame: Frame = cursor.nextFrame();
		const message = cursor.decode(type, typeName, frame);
		out.push({ offset: frame.offset, message, data: dataOf(message, cursor) });
	}
	return out;
}

function pipeData(m: criu.PipeData, c: EntryCursor): Extra<never> {
	return spans(c.takeRaw(m.bytes ?? 0, 'pipe data'));
}

function ghostFile(m: criu.GhostFile, c: EntryCursor): Extra<criu.GhostChunk> {
	if (!m.chunks) return { extra: [c.takeRest()], sub: [] };
	const sub = subEntries(c, criu.GhostChunk, 'GhostChunk', undefined,
		(chunk, cur) => cur.takeRaw(size64(chunk.len), 'ghost file chunk'));
	return { extra: [], sub };
}

const RULES: { [K in EntryImageKind]?: ExtraRule<ImageMessages[K], SubMessageOf<K>> } = {
	'pipes-data': pipeData,
	'fifo-data': pipeData,
	'sk-queues': (m, c) => spans(c.takeRaw(m.length ?? 0, 'socket queue packet')),
	'tcp-stream': (m, c) => spans(c.takeRaw(m.inqLen ?? 0, 'TCP receive queue'), c.takeRaw(m.outqLen ?? 0, 'TCP send queue')),
	'ipcns-shm': (m, c) => (m.inPagemaps ? none() : spans(c.takeRaw(size64(m.size), 'SysV shared memory segment', 4))),
	'ipcns-sem': (m, c) => spans(c.takeRaw(2 * (m.nsems ?? 0), 'semaphore values', 8)),
	'ipcns-msg': (m, c) => ({
		extra: [],
		sub: subEntries(c, criu.IpcMessage, 'IpcMessage', m.qnum ?? 0,
			(msg, cur) => cur.takeRaw(msg.msize ?? 0, 'SysV message text', 8)),
	}),
	'ghost-file': ghostFile,
};

/** Consumes whatever follows an entry of `kind` (nothing for most kinds). */
export function readExtra<K extends EntryImageKind>(kind: K, message: ImageMessages[K], cursor: EntryCursor): Extra<SubMessageOf<K>> {
	const rule = RULES[kind] as ExtraRule<ImageMessages[K], SubMessageOf<K>> | undefined;
	return rule ? rule(message, cursor) : none();
}
