import type { Role } from '../inventory/model.js';
import { appRole } from './app.js';
import { dbRole } from './db.js';
import type { RoleDefinition } from './definition.js';
import { lbRole } from './lb.js';
import { monitorRole } from './monitor.js';
import { webRole } from './web.js';

/** Every role by name. The readers take a registry, this one by default, so a test can add a role. */
export type RoleRegistry = Readonly<Record<Role, RoleDefinition>>;

/** The roles infra knows: a new role is its own file, its templates and one line here. */
export const ROLE_REGISTRY: RoleRegistry = {
  lb: lbRole,
  web: webRole,
  app: appRole,
  db: dbRole,
  monitor: monitorRole,
};

/** The roles in the path of a request, from the clients in: lb, web, app, db. */
export function rolesFrontToBack(registry: RoleRegistry = ROLE_REGISTRY): RoleDefinition[] {
  return Object.values(registry).sort((a, b) => a.tier - b.tier);
}

/** The definitions of a host's roles, in the order of its roles list. */
export function definitionsOf(roles: readonly Role[], registry: RoleRegistry = ROLE_REGISTRY): RoleDefinition[] {
  return roles.map((role) => registry[role]);
}
