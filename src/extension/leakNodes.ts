/**
 * The Leaks tree as data: kinds -> leaks -> holders, and what each row says
 * (label, description, icon, tooltip, the quick actions it offers). No VS
 * Code here: the Leaks view and the image browser's leak report render
 * these, and the unit tests check them.
 */
import { LEAK_KINDS, policyCounts, type LeakHolderJson, type LeakJson, type LeakKindName, type LeakPolicyName, type LeakSeverity } from '../core/leaks';
import { kindTitleOf, ruleKey, type LeaksBody } from '../debug/leakPolicy';
import { plural } from '../core/text';

export type LeakNode =
	| { kind: 'group'; leakKind: LeakKindName | 'unknown'; leaks: LeakJson[]; scope: string }
	| { kind: 'leak'; leak: LeakJson; siblings: LeakJson[]; scope: string }
	| { kind: 'holder'; side: 'inside' | 'outside'; holder: LeakHolderJson; leak: LeakJson; scope: string }
	| { kind: 'more'; count: number; leak: LeakJson; scope: string }
	| { kind: 'note'; text: string; leak: LeakJson; scope: string };

/** How a row looks, whatever draws it. */
export interface LeakRow {
	label: string;
	description?: string;
	/** Markdown. */
	tooltip?: string;
	/** A codicon, and the theme color to draw it in. */
	icon: { id: string; color?: string };
	expand: 'none' | 'collapsed' | 'expanded';
	/** Stable across refreshes of the same tree, so expanded rows stay expanded. */
	id: string;
	/** "leak can-set can-ignore": which quick actions (package.json menus) the row offers. */
	contextValue?: string;
}

const RANK: Record<LeakSeverity, number> = { error: 2, warning: 1, info: 0 };

/** fail: error (it refuses a checkpoint); warn: warning; the others: info. */
export function severityOf(leak: LeakJson): LeakSeverity {
	if (leak.policy === 'fail') return 'error';
	if (leak.policy === 'warn') return 'warning';
	return 'info';
}

export function worstSeverity(leaks: readonly LeakJson[]): LeakSeverity {
	return leaks.reduce<LeakSeverity>((worst, l) => (RANK[severityOf(l)] > RANK[worst] ? severityOf(l) : worst), 'info');
}

export const SEVERITY_ICONS: Readonly<Record<LeakSeverity, { id: string; color: string }>> = Object.freeze({
	error: { id: 'error', color: 'problemsErrorIcon.foreground' },
	warning: { id: 'warning', color: 'problemsWarningIcon.foreground' },
	info: { id: 'info', color: 'problemsInfoIcon.foreground' },
});

/** "warn (default fail)", "fail (the default)". */
export function policyLabel(leak: LeakJson): string {
	return leak.policy === leak.defaultPolicy ? `${leak.policy} (the default)` : `${leak.policy} (default ${leak.defaultPolicy})`;
}

/**
 * The kinds, each with its leaks: those that refuse a checkpoint first, then
 * the warned ones, then the rest (what needs a decision is at the top of a
 * short view), each in the wire's order. `scope` keeps ids apart (a tree's
 * root pid, a checkpoint's id).
 */
export function leakGroups(leaks: readonly LeakJson[], scope: string): LeakNode[] {
	const byKind = new Map<LeakKindName | 'unknown', LeakJson[]>();
	for (const l of leaks) byKind.set(l.kind, [...(byKind.get(l.kind) ?? []), l]);
	const order = (k: LeakKindName | 'unknown'): number => (k === 'unknown' ? LEAK_KINDS.length : LEAK_KINDS.indexOf(k));
	const rank = ([kind, group]: [LeakKindName | 'unknown', LeakJson[]]): number => -RANK[worstSeverity(group)] * 1000 + order(kind);
	return [...byKind.entries()].sort((a, b) => rank(a) - rank(b)).map(([leakKind, group]) => ({ kind: 'group', leakKind, leaks: group, scope }));
}

/** A group's leaks; a leak's outside holders, "and N more", inside holders and policy note. */
export function leakChildren(node: LeakNode): LeakNode[] {
	const scope = node.scope;
	if (node.kind === 'group') return node.leaks.map((leak) => ({ kind: 'leak', leak, siblings: node.leaks, scope }));
	if (node.kind !== 'leak') return [];
	const leak = node.leak;
	const children: LeakNode[] = leak.outside.map((holder) => ({ kind: 'holder', side: 'outside', holder, leak, scope }));
	const more = leak.outsideCount - leak.outside.length;
	if (more > 0) children.push({ kind: 'more', count: more, leak, scope });
	children.push(...leak.inside.map((holder): LeakNode => ({ kind: 'holder', side: 'inside', holder, leak, scope })));
	if (leak.policyNote) children.push({ kind: 'note', text: leak.policyNote, leak, scope });
	return children;
}

/** What the row of a node says and offers. */
export function leakRow(node: LeakNode): LeakRow {
	switch (node.kind) {
		case 'group':
			return groupRow(node);
		case 'leak':
			return leakItemRow(node.leak, node.scope);
		case 'holder': {
			const h = node.holder;
			return {
				label: `${h.pid} ${h.comm || '?'}`,
				description: `${node.side}${h.how ? ` · ${h.how}` : ''}`,
				tooltip: `${node.side === 'outside' ? 'Outside the tree' : 'In the tree'}: pid ${h.pid} (${escapeMarkdown(h.comm || '?')})${h.how ? `, ${escapeMarkdown(h.how)}` : ''}`,
				icon: { id: node.side === 'outside' ? 'link-external' : 'circle-small-filled' },
				expand: 'none',
				id: `${leakId(node.leak, node.scope)}/${node.side}/${h.pid}/${h.fd ?? h.how}`,
			};
		}
		case 'more':
			return { label: `and ${node.count} more`, description: 'outside', icon: { id: 'ellipsis' }, expand: 'none', id: `${leakId(node.leak, node.scope)}/more` };
		case 'note':
			return { label: node.text, tooltip: escapeMarkdown(node.text), icon: { id: 'note' }, expand: 'none', id: `${leakId(node.leak, node.scope)}/note` };
	}
}

function groupRow(node: Extract<LeakNode, { kind: 'group' }>): LeakRow {
	const worst = worstSeverity(node.leaks);
	const title = kindTitleOf(node.leakKind);
	const counts = countText(node.leaks);
	const flags = ['leakGroup'];
	// A kind rule reaches every leak of the kind: offered when each of them can take it.
	if (node.leaks.every((l) => offers(l, 'ignore'))) flags.push('can-ignore');
	return {
		label: title,
		description: `${node.leaks.length} · ${counts}`,
		tooltip: `**${escapeMarkdown(title)}** (\`${node.leakKind}\`): ${plural(node.leaks.length, 'leak')}, ${counts}`,
		icon: SEVERITY_ICONS[worst],
		expand: worst === 'info' ? 'collapsed' : 'expanded',
		id: `${node.scope}/${node.leakKind}`,
		contextValue: flags.join(' '),
	};
}

function leakItemRow(leak: LeakJson, scope: string): LeakRow {
	const flags = ['leak'];
	if (leak.choices.length > 1) flags.push('can-set');
	if (offers(leak, 'ignore')) flags.push('can-ignore');
	if (externalChoice(leak)) flags.push('can-external');
	return {
		label: leak.resource || '(no resource)',
		description: `${policyLabel(leak)}${leak.hostOwn ? ' · the host\'s own' : ''}`,
		tooltip: leakTooltip(leak),
		icon: SEVERITY_ICONS[severityOf(leak)],
		expand: leak.outside.length || leak.inside.length || leak.policyNote || leak.outsideCount ? 'collapsed' : 'none',
		id: leakId(leak, scope),
		contextValue: flags.join(' '),
	};
}

function leakId(leak: LeakJson, scope: string): string {
	return `${scope}/${leak.kind}/${leak.resource}`;
}

/** The leak can take the policy, and does not have it already. */
function offers(leak: LeakJson, policy: LeakPolicyName): boolean {
	return leak.policy !== policy && leak.choices.some((c) => c.policy === policy);
}

/** "Hand to CRIU": external where the leak can be handed over, save where CRIU can save it; undefined when neither (or it is so already). */
export function externalChoice(leak: LeakJson): 'external' | 'save' | undefined {
	if (offers(leak, 'external')) return 'external';
	if (offers(leak, 'save')) return 'save';
	return undefined;
}

/**
 * The rule a quick action writes: for the leak's kind when every leak of the
 * kind in the list can take the policy (one rule covers them, and the next
 * one of the kind too), else for this resource only.
 */
export function quickRuleKey(leak: LeakJson, siblings: readonly LeakJson[], policy: LeakPolicyName): string {
	const all = siblings.filter((l) => l.kind === leak.kind);
	return all.every((l) => l.choices.some((c) => c.policy === policy)) ? ruleKey(leak.kind) : ruleKey(leak.kind, leak.resource);
}

/** "1 failing, 2 ignored". */
function countText(leaks: readonly LeakJson[]): string {
	return policyCounts(leaks.map((l) => l.policy));
}

/** Markdown metacharacters in text from the target (comm, paths) shown as they are. */
export function escapeMarkdown(text: string): string {
	return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&');
}

/**
 * The leak in full: what it is, the risk, what CRIU does by itself, and
 * every choice with its CRIU option and effect, the one that applies and the
 * default marked.
 */
export function leakTooltip(leak: LeakJson): string {
	const lines = [`**${escapeMarkdown(kindTitleOf(leak.kind))}** \`${leak.resource.replace(/`/g, "'")}\`${leak.hostOwn ? ' (the host\'s own)' : ''}: **${leak.policy}**${leak.policy === leak.defaultPolicy ? ' (the default)' : ` (default ${leak.defaultPolicy})`}`];
	if (leak.summary) lines.push(escapeMarkdown(leak.summary));
	if (leak.risk) lines.push(`**Risk:** ${escapeMarkdown(leak.risk)}`);
	if (leak.criu) lines.push(`**CRIU by itself:** ${escapeMarkdown(leak.criu)}`);
	if (leak.policyNote) lines.push(`**Note:** ${escapeMarkdown(leak.policyNote)}`);
	if (leak.choices.length) {
		const choices = leak.choices.map((c) => {
			const tags = [c.policy === leak.policy ? 'applies' : '', c.policy === leak.defaultPolicy ? 'default' : ''].filter(Boolean).join(', ');
			const mark = c.policy === leak.policy ? '$(check) ' : '';
			return `- ${mark}**${c.policy}**${tags ? ` (${tags})` : ''}${c.criuOption ? ` \`${c.criuOption}\`` : ''}: ${escapeMarkdown(c.effect)}`;
		});
		lines.push(`**Choices:**\n\n${choices.join('\n')}`);
	}
	return lines.join('\n\n');
}

/** The text above the tree: whose leaks, how many, and whether a checkpoint goes ahead now; undefined when there is nothing to say. */
export function leaksMessage(state: LeaksViewState): string | undefined {
	switch (state.kind) {
		case 'no-session':
			return 'No live checkpoint debug session: attach to a process (or launch one) to see what its tree shares with processes outside it.';
		case 'loading':
			return undefined;
		case 'error':
			return `Cannot list the leaks: ${state.message}`;
		case 'leaks': {
			const { body } = state;
			if (!body.leaks.length) return `Process ${body.rootPid}: no leaks. The tree shares nothing the helper looks for with processes outside it.`;
			const failing = body.leaks.filter((l) => l.policy === 'fail').length;
			const verdict = failing
				? `a checkpoint is refused now (${failing} failing: choose another policy for ${failing === 1 ? 'it' : 'them'})`
				: 'a checkpoint goes ahead';
			return `Process ${body.rootPid}: ${plural(body.leaks.length, 'leak')}, ${countText(body.leaks)}; ${verdict}.`;
		}
	}
}

export type LeaksViewState =
	| { kind: 'no-session' }
	| { kind: 'loading' }
	| { kind: 'error'; message: string }
	| { kind: 'leaks'; body: LeaksBody };
