/**
 * The client side of the helper protocol: requests matched to responses by
 * id (several may be in flight), events routed to the request they belong to
 * or to listeners (a launched program's output outlives its request), timeouts, and a clear error when the helper dies.
 */
import { EventEmitter } from 'node:events';
import { pb } from './protocol';
import { CheckpointError, type ErrorKind } from './errors';
import { FrameDecoder, encodeFrame } from './framing';
import type { HelperChannel, HelperExit } from './target';


/** Request bodies and result types by operation name (the oneof field names). */
export interface Operations {
	hello: [pb.IHelloRequest, pb.HelloResult];
	ps: [pb.IPsRequest, pb.PsResult];
	freeze: [pb.IFreezeRequest, pb.FreezeResult];
	thaw: [pb.IThawRequest, pb.ThawResult];
	dump: [pb.IDumpRequest, pb.DumpResult];
	restore: [pb.IRestoreRequest, pb.RestoreResult];
	list: [pb.IListRequest, pb.ListResult];
	delete: [pb.IDeleteRequest, pb.DeleteResult];
	imageFiles: [pb.IImageFilesRequest, pb.ImageFilesResult];
	readImage: [pb.IReadImageRequest, pb.ReadImageResult];
	launch: [pb.ILaunchRequest, pb.LaunchResult];
	kill: [pb.IKillRequest, pb.KillResult];
	rename: [pb.IRenameRequest, pb.RenameResult];
	leaks: [pb.ILeaksRequest, pb.LeaksResult];
	core: [pb.ICoreRequest, pb.CoreResult];
	pageDiff: [pb.IPageDiffRequest, pb.PageDiffResult];
	gdbStart: [pb.IGdbStartRequest, pb.GdbStartResult];
	gdbSend: [pb.IGdbSendRequest, pb.GdbSendResult];
	gdbStop: [pb.IGdbStopRequest, pb.GdbStopResult];
}
export type OperationName = keyof Operations;

export interface RequestOptions {
	/** 0: no timeout. */
	timeoutMs?: number;
	onProgress?: (progress: pb.Progress) => void;
	/** Told the request's id as it is sent: events that come later (a lazy restore's end) carry it. */
	onSent?: (requestId: number) => void;
}

interface Pending {
	op: OperationName;
	resolve: (result: unknown) => void;
	reject: (err: Error) => void;
	timer?: NodeJS.Timeout;
	onProgress?: (progress: pb.Progress) => void;
}

const DEFAULT_TIMEOUT_MS: Record<OperationName, number> = {
	hello: 30_000, ps: 30_000, freeze: 60_000, thaw: 60_000,
	dump: 30 * 60_000, restore: 30 * 60_000, list: 30_000,
	// hands the pages the checkpoints standing on it read from it to them (copies), after waiting up to 10 s for readers
	delete: 30 * 60_000,
	imageFiles: 30_000, readImage: 60_000, launch: 60_000, kill: 60_000,
	// waits up to 10 s for the checkpoint's readers
	rename: 60_000,
	// reads every process's descriptors and maps on the host
	leaks: 60_000,
	// copies every page the checkpoint holds of the process, on the target
	core: 30 * 60_000,
	// reads every page both checkpoints hold
	pageDiff: 30 * 60_000,
	gdbStart: 30_000, gdbSend: 30_000,
	// a disconnect, then up to 3 s for gdb to go
	gdbStop: 30_000,
};

const ERROR_KINDS: Record<number, ErrorKind> = {
	[pb.ErrorCode.ERROR_CODE_BAD_REQUEST]: 'bad-request',
	[pb.ErrorCode.ERROR_CODE_NO_SUCH_PROCESS]: 'no-such-process',
	[pb.ErrorCode.ERROR_CODE_NOT_PERMITTED]: 'not-permitted',
	[pb.ErrorCode.ERROR_CODE_CRIU_FAILED]: 'criu-failed',
	[pb.ErrorCode.ERROR_CODE_CRIU_UNAVAILABLE]: 'criu-unavailable',
	[pb.ErrorCode.ERROR_CODE_CGROUP_UNAVAILABLE]: 'cgroup-unavailable',
	[pb.ErrorCode.ERROR_CODE_NOT_FOUND]: 'not-found',
	[pb.ErrorCode.ERROR_CODE_TREE_RUNNING]: 'tree-running',
	[pb.ErrorCode.ERROR_CODE_PID_IN_USE]: 'pid-in-use',
	[pb.ErrorCode.ERROR_CODE_INTERNAL]: 'internal',
	[pb.ErrorCode.ERROR_CODE_LEAKS_REFUSED]: 'leaks-refused',
	[pb.ErrorCode.ERROR_CODE_EXTERNAL_GONE]: 'external-gone',
	[pb.ErrorCode.ERROR_CODE_CONNECTION_MOVED_ON]: 'connection-moved-on',
	[pb.ErrorCode.ERROR_CODE_IMAGE_DAMAGED]: 'image-damaged',
	[pb.ErrorCode.ERROR_CODE_UNSUPPORTED]: 'unsupported',
	[pb.ErrorCode.ERROR_CODE_BUSY]: 'busy',
};

export function errorFromHelper(error: pb.IError): CheckpointError {
	const kind = ERROR_KINDS[error.code ?? 0] ?? 'internal';
	const criu = error.criuMessage || error.criuLog?.length || error.criuLogPath
		? { message: error.criuMessage ?? '', log: error.criuLog ?? [], logPath: error.criuLogPath || undefined }
		: undefined;
	return new CheckpointError(kind, error.message || 'the helper reported an unspecified error', criu, error.errnoValue || undefined, error.leaks ?? []);
}

export interface HelperClientEvents {
	treeState: [pb.TreeStateChange];
	/** Output of a launched (or restored) program; it comes after the launch's answer. */
	programOutput: [pb.ProgramOutput];
	programExit: [pb.ProgramExit];
	gdbOutput: [pb.GdbOutput];
	gdbExit: [pb.GdbExit];
	/** A lazy restore's end: every page is in, or its daemon failed (and the restored processes were killed). */
	lazyRestoreEnd: [pb.LazyRestoreEnd, number];
	exit: [HelperExit];
}

export class HelperClient extends EventEmitter<HelperClientEvents> {
	private nextId = 1;
	private readonly pending = new Map<number, Pending>();
	private readonly decoder = new FrameDecoder();
	private stderrTail = '';
	private closedError?: CheckpointError;

	constructor(private readonly channel: HelperChannel, private readonly where: string) {
		super();
		channel.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
		channel.stderr.on('data', (chunk: Buffer) => { this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000); });
		channel.stdin.on('error', () => { /* the exit handler reports why */ });
		void channel.exited.then((exit) => this.onExit(exit));
	}

	request<K extends OperationName>(op: K, body: Operations[K][0], options: RequestOptions = {}): Promise<Operations[K][1]> {
		if (this.closedError) return Promise.reject(this.closedError);
		const id = this.nextId++;
		const message = pb.Request.create({ id, [op]: body });
		return new Promise<Operations[K][1]>((resolve, reject) => {
			const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS[op];
			const entry: Pending = { op, resolve: resolve as (r: unknown) => void, reject, onProgress: options.onProgress };
			if (timeoutMs > 0) {
				entry.timer = setTimeout(() => {
					this.pending.delete(id);
					reject(new CheckpointError('timeout', `the helper on ${this.where} did not answer "${op}" within ${formatDuration(timeoutMs)}`));
				}, timeoutMs);
			}
			this.pending.set(id, entry);
			options.onSent?.(id);
			this.channel.stdin.write(encodeFrame(pb.Request.encode(message).finish()));
		});
	}

	/** Closes the helper's stdin: it thaws whatever it froze and exits. */
	async close(): Promise<void> {
		this.channel.close();
		await this.channel.exited;
	}

	private onData(chunk: Buffer): void {
		let frames: Buffer[];
		try {
			frames = this.decoder.push(chunk);
		} catch (err) {
			this.fail(new CheckpointError('protocol', (err as Error).message));
			this.channel.close();
			return;
		}
		for (const frame of frames) this.onFrame(frame);
	}

	private onFrame(frame: Buffer): void {
		let message: pb.HelperMessage;
		try {
			message = pb.HelperMessage.decode(frame);
		} catch (err) {
			this.fail(new CheckpointError('protocol', `the helper sent a message that does not decode: ${(err as Error).message}`));
			this.channel.close();
			return;
		}
		if (message.response) this.onResponse(message.response);
		else if (message.event) this.onEvent(message.event);
	}

	private onResponse(response: pb.Response): void {
		const entry = this.pending.get(response.id);
		if (!entry) return;
		this.pending.delete(response.id);
		clearTimeout(entry.timer);
		if (response.error) {
			entry.reject(errorFromHelper(response.error));
			return;
		}
		const result = response[entry.op];
		if (!result) {
			entry.reject(new CheckpointError('protocol', `the helper answered "${entry.op}" with ${response.result ?? 'nothing'}`));
			return;
		}
		entry.resolve(result);
	}

	private onEvent(event: pb.Event): void {
		if (event.progress) this.pending.get(event.requestId)?.onProgress?.(event.progress);
		if (event.treeState) this.emit('treeState', event.treeState);
		if (event.programOutput) this.emit('programOutput', event.programOutput);
		if (event.programExit) this.emit('programExit', event.programExit);
		if (event.gdbOutput) this.emit('gdbOutput', event.gdbOutput);
		if (event.gdbExit) this.emit('gdbExit', event.gdbExit);
		if (event.lazyRestoreEnd) this.emit('lazyRestoreEnd', event.lazyRestoreEnd, event.requestId);
	}

	private onExit(exit: HelperExit): void {
		const how = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code ?? 'unknown'}`;
		const stderr = this.stderrTail.trim();
		this.fail(new CheckpointError('helper-exited', `the helper on ${this.where} ${how}${stderr ? `: ${stderr.split('\n').slice(-5).join(' | ')}` : ''}`));
		this.emit('exit', exit);
	}

	private fail(error: CheckpointError): void {
		this.closedError ??= error;
		for (const [id, entry] of this.pending) {
			clearTimeout(entry.timer);
			entry.reject(error);
			this.pending.delete(id);
		}
	}
}

function formatDuration(ms: number): string {
	return ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
