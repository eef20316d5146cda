import type { Host, Inventory, Role } from '../inventory/model.js';
import { ROLE_PORTS } from '../inventory/ports.js';
import { firewallRules } from './firewall.js';
import { ROLE_REGISTRY, rolesFrontToBack, type RoleRegistry } from './registry.js';
import { hostsWithRole, monitoringSources } from './topology.js';

/**
 * The topology of an inventory as data (`infra graph`): its tiers of hosts from the role
 * definitions, the flows of traffic between them, and every host's openings. Every port comes
 * from the roles (firewallRules, ROLE_PORTS), so the picture cannot drift from what provision
 * opens. src/cli/graph.ts prints it.
 */

/** `dns` and `vip`, then the tiers of hosts the role definitions give (`lb`, `db_primary`…). */
export type TierId = string;
/** Where traffic comes from: a tier, or one of the inventory's source lists. */
export type FlowEnd = TierId | 'admin' | 'monitoring';

export interface GraphTier {
  id: TierId;
  title: string;
  /** The tier's hosts, in inventory order (empty for dns and vip). */
  hosts: { name: string; address: string }[];
  /** What the tier is: the record for dns, the address and its holders for vip, the service otherwise. */
  note: string;
}

export interface GraphFlow {
  from: FlowEnd;
  to: TierId;
  proto: 'tcp' | 'vrrp';
  ports: number[];
  label: string;
}

export interface GraphOpening {
  proto: 'tcp' | 'udp' | 'vrrp';
  /** Absent for VRRP, which is an IP protocol (112), not a port. */
  port?: number;
  from: string[];
  purpose: string;
}

export interface GraphHost {
  name: string;
  address: string;
  roles: Role[];
  openings: GraphOpening[];
}

export interface TopologyGraph {
  inventory: string;
  domain: string;
  vip?: string;
  sources: { admin: string[]; monitoring: string[] };
  tiers: GraphTier[];
  flows: GraphFlow[];
  hosts: GraphHost[];
}

/** The host's ufw openings, one per port and purpose with its sources together; VRRP from lb peers. */
function openingsOf(inventory: Inventory, host: Host, registry: RoleRegistry): GraphOpening[] {
  const openings: GraphOpening[] = [];
  for (const rule of firewallRules(inventory, host, registry)) {
    const same = openings.find((o) => o.proto === rule.proto && o.port === rule.port && o.purpose === rule.purpose);
    if (same) same.from.push(rule.from);
    else openings.push({ proto: rule.proto, port: rule.port, from: [rule.from], purpose: rule.purpose });
  }
  // The lb role lets keepalived's peers in through ufw's before.rules when there is a VIP.
  if (inventory.vip !== undefined && host.roles.includes('lb')) {
    const peers = hostsWithRole(inventory, 'lb')
      .filter((peer) => peer.name !== host.name)
      .map((peer) => peer.address);
    if (peers.length > 0) openings.push({ proto: 'vrrp', from: peers, purpose: 'keepalived VRRP (lb peers)' });
  }
  return openings;
}

export function buildGraph(inventory: Inventory, displayFile: string, registry: RoleRegistry = ROLE_REGISTRY): TopologyGraph {
  const lbs = hostsWithRole(inventory, 'lb');
  const webs = hostsWithRole(inventory, 'web');
  const brief = (hosts: Host[]) => hosts.map(({ name, address }) => ({ name, address }));

  const publicAddresses = inventory.vip !== undefined ? [inventory.vip] : (lbs.length > 0 ? lbs : webs).map((host) => host.address);
  const tiers: GraphTier[] = [{ id: 'dns', title: 'DNS', hosts: [], note: `${inventory.domain} A ${publicAddresses.join(', ') || '(no public address)'}` }];
  if (inventory.vip !== undefined) {
    const roles = lbs.map((lb, index) => `${lb.name} ${index === 0 ? 'master' : 'backup'}`);
    tiers.push({ id: 'vip', title: 'VIP', hosts: [], note: `${inventory.vip}/${inventory.vipPrefix} keepalived VRRP: ${roles.join(', ')}` });
  }
  for (const role of rolesFrontToBack(registry)) {
    for (const { id, title, note, hosts } of role.graphTiers(inventory)) if (hosts.length > 0) tiers.push({ id, title, note, hosts: brief(hosts) });
  }

  const present = new Set(tiers.map((tier) => tier.id));
  const flows: GraphFlow[] = [];
  const entry = (['vip', 'lb', 'web'] as const).find((id) => present.has(id));
  if (entry) {
    flows.push({ from: 'dns', to: entry, proto: 'tcp', ports: entry === 'web' ? [443] : [80, 443], label: 'clients, by the A record' });
  }
  if (present.has('vip') && present.has('lb')) {
    flows.push({ from: 'vip', to: 'lb', proto: 'tcp', ports: [80, 443], label: 'to the master lb; 80 redirects to https' });
  }
  if (present.has('lb') && present.has('web')) {
    flows.push({ from: 'lb', to: 'web', proto: 'tcp', ports: [443], label: 'TLS passthrough, PROXY protocol v2' });
  }
  if (present.has('web') && present.has('app')) {
    flows.push({ from: 'web', to: 'app', proto: 'tcp', ports: [inventory.app.port], label: 'http' });
  }
  if (present.has('app') && present.has('db_primary')) {
    flows.push({ from: 'app', to: 'db_primary', proto: 'tcp', ports: [ROLE_PORTS.mysql], label: 'mysql' });
  }
  if (present.has('db_replicas')) {
    // Replication is pulled: each replica connects to the primary.
    flows.push({ from: 'db_replicas', to: 'db_primary', proto: 'tcp', ports: [ROLE_PORTS.mysql], label: 'replication (replicas connect to the primary)' });
  }

  const hosts = inventory.hosts.map((host) => ({ name: host.name, address: host.address, roles: host.roles, openings: openingsOf(inventory, host, registry) }));
  // Admin and monitoring reach every host; each tier gets the ports its hosts open to them.
  for (const kind of ['admin', 'monitoring'] as const) {
    for (const tier of tiers) {
      const ports = new Set<number>();
      for (const { name } of tier.hosts) {
        for (const opening of hosts.find((host) => host.name === name)?.openings ?? []) {
          if (opening.port !== undefined && opening.purpose.endsWith(`(${kind})`)) ports.add(opening.port);
        }
      }
      if (ports.size > 0) {
        flows.push({ from: kind, to: tier.id, proto: 'tcp', ports: [...ports].sort((a, b) => a - b), label: kind === 'admin' ? 'ssh' : 'exporters' });
      }
    }
  }

  return {
    inventory: displayFile,
    domain: inventory.domain,
    ...(inventory.vip !== undefined ? { vip: inventory.vip } : {}),
    sources: { admin: inventory.firewall.adminSources, monitoring: monitoringSources(inventory) },
    tiers,
    flows,
    hosts,
  };
}
