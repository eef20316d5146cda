import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OPS_USER } from './base.js';
import { exists, run } from './exec.js';
import { parsePublicKey, type PublicHostKey } from './inventory-writer.js';
import type { HostPaths, LabPaths } from './paths.js';
import type { LabMachinePlan } from './plan.js';

/**
 * Who each host is: hostname, address, SSH host keys, machine-id, who may log in. The secrets and
 * keys are generated once and kept in the lab dir, then written into a host's fresh upper layer at
 * every (re)creation — so a reset host is bare again yet keeps the host keys in known_hosts.
 */

/** The lab's key pair: root and ops log in with it. */
export async function ensureLabKey(paths: LabPaths): Promise<string> {
  if (!(await exists(paths.key)) || !(await exists(`${paths.key}.pub`))) {
    await mkdir(dirname(paths.key), { recursive: true });
    await run('rm', ['-f', paths.key, `${paths.key}.pub`]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'infra-lab', '-f', paths.key]);
  }
  await chmod(paths.key, 0o600);
  return (await readFile(`${paths.key}.pub`, 'utf8')).trim();
}

/** The ops user's sudo password (random, once) and its SHA-512 crypt hash for /etc/shadow. */
export async function ensureOpsPassword(paths: LabPaths): Promise<{ password: string; hash: string }> {
  if (!(await exists(paths.opsPassword))) {
    await writeFile(paths.opsPassword, randomBytes(18).toString('base64url') + '\n', { mode: 0o600 });
  }
  await chmod(paths.opsPassword, 0o600);
  const password = (await readFile(paths.opsPassword, 'utf8')).split('\n')[0] ?? '';
  let hash = (await exists(paths.opsPasswordHash)) ? (await readFile(paths.opsPasswordHash, 'utf8')).trim() : '';
  if (!hash.startsWith('$6$') || !(await hashIsCurrent(paths))) {
    // The password goes on stdin, never on argv where `ps` would show it.
    hash = (await run('openssl', ['passwd', '-6', '-stdin'], { input: password + '\n' })).stdout.trim();
    await writeFile(paths.opsPasswordHash, hash + '\n', { mode: 0o600 });
  }
  return { password, hash };
}

/** The hash is stale if someone replaced the password file after it was made. */
async function hashIsCurrent(paths: LabPaths): Promise<boolean> {
  const [p, h] = await Promise.all([stat(paths.opsPassword), stat(paths.opsPasswordHash)]);
  return h.mtimeMs >= p.mtimeMs;
}

/** The host's SSH host keys: generated the first time the host name is seen, then kept. */
export async function ensureHostKeys(hp: HostPaths): Promise<PublicHostKey[]> {
  const etcSsh = join(hp.sshKeys, 'etc/ssh');
  const names = await readdir(etcSsh).catch(() => [] as string[]);
  if (!names.includes('ssh_host_ed25519_key.pub')) {
    await mkdir(etcSsh, { recursive: true });
    // -A with -f: generate every default key type under this prefix instead of /etc/ssh.
    await run('ssh-keygen', ['-A', '-f', hp.sshKeys]);
  }
  return readHostPublicKeys(hp);
}

export async function readHostPublicKeys(hp: HostPaths): Promise<PublicHostKey[]> {
  const etcSsh = join(hp.sshKeys, 'etc/ssh');
  const pubs = (await readdir(etcSsh)).filter((f) => /^ssh_host_.*_key\.pub$/.test(f)).sort();
  return Promise.all(pubs.map(async (f) => parsePublicKey(await readFile(join(etcSsh, f), 'utf8'))));
}

async function ensureMachineId(hp: HostPaths): Promise<string> {
  if (!(await exists(hp.machineId))) await writeFile(hp.machineId, randomBytes(16).toString('hex') + '\n');
  return (await readFile(hp.machineId, 'utf8')).trim();
}

async function writeOwned(path: string, content: string, mode: number, uid = 0, gid = 0): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  await chmod(path, mode);
  await chown(path, uid, gid);
}

function lookupId(file: string, name: string, field: 2 | 3): number {
  for (const line of file.split('\n')) {
    const parts = line.split(':');
    if (parts[0] === name) return Number(parts[field]);
  }
  throw new Error(`${name} not found`);
}

export interface IdentityInput {
  host: LabMachinePlan;
  prefixLength: number;
  labPublicKey: string;
  opsPasswordHash: string;
}

/**
 * Writes a host's identity through its mounted overlay (`root`), before it boots. Everything
 * written lands in the host's upper layer; the shared base is untouched.
 */
export async function writeHostIdentity(hp: HostPaths, input: IdentityInput): Promise<void> {
  const { host } = input;
  const root = hp.merged;
  const at = (p: string): string => join(root, p);
  await writeOwned(at('etc/hostname'), `${host.name}\n`, 0o644);
  await writeOwned(at('etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${host.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`, 0o644);
  await writeOwned(at('etc/machine-id'), `${await ensureMachineId(hp)}\n`, 0o444);
  // No Gateway: a lab host reaches only the bridge, never beyond the controller.
  await writeOwned(
    at('etc/systemd/network/10-host0.network'),
    `# Written by infra lab: the host's static lab address.\n[Match]\nName=host0\n\n[Network]\nAddress=${host.address}/${input.prefixLength}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n`,
    0o644,
  );
  await ensureHostKeys(hp);
  const keyDir = join(hp.sshKeys, 'etc/ssh');
  for (const f of await readdir(keyDir)) {
    if (!f.startsWith('ssh_host_')) continue;
    await writeOwned(at(`etc/ssh/${f}`), await readFile(join(keyDir, f), 'utf8'), f.endsWith('.pub') ? 0o644 : 0o600);
  }
  await mkdir(at('root/.ssh'), { recursive: true, mode: 0o700 });
  await chmod(at('root/.ssh'), 0o700);
  await writeOwned(at('root/.ssh/authorized_keys'), `${input.labPublicKey}\n`, 0o600);

  const passwd = await readFile(at('etc/passwd'), 'utf8');
  const group = await readFile(at('etc/group'), 'utf8');
  const opsUid = lookupId(passwd, OPS_USER, 2);
  const opsGid = lookupId(passwd, OPS_USER, 3);
  const opsHome = at(`home/${OPS_USER}`);
  await mkdir(join(opsHome, '.ssh'), { recursive: true });
  await chmod(join(opsHome, '.ssh'), 0o700);
  await chown(join(opsHome, '.ssh'), opsUid, opsGid);
  await writeOwned(join(opsHome, '.ssh/authorized_keys'), `${input.labPublicKey}\n`, 0o600, opsUid, opsGid);

  const shadow = await readFile(at('etc/shadow'), 'utf8');
  await writeOwned(at('etc/shadow'), setShadowHash(shadow, OPS_USER, input.opsPasswordHash), 0o640, 0, lookupId(group, 'shadow', 2));
}

/** Replaces a user's password hash in /etc/shadow text (pure; tested). */
export function setShadowHash(shadow: string, user: string, hash: string): string {
  let found = false;
  const out = shadow
    .split('\n')
    .map((line) => {
      const parts = line.split(':');
      if (parts[0] !== user) return line;
      found = true;
      parts[1] = hash;
      return parts.join(':');
    })
    .join('\n');
  if (!found) throw new Error(`user ${user} is not in /etc/shadow`);
  return out;
}
