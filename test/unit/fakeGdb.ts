/**
 * An in-memory gdb for the unit tests of source-level snapshots: a GdbLink
 * that answers DAP as gdb 16's interpreter does over an ELF core (its own
 * frame ids from 0 and variable references from 1, its thread numbers, a
 * source with a path, "???" for a function it cannot name), from a model:
 * the programs on the host with their build-ids, and per core file the
 * process's threads with their frames and locals and its memory. It reads
 * the program and the core from the commands CoreDebugger gives (file,
 * core-file, in Python), refuses what gdb refuses (a missing file, a request
 * before the core), and can end on its own.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ScriptedLink } from './scriptedLink';

/** A local: a value, or a struct's fields (gdb shows a pointer to it as one child, the struct). */
export type FakeValue = string | { [field: string]: FakeValue };

export interface FakeFrame {
	name: string;
	/** The source file on the target and the line; none: no debug info. */
	path?: string;
	line?: number;
	pc: bigint;
	module?: string;
	locals?: Record<string, FakeValue>;
}

export interface FakeCore {
	threads: Array<{ tid: number; frames: FakeFrame[] }>;
	/** Memory gdb reads (the core's pages and the mapped files'). */
	memory?: Array<{ address: bigint; bytes: Buffer }>;
	/** The files gdb reads code and symbols from, with their build-ids as they are now. */
	objfiles?: Array<[string, string | null]>;
}

export interface FakeGdbHost {
	/** Programs on the host, with their build-ids (null: none); a program not here is missing. */
	programs: Record<string, string | null>;
	/** Cores by path. */
	cores: Record<string, FakeCore>;
}

type Ref =
	| { kind: 'locals'; frame: FakeFrame }
	| { kind: 'registers'; frame: FakeFrame }
	| { kind: 'value'; value: { [field: string]: FakeValue } };

export class FakeGdb extends ScriptedLink {
	program?: string;
	corePath?: string;
	private core?: FakeCore;
	private readonly frames: Array<{ frame: FakeFrame }> = [];
	private readonly frameIds = new Map<FakeFrame, number>();
	private readonly refs: Ref[] = [];

	constructor(private readonly host: FakeGdbHost) {
		super();
	}

	/** gdb dies on its own. */
	crash(stderr = 'Fatal signal: Segmentation fault'): void {
		this.exit({ code: null, signal: 11, stderr });
	}

	protected answer(request: DebugProtocol.Request): void {
		try {
			this.reply(request, this.handle(request.command, (request.arguments ?? {}) as Record<string, unknown>));
		} catch (err) {
			this.reply(request, undefined, err instanceof Error ? err.message : String(err));
		}
	}

	private handle(command: string, args: Record<string, unknown>): unknown {
		if (command === 'initialize') return { supportsConfigurationDoneRequest: true };
		if (command === 'evaluate' && args.context === 'repl') return { result: this.repl(String(args.expression)), variablesReference: 0 };
		// before the core (or with gdb thinking its threads run), gdb refuses
		const core = this.core;
		if (!core) throw new Error('notStopped');
		switch (command) {
			case 'threads':
				return { threads: core.threads.map((_, i) => ({ id: i + 1 })) };
			case 'stackTrace': {
				const thread = core.threads[Number(args.threadId) - 1];
				if (!thread) throw new Error(`Invalid thread #${String(args.threadId)}`);
				const start = Number(args.startFrame ?? 0);
				const levels = Number(args.levels ?? 0);
				const shown = thread.frames.slice(start, levels ? start + levels : undefined);
				return {
					stackFrames: shown.map((f) => ({
						id: this.frameId(f), name: f.name, line: f.line ?? 0, column: 0, instructionPointerReference: `0x${f.pc.toString(16)}`,
						...(f.module ? { moduleId: f.module } : {}),
						...(f.path ? { source: { name: f.path.split('/').pop(), path: f.path } } : {}),
					})),
				};
			}
			case 'scopes': {
				const frame = this.frameOf(args.frameId);
				const scopes = [];
				if (frame.locals) scopes.push({ name: 'Locals', presentationHint: 'locals', variablesReference: this.ref({ kind: 'locals', frame }), expensive: false });
				scopes.push({ name: 'Registers', presentationHint: 'registers', variablesReference: this.ref({ kind: 'registers', frame }), expensive: false });
				return { scopes };
			}
			case 'variables': {
				const ref = this.refs[Number(args.variablesReference) - 1];
				if (!ref) throw new Error(`no variable reference ${String(args.variablesReference)}`);
				if (ref.kind === 'registers') return { variables: [{ name: 'rip', value: `0x${ref.frame.pc.toString(16)}`, variablesReference: 0 }] };
				const values = ref.kind === 'locals' ? ref.frame.locals ?? {} : ref.value;
				return { variables: Object.entries(values).map(([name, value]) => this.variable(name, value)) };
			}
			case 'evaluate': {
				const frame = args.frameId === undefined ? core.threads[0].frames[0] : this.frameOf(args.frameId);
				const value = this.lookup(frame, String(args.expression));
				const { value: result, variablesReference, memoryReference } = this.variable(String(args.expression), value);
				return { result, variablesReference, memoryReference };
			}
			case 'readMemory': {
				const address = BigInt(String(args.memoryReference)) + BigInt(Number(args.offset ?? 0));
				const count = Number(args.count);
				const area = core.memory?.find((m) => address >= m.address && address + BigInt(count) <= m.address + BigInt(m.bytes.length));
				if (!area) throw new Error(`Cannot access memory at address 0x${address.toString(16)}`);
				const at = Number(address - area.address);
				return { address: `0x${address.toString(16)}`, data: area.bytes.subarray(at, at + count).toString('base64') };
			}
			case 'disassemble': {
				const pc = BigInt(String(args.memoryReference));
				return { instructions: Array.from({ length: Number(args.instructionCount) }, (_, i) => ({ address: `0x${(pc + BigInt(i)).toString(16)}`, instruction: 'nop', instructionBytes: '90' })) };
			}
			case 'setVariable':
			case 'setExpression':
				throw new Error('cannot access memory: a core file cannot be written');
			default:
				throw new Error(`fake gdb does not answer ${command}`);
		}
	}

	/** The Python CoreDebugger runs: file, then core-file; what it prints. */
	private repl(line: string): string {
		const python = /^python exec\((.*)\)$/s.exec(line);
		if (!python) return '';
		const code = JSON.parse(python[1]) as string;
		const file = /gdb\.execute\("(file|core-file) " \+ ("(?:[^"\\]|\\.)*")/.exec(code);
		if (!file) return '';
		const path = (JSON.parse(file[2]) as string).replace(/^"|"$/g, '').replace(/\\(.)/g, '$1');
		if (file[1] === 'file') {
			if (!(path in this.host.programs)) throw new Error(`Error occurred in Python: ${path}: No such file or directory.`);
			this.program = path;
			return `${JSON.stringify({ buildId: this.host.programs[path] })}\n`;
		}
		const core = this.host.cores[path];
		if (!core) throw new Error(`Error occurred in Python: ${path}: No such file or directory.`);
		this.core = core;
		this.corePath = path;
		const threads = core.threads.map((t, i) => [i + 1, t.tid]);
		const objfiles = core.objfiles ?? (this.program ? [[this.program, this.host.programs[this.program]]] : []);
		return `${JSON.stringify({ threads, objfiles })}\n`;
	}

	private frameId(frame: FakeFrame): number {
		let id = this.frameIds.get(frame);
		if (id === undefined) {
			id = this.frames.length;
			this.frames.push({ frame });
			this.frameIds.set(frame, id);
		}
		return id;
	}

	private frameOf(id: unknown): FakeFrame {
		const frame = this.frames[Number(id)]?.frame;
		if (!frame) throw new Error(`invalid frame id ${String(id)}`);
		return frame;
	}

	private ref(ref: Ref): number {
		this.refs.push(ref);
		return this.refs.length;
	}

	private variable(name: string, value: FakeValue): DebugProtocol.Variable {
		if (typeof value === 'string') return { name, value, variablesReference: 0 };
		return { name, value: '{...}', variablesReference: this.ref({ kind: 'value', value }), memoryReference: '0x7ffc00001000' };
	}

	/** "acct->iteration", "acct.total", "before": a local, then its fields. */
	private lookup(frame: FakeFrame, expression: string): FakeValue {
		const [first, ...fields] = expression.split(/->|\./).map((p) => p.trim());
		let value: FakeValue | undefined = frame.locals?.[first];
		if (value === undefined) throw new Error(`No symbol "${first}" in current context.`);
		for (const field of fields) {
			if (typeof value === 'string' || value[field] === undefined) throw new Error(`There is no member named ${field}.`);
			value = value[field];
		}
		return value;
	}
}
