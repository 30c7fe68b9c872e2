/**
 * Stack frames of a checkpointed thread, unwound through frame pointers
 * (x86_64: rbp holds the frame's base, [rbp] the caller's rbp, [rbp+8] the
 * return address). Code built without frame pointers ends the walk early;
 * every step is checked so a garbage rbp never produces invented frames.
 */
import type { ProcessImage, VmaImage } from './checkpoint';

export interface UnwoundFrame {
	/** The instruction address: the thread's ip for the first frame, a return address after. */
	pc: bigint;
	/** The frame's base pointer (rbp) when known. */
	fp?: bigint;
	/** The mapping the pc is in, and the offset into its file (what a symbol lookup needs). */
	module?: { file: string; offset: bigint; buildId?: string };
	/**
	 * The pc is a return address: the call is the instruction before it, and
	 * after a call that never returns the address may already be the next
	 * function's first byte. Name such a frame by pc - 1, as debuggers do.
	 */
	returnAddress: boolean;
}

export interface Unwound {
	frames: UnwoundFrame[];
	/** Why the walk stopped. */
	stop: 'outermost' | 'no-frame-pointer' | 'not-dumped' | 'limit';
}

const MAX_FRAMES = 256;

function containing(vmas: VmaImage[], address: bigint): VmaImage | undefined {
	return vmas.find((v) => address >= v.start && address < v.end);
}

function frameAt(vmas: VmaImage[], pc: bigint, fp: bigint | undefined, returnAddress: boolean): UnwoundFrame {
	const vma = containing(vmas, pc);
	const module = vma?.file ? { file: vma.file, offset: pc - vma.start + vma.pgoff, ...(vma.buildId ? { buildId: vma.buildId } : {}) } : undefined;
	return { pc, fp, module, returnAddress };
}

/** A plausible frame base: aligned, inside a writable mapping. */
function plausibleFramePointer(vmas: VmaImage[], fp: bigint): boolean {
	if (fp === 0n || fp % 8n !== 0n) return false;
	const vma = containing(vmas, fp);
	return vma !== undefined && vma.prot[1] === 'w' && fp + 16n <= vma.end;
}

function isCode(vmas: VmaImage[], pc: bigint): boolean {
	return containing(vmas, pc)?.prot[2] === 'x';
}

export async function unwind(process: ProcessImage, registers: Record<string, bigint>, limit = MAX_FRAMES): Promise<Unwound> {
	const ip = registers.ip;
	if (ip === undefined) return { frames: [], stop: 'no-frame-pointer' };
	let fp = registers.bp;
	const frames: UnwoundFrame[] = [frameAt(process.vmas, ip, fp, false)];
	while (frames.length < limit) {
		if (fp === undefined || !plausibleFramePointer(process.vmas, fp)) return { frames, stop: fp === 0n ? 'outermost' : 'no-frame-pointer' };
		const read = await process.read(fp, 16);
		if (read.segments.some((s) => s.missing)) return { frames, stop: 'not-dumped' };
		const callerFp = read.bytes.readBigUInt64LE(0);
		const ret = read.bytes.readBigUInt64LE(8);
		if (ret === 0n) return { frames, stop: 'outermost' };
		if (!isCode(process.vmas, ret)) return { frames, stop: 'no-frame-pointer' };
		frames.push(frameAt(process.vmas, ret, callerFp, true));
		// Callers' frames sit higher on a stack that grows down; anything else is not a frame chain.
		if (callerFp !== 0n && callerFp <= fp) return { frames, stop: 'no-frame-pointer' };
		fp = callerFp;
	}
	return { frames, stop: 'limit' };
}
