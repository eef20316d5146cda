import { readFile, writeFile } from 'node:fs/promises';
import { UserError } from '../core/errors.js';
import { CommandError, run } from './exec.js';
import { cidrsOverlap, controllerAddress, hostInterfaceName, type LabNaming, type LabSubnet } from './plan.js';
import { namingFromEnv } from './paths.js';

/**
 * The lab's network: one bridge on the controller holding the subnet's .1, every host's veth
 * plugged into it by systemd-nspawn. Nothing here routes or NATs: hosts get no gateway, so lab
 * traffic stays between the controller and the hosts.
 */

export interface IpAddrEntry {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}
export interface IpRouteEntry {
  dst: string;
  dev?: string;
}

export async function bridgeExists(bridge: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'show', 'dev', bridge]);
    return true;
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}

/** Refuses a subnet that another interface already holds or routes: the lab would shadow it. */
export async function checkSubnetFree(subnet: LabSubnet, bridge: string): Promise<void> {
  const addrs = JSON.parse((await run('ip', ['-j', 'addr', 'show'])).stdout) as IpAddrEntry[];
  const routes = JSON.parse((await run('ip', ['-j', 'route', 'show'])).stdout) as IpRouteEntry[];
  const conflict = findSubnetConflict(subnet, addrs, routes, bridge);
  if (conflict) throw subnetInUse(subnet, conflict);
}

/**
 * Pure: what, if anything, already uses the lab subnet — an address on an interface other than
 * the lab's own (bridge, host veths), or a route through one. `ip -j addr` / `ip -j route` data in.
 */
export function findSubnetConflict(subnet: LabSubnet, addrs: readonly IpAddrEntry[], routes: readonly IpRouteEntry[], bridge: string): string | undefined {
  for (const iface of addrs) {
    if (iface.ifname === bridge || iface.ifname.startsWith('vb-')) continue;
    for (const a of iface.addr_info ?? []) {
      if (a.family !== 'inet') continue;
      if (cidrsOverlap(`${a.local}/${a.prefixlen}`, subnet.cidr)) return `${iface.ifname} has ${a.local}/${a.prefixlen}`;
    }
  }
  for (const r of routes) {
    if (r.dst === 'default' || r.dev === bridge) continue;
    if (cidrsOverlap(r.dst.includes('/') ? r.dst : `${r.dst}/32`, subnet.cidr)) return `a route to ${r.dst} goes via ${r.dev ?? '?'}`;
  }
  return undefined;
}

function subnetInUse(subnet: LabSubnet, why: string): UserError {
  return new UserError(
    `the lab subnet ${subnet.cidr} is already in use on this machine (${why}); ` + `choose a free /24, e.g. INFRA_LAB_SUBNET=10.78.0.0/24 infra lab up`,
  );
}

/** Creates the bridge with the controller's address (idempotent). */
export async function ensureBridge(subnet: LabSubnet, bridge: string): Promise<void> {
  await checkSubnetFree(subnet, bridge);
  if (!(await bridgeExists(bridge))) {
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  }
  const want = `${controllerAddress(subnet)}/24`;
  const addrs = JSON.parse((await run('ip', ['-j', 'addr', 'show', 'dev', bridge])).stdout) as IpAddrEntry[];
  const have = (addrs[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  const others = have.filter((a) => a !== want);
  if (others.length > 0) {
    // Another lab (another INFRA_LAB_DIR or subnet) owns the bridge: taking its address would
    // cut its hosts off. Let its owner bring it down instead.
    throw new UserError(
      `the bridge ${bridge} already holds ${others.join(', ')}, not ${want}: another lab is up ` +
        `(other INFRA_LAB_DIR or INFRA_LAB_SUBNET); run \`infra lab down\` with that lab's settings first`,
    );
  }
  if (!have.includes(want)) await run('ip', ['addr', 'add', want, 'dev', bridge]);
  await run('ip', ['link', 'set', bridge, 'up']);
}

export async function deleteBridge(bridge: string): Promise<void> {
  if (await bridgeExists(bridge)) await run('ip', ['link', 'del', bridge]);
}

/**
 * Cuts a host off the network (or restores it) without touching the host: its controller-side
 * veth goes down, as if its cable were pulled. For tests of network failures mid-run.
 */
export async function setHostNetwork(hostName: string, state: 'up' | 'down', naming: LabNaming = namingFromEnv()): Promise<void> {
  const iface = hostInterfaceName(hostName, naming);
  try {
    await run('ip', ['link', 'set', 'dev', iface, state]);
  } catch (err) {
    if (err instanceof CommandError) {
      throw new UserError(`lab host ${hostName} has no link ${iface}: is it running? (infra lab status)`);
    }
    throw err;
  }
}

/**
 * With the default fs.inotify.max_user_instances=128, about the 19th host's systemd fails to boot
 * ("Failed to allocate manager object"); raise the limits (never lower them).
 */
export const INOTIFY_LIMITS: Readonly<Record<string, number>> = {
  '/proc/sys/fs/inotify/max_user_instances': 8192,
  '/proc/sys/fs/inotify/max_user_watches': 1048576,
};

export async function raiseInotifyLimits(): Promise<void> {
  for (const [file, want] of Object.entries(INOTIFY_LIMITS)) {
    const have = Number((await readFile(file, 'utf8')).trim());
    if (!(have >= want)) await writeFile(file, `${want}\n`);
  }
}
