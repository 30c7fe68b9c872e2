/**
 * Leaks (docs/leaks.md): resources a checkpointed tree shares with processes
 * outside it. Names for the wire's kinds and policies, the policy as a user
 * writes it (`--policy`, the `checkpoint.leakPolicy` setting, a launch
 * configuration's `leakPolicy`), and the leaks and reports in words and as
 * JSON. Pure: no I/O, nothing of VS Code.
 */
import { pb } from './protocol';
import { CheckpointError, type ErrorKind } from './errors';
import { plural } from './text';


// ---- names ------------------------------------------------------------------

/** LEAK_KIND_UTS_NS -> "uts-ns". */
type Dashed<S extends string> = S extends `${infer A}_${infer B}` ? `${A}-${Dashed<B>}` : S;
type NameOf<Key, Prefix extends string> = Key extends `${Prefix}${infer Rest}` ? (Rest extends 'UNSPECIFIED' ? never : Dashed<Lowercase<Rest>>) : never;

/** A leak kind as users write it: the enum's name without LEAK_KIND_, lower case, "-" for "_". */
export type LeakKindName = NameOf<keyof typeof pb.LeakKind, 'LEAK_KIND_'>;
/** A leak policy as users write it: "fail", "warn", "ignore", "external", "save". */
export type LeakPolicyName = NameOf<keyof typeof pb.LeakPolicy, 'LEAK_POLICY_'>;

/** The enum's values but UNSPECIFIED, in order, with their names. */
function enumNames<N extends string>(values: object, prefix: string): Array<[number, N]> {
	return Object.entries(values)
		.filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > 0 && e[0].startsWith(prefix))
		.sort((a, b) => a[1] - b[1])
		.map(([key, value]) => [value, key.slice(prefix.length).toLowerCase().replace(/_/g, '-') as N]);
}

const KIND_BY_NUMBER = new Map(enumNames<LeakKindName>(pb.LeakKind, 'LEAK_KIND_'));
const KIND_BY_NAME = new Map([...KIND_BY_NUMBER].map(([n, name]) => [name as string, n as pb.LeakKind]));
const POLICY_BY_NUMBER = new Map(enumNames<LeakPolicyName>(pb.LeakPolicy, 'LEAK_POLICY_'));
const POLICY_BY_NAME = new Map([...POLICY_BY_NUMBER].map(([n, name]) => [name as string, n as pb.LeakPolicy]));

/** Every kind, in the enum's order. */
export const LEAK_KINDS: readonly LeakKindName[] = Object.freeze([...KIND_BY_NUMBER.values()]);
/** Every policy, in the enum's order: fail, warn, ignore, external, save. */
export const LEAK_POLICIES: readonly LeakPolicyName[] = Object.freeze([...POLICY_BY_NUMBER.values()]);

/** What each kind is, in words, for headings: "UTS namespace", "pipe". */
export const KIND_TITLES: Readonly<Record<LeakKindName, string>> = Object.freeze({
	'uts-ns': 'UTS namespace', 'ipc-ns': 'IPC namespace', 'net-ns': 'network namespace', 'mnt-ns': 'mount namespace',
	'pid-ns': 'PID namespace', 'user-ns': 'user namespace', 'cgroup-ns': 'cgroup namespace', 'time-ns': 'time namespace',
	pipe: 'pipe', fifo: 'named pipe (FIFO)', 'unix-socket': 'Unix socket', tcp: 'TCP socket', udp: 'UDP socket',
	tty: 'terminal', 'sysv-shm': 'SysV shared memory', 'sysv-sem': 'SysV semaphores', 'sysv-msg': 'SysV message queues',
	'shared-memory': 'shared memory mapping', 'file-lock': 'file lock', 'shared-task': 'task state shared with an outside task',
	parent: 'parent process', session: 'session', 'process-group': 'process group', tracer: 'tracer', memfd: 'memfd',
	'deleted-file': 'deleted file', 'volatile-file': 'file that may be absent at restore',
});

/** The kind's name; "unknown" for UNSPECIFIED or a value this client does not know. */
export function kindName(kind: pb.LeakKind | number | null | undefined): LeakKindName | 'unknown' {
	return KIND_BY_NUMBER.get(kind ?? 0) ?? 'unknown';
}

/** The policy's name; "unknown" for UNSPECIFIED or a value this client does not know. */
export function policyName(policy: pb.LeakPolicy | number | null | undefined): LeakPolicyName | 'unknown' {
	return POLICY_BY_NUMBER.get(policy ?? 0) ?? 'unknown';
}

/** "UTS namespace"; the kind's name when it has no title. */
export function kindTitle(kind: pb.LeakKind | number | null | undefined): string {
	const name = kindName(kind);
	return name === 'unknown' ? `unknown kind ${kind ?? 0}` : KIND_TITLES[name];
}

/** Users may write "UTS_NS" or " pipe ": case, "_" and surrounding blanks do not matter. */
function normalize(name: string): string {
	return name.trim().toLowerCase().replace(/_/g, '-');
}

/**
 * The kind a name stands for ("uts-ns", "pipe"). Throws a CheckpointError of
 * errorKind ("usage" for the command line) listing the kinds.
 */
export function kindFromName(name: string, errorKind: ErrorKind = 'usage', where = ''): pb.LeakKind {
	const kind = KIND_BY_NAME.get(normalize(name));
	if (kind === undefined) {
		throw new CheckpointError(errorKind, `${where}${name.trim() ? `"${name}" is not a leak kind` : 'no leak kind is given'}; the kinds are ${LEAK_KINDS.join(', ')}`);
	}
	return kind;
}

/** The policy a name stands for ("warn"). Throws a CheckpointError of errorKind listing the policies. */
export function policyFromName(name: string, errorKind: ErrorKind = 'usage', where = ''): pb.LeakPolicy {
	const policy = POLICY_BY_NAME.get(normalize(name));
	if (policy === undefined) {
		throw new CheckpointError(errorKind, `${where}${name.trim() ? `"${name}" is not a leak policy` : 'no policy is given'}; the policies are ${LEAK_POLICIES.join(', ')}`);
	}
	return policy;
}

// ---- policy rules -------------------------------------------------------------

/** What the helper accepts (native-helper/src/leaks.h). */
export const MAX_POLICY_RULES = 256;
export const MAX_RESOURCE_BYTES = 512;

const EXAMPLE = 'e.g. pipe=warn or pipe:pipe:[1234]=external';

/** "pipe" or "kind:resource" (the kind ends at the first ':') to a rule. */
function ruleFrom(target: string, policyText: string, errorKind: ErrorKind, where: string): pb.ILeakRule {
	const colon = target.indexOf(':');
	const kindText = colon < 0 ? target : target.slice(0, colon);
	// Blanks around a resource are a typing slip: no resource starts or ends with one.
	const resource = colon < 0 ? '' : target.slice(colon + 1).trim();
	if (colon >= 0 && resource === '') {
		throw new CheckpointError(errorKind, `${where}"${kindText}:" names no resource: write ${kindText.trim()}=POLICY for every ${kindText.trim()} leak, or ${kindText.trim()}:RESOURCE=POLICY for one (${EXAMPLE})`);
	}
	if (Buffer.byteLength(resource) > MAX_RESOURCE_BYTES || /[\u0000-\u001f\u007f]/.test(resource)) {
		throw new CheckpointError(errorKind, `${where}the resource "${resource.slice(0, 60)}${resource.length > 60 ? '…' : ''}" is longer than ${MAX_RESOURCE_BYTES} bytes or holds control characters`);
	}
	return { kind: kindFromName(kindText, errorKind, where), resource, policy: policyFromName(policyText, errorKind, where) };
}

/** Splits at commas not escaped as "\,"; "\\" is a backslash. */
function splitEntries(text: string): string[] {
	const entries: string[] = [];
	let current = '';
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (c === '\\' && (text[i + 1] === ',' || text[i + 1] === '\\')) current += text[++i];
		else if (c === ',') { entries.push(current); current = ''; }
		else current += c;
	}
	entries.push(current);
	return entries;
}

/**
 * The `--policy` of the command line: `kind=policy` and
 * `kind:resource=policy` entries separated by commas, e.g.
 * `pipe=warn,tty=external,pipe:pipe:[1234]=external`. The kind ends at the
 * first ':' and the policy starts after the last '=', so a resource may hold
 * ':', '[', ']' and '='; a ',' in a resource is written "\,". Throws a
 * CheckpointError of kind "usage" saying which entry is wrong and why.
 */
export function parsePolicy(text: string): pb.ILeakRule[] {
	if (text.trim() === '') throw new CheckpointError('usage', `--policy is empty; give kind=policy entries separated by commas, ${EXAMPLE}`);
	const entries = splitEntries(text);
	const rules = entries.map((raw, i) => {
		const entry = raw.trim();
		const where = `--policy entry ${entries.length > 1 ? `${i + 1} ` : ''}"${entry}": `;
		if (entry === '') throw new CheckpointError('usage', `--policy entry ${i + 1} is empty (two commas in a row, or one at an end); ${EXAMPLE}`);
		const eq = entry.lastIndexOf('=');
		if (eq < 0) throw new CheckpointError('usage', `${where}no "=POLICY"; write KIND=POLICY or KIND:RESOURCE=POLICY, ${EXAMPLE}; the policies are ${LEAK_POLICIES.join(', ')}`);
		return ruleFrom(entry.slice(0, eq), entry.slice(eq + 1), 'usage', where);
	});
	if (rules.length > MAX_POLICY_RULES) throw new CheckpointError('usage', `--policy has ${rules.length} entries; at most ${MAX_POLICY_RULES} are accepted`);
	return rules;
}

/** Rules as `--policy` takes them (the inverse of parsePolicy): "pipe=warn,tty:/dev/pts/3=external". */
export function formatPolicy(rules: readonly pb.ILeakRule[]): string {
	return rules.map((r) => {
		const resource = (r.resource ?? '').replace(/\\/g, '\\\\').replace(/,/g, '\\,');
		return `${kindName(r.kind)}${resource ? `:${resource}` : ''}=${policyName(r.policy)}`;
	}).join(',');
}

/**
 * The rules of the `checkpoint.leakPolicy` setting or of a launch
 * configuration's `leakPolicy`: an object whose keys are a kind ("pipe") or
 * "kind:resource" and whose values are policy names, e.g.
 * `{ "pipe": "warn", "pipe:pipe:[1234]": "external" }`. Absent (undefined or
 * null): no rules. Anything else wrong throws a CheckpointError of kind
 * "bad-request" naming `where` (e.g. "the setting checkpoint.leakPolicy")
 * and the key.
 */
export function rulesFromSettings(setting: unknown, where: string): pb.ILeakRule[] {
	if (setting === undefined || setting === null) return [];
	if (typeof setting !== 'object' || Array.isArray(setting)) {
		const got = Array.isArray(setting) ? 'an array' : `${typeof setting} ${JSON.stringify(setting)}`;
		throw new CheckpointError('bad-request', `${where} must be an object whose keys are leak kinds ("pipe") or "kind:resource" and whose values are policies (${LEAK_POLICIES.join(', ')}), e.g. { "pipe": "warn" }; it is ${got}`);
	}
	const entries = Object.entries(setting as Record<string, unknown>);
	if (entries.length > MAX_POLICY_RULES) throw new CheckpointError('bad-request', `${where} has ${entries.length} entries; at most ${MAX_POLICY_RULES} are accepted`);
	return entries.map(([key, value]) => {
		const at = `${where}, "${key}": `;
		if (typeof value !== 'string') {
			throw new CheckpointError('bad-request', `${at}the policy must be a string, one of ${LEAK_POLICIES.join(', ')}; it is ${JSON.stringify(value) ?? typeof value}`);
		}
		return ruleFrom(key, value, 'bad-request', at);
	});
}

/**
 * One policy out of several (the setting's, then the launch
 * configuration's): for the same kind, or the same kind and resource, a
 * later list's rule replaces an earlier one. Rules of a different reach stay
 * (a resource rule wins over a kind rule whatever their order, in the helper).
 */
export function mergeRules(...lists: ReadonlyArray<readonly pb.ILeakRule[] | undefined>): pb.ILeakRule[] {
	const byReach = new Map<string, pb.ILeakRule>();
	for (const list of lists) {
		for (const rule of list ?? []) {
			const reach = `${rule.kind ?? 0}\u0000${rule.resource ?? ''}`;
			byReach.delete(reach);
			byReach.set(reach, { kind: rule.kind ?? 0, resource: rule.resource ?? '', policy: rule.policy ?? 0 });
		}
	}
	return [...byReach.values()];
}

/**
 * Rules that would let a refused dump go ahead: for each refused leak the
 * first of its choices among warn, external, save, ignore (the closest to
 * CRIU's own handling first). One rule per kind when every refused leak of
 * the kind takes it, else one per resource. Leaks with no choice but fail
 * get none (see leaksWithoutChoice).
 */
export function suggestedRules(refused: readonly pb.ILeak[]): pb.ILeakRule[] {
	const preference = [pb.LeakPolicy.LEAK_POLICY_WARN, pb.LeakPolicy.LEAK_POLICY_EXTERNAL, pb.LeakPolicy.LEAK_POLICY_SAVE, pb.LeakPolicy.LEAK_POLICY_IGNORE];
	const pick = (l: pb.ILeak): pb.LeakPolicy | undefined => preference.find((p) => (l.choices ?? []).some((c) => c.policy === p));
	const byKind = new Map<pb.LeakKind, pb.ILeak[]>();
	for (const l of refused) if (pick(l) !== undefined) byKind.set(l.kind ?? 0, [...(byKind.get(l.kind ?? 0) ?? []), l]);
	const rules: pb.ILeakRule[] = [];
	for (const [kind, leaks] of byKind) {
		const picks = leaks.map(pick);
		if (picks.every((p) => p === picks[0])) rules.push({ kind, resource: '', policy: picks[0] });
		else leaks.forEach((l, i) => rules.push({ kind, resource: l.resource ?? '', policy: picks[i] }));
	}
	return rules;
}

/** Leaks whose only choice is fail (a tracer, a SysV segment): no policy lets the dump go ahead. */
export function leaksWithoutChoice(leaks: readonly pb.ILeak[]): pb.ILeak[] {
	return leaks.filter((l) => !(l.choices ?? []).some((c) => c.policy !== pb.LeakPolicy.LEAK_POLICY_FAIL));
}

// ---- leaks in words ---------------------------------------------------------

export type LeakSeverity = 'error' | 'warning' | 'info';

/** fail: error (it refuses a dump); warn: warning; the others: info. */
export function severity(leak: pb.ILeak): LeakSeverity {
	if (leak.policy === pb.LeakPolicy.LEAK_POLICY_FAIL) return 'error';
	if (leak.policy === pb.LeakPolicy.LEAK_POLICY_WARN) return 'warning';
	return 'info';
}

export interface LeakHolderJson {
	pid: number;
	comm: string;
	/** "fd 3 (write end)", "member", "session leader". */
	how: string;
	/** Present when it holds the resource through a descriptor. */
	fd?: number;
}

export interface LeakChoiceJson {
	policy: LeakPolicyName | 'unknown';
	/** "" when it takes no CRIU option. */
	criuOption: string;
	effect: string;
}

/** A leak with names for its enums: the JSON of `ckpt leaks --json`. */
export interface LeakJson {
	kind: LeakKindName | 'unknown';
	resource: string;
	summary: string;
	inside: LeakHolderJson[];
	/** At most 16; outsideCount counts them all. */
	outside: LeakHolderJson[];
	outsideCount: number;
	risk: string;
	criu: string;
	policy: LeakPolicyName | 'unknown';
	defaultPolicy: LeakPolicyName | 'unknown';
	choices: LeakChoiceJson[];
	hostOwn: boolean;
	policyNote: string;
}

function holderJson(h: pb.ILeakHolder): LeakHolderJson {
	const json: LeakHolderJson = { pid: h.pid ?? 0, comm: h.comm ?? '', how: h.how ?? '' };
	if (h.hasFd) json.fd = h.fd ?? 0;
	return json;
}

export function leakJson(leak: pb.ILeak): LeakJson {
	const outside = (leak.outside ?? []).map(holderJson);
	return {
		kind: kindName(leak.kind),
		resource: leak.resource ?? '',
		summary: leak.summary ?? '',
		inside: (leak.inside ?? []).map(holderJson),
		outside,
		outsideCount: Math.max(leak.outsideCount ?? 0, outside.length),
		risk: leak.risk ?? '',
		criu: leak.criu ?? '',
		policy: policyName(leak.policy),
		defaultPolicy: policyName(leak.defaultPolicy),
		choices: (leak.choices ?? []).map((c) => ({ policy: policyName(c.policy), criuOption: c.criuOption ?? '', effect: c.effect ?? '' })),
		hostOwn: leak.hostOwn ?? false,
		policyNote: leak.policyNote ?? '',
	};
}

export interface LeakScanStatsJson {
	processes: number;
	treeProcesses: number;
	descriptors: number;
	scanTimeUs: number;
}

export function leakStatsJson(stats: pb.ILeakScanStats | null | undefined): LeakScanStatsJson {
	return {
		processes: stats?.processes ?? 0, treeProcesses: stats?.treeProcesses ?? 0, descriptors: stats?.descriptors ?? 0,
		scanTimeUs: Number(stats?.scanTimeUs ?? 0),
	};
}

export type LeakChangeWhat = 'appeared' | 'vanished' | 'holders-changed' | 'unknown';

function changeWhat(what: pb.LeakChange.What | null | undefined): LeakChangeWhat {
	switch (what) {
		case pb.LeakChange.What.WHAT_APPEARED: return 'appeared';
		case pb.LeakChange.What.WHAT_VANISHED: return 'vanished';
		case pb.LeakChange.What.WHAT_HOLDERS_CHANGED: return 'holders-changed';
		default: return 'unknown';
	}
}

export interface LeakReportJson {
	/** The rules the dump was asked for, as --policy takes them. */
	policy: string;
	leaks: LeakJson[];
	rescanned: boolean;
	rescanProblem: string;
	/** False when the tree's sharing changed during the dump (changes is not empty). */
	consistent: boolean;
	changes: Array<{ what: LeakChangeWhat; leak: LeakJson | null; detail: string; text: string }>;
	stats: LeakScanStatsJson;
	summary: string;
}

/** A checkpoint's leak report with names (the `leaks` of `ckpt dump --json`, `ls --json` and `show --json`). */
export function leakReportJson(report: pb.ILeakReport): LeakReportJson {
	const changes = report.changes ?? [];
	return {
		policy: formatPolicy(report.policy ?? []),
		leaks: (report.leaks ?? []).map(leakJson),
		rescanned: report.rescanned ?? false,
		rescanProblem: report.rescanProblem ?? '',
		consistent: changes.length === 0,
		changes: changes.map((c) => ({ what: changeWhat(c.what), leak: c.leak ? leakJson(c.leak) : null, detail: c.detail ?? '', text: changeText(c) })),
		stats: leakStatsJson(report.stats),
		summary: leakReportSummary(report),
	};
}

/** The checkpoint's report has changes: the tree's sharing changed while it was dumped. */
export function checkpointInconsistent(ck: pb.ICheckpoint): boolean {
	return (ck.leaks?.changes?.length ?? 0) > 0;
}

/** "pipe pipe:[1234]". */
export function leakName(leak: pb.ILeak | null | undefined): string {
	if (!leak) return 'a leak';
	return `${kindName(leak.kind)} ${leak.resource || '(no resource)'}`;
}

/** "pipe pipe:[1234] appeared during the dump: pid 88 (cat) opened it during the checkpoint". */
export function changeText(change: pb.ILeakChange): string {
	const what = {
		appeared: 'appeared during the dump',
		vanished: 'vanished during the dump',
		'holders-changed': 'changed holders during the dump',
		unknown: 'changed during the dump',
	}[changeWhat(change.what)];
	return `${leakName(change.leak)} ${what}${change.detail ? `: ${change.detail}` : ''}`;
}

const PARTICIPLES: Record<LeakPolicyName | 'unknown', string> = {
	fail: 'failing', warn: 'warned', ignore: 'ignored', external: 'external', save: 'saved', unknown: 'of an unknown policy',
};

/** "1 warned, 2 ignored": how many leaks take each policy, in the policies' order. */
export function policyCounts(policies: readonly (LeakPolicyName | 'unknown')[]): string {
	const counts = new Map<LeakPolicyName | 'unknown', number>();
	for (const p of policies) counts.set(p, (counts.get(p) ?? 0) + 1);
	return [...LEAK_POLICIES, 'unknown' as const].filter((p) => counts.has(p)).map((p) => `${counts.get(p)} ${PARTICIPLES[p]}`).join(', ');
}

/** policyCounts of the leaks' policies. */
export function countsByPolicy(leaks: readonly pb.ILeak[]): string {
	return policyCounts(leaks.map((l) => policyName(l.policy)));
}

/**
 * One line: "3 leaks: 1 warned, 2 ignored; consistent", "no leaks;
 * consistent", "1 leak: 1 warned; inconsistent: 2 changes during the dump",
 * "...; not rescanned (why)"; "leaks not scanned" without a report.
 */
export function leakReportSummary(report: pb.ILeakReport | null | undefined): string {
	if (!report) return 'leaks not scanned (a checkpoint made before leak scans)';
	const leaks = report.leaks ?? [];
	const changes = report.changes ?? [];
	const head = leaks.length ? `${plural(leaks.length, 'leak')}: ${countsByPolicy(leaks)}` : 'no leaks';
	let tail: string;
	if (changes.length) tail = `inconsistent: ${plural(changes.length, 'change')} during the dump`;
	else if (report.rescanned) tail = 'consistent';
	else tail = `not rescanned at post-dump${report.rescanProblem ? ` (${report.rescanProblem})` : ''}: consistency unknown`;
	return `${head}; ${tail}`;
}

/** A few words for a list column: "none", "2 warned", "3 ignored, inconsistent", "-" without a report. */
export function leakReportBrief(report: pb.ILeakReport | null | undefined): string {
	if (!report) return '-';
	const leaks = report.leaks ?? [];
	const parts = [leaks.length ? countsByPolicy(leaks) : 'none'];
	if (report.changes?.length) parts.push('inconsistent');
	return parts.join(', ');
}

/** The leaks a user should hear about after a dump: warned ones (fail would have refused it). */
export function warnedLeaks(report: pb.ILeakReport | null | undefined): pb.ILeak[] {
	return (report?.leaks ?? []).filter((l) => l.policy === pb.LeakPolicy.LEAK_POLICY_WARN);
}
