/**
 * A GdbLink for unit tests that answers DAP from a script instead of a gdb:
 * the requests it gets are parsed and kept in order, its answers and events
 * go out framed as gdb frames them. A subclass says how it answers.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import { dapFrame } from '../../src/core/dap';
import type { GdbExit, GdbLink } from '../../src/core/session';

let nextId = 1;

export abstract class ScriptedLink implements GdbLink {
	readonly id = nextId++;
	readonly pid = 5000 + this.id;
	readonly version = '16.3';
	/** Every request it got, in order ("evaluate", "stackTrace"...). */
	readonly requests: DebugProtocol.Request[] = [];
	/** stop() was called, or it ended on its own: it takes no more requests and says nothing more. */
	stopped = false;
	private readonly outputs = new Set<(data: Buffer) => void>();
	private readonly exits = new Set<(exit: GdbExit) => void>();
	private seq = 1;

	async send(data: Buffer): Promise<void> {
		if (this.stopped) throw new Error(`gdb ${this.id} was stopped`);
		const text = data.toString('utf8');
		const request = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as DebugProtocol.Request;
		this.requests.push(request);
		setImmediate(() => this.answer(request));
	}

	onOutput(listener: (data: Buffer) => void): () => void {
		this.outputs.add(listener);
		return () => this.outputs.delete(listener);
	}

	onExit(listener: (exit: GdbExit) => void): () => void {
		this.exits.add(listener);
		return () => this.exits.delete(listener);
	}

	async stop(): Promise<void> {
		this.stopped = true;
	}

	/** The requests it got of a command ("stackTrace"). */
	count(command: string): number {
		return this.requests.filter((r) => r.command === command).length;
	}

	/** Answers one request (with reply, event), in its own time. */
	protected abstract answer(request: DebugProtocol.Request): void;

	/** A message (a response, an event) framed as gdb sends it, its seq given. */
	protected frame(message: object): Buffer {
		return dapFrame({ ...message, seq: this.seq++ });
	}

	/** Its stdout: what the listeners read (nothing once it is stopped). */
	protected write(data: Buffer): void {
		if (this.stopped) return;
		for (const listener of this.outputs) listener(data);
	}

	protected reply(request: DebugProtocol.Request, body: unknown, message?: string): void {
		this.write(this.frame({ type: 'response', request_seq: request.seq, command: request.command, success: message === undefined, message, body }));
	}

	/** It ends on its own, as gdb does when it dies. */
	protected exit(exit: GdbExit): void {
		this.stopped = true;
		for (const listener of this.exits) listener(exit);
	}
}
