import type { GraphFlow, GraphOpening, TopologyGraph } from '../roles/graph.js';
import type { Colors } from './color.js';

/** `infra graph`'s output: the topology (src/roles/graph.ts) as text for the terminal and as a Mermaid flowchart. */

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
      lines.push(
        `  ${colors.yellow(openingText(opening).padEnd(portWidth))}  from ${opening.from.join(', ').padEnd(fromWidth)}  ${colors.dim(opening.purpose)}`,
      );
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
  return [...byProto].map(([proto, ports]) => (ports.size ? `${proto} ${[...ports].sort((a, b) => a - b).join(', ')}` : proto)).join('; ');
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
