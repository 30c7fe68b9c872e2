/**
 * What VS Code hands the extension's commands when it runs them for a
 * launch configuration or a menu, read here without VS Code so that it is
 * unit-tested. The shapes are VS Code's (microsoft/vscode):
 * - `${command:ID}` in launch.json: the configuration being resolved is the
 *   command's only argument (configurationResolver,
 *   `commandService.executeCommand(commandId, configuration)`), before its
 *   own `${...}` variables are substituted.
 * - `debug/callstack/context`: first the item's id for extensions (a thread's
 *   DAP id for a thread), then the view's context (`{ sessionId, threadId }`
 *   for a thread): callStackView.ts, `getContextForContributedActions` and
 *   `getContext`, run through MenuItemAction with `shouldForwardArgs`.
 */

/**
 * The host a launch configuration names, when the process picker can use
 * it as it is; undefined when the picker has to ask (no configuration, no
 * target, or one still holding a variable VS Code substitutes later).
 */
export function configuredTarget(configuration: unknown): string | undefined {
	const target = fieldOf(configuration, 'target');
	if (typeof target !== 'string') return undefined;
	const host = target.trim();
	// `${input:host}` and the like are substituted only after every command variable has its value.
	if (!host || host.includes('${')) return undefined;
	return host;
}

/** A thread of the Call Stack, with the id of its debug session when VS Code said it. */
export interface CallStackThread {
	/** The DAP thread id: here a Linux thread id, which names its process to the adapter. */
	threadId: number;
	sessionId?: string;
}

/** The thread a `debug/callstack/context` command was run on; undefined when the arguments name none. */
export function callStackThread(args: readonly unknown[]): CallStackThread | undefined {
	// The view's context names the session too: use it when it is there.
	for (const arg of args) {
		const threadId = fieldOf(arg, 'threadId');
		if (!isThreadId(threadId)) continue;
		const sessionId = fieldOf(arg, 'sessionId');
		return typeof sessionId === 'string' ? { threadId, sessionId } : { threadId };
	}
	const [first] = args;
	return isThreadId(first) ? { threadId: first } : undefined;
}

function isThreadId(value: unknown): value is number {
	return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** value[key] when value is an object that has it as its own. */
function fieldOf(value: unknown, key: string): unknown {
	if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
	return Reflect.get(value, key);
}
