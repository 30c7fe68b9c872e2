/**
 * What the end-to-end tests stand on: a real VS Code (code-server 4.100.3,
 * which is VS Code 1.100, installed by scripts/setup-vscode.sh), served on
 * loopback and driven in Debian's chromium through playwright-core.
 *
 * Every process started here is stopped by its pid (code-server with all its
 * descendants, chromium through its launch server), and every run's logs and
 * screenshots are kept in one output folder, printed when a test fails.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserServer, type Locator, type Page } from 'playwright-core';
import { escapeRegExp } from '../integration/harness';

const execFileAsync = promisify(execFile);

export const CODE_SERVER_VERSION = '4.100.3';
const CHROMIUM = '/usr/bin/chromium';
const DEFAULT_OUTPUT_ROOT = '/tmp/checkpoint-debugger-e2e';

/**
 * code-server's binary where scripts/setup-vscode.sh installs it (its cache
 * directory, CHECKPOINT_DEBUGGER_CACHE, default /var/cache/checkpoint-debugger),
 * or CKPT_CODE_SERVER when set.
 */
export function codeServerBinary(): string {
	const override = process.env.CKPT_CODE_SERVER;
	const cache = process.env.CHECKPOINT_DEBUGGER_CACHE ?? '/var/cache/checkpoint-debugger';
	const path = override ?? join(cache, `code-server-${CODE_SERVER_VERSION}`, 'node_modules', '.bin', 'code-server');
	if (!existsSync(path)) {
		throw new Error(override
			? `CKPT_CODE_SERVER is ${override}, which does not exist`
			: `no code-server at ${path}: install it with "bash scripts/setup-vscode.sh" (as root)`);
	}
	return path;
}

/**
 * A fresh folder for one run's logs, screenshots and VS Code folders:
 * $CKPT_E2E_OUTPUT (default /tmp/checkpoint-debugger-e2e)/<time>-<name>-<pid>.
 */
export function e2eOutputDir(name: string): string {
	const root = process.env.CKPT_E2E_OUTPUT ?? DEFAULT_OUTPUT_ROOT;
	const stamp = new Date().toISOString().replace(/[:.]/g, '-');
	const dir = join(root, `${stamp}-${name}-${process.pid}`);
	mkdirSync(dir, { recursive: true });
	return dir;
}

/** The folders one code-server keeps its state in. */
export interface CodeServerDirs {
	extensionsDir: string;
	userDataDir: string;
}

/** An extensions folder and a user data folder under parent (an output folder, say), new and empty. */
export function freshDirs(parent: string): CodeServerDirs {
	const dirs = { extensionsDir: join(parent, 'extensions'), userDataDir: join(parent, 'user-data') };
	for (const dir of Object.values(dirs)) {
		if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`${dir} is not empty`);
		mkdirSync(dir, { recursive: true });
	}
	return dirs;
}

/** code-server's environment: none of the variables that would send it to another instance or port. */
function codeServerEnv(): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = {};
	for (const [key, value] of Object.entries(process.env)) {
		if (key.startsWith('VSCODE_') || ['PORT', 'PASSWORD', 'HASHED_PASSWORD', 'GITHUB_TOKEN'].includes(key)) continue;
		env[key] = value;
	}
	return env;
}

/** code-server's own config file in the user data folder, so that ~/.config/code-server is neither read nor written. */
function writeCodeServerConfig(userDataDir: string): string {
	const path = join(userDataDir, 'code-server.yaml');
	writeFileSync(path, 'auth: none\ncert: false\n');
	return path;
}

/**
 * Installs a .vsix into the extensions folder with code-server's
 * --install-extension (a folder merely copied there is not loaded: the
 * folder keeps a registry, extensions.json).
 */
export async function installExtension(vsix: string, dirs: CodeServerDirs): Promise<void> {
	if (!existsSync(vsix)) throw new Error(`no extension package at ${vsix}`);
	mkdirSync(dirs.extensionsDir, { recursive: true });
	mkdirSync(dirs.userDataDir, { recursive: true });
	const args = [
		'--config', writeCodeServerConfig(dirs.userDataDir),
		'--extensions-dir', dirs.extensionsDir, '--user-data-dir', dirs.userDataDir,
		'--install-extension', vsix, '--force',
	];
	const binary = codeServerBinary();
	let out: { stdout: string; stderr: string };
	try {
		out = await execFileAsync(binary, args, { env: codeServerEnv(), timeout: 120_000 });
	} catch (err) {
		const e = err as { stdout?: string; stderr?: string; message: string };
		throw new Error(`code-server --install-extension ${vsix} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
	}
	if (!/successfully installed/i.test(out.stdout + out.stderr)) {
		throw new Error(`code-server --install-extension ${vsix} did not say it installed it:\n${out.stdout}${out.stderr}`);
	}
}

export interface CodeServerOptions extends CodeServerDirs {
	/** The folder VS Code opens. */
	workspace: string;
	/** Where code-server.log goes. */
	outputDir: string;
	/** User settings on top of the harness's own (no workspace trust, no start-up editor, no telemetry). */
	settings?: Record<string, unknown>;
	/** How long code-server may take to answer HTTP; default 60 s. */
	startTimeoutMs?: number;
}

export interface CodeServer {
	/** The workbench with the workspace open: http://localhost:PORT/?folder=... */
	url: string;
	port: number;
	pid: number;
	logFile: string;
	/** Stops code-server and every process it started; waits until they are gone. Safe to call twice. */
	stop(): Promise<void>;
}

/** Settings that keep a fresh VS Code from showing anything a test did not ask for. */
const HARNESS_SETTINGS: Record<string, unknown> = {
	'security.workspace.trust.enabled': false,
	'workbench.startupEditor': 'none',
	'telemetry.telemetryLevel': 'off',
	'update.mode': 'none',
	'extensions.autoCheckUpdates': false,
	'extensions.autoUpdate': false,
	'extensions.ignoreRecommendations': true,
	'workbench.enableExperiments': false,
	'workbench.tips.enabled': false,
	'workbench.welcomePage.walkthroughs.openOnInstall': false,
	'git.enabled': false,
	// A group's sticky header lies over the rows below it while they scroll in, and swallows their hover and clicks.
	'workbench.tree.enableStickyScroll': false,
};

/** A port that is free on loopback now (code-server takes it right after). */
async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			const port = typeof address === 'object' && address ? address.port : 0;
			server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
		});
	});
}

/** The HTTP status of GET url, or undefined when nothing answers. */
function httpStatus(url: string): Promise<number | undefined> {
	return new Promise((resolve) => {
		const req = request(url, { timeout: 2000 }, (res) => {
			res.resume();
			resolve(res.statusCode);
		});
		req.once('timeout', () => req.destroy());
		req.once('error', () => resolve(undefined));
		req.end();
	});
}

/** The last lines of a log file, for error messages. */
export function logTail(path: string, lines = 30): string {
	try {
		return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
	} catch {
		return '(no log)';
	}
}

/** pid's descendants, children first then theirs, from /proc. */
function descendants(pid: number): number[] {
	const children = new Map<number, number[]>();
	for (const name of readdirSync('/proc')) {
		if (!/^\d+$/.test(name)) continue;
		let stat: string;
		try {
			stat = readFileSync(`/proc/${name}/stat`, 'utf8');
		} catch {
			continue; // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
		const list = children.get(ppid) ?? [];
		list.push(Number(name));
		children.set(ppid, list);
	}
	const found: number[] = [];
	for (let queue = [pid]; queue.length > 0;) {
		const next = queue.shift() ?? 0;
		for (const child of children.get(next) ?? []) {
			found.push(child);
			queue.push(child);
		}
	}
	return found;
}

/** Whether pid is a process that still runs (a zombie does not). */
function isAlive(pid: number): boolean {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
	} catch {
		return false;
	}
}

function signal(pids: number[], sig: NodeJS.Signals): void {
	for (const pid of pids) {
		try {
			process.kill(pid, sig);
		} catch {
			// already gone
		}
	}
}

/** pid and its descendants, to be stopped with stopPids. */
function processTree(pid: number | undefined): number[] {
	return pid === undefined ? [] : [pid, ...descendants(pid)];
}

/** SIGTERM to those of pids that still run, SIGKILL to whatever is left after graceMs; resolves once all are gone. */
async function stopPids(pids: number[], graceMs: number): Promise<void> {
	signal(pids.filter(isAlive), 'SIGTERM');
	const deadline = Date.now() + graceMs;
	while (Date.now() < deadline && pids.some(isAlive)) await sleep(100);
	const left = pids.filter(isAlive);
	if (left.length > 0) {
		signal(left, 'SIGKILL');
		while (left.some(isAlive)) await sleep(50);
	}
}

/**
 * Stops a child process and all its descendants (found before the first
 * signal, so that those re-parented away when it dies are still reached):
 * SIGTERM, then SIGKILL for whatever is left after graceMs. Resolves once all
 * of them are gone and the child's exit has been seen.
 */
export async function stopProcessTree(child: ChildProcess, graceMs = 5000): Promise<void> {
	const exited = child.exitCode !== null || child.signalCode !== null
		? Promise.resolve()
		: new Promise<void>((resolve) => child.once('exit', () => resolve()));
	await stopPids(processTree(child.pid), graceMs);
	await exited;
}

/** code-server could not listen on the port it was given: another process took it. */
class PortTaken extends Error {}

/**
 * Starts code-server on a free loopback port with the workspace open,
 * --auth none, its own user data and extensions folders, and its output in
 * outputDir/code-server.log. Resolves once it answers HTTP.
 */
export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
	const { extensionsDir, userDataDir, outputDir } = options;
	mkdirSync(join(userDataDir, 'User'), { recursive: true });
	mkdirSync(extensionsDir, { recursive: true });
	mkdirSync(outputDir, { recursive: true });
	writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...HARNESS_SETTINGS, ...options.settings }, null, '\t'));
	// The port is free when picked; another process may take it before code-server does.
	for (let attempt = 1; ; attempt++) {
		try {
			return await launchCodeServer(options, await freePort());
		} catch (err) {
			if (!(err instanceof PortTaken) || attempt === 3) throw err;
		}
	}
}


async function launchCodeServer(options: CodeServerOptions, port: number): Promise<CodeServer> {
	const { workspace, extensionsDir, userDataDir, outputDir } = options;
	const logFile = join(outputDir, 'code-server.log');
	const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
	const log = (): string => readFileSync(logFile, 'utf8').slice(logStart);
	const logFd = openSync(logFile, 'a');
	const child = spawn(codeServerBinary(), [
		'--config', writeCodeServerConfig(userDataDir),
		'--bind-addr', `127.0.0.1:${port}`,
		'--auth', 'none',
		'--user-data-dir', userDataDir,
		'--extensions-dir', extensionsDir,
		'--disable-telemetry',
		'--disable-update-check',
		'--disable-workspace-trust',
		'--disable-getting-started-override',
		workspace,
	], { env: codeServerEnv(), stdio: ['ignore', logFd, logFd] });
	closeSync(logFd);
	let spawnError: Error | undefined;
	child.once('error', (err) => { spawnError = err; });

	let stopping: Promise<void> | undefined;
	const server: CodeServer = {
		url: `http://localhost:${port}/?folder=${encodeURIComponent(workspace)}`,
		port,
		pid: child.pid ?? -1,
		logFile,
		stop: () => (stopping ??= stopProcessTree(child)),
	};
	const timeoutMs = options.startTimeoutMs ?? 60_000;
	const deadline = Date.now() + timeoutMs;
	// Its own log says when it listens: an answer on the port before that would be another server's.
	const listening = `HTTP server listening on http://127.0.0.1:${port}/`;
	try {
		for (;;) {
			if (spawnError) throw spawnError;
			if (child.exitCode !== null || child.signalCode !== null) {
				const message = `code-server exited (${child.exitCode ?? child.signalCode}) before answering`;
				throw log().includes('EADDRINUSE') ? new PortTaken(message) : new Error(message);
			}
			if (log().includes(listening) && (await httpStatus(`http://127.0.0.1:${port}/healthz`)) === 200) return server;
			if (Date.now() > deadline) throw new Error(`code-server did not answer on port ${port} within ${timeoutMs} ms`);
			await sleep(200);
		}
	} catch (err) {
		await server.stop();
		const message = `${(err as Error).message}; its log (${logFile}) ends:\n${logTail(logFile)}`;
		throw err instanceof PortTaken ? new PortTaken(message) : new Error(message);
	}
}

export interface Workbench {
	page: Page;
	/** Saves a PNG of the page as outputDir/<name>.png; returns its path. */
	screenshot(name: string): Promise<string>;
	/** Closes the browser and stops chromium. Safe to call twice. */
	close(): Promise<void>;
}

/**
 * Opens the workbench at url in Debian's chromium (headless, through a
 * playwright launch server, so that its pid is known) and waits for it to be
 * drawn. The page's console goes to outputDir/browser-console.log.
 */
export async function openWorkbench(url: string, outputDir: string, timeoutMs = 60_000): Promise<Workbench> {
	mkdirSync(outputDir, { recursive: true });
	const browserServer: BrowserServer = await chromium.launchServer({
		executablePath: CHROMIUM,
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
	});
	let browser: Browser | undefined;
	let closing: Promise<void> | undefined;
	const close = (): Promise<void> => (closing ??= (async () => {
		// Its processes are listed first: those that outlive a failed close are stopped by pid.
		const pids = processTree(browserServer.process().pid);
		await browser?.close().catch(() => undefined);
		await Promise.race([browserServer.close(), sleep(5000)]).catch(() => undefined);
		await stopPids(pids, 2000);
	})());
	try {
		browser = await chromium.connect(browserServer.wsEndpoint());
		const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
		page.setDefaultTimeout(30_000);
		const consoleLog = createWriteStream(join(outputDir, 'browser-console.log'), { flags: 'a' });
		page.on('console', (m) => consoleLog.write(`[${m.type()}] ${m.text()}\n`));
		page.on('pageerror', (e) => consoleLog.write(`[pageerror] ${e.message}\n`));
		page.on('close', () => consoleLog.end());
		await page.goto(url, { timeout: timeoutMs });
		await page.locator('div.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
		return {
			page,
			async screenshot(name: string): Promise<string> {
				const path = join(outputDir, `${name}.png`);
				await page.screenshot({ path });
				return path;
			},
			close,
		};
	} catch (err) {
		await close();
		throw err;
	}
}

/**
 * The little of the page's DOM that the functions run in the page use (the
 * project compiles without the DOM library; these run in chromium).
 */
interface PageElement {
	getAttribute(name: string): string | null;
	readonly textContent: string | null;
	readonly style: { readonly top: string };
}
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement> };

/** A regular expression, carried into the page. */
interface PatternSource {
	source: string;
	flags: string;
}

function patternSource(re: RegExp): PatternSource {
	return { source: re.source, flags: re.flags.replace('g', '') };
}

const QUICK_INPUT = '.quick-input-widget';
const QUICK_INPUT_BOX = `${QUICK_INPUT} .quick-input-box input`;
const QUICK_INPUT_ROW = `${QUICK_INPUT} .quick-input-list .monaco-list-row`;

export { escapeRegExp };

/** Types text into the quick input, once it is open. */
async function fillQuickInput(page: Page, text: string): Promise<void> {
	const input = page.locator(QUICK_INPUT_BOX);
	await input.waitFor({ state: 'visible' });
	await input.fill(text);
}

/** Waits until the quick input has closed, or shows something other than text (a command opened another picker). */
async function quickInputDone(page: Page, text: string, timeoutMs = 10_000): Promise<void> {
	const input = page.locator(QUICK_INPUT_BOX);
	const deadline = Date.now() + timeoutMs;
	while (await page.locator(QUICK_INPUT).isVisible() && (await input.inputValue()) === text) {
		if (Date.now() > deadline) throw new Error(`the quick input still shows "${text}" after ${timeoutMs} ms`);
		await sleep(50);
	}
}

/**
 * Runs a command from the command palette (F1), named by its title as the
 * palette shows it ("View: Toggle Terminal", "Go to File") or by its id
 * (the palette then shows that command first, and similar ones after it).
 */
export async function runCommand(page: Page, titleOrId: string): Promise<void> {
	await page.keyboard.press('F1');
	const text = `>${titleOrId}`;
	await fillQuickInput(page, text);
	const isId = !/\s/.test(titleOrId) && titleOrId.includes('.');
	if (isId) {
		// The palette lists nothing until it has loaded the commands, then the match first, focused.
		await listRow(page, `${QUICK_INPUT_ROW}.focused`, /./);
		await page.keyboard.press('Enter');
	} else {
		// The row's aria-label is the title, "..." where it opens something, then its key binding.
		const row = await listRow(page, QUICK_INPUT_ROW, new RegExp(`^${escapeRegExp(titleOrId)}(\\.\\.\\.)?(,|$)`));
		await row.click();
	}
	await quickInputDone(page, text);
}

/**
 * Opens a file of the workspace through quick open ("Go to File"), by its
 * name as quick open finds it, and waits for its editor tab.
 */
export async function openFile(page: Page, fileName: string): Promise<void> {
	await runCommand(page, 'Go to File');
	await fillQuickInput(page, fileName);
	const row = await listRow(page, QUICK_INPUT_ROW, new RegExp(`^${escapeRegExp(fileName)}\\b`));
	await row.click();
	await quickInputDone(page, fileName);
	await page.locator('.tabs-container .tab', { hasText: fileName }).first().waitFor({ state: 'visible' });
}

/** The text the focused (or only) editor shows, lines joined with \n. */
export async function editorText(page: Page): Promise<string> {
	const editor = page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
	await editor.waitFor({ state: 'visible' });
	return page.evaluate(() => Array.from(document.querySelectorAll('.editor-group-container.active .monaco-editor .view-lines .view-line'))
		.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
		.map((line) => (line.textContent ?? '').replace(/\u00a0/g, ' '))
		.join('\n'));
}

/** The first row (rowSelector) whose aria-label matches, once there is one. */
async function listRow(page: Page, rowSelector: string, ariaLabel: RegExp, timeoutMs = 30_000): Promise<Locator> {
	const handle = await page.waitForFunction(({ selector, pattern }: { selector: string; pattern: PatternSource }) => {
		const re = new RegExp(pattern.source, pattern.flags);
		for (const row of Array.from(document.querySelectorAll(`${selector}[aria-label]`))) {
			const label = row.getAttribute('aria-label') ?? '';
			if (re.test(label)) return label;
		}
		return undefined;
	}, { selector: rowSelector, pattern: patternSource(ariaLabel) }, { timeout: timeoutMs }).catch(async (err: unknown) => {
		const rows = await page.evaluate((selector: string) => Array.from(document.querySelectorAll(`${selector}[aria-label]`))
			.map((row) => row.getAttribute('aria-label') ?? ''), rowSelector).catch(() => []);
		const shown = rows.length ? rows.map((label) => `\n    ${label}`).join('') : ' none';
		throw new Error(`no row ${ariaLabel} (${rowSelector}) after ${timeoutMs} ms; the rows shown:${shown}`, { cause: err });
	});
	const label = String(await handle.jsonValue());
	return page.locator(`${rowSelector}[aria-label=${JSON.stringify(label)}]`).first();
}

/**
 * A row of a list or tree (`.monaco-list-row`) whose aria-label matches: the
 * rows are virtualised (only those in view exist), so they are found by label,
 * not by position. Waits for one to appear.
 */
export function treeRow(page: Page, ariaLabel: RegExp, timeoutMs = 30_000): Promise<Locator> {
	return listRow(page, '.monaco-list-row', ariaLabel, timeoutMs);
}

/**
 * Waits for a notification whose message matches to be shown: a toast that
 * has faded in (so that a screenshot shows it), or one in the notification
 * centre when that is open. Returns its message.
 */
export async function waitForNotification(page: Page, message: RegExp, timeoutMs = 30_000): Promise<string> {
	const messages = '.notification-toast.notification-fade-in-done .notification-list-item-message, .notifications-center .notification-list-item-message';
	const shown = page.locator(messages, { hasText: message }).first();
	await shown.waitFor({ state: 'visible', timeout: timeoutMs });
	return (await shown.textContent()) ?? '';
}

export interface E2eOpenOptions {
	/** The folder VS Code opens. */
	workspace: string;
	/** A .vsix to install first. */
	vsix?: string;
	/** User settings on top of the harness's own. */
	settings?: Record<string, unknown>;
}

const EXTENSION_LOG_LINES = 30;

/** Adds lines to an error's message, and to its stack, which the test runner prints and which holds the message as it was. */
function appendToMessage(err: Error, text: string): void {
	const before = err.message;
	err.message = `${before}\n${text}`;
	if (err.stack?.includes(before)) err.stack = err.stack.replace(before, err.message);
}

/**
 * Every notification of the session, newest first, as the notification
 * centre lists them (toasts leave the page once they hide): the centre is
 * opened for that and closed again.
 */
async function notificationHistory(page: Page): Promise<string[]> {
	await page.keyboard.press('Escape');
	await runCommand(page, 'notifications.showList');
	const items = '.notifications-center .notification-list-item-message';
	await page.locator('.notifications-center').waitFor({ state: 'visible', timeout: 5_000 });
	const texts = await page.evaluate((selector: string) => Array.from(document.querySelectorAll(selector)).map((message) => message.textContent ?? ''), items);
	await runCommand(page, 'notifications.hideList');
	return texts;
}

/** What the extension wrote to its output channel ("Checkpoint Debugger") in this run, from code-server's logs. */
export function extensionLog(outputDir: string): string {
	const logs = join(outputDir, 'user-data', 'logs');
	const found: string[] = [];
	const walk = (dir: string): void => {
		for (const entry of readdirSync(dir, { withFileTypes: true })) {
			const path = join(dir, entry.name);
			if (entry.isDirectory()) walk(path);
			else if (/^\d+-Checkpoint Debugger\.log$/.test(entry.name)) found.push(path);
		}
	};
	if (existsSync(logs)) walk(logs);
	return found.sort().map((path) => readFileSync(path, 'utf8').trimEnd()).join('\n');
}

/**
 * The bookkeeping of one end-to-end suite: its output folder, its code-server
 * and workbench, and whether anything failed. Used as
 *
 *     const run = new E2eRun('name');
 *     before(() => run.guard(() => run.open({ workspace, vsix })));
 *     after(() => run.finish());
 *     test('...', run.step(async (wb) => { ... }));
 *
 * finish() keeps a last screenshot (failure.png) when something failed,
 * stops chromium and code-server, and prints where the output is.
 */
export class E2eRun {
	readonly outputDir: string;
	server: CodeServer | undefined;
	workbench: Workbench | undefined;
	failed = false;
	private failedSteps = 0;

	constructor(name: string) {
		this.outputDir = e2eOutputDir(name);
	}

	/** Runs body (a hook, say); a throw marks the run failed and is passed on. */
	async guard<T>(body: () => Promise<T>): Promise<T> {
		try {
			return await body();
		} catch (err) {
			this.failed = true;
			throw err;
		}
	}

	/**
	 * A test body that is given the open workbench; a throw marks the run
	 * failed. Its message then also says what the workbench showed and what the
	 * extension logged: a CI log keeps the failures' messages, not the output folder.
	 */
	step(body: (workbench: Workbench) => Promise<void>): () => Promise<void> {
		return () => this.guard(async () => {
			const workbench = this.workbench;
			if (!workbench) throw new Error('no workbench: the set-up failed');
			try {
				await body(workbench);
			} catch (err) {
				// what the step saw as it failed (failure.png is the end of the run, after later steps)
				this.failedSteps++;
				await workbench.screenshot(`failed-step-${this.failedSteps}`).catch(() => undefined);
				if (err instanceof Error) appendToMessage(err, await this.whatWasShown(workbench.page));
				throw err;
			}
		});
	}

	/** The notifications in the workbench and the end of the extension's output channel, as text. */
	private async whatWasShown(page: Page): Promise<string> {
		const notifications = await notificationHistory(page).catch((err: unknown) => [`(the page could not be read: ${String(err)})`]);
		const log = extensionLog(this.outputDir).split('\n').slice(-EXTENSION_LOG_LINES).join('\n    ');
		return [
			`notifications in the workbench: ${notifications.length ? notifications.map((text) => `\n    ${text}`).join('') : 'none'}`,
			`the extension's output channel, its last lines:\n    ${log || '(empty)'}`,
		].join('\n');
	}

	/**
	 * Fresh extensions and user data folders in the output folder, the .vsix
	 * installed there, code-server started on the workspace and the workbench
	 * opened on it.
	 */
	async open(options: E2eOpenOptions): Promise<Workbench> {
		const dirs = freshDirs(this.outputDir);
		if (options.vsix) await installExtension(options.vsix, dirs);
		this.server = await startCodeServer({ ...dirs, workspace: options.workspace, outputDir: this.outputDir, settings: options.settings });
		this.workbench = await openWorkbench(this.server.url, this.outputDir);
		return this.workbench;
	}

	/** For the after hook: failure.png if something failed, chromium and code-server stopped, the output folder named. */
	async finish(): Promise<void> {
		if (this.failed) await this.workbench?.screenshot('failure').catch(() => undefined);
		await this.workbench?.close();
		await this.server?.stop();
		if (this.failed) console.error(`e2e output (logs, screenshots): ${this.outputDir}`);
	}
}
