import type { FirewallRuleResource, PhaseDesire } from '../core/types.js';
import type { Host, Inventory, Role } from '../inventory/model.js';
import { NODE_EXPORTER_PORT } from '../inventory/ports.js';
import type { OpeningSource } from './definition.js';
import { COMMON_PACKAGES } from './packages.js';
import { definitionsOf, ROLE_REGISTRY, type RoleRegistry } from './registry.js';
import { hostsWithRole, monitoringSources } from './topology.js';

function allow(port: number, sources: readonly string[], purpose: string): FirewallRuleResource[] {
  return sources.map((from) => ({ kind: 'firewall-rule', proto: 'tcp', port, from, purpose }));
}

/** The addresses an opening of a host's role admits, in the order of its sources. */
function sourceAddresses(inventory: Inventory, host: Host, role: Role, from: OpeningSource): string[] {
  if (from === 'clients') return ['any'];
  if (from === 'admin') return inventory.firewall.adminSources;
  if (from === 'monitoring') return monitoringSources(inventory);
  const hosts = hostsWithRole(inventory, from === 'peers' ? role : from.role);
  return (from === 'peers' ? hosts.filter((peer) => peer.address !== host.address) : hosts).map((source) => source.address);
}

/**
 * The ufw rules a host needs: SSH from the admin sources, the monitoring agent from the monitor
 * hosts and the monitoring sources, and each of its roles' openings (from the registry) only to the hosts that
 * talk to them.
 */
export function firewallRules(inventory: Inventory, host: Host, registry: RoleRegistry = ROLE_REGISTRY): FirewallRuleResource[] {
  const monitoring = monitoringSources(inventory);
  const rules = [
    ...allow(host.ssh.port, inventory.firewall.adminSources, 'ssh (admin)'),
    ...allow(NODE_EXPORTER_PORT, monitoring, 'node exporter (monitoring)'),
  ];
  for (const extra of inventory.firewall.extraRules) {
    const here = extra.hosts === undefined || extra.hosts.some((name) => name === host.name || host.groups.includes(name) || host.roles.includes(name as Role));
    if (here) rules.push({ kind: 'firewall-rule', proto: extra.proto, port: extra.port, from: extra.from, purpose: 'kept (firewall.extra_rules)' });
  }
  for (const role of definitionsOf(host.roles, registry)) {
    for (const opening of role.openings) {
      const port = typeof opening.port === 'number' ? opening.port : opening.port(inventory);
      rules.push(
        ...allow(
          port,
          opening.from.flatMap((from) => sourceAddresses(inventory, host, role.name, from)),
          opening.purpose,
        ),
      );
    }
  }
  return rules;
}

export function firewallPhase(inventory: Inventory, host: Host, registry: RoleRegistry = ROLE_REGISTRY): PhaseDesire {
  return {
    phase: 'firewall',
    resources: [
      ...COMMON_PACKAGES.filter((name) => name === 'ufw').map((name) => ({ kind: 'package' as const, name })),
      ...firewallRules(inventory, host, registry),
      { kind: 'firewall-state', sshPort: host.ssh.port },
    ],
    handlers: [],
    validators: [],
  };
}
