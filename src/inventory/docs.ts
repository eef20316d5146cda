import { z } from 'zod';
import { isIpv4, isIpv4Source } from '../core/ipv4.js';
import { acceptedKeysAt, inventorySchema, REQUIRED_KEY_HINTS } from './schema.js';

/**
 * docs/inventory.md, generated: the keys, types, defaults and allowed values come from walking the
 * zod schema; the descriptions and examples from the comments and values of inventory.example.yaml
 * (which documents every key beside a real value). A unit test regenerates it and fails when the
 * committed file differs, so neither the schema nor the example can drift from the reference.
 */

export const INVENTORY_DOC_COMMAND = 'npm run build && node bin/infra docs';

interface KeyComment {
  /** One entry per place the key appears (set, or commented out as an alternative), each of lines. */
  description: string[][];
  example?: string;
}

/** What the schema says about a key. */
interface KeyShape {
  path: string;
  type: string;
  default: string;
}

interface Row extends KeyShape {
  description: string;
  example: string;
}

// ── inventory.example.yaml: comments by key path ───────────────────────────────────────────────

const KEY_LINE = /^([A-Za-z_][\w-]*):(?:\s(.*)|$)/;

/** `value  # comment` → the value and the comment with its column in the line. */
function splitTrailing(rest: string, restStart: number): { value: string; comment?: string; column?: number } {
  const at = rest.search(/\s#/);
  if (at < 0) return { value: rest.trim() };
  const hash = rest.indexOf('#', at);
  return { value: rest.slice(0, at).trim(), comment: rest.slice(hash + 1).trim(), column: restStart + hash };
}

/**
 * Reads the example line by line, keeping the key path by indentation. A key's description is the
 * comment block right above it plus its trailing comment, continued on the following comment lines
 * that stand right of the key. Commented-out keys (`# sudo: {}`, `#   host_key: …`) document the
 * optional keys the example does not set; their indentation is the column of the key minus "# ",
 * and a comment counts as one only where the schema accepts that key (prose may contain "word:").
 */
export function exampleComments(text: string): Map<string, KeyComment> {
  const comments = new Map<string, KeyComment>();
  const stack: { indent: number; key: string }[] = [];
  let block: string[] = [];
  let current: { indent: number; lines: string[] } | undefined;
  const parentPath = (indent: number): string[] => stack.filter((entry) => entry.indent < indent).map((entry) => entry.key);

  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      block = [];
      current = undefined;
      continue;
    }
    const comment = /^(\s*)#(\s*)(.*)$/.exec(line);
    let indent: number;
    let keyText: string;
    if (comment) {
      const [, before = '', gap = '', body = ''] = comment;
      const candidate = gap.length > 0 ? KEY_LINE.exec(body) : null;
      const keyIndent = before.length + 1 + gap.length - 2;
      const key = candidate && acceptedKeysAt(parentPath(keyIndent))?.includes(candidate[1] ?? '') ? candidate : null;
      if (!key) {
        // The text after the last of the leading "#"s: a continuation may itself start with "#".
        const start = /^[\s#]*/.exec(line)?.[0].length ?? 0;
        const textColumn = line.lastIndexOf('#', start);
        const words = line.slice(start).trim();
        if (current && textColumn > current.indent + 2) current.lines.push(words);
        else {
          current = undefined;
          // A line indented further than the comment's prose is an item of a list (the vars the
          // roles read): its own line in the table cell, its name first, its columns joined.
          const [name = '', ...rest] = words.split(/\s{2,}/);
          block.push(gap.length > 1 && rest.length > 0 ? `<br>\`${name}\`: ${rest.join(' ')}` : words);
        }
        continue;
      }
      indent = keyIndent;
      keyText = body;
    } else {
      indent = /^\s*/.exec(line)?.[0].length ?? 0;
      keyText = line.slice(indent);
    }
    const key = KEY_LINE.exec(keyText);
    if (!key) {
      block = [];
      current = undefined;
      continue;
    }
    while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop();
    stack.push({ indent, key: key[1] ?? '' });
    const restStart = line.length - (key[2] ?? '').length;
    const { value, comment: trailing } = splitTrailing(key[2] ?? '', restStart);
    const path = stack.map((entry) => entry.key).join('.');
    const entry = comments.get(path) ?? { description: [] };
    const lines = [...block, ...(trailing ? [trailing] : [])];
    if (lines.length > 0) entry.description.push(lines);
    if (entry.example === undefined && value !== '') entry.example = value;
    comments.set(path, entry);
    block = [];
    current = trailing ? { indent, lines } : undefined;
  }
  return comments;
}

// ── the schema walk ────────────────────────────────────────────────────────────────────────────

type Schema = z.core.$ZodType;

function def(schema: Schema): z.core.$ZodTypeDef & Record<string, unknown> {
  return schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
}

function checksOf(schema: Schema): Record<string, unknown>[] {
  const checks = (def(schema).checks ?? []) as unknown as { _zod: { def: Record<string, unknown> } }[];
  return checks.map((check) => check._zod.def);
}

/** The message a check was given (e.g. "expected a DNS name such as …"), when it has a fixed one. */
function checkMessage(check: Record<string, unknown>): string | undefined {
  if (typeof check.error !== 'function') return undefined;
  try {
    const message: unknown = check.error({ input: '' });
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

function bounds(schema: Schema): string {
  const min = checksOf(schema).find((check) => check.check === 'greater_than');
  const max = checksOf(schema).find((check) => check.check === 'less_than');
  if (min?.inclusive && max?.inclusive) return ` ${String(min.value)}–${String(max.value)}`;
  const parts = [...(min ? [`${min.inclusive ? '≥' : '>'} ${String(min.value)}`] : []), ...(max ? [`${max.inclusive ? '≤' : '<'} ${String(max.value)}`] : [])];
  return parts.length ? ` ${parts.join(', ')}` : '';
}

/** A secret is `z.unknown().transform(…)`: which sources it takes is found by trying them. */
function isSecret(schema: Schema): boolean {
  const { type, in: input } = def(schema);
  return type === 'pipe' && def(input as Schema).type === 'unknown';
}

function describeType(schema: Schema): string {
  const d = def(schema);
  switch (d.type) {
    case 'string': {
      for (const check of checksOf(schema)) {
        if (check.fn === isIpv4Source) return 'IPv4 address or CIDR';
        if (check.fn === isIpv4) return 'IPv4 address';
        const message = check.format === 'regex' ? checkMessage(check) : undefined;
        if (message) return `string: ${message.replace(/^expected /, '')}`;
      }
      return 'string';
    }
    case 'number':
      return `${checksOf(schema).some((check) => check.format === 'safeint') || d.format === 'safeint' ? 'integer' : 'number'}${bounds(schema)}`;
    case 'enum':
      return `one of ${Object.values(d.entries as Record<string, string>)
        .map((value) => `\`${value}\``)
        .join(', ')}`;
    case 'array':
      return `list of ${describeType(unwrap(d.element as Schema).schema)}`;
    case 'record':
      return `mapping of name → ${describeType(unwrap(d.valueType as Schema).schema)}`;
    case 'object':
      return 'mapping';
    case 'unknown':
      return 'any value';
    case 'pipe':
      if (isSecret(schema)) {
        const generate = (schema as z.ZodType).safeParse('generate').success;
        return `secret: \`env:NAME\`, \`file:PATH\`${generate ? ', `generate`' : ''}`;
      }
      return describeType(d.in as Schema);
    default:
      return d.type;
  }
}

/** Peels optional/default/prefault off a schema, keeping what they say about presence. */
function unwrap(schema: Schema): { schema: Schema; optional: boolean; defaultValue?: unknown } {
  let current = schema;
  let optional = false;
  let defaultValue: unknown;
  for (;;) {
    const d = def(current);
    if (d.type === 'optional') optional = true;
    else if (d.type === 'default' || d.type === 'prefault') {
      optional = true;
      if (defaultValue === undefined) defaultValue = d.defaultValue;
    } else return { schema: current, optional, ...(defaultValue !== undefined ? { defaultValue } : {}) };
    current = d.innerType as Schema;
  }
}

function formatDefault(value: unknown, inner: Schema): string {
  // An object's default of {} just means "each key's own default", shown on those keys.
  if (def(inner).type === 'object' && typeof value === 'object' && value !== null && Object.keys(value).length === 0) return 'optional';
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

function walk(schema: Schema, path: string[], rows: KeyShape[]): void {
  const { schema: inner, optional, defaultValue } = unwrap(schema);
  if (path.length > 0) {
    rows.push({
      path: path.join('.'),
      type: describeType(inner),
      default: defaultValue !== undefined ? formatDefault(defaultValue, inner) : optional ? 'optional' : 'required',
    });
  }
  const d = def(inner);
  if (d.type === 'object') {
    for (const [key, child] of Object.entries(d.shape as Record<string, Schema>)) walk(child, [...path, key], rows);
  } else if (d.type === 'record') {
    const value = unwrap(d.valueType as Schema).schema;
    // Entries are named by the user: `hosts.<host>.address`.
    if (def(value).type === 'object') walk(value, [...path, `<${(path[path.length - 1] ?? 'name').replace(/s$/, '')}>`], rows);
  }
}

/** The example's comments for a schema path: a `<name>` segment matches any host or group name. */
function commentFor(comments: Map<string, KeyComment>, path: string): KeyComment {
  const segments = path.split('.');
  const matches = [...comments]
    .filter(([key]) => {
      const parts = key.split('.');
      return parts.length === segments.length && parts.every((part, index) => /^<.+>$/.test(segments[index] ?? '') || part === segments[index]);
    })
    .map(([, comment]) => comment);
  const example = matches.find((comment) => comment.example !== undefined)?.example;
  return {
    description: matches.find((comment) => comment.description.length > 0)?.description ?? [],
    ...(example !== undefined ? { example } : {}),
  };
}

/**
 * Where the example has no comment for a key: a host's ssh key says which global key it overrides,
 * and a required key takes the hint its "missing" message gives (REQUIRED_KEY_HINTS).
 */
function fallbackDescription(row: KeyShape, known: ReadonlySet<string>): string {
  const hostSsh = /^hosts\.<host>\.ssh\.(.+)$/.exec(row.path);
  if (hostSsh && known.has(`ssh.${hostSsh[1]}`)) return `This host's own \`ssh.${hostSsh[1]}\`, instead of the global one.`;
  const hint = row.default === 'required' ? REQUIRED_KEY_HINTS[row.path.split('.').pop() ?? ''] : undefined;
  return hint ? `${hint[0]?.toUpperCase()}${hint.slice(1)}.` : '';
}

/** The comments of a key's places, one text: a sentence cut across two commented lines stays one. */
function joinPlaces(places: string[][]): string {
  return places.map((lines) => lines.join(' ')).reduce((text, part) => (text === '' ? part : `${text}${/(,|\bor|\band)$/.test(text) ? ' ' : '; '}${part}`), '');
}

export function inventoryRows(exampleText: string): Row[] {
  const comments = exampleComments(exampleText);
  const rows: KeyShape[] = [];
  walk(inventorySchema, [], rows);
  const known = new Set(rows.map((row) => row.path));
  return rows.map((row) => {
    const comment = commentFor(comments, row.path);
    const description = joinPlaces(comment.description) || fallbackDescription(row, known);
    // A mapping's example would be its first line only ("{}" or nothing): not worth showing.
    const example = comment.example !== undefined && !row.type.startsWith('mapping') ? `\`${comment.example}\`` : '';
    return { ...row, description, example };
  });
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function inventoryReference(exampleText: string): string {
  const rows = inventoryRows(exampleText);
  return [
    '# Inventory reference',
    '',
    `<!-- Generated from src/inventory/schema.ts and the comments of inventory.example.yaml by \`${INVENTORY_DOC_COMMAND}\`. Do not edit by hand: a unit test fails when this file is stale. -->`,
    '',
    'Every key `infra` reads from an inventory file. `infra validate FILE` checks a file against exactly',
    'these rules and names the line of every problem; `infra init` writes a first inventory for you.',
    '',
    '- **Paths** are relative to the inventory file; `~/` is your home directory.',
    '- **Secrets** are never written in clear: `env:NAME` reads the environment variable NAME when infra',
    '  runs, `file:PATH` the first line of a file, and `generate` (where allowed) creates the value once',
    '  and keeps it in the state directory.',
    '- **Mappings are strict**: a misspelt key is an error, with the accepted keys listed.',
    '- `<host>` and `<group>` stand for the names you give hosts and groups.',
    '- A key marked **required** must be present whenever the mapping that holds it is.',
    '- Examples are the values of [inventory.example.yaml](../inventory.example.yaml).',
    '',
    '| Key | Type | Default | Description | Example |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| \`${row.path}\` | ${cell(row.type)} | ${cell(row.default)} | ${cell(row.description) || '—'} | ${cell(row.example) || '—'} |`),
    '',
  ].join('\n');
}
