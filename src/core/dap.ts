/**
 * A client of a debug adapter (the Debug Adapter Protocol), over any byte
 * channel: requests answered by their seq, events to listeners. The adapter
 * this project talks to is gdb's DAP interpreter on the target, carried by
 * the helper (GdbLink); the client knows nothing of that.
 */
import { EventEmitter } from 'node:events';
import type { DebugProtocol } from '@vscode/debugprotocol';

/** Each request this project sends, with its arguments and the body of its answer. */
export interface DapRequests {
	initialize: [DebugProtocol.InitializeRequestArguments, DebugProtocol.Capabilities | undefined];
	attach: [{ pid: number; program?: string }, undefined];
	configurationDone: [Record<string, never>, undefined];
	setBreakpoints: [DebugProtocol.SetBreakpointsArguments, DebugProtocol.SetBreakpointsResponse['body']];
	setFunctionBreakpoints: [DebugProtocol.SetFunctionBreakpointsArguments, DebugProtocol.SetFunctionBreakpointsResponse['body']];
	threads: [Record<string, never>, DebugProtocol.ThreadsResponse['body']];
	stackTrace: [DebugProtocol.StackTraceArguments, DebugProtocol.StackTraceResponse['body']];
	evaluate: [DebugProtocol.EvaluateArguments, DebugProtocol.EvaluateResponse['body']];
	continue: [DebugProtocol.ContinueArguments, DebugProtocol.ContinueResponse['body']];
	pause: [DebugProtocol.PauseArguments, undefined];
	disconnect: [DebugProtocol.DisconnectArguments, undefined];
}

export type DapCommand = keyof DapRequests;

/** An answer with success false: the adapter's message. */
export class DapError extends Error {
	constructor(readonly command: string, message: string, readonly body?: unknown) {
		super(message);
	}
}

interface Pending {
	command: string;
	resolve: (response: DebugProtocol.Response) => void;
	reject: (err: Error) => void;
}

export interface DapClientEvents {
	event: [DebugProtocol.Event];
}

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER = 1024;

/** Content-Length: N\r\n\r\n and the JSON body. */
export function dapFrame(message: object): Buffer {
	const body = Buffer.from(JSON.stringify(message), 'utf8');
	return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

export class DapClient extends EventEmitter<DapClientEvents> {
	private seq = 1;
	private buffer: Buffer = Buffer.alloc(0);
	private readonly pending = new Map<number, Pending>();
	private closed?: Error;

	/** send carries whole messages to the adapter. */
	constructor(private readonly send: (data: Buffer) => Promise<void>, private readonly name: string) {
		super();
	}

	/** A request of this project's, typed. */
	async request<K extends DapCommand>(command: K, args: DapRequests[K][0]): Promise<DapRequests[K][1]> {
		return (await this.raw(command, args)).body as DapRequests[K][1];
	}

	/** Any request, as it comes (the adapter passes DAP it does not handle itself on as it is). */
	raw(command: string, args: unknown): Promise<DebugProtocol.Response> {
		if (this.closed) return Promise.reject(this.closed);
		const seq = this.seq++;
		const message: DebugProtocol.Request = { seq, type: 'request', command, arguments: args };
		return new Promise<DebugProtocol.Response>((resolve, reject) => {
			this.pending.set(seq, { command, resolve, reject });
			this.send(dapFrame(message)).catch((err: unknown) => this.settle(seq, undefined, err instanceof Error ? err : new Error(String(err))));
		});
	}

	/** Bytes from the adapter, cut anywhere. */
	feed(data: Buffer): void {
		this.buffer = this.buffer.length ? Buffer.concat([this.buffer, data]) : data;
		for (let message = this.next(); message; message = this.next()) this.dispatch(message);
	}

	/** No more answers will come: every request still waiting fails with reason. */
	close(reason: Error): void {
		this.closed ??= reason;
		for (const seq of [...this.pending.keys()]) this.settle(seq, undefined, reason);
	}

	private next(): DebugProtocol.ProtocolMessage | undefined {
		const end = this.buffer.indexOf(HEADER_END);
		if (end < 0) {
			if (this.buffer.length > MAX_HEADER) this.protocolError('a header block longer than 1 KiB');
			return undefined;
		}
		const match = /content-length:\s*(\d+)/i.exec(this.buffer.subarray(0, end).toString('ascii'));
		if (!match) return this.protocolError('a message without Content-Length');
		const length = Number(match[1]);
		if (this.buffer.length < end + 4 + length) return undefined;
		const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
		this.buffer = this.buffer.subarray(end + 4 + length);
		let message: unknown;
		try {
			message = JSON.parse(body);
		} catch {
			return this.protocolError(`a message that is not JSON: ${body.slice(0, 80)}`);
		}
		// A body of null, 0 or "" would also end feed()'s loop early, leaving the messages after it unread until more bytes came.
		if (typeof message !== 'object' || message === null || Array.isArray(message)) return this.protocolError(`a message that is not a JSON object: ${body.slice(0, 80)}`);
		return message as DebugProtocol.ProtocolMessage;
	}

	private protocolError(what: string): undefined {
		this.buffer = Buffer.alloc(0);
		this.close(new Error(`${this.name} sent ${what}; its answers cannot be read any more`));
		return undefined;
	}

	private dispatch(message: DebugProtocol.ProtocolMessage): void {
		if (message.type === 'event') this.emit('event', message as DebugProtocol.Event);
		else if (message.type === 'response') {
			const response = message as DebugProtocol.Response;
			this.settle(response.request_seq, response);
		}
	}

	private settle(seq: number, response?: DebugProtocol.Response, err?: Error): void {
		const pending = this.pending.get(seq);
		if (!pending) return;
		this.pending.delete(seq);
		if (err) pending.reject(err);
		else if (response && !response.success) pending.reject(new DapError(pending.command, response.message ?? `${pending.command} failed`, response.body));
		else if (response) pending.resolve(response);
	}
}
