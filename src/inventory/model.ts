import type { Secret } from '../core/secret.js';

/**
 * The validated inventory that every later layer reads. It is produced by `loadInventory`
 * (src/inventory/load.ts) from YAML; nothing else builds it except tests.
 */
export type Role = 'lb' | 'web' | 'app' | 'db' | 'monitor';
export const ROLES: readonly Role[] = ['lb', 'web', 'app', 'db', 'monitor'];
/**
 * Each role by its name, for code about one role in particular (a VIP needs lb hosts, a failover
 * moves between db hosts). What every role has is read from the role registry (src/roles/registry.ts).
 */
export const ROLE: { readonly [R in Role]: R } = { lb: 'lb', web: 'web', app: 'app', db: 'db', monitor: 'monitor' };

/**
 * Where a secret comes from, as written in the inventory: `env:NAME`, `file:PATH` (absolute once
 * loaded) or `generate`. `key` is the inventory key it was read from (e.g. `db.password`), so that
 * an unset variable or a missing file can be reported against it; the `id` of a generated secret
 * is that key path too.
 */
export type SecretSource =
  | { kind: 'env'; name: string; key?: string }
  | { kind: 'file'; path: string; key?: string }
  /** The first line a command prints (`pass show db/app`, `op read …`, `vault kv get …`), run from the inventory's folder. */
  | { kind: 'cmd'; command: string; cwd: string; key?: string }
  | { kind: 'generate'; id: string };

export interface HostKeyPin {
  /** A known_hosts file (absolute path) checked for this host's address and port. */
  knownHostsFile?: string;
  /** An OpenSSH SHA256 fingerprint, e.g. "SHA256:abc…" (wins over known_hosts when both are set). */
  fingerprint?: string;
}

export interface SshSettings {
  /**
   * What SSH connects to and known_hosts is searched for: the address as written (an IPv4
   * address, a DNS name or an ~/.ssh/config alias), or the HostName an ssh config gives it.
   */
  hostName: string;
  user: string;
  port: number;
  /** Which of user and port the inventory left out: an ssh config may set those (src/engine/addresses.ts). */
  defaulted: ('user' | 'port')[];
  /** Absolute path of the private key, when one is named; without it the ssh-agent (SSH_AUTH_SOCK) or the default key is used. */
  identityFile?: string;
  /** A jump host, `[user@]host[:port]`, that the connection goes through. */
  jump?: string;
  /** The jump host as reached, once a run resolved it (src/engine/addresses.ts). */
  jumpHost?: JumpHost;
  /** The ssh config file read for this host (absolute path): ssh.config_file, or ~/.ssh/config when it exists. */
  configFile: string;
  /** Whether the config file was named in the inventory (then it must exist). */
  configFileNamed: boolean;
  hostKey: HostKeyPin;
  /** Seconds before a connection attempt counts as a timeout. */
  connectTimeout: number;
  /** Present when the user is not root: commands run through sudo, with or without a password. */
  sudo?: { password?: SecretSource };
}

/** A jump host settled for a run: its ssh settings from `ssh.jump`, the ssh config and the host's own. */
export interface JumpHost {
  /** As written, `[user@]host[:port]`. */
  spec: string;
  /** What SSH connects to and known_hosts is searched for. */
  hostName: string;
  address: string;
  port: number;
  user: string;
  identityFile?: string;
}

export type Vars = Record<string, unknown>;

export interface Host {
  name: string;
  /**
   * The host's IPv4 address, which firewall rules and the VIP checks use. As loaded it is the
   * `address` as written, which may be a name: a run resolves it first (src/engine/addresses.ts).
   */
  address: string;
  /** The address pinned by `ip` for a name that resolves to several. */
  pinnedAddress?: string;
  roles: Role[];
  ssh: SshSettings;
  /** Vars layered defaults < role (in role order) < group (in file order) < host. */
  vars: Vars;
  groups: string[];
}

export type TlsSource = { kind: 'ca'; keyType: KeyType; days: number } | { kind: 'files'; certFile: string; keyFile: string; chainFile?: string };

export type KeyType = 'ecdsa-p256' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

/** A firewall rule the operator keeps: on the hosts named (names, groups or roles), or on all. */
export interface ExtraFirewallRule {
  port: number;
  proto: 'tcp' | 'udp';
  from: string;
  hosts?: string[];
}

export interface AlertReceivers {
  /** A URL Alertmanager POSTs its webhook payload to. */
  webhook?: string;
  /** Mail through an SMTP relay that needs no login (host:port). */
  email?: { to: string; from: string; smarthost: string };
}

export interface Inventory {
  /** Absolute path of the YAML file it was read from. */
  file: string;
  /** Absolute path of the state directory (generated secrets, CA, reports). */
  stateDir: string;
  /** The state directory's secrets, kept encrypted to the recipients in this file (absolute path), if the inventory says so. */
  sharedState?: { file: string; recipients: string[] };
  /** Absolute path of a folder whose templates override the built-in ones, if any. */
  templatesDir?: string;
  domain: string;
  /** The virtual address held by the lb pair. */
  vip?: string;
  /** Prefix length of the hosts' subnet, used for the VIP's address on the interface. */
  vipPrefix: number;
  firewall: { adminSources: string[]; extraRules: ExtraFirewallRule[] };
  /** Files in the config folders infra owns that it keeps although it did not write them. */
  extraFiles: string[];
  monitoring: { sources: string[] };
  /** Where the monitor hosts' Alertmanager sends alerts; none: it keeps them (its UI, `infra check`). */
  alerting?: AlertReceivers;
  tls: TlsSource;
  db: {
    primary: string;
    replicas: string[];
    name: string;
    user: string;
    password: SecretSource;
    replicationPassword: SecretSource;
    /** Accounts (`user@host`) infra keeps on the primary although it did not create them. */
    extraAccounts: string[];
  };
  app: { source: string; port: number; keepReleases: number };
  /** In file order. */
  hosts: Host[];
  groups: Record<string, string[]>;
}

/** A validation problem, located in the source file. */
export interface InventoryIssue {
  file: string;
  line: number;
  column: number;
  /** Key path such as `hosts.web1.roles[0]`. */
  path: string;
  message: string;
}

/**
 * Formats an issue as `inventory.yaml:14:7 hosts.web1.roles[0]: unknown role "wbe" (…)`, and a
 * warning as `inventory.yaml:4:20 firewall.admin_sources[0]: warning: 0.0.0.0/0 lets …`.
 */
export function formatIssue(issue: InventoryIssue, displayFile: string = issue.file, kind: 'error' | 'warning' = 'error'): string {
  const where = `${displayFile}:${issue.line}:${issue.column}`;
  const message = kind === 'warning' ? `warning: ${issue.message}` : issue.message;
  return issue.path ? `${where} ${issue.path}: ${message}` : `${where} ${message}`;
}

export type { Secret };
