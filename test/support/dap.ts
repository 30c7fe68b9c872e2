/**
 * The debug adapters over DAP for the tests: an adapter served on a local
 * port in this process (a fresh session per connection, as VS Code's inline
 * factory makes one per debug session), @vscode/debugadapter-testsupport's
 * DebugClient on the other end, and the custom requests and events typed by
 * their names (src/debug/messages.ts).
 */
import { appendFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { DebugSession } from '@vscode/debugadapter';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { CustomArgs, CustomBody, CustomEventBody, CustomEventName, CustomRequestName } from '../../src/debug/messages';

export interface ServedAdapter {
	server: Server;
	port: number;
}

/** An adapter listening on a port of 127.0.0.1; close its server when done. */
export async function serveAdapter(make: () => DebugSession): Promise<ServedAdapter> {
	const server = createServer((socket) => {
		const session = make();
		session.setRunAsServer(true);
		session.start(socket, socket);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return { server, port: (server.address() as AddressInfo).port };
}

/**
 * How long a request may go unanswered, or an event awaited not come: the
 * client has no timeouts of its own in server mode, and a test that hangs
 * should say on what.
 */
const CLIENT_WAIT_MS = 120_000;

/** promise, or a rejection saying `what` did not come within ms. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms); });
	return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A client connected to an adapter served on `port`; requests and awaited events time out (CLIENT_WAIT_MS). */
export async function connectClient(port: number): Promise<DebugClient> {
	const dc = new DebugClient('node', 'unused', 'checkpoint');
	await dc.start(port);
	const send = dc.send.bind(dc) as (command: string, args?: unknown) => Promise<DebugProtocol.Response>;
	// the overloads of send all answer a Response: one function stands for them
	dc.send = ((command: string, args?: unknown) => within(send(command, args), CLIENT_WAIT_MS, `no answer to ${command}`)) as DebugClient['send'];
	const waitForEvent = dc.waitForEvent.bind(dc);
	dc.waitForEvent = (event: string, timeout?: number) => within(waitForEvent(event, timeout), timeout ?? CLIENT_WAIT_MS, `no ${event} event`);
	// CKPT_TEST_EVENTS=file: every event the adapter sent, for finding out why a test failed
	const file = process.env.CKPT_TEST_EVENTS;
	if (file) {
		const write = (e: DebugProtocol.Event): void => appendFileSync(file, `${new Date().toISOString()} ${e.event} ${JSON.stringify(e.body ?? {})}\n`);
		for (const name of ['output', 'stopped', 'continued', 'terminated', 'exited', 'breakpoint', 'invalidated']) dc.on(name, write);
	}
	return dc;
}

/** Runs `body` with a client of a fresh adapter served in-process; both are stopped after, whatever happened. */
export async function withClient(make: () => DebugSession, body: (dc: DebugClient) => Promise<void>): Promise<void> {
	const { server, port } = await serveAdapter(make);
	const dc = await connectClient(port);
	try {
		await body(dc);
	} finally {
		await dc.stop();
		server.close();
	}
}

/** The Debug Console from now on, as the adapter writes it: "category: text", an output event each. */
export function consoleOutput(dc: DebugClient): string[] {
	const output: string[] = [];
	dc.on('output', (e: DebugProtocol.OutputEvent) => output.push(`${e.body.category}: ${e.body.output}`));
	return output;
}

/** A snapshot session's start, up to its stop: initialize, launch with `args`, configurationDone; the stopped event. */
export async function launchSnapshot(dc: DebugClient, args: Record<string, unknown>): Promise<DebugProtocol.StoppedEvent> {
	await dc.initializeRequest({ adapterID: 'checkpoint', pathFormat: 'path', supportsMemoryReferences: true });
	const initialized = dc.waitForEvent('initialized');
	await dc.launchRequest(args as DebugProtocol.LaunchRequestArguments);
	await initialized;
	const stopped = dc.waitForEvent('stopped');
	await dc.configurationDoneRequest();
	return (await stopped) as DebugProtocol.StoppedEvent;
}

/** A custom request; its body as CustomRequests says the adapter answers. */
export async function customRequest<K extends CustomRequestName>(dc: DebugClient, command: K, args: CustomArgs<K>): Promise<CustomBody<K>> {
	const body: CustomBody<K> = (await dc.customRequest(command, args)).body;
	return body;
}

/**
 * The next event of that name (whose body passes `where`, when given), its
 * body as CustomEvents says; ask for it before the request that causes it.
 */
export function nextCustomEvent<K extends CustomEventName>(dc: DebugClient, event: K, where: (body: CustomEventBody<K>) => boolean = () => true): Promise<CustomEventBody<K>> {
	return new Promise((resolve) => {
		const listener = (e: { body: CustomEventBody<K> }): void => {
			if (!where(e.body)) return;
			dc.removeListener(event, listener);
			resolve(e.body);
		};
		dc.on(event, listener);
	});
}

/** Every event of that name from now on, in order, as they come. */
export function customEvents<K extends CustomEventName>(dc: DebugClient, event: K): Array<CustomEventBody<K>> {
	const seen: Array<CustomEventBody<K>> = [];
	dc.on(event, (e: { body: CustomEventBody<K> }) => seen.push(e.body));
	return seen;
}
