/**
 * `ckpt show` and `ckpt mem`: read a checkpoint's images, from a local
 * directory or from the target's store (by id, or by path), without
 * loading its memory.
 */
import { CheckpointError } from '../core/errors';
import { openCheckpoint, type CheckpointImages, type ProcessImage } from '../core/images/checkpoint';
import { HelperImageSource } from '../core/images/helperSource';
import { LocalImageSource, type ImageSource } from '../core/images/source';
import { HelperSession } from '../core/session';
import type { Target } from '../core/target';
import { checkpointSymbols } from '../core/elfFiles';
import { diffSources, diffText } from '../core/images/diff';
import { hexdump } from '../core/images/hexdump';
import { readManifest } from '../core/images/manifest';
import { showJson, showText } from './show';
import { printableLines } from '../core/systemText';

/** Reads of more than this are refused: `ckpt mem` is for looking, not for copying memory out. */
export const MAX_MEM_READ = 64 * 1024 * 1024;

export interface InspectOptions {
	json: boolean;
	pid?: string;
	addr?: string;
	len?: string;
	raw: boolean;
}

/**
 * A checkpoint named on the command line: a directory path, or an id in the
 * target's store (read through the helper: shared, when one is open already).
 */
async function openSource(where: string, target: Target | undefined, shared?: HelperSession): Promise<{ source: ImageSource; session?: HelperSession }> {
	if (!target) return { source: new LocalImageSource(where) };
	if (where.includes('/')) return { source: await target.imageSource(where) };
	// An id of the store: read through the helper (root, and one round trip per batch of reads).
	const session = shared ?? (await HelperSession.open(target));
	return { source: new HelperImageSource(session, where), session };
}

export function parseAddress(text: string | undefined): bigint {
	if (!text || !/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) throw new CheckpointError('usage', `--addr needs an address, like 0x7f0000001000 (got ${text ?? 'nothing'})`);
	const value = BigInt(text);
	if (value >= 1n << 64n) throw new CheckpointError('usage', `--addr ${text} is beyond 64 bits`);
	return value;
}

export function parseLength(text: string | undefined): number {
	const n = Number(text);
	if (!text || !/^[0-9]+$/.test(text) || n <= 0 || n > MAX_MEM_READ) throw new CheckpointError('usage', `--len needs a byte count from 1 to ${MAX_MEM_READ} (got ${text ?? 'nothing'})`);
	return n;
}

function findProcess(images: CheckpointImages, pidText: string | undefined): ProcessImage {
	const pid = Number(pidText);
	if (!pidText || !Number.isInteger(pid)) throw new CheckpointError('usage', `--pid needs a process id of the checkpoint (${images.processes.map((p) => p.pid).join(', ')})`);
	const process = images.processes.find((p) => p.pid === pid);
	if (!process) throw new CheckpointError('not-found', `process ${pid} is not in this checkpoint; it holds ${images.processes.map((p) => `${p.pid} (${p.comm})`).join(', ')}`);
	return process;
}

async function show(images: CheckpointImages, options: InspectOptions, out: NodeJS.WritableStream): Promise<void> {
	const [shown, manifest] = await Promise.all([
		Promise.all(images.processes.map(async (process) => ({ process, cmdline: await process.cmdline() }))),
		readManifest(images.source),
	]);
	out.write(options.json ? `${JSON.stringify(showJson(images, shown, manifest), null, 2)}\n` : printableLines(`${showText(images, shown, manifest)}\n`));
}

interface MemRequest {
	address: bigint;
	length: number;
}

async function mem(images: CheckpointImages, { address, length }: MemRequest, options: InspectOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
	const process = findProcess(images, options.pid);
	const read = await process.read(address, length);
	if (!options.raw) {
		out.write(`${hexdump(read)}\n`);
		return;
	}
	for (const s of read.segments.filter((seg) => seg.missing)) {
		err.write(`ckpt: ${s.length} bytes at 0x${s.address.toString(16)} are ${s.missing}; written as zeros\n`);
	}
	out.write(read.bytes);
}

/** `ckpt diff A B`: both checkpoints opened (ids of the store through one helper session), their difference printed. */
export async function runDiff(a: string, b: string, target: Target | undefined, options: Pick<InspectOptions, 'json'>): Promise<void> {
	let first: Awaited<ReturnType<typeof openSource>> | undefined;
	let second: Awaited<ReturnType<typeof openSource>> | undefined;
	try {
		first = await openSource(a, target);
		second = await openSource(b, target, first.session);
		// pages are compared on the target when both are in its store (their bytes stay there)
		const session = first.session && second.session;
		const d = await diffSources(first.source, second.source, {
			pageDiff: session && (() => session.pageDiff(a, b)),
			symbols: session && checkpointSymbols(session, [b, a]),
		});
		process.stdout.write(options.json ? `${JSON.stringify({ from: a, to: b, ...d }, null, 2)}\n` : printableLines(`${diffText(d)}\n`));
	} finally {
		await first?.source.close();
		await second?.source.close();
		await (first?.session ?? second?.session)?.close();
		await target?.close();
	}
}

export async function runInspect(command: 'show' | 'mem', where: string, target: Target | undefined, options: InspectOptions): Promise<void> {
	// Checked before connecting: a typo should not cost a round trip.
	const request = command === 'mem' ? { address: parseAddress(options.addr), length: parseLength(options.len) } : undefined;
	let opened: Awaited<ReturnType<typeof openSource>> | undefined;
	try {
		opened = await openSource(where, target);
		const images = await openCheckpoint(opened.source);
		if (request) await mem(images, request, options, process.stdout, process.stderr);
		else await show(images, options, process.stdout);
	} finally {
		// Also when opening failed: a connection left open would keep the CLI from exiting.
		await opened?.source.close();
		await opened?.session?.close();
		await target?.close();
	}
}
