/**
 * The commands of the "Checkpoint" category and the views' actions. Long
 * work runs with progress; failures are shown with the message the core
 * gives (what happened, CRIU's words, what to do) and logged in full.
 */
import * as vscode from 'vscode';
import type { TreeState } from '../core/debuggedTree';
import { downloadCheckpoint } from '../core/download';
import { CheckpointError, errorMessage } from '../core/errors';
import { openCheckpoint, type ProcessImage } from '../core/images/checkpoint';
import { HelperImageSource } from '../core/images/helperSource';
import { LocalImageSource } from '../core/images/source';
import { rulesFromSettings } from '../core/leaks';
import type { HelperSession } from '../core/session';
import { isRefusalMessage, refusalOf, SETTING_WHERE } from '../debug/leakPolicy';
import { CUSTOM, type CheckpointSummary, isMovedOnMessage, movedOnParts, type ProgressEventBody, type RestoreCheckpointArgs, type RestoreCheckpointBody } from '../debug/messages';
import { deleteDetail } from './checkpointRows';
import type { CheckpointNode, CheckpointsView } from './checkpointsView';
import { callStackThread, type CallStackThread, configuredTarget } from './commandArguments';
import type { Connections } from './connections';
import { exportCore } from './coreExport';
import { customRequest, type CustomEventRouter } from './customDap';
import { activeLiveSession, DEBUG_TYPE, listCheckpoints, liveSessions, openSnapshot, pickProcess, pickTarget } from './debugging';
import type { ImageNode } from './imageNodes';
import type { ImageView } from './imageView';
import { currentSetting, LeakCommands } from './leakCommands';
import type { LeaksView } from './leaksView';
import type { RunNode } from './comparisonNodes';
import type { ComparisonView } from './comparisonView';
import type { DiffDocuments, DiffSide } from './diffDocuments';
import type { MemoryDocuments } from './memoryDocuments';
import type { PageDocuments } from './pageDocuments';
import type { MemoryMapPanels } from './memoryMap';
import type { TargetNode, TargetsView } from './targetsView';
import { byteSize } from '../core/text';
import { pagesBytes } from '../core/sharing';
import { printable } from '../core/systemText';

const MOVED_ON_DETAIL = 'Restore With Connections Closed: the connections end for the program (reads end, writes fail) and for ' +
	'their peers; a program that reconnects carries on.';

type Progress = vscode.Progress<{ message?: string }>;

export class CheckpointCommands {
	/** The progress report of the operation running in each debug session, for the adapter's progress events. */
	private readonly running = new Map<vscode.DebugSession, Progress>();
	private readonly states = new Map<vscode.DebugSession, TreeState>();
	/** The helper session holding the image view's checkpoint open (released when another is shown). */
	private imageSession?: HelperSession;
	/** Leak policies: the Leaks view's actions, refused checkpoints. */
	readonly leaks: LeakCommands;

	constructor(
		private readonly connections: Connections,
		private readonly targets: TargetsView,
		private readonly checkpoints: CheckpointsView,
		private readonly image: ImageView,
		private readonly memory: MemoryDocuments,
		private readonly maps: MemoryMapPanels,
		leaksView: LeaksView,
		private readonly comparisons: { diffs: DiffDocuments; view: ComparisonView; pages: PageDocuments },
	) {
		this.leaks = new LeakCommands(leaksView, connections.output, (err) => this.report(err));
	}

	register(): vscode.Disposable[] {
		const command = (id: string, run: (...args: never[]) => Promise<unknown>): vscode.Disposable =>
			vscode.commands.registerCommand(id, (...args: never[]) => run(...args).catch((err: unknown) => this.report(err)));
		return [
			command('checkpoint.connect', () => this.connect()),
			command('checkpoint.refreshTargets', async () => this.targets.refresh()),
			command('checkpoint.attach', (node?: TargetNode) => this.attach(node)),
			command('checkpoint.checkpointProcess', (node?: TargetNode) => this.checkpointProcess(node)),
			command('checkpoint.takeCheckpoint', () => this.takeCheckpoint()),
			command('checkpoint.restoreCheckpoint', (node?: CheckpointNode) => this.restoreCheckpoint(node)),
			command('checkpoint.restoreCheckpointAndPause', (node?: CheckpointNode) => this.restoreCheckpoint(node, { pause: true })),
			command('checkpoint.openSnapshot', (node?: CheckpointNode) => this.openSnapshot(node)),
			command('checkpoint.compareCheckpoint', (node?: CheckpointNode) => this.compare(node)),
			command('checkpoint.comparePages', (node?: RunNode) => (node ? this.comparisons.pages.show(node) : Promise.resolve())),
			command('checkpoint.openComparisonText', () => this.openComparisonText()),
			command('checkpoint.debugProcess', (...args: unknown[]) => this.debugProcess(args)),
			command('checkpoint.deleteCheckpoint', (node?: CheckpointNode) => this.deleteCheckpoint(node)),
			command('checkpoint.renameCheckpoint', (node?: CheckpointNode) => this.renameCheckpoint(node)),
			command('checkpoint.downloadCheckpoint', (node?: CheckpointNode) => this.download(node)),
			command('checkpoint.exportCore', (node?: CheckpointNode) => exportCore(this.connections, node)),
			command('checkpoint.selectCheckpoint', (node?: CheckpointNode) => this.showInImageView(node)),
			command('checkpoint.openImage', () => this.openImageFolder()),
			command('checkpoint.showMemoryMap', (node?: ImageNode) => this.showMemoryMap(node)),
			command('checkpoint.openMemory', (arg?: { process: ProcessImage; start: bigint; end: bigint }) => this.openMemory(arg)),
			command('checkpoint.openMemoryAt', () => this.openMemoryAt()),
			command('checkpoint.copyValue', async (node?: ImageNode) => {
				if (node?.kind === 'value') await vscode.env.clipboard.writeText(node.value);
			}),
			// As `${command:checkpoint.pickProcess}`, VS Code passes the launch configuration: its host is not asked for again.
			vscode.commands.registerCommand('checkpoint.pickProcess', (configuration?: unknown) => pickProcess(this.connections, configuredTarget(configuration))),
			...this.leaks.register(),
		];
	}

	/** The adapter's tree state (for the commands that depend on it), its questions and its progress; and the leak commands' events. */
	listen(events: CustomEventRouter): vscode.Disposable[] {
		return [
			events.on(CUSTOM.stateEvent, (session, body) => this.states.set(session, body.state)),
			events.on(CUSTOM.confirmKillEvent, (session, body) => void this.confirmKill(session, body.rootPid)),
			events.on(CUSTOM.progressEvent, (session, body) => this.progress(session, body)),
			...this.leaks.listen(events),
		];
	}

	/** Terminate on a tree the debugger attached to (it did not start it): kill only when the user says so. */
	private async confirmKill(session: vscode.DebugSession, rootPid: number): Promise<void> {
		const kill = 'Kill';
		const leave = 'Disconnect, Leave It Running';
		const answer = await vscode.window.showWarningMessage(`Kill process ${rootPid} and its descendants?`, {
			modal: true,
			detail: 'The debugger attached to this program; it did not start it. Killing it ends it for good (its checkpoints stay and can be restored).',
		}, kill, leave);
		if (answer === kill) await customRequest(session, CUSTOM.kill, {}).catch((err: unknown) => this.report(err));
		else if (answer === leave) await vscode.debug.stopDebugging(session);
	}

	private progress(session: vscode.DebugSession, p: ProgressEventBody): void {
		this.running.get(session)?.report({ message: p.message || p.stage });
	}

	private async connect(): Promise<void> {
		const target = await pickTarget(this.connections);
		if (!target) return;
		const session = await this.connections.acquire(target);
		const hello = await session.hello();
		this.connections.output.appendLine(`${session.target.description}: helper ${hello.helperVersion}, CRIU ${hello.criuVersion || 'not usable'}, Linux ${hello.kernelRelease}, running as uid ${hello.euid}`);
		if (hello.criuProblem) this.connections.output.appendLine(`  problem: ${hello.criuProblem}`);
		if (hello.networkLock) this.connections.output.appendLine(`  TCP connections can be saved (network lock: ${hello.networkLock})`);
		if (hello.tcpProblem) this.connections.output.appendLine(`  TCP connections cannot be saved: ${hello.tcpProblem}`);
		if (hello.gdbVersion) this.connections.output.appendLine(`  gdb ${hello.gdbVersion} at ${hello.gdbPath}: source-level debugging`);
		if (hello.gdbProblem) this.connections.output.appendLine(`  no source-level debugging: ${hello.gdbProblem}`);
		this.targets.refresh();
		void vscode.window.showInformationMessage(`Checkpoint: connected to ${target} (CRIU ${hello.criuVersion || 'not usable'}${hello.criuProblem ? `: ${hello.criuProblem}` : ''}).`);
	}

	private async attach(node?: TargetNode): Promise<void> {
		const configuration: vscode.DebugConfiguration = { type: DEBUG_TYPE, request: 'attach', name: 'Checkpoint: Attach' };
		if (node?.kind === 'process') Object.assign(configuration, { name: `Checkpoint: ${node.process.pid} ${printable(node.process.comm)}`, target: node.target, pid: node.process.pid });
		await vscode.debug.startDebugging(vscode.workspace.workspaceFolders?.[0], configuration);
	}

	/** Checkpoint a process from the Targets view, without a debug session, under the checkpoint.leakPolicy setting. */
	private async checkpointProcess(node?: TargetNode): Promise<void> {
		if (node?.kind !== 'process') return;
		const policy = rulesFromSettings(currentSetting(), SETTING_WHERE);
		const name = await askName(`${printable(node.process.comm)} ${node.process.pid}`);
		if (name === undefined) return;
		const session = await this.connections.acquire(node.target);
		try {
			const checkpoint = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Checkpointing ${node.process.pid} ${printable(node.process.comm)}` }, (progress) =>
				session.dump(node.process.pid, { name, leaveRunning: true, policy, selfContained: !sharePagesSetting(), onProgress: (p) => progress.report({ message: p.message || p.stage }) }));
			const inconsistent = checkpoint.leaks?.changes?.length ? ' It is inconsistent: what the tree shares with the outside changed while it was dumped.' : '';
			const shared = checkpoint.sharing && checkpoint.parent ? `, sharing ${byteSize(pagesBytes(checkpoint.sharing.sharedPages))} with ${checkpoint.parent}` : '';
			void vscode.window.showInformationMessage(`Checkpoint ${checkpoint.id} of ${node.process.pid} taken (${byteSize(checkpoint.sizeBytes)}${shared}); the program runs on.${inconsistent}`);
		} catch (err) {
			if (!(err instanceof CheckpointError) || err.kind !== 'leaks-refused') throw err;
			await this.leaks.showRefusal(refusalOf(err.leaks, 'checkpoint', node.process.frozen ? 'frozen' : 'running'));
		} finally {
			await this.connections.release(session);
		}
	}

	private async takeCheckpoint(): Promise<void> {
		const session = requireLiveSession();
		const name = await askName('');
		if (name === undefined) return;
		const result = await this.withSessionProgress(session, 'Taking a checkpoint', () => customRequest(session, CUSTOM.takeCheckpoint, { name }));
		this.checkpoints.refresh();
		// Show where it went (the view starts collapsed in a crowded Run and Debug side bar).
		await vscode.commands.executeCommand('checkpoint.checkpoints.focus');
		void vscode.window.showInformationMessage(`Checkpoint ${result.checkpoint.name || result.checkpoint.id} taken.`);
	}

	/** Restore, or Restore and Pause (`pause`: the restored tree stays stopped where the checkpoint was taken). */
	private async restoreCheckpoint(node: CheckpointNode | undefined, how: Pick<RestoreCheckpointArgs, 'pause'> = {}): Promise<void> {
		const session = node?.session ?? requireLiveSession();
		const checkpoint = node?.checkpoint ?? (await pickCheckpoint(session, how.pause ? 'Restore which checkpoint, paused?' : 'Restore which checkpoint?'));
		if (!checkpoint) return;
		const restore = (args: Omit<RestoreCheckpointArgs, 'id' | 'pause'>): Promise<RestoreCheckpointBody> => this.withSessionProgress(session, `Restoring ${checkpoint.name || checkpoint.id}`, () =>
			customRequest(session, CUSTOM.restoreCheckpoint, { id: checkpoint.id, ...how, ...args }));
		let result: RestoreCheckpointBody;
		try {
			result = await restore({});
		} catch (err) {
			const message = errorMessage(err);
			if (!isMovedOnMessage(message)) throw err;
			this.checkpoints.refresh();
			const closed = 'Restore With Connections Closed';
			const { headline, rest } = movedOnParts(message);
			const answer = await vscode.window.showWarningMessage(`Checkpoint: ${headline}`, { modal: true, detail: `${rest}.\n\n${MOVED_ON_DETAIL}` }, closed);
			if (answer !== closed) return;
			// The present was saved by the refused attempt already.
			result = await restore({ tcpClose: true, saveCurrent: false });
		}
		this.checkpoints.refresh();
		const saved = result.saved ? ` The state it replaced is saved as "${result.saved.name}".` : '';
		const stopped = result.stopped ?? how.pause;
		const now = stopped ? `the program is back as pid ${result.rootPid}, stopped where the checkpoint was taken` : `the program runs again as pid ${result.rootPid}`;
		void vscode.window.showInformationMessage(`Restored ${checkpoint.name || checkpoint.id}: ${now}.${saved}`);
	}

	private async openSnapshot(node?: CheckpointNode): Promise<void> {
		const session = node?.session ?? requireLiveSession();
		const checkpoint = node?.checkpoint ?? (await pickCheckpoint(session, 'Open which checkpoint as a snapshot?'));
		if (!checkpoint) return;
		await openSnapshot(checkpoint, String(session.configuration.target), session);
	}

	/** Compare with...: the row's checkpoint (or one picked) against another of the session's, in a read-only document. */
	private async compare(node?: CheckpointNode): Promise<void> {
		const session = node?.session ?? requireLiveSession();
		const first = node?.checkpoint ?? (await pickCheckpoint(session, 'Compare which checkpoint?'));
		if (!first) return;
		const second = await pickCheckpoint(session, `Compare ${first.name || first.id} with which checkpoint?`, first.id);
		if (!second) return;
		const target = String(session.configuration.target);
		const helper = await this.connections.acquire(target);
		try {
			const side = (c: CheckpointSummary): DiffSide => ({ id: c.id, label: c.name ? `"${c.name}"` : c.id, created: c.created });
			const shown = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Comparing ${first.name || first.id} with ${second.name || second.id}` },
				() => this.comparisons.diffs.compare(helper, target, side(first), side(second)));
			await this.comparisons.view.show(shown);
			await vscode.commands.executeCommand('checkpoint.comparison.focus');
		} finally {
			await this.connections.release(helper);
		}
	}

	private async openComparisonText(): Promise<void> {
		const shown = this.comparisons.view.current;
		if (!shown) throw new Error('No comparison is open: right-click a checkpoint in the Checkpoints view and choose Compare with...');
		await this.comparisons.diffs.openText(shown);
	}

	/** Debug This Process on a thread of the Call Stack: gdb lets go of the process it debugs and takes the thread's. */
	private async debugProcess(menuArgs: readonly unknown[]): Promise<void> {
		const thread = callStackThread(menuArgs);
		if (!thread) throw new Error('Debug This Process works on a thread: right-click one in the Call Stack of a checkpoint debug session');
		const debugged = await customRequest(liveSessionOf(thread), CUSTOM.debugProcess, { pid: thread.threadId });
		void vscode.window.showInformationMessage(`gdb debugs process ${debugged.pid} now.`);
	}

	private async renameCheckpoint(node?: CheckpointNode): Promise<void> {
		if (!node) return;
		const name = await vscode.window.showInputBox({ title: `Rename checkpoint ${node.checkpoint.id}`, value: node.checkpoint.name, prompt: 'Its name in the timeline (empty for none)' });
		if (name === undefined) return;
		await customRequest(node.session, CUSTOM.renameCheckpoint, { id: node.checkpoint.id, name });
		this.checkpoints.refresh();
	}

	private async deleteCheckpoint(node?: CheckpointNode): Promise<void> {
		if (!node) return;
		const c = node.checkpoint;
		const yes = 'Delete';
		const list = await listCheckpoints(node.session).catch((): CheckpointSummary[] => []);
		const answer = await vscode.window.showWarningMessage(`Delete checkpoint ${c.name || c.id}?`, { modal: true, detail: deleteDetail(c, list) }, yes);
		if (answer !== yes) return;
		await customRequest(node.session, CUSTOM.deleteCheckpoint, { id: c.id });
		this.checkpoints.refresh();
	}

	private async download(node?: CheckpointNode): Promise<void> {
		if (!node) return;
		const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Download Here', title: `Download checkpoint ${node.checkpoint.name || node.checkpoint.id}` });
		if (!folder?.[0]) return;
		const session = await this.connections.acquire(String(node.session.configuration.target));
		try {
			const dest = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Downloading ${node.checkpoint.id}`, cancellable: true }, (progress, token) => {
				let reported = 0;
				return downloadCheckpoint(session, node.checkpoint.id, folder[0].fsPath, {
					cancelled: () => token.isCancellationRequested,
					onProgress: (p) => {
						const percent = (100 * p.doneBytes) / Math.max(1, p.totalBytes);
						const of = p.checkpointId === node.checkpoint.id ? '' : ` of ${p.checkpointId}, which it stands on`;
						progress.report({ message: `${p.file}${of}`, increment: percent - reported });
						reported = percent;
					},
				});
			});
			const open = 'Open in Checkpoint Image';
			const chain = node.checkpoint.parent ? ' with the checkpoints it stands on beside it (keep them: it reads its unchanged pages from them)' : '';
			if ((await vscode.window.showInformationMessage(`Checkpoint downloaded to ${dest}${chain}.`, open)) === open) await this.showLocal(dest);
		} finally {
			await this.connections.release(session);
		}
	}

	/** Shows a checkpoint of the debug session in the image browser (read through the helper). */
	private async showInImageView(node?: CheckpointNode): Promise<void> {
		if (!node) return;
		const session = await this.connections.acquire(String(node.session.configuration.target));
		try {
			const images = await openCheckpoint(new HelperImageSource(session, node.checkpoint.id));
			await this.image.show(images, node.checkpoint.name || node.checkpoint.id);
		} catch (err) {
			await this.connections.release(session);
			throw err;
		}
		await this.swapImageSession(session);
	}

	private async openImageFolder(): Promise<void> {
		const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Open Checkpoint', title: 'Open a checkpoint folder (CRIU images)' });
		if (folder?.[0]) await this.showLocal(folder[0].fsPath);
	}

	private async showLocal(dir: string): Promise<void> {
		const images = await openCheckpoint(new LocalImageSource(dir));
		await this.image.show(images, dir.split('/').pop() ?? dir);
		await this.swapImageSession(undefined);
		await vscode.commands.executeCommand('checkpoint.image.focus');
	}

	private async swapImageSession(next: HelperSession | undefined): Promise<void> {
		const previous = this.imageSession;
		this.imageSession = next;
		if (previous) await this.connections.release(previous);
	}

	private async showMemoryMap(node?: ImageNode): Promise<void> {
		const images = this.image.images;
		if (!images) throw new Error('open a checkpoint first (Checkpoints view, or "Checkpoint: Open Checkpoint Folder...")');
		let process = node && 'process' in node ? node.process : undefined;
		if (!process) {
			const picked = await vscode.window.showQuickPick(images.processes.map((p) => ({ label: `${p.pid} ${printable(p.comm)}`, process: p })), { title: 'Memory map of which process?' });
			process = picked?.process;
		}
		if (process) this.maps.show(process, images.source.description);
	}

	private async openMemory(arg?: { process: ProcessImage; start: bigint; end: bigint }): Promise<void> {
		if (arg) await this.memory.open(arg.process, arg.start, arg.end);
	}

	/** Memory of the image view's checkpoint at an address the user types (to the end of its area). */
	private async openMemoryAt(): Promise<void> {
		const images = this.image.images;
		if (!images) throw new Error('open a checkpoint first (Checkpoints view, or "Checkpoint: Open Checkpoint Folder...")');
		const process = images.processes.length === 1 ? images.processes[0]
			: (await vscode.window.showQuickPick(images.processes.map((p) => ({ label: `${p.pid} ${printable(p.comm)}`, process: p })), { title: 'Memory of which process?' }))?.process;
		if (!process) return;
		const text = await vscode.window.showInputBox({
			title: `Memory of ${process.pid} ${printable(process.comm)}`, prompt: 'An address (hex, like 0x7ffd12340000)',
			validateInput: (v) => (/^(0x)?[0-9a-f]+$/i.test(v.trim()) ? undefined : 'a hexadecimal address'),
		});
		if (!text) return;
		const address = BigInt(text.trim().startsWith('0x') ? text.trim() : `0x${text.trim()}`);
		const vma = process.vmas.find((v) => address >= v.start && address < v.end);
		if (!vma) throw new Error(`0x${address.toString(16)} is not mapped in process ${process.pid}`);
		await this.memory.open(process, address, vma.end, false);
	}

	/** Progress from the adapter's events; Cancel asks the adapter to call the operation off where it safely can. */
	private async withSessionProgress<T>(session: vscode.DebugSession, title: string, work: () => Promise<T>): Promise<T> {
		return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
			token.onCancellationRequested(() => {
				progress.report({ message: 'cancelling (CRIU is not stopped half-way; what it did is undone)...' });
				void customRequest(session, CUSTOM.cancel, {}).catch(() => undefined);
			});
			this.running.set(session, progress);
			try {
				return await work();
			} finally {
				this.running.delete(session);
			}
		});
	}

	private report(err: unknown): void {
		const message = errorMessage(err);
		this.connections.output.appendLine(message);
		// The adapter sent the refusal with its leaks before this answer: it is shown from there, with its buttons.
		if (isRefusalMessage(message)) return;
		if (/ was cancelled/.test(message)) {
			// What the user asked for: said plainly, not as a failure.
			void vscode.window.showInformationMessage(`Checkpoint: ${message}`);
			return;
		}
		const [first, ...rest] = message.split('\n');
		const details = 'Show Details';
		void vscode.window.showErrorMessage(`Checkpoint: ${first}`, ...(rest.length ? [details] : [])).then((a) => {
			if (a === details) this.connections.output.show(true);
		});
	}
}

function requireLiveSession(): vscode.DebugSession {
	const session = activeLiveSession();
	if (!session) throw new Error('start a checkpoint debug session first (Run and Debug: "Checkpoint: Attach to Process")');
	return session;
}

/** The live session a Call Stack thread belongs to (the one the user means when VS Code did not say). */
function liveSessionOf(thread: CallStackThread): vscode.DebugSession {
	if (thread.sessionId === undefined) return requireLiveSession();
	const session = liveSessions.find((s) => s.id === thread.sessionId);
	if (!session) throw new Error(`thread ${thread.threadId} is not in a live checkpoint session: gdb debugs the processes of a live session (a snapshot is read-only)`);
	return session;
}

async function askName(placeholder: string): Promise<string | undefined> {
	return vscode.window.showInputBox({ title: 'Checkpoint name (optional)', prompt: 'A name for the timeline; leave empty for none', placeHolder: placeholder || 'e.g. before login' });
}

async function pickCheckpoint(session: vscode.DebugSession, title: string, except?: string): Promise<CheckpointSummary | undefined> {
	// a damaged one can be deleted from the view, not restored, opened or compared
	const list = (await listCheckpoints(session)).filter((c) => c.id !== except && !c.damaged);
	if (!list.length) throw new Error(except ? 'this session has no other checkpoint to compare with: take another first' : 'this session has no checkpoints yet: take one first');
	const items = list.reverse().map((c) => ({ label: c.name || c.id, description: new Date(c.created).toLocaleTimeString(), detail: `${c.id}, ${c.processes} processes`, checkpoint: c }));
	return (await vscode.window.showQuickPick(items, { title }))?.checkpoint;
}

/** The `checkpoint.sharePages` setting: checkpoints share unchanged pages with the previous one of the program (default). */
function sharePagesSetting(): boolean {
	return vscode.workspace.getConfiguration('checkpoint').get<boolean>('sharePages') ?? true;
}
