/**
 * The fuzz targets (test/fuzz/*.fuzz.ts) over their kept corpora
 * (test/fuzz/corpus/<target>/), with plain Node.js: every kept input must
 * pass, so a change that breaks one of them fails here, without Jazzer.js.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = join(__dirname, '..', '..', '..');
const fuzzSources = join(repo, 'test', 'fuzz');
const compiled = join(__dirname, '..', 'fuzz');

interface FuzzTarget {
	fuzz(data: Buffer): void | Promise<void>;
}

const targets = readdirSync(fuzzSources).filter((f) => f.endsWith('.fuzz.ts')).map((f) => f.slice(0, -'.fuzz.ts'.length)).sort();

describe('fuzz corpora', () => {
	test('every target has a kept corpus', () => {
		assert.ok(targets.length >= 8, `targets: ${targets.join(', ')}`);
		for (const target of targets) assert.ok(existsSync(join(fuzzSources, 'corpus', target)), `test/fuzz/corpus/${target} is missing`);
	});

	for (const target of targets) {
		test(`${target}: every corpus input passes`, async () => {
			const module = require(join(compiled, `${target}.fuzz.js`)) as FuzzTarget;
			const dir = join(fuzzSources, 'corpus', target);
			for (const name of readdirSync(dir).sort()) {
				await assert.doesNotReject(async () => module.fuzz(readFileSync(join(dir, name))), `${target} input ${name}`);
			}
		});
	}
});
