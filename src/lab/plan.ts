import type { Role } from '../inventory/model.js';
import { UserError } from '../core/errors.js';
import { ROLE_REGISTRY, rolesFrontToBack, type RoleRegistry } from '../roles/registry.js';

/**
 * The pure part of the lab: which hosts exist for given counts, their names, addresses, machine
 * and interface names. No I/O here, so the address plan is tested as data.
 */

/** How many hosts of each role the lab runs. */
export type LabCounts = Record<Role, number>;

/** The counts of a lab when none are given: each role's default. */
export const DEFAULT_COUNTS: Readonly<LabCounts> = Object.fromEntries(
  Object.values(ROLE_REGISTRY).map((role) => [role.name, role.lab.defaultCount]),
) as LabCounts;
export const DEFAULT_SUBNET = '10.77.0.0/24';

/**
 * What tells one lab on this machine from another: its bridge and the prefix of its machine
 * names (hence of its `vb-<machine>` veths). Two labs with different names, lab dirs and subnets
 * run side by side, e.g. one for the tests and one for a benchmark.
 */
export interface LabNaming {
  bridge: string;
  /** Short, so `vb-<machine>` stays within Linux's 15-character interface names. */
  machinePrefix: string;
}

/** The default lab keeps the names it always had: bridge infra-br0, machines ilab-*. */
export const DEFAULT_NAMING: Readonly<LabNaming> = { bridge: 'infra-br0', machinePrefix: 'ilab-' };

/** `INFRA_LAB_NAME=alab` → bridge `alab-br0`, machines `alab-web1`… */
export function labNaming(name: string | undefined): LabNaming {
  if (name === undefined || name === '' || name === 'ilab') return DEFAULT_NAMING;
  if (!/^[a-z][a-z0-9]{0,4}$/.test(name)) {
    throw new UserError(
      `lab name "${name}" must be 1 to 5 lowercase letters or digits, starting with a letter ` +
        `(it prefixes interface names, which Linux limits to 15 characters); e.g. INFRA_LAB_NAME=alab`,
    );
  }
  return { bridge: `${name}-br0`, machinePrefix: `${name}-` };
}

/**
 * Host addresses, as the last octet, from each role's lab needs: the first ten hosts of a role from
 * its first octet (lb .11-.20, web .21-.30, app .31-.40, db .41-.50), larger labs (the scale
 * benchmark) on from its overflow octet (web .111-.150, app .151-.190, db .191-.230). The
 * controller is .1 and the VIP .100, outside every range.
 */
const FIRST_RANGE_SIZE = 10;
const OVERFLOW_RANGE_SIZE = 40;

/** The last octet of the `index`-th (from 1) host of a role. */
export function hostOctet(role: Role, index: number, registry: RoleRegistry = ROLE_REGISTRY): number {
  const { firstOctet, overflowFirstOctet } = registry[role].lab;
  if (index <= FIRST_RANGE_SIZE) return firstOctet + index - 1;
  if (overflowFirstOctet === undefined) throw new Error(`the lab has no address for ${role}${index}`);
  return overflowFirstOctet + index - FIRST_RANGE_SIZE - 1;
}

/** How many hosts of a role the address plan has room for: its maximum count must stay within. */
export function addressesFor(role: Role, registry: RoleRegistry = ROLE_REGISTRY): number {
  return registry[role].lab.overflowFirstOctet === undefined ? FIRST_RANGE_SIZE : FIRST_RANGE_SIZE + OVERFLOW_RANGE_SIZE;
}

export const CONTROLLER_OCTET = 1;
export const VIP_OCTET = 100;

/** A booted machine of the lab: a host of the stack, or the bastion. */
export interface LabMachinePlan {
  /** Its hostname and, for a host of the stack, its inventory name, e.g. `web1`. */
  name: string;
  address: string;
  /** The systemd-nspawn machine name, e.g. `ilab-web1`. */
  machine: string;
  /** The controller-side veth interface that systemd-nspawn creates for the host. */
  hostInterface: string;
}

export interface LabHostPlan extends LabMachinePlan {
  role: Role;
}

/** A parsed /24: `10.77.0.0/24` → prefix `10.77.0`. */
export interface LabSubnet {
  /** As written, normalised: `10.77.0.0/24`. */
  cidr: string;
  /** The first three octets, `10.77.0`. */
  prefix: string;
}

export function parseSubnet(text: string): LabSubnet {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/24$/.exec(text.trim());
  const octets = m ? m.slice(1, 5).map(Number) : [];
  if (!m || octets.some((o) => o > 255) || octets[3] !== 0) {
    throw new UserError(
      `lab subnet "${text}" is not a /24 network address such as 10.77.0.0/24; ` + `set INFRA_LAB_SUBNET to one (the lab needs a whole /24 for itself)`,
    );
  }
  const prefix = octets.slice(0, 3).join('.');
  return { cidr: `${prefix}.0/24`, prefix };
}

export function controllerAddress(subnet: LabSubnet): string {
  return `${subnet.prefix}.${CONTROLLER_OCTET}`;
}

export function vipAddress(subnet: LabSubnet): string {
  return `${subnet.prefix}.${VIP_OCTET}`;
}

export function machineName(hostName: string, naming: LabNaming = DEFAULT_NAMING): string {
  return `${naming.machinePrefix}${hostName}`;
}

/** systemd-nspawn names the controller side of a host's link `vb-<machine>` (systemd-nspawn(1)). */
export function hostInterfaceName(hostName: string, naming: LabNaming = DEFAULT_NAMING): string {
  return `vb-${machineName(hostName, naming)}`;
}

/**
 * Checks the counts the operator asked for: within each role's maximum (its addresses in the
 * plan), and each role's own rule (a database tier needs a primary; keepalived needs two lb hosts
 * or none: one lb has no VIP peer).
 */
export function validateCounts(counts: LabCounts, registry: RoleRegistry = ROLE_REGISTRY): void {
  const roles = rolesFrontToBack(registry);
  for (const { name, lab } of roles) {
    const n = counts[name];
    if (!Number.isInteger(n) || n < 0 || n > lab.maxCount) {
      throw new UserError(`--${name} ${String(n)}: the lab runs 0 to ${lab.maxCount} ${name} hosts; pick a count in that range`);
    }
  }
  // Back to front: with no database and one lb host, the database is what to fix first.
  for (const { name, lab } of [...roles].reverse()) {
    const problem = lab.countProblem?.(counts[name]);
    if (problem) throw new UserError(problem);
  }
}

/**
 * The hosts of a lab, front to back (lb, web, app, db), numbered from 1 within each role: lb
 * first, so the first lb (lb1) is the keepalived master.
 */
export function planHosts(counts: LabCounts, subnet: LabSubnet, naming: LabNaming = DEFAULT_NAMING, registry: RoleRegistry = ROLE_REGISTRY): LabHostPlan[] {
  validateCounts(counts, registry);
  const hosts: LabHostPlan[] = [];
  for (const { name: role, lab } of rolesFrontToBack(registry)) {
    for (let i = 1; i <= counts[role]; i++) {
      const name = `${lab.hostPrefix ?? role}${i}`;
      const hostInterface = hostInterfaceName(name, naming);
      // Linux limits interface names to 15 characters (IFNAMSIZ - 1); nspawn would truncate it
      // and our `ip link set vb-…` helper would miss it.
      if (hostInterface.length > 15) throw new Error(`interface name ${hostInterface} exceeds 15 characters`);
      hosts.push({
        name,
        role,
        address: `${subnet.prefix}.${hostOctet(role, i, registry)}`,
        machine: machineName(name, naming),
        hostInterface,
      });
    }
  }
  return hosts;
}

/**
 * The lab's jump host (`infra lab up --bastion`): a machine of the lab but no host of the stack (the
 * inventory reaches the hosts through it and never provisions it), at .5, outside every role's range.
 */
export const BASTION_NAME = 'bastion';
export const BASTION_OCTET = 5;

export function planBastion(subnet: LabSubnet, naming: LabNaming = DEFAULT_NAMING): LabMachinePlan {
  const hostInterface = hostInterfaceName(BASTION_NAME, naming);
  if (hostInterface.length > 15) {
    throw new UserError(
      `the bastion's interface ${hostInterface} would exceed Linux's 15 characters: with --bastion, name the lab with at most 4 characters (INFRA_LAB_NAME)`,
    );
  }
  return { name: BASTION_NAME, address: `${subnet.prefix}.${BASTION_OCTET}`, machine: machineName(BASTION_NAME, naming), hostInterface };
}

/** True when an IPv4 address lies in the lab's /24. */
export function inSubnet(address: string, subnet: LabSubnet): boolean {
  return address.startsWith(`${subnet.prefix}.`) && /^\d{1,3}$/.test(address.slice(subnet.prefix.length + 1));
}

/** Whether two IPv4 CIDRs overlap (used to find the lab subnet already routed elsewhere). */
export function cidrsOverlap(a: string, b: string): boolean {
  const pa = parseCidr(a);
  const pb = parseCidr(b);
  if (!pa || !pb) return false;
  const len = Math.min(pa.len, pb.len);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (pa.addr & mask) >>> 0 === (pb.addr & mask) >>> 0;
}

function parseCidr(text: string): { addr: number; len: number } | undefined {
  const [ip, lenText] = text.split('/');
  const parts = (ip ?? '').split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  const len = lenText === undefined ? 32 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 32) return undefined;
  const addr = parts.reduce((acc, p) => ((acc << 8) | p) >>> 0, 0);
  return { addr, len };
}
