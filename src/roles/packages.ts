import type { Role } from '../inventory/model.js';

/**
 * The Debian/Ubuntu packages each role installs. This is the one list: the roles install from it
 * and the lab's local apt repository is filled from it, so a package a role needs is never
 * missing from the lab.
 */
export const COMMON_PACKAGES: readonly string[] = ['ufw', 'prometheus-node-exporter', 'curl'];

export const ROLE_PACKAGES: Readonly<Record<Role, readonly string[]>> = {
  lb: ['haproxy', 'keepalived', 'socat'],
  web: ['nginx', 'prometheus-nginx-exporter', 'openssl'],
  // python3-nacl: pymysql's ed25519 authentication (the db accounts' plugin on MariaDB).
  app: ['python3', 'python3-pymysql', 'python3-nacl'],
  db: ['mariadb-server', 'prometheus-mysqld-exporter'],
};

/** Every package any role can install, for building a package mirror. */
export function allRolePackages(): string[] {
  return [...new Set([...COMMON_PACKAGES, ...Object.values(ROLE_PACKAGES).flat()])].sort();
}
