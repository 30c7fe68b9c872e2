/**
 * Source files of the debugged program as the editor sees them: gdb names
 * them by their paths on the target; the editor opens them from this
 * machine when they are here (the same path, or another through the launch
 * configuration's `sourceMap`), or else reads them from the target and
 * shows them read-only (a DAP source reference).
 */
import { existsSync } from 'node:fs';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { CheckpointError } from '../core/errors';

/** "target path prefix" -> "local path prefix" (as cpptools' sourceFileMap, gdb's substitute-path). */
export type SourceMap = Record<string, string>;

/** A source file read from the target is refused beyond this size. */
export const MAX_SOURCE_BYTES = 8 << 20;

/** The path with the longest matching prefix of map replaced by its value; undefined when none matches. */
export function mapPrefix(path: string, map: ReadonlyArray<readonly [string, string]>): string | undefined {
	let best: readonly [string, string] | undefined;
	for (const entry of map) {
		const [from] = entry;
		const matches = path === from || path.startsWith(from.endsWith('/') ? from : `${from}/`);
		if (matches && (!best || from.length > best[0].length)) best = entry;
	}
	return best ? best[1] + path.slice(best[0].length) : undefined;
}

/** Checks a configuration's sourceMap: an object of absolute paths to paths. */
export function sourceMapOf(value: unknown): SourceMap {
	if (value === undefined) return {};
	if (typeof value !== 'object' || value === null || Array.isArray(value)) {
		throw new CheckpointError('usage', '"sourceMap" must be an object: { "/path/on/the/target": "/path/here" }');
	}
	const map: SourceMap = {};
	for (const [from, to] of Object.entries(value)) {
		if (!from.startsWith('/') || typeof to !== 'string' || !to) {
			throw new CheckpointError('usage', `"sourceMap": "${from}" must be an absolute path on the target mapped to a path here, not ${JSON.stringify(to)}`);
		}
		map[from] = to;
	}
	return map;
}

export class Sources {
	private readonly toLocal: Array<[string, string]>;
	private readonly toRemote: Array<[string, string]>;
	private readonly refs = new Map<string, number>();
	private readonly paths = new Map<number, string>();

	constructor(
		map: SourceMap,
		private readonly read: (path: string) => Promise<Buffer>,
		private readonly where: string,
		private readonly exists: (path: string) => boolean = existsSync,
	) {
		this.toLocal = Object.entries(map);
		this.toRemote = this.toLocal.map(([from, to]) => [to, from]);
	}

	/** A source as gdb names it (a target path), as the editor should open it. */
	toEditor(source: DebugProtocol.Source | undefined): DebugProtocol.Source | undefined {
		const path = source?.path;
		if (!source || !path) return source;
		const local = mapPrefix(path, this.toLocal) ?? path;
		if (this.exists(local)) return { name: source.name, path: local };
		return { name: source.name, path, sourceReference: this.refOf(path), origin: `read-only, from ${this.where}` };
	}

	/** The target path of a source the editor names: one read from the target, or a local file. */
	toTarget(source: DebugProtocol.Source): string | undefined {
		const byRef = source.sourceReference ? this.paths.get(source.sourceReference) : undefined;
		if (byRef) return byRef;
		return source.path ? mapPrefix(source.path, this.toRemote) ?? source.path : undefined;
	}

	/** The text of a source read from the target. */
	async content(ref: number): Promise<string> {
		const path = this.paths.get(ref);
		if (!path) throw new CheckpointError('not-found', `no source is known by reference ${ref}`);
		return (await this.read(path)).toString('utf8');
	}

	private refOf(path: string): number {
		let ref = this.refs.get(path);
		if (!ref) {
			ref = this.refs.size + 1;
			this.refs.set(path, ref);
			this.paths.set(ref, path);
		}
		return ref;
	}
}
