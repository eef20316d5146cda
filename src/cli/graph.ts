import type { Host, Inventory, Role } from '../inventory/model.js';
import { firewallRules, ROLE_PORTS } from '../roles/firewall.js';
import type { Colors } from './color.js';

/**
 * The topology of an inventory as data (`infra graph --json`), as text for the terminal and as a
 * Mermaid flowchart. Every port comes from the roles (firewallRules, ROLE_PORTS), so the picture
 * cannot drift from what provision opens.
 */

export type TierId = 'dns' | 'vip' | 'lb' | 'web' | 'app' | 'db_primary' | 'db_replicas';
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

function hostsWith(inventory: Inventory, role: Role): Host[] {
  return inventory.hosts.filter((host) => host.roles.includes(role));
}

function named(inventory: Inventory, names: readonly string[]): Host[] {
  return names.flatMap((name) => inventory.hosts.filter((host) => host.name === name));
}

/** The host's ufw openings, one per port and purpose with its sources together; VRRP from lb peers. */
function openingsOf(inventory: Inventory, host: Host): GraphOpening[] {
  const openings: GraphOpening[] = [];
  for (const rule of firewallRules(inventory, host)) {
    const same = openings.find((o) => o.proto === rule.proto && o.port === rule.port && o.purpose === rule.purpose);
    if (same) same.from.push(rule.from);
    else openings.push({ proto: rule.proto, port: rule.port, from: [rule.from], purpose: rule.purpose });
  }
  // The lb role lets keepalived's peers in through ufw's before.rules when there is a VIP.
  if (inventory.vip !== undefined && host.roles.includes('lb')) {
    const peers = hostsWith(inventory, 'lb').filter((peer) => peer.name !== host.name).map((peer) => peer.address);
    if (peers.length > 0) openings.push({ proto: 'vrrp', from: peers, purpose: 'keepalived VRRP (lb peers)' });
  }
  return openings;
}

export function buildGraph(inventory: Inventory, displayFile: string): TopologyGraph {
  const lbs = hostsWith(inventory, 'lb');
  const webs = hostsWith(inventory, 'web');
  const apps = hostsWith(inventory, 'app');
  const primary = named(inventory, [inventory.db.primary]);
  const replicas = named(inventory, inventory.db.replicas);
  const brief = (hosts: Host[]) => hosts.map(({ name, address }) => ({ name, address }));

  const publicAddresses = inventory.vip !== undefined ? [inventory.vip] : (lbs.length > 0 ? lbs : webs).map((host) => host.address);
  const tiers: GraphTier[] = [
    { id: 'dns', title: 'DNS', hosts: [], note: `${inventory.domain} A ${publicAddresses.join(', ') || '(no public address)'}` },
  ];
  if (inventory.vip !== undefined) {
    const roles = lbs.map((lb, index) => `${lb.name} ${index === 0 ? 'master' : 'backup'}`);
    tiers.push({ id: 'vip', title: 'VIP', hosts: [], note: `${inventory.vip}/${inventory.vipPrefix} keepalived VRRP: ${roles.join(', ')}` });
  }
  const hostTiers: [TierId, string, string, Host[]][] = [
    ['lb', 'LB', 'HAProxy, keepalived', lbs],
    ['web', 'WEB', 'nginx, TLS', webs],
    ['app', 'APP', 'application', apps],
    ['db_primary', 'DB PRIMARY', 'MariaDB, takes writes', primary],
    ['db_replicas', 'DB REPLICAS', 'MariaDB, read-only', replicas],
  ];
  for (const [id, title, note, hosts] of hostTiers) if (hosts.length > 0) tiers.push({ id, title, note, hosts: brief(hosts) });

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

  const hosts = inventory.hosts.map((host) => ({ name: host.name, address: host.address, roles: host.roles, openings: openingsOf(inventory, host) }));
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
    sources: { admin: inventory.firewall.adminSources, monitoring: inventory.monitoring.sources },
    tiers,
    flows,
    hosts,
  };
}

function portsText(flow: Pick<GraphFlow, 'proto' | 'ports'>): string {
  return `${flow.proto} ${flow.ports.join(', ')}`;
}

function openingText(opening: GraphOpening): string {
  return opening.port === undefined ? opening.proto : `${opening.proto} ${opening.port}`;
}

/** The graph for a terminal: the tier chain top to bottom, then where admin and monitoring come in, then every host's openings. */
export function renderGraphText(graph: TopologyGraph, colors: Colors): string {
  const lines: string[] = [`${colors.bold(graph.domain)} ${colors.dim(`(${graph.inventory})`)}`, ''];
  const titleWidth = Math.max(...graph.tiers.map((tier) => tier.title.length)) + 2;
  const nameWidth = Math.max(...graph.tiers.flatMap((tier) => tier.hosts.map((host) => host.name.length)));
  const addressWidth = Math.max(...graph.tiers.flatMap((tier) => tier.hosts.map((host) => host.address.length)));
  graph.tiers.forEach((tier, index) => {
    const head = colors.bold(tier.title.padEnd(titleWidth));
    if (tier.hosts.length === 0) {
      lines.push(`${head}${tier.note}`);
    } else {
      tier.hosts.forEach((host, row) => {
        const note = row === 0 ? `  ${colors.dim(tier.note)}` : '';
        const start = row === 0 ? head : ' '.repeat(titleWidth);
        lines.push(`${start}${colors.cyan(host.name.padEnd(nameWidth))}  ${host.address.padEnd(addressWidth)}${note}`);
      });
    }
    const next = graph.tiers[index + 1];
    if (!next) return;
    const down = graph.flows.find((flow) => flow.from === tier.id && flow.to === next.id);
    const up = graph.flows.find((flow) => flow.from === next.id && flow.to === tier.id);
    const flow = down ?? up;
    if (!flow) {
      lines.push('  │');
    } else if (down) {
      lines.push(`  │ ${colors.yellow(portsText(flow))}  ${colors.dim(flow.label)}`, '  ▼');
    } else {
      lines.push(`  ▲ ${colors.yellow(portsText(flow))}  ${colors.dim(flow.label)}`, '  │');
    }
  });

  lines.push('');
  for (const kind of ['admin', 'monitoring'] as const) {
    // Tiers that open the same ports share one entry: "tcp 22 → lb, web, app, …".
    const byPorts = new Map<string, string[]>();
    for (const flow of graph.flows.filter((candidate) => candidate.from === kind)) {
      byPorts.set(portsText(flow), [...(byPorts.get(portsText(flow)) ?? []), flow.to.replace('_', ' ')]);
    }
    if (byPorts.size === 0) continue;
    const targets = [...byPorts].map(([ports, tiers]) => `${colors.yellow(ports)} → ${tiers.join(', ')}`).join('; ');
    lines.push(`${colors.bold(kind.padEnd(12))}from ${graph.sources[kind].join(', ')}: ${targets}`);
  }

  lines.push('', colors.bold('Firewall openings') + colors.dim(' (ufw: incoming traffic is denied except these)'));
  for (const host of graph.hosts) {
    lines.push(`${colors.cyan(host.name)}  ${host.address}  ${colors.dim(`[${host.roles.join(', ')}]`)}`);
    const portWidth = Math.max(...host.openings.map((opening) => openingText(opening).length));
    const fromWidth = Math.max(...host.openings.map((opening) => opening.from.join(', ').length));
    for (const opening of host.openings) {
      lines.push(`  ${colors.yellow(openingText(opening).padEnd(portWidth))}  from ${opening.from.join(', ').padEnd(fromWidth)}  ${colors.dim(opening.purpose)}`);
    }
  }
  return lines.map((line) => line.trimEnd()).join('\n') + '\n';
}

/** Text inside a Mermaid label: quotes and the characters Mermaid parses inside labels, as entities. */
function mermaidText(text: string): string {
  return text.replace(/[&"<>#]/g, (char) => `#${char.charCodeAt(0)};`);
}

/** "tcp 22, 80, 443; vrrp": the ports a host opens, to anyone, in order. */
function openPorts(openings: readonly GraphOpening[]): string {
  const byProto = new Map<string, Set<number>>();
  for (const opening of openings) {
    const ports = byProto.get(opening.proto) ?? new Set<number>();
    if (opening.port !== undefined) ports.add(opening.port);
    byProto.set(opening.proto, ports);
  }
  return [...byProto]
    .map(([proto, ports]) => (ports.size ? `${proto} ${[...ports].sort((a, b) => a - b).join(', ')}` : proto))
    .join('; ');
}

/** A Mermaid flowchart: one subgraph per host tier, one node per host with its open ports. */
export function renderMermaid(graph: TopologyGraph): string {
  const lines = [`%% infra graph ${graph.inventory}: ${graph.domain}`, 'flowchart TD'];
  const hostIndex = new Map(graph.hosts.map((host, index) => [host.name, index]));
  for (const tier of graph.tiers) {
    if (tier.hosts.length === 0) {
      const shape = tier.id === 'vip' ? ['((', '))'] : ['[', ']'];
      lines.push(`  ${tier.id}${shape[0]}"${mermaidText(`${tier.title}: ${tier.note}`)}"${shape[1]}`);
      continue;
    }
    lines.push(`  subgraph ${tier.id}["${mermaidText(`${tier.title}: ${tier.note}`)}"]`);
    for (const { name, address } of tier.hosts) {
      const host = graph.hosts[hostIndex.get(name) ?? 0];
      const ports = openPorts(host?.openings ?? []);
      // Node ids from the tier and the host's position: host names may hold characters ids cannot.
      lines.push(`    ${tier.id}_${hostIndex.get(name)}["${mermaidText(name)}<br/>${address}<br/>open: ${mermaidText(ports)}"]`);
    }
    lines.push('  end');
  }
  for (const kind of ['admin', 'monitoring'] as const) {
    if (graph.flows.some((flow) => flow.from === kind)) {
      lines.push(`  ${kind}[/"${mermaidText(`${kind}: ${graph.sources[kind].join(', ')}`)}"/]`);
    }
  }
  for (const flow of graph.flows) {
    const arrow = flow.from === 'admin' || flow.from === 'monitoring' ? '-.->' : '-->';
    lines.push(`  ${flow.from} ${arrow}|"${mermaidText(`${portsText(flow)} ${flow.label}`)}"| ${flow.to}`);
  }
  return lines.join('\n') + '\n';
}
