/**
 * Fuzz target: the leak policy as users write it. The first input byte
 * picks the form, the rest is its text:
 *  - parsePolicy (src/core/leaks.ts): the CLI's --policy
 *    "kind=policy,kind:resource=policy";
 *  - the checkpoint.leakPolicy setting and a launch configuration's
 *    leakPolicy (src/debug/leakPolicy.ts sessionRules, withRule,
 *    launchOverride), from the text as JSON (what VS Code hands over); the
 *    text is split at its first newline into the setting and the launch
 *    configuration's value.
 *
 * A bug: any exception but CheckpointError (the documented one, whose
 * message the user sees); a rule the helper would refuse (a resource over
 * MAX_RESOURCE_BYTES or with control characters, more than MAX_POLICY_RULES
 * rules); or a round trip that changes the rules: formatPolicy then
 * parsePolicy, policySetting then rulesFromSettings.
 */
import { CheckpointError } from '../../src/core/errors';
import { formatPolicy, MAX_POLICY_RULES, MAX_RESOURCE_BYTES, parsePolicy, rulesFromSettings } from '../../src/core/leaks';
import type { pb } from '../../src/core/protocol';
import { launchOverride, policySetting, sessionRules, withRule } from '../../src/debug/leakPolicy';
import { allowOnly, FuzzInput, invariant } from './fuzzInput';

function sameRules(a: readonly pb.ILeakRule[], b: readonly pb.ILeakRule[]): boolean {
	return a.length === b.length && a.every((r, i) => r.kind === b[i].kind && (r.resource ?? '') === (b[i].resource ?? '') && r.policy === b[i].policy);
}

/** What rules do, the last rule for a kind or resource winning (as the helper reads them): the order aside. */
function byReach(rules: readonly pb.ILeakRule[]): Map<string, pb.LeakPolicy | null | undefined> {
	return new Map(rules.map((r) => [`${r.kind}\u0000${r.resource ?? ''}`, r.policy]));
}

function sameReach(a: readonly pb.ILeakRule[], b: readonly pb.ILeakRule[]): boolean {
	const [x, y] = [byReach(a), byReach(b)];
	return x.size === y.size && [...x].every(([reach, policy]) => y.get(reach) === policy);
}

function checkRules(rules: readonly pb.ILeakRule[]): void {
	invariant(rules.length <= MAX_POLICY_RULES, `${rules.length} rules, over the helper's ${MAX_POLICY_RULES}`);
	for (const r of rules) {
		const resource = r.resource ?? '';
		invariant(Buffer.byteLength(resource) <= MAX_RESOURCE_BYTES && !/[\u0000-\u001f\u007f]/.test(resource),
			`a resource the helper takes, not ${JSON.stringify(resource.slice(0, 80))}`);
		invariant(typeof r.kind === 'number' && r.kind > 0 && typeof r.policy === 'number' && r.policy > 0, 'a rule has a kind and a policy');
	}
}

function checkCommandLine(text: string): void {
	const rules = parsePolicy(text);
	checkRules(rules);
	const again = parsePolicy(formatPolicy(rules));
	invariant(sameRules(rules, again), `formatPolicy then parsePolicy gives the rules back (${formatPolicy(rules)})`);
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return text; // not JSON: the setting is this string, which rulesFromSettings must refuse
	}
}

function checkSettings(text: string): void {
	const newline = text.indexOf('\n');
	const setting = parseJson(newline < 0 ? text : text.slice(0, newline));
	const launch = newline < 0 ? undefined : parseJson(text.slice(newline + 1));
	launchOverride(launch, 'pipe');
	const rules = sessionRules(setting, launch);
	checkRules(rules);
	const own = rulesFromSettings(setting, 'the setting');
	const again = rulesFromSettings(policySetting(own), 'the setting');
	invariant(sameReach(own, again), 'policySetting then rulesFromSettings gives the rules back');
	// Setting one kind's policy keeps the setting valid.
	checkRules(rulesFromSettings(withRule(setting, 'pipe', 'warn'), 'the setting'));
}

const FORMS = [checkCommandLine, checkSettings] as const;

export function fuzz(data: Buffer): void {
	const input = new FuzzInput(data);
	const check = input.pick(FORMS);
	try {
		check(input.rest().toString('utf8'));
	} catch (err) {
		allowOnly(err, [CheckpointError], 'reading a leak policy');
	}
}
