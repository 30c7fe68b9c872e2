/**
 * Connections to targets for the whole editor: one helper session per host,
 * shared by the Targets view, debug sessions and the image browser. Opening
 * one shows progress (cancellable), logs to the output channel, and asks
 * about unknown host keys (a changed key is refused, with the reason).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { CheckpointError, errorMessage } from '../core/errors';
import type { HelperSession } from '../core/session';
import { SessionPool } from '../core/sessionPool';
import { TargetCatalog, type ConfiguredHost } from '../core/targetCatalog';
import { UnknownHostKeyError } from '../core/targets/ssh';
import type { SessionProvider } from '../debug/liveSession';

export class Connections implements SessionProvider, vscode.Disposable {
	readonly catalog = new TargetCatalog(() => vscode.workspace.getConfiguration('checkpoint').get<ConfiguredHost[]>('targets') ?? []);
	private readonly pool = new SessionPool((name) => this.catalog.open(name));
	private readonly changed = new vscode.EventEmitter<void>();
	/** Fires when a connection opens or closes. */
	readonly onDidChange = this.changed.event;

	constructor(readonly output: vscode.OutputChannel) {}

	/** A session on the named target, connecting (with progress, and host key questions) when there is none. */
	async acquire(name: string): Promise<HelperSession> {
		for (let attempt = 0; ; attempt++) {
			try {
				// An open connection is reused at once: no progress to flash.
				const session = this.isConnected(name) ? await this.pool.acquire(name) : await this.withProgress(name, () => this.pool.acquire(name));
				this.changed.fire();
				return session;
			} catch (err) {
				this.output.appendLine(`${name}: ${errorMessage(err)}`);
				if (err instanceof UnknownHostKeyError && attempt === 0 && (await this.trustHostKey(err))) continue;
				throw err;
			}
		}
	}

	async release(session: HelperSession): Promise<void> {
		await this.pool.release(session);
		this.changed.fire();
	}

	isConnected(name: string): boolean {
		return this.pool.specs.includes(name);
	}

	dispose(): void {
		void this.pool.closeAll();
		this.changed.dispose();
	}

	private async withProgress(name: string, work: () => Promise<HelperSession>): Promise<HelperSession> {
		return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Checkpoint: connecting to ${name}`, cancellable: true }, (_progress, token) =>
			new Promise<HelperSession>((resolve, reject) => {
				const cancelled = token.onCancellationRequested(() => reject(new CheckpointError('connection', `connecting to ${name} was cancelled`)));
				work().then(
					async (session) => {
						cancelled.dispose();
						if (!token.isCancellationRequested) return resolve(session);
						// Cancelled after all: let go of what arrived late.
						await this.pool.release(session).catch(() => undefined);
					},
					(err: unknown) => {
						cancelled.dispose();
						reject(err);
					},
				);
			}),
		);
	}

	/** Shows the fingerprint and asks; trusting appends the key to the known_hosts file. */
	private async trustHostKey(err: UnknownHostKeyError): Promise<boolean> {
		const trust = 'Trust and Connect';
		const answer = await vscode.window.showWarningMessage(
			`The host key of ${err.hostName} is not known.`,
			{ modal: true, detail: `Fingerprint: ${err.fingerprint}\n\nOnly trust it if it is the fingerprint of that host (ask its administrator, or compare with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" there). Trusting adds it to ${err.knownHostsFile}.` },
			trust,
		);
		if (answer !== trust) return false;
		mkdirSync(dirname(err.knownHostsFile), { recursive: true, mode: 0o700 });
		appendFileSync(err.knownHostsFile, `${err.knownHostsLine}\n`, { mode: 0o600 });
		this.output.appendLine(`${err.hostName}: host key ${err.fingerprint} added to ${err.knownHostsFile}`);
		return true;
	}
}
