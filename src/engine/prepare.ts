import { relative } from 'node:path';
import { UserError } from '../core/errors.js';
import type { HostDesire } from '../core/types.js';
import { openSharedState } from '../state/shared.js';
import { loadInventory } from '../inventory/load.js';
import { formatIssue, type Host, type Inventory } from '../inventory/model.js';
import { readDbPlatforms } from './db-platform.js';
import type { DbPlatform } from '../roles/db-engines.js';
import { platformChangesRendering } from '../roles/db.js';
import { desiredForHost } from '../roles/index.js';
import type { AcceptedHostKey } from '../transport/hostkeys.js';
import type { HostConnection } from '../transport/ssh.js';
import type { PassphrasePrompt } from '../transport/keys.js';
import { resolveHostAddresses } from './addresses.js';
import { Fleet } from './fleet.js';
import { resolveRoleSecrets } from './secrets.js';
import { selectHosts, selectReplacedHosts } from './select.js';

/**
 * What a run does before it reads any host: select → secrets → roles → fleet. The CLI turns flags
 * into these calls and shows their events; nothing here asks or prints.
 */

export interface RunSelection {
  inventory: Inventory;
  hosts: Host[];
  /** Hosts named by --replace-host: reinstalled, taken back with their new host key. */
  replacedHosts: ReadonlySet<string>;
}

export interface RunContext extends RunSelection {
  desires: HostDesire[];
}

export type PrepareEvent =
  /** The inventory is valid and these hosts are selected, in inventory order. */
  | { type: 'selected'; hosts: string[] }
  /** A host's secrets are resolved and what it should have is rendered. */
  | { type: 'rendered'; host: string }
  /** Every selected host was tried: `failed` could not be reached (the fleet names why). */
  | { type: 'connected'; connected: number; failed: number }
  /** A host named by --replace-host was reached and its new host key taken (a decision on trust, to show and record). */
  | { type: 'host-key-replaced'; host: string; verdict: AcceptedHostKey };

export type PrepareListener = (event: PrepareEvent) => void;

/**
 * Loads and validates the inventory, then settles how each host is reached: its ssh config
 * settings and its address, resolved once here when it is a name (src/engine/addresses.ts).
 */
export async function loadRunInventory(file: string): Promise<Inventory> {
  const loaded = await loadInventory(file);
  if (!loaded.ok) {
    const shown = relative(process.cwd(), file) || file;
    throw new UserError(`${file} is not valid; nothing was changed:\n${loaded.issues.map((issue) => '  ' + formatIssue(issue, shown)).join('\n')}`, 1, {
      issues: loaded.issues,
    });
  }
  return resolveHostAddresses(loaded.inventory);
}

/** Loads the inventory (loadRunInventory), selects the hosts (`limit`, as --limit reads it) and those reinstalled (--replace-host), and opens the shared state. */
export async function selectRun(
  file: string,
  limit: readonly string[] | undefined,
  replaceHosts?: readonly string[],
  onEvent?: PrepareListener,
): Promise<RunSelection> {
  const inventory = await loadRunInventory(file);
  const hosts = selectHosts(inventory, limit);
  await openSharedState(inventory);
  onEvent?.({ type: 'selected', hosts: hosts.map((host) => host.name) });
  return { inventory, hosts, replacedHosts: selectReplacedHosts(inventory, hosts, replaceHosts) };
}

/**
 * Resolves each host's secrets and renders what it should have; `reinstalled` hosts get new
 * certificates; a db host with its platform read renders for the server it runs.
 */
export async function renderDesires(
  { inventory, hosts }: Pick<RunSelection, 'inventory' | 'hosts'>,
  reinstalled: ReadonlySet<string> = new Set(),
  onEvent?: PrepareListener,
  dbPlatforms: ReadonlyMap<string, DbPlatform> = new Map(),
): Promise<HostDesire[]> {
  const desires: HostDesire[] = [];
  for (const host of hosts) {
    const secrets = await resolveRoleSecrets(inventory, host, { reinstalled: reinstalled.has(host.name) });
    try {
      desires.push(desiredForHost(inventory, host, secrets, undefined, dbPlatforms.get(host.name)));
    } catch (err) {
      throw new UserError(`rendering the templates for ${host.name} failed; nothing was changed:\n  ${err instanceof Error ? err.message : String(err)}`);
    }
    onEvent?.({ type: 'rendered', host: host.name });
  }
  return desires;
}

/** Loads and validates the inventory, selects the hosts and renders what they should have. */
export async function prepareRun(file: string, limit: readonly string[] | undefined, onEvent?: PrepareListener): Promise<RunContext> {
  const selection = await selectRun(file, limit, undefined, onEvent);
  return { ...selection, desires: await renderDesires(selection, undefined, onEvent) };
}

export interface ConnectedRunOptions {
  /** Hosts worked on at once; all of them when undefined. */
  forks?: number;
  acceptNewHostKeys: boolean;
  replaceHosts?: readonly string[];
  /** Asks for an encrypted key's passphrase (see FleetOptions). */
  askPassphrase?: PassphrasePrompt;
  onEvent?: PrepareListener;
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
  limit: readonly string[] | undefined,
  options: ConnectedRunOptions,
): Promise<{ context: RunContext; fleet: Fleet; forks: number }> {
  const { onEvent } = options;
  const selection = await selectRun(file, limit, options.replaceHosts, onEvent);
  const forks = options.forks ?? selection.hosts.length;
  const connecting = Fleet.connect(selection.inventory, selection.hosts, {
    forks,
    acceptNewHostKeys: options.acceptNewHostKeys,
    replaceHostKeys: selection.replacedHosts,
    ...(options.askPassphrase ? { askPassphrase: options.askPassphrase } : {}),
  }).then((fleet) => {
    onEvent?.({ type: 'connected', connected: fleet.connections.size, failed: fleet.failures.size });
    return fleet;
  });
  const [desires, fleet] = await Promise.allSettled([renderDesires(selection, undefined, onEvent), connecting]);
  if (desires.status === 'rejected') {
    if (fleet.status === 'fulfilled') fleet.value.close();
    throw desires.reason;
  }
  if (fleet.status === 'rejected') throw fleet.reason;
  const takenBack = selection.hosts.filter((host) => selection.replacedHosts.has(host.name) && fleet.value.connections.has(host.name));
  try {
    const dbPlatforms = await readDbPlatforms(fleet.value, selection.hosts);
    const rendered = selection.hosts.filter((host) => {
      const platform = dbPlatforms.get(host.name);
      return takenBack.includes(host) || (platform !== undefined && platformChangesRendering(host, platform));
    });
    const renewed = new Map(
      (await renderDesires({ ...selection, hosts: rendered }, selection.replacedHosts, undefined, dbPlatforms)).map((desire) => [desire.host, desire]),
    );
    for (const host of takenBack) {
      const connection = fleet.value.connections.get(host.name) as HostConnection;
      onEvent?.({ type: 'host-key-replaced', host: host.name, verdict: connection.hostKey });
    }
    return { context: { ...selection, desires: desires.value.map((desire) => renewed.get(desire.host) ?? desire) }, fleet: fleet.value, forks };
  } catch (err) {
    fleet.value.close();
    throw err;
  }
}
