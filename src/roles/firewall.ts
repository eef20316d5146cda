import type { FirewallRuleResource, PhaseDesire } from '../core/types.js';
import type { Host, Inventory, Role } from '../inventory/model.js';
import { NODE_EXPORTER_PORT, ROLE_PORTS } from '../inventory/ports.js';
import { COMMON_PACKAGES } from './packages.js';

// The roles and the graph read the ports from here, beside the rules that open them.
export { ROLE_PORTS };

function addressesWithRole(inventory: Inventory, role: Role): string[] {
  return inventory.hosts.filter((host) => host.roles.includes(role)).map((host) => host.address);
}

function allow(port: number, sources: readonly string[], purpose: string): FirewallRuleResource[] {
  return sources.map((from) => ({ kind: 'firewall-rule', proto: 'tcp', port, from, purpose }));
}

/**
 * The ufw rules a host needs: SSH from the admin sources, the monitoring agent from the
 * monitoring sources, and each of its roles' ports open only to the hosts that talk to them.
 */
export function firewallRules(inventory: Inventory, host: Host): FirewallRuleResource[] {
  const monitoring = inventory.monitoring.sources;
  const rules = [
    ...allow(host.ssh.port, inventory.firewall.adminSources, 'ssh (admin)'),
    ...allow(NODE_EXPORTER_PORT, monitoring, 'node exporter (monitoring)'),
  ];
  for (const extra of inventory.firewall.extraRules) {
    const here = extra.hosts === undefined || extra.hosts.some((name) => name === host.name || host.groups.includes(name) || host.roles.includes(name as Role));
    if (here) rules.push({ kind: 'firewall-rule', proto: extra.proto, port: extra.port, from: extra.from, purpose: 'kept (firewall.extra_rules)' });
  }
  for (const role of host.roles) {
    switch (role) {
      case 'lb':
        rules.push(...allow(80, ['any'], 'http (clients)'), ...allow(443, ['any'], 'https (clients)'));
        rules.push(...allow(ROLE_PORTS.haproxyMetrics, monitoring, 'haproxy metrics (monitoring)'));
        break;
      case 'web':
        rules.push(...allow(443, addressesWithRole(inventory, 'lb'), 'https (lb)'));
        rules.push(...allow(ROLE_PORTS.nginxExporter, monitoring, 'nginx exporter (monitoring)'));
        break;
      case 'app':
        rules.push(...allow(inventory.app.port, addressesWithRole(inventory, 'web'), 'app (web)'));
        break;
      case 'db': {
        const peers = addressesWithRole(inventory, 'db').filter((address) => address !== host.address);
        rules.push(...allow(ROLE_PORTS.mysql, [...addressesWithRole(inventory, 'app'), ...peers], 'mysql (app, replicas)'));
        rules.push(...allow(ROLE_PORTS.mysqldExporter, monitoring, 'mysqld exporter (monitoring)'));
        break;
      }
    }
  }
  return rules;
}

export function firewallPhase(inventory: Inventory, host: Host): PhaseDesire {
  return {
    phase: 'firewall',
    resources: [
      ...COMMON_PACKAGES.filter((name) => name === 'ufw').map((name) => ({ kind: 'package' as const, name })),
      ...firewallRules(inventory, host),
      { kind: 'firewall-state', sshPort: host.ssh.port },
    ],
    handlers: [],
    validators: [],
  };
}
