/** Leaks as the helper sends them, for the unit tests of src/core/leaks.ts and the CLI's output. */
import { pb } from '../../src/core/protocol';

const K = pb.LeakKind;
const P = pb.LeakPolicy;

/** A pipe from the tree's writer to a reader outside it, refused by default. */
export function pipeLeak(policy: pb.LeakPolicy = P.LEAK_POLICY_FAIL): pb.Leak {
	return pb.Leak.create({
		kind: K.LEAK_KIND_PIPE,
		resource: 'pipe:[1234]',
		summary: 'a pipe the tree writes into and cat (pid 88) outside reads from',
		inside: [pb.LeakHolder.create({ pid: 101, comm: 'workload', how: 'fd 1 (write end)', hasFd: true, fd: 1, writable: true })],
		outside: [
			pb.LeakHolder.create({ pid: 88, comm: 'cat', how: 'fd 0 (read end)', hasFd: true, fd: 0, readable: true }),
			pb.LeakHolder.create({ pid: 89, comm: 'tee', how: 'fd 0 (read end)', hasFd: true, fd: 0, readable: true }),
		],
		outsideCount: 5,
		risk: 'a restore makes a new pipe that nobody outside holds: what the tree writes after the restore goes nowhere, and the reader sees end of file',
		criu: 'dumps it silently, with the bytes in the pipe\'s buffer',
		policy,
		defaultPolicy: P.LEAK_POLICY_FAIL,
		choices: [
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_FAIL, effect: 'refuse the checkpoint' }),
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_WARN, effect: 'checkpoint it as CRIU does: a restore makes a new pipe; flagged' }),
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_IGNORE, effect: 'the same, not flagged' }),
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_EXTERNAL, criuOption: '--inherit-fd at restore', effect: 'the restored tree gets the same pipe, reopened through a live outside holder' }),
		],
	});
}

/** The host's own UTS namespace: ignored by default. */
export function utsLeak(): pb.Leak {
	return pb.Leak.create({
		kind: K.LEAK_KIND_UTS_NS, resource: 'uts:[4026531838]', summary: 'the host\'s UTS namespace (hostname)',
		inside: [pb.LeakHolder.create({ pid: 101, comm: 'workload', how: 'member' })], outsideCount: 212, hostOwn: true,
		risk: 'a restore inherits the restorer\'s', criu: 'not dumped', policy: P.LEAK_POLICY_IGNORE, defaultPolicy: P.LEAK_POLICY_IGNORE,
		choices: [
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_IGNORE, effect: 'nothing to do' }),
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_WARN, effect: 'flag the checkpoint' }),
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_FAIL, effect: 'refuse the checkpoint' }),
		],
	});
}

/** A tracer outside the tree: nothing but fail. */
export function tracerLeak(): pb.Leak {
	return pb.Leak.create({
		kind: K.LEAK_KIND_TRACER, resource: 'pid 77', summary: 'gdb (pid 77) traces workload (pid 101)',
		inside: [pb.LeakHolder.create({ pid: 101, comm: 'workload', how: 'traced' })],
		outside: [pb.LeakHolder.create({ pid: 77, comm: 'gdb', how: 'tracer' })], outsideCount: 1,
		risk: 'CRIU cannot seize a traced task', criu: 'fails: it cannot seize a traced task',
		policy: P.LEAK_POLICY_FAIL, defaultPolicy: P.LEAK_POLICY_FAIL,
		choices: [pb.LeakChoice.create({ policy: P.LEAK_POLICY_FAIL, effect: 'refuse the checkpoint' })],
	});
}

/** The controlling terminal: fail by default, external takes --shell-job. */
export function ttyLeak(): pb.Leak {
	return pb.Leak.create({
		kind: K.LEAK_KIND_TTY, resource: '/dev/pts/3', summary: 'the controlling terminal',
		inside: [pb.LeakHolder.create({ pid: 101, comm: 'workload', how: 'fd 0, 1, 2' })],
		outside: [pb.LeakHolder.create({ pid: 50, comm: 'bash', how: 'fd 0' })], outsideCount: 1,
		risk: 'a restore needs a terminal', criu: 'fails: "Found dangling tty … Consider using --shell-job"',
		policy: P.LEAK_POLICY_FAIL, defaultPolicy: P.LEAK_POLICY_FAIL,
		choices: [
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_FAIL, effect: 'refuse the checkpoint' }),
			pb.LeakChoice.create({ policy: P.LEAK_POLICY_EXTERNAL, criuOption: '--shell-job', effect: 'the restored tree takes the restorer\'s terminal' }),
		],
	});
}
