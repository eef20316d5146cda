import { statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { checkbox, confirm, input, select } from '@inquirer/prompts';
import { stringify } from 'yaml';
import { UserError } from '../core/errors.js';
import { PACKAGE_ROOT } from '../core/package-root.js';
import { isIpv4, isIpv4Source, sameSubnet } from '../core/ipv4.js';
import { ROLES, type Role } from '../inventory/model.js';
import { inventorySchema } from '../inventory/schema.js';
import { varProblem } from '../inventory/vars.js';

/**
 * `infra init`: the answers that make a first inventory, where they come from (flags, prompts, or
 * defaults) and the commented YAML they become. The command checks the text with parseInventory
 * before anything is written.
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

/** The answers as flags (commander's option names). Lists come from repeatable flags. */
export interface InitFlags {
  domain?: string;
  host?: string[];
  vip?: string;
  vipPrefix?: string;
  vipInterface?: string;
  primary?: string;
  replicas?: string;
  adminSource?: string[];
  monitoringSource?: string[];
  sshUser?: string;
  identityFile?: string;
  knownHosts?: string;
  sudo?: boolean;
  sudoPasswordEnv?: string;
  tls?: 'ca' | 'files';
  certFile?: string;
  keyFile?: string;
  chainFile?: string;
  appSource?: string;
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

const DEFAULTS = {
  vipPrefix: 24,
  vipInterface: 'eth0',
  sshUser: 'root',
  identityFile: '~/.ssh/id_ed25519',
  knownHosts: '~/.ssh/known_hosts',
  sudoPasswordEnv: 'INFRA_SUDO_PASSWORD',
  // infra's example app: an inventory written by init renders and deploys before one's own app exists.
  appSource: join(PACKAGE_ROOT, 'examples', 'app'),
};

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

// ── checks shared by flags and prompts: a bad answer is refused where it is given ──────────────

const HOST_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The schema's own message for a value, so the wizard and `infra validate` say the same thing. */
function schemaProblem(schema: { safeParse(value: unknown): { success: boolean; error?: { issues: { message: string }[] } } }, value: unknown): string | undefined {
  const result = schema.safeParse(value);
  return result.success ? undefined : (result.error?.issues[0]?.message ?? 'invalid value');
}

function interfaceProblem(value: string): string | undefined {
  return varProblem('vrrp_interface', value);
}

function domainProblem(value: string): string | undefined {
  return schemaProblem(inventorySchema.shape.domain, value);
}

function sshUserProblem(value: string): string | undefined {
  return schemaProblem(inventorySchema.shape.ssh.unwrap().shape.user, value);
}

function hostNameProblem(name: string, hosts: readonly InitHost[]): string | undefined {
  if (!HOST_NAME.test(name)) return 'a host name starts with a letter and holds only letters, digits, _ and -';
  if (hosts.some((host) => host.name === name)) return `there is already a host named ${name}`;
  return undefined;
}

function addressProblem(address: string, hosts: readonly InitHost[]): string | undefined {
  if (!isIpv4(address)) return `invalid IPv4 address ${JSON.stringify(address)} (expected e.g. 10.0.0.11)`;
  const owner = hosts.find((host) => host.address === address);
  return owner ? `${address} is already the address of ${owner.name}` : undefined;
}

function sourcesProblem(sources: readonly string[]): string | undefined {
  if (sources.length === 0) return 'give at least one address or CIDR, e.g. 10.0.0.1/32';
  const bad = sources.find((source) => !isIpv4Source(source));
  return bad === undefined ? undefined : `invalid address or CIDR ${JSON.stringify(bad)} (expected e.g. 10.0.0.0/24 or 10.0.0.1)`;
}

function vipProblem(vip: string, hosts: readonly InitHost[], prefix: number): string | undefined {
  if (!isIpv4(vip)) return `invalid IPv4 address ${JSON.stringify(vip)} (expected e.g. 10.0.0.100)`;
  const owner = hosts.find((host) => host.address === vip);
  if (owner) return `${vip} is the address of ${owner.name}; the VIP must be an unused address`;
  const outside = hosts.find((host) => host.roles.includes('lb') && !sameSubnet(vip, host.address, prefix));
  return outside ? `${vip} is not in the /${prefix} subnet of lb host ${outside.name} (${outside.address})` : undefined;
}

function list(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

function fail(flag: string, problem: string | undefined): void {
  if (problem) throw new UserError(`--${flag}: ${problem}`);
}

/** `web1=10.0.0.21:web,app` (roles separated by , or +). */
export function parseHostFlag(spec: string, hosts: readonly InitHost[]): InitHost {
  const match = /^([^=]+)=([^:]+):(.+)$/.exec(spec);
  if (!match) throw new UserError(`--host ${spec}: expected NAME=ADDRESS:ROLES, e.g. web1=10.0.0.21:web or app1=10.0.0.31:app,db`);
  const [, name = '', address = '', roleText = ''] = match;
  fail(`host ${spec}`, hostNameProblem(name, hosts) ?? addressProblem(address, hosts));
  const roles = roleText.split(/[,+]/);
  const unknown = roles.find((role) => !(ROLES as readonly string[]).includes(role));
  if (unknown !== undefined) throw new UserError(`--host ${spec}: unknown role ${JSON.stringify(unknown)} (expected ${ROLES.join(', ')})`);
  return { name, address, roles: [...new Set(roles)] as Role[] };
}

export function answersFromFlags(flags: InitFlags): KnownAnswers {
  const partial: KnownAnswers = {};
  if (flags.domain !== undefined) {
    fail('domain', domainProblem(flags.domain));
    partial.domain = flags.domain;
  }
  if (flags.host?.length) {
    const hosts: InitHost[] = [];
    for (const spec of flags.host) hosts.push(parseHostFlag(spec, hosts));
    partial.hosts = hosts;
  }
  if (flags.vipPrefix !== undefined) {
    fail('vip-prefix', schemaProblem(inventorySchema.shape.vip_prefix, Number(flags.vipPrefix)));
    partial.vipPrefix = Number(flags.vipPrefix);
  }
  if (flags.vip !== undefined) {
    fail('vip', vipProblem(flags.vip, partial.hosts ?? [], partial.vipPrefix ?? DEFAULTS.vipPrefix));
    partial.vip = flags.vip;
  }
  if (flags.vipInterface !== undefined) {
    fail('vip-interface', interfaceProblem(flags.vipInterface));
    partial.vipInterface = flags.vipInterface;
  }
  if (flags.primary !== undefined) partial.primary = flags.primary;
  if (flags.replicas !== undefined) partial.replicas = list(flags.replicas);
  if (flags.adminSource?.length) {
    fail('admin-source', sourcesProblem(flags.adminSource));
    partial.adminSources = flags.adminSource;
  }
  if (flags.monitoringSource?.length) {
    fail('monitoring-source', sourcesProblem(flags.monitoringSource));
    partial.monitoringSources = flags.monitoringSource;
  }
  if (flags.sshUser !== undefined) {
    fail('ssh-user', sshUserProblem(flags.sshUser));
    partial.sshUser = flags.sshUser;
  }
  if (flags.identityFile !== undefined) partial.identityFile = flags.identityFile;
  if (flags.knownHosts !== undefined) partial.knownHosts = flags.knownHosts;
  if (flags.sudoPasswordEnv !== undefined) {
    if (!ENV_NAME.test(flags.sudoPasswordEnv)) throw new UserError('--sudo-password-env: expected an environment variable name (letters, digits, _)');
    partial.sudo = { kind: 'password', env: flags.sudoPasswordEnv };
  } else if (flags.sudo) {
    partial.sudo = { kind: 'passwordless' };
  }
  if (flags.tls === 'files' || (flags.tls === undefined && (flags.certFile || flags.keyFile))) {
    if (!flags.certFile || !flags.keyFile) throw new UserError('--tls files needs --cert-file and --key-file (and optionally --chain-file)');
    partial.tls = { source: 'files', certFile: flags.certFile, keyFile: flags.keyFile, ...(flags.chainFile ? { chainFile: flags.chainFile } : {}) };
  } else if (flags.tls === 'ca') {
    partial.tls = { source: 'ca' };
  }
  if (flags.appSource !== undefined) partial.appSource = flags.appSource;
  return partial;
}

function dbHosts(hosts: readonly InitHost[]): string[] {
  return hosts.filter((host) => host.roles.includes('db')).map((host) => host.name);
}

function lbCount(hosts: readonly InitHost[]): number {
  return hosts.filter((host) => host.roles.includes('lb')).length;
}

/** The flags a script must give for init to ask nothing; the rest have defaults. */
export function missingFlags(partial: KnownAnswers): string[] {
  const missing: string[] = [];
  if (!partial.domain) missing.push('--domain');
  if (!partial.hosts) missing.push('--host (one per host)');
  if (partial.hosts && lbCount(partial.hosts) >= 2 && !partial.vip) missing.push('--vip (two lb hosts share it)');
  if (!partial.hosts) {
    if (!partial.primary) missing.push('--primary (unless there is a single db host)');
  } else if (dbHosts(partial.hosts).length === 0) {
    missing.push('a --host with role db (the app tier needs a database)');
  } else if (!partial.primary && dbHosts(partial.hosts).length > 1) {
    missing.push('--primary');
  }
  if (!partial.adminSources) missing.push('--admin-source');
  return missing;
}

/** Every answer, from flags where given and defaults elsewhere (call only when missingFlags is empty). */
export function completeWithDefaults(partial: KnownAnswers): InitAnswers {
  const hosts = partial.hosts ?? [];
  const primary = partial.primary ?? dbHosts(hosts)[0] ?? '';
  const adminSources = partial.adminSources ?? [];
  const sshUser = partial.sshUser ?? DEFAULTS.sshUser;
  return {
    domain: partial.domain ?? '',
    hosts,
    ...(partial.vip !== undefined ? { vip: partial.vip, vipInterface: partial.vipInterface ?? DEFAULTS.vipInterface } : {}),
    vipPrefix: partial.vipPrefix ?? DEFAULTS.vipPrefix,
    primary,
    // Every db host is the primary or a replica (a db host outside both would sit unused).
    replicas: partial.replicas ?? dbHosts(hosts).filter((name) => name !== primary),
    adminSources,
    monitoringSources: partial.monitoringSources ?? adminSources,
    ssh: {
      user: sshUser,
      identityFile: partial.identityFile ?? DEFAULTS.identityFile,
      knownHosts: partial.knownHosts ?? DEFAULTS.knownHosts,
      sudo: partial.sudo ?? (sshUser === 'root' ? { kind: 'none' } : { kind: 'passwordless' }),
    },
    tls: partial.tls ?? { source: 'ca' },
    appSource: partial.appSource ?? DEFAULTS.appSource,
  };
}

// ── the prompts ────────────────────────────────────────────────────────────────────────────────

/** This machine's address in the hosts' network, as the likely admin source (infra connects from it). */
function controllerAddress(hosts: readonly InitHost[], prefix: number): string | undefined {
  const own = Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && entry.family === 'IPv4' && !entry.internal)
    .map((entry) => entry!.address);
  return own.find((address) => hosts.some((host) => sameSubnet(address, host.address, prefix)));
}

const valid = (problem: string | undefined): string | true => problem ?? true;

async function askHosts(): Promise<InitHost[]> {
  const hosts: InitHost[] = [];
  process.stdout.write('Hosts: give each its name, address and roles (lb, web, app, db). The first lb is the keepalived master.\n');
  do {
    const name = await input({ message: 'Host name:', validate: (value) => valid(hostNameProblem(value.trim(), hosts)) });
    const address = await input({ message: `Address of ${name.trim()}:`, validate: (value) => valid(addressProblem(value.trim(), hosts)) });
    const roles = await checkbox<Role>({
      message: `Roles of ${name.trim()}:`,
      choices: ROLES.map((role) => ({ value: role, name: role })),
      required: true,
    });
    hosts.push({ name: name.trim(), address: address.trim(), roles });
  } while (await confirm({ message: 'Add another host?', default: true }));
  return hosts;
}

async function askSources(message: string, fallback: string | undefined): Promise<string[]> {
  const answer = await input({
    message,
    ...(fallback ? { default: fallback } : {}),
    validate: (value) => valid(sourcesProblem(list(value))),
  });
  return list(answer);
}

async function askTls(): Promise<TlsAnswer> {
  const source = await select<'ca' | 'files'>({
    message: 'TLS certificates for the web hosts:',
    choices: [
      { value: 'ca', name: 'ca: infra creates its own CA and issues them' },
      { value: 'files', name: 'files: certificate and key files you provide (certbot, a company CA)' },
    ],
  });
  if (source === 'ca') return { source };
  const required = (value: string) => value.trim() !== '' || 'a path is required';
  const certFile = (await input({ message: 'Certificate file (PEM, relative to the inventory):', validate: required })).trim();
  const keyFile = (await input({ message: 'Private key file (PEM):', validate: required })).trim();
  const chainFile = (await input({ message: 'Chain file (intermediates; empty for none):' })).trim();
  return { source, certFile, keyFile, ...(chainFile ? { chainFile } : {}) };
}

/** Asks for every answer the flags did not give, in the order an operator thinks of them. */
/** Asks for what `partial` lacks; `inventoryDir` is where relative paths in the answers start from. */
export async function askAnswers(partial: KnownAnswers, inventoryDir = '.'): Promise<InitAnswers> {
  const domain = partial.domain ?? (await input({ message: "The site's public name (domain):", validate: (value) => valid(domainProblem(value.trim())) })).trim();
  const hosts = partial.hosts ?? (await askHosts());

  const sshUser =
    partial.sshUser ?? (await input({ message: 'SSH user on the hosts:', default: DEFAULTS.sshUser, validate: (value) => valid(sshUserProblem(value.trim())) })).trim();
  const identityFile = partial.identityFile ?? (await input({ message: 'SSH private key file:', default: DEFAULTS.identityFile })).trim();
  const knownHosts = partial.knownHosts ?? (await input({ message: 'known_hosts file for host key checks:', default: DEFAULTS.knownHosts })).trim();
  let sudo = partial.sudo ?? { kind: 'none' };
  if (sshUser !== 'root' && !partial.sudo) {
    const kind = await select<'passwordless' | 'password'>({
      message: `${sshUser} is not root; infra runs commands through sudo:`,
      choices: [
        { value: 'passwordless', name: 'passwordless sudo (NOPASSWD)' },
        { value: 'password', name: 'sudo with a password, read from an environment variable' },
      ],
    });
    sudo =
      kind === 'passwordless'
        ? { kind }
        : { kind, env: (await input({ message: 'Environment variable holding the sudo password:', default: DEFAULTS.sudoPasswordEnv, validate: (value) => ENV_NAME.test(value.trim()) || 'letters, digits and _ only' })).trim() };
  }

  let vipPrefix = partial.vipPrefix ?? DEFAULTS.vipPrefix;
  let vip = partial.vip;
  if (vip === undefined && lbCount(hosts) >= 2) {
    vipPrefix =
      partial.vipPrefix ??
      Number(
        await input({
          message: "Prefix length of the hosts' subnet:",
          default: String(DEFAULTS.vipPrefix),
          validate: (value) => valid(schemaProblem(inventorySchema.shape.vip_prefix, Number(value))),
        }),
      );
    vip = (await input({ message: 'VIP (the address the lb hosts share):', validate: (value) => valid(vipProblem(value.trim(), hosts, vipPrefix)) })).trim();
  }
  let vipInterface = partial.vipInterface;
  if (vip !== undefined && vipInterface === undefined) {
    vipInterface = (
      await input({
        message: 'Network interface of the lb hosts that holds the VIP:',
        default: DEFAULTS.vipInterface,
        validate: (value) => valid(interfaceProblem(value.trim())),
      })
    ).trim();
  }

  const databases = dbHosts(hosts);
  let primary = partial.primary ?? databases[0] ?? '';
  if (partial.primary === undefined && databases.length > 1) {
    primary = await select({ message: 'Database primary (takes the writes):', choices: databases.map((name) => ({ value: name, name })) });
  }
  const replicas = partial.replicas ?? databases.filter((name) => name !== primary);
  if (partial.replicas === undefined && replicas.length > 0) process.stdout.write(`Replicas: ${replicas.join(', ')} (every other db host)\n`);

  const controller = controllerAddress(hosts, vipPrefix);
  const adminSources =
    partial.adminSources ??
    (await askSources(
      `Who may reach SSH (addresses or CIDRs, comma-separated; must include this machine${controller ? `, ${controller}` : ''}):`,
      controller ? `${controller}/32` : undefined,
    ));
  const monitoringSources =
    partial.monitoringSources ?? (await askSources('Who may scrape the exporters (addresses or CIDRs):', adminSources.join(', ')));
  const tls = partial.tls ?? (await askTls());
  const appSource =
    partial.appSource ??
    (
      await input({
        message: "Application folder to deploy (relative to the inventory; the default is infra's example app):",
        default: DEFAULTS.appSource,
        validate: (value) => valid(appSourceProblem(value.trim(), inventoryDir)),
      })
    ).trim();

  return {
    domain,
    hosts,
    ...(vip !== undefined ? { vip, vipInterface: vipInterface ?? DEFAULTS.vipInterface } : {}),
    vipPrefix,
    primary,
    replicas,
    adminSources,
    monitoringSources,
    ssh: { user: sshUser, identityFile, knownHosts, sudo },
    tls,
    appSource,
  };
}

// ── the inventory text ─────────────────────────────────────────────────────────────────────────

/** A YAML scalar, quoted only when YAML needs it (so a value can never change the structure). */
function scalar(value: string | number): string {
  return stringify(value).trimEnd();
}

function flowList(values: readonly string[]): string {
  return stringify(values, { collectionStyle: 'flow', flowCollectionPadding: false }).trimEnd();
}

export function renderInventory(answers: InitAnswers, file: string): string {
  const { ssh, tls } = answers;
  const lines = [
    `# infra inventory for ${answers.domain}, written by \`infra init\`.`,
    '# Every key is described in docs/inventory.md. Check it with:',
    `#   infra validate ${file}`,
    '# Paths are relative to this file. Secrets are never written here in clear: env:NAME, file:PATH or generate.',
    '',
    "# The site's public name; DNS publishes it as an A record pointing at the VIP.",
    `domain: ${scalar(answers.domain)}`,
    '',
  ];
  if (answers.vip !== undefined) {
    lines.push(
      '# The address the lb hosts share through keepalived (VRRP); it moves to a backup when the master fails.',
      `vip: ${scalar(answers.vip)}`,
      `vip_prefix: ${answers.vipPrefix}              # prefix length of the hosts' subnet`,
      '',
    );
  }
  lines.push(
    "# SSH for every host; a host's own ssh: block may override any key.",
    'ssh:',
    `  user: ${scalar(ssh.user)}`,
    `  identity_file: ${scalar(ssh.identityFile)}`,
    `  known_hosts: ${scalar(ssh.knownHosts)}   # host keys are checked against it; a first connection needs --accept-new-host-keys`,
  );
  if (ssh.sudo.kind === 'passwordless') lines.push('  sudo: {}                    # passwordless sudo for the non-root user');
  if (ssh.sudo.kind === 'password') {
    lines.push('  sudo:', `    password: ${scalar(`env:${ssh.sudo.env}`)}   # read from the environment when infra runs; never on a command line`);
  }
  lines.push(
    '',
    '# ufw on every host: incoming traffic is denied except what the roles open.',
    'firewall:',
    '  # Who may reach SSH. It must include the machine infra runs from, or provision refuses to enable ufw.',
    `  admin_sources: ${flowList(answers.adminSources)}`,
    '',
    '# Who may scrape the node exporter (9100) and the role exporters.',
    'monitoring:',
    `  sources: ${flowList(answers.monitoringSources)}`,
    '',
    '# TLS certificates for the web hosts (TLS ends on the web hosts; the lb pair passes it through).',
    'tls:',
  );
  if (tls.source === 'ca') {
    lines.push('  source: ca                  # infra keeps a CA in the state directory and issues the certificates');
  } else {
    lines.push(
      '  source: files               # certificates you provide',
      `  cert_file: ${scalar(tls.certFile)}`,
      `  key_file: ${scalar(tls.keyFile)}`,
      ...(tls.chainFile ? [`  chain_file: ${scalar(tls.chainFile)}`] : []),
    );
  }
  lines.push(
    '',
    '# The database tier: the primary takes writes, the replicas follow it.',
    'db:',
    `  primary: ${scalar(answers.primary)}`,
    `  replicas: ${flowList(answers.replicas)}`,
    '  password: generate          # created once and kept in the state directory (.infra)',
    '  replication_password: generate',
    '',
    '# The application copied to the app hosts as a versioned release.',
    'app:',
    `  source: ${scalar(answers.appSource)}`,
    '',
    '# The hosts. On lb hosts the order sets keepalived priority: the first lb is the master.',
    'hosts:',
  );
  for (const host of answers.hosts) {
    lines.push(`  ${scalar(host.name)}:`, `    address: ${scalar(host.address)}`, `    roles: ${flowList(host.roles)}`);
  }
  if (answers.vipInterface !== undefined) {
    lines.push(
      '',
      '# Settings by role. keepalived puts the VIP on this interface of the lb hosts.',
      'role_vars:',
      '  lb:',
      `    vrrp_interface: ${scalar(answers.vipInterface)}`,
    );
  }
  return lines.join('\n') + '\n';
}
