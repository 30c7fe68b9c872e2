/**
 * One helper session per target, shared by whoever needs it (a debug
 * session, its snapshots, the image browser) and closed when the last one
 * lets go. Two callers asking at once share one connection attempt.
 */
import { HelperSession } from './session';
import type { Target } from './target';

interface Entry {
	session: Promise<HelperSession>;
	users: number;
}

export class SessionPool {
	private readonly entries = new Map<string, Entry>();
	/** Which spec each open session serves, so that letting go needs no search. */
	private readonly specOf = new Map<HelperSession, string>();

	/** @param openTarget makes the Target for a spec (ssh://..., a connection file, "local"). */
	constructor(private readonly openTarget: (spec: string) => Target) {}

	acquire(spec: string): Promise<HelperSession> {
		let entry = this.entries.get(spec);
		if (!entry) {
			const session = HelperSession.open(this.openTarget(spec));
			entry = { session, users: 0 };
			this.entries.set(spec, entry);
			// A failed connection is not kept: the next caller tries again.
			session.then((s) => this.specOf.set(s, spec), () => this.entries.delete(spec));
		}
		entry.users++;
		return entry.session;
	}

	async release(session: HelperSession): Promise<void> {
		const spec = this.specOf.get(session);
		const entry = spec === undefined ? undefined : this.entries.get(spec);
		if (spec === undefined || !entry) return;
		entry.users--;
		if (entry.users > 0) return;
		this.entries.delete(spec);
		this.specOf.delete(session);
		await session.close();
	}

	/** Sessions open now, by spec. */
	get specs(): string[] {
		return [...this.entries.keys()];
	}

	async closeAll(): Promise<void> {
		const sessions = [...this.entries.values()].map((e) => e.session);
		this.entries.clear();
		this.specOf.clear();
		await Promise.all(sessions.map((s) => s.then((x) => x.close(), () => undefined)));
	}
}
