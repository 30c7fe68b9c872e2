/**
 * The leak policy of a live debug session, and the leaks as the adapter
 * sends them to the editor (plain JSON: they cross DAP). Pure: the adapter,
 * the extension and the tests share it; nothing of VS Code.
 *
 * A session's policy has two layers, each written as the setting writes it
 * (`{ "pipe": "warn", "pipe:pipe:[1234]": "external" }`): the
 * `checkpoint.leakPolicy` setting, which may change while the session runs,
 * and the launch configuration's `leakPolicy`, which wins for the same kind
 * or resource.
 */
import { CheckpointError } from '../core/errors';
import {
	kindName, KIND_TITLES, LEAK_POLICIES, leakJson, leaksWithoutChoice, mergeRules, policyName, rulesFromSettings, suggestedRules,
	type LeakJson, type LeakKindName, type LeakPolicyName, type LeakScanStatsJson,
} from '../core/leaks';
import type { pb } from '../core/protocol';
import { plural } from '../core/text';
import { printable } from '../core/systemText';

export const SETTING_WHERE = 'the setting checkpoint.leakPolicy';
export const LAUNCH_WHERE = 'the launch configuration\'s "leakPolicy"';

/** The policy as the setting and launch configurations write it: "pipe" or "kind:resource" -> policy name. */
export type PolicySetting = Record<string, string>;

/**
 * The rules a session's checkpoints get: the setting's, then the launch
 * configuration's (which win for the same kind or resource). Throws a
 * CheckpointError naming the layer and the key that is wrong.
 */
export function sessionRules(setting: unknown, launch: unknown): pb.ILeakRule[] {
	return mergeRules(rulesFromSettings(setting, SETTING_WHERE), rulesFromSettings(launch, LAUNCH_WHERE));
}

/** The key of a rule: "pipe" for every pipe leak, "pipe:pipe:[1234]" for one. */
export function ruleKey(kind: string, resource = ''): string {
	return resource ? `${kind}:${resource}` : kind;
}

/** Rules as the setting writes them (the inverse of rulesFromSettings). */
export function policySetting(rules: readonly pb.ILeakRule[]): PolicySetting {
	const setting: PolicySetting = {};
	for (const r of rules) setting[ruleKey(kindName(r.kind), r.resource ?? '')] = policyName(r.policy);
	return setting;
}

/** What a key names, as the helper reads it: case, "_" and blanks around the kind and resource do not matter. */
function reach(key: string): string {
	const colon = key.indexOf(':');
	const kind = (colon < 0 ? key : key.slice(0, colon)).trim().toLowerCase().replace(/_/g, '-');
	return colon < 0 ? kind : `${kind}:${key.slice(colon + 1).trim()}`;
}

/**
 * The setting with `key` set to `policy`: a key naming the same kind or
 * resource however it is written ("PIPE", " pipe ") is replaced, every other
 * entry stays as it was. Refuses a setting that is not an object (nothing
 * of it could be kept).
 */
export function withRule(setting: unknown, key: string, policy: LeakPolicyName): PolicySetting {
	if (setting !== undefined && setting !== null && (typeof setting !== 'object' || Array.isArray(setting))) {
		throw new CheckpointError('bad-request', `${SETTING_WHERE} is not an object (it is ${Array.isArray(setting) ? 'an array' : typeof setting}); fix it in the settings first, e.g. { "pipe": "warn" }`);
	}
	const kept = Object.entries((setting ?? {}) as Record<string, unknown>).filter(([k]) => reach(k) !== reach(key));
	return { ...Object.fromEntries(kept) as PolicySetting, [key]: policy };
}

/** The launch configuration's own policy for this key's kind or resource, when it has one (it wins over the setting). */
export function launchOverride(launch: unknown, key: string): string | undefined {
	if (!launch || typeof launch !== 'object' || Array.isArray(launch)) return undefined;
	const hit = Object.entries(launch as Record<string, unknown>).find(([k]) => reach(k) === reach(key));
	return typeof hit?.[1] === 'string' ? hit[1] : undefined;
}

// ---- what the adapter sends -----------------------------------------------------

/** Why a list of leaks was sent. */
export type LeaksReason =
	/** asked for (the `leaks` request) */
	| 'request'
	/** the scan a checkpoint made before its dump (its report) */
	| 'checkpoint'
	/** a checkpoint was refused: see `refusal` */
	| 'refused'
	/** the tree was replaced by a restore */
	| 'restore';

/** The leaks of the debugged tree: the `leaks` request's answer and the body of CUSTOM.leaksEvent. */
export interface LeaksBody {
	rootPid: number;
	reason: LeaksReason;
	/** Sorted by kind, then resource, each with the policy the session's rules give it. */
	leaks: LeakJson[];
	stats?: LeakScanStatsJson;
	/** The session's rules, as the setting writes them. */
	policy: PolicySetting;
	refusal?: Refusal;
}

/** A checkpoint the helper refused for leaks whose policy is fail. */
export interface Refusal {
	/** A checkpoint asked for, or the one a restore takes of the present first. */
	during: 'checkpoint' | 'restore';
	/** The tree as it stays: nothing was frozen or written. */
	state: 'running' | 'frozen';
	/** The refused leaks, each with its choices. */
	leaks: LeakJson[];
	/** Rules that would let it go ahead (suggestedRules), as the setting writes them; empty when none would. */
	suggested: PolicySetting;
	/** Refused leaks no policy lets through (a tracer, a SysV segment): the program has to stop sharing them. */
	withoutChoice: LeakJson[];
	/** All of it in words (the error message of the refused request). */
	message: string;
}

const LEAD = { checkpoint: 'Checkpoint refused: ', restore: 'Restore not started: ' } as const;

/** A message is a refusal's (the editor shows those from the refusal event, with its buttons). */
export function isRefusalMessage(message: string): boolean {
	return /\b(Checkpoint refused|Restore not started): .*leak policy is fail/.test(message);
}

/** "pipe pipe:[1234]". */
export function leakLabel(leak: LeakJson): string {
	const resource = leak.resource || '(no resource)';
	// Some resources name their kind already ("tcp A -> B", "session 12", "process group 7"): once is enough.
	return resource.startsWith(`${leak.kind.replace(/-/g, ' ')} `) ? resource : `${leak.kind} ${resource}`;
}

/** "10512 cat (fd 0 (read end)), 10513 tee (...) and 3 more", or "" when none is named. */
export function outsideText(leak: LeakJson, shown = 3): string {
	const named = leak.outside.slice(0, shown).map((h) => printable(`${h.pid} ${h.comm || '?'}${h.how ? ` (${h.how})` : ''}`)).join(', ');
	const more = leak.outsideCount - Math.min(shown, leak.outside.length);
	if (more <= 0) return named;
	return named ? `${named} and ${more} more` : plural(more, 'process', 'processes');
}

/** "warn (checkpoint as CRIU does...)", "external [--inherit-fd at restore] (...)". */
export function choiceText(c: LeakJson['choices'][number]): string {
	return `${c.policy}${c.criuOption ? ` [${c.criuOption}]` : ''}${c.effect ? ` (${c.effect})` : ''}`;
}

/** The setting as JSON on one line: { "pipe": "warn", "tty": "external" }. */
export function settingText(setting: PolicySetting): string {
	const entries = Object.entries(setting).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`);
	return `{ ${entries.join(', ')} }`;
}

function refusalMessage(r: Omit<Refusal, 'message'>): string {
	const names = r.leaks.map((l) => `${leakLabel(l)}${outsideText(l) ? ` (outside: ${outsideText(l)})` : ''}`).join('; ');
	const stays = r.state === 'frozen' ? 'the program stays paused' : 'the program runs on';
	const what = r.during === 'restore' ? 'the checkpoint of the present state a restore takes first was refused, so nothing was replaced: ' : '';
	const lines = [
		`${LEAD[r.during]}${what}the tree shares ${names} with processes outside it, and the leak policy is fail for ${r.leaks.length === 1 ? 'it' : 'them'}. ` +
		`Nothing was frozen or written; ${stays}.`,
	];
	for (const l of r.leaks) {
		const choices = l.choices.filter((c) => c.policy !== 'fail');
		lines.push(choices.length ? `${leakLabel(l)}: the choices are ${choices.map(choiceText).join('; ')}.` : `${leakLabel(l)}: no policy lets a checkpoint go ahead; the program has to stop sharing it.`);
	}
	const restoreTip = r.during === 'restore' ? ', or restore without saving the present ("saveBeforeRestore": false)' : '';
	if (Object.keys(r.suggested).length) {
		lines.push(`To go ahead, set e.g. ${settingText(r.suggested)} in ${SETTING_WHERE} or ${LAUNCH_WHERE} (the Leaks view does it for you)${restoreTip}.`);
	} else if (restoreTip) {
		lines.push(`To go ahead, restore without saving the present ("saveBeforeRestore": false).`);
	}
	return lines.join('\n');
}

/** The refusal of a dump the helper refused (CheckpointError 'leaks-refused', whose `leaks` are the refused ones). */
export function refusalOf(refused: readonly pb.ILeak[], during: Refusal['during'], state: Refusal['state']): Refusal {
	const r = {
		during, state,
		leaks: refused.map(leakJson),
		suggested: policySetting(suggestedRules(refused)),
		withoutChoice: leaksWithoutChoice(refused).map(leakJson),
	};
	return { ...r, message: refusalMessage(r) };
}

/** What each policy is called on a button. */
export const POLICY_ACTIONS: Readonly<Record<LeakPolicyName, string>> = Object.freeze({
	fail: 'Refuse Checkpoints', warn: 'Warn Only', ignore: 'Don\'t Care', external: 'Hand to CRIU as External', save: 'Let CRIU Save It',
});

/** "pipe" -> "pipe"; the kind's title for people ("named pipe (FIFO)"). */
export function kindTitleOf(kind: LeakKindName | 'unknown'): string {
	return kind === 'unknown' ? 'unknown kind' : KIND_TITLES[kind];
}

/** The button that writes the suggested rules: named after their policy when they share one. */
export function applyLabel(policies: string[]): string | undefined {
	const distinct = [...new Set(policies)];
	if (distinct.length === 0) return undefined;
	if (distinct.length === 1 && (LEAK_POLICIES as readonly string[]).includes(distinct[0])) return POLICY_ACTIONS[distinct[0] as LeakPolicyName];
	return 'Apply the Suggested Policy';
}

/** The notification's text: what was refused, what stays, and what the button would do and cost. */
export function refusalNotice(r: Refusal): string {
	const names = r.leaks.map(leakLabel).join(', ');
	const head = r.during === 'restore'
		? 'Checkpoint: restore not started: the checkpoint of the present state it takes first was refused, nothing was replaced'
		: 'Checkpoint refused';
	const stays = r.state === 'frozen' ? 'the program stays paused' : 'the program runs on';
	const parts = [`${head}: ${names} ${r.leaks.length === 1 ? 'is' : 'are'} shared with processes outside the tree, and the leak policy is fail; nothing was frozen or written, ${stays}.`];
	const suggestions = Object.entries(r.suggested).map(([key, policy]) => {
		const leak = r.leaks.find((l) => key === l.kind || key === ruleKey(l.kind, l.resource));
		const choice = leak?.choices.find((c) => c.policy === policy);
		return choice ? `${settingText({ [key]: policy })}: ${choiceText(choice)}` : settingText({ [key]: policy });
	});
	if (suggestions.length) parts.push(`To go ahead: ${suggestions.join('; ')}.`);
	if (r.withoutChoice.length) parts.push(`${r.withoutChoice.map(leakLabel).join(', ')}: no policy lets a checkpoint go ahead; the program has to stop sharing ${r.withoutChoice.length === 1 ? 'it' : 'them'}.`);
	return parts.join(' ');
}
