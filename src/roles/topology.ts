import type { OwnedFolderResource } from '../core/types.js';
import type { Host, Inventory, Role } from '../inventory/model.js';
import { KNOWN_VARS, varProblem, type IntegerVarName, type KnownVarName, type StringVarName } from '../inventory/vars.js';

/** The hosts with a role, in inventory order (which sets keepalived priority, server order…). */
export function hostsWithRole(inventory: Inventory, role: Role): Host[] {
  return inventory.hosts.filter((host) => host.roles.includes(role));
}

/**
 * Who may scrape the exporters: the monitor hosts (over their private addresses) and the
 * inventory's monitoring sources, without repeats.
 */
export function monitoringSources(inventory: Inventory): string[] {
  return [...new Set([...hostsWithRole(inventory, 'monitor').map((host) => host.address), ...inventory.monitoring.sources])];
}

export function hostNamed(inventory: Inventory, name: string): Host {
  const host = inventory.hosts.find((candidate) => candidate.name === name);
  if (!host) throw new Error(`the inventory names a host "${name}" that it does not define`);
  return host;
}

/** A string var from the host's layered vars (or its default), checked as `infra validate` checks it since it lands in config text. */
export function stringVar(host: Host, name: StringVarName): string {
  return checkedVar(host, name) as string;
}

/** An integer var from the host's layered vars (or its default), within the range KNOWN_VARS gives it. */
export function integerVar(host: Host, name: IntegerVarName): number {
  return checkedVar(host, name) as number;
}

function checkedVar(host: Host, name: KnownVarName): unknown {
  const value = host.vars[name] ?? KNOWN_VARS[name].fallback;
  // Only an Inventory built without loadInventory (which checks every var) can get here.
  const problem = varProblem(name, value);
  if (problem) throw new Error(`${host.name}: ${problem}`);
  return value;
}

/**
 * A config folder whose entries infra owns: it keeps `keep` (what it writes there, and the
 * package's own files) and the inventory's extra_files in that folder, and removes the rest.
 */
export function ownedFolder(inventory: Inventory, path: string, keep: readonly string[], notify: string[]): OwnedFolderResource {
  const extra = inventory.extraFiles.filter((file) => file.slice(0, file.lastIndexOf('/')) === path).map((file) => file.slice(file.lastIndexOf('/') + 1));
  return { kind: 'owned-folder', path, keep: [...keep, ...extra], notify };
}
