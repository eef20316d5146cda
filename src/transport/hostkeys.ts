import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

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
  | { ok: true }
  | { ok: false; reason: 'mismatch'; expected: string[]; offered: string }
  | { ok: false; reason: 'unknown'; offered: string };

export interface HostKeyPolicy {
  address: string;
  port: number;
  fingerprint?: string;
  knownHostsFile?: string;
  acceptNew: boolean;
}

/**
 * Decides whether an offered host key is the host's, like ssh with StrictHostKeyChecking=yes (or
 * accept-new when `acceptNew`): a pinned fingerprint wins; otherwise a known_hosts entry of the
 * same key type must match. A host with no entry is refused unless `acceptNew`, and then recorded.
 */
export async function verifyHostKey(policy: HostKeyPolicy, offered: Buffer): Promise<HostKeyVerdict> {
  const offeredPrint = fingerprintOf(offered);
  if (policy.fingerprint) {
    return policy.fingerprint === offeredPrint
      ? { ok: true }
      : { ok: false, reason: 'mismatch', expected: [policy.fingerprint], offered: offeredPrint };
  }
  const text = policy.knownHostsFile ? await readFile(policy.knownHostsFile, 'utf8').catch(() => '') : '';
  const known = keysForHost(text, policy.address, policy.port);
  if (known.some((key) => key.blob.equals(offered))) return { ok: true };
  if (known.length > 0) {
    return { ok: false, reason: 'mismatch', expected: known.map((key) => fingerprintOf(key.blob)), offered: offeredPrint };
  }
  if (policy.acceptNew && policy.knownHostsFile) {
    await mkdir(dirname(policy.knownHostsFile), { recursive: true });
    const line = `${knownHostsName(policy.address, policy.port)} ${keyTypeOf(offered)} ${offered.toString('base64')}\n`;
    await appendFile(policy.knownHostsFile, line, { mode: 0o600 });
    return { ok: true };
  }
  return { ok: false, reason: 'unknown', offered: offeredPrint };
}
