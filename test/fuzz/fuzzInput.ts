/**
 * Cutting one fuzzer input into the pieces a target needs (a choice, a
 * length, some bytes) without ever failing: past the end every read yields
 * zeros or nothing, so every input is a valid test case and libFuzzer's
 * mutations keep their meaning from one run to the next. No dependency on
 * Jazzer.js, so the unit tests can replay corpora through the targets with
 * plain Node.js (test/unit/fuzzCorpus.test.ts).
 */
export class FuzzInput {
	private pos = 0;

	constructor(private readonly data: Buffer) {}

	get remaining(): number {
		return this.data.length - this.pos;
	}

	u8(): number {
		return this.pos < this.data.length ? this.data[this.pos++] : 0;
	}

	u16(): number {
		return this.u8() | (this.u8() << 8);
	}

	u32(): number {
		return (this.u16() | (this.u16() << 16)) >>> 0;
	}

	u64(): bigint {
		return BigInt(this.u32()) | (BigInt(this.u32()) << 32n);
	}

	/** One of the choices, picked by the next byte. */
	pick<T>(choices: readonly T[]): T {
		return choices[this.u8() % choices.length];
	}

	/** Up to `length` bytes (fewer at the end of the input). */
	take(length: number): Buffer {
		const part = this.data.subarray(this.pos, this.pos + length);
		this.pos += part.length;
		return part;
	}

	rest(): Buffer {
		return this.take(this.remaining);
	}
}

/**
 * The input cut into chunks whose sizes the input picks (a size byte, then
 * that many bytes; size 0 takes the rest): how a stream reader sees data
 * that arrives cut anywhere.
 */
export function chunksOf(data: Buffer): Buffer[] {
	const input = new FuzzInput(data);
	const chunks: Buffer[] = [];
	while (input.remaining > 0) {
		const size = input.u8();
		chunks.push(size === 0 ? input.rest() : input.take(size));
	}
	return chunks;
}

/**
 * An exception the module under test does not document: the fuzzer reports
 * it as a finding. Rethrows `err` when it is of one of the `allowed` types.
 */
export function allowOnly(err: unknown, allowed: ReadonlyArray<abstract new (...args: never[]) => Error>, what: string): void {
	if (allowed.some((type) => err instanceof type)) return;
	// A broken invariant found inside the guarded code is already the finding.
	if (err instanceof UndocumentedError) throw err;
	// The original stack goes into the message: it says where the parser broke.
	const thrown = err instanceof Error ? err.stack ?? `${err.name}: ${err.message}` : `a non-Error value: ${String(err)}`;
	throw new UndocumentedError(`${what} threw what it does not document (${allowed.map((t) => t.name).join(', ')}): ${thrown}`, { cause: err });
}

/** A broken invariant or an undocumented exception, as a fuzz target reports it. */
export class UndocumentedError extends Error {
	constructor(message: string, options?: ErrorOptions) {
		super(message, options);
		this.name = 'UndocumentedError';
	}
}

/** Throws an UndocumentedError naming the invariant when `condition` is false. */
export function invariant(condition: boolean, what: string): asserts condition {
	if (!condition) throw new UndocumentedError(`invariant broken: ${what}`);
}
