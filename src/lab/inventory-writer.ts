import { LAB_DISTROS, type LabRelease } from './distro.js';
import { ROLE } from '../inventory/model.js';
import type { LabHostPlan, LabSubnet } from './plan.js';
import { controllerAddress, vipAddress } from './plan.js';

/**
 * Renders the files `infra lab up` writes into ./lab/: an inventory in the format of
 * inventory.example.yaml (root by key), the same inventory for the sudo user `ops`, and the
 * known_hosts file that pins every host's own keys. Pure: text in, text out.
 */

export interface LabInventoryInput {
  subnet: LabSubnet;
  hosts: readonly LabHostPlan[];
  /** Which login the inventory uses: root by key, or `ops` with a sudo password. */
  login: 'root' | 'ops';
  bridge: string;
  /** The lab's release, named in the header; MySQL is pinned (db_engine) on its db hosts. */
  release?: LabRelease;
  /** The lab key's public line: the recipient of the lab's shared state file, so every run exercises it. */
  stateRecipient?: string;
  /** The bastion's address (`lab up --bastion`): every host is reached through it, and SSH is allowed from it only. */
  bastion?: string;
}

function header(bridge: string): string[] {
  return [
    `# Written by \`infra lab up\` for the local lab (systemd-nspawn hosts on the bridge ${bridge}).`,
    '# Do not edit: the next `infra lab up` rewrites it. Paths are relative to this file.',
  ];
}

export function renderLabInventory(input: LabInventoryInput): string {
  const { subnet, hosts, login } = input;
  const controller = `${controllerAddress(subnet)}/32`;
  const adminSources = input.bastion ? `${input.bastion}/32` : controller;
  const dbHosts = hosts.filter((h) => h.role === ROLE.db).map((h) => h.name);
  const lbCount = hosts.filter((h) => h.role === ROLE.lb).length;
  const lines: string[] = header(input.bridge);
  if (input.release) lines.push(`# Hosts: ${LAB_DISTROS[input.release.distro].title} (${input.release.distro}); db hosts: ${input.release.dbEngine}.`);
  if (login === 'ops') lines.push('# This variant logs in as the non-root user `ops` and runs commands through sudo with a password.');
  lines.push('', 'domain: www.foobar.com');
  // keepalived needs a pair: a lab without lb hosts has no VIP.
  if (lbCount >= 2) lines.push(`vip: ${vipAddress(subnet)}`, 'vip_prefix: 24');
  if (input.stateRecipient) lines.push('', 'state:', '  file: infra-state.age', '  recipients:', `    - ${input.stateRecipient.trim()}`);
  lines.push('', 'ssh:');
  if (login === 'ops') {
    lines.push('  user: ops', '  sudo:', '    password: file:./ops-password');
  } else {
    lines.push('  user: root');
  }
  lines.push('  port: 22', '  identity_file: ./id_ed25519', '  known_hosts: ./known_hosts', '  connect_timeout: 10');
  if (input.bastion) {
    lines.push(
      '  # The lab has a bastion (infra lab up --bastion): the hosts are reached through it, and allow SSH from it only.',
      `  jump: root@${input.bastion}`,
    );
  }
  lines.push(
    '',
    'firewall:',
    `  admin_sources: [${adminSources}]`,
    '',
    'monitoring:',
    `  sources: [${controller}]`,
    '',
    'tls:',
    '  source: ca',
    '',
    'db:',
    `  primary: ${dbHosts[0] ?? 'db1'}`,
    `  replicas: [${dbHosts.slice(1).join(', ')}]`,
    '  name: app',
    '  user: app',
    '  password: generate',
    '  replication_password: generate',
    '',
    'app:',
    '  source: ../examples/app',
    '  port: 8000',
    '',
    '# Inside an nspawn host the network interface is host0 (keepalived holds the VIP on it).',
    'role_vars:',
    '  lb:',
    '    vrrp_interface: host0',
    // A bare lab host has no apt lists yet: nothing on it tells MySQL from the release's MariaDB.
    ...(input.release?.dbEngine === 'mysql' ? ['  db:', '    db_engine: mysql'] : []),
    '',
    'hosts:',
  );
  for (const h of hosts) {
    lines.push(`  ${h.name}:`, `    address: ${h.address}`, `    roles: [${h.role}]`);
  }
  return lines.join('\n') + '\n';
}

/** One public host key as found in an OpenSSH `.pub` file: `ssh-ed25519 AAAA… comment`. */
export interface PublicHostKey {
  type: string;
  base64: string;
}

export function parsePublicKey(pubFileText: string): PublicHostKey {
  const [type, base64] = pubFileText.trim().split(/\s+/);
  if (!type || !base64) throw new Error(`not an OpenSSH public key: ${pubFileText.slice(0, 40)}`);
  return { type, base64 };
}

/** known_hosts lines (plain, one per key) for every host's address. */
export function renderKnownHosts(entries: readonly { address: string; keys: readonly PublicHostKey[] }[]): string {
  const lines = entries.flatMap((e) => e.keys.map((k) => `${e.address} ${k.type} ${k.base64}`));
  return lines.join('\n') + (lines.length > 0 ? '\n' : '');
}
