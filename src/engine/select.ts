import { UserError } from '../core/errors.js';
import { ROLES, type Host, type Inventory, type Role } from '../inventory/model.js';

/** The hosts named by `--limit` (host names or roles); all hosts without it. */
export function selectHosts(inventory: Inventory, limit: readonly string[] | undefined): Host[] {
  if (!limit || limit.length === 0) return inventory.hosts;
  const words = limit.flatMap((word) => word.split(',')).filter(Boolean);
  for (const word of words) {
    if (!ROLES.includes(word as Role) && !inventory.hosts.some((host) => host.name === word) && !(word in inventory.groups)) {
      throw new UserError(
        `--limit ${word}: no host, group or role of that name (roles: ${ROLES.join(', ')}; hosts: ${inventory.hosts.map((h) => h.name).join(', ')})`,
      );
    }
  }
  return inventory.hosts.filter(
    (host) =>
      words.includes(host.name) ||
      host.roles.some((role) => words.includes(role)) ||
      host.groups.some((group) => words.includes(group)),
  );
}

/**
 * The hosts named by `--replace-host` (names only, comma lists allowed), each checked: it is in the
 * inventory and among the hosts this run works on, since a host taken back is provisioned from bare
 * in the same run.
 */
export function selectReplacedHosts(inventory: Inventory, selected: readonly Host[], names: readonly string[] | undefined): Set<string> {
  const words = (names ?? []).flatMap((word) => word.split(',')).filter(Boolean);
  for (const word of words) {
    if (!inventory.hosts.some((host) => host.name === word)) {
      throw new UserError(`--replace-host ${word}: no host of that name in the inventory (hosts: ${inventory.hosts.map((h) => h.name).join(', ')}); nothing was changed`);
    }
    if (!selected.some((host) => host.name === word)) {
      throw new UserError(`--replace-host ${word}: ${word} is outside --limit; a host taken back is provisioned in the same run, so add it to --limit; nothing was changed`);
    }
  }
  return new Set(words);
}
