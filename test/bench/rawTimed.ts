import type { TargetShell } from '../integration/harness';

/** Runs a command on the target and returns its wall time there alone, in ms (a failure fails the round). */
export async function rawTimed(shell: TargetShell, command: string): Promise<number> {
	const out = await shell.ok(`s=$(date +%s%N); ${command} || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`);
	return Number(out.trim().split('\n').pop()) / 1000;
}
