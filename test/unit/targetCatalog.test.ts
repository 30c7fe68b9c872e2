/**
 * The hosts a user can pick: ~/.ssh/config entries as OpenSSH computes them
 * (first value wins, wildcards apply, patterns are not hosts), settings
 * entries first, this machine last; a name resolves to its target.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
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
