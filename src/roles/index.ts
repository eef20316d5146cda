import { PHASE_ORDER, type HostDesire, type PhaseDesire } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import { firewallPhase } from './firewall.js';
import { monitoringPhase } from './monitoring.js';

/**
 * Everything infra wants on a host, phase by phase: firewall and monitoring on every host, then
 * the host's own roles. A pure function of the inventory (and the templates it renders).
 */
export function desiredForHost(inventory: Inventory, host: Host): HostDesire {
  const phases: PhaseDesire[] = [firewallPhase(inventory, host), monitoringPhase(inventory, host)];
  phases.sort((a, b) => PHASE_ORDER.indexOf(a.phase) - PHASE_ORDER.indexOf(b.phase));
  return { host: host.name, address: host.address, phases };
}
