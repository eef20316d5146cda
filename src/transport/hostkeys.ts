import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** OpenSSH's SHA256 fingerprint of a host key blob: "SHA256:" + unpadded base64. */
export function fingerprintOf(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(keyBlob: Buffer): string {
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString('ascii');
}

/** How known_hosts names a host: the bare address on port 22, `[address]:port` otherwise. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

function hostPatternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  return pattern === name;
}

export interface KnownKey {
  type: string;
  blob: Buffer;
}

/** The keys a known_hosts file lists for a host (markers such as @revoked are not supported and skipped). */
export function keysForHost(knownHostsText: string, address: string, port: number): KnownKey[] {
  const name = knownHostsName(address, port);
  const keys: KnownKey[] = [];
  for (const raw of knownHostsText.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [hosts, type, key] = line.split(/\s+/);
    if (!hosts || !type || !key) continue;
    if (hosts.split(',').some((pattern) => hostPatternMatches(pattern, name))) {
      keys.push({ type, blob: Buffer.from(key, 'base64') });
    }
  }
  return keys;
}

export type HostKeyVerdict =
  /** The offered key is the pinned one or one recorded in known_hosts. */
  | { ok: true; outcome: 'known'; offered: string }
  /** A first contact with --accept-new-host-keys: the key was added to known_hosts. */
  | { ok: true; outcome: 'recorded'; offered: string }
  /** A host named by --replace-host offered another key: its known_hosts lines now hold the new one. */
  | { ok: true; outcome: 'replaced'; previous: string[]; offered: string }
  | { ok: false; reason: 'mismatch'; pinned: boolean; expected: string[]; offered: string }
  | { ok: false; reason: 'unknown'; offered: string };

export type AcceptedHostKey = Extract<HostKeyVerdict, { ok: true }>;

export interface HostKeyPolicy {
  address: string;
  port: number;
  fingerprint?: string;
  knownHostsFile?: string;
  acceptNew: boolean;
  /** The operator named this host as reinstalled (--replace-host): a changed key is taken. */
  replace: boolean;
}

export interface HostKeyEvidence {
  offered: Buffer;
  /** The fingerprint pinned in the inventory, if any. */
  pinned?: string;
  /** The keys known_hosts lists for the host (none when a fingerprint is pinned). */
  known: readonly KnownKey[];
  /** Whether there is a known_hosts file to record a key in. */
  canRecord: boolean;
  acceptNew: boolean;
  replace: boolean;
}

/**
 * The decision alone, like ssh with StrictHostKeyChecking=yes (or accept-new when `acceptNew`): a
 * pinned fingerprint wins and nothing overrides it, since it is the inventory's own word on the
 * key; otherwise a key recorded in known_hosts must be offered. A host named by --replace-host
 * that offers another key gets its recorded keys replaced; a host with no recorded key is a first
 * contact, which only --accept-new-host-keys accepts, named or not.
 */
export function decideHostKey(evidence: HostKeyEvidence): HostKeyVerdict {
  const offered = fingerprintOf(evidence.offered);
  if (evidence.pinned) {
    return evidence.pinned === offered
      ? { ok: true, outcome: 'known', offered }
      : { ok: false, reason: 'mismatch', pinned: true, expected: [evidence.pinned], offered };
  }
  if (evidence.known.some((key) => key.blob.equals(evidence.offered))) return { ok: true, outcome: 'known', offered };
  if (evidence.known.length > 0) {
    const expected = evidence.known.map((key) => fingerprintOf(key.blob));
    return evidence.replace
      ? { ok: true, outcome: 'replaced', previous: expected, offered }
      : { ok: false, reason: 'mismatch', pinned: false, expected, offered };
  }
  if (evidence.acceptNew && evidence.canRecord) return { ok: true, outcome: 'recorded', offered };
  return { ok: false, reason: 'unknown', offered };
}

/** Decides on the offered key (see decideHostKey) and records it in known_hosts when the decision says so. */
export async function verifyHostKey(policy: HostKeyPolicy, offered: Buffer): Promise<HostKeyVerdict> {
  const file = policy.knownHostsFile;
  return withKnownHostsLock(file, async () => {
    const text = file && !policy.fingerprint ? await readKnownHosts(file) : '';
    const verdict = decideHostKey({
      offered,
      pinned: policy.fingerprint,
      known: keysForHost(text, policy.address, policy.port),
      canRecord: file !== undefined,
      acceptNew: policy.acceptNew,
      replace: policy.replace,
    });
    const line = (name: string): string => `${name} ${keyTypeOf(offered)} ${offered.toString('base64')}`;
    if (file && verdict.ok && verdict.outcome === 'recorded') {
      await mkdir(dirname(file), { recursive: true });
      await appendFile(file, line(knownHostsName(policy.address, policy.port)) + '\n', { mode: 0o600 });
    }
    if (file && verdict.ok && verdict.outcome === 'replaced') {
      await rewriteFile(file, replaceHostLines(text, policy.address, policy.port, line));
    }
    return verdict;
  });
}

/** What the operator is told about a host named by --replace-host once its key was accepted. */
export function describeReplacement(host: string, verdict: AcceptedHostKey): string {
  if (verdict.outcome === 'replaced') return `${host}: host key replaced (old ${verdict.previous.join(', ')} → new ${verdict.offered})`;
  return `${host}: host key unchanged (${verdict.offered})`;
}

async function readKnownHosts(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** A hashed name (`|1|salt|hash`, as ssh writes with HashKnownHosts) under a fresh salt. */
function hashedName(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

/**
 * known_hosts text with every line that names the host (plain, `[address]:port` or hashed) taken
 * out, and one line for the new key, written by `lineFor(name)`, where the first of them stood:
 * hashed if that one was. Like `ssh-keygen -R`, a line is removed whole even when it also lists
 * other names, since its key is this host's old one; marker lines (@cert-authority, @revoked),
 * comments and every other line stay byte for byte.
 */
export function replaceHostLines(text: string, address: string, port: number, lineFor: (name: string) => string): string {
  const name = knownHostsName(address, port);
  const kept: string[] = [];
  let replacementAt = -1;
  let hashed = false;
  const lines = text.split('\n');
  // A final newline leaves an empty last element: it is the file's end, not a line.
  const last = lines.length - 1;
  lines.forEach((raw, index) => {
    if (index === last && raw === '') return;
    const line = raw.trim();
    const hosts = line.startsWith('#') || line.startsWith('@') ? undefined : line.split(/\s+/)[0];
    const patterns = hosts ? hosts.split(',') : [];
    const match = patterns.find((pattern) => hostPatternMatches(pattern, name));
    if (match === undefined) {
      kept.push(raw);
      return;
    }
    if (replacementAt < 0) {
      replacementAt = kept.length;
      hashed = match.startsWith('|1|');
    }
  });
  const replacement = lineFor(hashed ? hashedName(name) : name);
  if (replacementAt < 0) kept.push(replacement);
  else kept.splice(replacementAt, 0, replacement);
  return kept.join('\n') + '\n';
}

/**
 * Replaces a file's content atomically: a temp file in the same directory, with the old file's
 * mode and owner, renamed over it. A reader sees the old or the new file, never half of one.
 */
async function rewriteFile(file: string, content: string): Promise<void> {
  const old = await stat(file);
  const temp = join(dirname(file), `.${basename(file)}.infra-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.chmod(old.mode & 0o7777);
      if (old.uid !== process.getuid?.() || old.gid !== process.getgid?.()) await handle.chown(old.uid, old.gid);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

const knownHostsQueues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` on a known_hosts file after the work already queued on it in this process: hosts
 * connect in parallel, and a rewrite that read the file before another host's line was added
 * would drop that line.
 */
function withKnownHostsLock<T>(file: string | undefined, work: () => Promise<T>): Promise<T> {
  if (file === undefined) return work();
  const next = (knownHostsQueues.get(file) ?? Promise.resolve()).then(work);
  knownHostsQueues.set(file, next.catch(() => undefined));
  return next;
}
