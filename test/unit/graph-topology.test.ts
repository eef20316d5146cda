import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { colorsFor } from '../../src/cli/color.js';
import { renderGraphText, renderMermaid } from '../../src/cli/graph.js';
import { main } from '../../src/cli/main.js';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/model.js';
import { buildGraph, type TopologyGraph } from '../../src/roles/graph.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE = `${ROOT}inventory.example.yaml`;
const PLAIN = colorsFor({ isTTY: false }, {});

async function example(): Promise<Inventory> {
  const result = await loadInventory(EXAMPLE);
  if (!result.ok) throw new Error('inventory.example.yaml must be valid');
  return result.inventory;
}

async function infra(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { code: await main(['node', 'infra', ...args]), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('infra graph of inventory.example.yaml', () => {
  it('draws the tiers top to bottom with the ports of the flows between them', async () => {
    const text = renderGraphText(buildGraph(await example(), 'inventory.example.yaml'), PLAIN);
    const [tiers, sources] = text.split('\n\n').slice(1);
    expect(tiers!.split('\n')).toEqual([
      'DNS          www.foobar.com A 10.0.0.100',
      '  │ tcp 80, 443  clients, by the A record',
      '  ▼',
      'VIP          10.0.0.100/24 keepalived VRRP: lb1 master, lb2 backup',
      '  │ tcp 80, 443  to the master lb; 80 redirects to https',
      '  ▼',
      'LB           lb1   10.0.0.11  HAProxy, keepalived',
      '             lb2   10.0.0.12',
      '  │ tcp 443  TLS passthrough, PROXY protocol v2',
      '  ▼',
      'WEB          web1  10.0.0.21  nginx, TLS',
      '             web2  10.0.0.22',
      '  │ tcp 8000  http',
      '  ▼',
      'APP          app1  10.0.0.31  application',
      '             app2  10.0.0.32',
      '  │ tcp 3306  mysql',
      '  ▼',
      'DB PRIMARY   db1   10.0.0.41  MariaDB, takes writes',
      '  ▲ tcp 3306  replication (replicas connect to the primary)',
      '  │',
      'DB REPLICAS  db2   10.0.0.42  MariaDB, read-only',
    ]);
    expect(sources!.split('\n')).toEqual([
      'admin       from 10.0.0.1/32: tcp 22 → lb, web, app, db primary, db replicas',
      'monitoring  from 10.0.0.1/32: tcp 8404, 9100 → lb; tcp 3903, 9100, 9113 → web; tcp 9100 → app; tcp 9100, 9104 → db primary, db replicas',
    ]);
  });

  it("lists each host's firewall openings as firewallRules makes them, with VRRP between the lb pair", async () => {
    const text = renderGraphText(buildGraph(await example(), 'inventory.example.yaml'), PLAIN);
    const openings = text.slice(text.indexOf('Firewall openings')).split('\n');
    expect(openings.slice(0, 8)).toEqual([
      'Firewall openings (ufw: incoming traffic is denied except these)',
      'lb1  10.0.0.11  [lb]',
      '  tcp 22    from 10.0.0.1/32  ssh (admin)',
      '  tcp 9100  from 10.0.0.1/32  node exporter (monitoring)',
      '  tcp 80    from any          http (clients)',
      '  tcp 443   from any          https (clients)',
      '  tcp 8404  from 10.0.0.1/32  haproxy metrics (monitoring)',
      '  vrrp      from 10.0.0.12    keepalived VRRP (lb peers)',
    ]);
    expect(openings).toContain('  tcp 443   from 10.0.0.11, 10.0.0.12  https (lb)');
    expect(openings).toContain('  tcp 8000  from 10.0.0.21, 10.0.0.22  app (web)');
    expect(openings).toContain('  tcp 3306  from 10.0.0.31, 10.0.0.32, 10.0.0.42  mysql (app, replicas)');
  });

  it('writes a Mermaid flowchart: a subgraph per tier, a node per host with its open ports, the flows as edges', async () => {
    const mermaid = renderMermaid(buildGraph(await example(), 'inventory.example.yaml'));
    const lines = mermaid.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      '%% infra graph inventory.example.yaml: www.foobar.com',
      'flowchart TD',
      '  dns["DNS: www.foobar.com A 10.0.0.100"]',
      '  vip(("VIP: 10.0.0.100/24 keepalived VRRP: lb1 master, lb2 backup"))',
      '  subgraph lb["LB: HAProxy, keepalived"]',
      '    lb_0["lb1<br/>10.0.0.11<br/>open: tcp 22, 80, 443, 8404, 9100; vrrp"]',
      '    lb_1["lb2<br/>10.0.0.12<br/>open: tcp 22, 80, 443, 8404, 9100; vrrp"]',
    ]);
    expect(lines).toContain('  subgraph db_replicas["DB REPLICAS: MariaDB, read-only"]');
    expect(lines).toContain('    db_replicas_7["db2<br/>10.0.0.42<br/>open: tcp 22, 3306, 9100, 9104"]');
    expect(lines).toEqual(
      expect.arrayContaining([
        '  dns -->|"tcp 80, 443 clients, by the A record"| vip',
        '  vip -->|"tcp 80, 443 to the master lb; 80 redirects to https"| lb',
        '  lb -->|"tcp 443 TLS passthrough, PROXY protocol v2"| web',
        '  web -->|"tcp 8000 http"| app',
        '  app -->|"tcp 3306 mysql"| db_primary',
        '  db_replicas -->|"tcp 3306 replication (replicas connect to the primary)"| db_primary',
        '  admin[/"admin: 10.0.0.1/32"/]',
        '  admin -.->|"tcp 22 ssh"| web',
        '  monitoring -.->|"tcp 3903, 9100, 9113 exporters"| web',
      ]),
    );
    // Every subgraph is closed.
    expect(lines.filter((line) => line.startsWith('  subgraph')).length).toBe(lines.filter((line) => line === '  end').length);
  });

  it('without a VIP, DNS points at the lb hosts and there is no VRRP', () => {
    const text = readFileSync(EXAMPLE, 'utf8').replace(/^vip: .*$/m, '');
    const result = parseInventory(text, EXAMPLE);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const graph = buildGraph(result.inventory, 'x.yaml');
    expect(graph.tiers.map((tier) => tier.id)).toEqual(['dns', 'lb', 'web', 'app', 'db_primary', 'db_replicas']);
    expect(graph.tiers[0]!.note).toBe('www.foobar.com A 10.0.0.11, 10.0.0.12');
    expect(graph.flows[0]).toEqual({ from: 'dns', to: 'lb', proto: 'tcp', ports: [80, 443], label: 'clients, by the A record' });
    expect(graph.hosts.flatMap((host) => host.openings).some((opening) => opening.proto === 'vrrp')).toBe(false);
  });
});

describe('infra graph command', () => {
  it('prints the same as data with --json, and writes the Mermaid file', async () => {
    const mermaid = join(mkdtempSync(join(tmpdir(), 'infra-graph-')), 'topology.mmd');
    const { code, stdout } = await infra('--json', 'graph', EXAMPLE, '--mermaid', mermaid);
    expect(code).toBe(0);
    const graph = JSON.parse(stdout) as TopologyGraph;
    expect(graph.domain).toBe('www.foobar.com');
    expect(graph.tiers.map((tier) => `${tier.id}: ${tier.hosts.map((host) => host.name).join(' ')}`)).toEqual([
      'dns: ',
      'vip: ',
      'lb: lb1 lb2',
      'web: web1 web2',
      'app: app1 app2',
      'db_primary: db1',
      'db_replicas: db2',
    ]);
    expect(graph.hosts.find((host) => host.name === 'web1')?.openings).toContainEqual({
      proto: 'tcp',
      port: 443,
      from: ['10.0.0.11', '10.0.0.12'],
      purpose: 'https (lb)',
    });
    expect(readFileSync(mermaid, 'utf8')).toMatch(/^%% infra graph .*\nflowchart TD\n/);
  });

  it('refuses an invalid inventory with its issues', async () => {
    const { code, stderr } = await infra('graph', `${ROOT}test/fixtures/inventories/many-problems.yaml`);
    expect(code).toBe(1);
    expect(stderr).toMatch(/is not a valid inventory:\n(.*\n)*.*:13:13 hosts\.web1\.roles\[0\]: unknown role "wbe"/);
  });
});
