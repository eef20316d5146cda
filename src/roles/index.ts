import type { HostDesire, Phase, PhaseDesire } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import type { DbPlatform } from './db-engines.js';
import { dbAccountsCleanup, dbSecureTransport } from './db.js';
import { firewallPhase } from './firewall.js';
import { monitoringPhase } from './monitoring.js';
import { ROLE_REGISTRY, rolesFrontToBack, type RoleRegistry } from './registry.js';
import type { RoleSecrets } from './secrets.js';

export type { RoleSecrets } from './secrets.js';

/**
 * The order phases run in: firewall and monitoring on every host first, then the roles back to
 * front (db first: nothing is sent to a host before it can serve), cleanup last.
 */
export function phaseOrder(registry: RoleRegistry = ROLE_REGISTRY): Phase[] {
  return [
    'firewall',
    'monitoring',
    ...rolesFrontToBack(registry)
      .reverse()
      .map((role) => role.name),
    'cleanup',
  ];
}

export const PHASE_ORDER: readonly Phase[] = phaseOrder();

/**
 * What goes last, once no phase can still need it: firewall openings no longer wanted (the planner
 * puts their deletion here), on the db primary the accounts of hosts that left, and on db hosts
 * require_secure_transport, once every client of the server speaks TLS.
 */
function cleanupPhase(inventory: Inventory, host: Host, dbPlatform: DbPlatform | undefined): PhaseDesire {
  const accounts = dbAccountsCleanup(inventory, host, dbPlatform);
  const secureTransport = dbSecureTransport(inventory, host, dbPlatform);
  return { phase: 'cleanup', resources: [...secureTransport.resources, ...(accounts ? [accounts] : [])], handlers: [], validators: secureTransport.validators };
}

/**
 * Everything infra wants on a host, phase by phase: firewall and monitoring on every host, then
 * the host's own roles in phase order. A pure function of the inventory, the secrets the engine
 * resolved for this host, the templates (and app files) it reads, and on a db host what it said of
 * its server (DbPlatform; without it the inventory decides).
 */
export function desiredForHost(
  inventory: Inventory,
  host: Host,
  secrets: RoleSecrets,
  registry: RoleRegistry = ROLE_REGISTRY,
  dbPlatform?: DbPlatform,
): HostDesire {
  const phases: PhaseDesire[] = [firewallPhase(inventory, host, registry), monitoringPhase(inventory, host)];
  for (const role of rolesFrontToBack(registry).reverse()) {
    if (host.roles.includes(role.name))
      phases.push({ ...role.render(inventory, host, secrets, dbPlatform, registry), healthChecks: role.healthChecks(inventory, host, dbPlatform) });
  }
  phases.push(cleanupPhase(inventory, host, dbPlatform));
  return { host: host.name, address: host.address, phases };
}
