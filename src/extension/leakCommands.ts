/**
 * What the user does about leaks: set a leak's policy (for its kind or only
 * its resource), the quick actions of the Leaks view, and the buttons of a
 * refused checkpoint. Every choice is written to the `checkpoint.leakPolicy`
 * setting (the workspace's when a folder is open) and pushed to the live
 * sessions at once, so it applies to the next checkpoint without a restart.
 */
import * as vscode from 'vscode';
import type { TreeState } from '../core/debuggedTree';
import { errorMessage } from '../core/errors';
import { KIND_TITLES, rulesFromSettings, type LeakJson, type LeakPolicyName } from '../core/leaks';
import {
	applyLabel, launchOverride, leakLabel, refusalNotice, ruleKey, SETTING_WHERE, settingText, withRule, type PolicySetting, type Refusal,
} from '../debug/leakPolicy';
import { CUSTOM } from '../debug/messages';
import { customRequest, type CustomEventRouter } from './customDap';
import { activeLiveSession, liveSessions } from './debugging';
import { externalChoice, quickRuleKey, type LeakNode } from './leakNodes';
import type { LeaksView } from './leaksView';

type Report = (err: unknown) => void;

/** The leak a command was given (a row of the Leaks view), with the others of its kind. */
interface LeakTarget {
	leak: LeakJson;
	siblings: readonly LeakJson[];
}

export class LeakCommands {
	/** Sessions whose leak policy was checked once their tree was there. */
	private readonly checked = new WeakSet<vscode.DebugSession>();

	constructor(private readonly view: LeaksView, private readonly output: vscode.OutputChannel, private readonly report: Report) {}

	register(): vscode.Disposable[] {
		const command = (id: string, run: (...args: never[]) => Promise<unknown>): vscode.Disposable =>
			vscode.commands.registerCommand(id, (...args: never[]) => run(...args).catch((err: unknown) => this.report(err)));
		return [
			command('checkpoint.refreshLeaks', async () => this.view.refresh(activeLiveSession())),
			command('checkpoint.setLeakPolicy', (node?: LeakNode) => this.setPolicy(node)),
			command('checkpoint.ignoreLeakKind', (node?: LeakNode) => this.ignoreKind(node)),
			command('checkpoint.externalLeak', (node?: LeakNode) => this.handToCriu(node)),
		];
	}

	/**
	 * The tree's state (see treeStateChanged), a refusal that came with the
	 * leaks, and the setting: the next checkpoint of every live session
	 * applies a change, no restart needed.
	 */
	listen(events: CustomEventRouter): vscode.Disposable[] {
		return [
			events.on(CUSTOM.stateEvent, (session, body) => this.treeStateChanged(session, body.state)),
			events.on(CUSTOM.leaksEvent, (session, body) => {
				if (body.refusal) void this.showRefusal(body.refusal, session);
			}),
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration('checkpoint.leakPolicy')) void this.settingChanged();
			}),
		];
	}

	/**
	 * The setting changed (here or by hand): each live session gets it for its
	 * next checkpoints. A bad setting is said once, and the sessions keep the
	 * policy they had.
	 */
	async settingChanged(): Promise<void> {
		try {
			rulesFromSettings(currentSetting(), SETTING_WHERE);
		} catch (err) {
			const open = 'Open Settings';
			const answer = await vscode.window.showErrorMessage(`Checkpoint: ${errorMessage(err)}. The debug sessions keep the leak policy they had.`, open);
			if (answer === open) await vscode.commands.executeCommand('workbench.action.openSettings', 'checkpoint.leakPolicy');
			return;
		}
		await Promise.all(liveSessions.map((s) => this.push(s)));
		this.view.refresh();
	}

	/**
	 * A session's tree changed state. The first time: a restarted session may
	 * have started with the setting of its first start (VS Code reuses the
	 * resolved configuration), so it gets the setting as it is now; and the
	 * Leaks view, asked before the tree was there, gets its list.
	 */
	private treeStateChanged(session: vscode.DebugSession, state: TreeState): void {
		if (!this.checked.has(session)) {
			this.checked.add(session);
			if (JSON.stringify(currentSetting(session)) !== JSON.stringify(session.configuration.leakPolicySetting)) void this.push(session);
		}
		if (this.view.needsList(session) && state !== 'checkpointing' && state !== 'restoring') this.view.refresh(session);
	}

	/** Gives a session the setting as it is now (it got the one of its start). */
	async push(session: vscode.DebugSession): Promise<void> {
		await customRequest(session, CUSTOM.setLeakPolicy, { setting: currentSetting(session) }).catch((err: unknown) => {
			const message = `${session.name}: the leak policy was not updated: ${errorMessage(err)}`;
			this.output.appendLine(message);
			void vscode.window.showWarningMessage(`Checkpoint: ${message}`);
		});
	}

	/**
	 * A checkpoint the helper refused: the refused leaks, the policy that would
	 * let it go ahead (a button writes it) and Show Leaks. The program runs on
	 * (or stays paused) as it was.
	 */
	async showRefusal(refusal: Refusal, session?: vscode.DebugSession): Promise<void> {
		this.output.appendLine(refusal.message);
		const suggested = Object.entries(refusal.suggested);
		const apply = applyLabel(suggested.map(([, p]) => p));
		const show = 'Show Leaks';
		const answer = await vscode.window.showErrorMessage(refusalNotice(refusal), ...(apply ? [apply] : []), ...(session ? [show] : []));
		if (answer === show) {
			// The refusal came with the tree's whole list: the view has it already.
			await vscode.commands.executeCommand('checkpoint.leaks.focus');
		} else if (answer && answer === apply) {
			await this.write(refusal.suggested, session, refusal.during === 'checkpoint' ? 'checkpoint.takeCheckpoint' : undefined);
		}
	}

	private async setPolicy(node?: LeakNode): Promise<void> {
		const target = targetOf(node);
		if (!target) return;
		const { leak } = target;
		const choices = leak.choices.filter((c): c is typeof c & { policy: LeakPolicyName } => c.policy !== 'unknown');
		const picked = await vscode.window.showQuickPick(choices.map((c) => ({
			label: c.policy,
			description: [c.criuOption, c.policy === leak.policy ? 'applies now' : '', c.policy === leak.defaultPolicy ? 'the default' : ''].filter(Boolean).join(' · '),
			detail: c.effect,
			policy: c.policy,
		})), { title: `Leak policy for ${leakLabel(leak)}`, placeHolder: 'What checkpoints do with it (the CRIU option it takes, and what it costs)' });
		if (!picked) return;
		const kindKey = ruleKey(leak.kind);
		const resourceKey = ruleKey(leak.kind, leak.resource);
		const reach = await vscode.window.showQuickPick([
			{ label: `Every ${kindTitle(leak)} leak`, description: settingText({ [kindKey]: picked.policy }), key: kindKey },
			{ label: `Only ${leak.resource}`, description: settingText({ [resourceKey]: picked.policy }), key: resourceKey },
		], { title: `${picked.policy} for which leaks?`, placeHolder: `Written to ${SETTING_WHERE}` });
		if (reach) await this.write({ [reach.key]: picked.policy });
	}

	/** Don't care about this kind: ignore for every leak of it. */
	private async ignoreKind(node?: LeakNode): Promise<void> {
		const kind = node?.kind === 'group' ? node.leakKind : targetOf(node)?.leak.kind;
		if (!kind || kind === 'unknown') return;
		await this.write({ [ruleKey(kind)]: 'ignore' });
	}

	/** Hand to CRIU: external (or save, where that is what CRIU offers), for the kind when all of its leaks take it. */
	private async handToCriu(node?: LeakNode): Promise<void> {
		const target = targetOf(node);
		const policy = target && externalChoice(target.leak);
		if (!target || !policy) return;
		await this.write({ [quickRuleKey(target.leak, target.siblings, policy)]: policy });
	}

	/**
	 * Writes entries into the setting, pushes it to the live sessions and says
	 * so; warns where a launch configuration's leakPolicy wins over it.
	 * `again` is a command the message offers (Take Checkpoint).
	 */
	private async write(entries: PolicySetting, session = activeLiveSession(), again?: string): Promise<void> {
		const config = vscode.workspace.getConfiguration('checkpoint', session?.workspaceFolder?.uri);
		const workspace = (vscode.workspace.workspaceFolders?.length ?? 0) > 0;
		const inspected = config.inspect<unknown>('leakPolicy');
		let value: unknown = workspace ? inspected?.workspaceValue : inspected?.globalValue;
		for (const [key, policy] of Object.entries(entries)) value = withRule(value, key, policy as LeakPolicyName);
		await config.update('leakPolicy', value, workspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
		await this.settingChanged();
		const written = `Checkpoint: ${settingText(entries)} written to ${SETTING_WHERE} (${workspace ? 'workspace' : 'user'} settings)`;
		const overridden = Object.keys(entries).map((k) => [k, launchOverride(session?.configuration.leakPolicy, k)] as const).filter(([, p]) => p !== undefined);
		if (overridden.length) {
			void vscode.window.showWarningMessage(`${written}, but the launch configuration's "leakPolicy" wins with ${settingText(Object.fromEntries(overridden) as PolicySetting)}: change it there (launch.json) for this to apply.`);
			return;
		}
		const take = 'Take Checkpoint';
		const answer = await vscode.window.showInformationMessage(`${written}; it applies to the next checkpoint.`, ...(again && session ? [take] : []));
		if (answer === take && again) await vscode.commands.executeCommand(again);
	}
}

/** The setting as VS Code merges it (user, workspace, folder). */
export function currentSetting(session?: vscode.DebugSession): unknown {
	return vscode.workspace.getConfiguration('checkpoint', session?.workspaceFolder?.uri).get<unknown>('leakPolicy') ?? {};
}

function targetOf(node: LeakNode | undefined): LeakTarget | undefined {
	if (node?.kind === 'leak') return { leak: node.leak, siblings: node.siblings };
	if (node && node.kind !== 'group') return { leak: node.leak, siblings: [node.leak] };
	return undefined;
}

function kindTitle(leak: LeakJson): string {
	return leak.kind === 'unknown' ? 'unknown' : KIND_TITLES[leak.kind];
}
