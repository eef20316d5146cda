import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isIpv4, isIpv4Source, sameSubnet } from '../core/ipv4.js';
import { PACKAGE_ROOT } from '../core/package-root.js';
import { ROLE, type Role } from './model.js';
import { inventorySchema, isHostAddress } from './schema.js';
import { varProblem } from './vars.js';

/**
 * `infra init`'s answers: what a first inventory is made of, the defaults of what is not given,
 * and the checks of each answer. Flags and prompts (src/cli/) both check with these, so a bad
 * answer is refused where it is given with the message `infra validate` would give.
 */

export interface InitHost {
  name: string;
  address: string;
  roles: Role[];
}

export type SudoAnswer = { kind: 'none' } | { kind: 'passwordless' } | { kind: 'password'; env: string };

export type TlsAnswer = { source: 'ca' } | { source: 'files'; certFile: string; keyFile: string; chainFile?: string };

export interface InitAnswers {
  domain: string;
  hosts: InitHost[];
  vip?: string;
  vipPrefix: number;
  /** The lb hosts' interface keepalived puts the VIP on (only with a VIP). */
  vipInterface?: string;
  primary: string;
  replicas: string[];
  adminSources: string[];
  monitoringSources: string[];
  ssh: { user: string; identityFile: string; knownHosts: string; sudo: SudoAnswer };
  tls: TlsAnswer;
  appSource: string;
}

/** Answers known before any prompt; a missing one is asked for, or defaulted when nothing is asked. */
export type KnownAnswers = {
  domain?: string;
  hosts?: InitHost[];
  vip?: string;
  vipPrefix?: number;
  vipInterface?: string;
  primary?: string;
  replicas?: string[];
  adminSources?: string[];
  monitoringSources?: string[];
  sshUser?: string;
  identityFile?: string;
  knownHosts?: string;
  sudo?: SudoAnswer;
  tls?: TlsAnswer;
  appSource?: string;
};

export const INIT_DEFAULTS = {
  vipPrefix: 24,
  vipInterface: 'eth0',
  sshUser: 'root',
  identityFile: '~/.ssh/id_ed25519',
  knownHosts: '~/.ssh/known_hosts',
  sudoPasswordEnv: 'INFRA_SUDO_PASSWORD',
  // infra's example app: an inventory written by init renders and deploys before one's own app exists.
  appSource: join(PACKAGE_ROOT, 'examples', 'app'),
};

// ── checks shared by flags and prompts: a bad answer is refused where it is given ──────────────

const HOST_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `folder` (relative to the inventory's folder `base`) cannot be the app's source, or undefined. */
export function appSourceProblem(folder: string, base: string): string | undefined {
  const path = resolve(base, folder);
  try {
    if (statSync(path).isDirectory()) return undefined;
    return `${path} is not a folder`;
  } catch {
    return `no folder ${path}`;
  }
}

/** The schema's own message for a value, so the wizard and `infra validate` say the same thing. */
function schemaProblem(
  schema: { safeParse(value: unknown): { success: boolean; error?: { issues: { message: string }[] } } },
  value: unknown,
): string | undefined {
  const result = schema.safeParse(value);
  return result.success ? undefined : (result.error?.issues[0]?.message ?? 'invalid value');
}

export function interfaceProblem(value: string): string | undefined {
  return varProblem('vrrp_interface', value);
}

export function domainProblem(value: string): string | undefined {
  return schemaProblem(inventorySchema.shape.domain, value);
}

export function sshUserProblem(value: string): string | undefined {
  return schemaProblem(inventorySchema.shape.ssh.unwrap().shape.user, value);
}

export function vipPrefixProblem(value: number): string | undefined {
  return schemaProblem(inventorySchema.shape.vip_prefix, value);
}

export function hostNameProblem(name: string, hosts: readonly InitHost[]): string | undefined {
  if (!HOST_NAME.test(name)) return 'a host name starts with a letter and holds only letters, digits, _ and -';
  if (hosts.some((host) => host.name === name)) return `there is already a host named ${name}`;
  return undefined;
}

export function addressProblem(address: string, hosts: readonly InitHost[]): string | undefined {
  if (!isHostAddress(address))
    return `invalid address ${JSON.stringify(address)} (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)`;
  const owner = hosts.find((host) => host.address === address);
  return owner ? `${address} is already the address of ${owner.name}` : undefined;
}

export function sourcesProblem(sources: readonly string[]): string | undefined {
  if (sources.length === 0) return 'give at least one address or CIDR, e.g. 10.0.0.1/32';
  const bad = sources.find((source) => !isIpv4Source(source));
  return bad === undefined ? undefined : `invalid address or CIDR ${JSON.stringify(bad)} (expected e.g. 10.0.0.0/24 or 10.0.0.1)`;
}

export function vipProblem(vip: string, hosts: readonly InitHost[], prefix: number): string | undefined {
  if (!isIpv4(vip)) return `invalid IPv4 address ${JSON.stringify(vip)} (expected e.g. 10.0.0.100)`;
  const owner = hosts.find((host) => host.address === vip);
  if (owner) return `${vip} is the address of ${owner.name}; the VIP must be an unused address`;
  // A host given by name is checked once a run resolved it (src/engine/addresses.ts).
  const outside = hosts.find((host) => host.roles.includes(ROLE.lb) && isIpv4(host.address) && !sameSubnet(vip, host.address, prefix));
  return outside ? `${vip} is not in the /${prefix} subnet of lb host ${outside.name} (${outside.address})` : undefined;
}

/** The words of a list answer: separated by commas or spaces. */
export function listAnswer(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

export function dbHostNames(hosts: readonly InitHost[]): string[] {
  return hosts.filter((host) => host.roles.includes(ROLE.db)).map((host) => host.name);
}

export function lbHostCount(hosts: readonly InitHost[]): number {
  return hosts.filter((host) => host.roles.includes(ROLE.lb)).length;
}

/** Every answer, from those known and defaults elsewhere (call only when nothing required is missing). */
export function completeWithDefaults(partial: KnownAnswers): InitAnswers {
  const hosts = partial.hosts ?? [];
  const primary = partial.primary ?? dbHostNames(hosts)[0] ?? '';
  const adminSources = partial.adminSources ?? [];
  const sshUser = partial.sshUser ?? INIT_DEFAULTS.sshUser;
  return {
    domain: partial.domain ?? '',
    hosts,
    ...(partial.vip !== undefined ? { vip: partial.vip, vipInterface: partial.vipInterface ?? INIT_DEFAULTS.vipInterface } : {}),
    vipPrefix: partial.vipPrefix ?? INIT_DEFAULTS.vipPrefix,
    primary,
    // Every db host is the primary or a replica (a db host outside both would sit unused).
    replicas: partial.replicas ?? dbHostNames(hosts).filter((name) => name !== primary),
    adminSources,
    monitoringSources: partial.monitoringSources ?? adminSources,
    ssh: {
      user: sshUser,
      identityFile: partial.identityFile ?? INIT_DEFAULTS.identityFile,
      knownHosts: partial.knownHosts ?? INIT_DEFAULTS.knownHosts,
      sudo: partial.sudo ?? (sshUser === 'root' ? { kind: 'none' } : { kind: 'passwordless' }),
    },
    tls: partial.tls ?? { source: 'ca' },
    appSource: partial.appSource ?? INIT_DEFAULTS.appSource,
  };
}
