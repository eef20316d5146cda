import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadInventory, parseInventory, type LoadResult } from '../../src/inventory/load.js';

/**
 * Whatever the file holds, loading it returns a result: valid, or at least one issue located on a
 * real line. It never throws.
 */

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE_TEXT = readFileSync(join(ROOT, 'inventory.example.yaml'), 'utf8');
const EXAMPLE = parse(EXAMPLE_TEXT) as unknown;
const FILE = join(ROOT, 'inventory.yaml');

// node:assert rather than vitest's expect: it is much cheaper, and this runs thousands of times.
function assertWellFormed(result: LoadResult, text: string): void {
  if (result.ok) return;
  const lines = text.split('\n').length;
  assert.ok(result.issues.length > 0, 'a failed load has at least one issue');
  for (const issue of result.issues) {
    assert.ok(issue.line >= 1 && issue.line <= lines, `line ${issue.line} is in the file (${lines} lines)`);
    assert.ok(issue.column >= 1, `column ${issue.column} >= 1`);
    assert.ok(issue.message.length > 0, 'the issue has a message');
  }
}

/** Every path to a value inside the example, e.g. ['hosts', 'web1', 'roles', 0]. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const children: [string | number, unknown][] = Array.isArray(value)
    ? value.map((item, index) => [index, item])
    : typeof value === 'object' && value !== null
      ? Object.entries(value)
      : [];
  return children.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
}
const EXAMPLE_PATHS = pathsOf(EXAMPLE);

type Mutation = { kind: 'delete' } | { kind: 'replace'; value: unknown } | { kind: 'add'; key: string; value: unknown };

function mutate(document: unknown, path: (string | number)[], mutation: Mutation): unknown {
  const copy = structuredClone(document) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const segment of path.slice(0, -1)) parent = parent[segment] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (mutation.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (mutation.kind === 'replace') {
    parent[last] = mutation.value;
  } else if (typeof parent[last] === 'object' && parent[last] !== null && !Array.isArray(parent[last])) {
    (parent[last] as Record<string, unknown>)[mutation.key] = mutation.value;
  }
  return copy;
}

const scalar = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('lb', 'web', 'app', 'db', 'generate', 'env:X', 'file:', '10.0.0.300', '10.0.0.0/33', 'root', 'db1', '~', ''),
  fc.ipV4(),
);
const yamlValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 3 })),
})).value;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant({ kind: 'delete' as const }),
  yamlValue.map((value) => ({ kind: 'replace' as const, value })),
  fc
    .tuple(fc.oneof(fc.string(), fc.constantFrom('roles', 'address', 'sudo', 'host_key', '__proto__')), yamlValue)
    .map(([key, value]) => ({ kind: 'add' as const, key, value })),
);

// Generous timeout: the suite shares the CPU with every other test file.
describe('loadInventory on arbitrary input', { timeout: 30_000 }, () => {
  it('random text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        assertWellFormed(parseInventory(text, FILE), text);
      }),
      { numRuns: 400 },
    );
  });

  it('random YAML-ish text built from YAML punctuation', () => {
    const token = fc.constantFrom(
      ':',
      ' ',
      '\n',
      '  ',
      '- ',
      '[',
      ']',
      '{',
      '}',
      ',',
      '&a',
      '*a',
      '!!str',
      '? ',
      '---',
      '#',
      '"',
      "'",
      '|',
      '>',
      'hosts',
      'roles',
      'lb',
      'x',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), (tokens) => {
        const text = tokens.join('');
        assertWellFormed(parseInventory(text, FILE), text);
      }),
      { numRuns: 400 },
    );
  });

  it('the example with a key deleted, retyped or added', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...EXAMPLE_PATHS), mutation), { minLength: 1, maxLength: 4 }), (mutations) => {
        let document = EXAMPLE;
        for (const [path, change] of mutations) {
          try {
            document = mutate(document, path, change);
          } catch {
            // An earlier mutation removed this path's parent: skip it.
          }
        }
        const text = stringify(document);
        assertWellFormed(parseInventory(text, FILE), text);
      }),
      { numRuns: 300 },
    );
  });

  it('the example text with a slice cut out or random characters put in', () => {
    fc.assert(
      fc.property(fc.nat(EXAMPLE_TEXT.length), fc.nat(40), fc.string({ maxLength: 12 }), (at, cut, inserted) => {
        const text = EXAMPLE_TEXT.slice(0, at) + inserted + EXAMPLE_TEXT.slice(at + cut);
        assertWellFormed(parseInventory(text, FILE), text);
      }),
      { numRuns: 400 },
    );
  });
});

describe('loadInventory on arbitrary bytes', { timeout: 30_000 }, () => {
  it('names the encoding or reads the text, never throws, and locates a problem on a real line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infra-fuzz-'));
    const file = join(dir, 'inventory.yaml');
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
          await writeFile(file, bytes);
          const result = await loadInventory(file);
          assertWellFormed(result, Buffer.from(bytes).toString('latin1'));
        }),
        { numRuns: 200 },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
