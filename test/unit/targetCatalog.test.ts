/**
 * The hosts a user can pick: ~/.ssh/config entries as OpenSSH computes them
 * (first value wins, wildcards apply, patterns are not hosts), settings
 * entries first, this machine last; a name resolves to its target.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CheckpointError } from '../../src/core/errors';
import { LOCAL_NAME, sshConfigHosts, TargetCatalog } from '../../src/core/targetCatalog';
import { LocalTarget } from '../../src/core/targets/local';
import { SshTarget } from '../../src/core/targets/ssh';

const CONFIG = `
Host devbox
  HostName 10.0.0.5
  Port 2222
  User dev
  IdentityFile ~/.ssh/id_dev

Host behind
  HostName 192.168.1.9
  ProxyJump devbox

Host *.internal web-?
  User ops

Host db.internal
  Port 2200

Host *
  User fallback
  IdentityFile ~/.ssh/id_default
`;

describe('sshConfigHosts', () => {
	test('concrete hosts with HostName, Port, User, IdentityFile and ProxyJump; patterns left out', () => {
		const hosts = sshConfigHosts(CONFIG);
		assert.deepEqual(hosts.map((h) => h.name), ['devbox', 'behind', 'db.internal']);
		const devbox = hosts[0];
		assert.deepEqual(devbox.ssh, { host: '10.0.0.5', port: 2222, user: 'dev', identityFile: join(homedir(), '.ssh/id_dev') });
		assert.equal(devbox.detail, 'dev@10.0.0.5:2222');
		assert.equal(hosts[1].proxyJump, 'devbox');
		assert.equal(hosts[1].ssh?.user, 'fallback', 'Host * applies where nothing earlier set the value');
		assert.deepEqual(hosts[2].ssh, { host: 'db.internal', port: 2200, user: 'ops', identityFile: join(homedir(), '.ssh/id_default') }, 'a wildcard section before it sets the user');
	});

	test('a Port that is no port number is said, not connected to as NaN; the other hosts stay', () => {
		// Found by the target-spec fuzz target: "Port 22%" in a Host * section gave every host the port NaN.
		const hosts = sshConfigHosts('Host web\n  HostName 10.0.0.5\nHost jump\n  Port 2200\nHost *\n  Port 22%\n');
		assert.deepEqual(hosts.map((h) => [h.name, h.ssh?.port]), [['web', undefined], ['jump', 2200]]);
		assert.match(hosts[0].problem ?? '', /gives web the Port "22%", which is not a port number \(1 to 65535\); fix it there/);
		assert.equal(hosts[0].detail, '10.0.0.5: Port "22%" is not a port number');
		assert.equal(hosts[1].problem, undefined);
		for (const port of ['0', '65536', '0x16', '-1', '2 2']) {
			assert.equal(sshConfigHosts(`Host h\n  Port ${port}\n`)[0].ssh?.port, undefined, `Port ${port}`);
		}
	});

	test('a run of "*" in a Host or Match pattern matches as one star, in linear time', () => {
		// Found by the target-spec fuzz target: "Host web" and 63 stars made ssh-config's regular expression backtrack for minutes.
		const started = Date.now();
		const web = 'web-server-in-the-basement-rack-7';
		const hosts = sshConfigHosts(`Host ${web} ${'*'.repeat(63)}x\n  User a\nHost db\n  HostName ${'y'.repeat(40)}q\nMatch host ${'*'.repeat(40)}q\n  Port 2222\n`);
		assert.deepEqual(hosts.map((h) => [h.name, h.ssh?.user, h.ssh?.port]), [[web, 'a', undefined], ['db', undefined, 2222]]);
		assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
	});

	test('Host patterns are matched by OpenSSH\'s rules in linear time: "?" is one character, runs of "?" do not backtrack', () => {
		// Found by the target-spec fuzz target: "Host *" and 45 "?" then ".corp" made ssh-config's regular expression backtrack past 10 s.
		const started = Date.now();
		const name = 'web-server-in-the-basement-rack-7';
		const hosts = sshConfigHosts(`Host ${name}\n  Port 2200\nHost *${'?'.repeat(45)}.corp !oo??\n  User ops\nHost web-\nHost web-? ${name.slice(0, -1)}?\n  User web\n`);
		assert.deepEqual(hosts.map((h) => [h.name, h.ssh?.user, h.ssh?.port]), [[name, 'web', 2200], ['web-', undefined, undefined]],
			'"web-?" does not take "web-" (ssh-config\'s "?" took none), "...rack-?" takes "...rack-7"');
		assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
	});

	test('an empty HostName leaves the name as the host, not an empty address', () => {
		// Found by the target-spec fuzz target: "HostName" with nothing after it at the end of the file gave host "".
		const hosts = sshConfigHosts('Host jump\n  Port 2200\n  HostName ');
		assert.deepEqual(hosts.map((h) => [h.name, h.ssh?.host, h.detail]), [['jump', 'jump', `${process.env.USER ?? 'root'}@jump:2200`]]);
	});
});

describe('sshConfigHosts: Match lines, by OpenSSH\'s rules', () => {
	/** [name, host, port, user] of each concrete host of the config. */
	const summary = (text: string): [string, string | undefined, number | undefined, string | undefined][] =>
		sshConfigHosts(text).map((h) => [h.name, h.ssh?.host, h.ssh?.port, h.ssh?.user]);
	const me = userInfo().username;

	test('host, originalhost and all', () => {
		const text = 'Host web\n  HostName 10.0.0.5\nHost db\n'
			+ 'Match host 10.0.0.*\n  Port 2201\nMatch originalhost web\n  User ops\nMatch all\n  User everyone\n  IdentityFile ~/.ssh/id_all\n';
		assert.deepEqual(summary(text), [['web', '10.0.0.5', 2201, 'ops'], ['db', 'db', undefined, 'everyone']]);
		assert.equal(sshConfigHosts(text)[1].ssh?.identityFile, join(homedir(), '.ssh/id_all'));
	});

	test('"Match host" sees the HostName given by the lines before it, not by those after', () => {
		const text = 'Host a\n  HostName real.example\nMatch host real.example\n  Port 2202\nMatch host a\n  User not-a\n'
			+ 'Match host c\n  User c-before-hostname\nHost c\n  HostName late.example\nMatch host late.example\n  Port 2204\n';
		assert.deepEqual(summary(text), [['a', 'real.example', 2202, undefined], ['c', 'late.example', 2204, 'c-before-hostname']]);
	});

	test('"Match user": the User given so far, else the local user, in exact case; "Match localuser": the local user', () => {
		const text = 'Host u1\n  User alice\nHost u2\nHost u3\n  User Alice\n'
			+ 'Match user alice\n  Port 2205\nMatch user ' + me + '\n  Port 2206\nMatch localuser ' + me + ',nobody-else\n  IdentityFile ~/.ssh/id_local\n'
			+ 'Match localuser ' + me.toUpperCase() + 'x\n  User never\n';
		assert.deepEqual(summary(text), [['u1', 'u1', 2205, 'alice'], ['u2', 'u2', 2206, undefined], ['u3', 'u3', undefined, 'Alice']]);
		for (const h of sshConfigHosts(text)) assert.equal(h.ssh?.identityFile, join(homedir(), '.ssh/id_local'));
	});

	test('"!" negates a criterion; several criteria must all hold; criterion=argument is one criterion', () => {
		const text = 'Host web\nHost db\n  User dbadmin\n'
			+ 'Match !host web\n  Port 2207\nMatch host web user ' + me + ' originalhost web\n  User both\nMatch host db user nobody\n  IdentityFile ~/.ssh/never\n'
			+ 'Match host=db !user=root\n  HostName db.example\n';
		assert.deepEqual(summary(text), [['web', 'web', undefined, 'both'], ['db', 'db.example', 2207, 'dbadmin']]);
		assert.equal(sshConfigHosts(text)[1].ssh?.identityFile, undefined);
	});

	test('comma-separated pattern lists with "!pattern" negations; "?" is exactly one character', () => {
		const text = 'Host web.corp db.corp web-1 web- web-12\nMatch host *.corp,!db.corp\n  User corp\nMatch originalhost web-?\n  Port 2208\n';
		assert.deepEqual(summary(text), [
			['web.corp', 'web.corp', undefined, 'corp'], ['db.corp', 'db.corp', undefined, undefined],
			['web-1', 'web-1', 2208, undefined], ['web-', 'web-', undefined, undefined], ['web-12', 'web-12', undefined, undefined],
		], 'ssh-config\'s "?" (".?") took "web-"');
	});

	test('exec is never run and its line does not apply, negated or not; "all" among other criteria does not apply', () => {
		const dir = mkdtempSync(join(tmpdir(), 'ckpt-match-exec-'));
		try {
			const marker = join(dir, 'ran');
			const text = `Host web\nMatch exec "touch ${marker}"\n  Port 2209\nMatch !exec "touch ${marker}"\n  User ran\nMatch host web exec true\n  HostName ran.example\nMatch all host web\n  IdentityFile ~/.ssh/never\n`;
			assert.deepEqual(summary(text), [['web', 'web', undefined, undefined]]);
			assert.equal(sshConfigHosts(text)[0].ssh?.identityFile, undefined);
			assert.ok(!existsSync(marker), 'the exec command was run');
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test('canonical and final: false in a single read; "Match final" or CanonicalizeHostName makes a final pass, as ssh does', () => {
		assert.deepEqual(summary('Host h\nMatch canonical\n  Port 2210\nMatch !canonical !final\n  User once\n'), [['h', 'h', undefined, 'once']]);
		// The final pass: values given stay; the host is the HostName (Host lines and "Match host" see it); a HostName first given there changes nothing.
		const text = 'Host fin\n  HostName fin.example\nHost plain\nHost fin.example\n  Port 2211\n'
			+ 'Match final host fin.example\n  User late\nMatch final\n  HostName other.example\n  User final\nMatch canonical\n  IdentityFile ~/.ssh/id_canonical\n';
		assert.deepEqual(summary(text), [['fin', 'fin.example', 2211, 'late'], ['plain', 'plain', undefined, 'final'], ['fin.example', 'fin.example', 2211, 'late']]);
		for (const h of sshConfigHosts(text)) assert.equal(h.ssh?.identityFile, join(homedir(), '.ssh/id_canonical'));
		const canonical = (setting: string): string | undefined => sshConfigHosts(`Host h\n  CanonicalizeHostName ${setting}\nMatch canonical\n  User canonical\n`)[0].ssh?.user;
		assert.deepEqual(['yes', 'always', 'no'].map(canonical), ['canonical', 'canonical', undefined]);
	});

	test('patterns that made regular expressions backtrack exponentially are decided right, in linear time', { timeout: 5000 }, () => {
		// As ssh-config's compute matched them, each of these took longer than the test's timeout.
		const long = 'y'.repeat(70);
		const text = (pattern: string, tail: string): string =>
			`Host ${long}${tail}\n  User ${long}${tail}\nMatch host ${pattern}\n  Port 2212\nMatch user ${pattern}\n  HostName matched.example\n`;
		for (const pattern of [`*${'?'.repeat(60)}x`, `${'*?'.repeat(60)}x`, `*${'?'.repeat(30)}*${'?'.repeat(30)}x`]) {
			assert.deepEqual(summary(text(pattern, 'q')), [[`${long}q`, `${long}q`, undefined, `${long}q`]], pattern);
			assert.deepEqual(summary(text(pattern, 'x')), [[`${long}x`, 'matched.example', 2212, `${long}x`]], pattern);
		}
		// Exactly sixty characters, no more, no fewer.
		assert.deepEqual(summary(`Host ${'y'.repeat(60)} ${'y'.repeat(59)}\nMatch host ${'?'.repeat(60)}\n  Port 2213\n`).map((h) => h[2]), [2213, undefined]);
	});
});

describe('TargetCatalog', () => {
	const dir = mkdtempSync(join(tmpdir(), 'ckpt-catalog-'));
	const config = join(dir, 'config');
	writeFileSync(config, CONFIG);
	after(() => rmSync(dir, { recursive: true, force: true }));

	test('settings first (their names win), then ~/.ssh/config, then this machine', () => {
		const catalog = new TargetCatalog(() => [{ name: 'devbox', host: 'override.example', user: 'me' }, { host: 'plain.example', port: 22 }], config);
		const entries = catalog.entries();
		assert.deepEqual(entries.map((e) => `${e.name}:${e.source}`), ['devbox:settings', 'plain.example:settings', 'behind:ssh-config', 'db.internal:ssh-config', `${LOCAL_NAME}:local`]);
		assert.equal(entries[0].detail, 'me@override.example:22');
	});

	test('names open their targets; specs still work; ProxyJump chains through the hops', () => {
		const catalog = new TargetCatalog(() => [], config);
		const devbox = catalog.open('devbox');
		assert.ok(devbox instanceof SshTarget);
		assert.equal(devbox.description, 'dev@10.0.0.5:2222');
		assert.ok(catalog.open(LOCAL_NAME) instanceof LocalTarget);
		assert.equal(catalog.open('ssh://root@example.org:2022').description, 'root@example.org:2022');
		assert.equal(catalog.open('behind').description, 'fallback@192.168.1.9:22 via dev@10.0.0.5:2222');
	});

	test('ProxyJump: several hops, written hops, and loops refused', () => {
		const chained = join(dir, 'chained');
		writeFileSync(chained, `${CONFIG}\nHost far\n  HostName 10.9.9.9\n  ProxyJump devbox,jumper@gate.example:2022\nHost loop1\n  ProxyJump loop2\nHost loop2\n  ProxyJump loop1\n`);
		const catalog = new TargetCatalog(() => [], chained);
		assert.equal(catalog.open('far').description, 'fallback@10.9.9.9:22 via jumper@gate.example:2022 via dev@10.0.0.5:2222');
		assert.throws(() => catalog.open('loop1'), (err: unknown) => err instanceof CheckpointError && /ProxyJump loops through loop1/.test(err.message));
	});

	test('a configured criuPath is handed to the helper as --criu; without it the helper finds its own', () => {
		const catalog = new TargetCatalog(() => [{ name: 'newer', host: 'h.example', criuPath: '/opt/criu/sbin/criu' }, { host: 'plain.example' }], config);
		const [newer, plain] = catalog.entries();
		assert.deepEqual(newer.ssh?.helperArgs, ['--criu', '/opt/criu/sbin/criu']);
		assert.equal(plain.ssh?.helperArgs, undefined);
	});

	test('a host whose Port is no port number is refused when opened, directly or as a ProxyJump hop', () => {
		const badPort = join(dir, 'bad-port');
		writeFileSync(badPort, 'Host odd\n  Port 70000\nHost behind-odd\n  ProxyJump odd\nHost far-gate\n  ProxyJump gate.example:99999\n');
		const catalog = new TargetCatalog(() => [], badPort);
		const refused = (err: unknown): boolean => err instanceof CheckpointError && err.kind === 'usage' && /Port "70000", which is not a port number/.test(err.message);
		assert.throws(() => catalog.open('odd'), refused);
		assert.throws(() => catalog.open('behind-odd'), refused);
		assert.throws(() => catalog.open('far-gate'), (err: unknown) => err instanceof CheckpointError && /hop "gate.example:99999" has the port 99999, which is not a port number/.test(err.message));
	});

	test('a missing or unreadable ssh config means no hosts from it', () => {
		const catalog = new TargetCatalog(() => [], join(dir, 'absent'));
		assert.deepEqual(catalog.entries().filter((e) => e.source === 'ssh-config'), []);
	});
});
