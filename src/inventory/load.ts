import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { CST, Lexer } from 'yaml';
import type { z } from 'zod';
import { ROLES, type Host, type Inventory, type InventoryIssue, type SecretSource, type SshSettings, type Vars } from './model.js';
import { checkInventory, type Finding } from './checks.js';
import { decodeInventory, positionOf } from './encoding.js';
import { formatKeyPath, YamlSource, type KeyPath, type Position } from './positions.js';
import {
  acceptedKeysAt,
  DEFAULT_SSH_PORT,
  DEFAULT_SSH_USER,
  inventorySchema,
  REQUIRED_KEY_HINTS,
  type RawHost,
  type RawInventory,
  type SecretSpec,
} from './schema.js';

/** Warnings (a world-open source…) do not fail the load; they come with either outcome. */
export type LoadResult = { ok: true; inventory: Inventory; warnings: InventoryIssue[] } | { ok: false; issues: InventoryIssue[]; warnings: InventoryIssue[] };

/**
 * The largest inventory read. A fleet of a thousand hosts fits in well under half of it; a
 * 5 MB file took 16 s and 617 MB to validate, so a larger file is refused before it is parsed.
 */
export const MAX_INVENTORY_BYTES = 512 * 1024;
/** The most scalars (keys and values) read: parsing time grows with them, not with bytes. */
export const MAX_INVENTORY_SCALARS = 50_000;

/**
 * Reads and validates an inventory file. Never throws: an unreadable file, a YAML syntax error and
 * every schema or consistency problem come back as issues located at a line and column.
 */
export async function loadInventory(file: string): Promise<LoadResult> {
  const absolute = resolve(file);
  const unreadable = (message: string, position: Position = { line: 1, column: 1 }): LoadResult => fail([{ file: absolute, ...position, path: '', message }]);
  let read: { bytes: Buffer } | { tooLarge: number | undefined };
  try {
    read = await readAtMost(absolute, MAX_INVENTORY_BYTES);
  } catch (error) {
    return unreadable(describeReadError(error));
  }
  if ('tooLarge' in read) return unreadable(tooLarge(read.tooLarge));
  const { bytes } = read;
  const decoded = decodeInventory(bytes);
  if ('problem' in decoded) return unreadable(decoded.problem, decoded.position);
  return parseInventory(decoded.text, absolute);
}

/** Validates inventory text as if read from `file` (relative paths resolve against its folder). */
export function parseInventory(text: string, file: string): LoadResult {
  const absolute = resolve(file);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_INVENTORY_BYTES) return fail([{ file: absolute, line: 1, column: 1, path: '', message: tooLarge(bytes) }]);
  const crowded = scalarBeyond(text, MAX_INVENTORY_SCALARS);
  if (crowded !== undefined) {
    return fail([
      {
        file: absolute,
        ...positionOf(text, crowded),
        path: '',
        message:
          `the inventory holds more than ${MAX_INVENTORY_SCALARS.toLocaleString('en')} keys and values (the limit is reached here); ` +
          'no fleet needs that many: check that this is the right file, or move bulk data out of vars',
      },
    ]);
  }
  const source = new YamlSource(text);
  const issueAt = (path: KeyPath, message: string, atKey = false): InventoryIssue => {
    const { line, column } = atKey ? source.keyAt(path) : source.valueAt(path);
    return { file: absolute, line, column, path: formatKeyPath(path), message };
  };

  // After a syntax error the tree is partly guessed: checking it would report ghosts.
  const syntax = source.syntaxProblems();
  if (syntax.length > 0) {
    return fail(syntax.map(({ position, message }) => ({ file: absolute, ...position, path: '', message })));
  }

  const issues: InventoryIssue[] = source.duplicateKeys().map(({ path, position, firstLine }) => ({
    file: absolute,
    ...position,
    path: formatKeyPath(path),
    message:
      path.length === 2 && path[0] === 'hosts'
        ? `duplicate host name ${JSON.stringify(path[1])} (first defined at line ${firstLine}); give each host its own name`
        : `duplicate key ${JSON.stringify(path[path.length - 1])} (first at line ${firstLine}); only the last one would count, remove one`,
  }));

  let raw: unknown;
  try {
    raw = source.toJS();
  } catch (error) {
    return fail([...issues, { file: absolute, line: 1, column: 1, path: '', message: `cannot read the YAML: ${errorMessage(error)}` }]);
  }

  const parsed = inventorySchema.safeParse(raw, { error: describeTypeIssue });
  if (!parsed.success) {
    for (const zodIssue of parsed.error.issues) issues.push(...translateSchemaIssue(zodIssue, issueAt));
  }
  const warnings: InventoryIssue[] = [];
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const findings: Finding[] = checkInventory(raw as Record<string, unknown>);
    for (const finding of findings) (finding.warning ? warnings : issues).push(issueAt(finding.path, finding.message, finding.atKey));
  }

  if (issues.length > 0 || !parsed.success) return fail(issues, warnings);
  return { ok: true, inventory: buildInventory(parsed.data, absolute), warnings: sortByPosition(warnings) };
}

function fail(issues: InventoryIssue[], warnings: InventoryIssue[] = []): LoadResult {
  return { ok: false, issues: sortByPosition(issues), warnings: sortByPosition(warnings) };
}

function sortByPosition(issues: InventoryIssue[]): InventoryIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path));
}

/**
 * The file's bytes, or its size (undefined for a pipe or a device) when it holds more than `limit`:
 * a regular file is measured before it is read, anything else read no further than one byte past.
 */
async function readAtMost(file: string, limit: number): Promise<{ bytes: Buffer } | { tooLarge: number | undefined }> {
  const handle = await open(file, 'r');
  try {
    const stats = await handle.stat();
    if (stats.isFile() && stats.size > limit) return { tooLarge: stats.size };
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > limit) return { tooLarge: stats.isFile() ? (await handle.stat()).size : undefined };
    }
    return { bytes: buffer.subarray(0, length) };
  } finally {
    await handle.close();
  }
}

function tooLarge(bytes: number | undefined): string {
  const size = bytes === undefined ? 'the inventory holds more than' : `the inventory is ${formatSize(bytes)}, more than`;
  return (
    `${size} the ${formatSize(MAX_INVENTORY_BYTES)} infra reads ` +
    '(a thousand hosts take far less): check that this is the right file, or move bulk data out of vars'
  );
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/** Lexer tokens that mark what follows and are not text of the file. */
const MARKERS = new Set<string>([CST.DOCUMENT, CST.SCALAR, CST.FLOW_END]);
const SCALAR_TYPES = new Set<string>(['scalar', 'single-quoted-scalar', 'double-quoted-scalar', 'block-scalar-header']);

/** The offset of the scalar past the first `limit` ones, if there is one; lexing is cheap beside parsing. */
function scalarBeyond(text: string, limit: number): number | undefined {
  let count = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (SCALAR_TYPES.has(CST.tokenType(token) ?? '') && ++count > limit) return offset;
    if (!MARKERS.has(token)) offset += token.length;
  }
  return undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'cannot read the inventory: no such file';
  if (code === 'EISDIR') return 'cannot read the inventory: it is a directory, not a YAML file';
  if (code === 'EACCES') return 'cannot read the inventory: permission denied';
  return `cannot read the inventory: ${errorMessage(error)}`;
}

// ── schema issues → messages ────────────────────────────────────────────────────────────────────

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `the string ${JSON.stringify(shown)}`;
  }
  return `${typeof value} ${String(value)}`;
}

/** Zod's message for a wrong or missing value, in the inventory's words (see REQUIRED_KEY_HINTS). */
function describeTypeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  const expected = EXPECTED[issue.expected] ?? issue.expected;
  if (issue.input === undefined) {
    const key = String(issue.path?.[issue.path.length - 1] ?? '');
    return `missing required key ${JSON.stringify(key)}; expected ${REQUIRED_KEY_HINTS[key] ?? expected}`;
  }
  return `expected ${expected}, got ${describeValue(issue.input)}`;
}

function translateSchemaIssue(issue: z.core.$ZodIssue, issueAt: (path: KeyPath, message: string, atKey?: boolean) => InventoryIssue): InventoryIssue[] {
  const path = issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
  if (issue.code !== 'unrecognized_keys') return [issueAt(path, issue.message)];
  const accepted = acceptedKeysAt(path) ?? [];
  return issue.keys.map((key) => {
    const guess = closestKey(key, accepted);
    const suggestion = guess ? `did you mean ${JSON.stringify(guess)}? ` : '';
    return issueAt([...path, key], `unknown key ${JSON.stringify(key)} (${suggestion}accepted keys: ${accepted.join(', ')})`, true);
  });
}

/** The accepted key a typo most likely meant: within two edits, and not most of a short key. */
function closestKey(key: string, accepted: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of accepted) {
    const distance = editDistance(key.toLowerCase(), candidate);
    if (distance <= 2 && distance < key.length - 1 && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

// ── validated YAML → Inventory ──────────────────────────────────────────────────────────────────

function buildInventory(data: RawInventory, file: string): Inventory {
  const baseDir = dirname(file);
  const home = process.env.HOME || homedir();
  const resolvePath = (path: string): string => {
    if (path === '~') return home;
    if (path.startsWith('~/')) return join(home, path.slice(2));
    return isAbsolute(path) ? path : resolve(baseDir, path);
  };
  const secretSource = (spec: SecretSpec, key: string): SecretSource => {
    if (spec.kind === 'env') return { kind: 'env', name: spec.name, key };
    if (spec.kind === 'file') return { kind: 'file', path: resolvePath(spec.path), key };
    if (spec.kind === 'cmd') return { kind: 'cmd', command: spec.command, cwd: baseDir, key };
    return { kind: 'generate', id: key };
  };

  const groupEntries = Object.entries(data.groups);
  const hosts: Host[] = Object.entries(data.hosts).map(([name, host]) => {
    const groups = groupEntries.filter(([, group]) => group.hosts.includes(name)).map(([group]) => group);
    return {
      name,
      address: host.address,
      ...(host.ip !== undefined ? { pinnedAddress: host.ip } : {}),
      roles: host.roles as Host['roles'],
      ssh: buildSsh(data, name, host, resolvePath, secretSource),
      vars: layerVars(data, host, groups),
      groups,
    };
  });

  const adminSources = data.firewall.admin_sources;
  return {
    file,
    stateDir: resolvePath(data.state_dir),
    ...(data.state !== undefined ? { sharedState: { file: resolvePath(data.state.file), recipients: data.state.recipients } } : {}),
    ...(data.templates_dir !== undefined ? { templatesDir: resolvePath(data.templates_dir) } : {}),
    domain: data.domain,
    ...(data.vip !== undefined ? { vip: data.vip } : {}),
    vipPrefix: data.vip_prefix,
    firewall: { adminSources, extraRules: data.firewall.extra_rules },
    extraFiles: data.extra_files,
    // Without a monitoring block the exporters answer the admin sources, never the world.
    monitoring: { sources: data.monitoring?.sources ?? adminSources },
    ...(data.alerting !== undefined ? { alerting: data.alerting } : {}),
    tls:
      data.tls.source === 'files'
        ? {
            kind: 'files',
            // checks.ts refuses source files without both, so these are present here.
            certFile: resolvePath(data.tls.cert_file ?? ''),
            keyFile: resolvePath(data.tls.key_file ?? ''),
            ...(data.tls.chain_file !== undefined ? { chainFile: resolvePath(data.tls.chain_file) } : {}),
          }
        : { kind: 'ca', keyType: data.tls.key_type ?? 'ecdsa-p256', days: data.tls.days ?? 90 },
    db: {
      primary: data.db.primary,
      replicas: data.db.replicas,
      name: data.db.name,
      user: data.db.user,
      password: secretSource(data.db.password, 'db.password'),
      replicationPassword: secretSource(data.db.replication_password, 'db.replication_password'),
      extraAccounts: data.db.extra_accounts,
    },
    app: { source: resolvePath(data.app.source), port: data.app.port, keepReleases: data.app.keep_releases },
    hosts,
    groups: Object.fromEntries(groupEntries.map(([group, { hosts: members }]) => [group, members])),
  };
}

/** The global ssh block with the host's own block laid over it key by key. */
function buildSsh(
  data: RawInventory,
  name: string,
  host: RawHost,
  resolvePath: (path: string) => string,
  secretSource: (spec: SecretSpec, key: string) => SecretSource,
): SshSettings {
  const own = host.ssh ?? {};
  const user = own.user ?? data.ssh.user ?? DEFAULT_SSH_USER;
  const port = own.port ?? data.ssh.port;
  const identityFile = own.identity_file ?? data.ssh.identity_file;
  const jump = own.jump ?? data.ssh.jump;
  const sudo = own.sudo ?? data.ssh.sudo;
  const sudoKey = own.sudo !== undefined ? `hosts.${name}.ssh.sudo.password` : 'ssh.sudo.password';
  const defaulted: SshSettings['defaulted'] = [];
  if (own.user === undefined && data.ssh.user === undefined) defaulted.push('user');
  if (port === undefined) defaulted.push('port');
  return {
    hostName: host.address,
    user,
    port: port ?? DEFAULT_SSH_PORT,
    defaulted,
    ...(identityFile !== undefined ? { identityFile: resolvePath(identityFile) } : {}),
    ...(jump !== undefined ? { jump } : {}),
    configFile: resolvePath(data.ssh.config_file ?? '~/.ssh/config'),
    configFileNamed: data.ssh.config_file !== undefined,
    hostKey: {
      knownHostsFile: resolvePath(own.known_hosts ?? data.ssh.known_hosts),
      ...(own.host_key !== undefined ? { fingerprint: own.host_key } : {}),
    },
    connectTimeout: own.connect_timeout ?? data.ssh.connect_timeout,
    // root needs no sudo; checks.ts guarantees a non-root user has a sudo block.
    ...(user !== 'root' && sudo !== undefined ? { sudo: sudo.password !== undefined ? { password: secretSource(sudo.password, sudoKey) } : {} } : {}),
  };
}

/**
 * vars < role_vars (in role order lb, web, app, db) < groups (in file order) < the host's vars.
 * The merge is shallow: a later layer replaces a whole top-level key, a nested mapping is not
 * merged into the earlier one.
 */
function layerVars(data: RawInventory, host: RawHost, groups: string[]): Vars {
  const layers: Vars[] = [
    data.vars,
    ...ROLES.filter((role) => (host.roles as string[]).includes(role)).map((role) => data.role_vars[role] ?? {}),
    ...groups.map((group) => data.groups[group]?.vars ?? {}),
    host.vars ?? {},
  ];
  const merged: Vars = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      // defineProperty, not assignment: a var named __proto__ stays a plain key.
      Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return merged;
}
