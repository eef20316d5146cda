import { relative } from 'node:path';
import { UserError } from '../core/errors.js';
import type { HostDesire } from '../core/types.js';
import { readDbPlatforms } from '../engine/db-platform.js';
import { Fleet } from '../engine/fleet.js';
import type { DbPlatform } from '../roles/db-engines.js';
import { platformChangesRendering } from '../roles/db.js';
import { resolveRoleSecrets } from '../engine/secrets.js';
import { selectHosts, selectReplacedHosts } from '../engine/select.js';
import { loadInventory } from '../inventory/load.js';
import { formatIssue, type Host, type Inventory } from '../inventory/model.js';
import { desiredForHost } from '../roles/index.js';
import type { GlobalOptions } from './main.js';

export interface RunSelection {
  inventory: Inventory;
  hosts: Host[];
  /** Hosts named by --replace-host: reinstalled, taken back with their new host key. */
  replacedHosts: ReadonlySet<string>;
}

export interface RunContext extends RunSelection {
  desires: HostDesire[];
}

/** Loads and validates the inventory and selects the hosts (--limit) and those reinstalled (--replace-host). */
export async function selectRun(file: string, globals: GlobalOptions, replaceHosts?: readonly string[]): Promise<RunSelection> {
  const loaded = await loadInventory(file);
  if (!loaded.ok) {
    const shown = relative(process.cwd(), file) || file;
    throw new UserError(`${file} is not valid; nothing was changed:\n${loaded.issues.map((issue) => '  ' + formatIssue(issue, shown)).join('\n')}`, 1, {
      issues: loaded.issues,
    });
  }
  const hosts = selectHosts(loaded.inventory, globals.limit);
  return { inventory: loaded.inventory, hosts, replacedHosts: selectReplacedHosts(loaded.inventory, hosts, replaceHosts) };
}

/**
 * Resolves each host's secrets and renders what it should have; `reinstalled` hosts get new
 * certificates; a db host with its platform read renders for the server it runs.
 */
export async function renderDesires(
  { inventory, hosts }: Pick<RunSelection, 'inventory' | 'hosts'>,
  reinstalled: ReadonlySet<string> = new Set(),
  dbPlatforms: ReadonlyMap<string, DbPlatform> = new Map(),
): Promise<HostDesire[]> {
  const desires: HostDesire[] = [];
  for (const host of hosts) {
    const secrets = await resolveRoleSecrets(inventory, host, { reinstalled: reinstalled.has(host.name) });
    try {
      desires.push(desiredForHost(inventory, host, secrets, dbPlatforms.get(host.name)));
    } catch (err) {
      throw new UserError(`rendering the templates for ${host.name} failed; nothing was changed:\n  ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return desires;
}

/** Loads and validates the inventory, selects the hosts and renders what they should have. */
export async function prepareRun(file: string, globals: GlobalOptions): Promise<RunContext> {
  const selection = await selectRun(file, globals);
  return { ...selection, desires: await renderDesires(selection) };
}

/** `--forks N`: how many hosts are worked on at once; undefined (all of them) when not given. */
export function parseForks(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const forks = Number(text);
  if (!Number.isInteger(forks) || forks < 1) throw new UserError(`--forks ${text}: expected a whole number of at least 1`);
  return forks;
}

/**
 * Renders while the connections open (neither needs the other), so a run pays for the slower of
 * the two rather than both. Connections are closed again when rendering fails. A host named by
 * --replace-host is rendered again once it is connected, with a new certificate: a host whose
 * key was refused keeps its certificate, since it is not taken back in this run. A db host is
 * rendered again too when the server its platform read found (one exec; src/engine/db-platform.ts)
 * is not the one the inventory alone gives.
 */
export async function prepareConnectedRun(
  file: string,
  globals: GlobalOptions,
  options: { forks?: number; acceptNewHostKeys: boolean; replaceHosts?: readonly string[] },
): Promise<{ context: RunContext; fleet: Fleet; forks: number }> {
  const selection = await selectRun(file, globals, options.replaceHosts);
  const forks = options.forks ?? selection.hosts.length;
  const [desires, fleet] = await Promise.allSettled([
    renderDesires(selection),
    Fleet.connect(selection.inventory, selection.hosts, { forks, acceptNewHostKeys: options.acceptNewHostKeys, replaceHostKeys: selection.replacedHosts }),
  ]);
  if (desires.status === 'rejected') {
    if (fleet.status === 'fulfilled') fleet.value.close();
    throw desires.reason;
  }
  if (fleet.status === 'rejected') throw fleet.reason;
  try {
    const dbPlatforms = await readDbPlatforms(fleet.value, selection.hosts);
    const takenBack = selection.hosts.filter((host) => {
      const platform = dbPlatforms.get(host.name);
      return (selection.replacedHosts.has(host.name) && fleet.value.connections.has(host.name)) || (platform !== undefined && platformChangesRendering(host, platform));
    });
    const renewed = new Map((await renderDesires({ ...selection, hosts: takenBack }, selection.replacedHosts, dbPlatforms)).map((desire) => [desire.host, desire]));
    return { context: { ...selection, desires: desires.value.map((desire) => renewed.get(desire.host) ?? desire) }, fleet: fleet.value, forks };
  } catch (err) {
    fleet.value.close();
    throw err;
  }
}
