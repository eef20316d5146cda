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
