/**
 * Our image schema (proto/criu-images.proto) against the CRIU the tests run:
 * test/conformance/criu-descriptors.py prints pycriu's image descriptors on
 * the target host, and every message, field and enum value we declare must
 * be in CRIU's under the same number with the same wire type, so that our
 * decoder reads what CRIU writes. Also checks the magic table against
 * pycriu's magic.py.
 *
 * Schema conventions checked here (see the head of the .proto):
 * `// criu: <name>` before each message and enum names CRIU's counterpart;
 * `// criu-since: <version>` after a field marks one this CRIU may lack.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import * as protobuf from 'protobufjs';
import { IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, MAGIC } from '../../src/core/images/format/magic';
import { REPO, TargetShell } from './harness';

interface CriuField {
	name: string;
	number: number;
	type: string;
	label: 'optional' | 'required' | 'repeated';
	type_name: string | null;
}

interface CriuDescriptors {
	criu_version: string | null;
	magic: Record<string, number>;
	messages: Record<string, { file: string; fields: CriuField[] }>;
	enums: Record<string, { file: string; values: Record<string, number> }>;
}

const PROTO = join(REPO, 'proto', 'criu-images.proto');
const SCRIPT = join(REPO, 'test', 'conformance', 'criu-descriptors.py');

let criu: CriuDescriptors;
let ours: protobuf.Namespace;

before(async () => {
	const shell = await TargetShell.open();
	try {
		const path = (await shell.ok('mktemp /tmp/ckpt-criu-descriptors-XXXXXX.py')).trim();
		await shell.writeFile(path, readFileSync(SCRIPT));
		criu = JSON.parse(await shell.ok(`python3 ${path}; status=$?; rm -f ${path}; exit $status`)) as CriuDescriptors;
	} finally {
		shell.close();
	}
	const root = new protobuf.Root();
	root.loadSync(PROTO, { keepCase: true, alternateCommentMode: true });
	root.resolveAll();
	ours = root.lookup('checkpoint.criu.v1') as protobuf.Namespace;
});

/** The CRIU name from a `// criu: <name>` comment. */
function criuNameOf(obj: protobuf.ReflectionObject): string | undefined {
	return /^criu: (\S+)\s*$/m.exec(obj.comment ?? '')?.[1];
}

/** The version from a `// criu-since: <version>` comment. */
function sinceOf(field: protobuf.Field): string | undefined {
	return /criu-since: (\S+)/.exec(field.comment ?? '')?.[1];
}

function versionAtLeast(version: string, wanted: string): boolean {
	const a = version.split('.').map(Number);
	const b = wanted.split('.').map(Number);
	for (let i = 0; i < Math.max(a.length, b.length); i++) {
		if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
	}
	return true;
}

function ourTypes(): protobuf.Type[] {
	return ours.nestedArray.filter((o): o is protobuf.Type => o instanceof protobuf.Type);
}

function ourEnums(): protobuf.Enum[] {
	return ours.nestedArray.filter((o): o is protobuf.Enum => o instanceof protobuf.Enum);
}

/**
 * Why our field cannot read CRIU's, or undefined if it can. The types must be
 * the same: varint types that differ only in signedness or zigzag (int64 vs
 * sint64) share a wire type but not a value.
 */
function typeMismatch(field: protobuf.Field, theirs: CriuField): string | undefined {
	const resolved = field.resolvedType;
	if (resolved instanceof protobuf.Type || resolved instanceof protobuf.Enum) {
		const kind = resolved instanceof protobuf.Type ? 'message' : 'enum';
		const target = criuNameOf(resolved);
		if (theirs.type !== kind || theirs.type_name !== target) {
			return `${kind} ${resolved.name} (criu: ${target}) where CRIU has ${theirs.type} ${theirs.type_name ?? ''}`;
		}
	} else if (field.type !== theirs.type) {
		return `${field.type} where CRIU has ${theirs.type}`;
	}
	if (field.repeated !== (theirs.label === 'repeated')) {
		return `${field.repeated ? 'repeated' : 'singular'} where CRIU's is ${theirs.label}`;
	}
	return undefined;
}

function fieldProblems(type: protobuf.Type): string[] {
	const name = criuNameOf(type);
	const theirs = name === undefined ? undefined : criu.messages[name];
	if (!theirs) return [`${type.name}: no CRIU message ${name ?? '(no "// criu:" comment)'}`];
	const problems: string[] = [];
	for (const field of type.fieldsArray) {
		const where = `${type.name}.${field.name} = ${field.id} (${name})`;
		const match = theirs.fields.find((f) => f.number === field.id);
		const since = sinceOf(field);
		if (!match) {
			const excused = since !== undefined && !versionAtLeast(criu.criu_version ?? '0', since);
			if (!excused) problems.push(`${where}: CRIU ${criu.criu_version} has no field ${field.id}`);
			continue;
		}
		const mismatch = typeMismatch(field, match);
		if (mismatch) problems.push(`${where}: ${mismatch} (CRIU's field is ${match.name})`);
	}
	return problems;
}

function enumProblems(e: protobuf.Enum): string[] {
	const name = criuNameOf(e);
	const theirs = name === undefined ? undefined : criu.enums[name];
	if (!theirs) return [`${e.name}: no CRIU enum ${name ?? '(no "// criu:" comment)'}`];
	const problems: string[] = [];
	for (const [value, number] of Object.entries(e.values)) {
		// Our names carry a prefix (FILE_TYPE_REG for CRIU's REG).
		const same = Object.entries(theirs.values).find(([n, v]) => v === number && value.endsWith(n));
		if (!same) problems.push(`${e.name}.${value} = ${number}: CRIU's ${name} has no such value`);
	}
	return problems;
}

describe(`image schema against the target's CRIU (pycriu descriptors)`, () => {
	test('the target has pycriu and says which CRIU it is', () => {
		assert.ok(Object.keys(criu.messages).length > 50, 'pycriu describes the image messages');
		assert.match(criu.criu_version ?? '', /^\d+\.\d+/);
	});

	test('every message and enum of ours names the CRIU one it mirrors', () => {
		const unnamed = [...ourTypes(), ...ourEnums()].filter((o) => criuNameOf(o) === undefined).map((o) => o.name);
		assert.deepEqual(unnamed, []);
		for (const name of ['Inventory', 'Core', 'X86Registers', 'MemoryMap', 'PagemapEntry', 'FileEntry', 'Stats']) {
			assert.ok(ours.get(name) instanceof protobuf.Type, `the schema has ${name}`);
		}
	});

	test('every field we declare is CRIU\'s field of that number, with the same type', () => {
		assert.deepEqual(ourTypes().flatMap(fieldProblems), []);
	});

	test('every enum value we declare is CRIU\'s', () => {
		assert.deepEqual(ourEnums().flatMap(enumProblems), []);
	});

	test('fields newer than this CRIU are really absent from it, not something else', () => {
		const newer = ourTypes().flatMap((t) => t.fieldsArray.filter((f) => sinceOf(f) !== undefined).map((f) => ({ t, f })));
		assert.ok(newer.length > 0, 'pagemap entry field 5 is marked');
		for (const { t, f } of newer) {
			const theirs = criu.messages[criuNameOf(t) ?? ''];
			const present = theirs.fields.some((x) => x.number === f.id);
			assert.equal(present, versionAtLeast(criu.criu_version ?? '0', sinceOf(f) ?? ''), `${t.name}.${f.name}`);
		}
	});

	test('the magic table is pycriu\'s', () => {
		assert.equal(criu.magic.IMG_COMMON, IMG_COMMON_MAGIC);
		assert.equal(criu.magic.IMG_SERVICE, IMG_SERVICE_MAGIC);
		const wrong = Object.entries(MAGIC).filter(([name, value]) => criu.magic[name] !== value).map(([name]) => name);
		assert.deepEqual(wrong, []);
	});
});
