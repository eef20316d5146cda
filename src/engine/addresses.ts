import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import SSHConfig from 'ssh-config';
import { UserError } from '../core/errors.js';
import { isIpv4, sameSubnet } from '../core/ipv4.js';
import { formatIssue, type Host, type Inventory, type JumpHost, type SshSettings } from '../inventory/model.js';
import { formatKeyPath, YamlSource, type KeyPath } from '../inventory/positions.js';
import { DEFAULT_SSH_PORT, parseJump } from '../inventory/schema.js';

/**
 * The step between loading an inventory and reaching its hosts, done once at the start of a run:
 * what ~/.ssh/config (or ssh.config_file) says about each host, as OpenSSH reads it, and the one
 * IPv4 address of each host given by name. Settings the inventory writes win over the ssh config,
 * which wins over the defaults. The name as written stays what SSH connects to and what
 * known_hosts is searched for (SshSettings.hostName); `address` becomes the resolved IP, which the
 * firewall rules, the VIP checks and the services' configuration use.
 */

/** The IPv4 addresses a name resolves to (the system resolver, so /etc/hosts counts). */
export type Resolver = (name: string) => Promise<string[]>;

const systemResolver: Resolver = async (name) => (await lookup(name, { all: true, family: 4 })).map((entry) => entry.address);

/** What an ssh config says about one destination, in OpenSSH's terms (first value wins). */
export interface SshConfigEntry {
  hostName?: string;
  user?: string;
  port?: number;
  identityFile?: string;
  proxyJump?: string;
}

/** Reads an ssh config for destinations; Match blocks other than `Match exec` are evaluated by ssh-config, `Match exec` is skipped (it would run commands). */
export function sshConfigLookup(text: string): (destination: string) => SshConfigEntry {
  const config = SSHConfig.parse(text);
  return (destination) => {
    const computed = config.compute(destination, { ignoreCase: true, matchExec: false }) as Record<string, string | string[] | undefined>;
    const first = (key: string): string | undefined => {
      const value = computed[key];
      return Array.isArray(value) ? value[0] : value;
    };
    const entry: SshConfigEntry = {};
    const hostName = first('hostname');
    // %h in HostName is the destination itself (ssh_config TOKENS), %% a percent sign.
    if (hostName !== undefined) entry.hostName = hostName.replace(/%(%|h)/g, (_, token: string) => (token === 'h' ? destination : '%'));
    const user = first('user');
    if (user !== undefined) entry.user = user;
    const port = first('port');
    if (port !== undefined && /^\d+$/.test(port)) entry.port = Number(port);
    const identityFile = first('identityfile');
    if (identityFile !== undefined && identityFile.toLowerCase() !== 'none') entry.identityFile = identityFile;
    const proxyJump = first('proxyjump');
    if (proxyJump !== undefined && proxyJump.toLowerCase() !== 'none') entry.proxyJump = proxyJump;
    return entry;
  };
}

/** A problem located at an inventory key, to report as `file:line:col key: message`. */
interface Located {
  path: KeyPath;
  message: string;
}

/**
 * The inventory with each host's ssh settings completed from the ssh config and its address
 * resolved to one IPv4 address. Throws a UserError naming file:line for a name that does not
 * resolve, resolves to several addresses with none pinned (`ip`), or a pin it does not resolve to.
 */
export async function resolveHostAddresses(inventory: Inventory, resolver: Resolver = systemResolver): Promise<Inventory> {
  const configs = new Map<string, Promise<(destination: string) => SshConfigEntry>>();
  const configFor = (settings: SshSettings): Promise<(destination: string) => SshConfigEntry> => {
    let config = configs.get(settings.configFile);
    if (!config) {
      config = readSshConfig(settings.configFile, settings.configFileNamed);
      configs.set(settings.configFile, config);
    }
    return config;
  };
  const problems: Located[] = [];
  const hosts = await Promise.all(
    inventory.hosts.map(async (host): Promise<Host> => {
      const lookupConfig = await configFor(host.ssh);
      const ssh = completeSettings(host.ssh, lookupConfig(host.ssh.hostName));
      const addressPath: KeyPath = ['hosts', host.name, 'address'];
      const address = await resolveOne(ssh.hostName, host.pinnedAddress, resolver, addressPath, problems);
      if (ssh.jump !== undefined) {
        const jumpHost = await resolveJump(ssh, lookupConfig, resolver, addressPath, problems);
        if (jumpHost) ssh.jumpHost = jumpHost;
      }
      return { ...host, address: address ?? host.address, ssh };
    }),
  );
  problems.push(...resolvedAddressProblems(inventory, hosts));
  if (problems.length > 0) throw new UserError(await describeProblems(inventory.file, problems));
  return { ...inventory, hosts };
}

/** The inventory's settings, with what it leaves out taken from the ssh config entry. */
export function completeSettings(settings: SshSettings, entry: SshConfigEntry): SshSettings {
  const completed: SshSettings = { ...settings, defaulted: [] };
  if (entry.hostName !== undefined) completed.hostName = entry.hostName;
  if (settings.defaulted.includes('user') && entry.user !== undefined) {
    completed.user = entry.user;
    // A user given by the ssh config that is not root runs commands through sudo, without a
    // password: a sudo password belongs in the inventory, with the user it is for.
    if (entry.user !== 'root' && !completed.sudo) completed.sudo = {};
  }
  if (settings.defaulted.includes('port') && entry.port !== undefined) completed.port = entry.port;
  if (settings.identityFile === undefined && entry.identityFile !== undefined) {
    completed.identityFile = identityPath(entry.identityFile, { h: completed.hostName, r: completed.user });
  }
  if (settings.jump === undefined && entry.proxyJump !== undefined) completed.jump = entry.proxyJump;
  return completed;
}

async function readSshConfig(file: string, named: boolean): Promise<(destination: string) => SshConfigEntry> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    // ~/.ssh/config is read when it exists, as ssh does; one the inventory names must exist.
    if (!named && (err as NodeJS.ErrnoException).code === 'ENOENT') return () => ({});
    throw new UserError(`cannot read the ssh config ${file} (ssh.config_file): ${(err as Error).message}`);
  }
  return sshConfigLookup(text);
}

/** The one IPv4 address `name` stands for; undefined (and a problem noted) when there is not exactly one. */
async function resolveOne(
  name: string,
  pinned: string | undefined,
  resolver: Resolver,
  path: KeyPath,
  problems: Located[],
  what = '',
): Promise<string | undefined> {
  if (isIpv4(name)) return name;
  let addresses: string[];
  try {
    addresses = [...new Set(await resolver(name))];
  } catch (err) {
    // A pinned address stands for the name when the resolver cannot answer.
    if (pinned !== undefined) return pinned;
    const code = (err as NodeJS.ErrnoException).code;
    problems.push({
      path,
      message: `${what}${name} does not resolve to an IPv4 address (${code ?? (err as Error).message}); fix the name or write the address`,
    });
    return undefined;
  }
  if (pinned !== undefined) {
    if (addresses.includes(pinned)) return pinned;
    problems.push({ path, message: `${what}${name} resolves to ${addresses.join(', ')}, not to the pinned ip ${pinned}; fix ip or the name` });
    return undefined;
  }
  if (addresses.length === 1) return addresses[0];
  if (addresses.length === 0) {
    problems.push({ path, message: `${what}${name} does not resolve to an IPv4 address; fix the name or write the address` });
    return undefined;
  }
  problems.push({
    path,
    message:
      `${what}${name} resolves to several addresses (${addresses.join(', ')}); firewall rules need one: ` +
      `pin the one to use with \`ip: ${addresses[0]}\` beside the address`,
  });
  return undefined;
}

async function resolveJump(
  ssh: SshSettings,
  lookupConfig: (destination: string) => SshConfigEntry,
  resolver: Resolver,
  path: KeyPath,
  problems: Located[],
): Promise<JumpHost | undefined> {
  const spec = ssh.jump as string;
  if (spec.includes(',')) {
    problems.push({ path, message: `jump ${spec} names several hops; infra goes through one jump host` });
    return undefined;
  }
  const parsed = parseJump(spec);
  if (!parsed) {
    problems.push({ path, message: `jump ${JSON.stringify(spec)} (from the ssh config's ProxyJump) is not [user@]host[:port]` });
    return undefined;
  }
  // The jump host is a destination of its own for the ssh config, as with ssh -J.
  const entry = lookupConfig(parsed.host);
  const hostName = entry.hostName ?? parsed.host;
  const address = await resolveOne(hostName, undefined, resolver, path, problems, 'jump host ');
  if (address === undefined) return undefined;
  const user = parsed.user ?? entry.user ?? ssh.user;
  const identityFile = entry.identityFile !== undefined ? identityPath(entry.identityFile, { h: hostName, r: user }) : ssh.identityFile;
  return {
    spec,
    hostName,
    address,
    port: parsed.port ?? entry.port ?? DEFAULT_SSH_PORT,
    user,
    ...(identityFile !== undefined ? { identityFile } : {}),
  };
}

/** The checks on addresses that validation could not make while some were names: one host per address, lb hosts in the vip's subnet. */
function resolvedAddressProblems(inventory: Inventory, hosts: readonly Host[]): Located[] {
  const givenByName = new Set(inventory.hosts.filter((host) => !isIpv4(host.address)).map((host) => host.name));
  const problems: Located[] = [];
  const owners = new Map<string, string>();
  for (const host of hosts) {
    const owner = owners.get(host.address);
    if (owner !== undefined && (givenByName.has(host.name) || givenByName.has(owner))) {
      problems.push({
        path: ['hosts', host.name, 'address'],
        message: `${host.name} resolves to ${host.address}, the address of ${owner} too; each host needs its own address`,
      });
    }
    if (owner === undefined) owners.set(host.address, host.name);
  }
  const vip = inventory.vip;
  if (vip === undefined) return problems;
  for (const host of hosts.filter((candidate) => givenByName.has(candidate.name) && candidate.roles.includes('lb'))) {
    if (host.address === vip) problems.push({ path: ['hosts', host.name, 'address'], message: `${host.name} resolves to ${host.address}, the vip itself` });
    else if (!sameSubnet(vip, host.address, inventory.vipPrefix)) {
      problems.push({
        path: ['hosts', host.name, 'address'],
        message: `${host.name} resolves to ${host.address}, outside the /${inventory.vipPrefix} subnet of vip ${vip}`,
      });
    }
  }
  return problems;
}

async function describeProblems(file: string, problems: readonly Located[]): Promise<string> {
  let source: YamlSource | undefined;
  try {
    source = new YamlSource(await readFile(file, 'utf8'));
  } catch {
    source = undefined;
  }
  const shown = relative(process.cwd(), file) || file;
  const lines = problems.map(({ path, message }) => {
    const position = source?.valueAt(path) ?? { line: 1, column: 1 };
    return '  ' + formatIssue({ file, ...position, path: formatKeyPath(path), message }, shown);
  });
  return `the hosts' addresses cannot be settled; nothing was changed:\n${lines.join('\n')}`;
}

/**
 * An IdentityFile as ssh reads it: `~` is the home folder, and the tokens %d (home), %h (the host
 * name), %r (the remote user), %u (the local user) and %% are replaced; a relative path is taken
 * from the current folder, as ssh does.
 */
export function identityPath(path: string, tokens: { h: string; r: string }): string {
  const home = process.env.HOME || homedir();
  const values: Record<string, string> = { d: home, h: tokens.h, r: tokens.r, u: userInfo().username, '%': '%' };
  const expanded = path.replace(/%([dhru%])/g, (_, token: string) => values[token] as string);
  if (expanded === '~') return home;
  if (expanded.startsWith('~/')) return join(home, expanded.slice(2));
  return isAbsolute(expanded) ? expanded : resolve(expanded);
}
