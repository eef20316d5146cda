import { ROLE, ROLES, type Role } from './model.js';
import { isIpv4, isIpv4Source, networkOf, parseIPv4, sameSubnet } from '../core/ipv4.js';
import { DEFAULT_SSH_PORT, inventorySchema } from './schema.js';
import type { KeyPath } from './positions.js';
import { NODE_EXPORTER_PORT, ROLE_LISTENERS, ROLE_PORTS } from './ports.js';
import { isKnownVar, KNOWN_VARS, varProblem, type KnownVarName } from './vars.js';
import { MAX_VRRP_HOSTS, PRIORITY_STEP, TOP_PRIORITY } from './vrrp.js';

/**
 * The checks that relate several keys (the schema checks one value at a time). They read the raw
 * YAML value leniently instead of the schema's output, so that a schema error in one host does
 * not hide a problem elsewhere: everything is reported in one run.
 */

export interface Finding {
  path: KeyPath;
  message: string;
  /** Report at the key itself rather than at its value (names, unknown keys). */
  atKey?: boolean;
  /** A warning is printed but does not fail validation. */
  warning?: boolean;
}

/** A host as far as it can be read, whatever else is wrong with it. */
interface HostView {
  name: string;
  address?: string;
  /** Valid roles only, each with its index in the written list. */
  roles: { role: Role; index: number }[];
  raw: Record<string, unknown>;
}

/** Which role each role sends its traffic to: lb → web → app → db. */
const NEEDS: readonly [Role, Role][] = [
  [ROLE.lb, ROLE.web],
  [ROLE.web, ROLE.app],
  [ROLE.app, ROLE.db],
];

// Names become file names, template variables and keepalived/MariaDB identifiers: keep them plain.
const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** "a, b, c" truncated to keep a message on one readable line. */
function listNames(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  return names.length > 8 ? `${names.slice(0, 8).join(', ')}, …` : names.join(', ');
}

export function checkInventory(raw: Record<string, unknown>): Finding[] {
  const findings: Finding[] = [];
  const hosts = readHosts(raw, findings);
  const hostNames = hosts.map((host) => host.name);
  checkNames(raw, findings);
  checkAddresses(hosts, findings);
  checkUsableAddresses(raw, hosts, findings);
  checkRoleDependencies(hosts, findings);
  checkVip(raw, hosts, findings);
  checkPorts(raw, hosts, findings);
  checkVars(raw, findings);
  checkVrrpRouterId(raw, hosts, findings);
  checkWorldOpenSources(raw, findings);
  checkDatabase(raw, hosts, findings);
  checkGroups(raw, hostNames, findings);
  checkExtraRuleHosts(raw, hostNames, findings);
  checkSudo(raw, hosts, findings);
  checkTls(raw, findings);
  return findings;
}

function readHosts(raw: Record<string, unknown>, findings: Finding[]): HostView[] {
  if (!isRecord(raw.hosts)) return [];
  const entries = Object.entries(raw.hosts);
  if (entries.length === 0) {
    findings.push({ path: ['hosts'], message: 'no hosts; add at least one host with an address and roles' });
  }
  return entries.map(([name, value]) => {
    const rawHost = isRecord(value) ? value : {};
    const roles: HostView['roles'] = [];
    if (Array.isArray(rawHost.roles)) {
      rawHost.roles.forEach((role: unknown, index) => {
        if (!isRole(role)) return;
        if (roles.some((seen) => seen.role === role)) {
          findings.push({ path: ['hosts', name, 'roles', index], message: `role ${role} is listed twice` });
        } else {
          roles.push({ role, index });
        }
      });
    }
    if (rawHost.ip !== undefined && isIpv4(rawHost.address)) {
      findings.push({ path: ['hosts', name, 'ip'], message: 'ip pins the address of a host given by name; this host is given by its address, remove ip' });
    }
    // A host given by name is checked by the address pinned for it, or once resolved (src/engine/addresses.ts).
    const address = isIpv4(rawHost.ip) ? rawHost.ip : rawHost.address;
    return { name, roles, raw: rawHost, ...(isIpv4(address) ? { address } : {}) };
  });
}

function hasRole(host: HostView, role: Role): boolean {
  return host.roles.some((entry) => entry.role === role);
}

function checkNames(raw: Record<string, unknown>, findings: Finding[]): void {
  for (const section of ['hosts', 'groups'] as const) {
    const map = raw[section];
    if (!isRecord(map)) continue;
    const kind = section === 'hosts' ? 'host' : 'group';
    for (const name of Object.keys(map)) {
      if (NAME.test(name)) continue;
      findings.push({
        path: [section, name],
        atKey: true,
        message: `${kind} name ${JSON.stringify(name)} must start with a letter and contain only letters, digits, _ and -`,
      });
    }
  }
}

function checkAddresses(hosts: HostView[], findings: Finding[]): void {
  const owners = new Map<string, string>();
  for (const host of hosts) {
    if (!host.address) continue;
    const owner = owners.get(host.address);
    if (owner === undefined) {
      owners.set(host.address, host.name);
    } else {
      findings.push({
        path: ['hosts', host.name, 'address'],
        message: `address ${host.address} is used by both ${owner} and ${host.name}; each host needs its own address`,
      });
    }
  }
}

function checkRoleDependencies(hosts: HostView[], findings: Finding[]): void {
  for (const [role, needed] of NEEDS) {
    const first = hosts.find((host) => hasRole(host, role));
    if (!first || hosts.some((host) => hasRole(host, needed))) continue;
    const index = first.roles.find((entry) => entry.role === role)?.index ?? 0;
    findings.push({
      path: ['hosts', first.name, 'roles', index],
      message: `role ${role} needs a host with role ${needed}, and no host has it; add ${needed} to a host's roles`,
    });
  }
}

function checkVip(raw: Record<string, unknown>, hosts: HostView[], findings: Finding[]): void {
  const vip = raw.vip;
  if (!isIpv4(vip)) return;
  const lbHosts = hosts.filter((host) => hasRole(host, ROLE.lb));
  if (lbHosts.length < 2) {
    findings.push({
      path: ['vip'],
      message:
        `a VIP needs at least two hosts with role lb to fail over between (found ${lbHosts.length}` +
        `${lbHosts.length ? `: ${listNames(lbHosts.map((host) => host.name))}` : ''}); add an lb host or remove vip`,
    });
  }
  const beyond = lbHosts[MAX_VRRP_HOSTS];
  if (beyond) {
    findings.push({
      path: ['hosts', beyond.name, 'roles', beyond.roles.find((entry) => entry.role === ROLE.lb)?.index ?? 0],
      message:
        `a VIP is held by at most ${MAX_VRRP_HOSTS} lb hosts (keepalived priorities from ${TOP_PRIORITY} down by ${PRIORITY_STEP}), ` +
        `and ${beyond.name} is lb host number ${MAX_VRRP_HOSTS + 1}; give the role lb to fewer hosts`,
    });
  }
  for (const host of hosts.filter((candidate) => candidate.address === vip)) {
    findings.push({
      path: ['vip'],
      message: `vip ${vip} is also the address of host ${host.name}; choose an unused address in the lb hosts' subnet`,
    });
  }
  const prefix = inventorySchema.shape.vip_prefix.safeParse(raw.vip_prefix);
  if (!prefix.success) return;
  for (const host of lbHosts) {
    if (!host.address || sameSubnet(vip, host.address, prefix.data)) continue;
    findings.push({
      path: ['vip'],
      message:
        `vip ${vip} is outside the subnet ${networkOf(host.address, prefix.data)} of lb host ${host.name} ` +
        `(vip_prefix ${prefix.data}); choose a VIP in that subnet or correct vip_prefix`,
    });
  }
}

function checkDatabase(raw: Record<string, unknown>, hosts: HostView[], findings: Finding[]): void {
  if (!isRecord(raw.db)) return;
  const dbHostNames = hosts.filter((host) => hasRole(host, ROLE.db)).map((host) => host.name);
  const describeMisfit = (name: string): string | undefined => {
    const host = hosts.find((candidate) => candidate.name === name);
    if (!host) return `${JSON.stringify(name)} is not a host (hosts with role db: ${listNames(dbHostNames)})`;
    if (!hasRole(host, ROLE.db)) {
      return `host ${name} does not have role db; add db to its roles or name a db host (${listNames(dbHostNames)})`;
    }
    return undefined;
  };

  const primary = typeof raw.db.primary === 'string' ? raw.db.primary : undefined;
  if (primary !== undefined) {
    const misfit = describeMisfit(primary);
    if (misfit) findings.push({ path: ['db', 'primary'], message: misfit });
  }

  const listed = new Set<string>(primary === undefined ? [] : [primary]);
  const replicas = Array.isArray(raw.db.replicas) ? raw.db.replicas : [];
  replicas.forEach((replica: unknown, index) => {
    if (typeof replica !== 'string') return;
    const path = ['db', 'replicas', index];
    if (replica === primary) {
      findings.push({ path, message: `${replica} is db.primary; a primary cannot be its own replica, remove it from replicas` });
    } else if (listed.has(replica)) {
      findings.push({ path, message: `${replica} is listed twice in replicas` });
    } else {
      const misfit = describeMisfit(replica);
      if (misfit) findings.push({ path, message: misfit });
    }
    listed.add(replica);
  });

  // A db host outside the topology would get MariaDB installed and then sit unused.
  if (primary === undefined) return;
  for (const host of hosts) {
    const dbRole = host.roles.find((entry) => entry.role === ROLE.db);
    if (!dbRole || listed.has(host.name)) continue;
    findings.push({
      path: ['hosts', host.name, 'roles', dbRole.index],
      message: `host ${host.name} has role db but is neither db.primary nor in db.replicas; add it to db.replicas`,
    });
  }
}

function checkGroups(raw: Record<string, unknown>, hostNames: string[], findings: Finding[]): void {
  if (!isRecord(raw.groups)) return;
  for (const [group, value] of Object.entries(raw.groups)) {
    if (!isRecord(value) || !Array.isArray(value.hosts)) continue;
    value.hosts.forEach((member: unknown, index) => {
      if (typeof member !== 'string' || hostNames.includes(member)) return;
      findings.push({
        path: ['groups', group, 'hosts', index],
        message: `unknown host ${JSON.stringify(member)} (hosts: ${listNames(hostNames)})`,
      });
    });
  }
}

/** Each `hosts` entry of an extra firewall rule must name a host, a group or a role. */
function checkExtraRuleHosts(raw: Record<string, unknown>, hostNames: string[], findings: Finding[]): void {
  const rules = isRecord(raw.firewall) && Array.isArray(raw.firewall.extra_rules) ? raw.firewall.extra_rules : [];
  const groups = isRecord(raw.groups) ? Object.keys(raw.groups) : [];
  rules.forEach((rule: unknown, index) => {
    if (!isRecord(rule) || !Array.isArray(rule.hosts)) return;
    rule.hosts.forEach((name: unknown, position) => {
      if (typeof name !== 'string' || hostNames.includes(name) || groups.includes(name) || isRole(name)) return;
      findings.push({
        path: ['firewall', 'extra_rules', index, 'hosts', position],
        message: `unknown host, group or role ${JSON.stringify(name)} (hosts: ${listNames(hostNames)}; roles: ${ROLES.join(', ')})`,
      });
    });
  });
}

function checkSudo(raw: Record<string, unknown>, hosts: HostView[], findings: Finding[]): void {
  const global = isRecord(raw.ssh) ? raw.ssh : {};
  const globalUser = typeof global.user === 'string' ? global.user : 'root';
  const reported = new Set<string>();
  for (const host of hosts) {
    const own = isRecord(host.raw.ssh) ? host.raw.ssh : {};
    const user = typeof own.user === 'string' ? own.user : globalUser;
    if (user === 'root' || own.sudo !== undefined || global.sudo !== undefined) continue;
    const path = typeof own.user === 'string' ? ['hosts', host.name, 'ssh', 'user'] : ['ssh', 'user'];
    const key = path.join('.');
    if (reported.has(key)) continue;
    reported.add(key);
    findings.push({
      path,
      message:
        `user ${user} is not root, so infra runs commands through sudo: add "sudo: {}" (passwordless sudo) ` +
        `or "sudo: {password: env:NAME}" to this ssh block`,
    });
  }
}

function checkTls(raw: Record<string, unknown>, findings: Finding[]): void {
  if (!isRecord(raw.tls)) return;
  const tls = raw.tls;
  if (tls.source === 'files') {
    for (const key of ['cert_file', 'key_file'] as const) {
      if (tls[key] !== undefined) continue;
      findings.push({
        path: ['tls', key],
        message: `missing ${key}: tls source files needs cert_file (the certificate chain, PEM) and key_file (its private key)`,
      });
    }
    for (const key of ['key_type', 'days'] as const) {
      if (key in tls) findings.push({ path: ['tls', key], message: `${key} applies only to tls source ca; remove it` });
    }
  } else if (tls.source === undefined || tls.source === 'ca') {
    for (const key of ['cert_file', 'key_file', 'chain_file'] as const) {
      if (key in tls) {
        findings.push({ path: ['tls', key], message: `${key} applies only to tls source files; set source: files or remove it` });
      }
    }
  }
}

/** The value at `path` in the raw YAML value, if every step is there. */
function valueAt(raw: unknown, path: KeyPath): unknown {
  let node = raw;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (isRecord(node) && typeof segment === 'string' && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}

function addressText(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** Ranges no host or VIP can be reached at, and what they are. */
const UNUSABLE_RANGES: readonly { first: number; size: number; what: string }[] = [
  { first: 0, size: 2 ** 24, what: '"this network" (0.0.0.0/8): a service told to listen on it listens on every address' },
  { first: 127 * 2 ** 24, size: 2 ** 24, what: 'loopback (127.0.0.0/8): every host is that address to itself, and infra would reach the controller' },
  { first: 224 * 2 ** 24, size: 2 ** 28, what: 'multicast (224.0.0.0/4)' },
  { first: 240 * 2 ** 24, size: 2 ** 28, what: 'reserved (240.0.0.0/4, with the broadcast address 255.255.255.255)' },
];

interface Subnet {
  network: number;
  broadcast: number;
  prefix: number;
}

/** The VIP's subnet (vip/vip_prefix), when both are valid. */
function vipSubnet(raw: Record<string, unknown>): Subnet | undefined {
  const vip = parseIPv4(typeof raw.vip === 'string' ? raw.vip : '');
  const prefix = inventorySchema.shape.vip_prefix.safeParse(raw.vip_prefix);
  if (vip === undefined || !prefix.success) return undefined;
  const size = 2 ** (32 - prefix.data);
  const network = Math.floor(vip / size) * size;
  return { network, broadcast: network + size - 1, prefix: prefix.data };
}

/**
 * Why `address` cannot be a host's or the VIP's, and, for the VIP subnet's own network and
 * broadcast addresses, the range to choose from instead; undefined when it is usable.
 */
function unusableAddress(address: string, subnet: Subnet | undefined): { what: string; range?: string } | undefined {
  const value = parseIPv4(address);
  if (value === undefined) return undefined;
  const reserved = UNUSABLE_RANGES.find(({ first, size }) => value >= first && value < first + size);
  if (reserved) return { what: `${address} is ${reserved.what}` };
  if (!subnet || (value !== subnet.network && value !== subnet.broadcast)) return undefined;
  return {
    what:
      `${address} is the ${value === subnet.network ? 'network' : 'broadcast'} address of the VIP subnet ` +
      `${addressText(subnet.network)}/${subnet.prefix} (vip_prefix ${subnet.prefix}), which no host can hold`,
    range: `${addressText(subnet.network + 1)} to ${addressText(subnet.broadcast - 1)}`,
  };
}

function checkUsableAddresses(raw: Record<string, unknown>, hosts: HostView[], findings: Finding[]): void {
  const subnet = vipSubnet(raw);
  for (const host of hosts) {
    const problem = host.address === undefined ? undefined : unusableAddress(host.address, subnet);
    if (!problem) continue;
    findings.push({
      path: ['hosts', host.name, 'address'],
      message: problem.range
        ? `${problem.what}; use an address from ${problem.range}`
        : `${problem.what}; write the address the controller reaches ${host.name} at, e.g. 10.0.0.11`,
    });
  }
  const problem = typeof raw.vip === 'string' ? unusableAddress(raw.vip, subnet) : undefined;
  if (problem) {
    findings.push({
      path: ['vip'],
      message: `vip ${problem.what}; choose an unused address ${problem.range ? `from ${problem.range}` : "in the lb hosts' subnet"}`,
    });
  }
}

// The schema's defaults, for a host whose ports the inventory leaves out.
const DEFAULT_APP_PORT = inventorySchema.shape.app.shape.port.parse(undefined);

function portOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535 ? value : undefined;
}

interface Listening {
  port: number;
  service: string;
  /** Where the port is written, for a port the inventory sets (ssh.port, app.port). */
  path?: KeyPath;
  /** The role that brings it, for a fixed port. */
  role?: Role;
}

/** Two services on one port of a host: the second cannot start. */
function checkPorts(raw: Record<string, unknown>, hosts: HostView[], findings: Finding[]): void {
  // One finding per key and clash, naming every host it happens on.
  const clashes = new Map<string, { path: KeyPath; hosts: string[]; message: (hosts: string) => string }>();
  const clash = (key: string, host: string, path: KeyPath, message: (hosts: string) => string): void => {
    const seen = clashes.get(key);
    if (seen) seen.hosts.push(host);
    else clashes.set(key, { path, hosts: [host], message });
  };
  const appPort = portOf(valueAt(raw, ['app', 'port']));
  const globalSsh = portOf(valueAt(raw, ['ssh', 'port']));
  for (const host of hosts) {
    const ownSsh = portOf(valueAt(host.raw, ['ssh', 'port']));
    const listening: Listening[] = [
      ownSsh !== undefined
        ? { port: ownSsh, service: 'sshd', path: ['hosts', host.name, 'ssh', 'port'] }
        : globalSsh !== undefined
          ? { port: globalSsh, service: 'sshd', path: ['ssh', 'port'] }
          : { port: DEFAULT_SSH_PORT, service: 'sshd' },
      { port: NODE_EXPORTER_PORT, service: 'the node exporter (on every host)' },
    ];
    for (const { role } of host.roles) {
      if (role === ROLE.app)
        listening.push({ port: appPort ?? DEFAULT_APP_PORT, service: 'the app', ...(appPort !== undefined ? { path: ['app', 'port'] } : {}) });
      listening.push(...ROLE_LISTENERS[role].map((listener) => ({ ...listener, role })));
    }
    listening.forEach((second, index) => {
      const first = listening.slice(0, index).find((earlier) => earlier.port === second.port);
      if (!first) return;
      const written = second.path ? second : first.path ? first : undefined;
      if (written?.path) {
        const other = written === second ? first : second;
        const key = written.path.slice(-2).join('.');
        clash(
          `${written.path.join('.')} ${other.service}`,
          host.name,
          written.path,
          (names) => `${key} ${written.port} is also the port of ${other.service} on ${names}; choose another ${key}`,
        );
        return;
      }
      const roleIndex = host.roles.find((entry) => entry.role === second.role)?.index ?? 0;
      clash(
        `${host.name} ${second.port}`,
        host.name,
        ['hosts', host.name, 'roles', roleIndex],
        () =>
          `roles ${first.role} and ${second.role} both listen on port ${second.port} (${first.service}; ${second.service}) on ${host.name}; put them on different hosts`,
      );
    });
  }
  for (const { path, hosts: names, message } of clashes.values()) findings.push({ path, message: message(listNames(names)) });
}

/** A layer of vars: where it is written. */
function varLayers(raw: Record<string, unknown>): KeyPath[] {
  const names = (section: string): string[] => (isRecord(raw[section]) ? Object.keys(raw[section]) : []);
  return [
    ['vars'],
    ...ROLES.map((role) => ['role_vars', role]),
    ...names('groups').map((group) => ['groups', group, 'vars']),
    ...names('hosts').map((host) => ['hosts', host, 'vars']),
  ];
}

/**
 * Every value of a var the roles read, wherever it is written: the host that gets it is a matter of
 * layering, and a wrong value anywhere is a mistake waiting for the host that inherits it.
 */
function checkVars(raw: Record<string, unknown>, findings: Finding[]): void {
  for (const layer of varLayers(raw)) {
    const vars = valueAt(raw, layer);
    if (!isRecord(vars)) continue;
    for (const [name, value] of Object.entries(vars)) {
      if (!isKnownVar(name)) continue;
      const problem = varProblem(name, value);
      if (problem) findings.push({ path: [...layer, name], message: problem });
    }
  }
}

/**
 * A host's value of a var and where it is written, layered as load.ts layers vars (vars <
 * role_vars in role order < groups in file order < the host's own); undefined when only the default applies.
 */
function layeredVar(raw: Record<string, unknown>, host: HostView, name: KnownVarName): { value: unknown; path: KeyPath } | undefined {
  const groups = isRecord(raw.groups) ? Object.entries(raw.groups) : [];
  const layers: KeyPath[] = [
    ['vars'],
    ...ROLES.filter((role) => hasRole(host, role)).map((role) => ['role_vars', role]),
    ...groups
      .filter(([, group]) => isRecord(group) && Array.isArray(group.hosts) && group.hosts.includes(host.name))
      .map(([group]) => ['groups', group, 'vars']),
    ['hosts', host.name, 'vars'],
  ];
  let found: { value: unknown; path: KeyPath } | undefined;
  for (const layer of layers) {
    const vars = valueAt(raw, layer);
    if (isRecord(vars) && Object.hasOwn(vars, name)) found = { value: vars[name], path: [...layer, name] };
  }
  return found;
}

/** keepalived's lb hosts form one VRRP group only when they share its id. */
function checkVrrpRouterId(raw: Record<string, unknown>, hosts: HostView[], findings: Finding[]): void {
  if (!isIpv4(raw.vip)) return;
  const lbHosts = hosts
    .filter((host) => hasRole(host, ROLE.lb))
    .map((host) => {
      const layered = layeredVar(raw, host, 'vrrp_router_id');
      return { name: host.name, value: layered ? layered.value : KNOWN_VARS.vrrp_router_id.fallback, path: layered?.path };
    });
  const [first, ...others] = lbHosts;
  if (!first || varProblem('vrrp_router_id', first.value)) return;
  const reported = new Set<string>();
  for (const other of others) {
    if (other.value === first.value || varProblem('vrrp_router_id', other.value)) continue;
    const path = other.path ?? first.path;
    if (!path || reported.has(path.join('.'))) continue;
    reported.add(path.join('.'));
    findings.push({
      path,
      message:
        `vrrp_router_id differs between the lb hosts (${String(first.value)} on ${first.name}, ${String(other.value)} on ${other.name}): they hold the VIP ` +
        'as one VRRP group, which needs one id; set it once, in role_vars.lb',
    });
  }
}

const WORLD = /\/0$/;

/** A source open to every address is allowed, since it may be meant, but never in silence. */
function checkWorldOpenSources(raw: Record<string, unknown>, findings: Finding[]): void {
  const monitoringSet = isRecord(raw.monitoring);
  const exporters =
    `the node exporter (${NODE_EXPORTER_PORT}) and the haproxy, nginx, mtail and mysqld exporters ` +
    `(${ROLE_PORTS.haproxyMetrics}, ${ROLE_PORTS.nginxExporter}, ${ROLE_PORTS.mtail}, ${ROLE_PORTS.mysqldExporter})`;
  const sources = (path: KeyPath): [number, string][] => {
    const list = valueAt(raw, path);
    return Array.isArray(list) ? list.flatMap((value, index): [number, string][] => (isIpv4Source(value) && WORLD.test(value) ? [[index, value]] : [])) : [];
  };
  for (const [index, source] of sources(['firewall', 'admin_sources'])) {
    findings.push({
      path: ['firewall', 'admin_sources', index],
      warning: true,
      message:
        `${source} lets every address on the internet reach SSH` +
        (monitoringSet ? '' : ` and, since there is no monitoring block, ${exporters}`) +
        '; list the networks you administer from instead, e.g. 203.0.113.0/24',
    });
  }
  for (const [index, source] of sources(['monitoring', 'sources'])) {
    findings.push({
      path: ['monitoring', 'sources', index],
      warning: true,
      message: `${source} lets every address on the internet reach ${exporters}, which describe the hosts and the database; list your Prometheus servers instead, e.g. 10.0.0.5/32`,
    });
  }
}
