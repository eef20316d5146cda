import { ROLE_REGISTRY, type RoleRegistry } from './registry.js';

/**
 * The Debian/Ubuntu packages every host installs; each role's own are in its definition. The
 * roles install from these lists and the lab's local apt repository is filled from them, so a
 * package a role needs is never missing from the lab.
 */
export const COMMON_PACKAGES: readonly string[] = ['ufw', 'prometheus-node-exporter', 'curl'];

/** Every package any role can install, for building a package mirror. */
export function allRolePackages(registry: RoleRegistry = ROLE_REGISTRY): string[] {
  return [...new Set([...COMMON_PACKAGES, ...Object.values(registry).flatMap((role) => role.packages)])].sort();
}
