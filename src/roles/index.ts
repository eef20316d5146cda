import { PHASE_ORDER, type HostDesire, type PhaseDesire } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import { appPhase } from './app.js';
import type { DbPlatform } from './db-engines.js';
import { dbAccountsCleanup, dbPhase, dbSecureTransport } from './db.js';
import { firewallPhase } from './firewall.js';
import { lbPhase } from './lb.js';
import { monitoringPhase } from './monitoring.js';
import type { RoleSecrets } from './secrets.js';
import { webPhase } from './web.js';

export type { RoleSecrets } from './secrets.js';

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
 * the host's own roles. A pure function of the inventory, the secrets the engine resolved for
 * this host, the templates (and app files) it reads, and on a db host what it said of its server
 * (DbPlatform; without it the inventory decides).
 */
export function desiredForHost(inventory: Inventory, host: Host, secrets: RoleSecrets, dbPlatform?: DbPlatform): HostDesire {
  const phases: PhaseDesire[] = [firewallPhase(inventory, host), monitoringPhase(inventory, host)];
  if (host.roles.includes('db')) phases.push(dbPhase(inventory, host, secrets, dbPlatform));
  if (host.roles.includes('app')) phases.push(appPhase(inventory, host, secrets));
  if (host.roles.includes('web')) phases.push(webPhase(inventory, host, secrets));
  if (host.roles.includes('lb')) phases.push(lbPhase(inventory, host));
  phases.push(cleanupPhase(inventory, host, dbPlatform));
  phases.sort((a, b) => PHASE_ORDER.indexOf(a.phase) - PHASE_ORDER.indexOf(b.phase));
  return { host: host.name, address: host.address, phases };
}
