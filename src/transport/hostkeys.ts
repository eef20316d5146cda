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

/** Whether one known_hosts host pattern names exactly `name`: written out, or hashed (`|1|salt|hash`). */
function namesHost(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  return pattern === name;
}

/** An OpenSSH wildcard pattern (`*` any run, `?` one character) as a regular expression. */
function wildcardPattern(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/**
 * Whether a known_hosts host field (comma-separated patterns) covers `name`, as ssh reads it: some
 * pattern matches, hashed, written out or with wildcards, and no negated one (`!pattern`) does.
 */
function hostFieldMatches(field: string, name: string): boolean {
  let matched = false;
  for (const pattern of field.split(',')) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    const hit = body.startsWith('|1|') ? namesHost(body, name) : wildcardPattern(body).test(name);
    if (hit && negated) return false;
    matched ||= hit;
  }
  return matched;
}

export interface KnownKey {
  type: string;
  blob: Buffer;
}

/** A key marked `@revoked`, with its line for the message. */
export interface RevokedKey extends KnownKey {
  line: number;
}

/** What a known_hosts file says about one host. */
export interface HostKeyLines {
  /** The keys listed for the host without a marker: one of them must be offered. */
  known: KnownKey[];
  /** `@revoked` keys: never accepted, whatever another line or a pin says. */
  revoked: RevokedKey[];
  /**
   * `@cert-authority` keys for the host. They vouch for host certificates, which infra never gets
   * to see: ssh2 (1.17, under node-ssh) offers no `*-cert-v01@openssh.com` host key algorithm and
   * refuses one configured in `algorithms.serverHostKey` ("Unsupported algorithm"), so the server
   * presents its plain key and the hostVerifier receives that key's blob, never a certificate.
   * They are read only to tell the operator why a host they cover is still unknown.
   */
  authorities: KnownKey[];
}

/**
 * The known_hosts names a host goes by: the name the operator gave (a DNS name or an ssh config
 * alias) and the address connected to, as OpenSSH looks both up (CheckHostIP), each as `[name]:port`
 * off port 22.
 */
export function knownHostsNames(address: string, port: number, hostName?: string): string[] {
  const names = [hostName ?? address, address].map((name) => knownHostsName(name, port));
  return [...new Set(names)];
}

/** What known_hosts lists for a host, by marker (plain lines, `@revoked`, `@cert-authority`), under its name or its address. */
export function keysForHost(knownHostsText: string, address: string, port: number, hostName?: string): HostKeyLines {
  const names = knownHostsNames(address, port, hostName);
  const found: HostKeyLines = { known: [], revoked: [], authorities: [] };
  knownHostsText.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [hosts, type, key] = fields;
    if (!hosts || !type || !key || !names.some((name) => hostFieldMatches(hosts, name))) return;
    const entry = { type, blob: Buffer.from(key, 'base64') };
    if (marker === undefined) found.known.push(entry);
    else if (marker === '@revoked') found.revoked.push({ ...entry, line: index + 1 });
    else if (marker === '@cert-authority') found.authorities.push(entry);
    // Any other marker is unknown to ssh too, which ignores the line.
  });
  return found;
}

export type HostKeyVerdict =
  /** The offered key is the pinned one or one recorded in known_hosts. */
  | { ok: true; outcome: 'known'; offered: string }
  /** A first contact with --accept-new-host-keys: the key was added to known_hosts. */
  | { ok: true; outcome: 'recorded'; offered: string }
  /** A host named by --replace-host offered another key: its known_hosts lines now hold the new one. */
  | { ok: true; outcome: 'replaced'; previous: string[]; offered: string }
  | { ok: false; reason: 'mismatch'; pinned: boolean; expected: string[]; offered: string }
  /** The offered key is marked @revoked in known_hosts (at `line`): refused before anything else is asked. */
  | { ok: false; reason: 'revoked'; offered: string; line: number }
  /** No key known; `certAuthority` when a @cert-authority line covers the host (which infra cannot use). */
  | { ok: false; reason: 'unknown'; offered: string; certAuthority?: true };

export type AcceptedHostKey = Extract<HostKeyVerdict, { ok: true }>;

export interface HostKeyPolicy {
  address: string;
  /** The name the operator gave the host, when it is not the address (looked up too, and recorded with it). */
  hostName?: string;
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
  /** The keys known_hosts marks @revoked for the host, pinned or not. */
  revoked?: readonly RevokedKey[];
  /** Whether a @cert-authority line covers the host. */
  certAuthority?: boolean;
  /** Whether there is a known_hosts file to record a key in. */
  canRecord: boolean;
  acceptNew: boolean;
  replace: boolean;
}

/**
 * The decision alone, like ssh with StrictHostKeyChecking=yes (or accept-new when `acceptNew`): a
 * key marked @revoked is refused first, whatever else vouches for it (a revocation is the later
 * word on a key that leaked). Then a pinned fingerprint wins and nothing overrides it, since it is
 * the inventory's own word on the key; otherwise a key recorded in known_hosts must be offered. A
 * host named by --replace-host that offers another key gets its recorded keys replaced; a host
 * with no recorded key is a first contact, which only --accept-new-host-keys accepts, named or not.
 */
export function decideHostKey(evidence: HostKeyEvidence): HostKeyVerdict {
  const offered = fingerprintOf(evidence.offered);
  const revoked = evidence.revoked?.find((key) => key.blob.equals(evidence.offered));
  if (revoked) return { ok: false, reason: 'revoked', offered, line: revoked.line };
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
  return { ok: false, reason: 'unknown', offered, ...(evidence.certAuthority ? { certAuthority: true as const } : {}) };
}

/** Decides on the offered key (see decideHostKey) and records it in known_hosts when the decision says so. */
export async function verifyHostKey(policy: HostKeyPolicy, offered: Buffer): Promise<HostKeyVerdict> {
  const file = policy.knownHostsFile;
  return withKnownHostsLock(file, async () => {
    // Read with a pin too: a pin does not outrank a revocation.
    const text = file ? await readKnownHosts(file) : '';
    const lines = keysForHost(text, policy.address, policy.port, policy.hostName);
    const verdict = decideHostKey({
      offered,
      pinned: policy.fingerprint,
      known: policy.fingerprint ? [] : lines.known,
      revoked: lines.revoked,
      certAuthority: lines.authorities.length > 0,
      canRecord: file !== undefined,
      acceptNew: policy.acceptNew,
      replace: policy.replace,
    });
    const line = (hosts: string): string => `${hosts} ${keyTypeOf(offered)} ${offered.toString('base64')}`;
    if (file && verdict.ok && verdict.outcome === 'recorded') {
      await mkdir(dirname(file), { recursive: true });
      await appendFile(file, line(knownHostsNames(policy.address, policy.port, policy.hostName).join(',')) + '\n', { mode: 0o600 });
    }
    if (file && verdict.ok && verdict.outcome === 'replaced') {
      await rewriteFile(file, replaceHostLines(text, policy.address, policy.port, line, policy.hostName));
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
 * known_hosts text with every line that names the host (plain, `[address]:port` or hashed, by its
 * name or its address) taken out, and one line for the new key, written by `lineFor(hosts)` for
 * the host field (its name and address), where the first of them stood: hashed if that one was. Like `ssh-keygen -R`, a line is removed whole even when it also lists
 * other names, since its key is this host's old one; marker lines (@cert-authority, @revoked),
 * comments and every other line stay byte for byte.
 */
export function replaceHostLines(text: string, address: string, port: number, lineFor: (hosts: string) => string, hostName?: string): string {
  const names = knownHostsNames(address, port, hostName);
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
    // Exact names only: a wildcard line speaks for other hosts too, and stays.
    const match = patterns.find((pattern) => names.some((name) => namesHost(pattern, name)));
    if (match === undefined) {
      kept.push(raw);
      return;
    }
    if (replacementAt < 0) {
      replacementAt = kept.length;
      hashed = match.startsWith('|1|');
    }
  });
  const replacement = lineFor((hashed ? names.map(hashedName) : names).join(','));
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
  knownHostsQueues.set(
    file,
    next.catch(() => undefined),
  );
  return next;
}
