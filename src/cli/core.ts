/**
 * `ckpt core ID [--pid P] -o FILE`: an ELF core file of one process of a
 * checkpoint, written by the helper on the target from the checkpoint's
 * images (the pages never travel for it) and downloaded to FILE, which gdb
 * opens with the program.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { CheckpointError } from '../core/errors';
import { downloadCore, type CoreSession } from '../core/download';
import { pb } from '../core/protocol';
import { byteSize, plural } from '../core/text';
import { toJson } from './format';

export interface CoreArgs {
	id: string;
	/** 0: the checkpoint's root. */
	pid: number;
	/** Absolute. */
	output: string;
}

/** The command's arguments, checked before anything is started (a CheckpointError of kind usage). */
export function coreArgs(args: string[], options: { pid?: string; output?: string }): CoreArgs {
	const [id] = args;
	if (!id) throw new CheckpointError('usage', 'ckpt core needs a checkpoint id (see "ckpt ls"), e.g. "ckpt core ID -o core.elf"');
	if (args.length > 1) throw new CheckpointError('usage', `ckpt core takes one argument; unexpected "${args[1]}"`);
	if (!options.output) throw new CheckpointError('usage', `ckpt core needs -o FILE, where the core file goes, e.g. "ckpt core ${id} -o core.elf"`);
	const pid = options.pid === undefined ? 0 : Number(options.pid);
	if (options.pid !== undefined && (!/^[0-9]+$/.test(options.pid) || !Number.isSafeInteger(pid) || pid <= 0)) {
		throw new CheckpointError('usage', `--pid "${options.pid}" is not a process id; give one of the checkpoint's (see "ckpt show ${id}"), or leave it out for its root`);
	}
	const output = resolve(options.output);
	let isDir = false;
	try {
		isDir = statSync(output).isDirectory();
	} catch {
		// not there yet: it will be
	}
	if (isDir) throw new CheckpointError('usage', `-o ${options.output} is a directory; give the core file's path, e.g. -o ${options.output.replace(/\/$/, '')}/core.elf`);
	return { id, pid, output };
}

/** What ckpt prints of a core written and downloaded. */
export function formatCore(r: pb.CoreResult, output: string): string {
	const lazy = Number(r.pagesLazy);
	const missing = Number(r.pagesParentMissing);
	const absent = [
		lazy ? `${plural(lazy, 'page')} left for a lazy restore` : '',
		missing ? `${plural(missing, 'page')} in a parent checkpoint that is gone` : '',
	].filter(Boolean);
	const headers = Number(r.pagesFromFiles);
	const fromFiles = headers ? ` and ${plural(headers, 'ELF header page')} of the mapped files` : '';
	return [
		`wrote ${output}: the core of process ${r.pid} of checkpoint ${r.checkpointId}, ${plural(r.threads, 'thread')}, ${byteSize(Number(r.sizeBytes))}`,
		`  ${plural(Number(r.pagesWritten), 'page')} of the checkpoint${fromFiles} in ${plural(r.segments, 'segment')}${absent.length ? `; not in the checkpoint (read as zeros): ${absent.join(', ')}` : ''}`,
		`  on the target: ${r.path} (written in ${(Number(r.writeTimeUs) / 1000).toFixed(1)} ms)`,
		`  open it with: gdb ${r.executable || 'PROGRAM'} ${output}`,
	].join('\n');
}

/** Writes the core on the target and downloads it; text and JSON of the result. */
export async function runCore(session: CoreSession, a: CoreArgs, progress?: (message: string) => void): Promise<{ text: string; json: object }> {
	const r = await downloadCore(session, a.id, a.pid, a.output, { onWriting: progress });
	return { text: formatCore(r, a.output), json: { ...toJson(pb.CoreResult, r), output: a.output } };
}
