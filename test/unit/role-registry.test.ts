import { describe, expect, it } from 'vitest';
import { resolveRoleSecrets } from '../../src/engine/secrets.js';
import type { Host, Inventory, Role } from '../../src/inventory/model.js';
import { addressesFor, CONTROLLER_OCTET, DEFAULT_COUNTS, DEFAULT_NAMING, hostOctet, parseSubnet, planHosts, VIP_OCTET } from '../../src/lab/plan.js';
import type { RoleDefinition } from '../../src/roles/definition.js';
import { firewallRules } from '../../src/roles/firewall.js';
import { buildGraph } from '../../src/roles/graph.js';
import { desiredForHost, phaseOrder, PHASE_ORDER } from '../../src/roles/index.js';
import { allRolePackages } from '../../src/roles/packages.js';
import { ROLE_REGISTRY, type RoleRegistry } from '../../src/roles/registry.js';
import { hostsWithRole } from '../../src/roles/topology.js';
import { hostOf, monitoredInventory, testInventory, testSecrets } from './roles-fixture.js';

/** A role the model does not know, as a new one would be before inventory/model.ts lists it. */
const CACHE = 'cache' as Role;

/** A cache beside the database: the app talks to it, nothing else does. Everything about it is this one entry. */
const cacheRole: RoleDefinition = {
  name: CACHE,
  tier: 3.5,
  packages: ['redis-server'],
  openings: [{ port: 6379, from: [{ role: 'app' }], purpose: 'redis (app)' }],
  secrets: [],
  render: () => ({
    phase: CACHE,
    resources: [
      { kind: 'package', name: 'redis-server' },
      { kind: 'service', name: 'redis-server', enabled: true, running: true },
    ],
    handlers: [],
    validators: [],
  }),
  healthChecks: () => [],
  graphTiers: (inventory) => [{ id: CACHE, title: 'CACHE', note: 'redis', hosts: hostsWithRole(inventory, CACHE) }],
  lab: { firstOctet: 61, defaultCount: 1, maxCount: 10, countHelp: 'cache hosts' },
};

/** The real registry and the one line a new role adds. */
const registry: RoleRegistry = { ...ROLE_REGISTRY, [CACHE]: cacheRole };

/** The role tests' inventory (app1 10.0.0.31, app2 10.0.0.32…) with one cache host. */
function inventoryWithCache(): { inventory: Inventory; cache1: Host } {
  const base = testInventory();
  const cache1: Host = { ...hostOf(base, 'app1'), name: 'cache1', address: '10.0.0.61', roles: [CACHE] };
  return { inventory: { ...base, hosts: [...base.hosts, cache1] }, cache1 };
}

describe('a role added by one registry entry', () => {
  it('is opened in the firewall to the hosts its definition names, and only to them', () => {
    const { inventory, cache1 } = inventoryWithCache();
    const cacheRules = firewallRules(inventory, cache1, registry).filter((rule) => rule.port === 6379);
    expect(cacheRules.map(({ from, purpose }) => ({ from, purpose }))).toEqual([
      { from: '10.0.0.31', purpose: 'redis (app)' },
      { from: '10.0.0.32', purpose: 'redis (app)' },
    ]);
    // The other hosts do not open it.
    expect(firewallRules(inventory, hostOf(inventory, 'app1'), registry).some((rule) => rule.port === 6379)).toBe(false);
  });

  it("has its packages in the lab repository beside every other role's", () => {
    expect(allRolePackages(registry)).toEqual([...allRolePackages(), 'redis-server'].sort());
  });

  it('gets its own lab addresses, placed by its tier in the host list', () => {
    const hosts = planHosts({ ...DEFAULT_COUNTS, [CACHE]: 2 }, parseSubnet('10.77.0.0/24'), DEFAULT_NAMING, registry);
    expect(hosts.map((host) => host.name)).toEqual(['lb1', 'lb2', 'web1', 'web2', 'app1', 'app2', 'cache1', 'cache2', 'db1', 'db2']);
    expect(hosts.filter((host) => host.role === CACHE).map((host) => host.address)).toEqual(['10.77.0.61', '10.77.0.62']);
    expect(() => planHosts({ ...DEFAULT_COUNTS, [CACHE]: 11 }, parseSubnet('10.77.0.0/24'), DEFAULT_NAMING, registry)).toThrow(
      /--cache 11: the lab runs 0 to 10 cache hosts/,
    );
  });

  it('renders its phase on its hosts, in phase order between the roles around its tier', () => {
    const { inventory, cache1 } = inventoryWithCache();
    expect(phaseOrder(registry)).toEqual(['firewall', 'monitoring', 'db', CACHE, 'app', 'web', 'lb', 'monitor', 'cleanup']);
    const desire = desiredForHost(inventory, cache1, {}, registry);
    expect(desire.phases.map((phase) => phase.phase)).toEqual(['firewall', 'monitoring', CACHE, 'cleanup']);
    expect(desire.phases.find((phase) => phase.phase === CACHE)?.resources).toContainEqual({ kind: 'package', name: 'redis-server' });
  });

  it('needs no secret resolved when its definition names none', async () => {
    const { inventory, cache1 } = inventoryWithCache();
    expect(await resolveRoleSecrets(inventory, cache1, {}, registry)).toEqual({});
  });

  it('appears in the graph as its own tier', () => {
    const { inventory } = inventoryWithCache();
    const graph = buildGraph(inventory, 'inventory.yaml', registry);
    expect(graph.tiers.map((tier) => tier.id)).toEqual(['dns', 'vip', 'lb', 'web', 'app', CACHE, 'db_primary', 'db_replicas']);
    expect(graph.hosts.find((host) => host.name === 'cache1')?.openings).toContainEqual({
      proto: 'tcp',
      port: 6379,
      from: ['10.0.0.31', '10.0.0.32'],
      purpose: 'redis (app)',
    });
  });
});

describe('the role registry', () => {
  it('runs the roles back to front: a host serves before anything is sent to it', () => {
    expect(PHASE_ORDER).toEqual(['firewall', 'monitoring', 'db', 'app', 'web', 'lb', 'monitor', 'cleanup']);
  });

  it('gives every role lab addresses of its own, within the /24 and clear of the controller and the VIP', () => {
    const octets = Object.values(ROLE_REGISTRY).flatMap((role) => {
      expect(role.lab.maxCount, role.name).toBeLessThanOrEqual(addressesFor(role.name));
      return Array.from({ length: role.lab.maxCount }, (_, index) => hostOctet(role.name, index + 1));
    });
    expect(new Set(octets).size).toBe(octets.length);
    expect(octets.every((octet) => octet > 1 && octet < 255 && octet !== CONTROLLER_OCTET && octet !== VIP_OCTET)).toBe(true);
  });
});

describe("a role definition's packages", () => {
  it('hold every package its phase installs, so the lab repository never misses one', () => {
    const inventory = monitoredInventory();
    for (const role of Object.values(ROLE_REGISTRY)) {
      const host = hostsWithRole(inventory, role.name)[0] as Host;
      const installed = role
        .render(inventory, host, testSecrets(), undefined, ROLE_REGISTRY)
        .resources.flatMap((resource) => (resource.kind === 'package' ? [resource.name] : []));
      expect(installed.length, role.name).toBeGreaterThan(0);
      expect(role.packages, role.name).toEqual(expect.arrayContaining(installed));
    }
  });
});
