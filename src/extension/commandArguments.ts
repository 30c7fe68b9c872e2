/**
 * What VS Code hands the extension's commands when it runs them for a
 * launch configuration or a menu, read here without VS Code so that it is
 * unit-tested. The shapes are VS Code's (microsoft/vscode):
 * - `${command:ID}` in launch.json: the configuration being resolved is the
 *   command's only argument (configurationResolver,
 *   `commandService.executeCommand(commandId, configuration)`), before its
 *   own `${...}` variables are substituted.
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

/** value[key] when value is an object that has it as its own. */
function fieldOf(value: unknown, key: string): unknown {
	if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
	return Reflect.get(value, key);
}
