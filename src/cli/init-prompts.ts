import { networkInterfaces } from 'node:os';
import { checkbox, confirm, input, select } from '@inquirer/prompts';
import { sameSubnet } from '../core/ipv4.js';
import {
  addressProblem,
  appSourceProblem,
  dbHostNames,
  domainProblem,
  ENV_NAME,
  hostNameProblem,
  INIT_DEFAULTS,
  interfaceProblem,
  type InitAnswers,
  type InitHost,
  type KnownAnswers,
  lbHostCount,
  listAnswer,
  sourcesProblem,
  sshUserProblem,
  type TlsAnswer,
  vipPrefixProblem,
  vipProblem,
} from '../inventory/init-answers.js';
import { ROLES, type Role } from '../inventory/model.js';

/** `infra init` on a terminal: asks for the answers the flags did not give, each checked as it is typed. */

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
  process.stdout.write(`Hosts: give each its name, address and roles (${ROLES.join(', ')}). The first lb is the keepalived master.\n`);
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
    validate: (value) => valid(sourcesProblem(listAnswer(value))),
  });
  return listAnswer(answer);
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

/**
 * Asks for what `partial` lacks, in the order an operator thinks of them; `inventoryDir` is where
 * relative paths in the answers start from.
 */
export async function askAnswers(partial: KnownAnswers, inventoryDir = '.'): Promise<InitAnswers> {
  const domain =
    partial.domain ?? (await input({ message: "The site's public name (domain):", validate: (value) => valid(domainProblem(value.trim())) })).trim();
  const hosts = partial.hosts ?? (await askHosts());

  const sshUser =
    partial.sshUser ??
    (await input({ message: 'SSH user on the hosts:', default: INIT_DEFAULTS.sshUser, validate: (value) => valid(sshUserProblem(value.trim())) })).trim();
  const identityFile = partial.identityFile ?? (await input({ message: 'SSH private key file:', default: INIT_DEFAULTS.identityFile })).trim();
  const knownHosts = partial.knownHosts ?? (await input({ message: 'known_hosts file for host key checks:', default: INIT_DEFAULTS.knownHosts })).trim();
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
        : {
            kind,
            env: (
              await input({
                message: 'Environment variable holding the sudo password:',
                default: INIT_DEFAULTS.sudoPasswordEnv,
                validate: (value) => ENV_NAME.test(value.trim()) || 'letters, digits and _ only',
              })
            ).trim(),
          };
  }

  let vipPrefix = partial.vipPrefix ?? INIT_DEFAULTS.vipPrefix;
  let vip = partial.vip;
  if (vip === undefined && lbHostCount(hosts) >= 2) {
    vipPrefix =
      partial.vipPrefix ??
      Number(
        await input({
          message: "Prefix length of the hosts' subnet:",
          default: String(INIT_DEFAULTS.vipPrefix),
          validate: (value) => valid(vipPrefixProblem(Number(value))),
        }),
      );
    vip = (await input({ message: 'VIP (the address the lb hosts share):', validate: (value) => valid(vipProblem(value.trim(), hosts, vipPrefix)) })).trim();
  }
  let vipInterface = partial.vipInterface;
  if (vip !== undefined && vipInterface === undefined) {
    vipInterface = (
      await input({
        message: 'Network interface of the lb hosts that holds the VIP:',
        default: INIT_DEFAULTS.vipInterface,
        validate: (value) => valid(interfaceProblem(value.trim())),
      })
    ).trim();
  }

  const databases = dbHostNames(hosts);
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
  const monitoringSources = partial.monitoringSources ?? (await askSources('Who may scrape the exporters (addresses or CIDRs):', adminSources.join(', ')));
  const tls = partial.tls ?? (await askTls());
  const appSource =
    partial.appSource ??
    (
      await input({
        message: "Application folder to deploy (relative to the inventory; the default is infra's example app):",
        default: INIT_DEFAULTS.appSource,
        validate: (value) => valid(appSourceProblem(value.trim(), inventoryDir)),
      })
    ).trim();

  return {
    domain,
    hosts,
    ...(vip !== undefined ? { vip, vipInterface: vipInterface ?? INIT_DEFAULTS.vipInterface } : {}),
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
