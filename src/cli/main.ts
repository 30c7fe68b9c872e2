/**
 * `ckpt`: the checkpoint core for terminals, scripts and CI.
 *
 *   ckpt --target T hello | ps | freeze PID | thaw PID | leaks PID | dump PID | restore ID | ls | rm ID | rename ID NAME
 *   ckpt --target T core ID [--pid P] -o FILE
 *   ckpt [--target T] show CHECKPOINT | mem CHECKPOINT --pid P --addr A --len N
 */
import { parseArgs } from 'node:util';
import { pb } from '../core/protocol';
import { CheckpointError, errorMessage } from '../core/errors';
import { LEAK_KINDS, LEAK_POLICIES, leakJson, parsePolicy } from '../core/leaks';
import { formatLeaks } from './leaksText';
import { HelperSession } from '../core/session';
import type { Target } from '../core/target';
import { targetFromSpec, type TargetFlags } from '../core/targetSpec';
import { coreArgs, runCore } from './core';
import { runDiff, runInspect } from './inspect';
import { printableLines } from '../core/systemText';
import { checkpointJson, formatCheckpoint, formatHello, formatLeaksResult, formatList, formatPs, formatRestore, leaksResultJson, listJson, refusalHint, toJson } from './format';


const USAGE = `usage: ckpt --target TARGET [--json] COMMAND [ARGS]

TARGET is one of:
  FILE                      a file whose last line is the JSON "npm run target:up" prints
  ssh://USER@HOST[:PORT]    with --identity FILE and --known-hosts FILE (default ~/.ssh/known_hosts)
  local                     this machine (as root, or with passwordless sudo)
  (default: $CKPT_TARGET)

--criu PATH runs that CRIU on the target (default: the first criu in /usr/sbin,
/usr/bin, /usr/local/sbin, /usr/local/bin or PATH); --store DIR keeps
checkpoints there (default /var/lib/checkpoint-debugger/checkpoints).

commands:
  hello                               helper, CRIU and kernel facts of the target
  ps [PID]                            the process tree (of PID)
  freeze PID                          freeze PID and its descendants (cgroup freezer)
  thaw PID                            thaw them
  leaks PID [--policy P]              what the tree shares with processes outside it (its leaks), by
                                      kind, each with the policy a dump would apply and its choices;
                                      nothing is frozen or written
  dump PID [--name N] [--leave-running] [--policy P] [--self-contained]
                                      checkpoint the tree into the target's store; refused (exit
                                      status 3, the refused leaks listed) while a leak's policy is
                                      fail. Pages unchanged since the newest checkpoint of the same
                                      program are read from it, not written again; a checkpoint that
                                      stands on another restores fully, never lazily.
                                      --self-contained keeps every page in the new checkpoint
  restore ID [--kill-running] [--tcp-close] [--no-lazy]
                                      restore a checkpoint; the result has the new root pid.
                                      Saved TCP connections come back as they were, unless they
                                      carried data since (refused); --tcp-close restores them closed.
                                      Where the target can, with CRIU's lazy pages: the program runs
                                      at once and its memory is copied in after (the command ends
                                      once every page is in); --no-lazy: every page first (always so
                                      for a checkpoint that stands on another: see ls)
  ls                                  list checkpoints: SIZE is each one's own; WITH-PARENTS adds
                                      every checkpoint it stands on (PARENT, its parent...), "?"
                                      when one of them is not in the store
  rm ID                               delete a checkpoint; those standing on it take in the pages
                                      they read from it first
  rename ID NAME                      give a checkpoint a new name ("" clears it)
  show CHECKPOINT                     what the checkpoint holds: processes, threads, memory, files
  diff CHECKPOINT1 CHECKPOINT2         what changed from the first to the second: processes and
                                      threads that came and went, registers, memory areas added,
                                      removed, resized or reprotected, files opened, closed, replaced
                                      or moved, leaks that appeared or went; with ids of the
                                      target's store, the pages that differ, by memory area
                                      (compared on the target)
  mem CHECKPOINT --pid P --addr A --len N [--raw]
                                      memory of process P as the checkpoint holds it (hexdump)
  core ID [--pid P] -o FILE           an ELF core file of process P of the checkpoint (default: its
                                      root), written on the target from the images and downloaded
                                      to FILE (mode 0600); "gdb PROGRAM FILE" shows every thread's
                                      frames and locals. It is kept in the checkpoint too
                                      (core-P.elf) and goes with it

CHECKPOINT is an ID of the target's store, or a directory (on the target with
--target, else on this machine).

--policy P says what to do with each leak (docs/leaks.md): KIND=POLICY entries
for every leak of a kind and KIND:RESOURCE=POLICY for one, separated by commas,
e.g. --policy pipe=warn,tty=external,pipe:pipe:[1234]=external. The kind ends
at the first ':' and the policy starts after the last '='; write a ',' in a
resource as '\\,'. --policy may be repeated. A resource rule wins over a kind
rule; leaks no rule names keep their default.
  policies: ${LEAK_POLICIES.join(', ')}
  kinds:    ${wrapList(LEAK_KINDS, 12, 80)}

--json prints one JSON document with the result. For leaks:
  {"leaks": [{"kind", "resource", "summary", "inside": [{"pid", "comm", "how"}],
   "outside", "outsideCount", "risk", "criu", "policy", "defaultPolicy",
   "choices": [{"policy", "criuOption", "effect"}], "hostOwn", "policyNote"}],
   "stats": {"processes", "treeProcesses", "descriptors", "scanTimeUs"}}
with kinds and policies as names. A checkpoint's "leaks" is its leak report
(policy, leaks, rescanned, consistent, changes, summary); "sizeBytes" is its
own size, "parent" the checkpoint it stands on ("" for none), "sharing"
{"sharedPages", "ownPages", "timeUs"} what sharing saved at the dump (null
when it shares nothing); in ls, "sizeWithParentsBytes" adds every checkpoint
it stands on (null when one of them is not in the store). A dump refused
because of leaks prints {"error": {"kind", "message"}, "leaks": [...]}.

exit status: 0 done, 1 failed, 2 usage error, 3 dump refused because of leaks.`;

/** Names separated by ", " on lines of at most width columns, the lines after the first indented. */
function wrapList(names: readonly string[], indent: number, width: number): string {
	const lines = [''];
	for (const n of names) {
		const last = lines.length - 1;
		const piece = `${n},`;
		if (lines[last].length + piece.length + 1 > width - indent && lines[last]) lines.push(piece);
		else lines[last] += lines[last] ? ` ${piece}` : piece;
	}
	return lines.join(`\n${' '.repeat(indent)}`).replace(/,$/, '');
}

interface Options {
	target?: string;
	identity?: string;
	'known-hosts'?: string;
	store?: string;
	criu?: string;
	json: boolean;
	name?: string;
	'leave-running': boolean;
	'self-contained': boolean;
	'kill-running': boolean;
	'tcp-close': boolean;
	'no-lazy': boolean;
	pid?: string;
	addr?: string;
	len?: string;
	raw: boolean;
	output?: string;
	policy?: string[];
	help: boolean;
}

function parse(argv: string[]): { options: Options; command: string; args: string[] } {
	const { values, positionals } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			target: { type: 'string', short: 't' },
			identity: { type: 'string', short: 'i' },
			'known-hosts': { type: 'string' },
			store: { type: 'string' },
			criu: { type: 'string' },
			json: { type: 'boolean', default: false },
			name: { type: 'string', short: 'n' },
			'leave-running': { type: 'boolean', default: false },
			'self-contained': { type: 'boolean', default: false },
			'kill-running': { type: 'boolean', default: false },
			'tcp-close': { type: 'boolean', default: false },
			'no-lazy': { type: 'boolean', default: false },
			pid: { type: 'string' },
			addr: { type: 'string' },
			len: { type: 'string' },
			raw: { type: 'boolean', default: false },
			output: { type: 'string', short: 'o' },
			policy: { type: 'string', multiple: true },
			help: { type: 'boolean', short: 'h', default: false },
		},
	});
	const [command = '', ...args] = positionals;
	return { options: values as Options, command, args };
}

/** What each command takes, checked before connecting to anything. */
const COMMAND_ARGS: Record<string, 'none' | 'pid' | 'optional-pid' | 'id' | 'id-name' | 'two-ids'> = {
	hello: 'none', ps: 'optional-pid', freeze: 'pid', thaw: 'pid', leaks: 'pid', dump: 'pid', restore: 'id', ls: 'none', rm: 'id',
	rename: 'id-name', show: 'id', mem: 'id', core: 'id', diff: 'two-ids',
};

function checkArgs(command: string, args: string[]): void {
	const takes = COMMAND_ARGS[command];
	if (!takes) throw new CheckpointError('usage', `unknown command "${command}"\n\n${USAGE}`);
	if (takes === 'pid' || (takes === 'optional-pid' && args.length > 0)) pidArg(args, command);
	if (takes === 'id' || takes === 'id-name') idArg(args, command);
	if (takes === 'id-name') nameArg(args, command);
	if (takes === 'two-ids' && args.length !== 2) throw new CheckpointError('usage', `ckpt ${command} needs two checkpoints (ids or directories), the earlier first, e.g. "ckpt ${command} ID1 ID2"`);
	const most = takes === 'none' ? 0 : takes === 'id-name' || takes === 'two-ids' ? 2 : 1;
	if (args.length > most) throw new CheckpointError('usage', `ckpt ${command} takes ${['no arguments', 'one argument', 'two arguments'][most]}; unexpected "${args[most]}"`);
}

/** Options that belong to one command only. */
function checkOptions(command: string, args: string[], options: Options): void {
	if (options.output !== undefined && command !== 'core') throw new CheckpointError('usage', `-o/--output is for core, not ${command}`);
	if (options['self-contained'] && command !== 'dump') throw new CheckpointError('usage', `--self-contained is for dump, not ${command}`);
	if (command === 'core') coreArgs(args, options);
}

/** The rules of every --policy, in order (the helper applies the last of each reach); only dump and leaks take them. */
function policyArg(command: string, options: Options): pb.ILeakRule[] {
	if (!options.policy?.length) return [];
	if (command !== 'dump' && command !== 'leaks') throw new CheckpointError('usage', `--policy is for dump and leaks, not ${command}`);
	return options.policy.flatMap(parsePolicy);
}

function pidArg(args: string[], command: string): number {
	const text = args[0];
	if (!text) throw new CheckpointError('usage', `ckpt ${command} needs a process id, e.g. "ckpt ${command} 1234"`);
	const pid = Number(text);
	if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(pid) || pid <= 0) throw new CheckpointError('usage', `"${text}" is not a process id; ckpt ${command} needs one, e.g. "ckpt ${command} 1234"`);
	return pid;
}

function idArg(args: string[], command: string): string {
	if (!args[0]) throw new CheckpointError('usage', `ckpt ${command} needs a checkpoint id (see "ckpt ls")`);
	return args[0];
}

/** The second argument; "" is a name too (it clears the name). */
function nameArg(args: string[], command: string): string {
	const name = args[1];
	if (name === undefined) throw new CheckpointError('usage', `ckpt ${command} needs a checkpoint id and a name, e.g. "ckpt ${command} ${args[0]} before-bug" ("" clears the name)`);
	return name;
}

type Printer = (text: string, json: object) => void;

async function runCommand(session: HelperSession, command: string, args: string[], options: Options, rules: pb.ILeakRule[], print: Printer): Promise<void> {
	const progress = options.json ? undefined : (p: pb.Progress) => process.stderr.write(printableLines(`… ${p.stage}${p.message ? `: ${p.message}` : ''}\n`));
	switch (command) {
		case 'hello': {
			const h = await session.hello();
			return print(formatHello(h), toJson(pb.HelloResult, h));
		}
		case 'ps': {
			const list = await session.ps(args[0] ? pidArg(args, 'ps') : 0);
			return print(formatPs(list), { processes: list.map((p) => toJson(pb.ProcessInfo, p)) });
		}
		case 'freeze': {
			const r = await session.freeze(pidArg(args, command));
			const how = r.freezer === pb.CgroupLayout.CGROUP_LAYOUT_V1 ? 'cgroup v1 freezer' : 'cgroup v2 cgroup.freeze';
			return print(`frozen: ${r.pids.length} process(es) of tree ${r.rootPid} (${how}, ${r.cgroup})`, toJson(pb.FreezeResult, r));
		}
		case 'thaw': {
			const r = await session.thaw(pidArg(args, command));
			return print(`thawed tree ${r.rootPid}`, toJson(pb.ThawResult, r));
		}
		case 'leaks': {
			const r = await session.leaks(pidArg(args, command), rules);
			return print(formatLeaksResult(r), leaksResultJson(r));
		}
		case 'dump': {
			const c = await session.dump(pidArg(args, command), {
				name: options.name, leaveRunning: options['leave-running'], policy: rules, selfContained: options['self-contained'], onProgress: progress,
			});
			return print(formatCheckpoint(c), checkpointJson(c));
		}
		case 'restore': {
			const id = idArg(args, command);
			let told: (end: pb.LazyRestoreEnd) => void = () => undefined;
			const lazyEnd = new Promise<pb.LazyRestoreEnd>((resolve) => { told = resolve; });
			const r = await session.restore(id, {
				killRunning: options['kill-running'], tcpClose: options['tcp-close'], lazy: !options['no-lazy'], onProgress: progress, onLazyEnd: (end) => told(end),
			});
			if (!r.lazy) return print(formatRestore(id, r), toJson(pb.RestoreResult, r));
			// the program runs already; the command ends once its memory is all in (or the daemon failed)
			const end = await lazyEnd;
			if (!end.ok) throw new CheckpointError('criu-failed', `restored ${id} lazily as pid ${r.rootPid}, but ${end.message}`);
			return print(formatRestore(id, r, end), { ...toJson(pb.RestoreResult, r), lazyEnd: toJson(pb.LazyRestoreEnd, end) });
		}
		case 'ls': {
			const list = await session.list();
			return print(formatList(list), listJson(list));
		}
		case 'rm': {
			const id = idArg(args, command);
			await session.remove(id);
			return print(`deleted ${id}`, { deleted: id });
		}
		case 'core': {
			const r = await runCore(session, coreArgs(args, options), options.json ? undefined : (m) => process.stderr.write(printableLines(`… ${m}\n`)));
			return print(r.text, r.json);
		}
		case 'rename': {
			const c = await session.rename(idArg(args, command), nameArg(args, command));
			return print(`renamed ${c.id} to ${c.name ? `"${c.name}"` : 'no name'}`, checkpointJson(c));
		}
		default:
			throw new CheckpointError('usage', command ? `unknown command "${command}"\n\n${USAGE}` : USAGE);
	}
}

/** The exit status of a dump refused because of leaks. */
export const EXIT_LEAKS_REFUSED = 3;

/**
 * Says what failed on stderr (a refused dump: its leaks first, with their
 * choices; with --json also on stdout); the exit status: 2 for usage errors,
 * 3 for a dump refused because of leaks, else 1.
 */
function reportFailure(err: unknown, json = false): number {
	if (err instanceof CheckpointError && err.kind === 'leaks-refused') {
		if (json) process.stdout.write(`${JSON.stringify({ error: { kind: err.kind, message: err.message }, leaks: err.leaks.map(leakJson) }, null, 2)}\n`);
		if (err.leaks.length) process.stderr.write(printableLines(`${formatLeaks(err.leaks)}\n\n`));
	}
	process.stderr.write(printableLines(`ckpt: ${errorMessage(err)}${cliHint(err)}\n`));
	if (!(err instanceof CheckpointError)) return 1;
	return err.kind === 'usage' ? 2 : err.kind === 'leaks-refused' ? EXIT_LEAKS_REFUSED : 1;
}

/** How to do with the CLI what a helper message names in protocol terms. */
function cliHint(err: unknown): string {
	if (!(err instanceof CheckpointError)) return '';
	if (err.kind === 'tree-running') return '\nTo replace the running tree, add --kill-running.';
	if (err.kind === 'leaks-refused') return `\n${refusalHint(err.leaks)}`;
	if (err.kind === 'connection-moved-on') return '\nTo restore the connections closed (the program can reconnect), add --tcp-close.';
	return '';
}

/**
 * `ckpt ls | head` closes our stdout early: that is the reader's choice, not
 * a failure, so end quietly as other Unix tools do instead of a stack trace.
 */
function endQuietlyOnClosedStdout(): void {
	process.stdout.on('error', (err: NodeJS.ErrnoException) => {
		if (err.code !== 'EPIPE') throw err;
		process.exit(0);
	});
}

export async function main(argv: string[]): Promise<number> {
	endQuietlyOnClosedStdout();
	let parsed: ReturnType<typeof parse>;
	try {
		parsed = parse(argv);
	} catch (err) {
		process.stderr.write(`ckpt: ${(err as Error).message}\n\n${USAGE}\n`);
		return 2;
	}
	const { options, command, args } = parsed;
	if (options.help || !command) {
		process.stdout.write(`${USAGE}\n`);
		return options.help ? 0 : 2;
	}
	let rules: pb.ILeakRule[];
	try {
		checkArgs(command, args);
		checkOptions(command, args, options);
		rules = policyArg(command, options);
	} catch (err) {
		process.stderr.write(printableLines(`ckpt: ${errorMessage(err)}\n`));
		return 2;
	}
	const spec = options.target ?? process.env.CKPT_TARGET;
	if (command === 'show' || command === 'mem') return inspect(spec, options, (target) => runInspect(command, args[0], target, options));
	if (command === 'diff') return inspect(spec, options, (target) => runDiff(args[0], args[1], target, options));
	if (!spec) {
		process.stderr.write('ckpt: no target: give --target (a connection file, ssh://user@host:port, or local)\n');
		return 2;
	}
	let session: HelperSession | undefined;
	try {
		const target = targetFromSpec(spec, targetFlags(options));
		session = await HelperSession.open(target);
		await runCommand(session, command, args, options, rules, (text, json) => {
			process.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : printableLines(`${text}\n`));
		});
		return 0;
	} catch (err) {
		return reportFailure(err, options.json);
	} finally {
		await session?.close().catch(() => undefined);
	}
}

function targetFlags(options: Options): TargetFlags {
	const helperArgs = [...(options.store ? ['--store', options.store] : []), ...(options.criu ? ['--criu', options.criu] : [])];
	return { identityFile: options.identity, knownHostsFile: options['known-hosts'], helperArgs };
}

/** show, mem and diff: images read from a directory here, or on (or in the store of) the target when one is given. */
async function inspect(spec: string | undefined, options: Options, run: (target: Target | undefined) => Promise<void>): Promise<number> {
	try {
		await run(spec ? targetFromSpec(spec, targetFlags(options)) : undefined);
		return 0;
	} catch (err) {
		return reportFailure(err);
	}
}

if (require.main === module) {
	main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
		process.stderr.write(`ckpt: internal error: ${errorMessage(err)}\n`);
		process.exitCode = 1;
	});
}
