import type { OwnedFolderResource } from '../core/types.js';
import type { Host, Inventory, Role } from '../inventory/model.js';

/** The hosts with a role, in inventory order (which sets keepalived priority, server order…). */
export function hostsWithRole(inventory: Inventory, role: Role): Host[] {
  return inventory.hosts.filter((host) => host.roles.includes(role));
}

export function hostNamed(inventory: Inventory, name: string): Host {
  const host = inventory.hosts.find((candidate) => candidate.name === name);
  if (!host) throw new Error(`the inventory names a host "${name}" that it does not define`);
  return host;
}

/** A string var from the host's layered vars, checked against `pattern` since it lands in config text. */
export function stringVar(host: Host, name: string, fallback: string, pattern: RegExp): string {
  const value = host.vars[name] ?? fallback;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new Error(`${host.name}: var ${name} must match ${pattern} (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** An integer var from the host's layered vars, within [min, max]. */
export function integerVar(host: Host, name: string, fallback: number, min: number, max: number): number {
  const value = host.vars[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${host.name}: var ${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
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
