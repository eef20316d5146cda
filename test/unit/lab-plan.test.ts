import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { UserError } from '../../src/core/errors.js';
import { renderKnownHosts, renderLabInventory, parsePublicKey } from '../../src/lab/inventory-writer.js';
import { setShadowHash } from '../../src/lab/identity.js';
import { parseMountPoints } from '../../src/lab/mounts.js';
import { nspawnArgs } from '../../src/lab/machine.js';
import { repoHash } from '../../src/lab/repo.js';
import { findSubnetConflict } from '../../src/lab/network.js';
import { hostPaths, labDirFromEnv, labPaths, namingFromEnv, subnetFromEnv } from '../../src/lab/paths.js';
import {
  DEFAULT_COUNTS,
  cidrsOverlap,
  controllerAddress,
  hostInterfaceName,
  labNaming,
  parseSubnet,
  planBastion,
  planHosts,
  vipAddress,
} from '../../src/lab/plan.js';
import { formatStatus } from '../../src/cli/commands/lab.js';
import { DEFAULT_RELEASE } from '../../src/lab/distro.js';

const subnet = parseSubnet('10.77.0.0/24');

describe('lab host plan: names and addresses from counts', () => {
  it('the default lab is lb1 lb2 web1 web2 app1 app2 db1 db2 at .11 .12 .21 .22 .31 .32 .41 .42', () => {
    const hosts = planHosts(DEFAULT_COUNTS, subnet);
    expect(hosts.map((h) => `${h.name}=${h.address}`)).toEqual([
      'lb1=10.77.0.11',
      'lb2=10.77.0.12',
      'web1=10.77.0.21',
      'web2=10.77.0.22',
      'app1=10.77.0.31',
      'app2=10.77.0.32',
      'db1=10.77.0.41',
      'db2=10.77.0.42',
    ]);
    expect(hosts.map((h) => h.machine)).toContain('ilab-web1');
    expect(hosts.find((h) => h.name === 'db2')?.hostInterface).toBe('vb-ilab-db2');
  });

  it('counts from flags: --web 3 --app 2 --db 3 --lb 2 gives web3 at .23 and db3 at .43', () => {
    const hosts = planHosts({ lb: 2, web: 3, app: 2, db: 3, monitor: 0 }, subnet);
    expect(hosts).toHaveLength(10);
    expect(hosts.find((h) => h.name === 'web3')?.address).toBe('10.77.0.23');
    expect(hosts.find((h) => h.name === 'db3')?.address).toBe('10.77.0.43');
    expect(hosts.filter((h) => h.role === 'db').map((h) => h.name)).toEqual(['db1', 'db2', 'db3']);
  });

  it('the largest lab (10 lb, 50 web, 50 app, 50 db) keeps every address unique, off .1 and the VIP, and every interface name within 15 characters', () => {
    const largest = planHosts({ lb: 10, web: 50, app: 50, db: 50, monitor: 0 }, subnet);
    const addresses = largest.map((h) => h.address);
    expect(new Set(addresses).size).toBe(160);
    expect(addresses).not.toContain(controllerAddress(subnet));
    expect(addresses).not.toContain(vipAddress(subnet));
    for (const h of largest) expect(h.hostInterface.length).toBeLessThanOrEqual(15);
    expect(hostInterfaceName('web10')).toBe('vb-ilab-web10');
    for (const h of planHosts({ lb: 10, web: 50, app: 50, db: 50, monitor: 0 }, subnet, labNaming('alab9'))) {
      expect(h.hostInterface.length).toBeLessThanOrEqual(15);
    }
  });

  it("the eleventh host of a role and beyond continue in that role's second range: web11 .111, app11 .151, db50 .230", () => {
    const hosts = planHosts({ lb: 2, web: 11, app: 11, db: 50, monitor: 0 }, subnet);
    expect(hosts.find((h) => h.name === 'web10')?.address).toBe('10.77.0.30');
    expect(hosts.find((h) => h.name === 'web11')?.address).toBe('10.77.0.111');
    expect(hosts.find((h) => h.name === 'app11')?.address).toBe('10.77.0.151');
    expect(hosts.find((h) => h.name === 'db50')?.address).toBe('10.77.0.230');
  });

  it('refuses counts it cannot place or that make no valid inventory', () => {
    expect(() => planHosts({ ...DEFAULT_COUNTS, lb: 11 }, subnet)).toThrow(UserError);
    expect(() => planHosts({ ...DEFAULT_COUNTS, web: 51 }, subnet)).toThrow(UserError);
    expect(() => planHosts({ ...DEFAULT_COUNTS, db: 0 }, subnet)).toThrow(/database primary/);
    expect(() => planHosts({ ...DEFAULT_COUNTS, lb: 1 }, subnet)).toThrow(/two lb hosts/);
    expect(() => planHosts({ ...DEFAULT_COUNTS, app: -1 }, subnet)).toThrow(UserError);
    expect(() => planHosts({ ...DEFAULT_COUNTS, app: 1.5 }, subnet)).toThrow(UserError);
    expect(planHosts({ lb: 0, web: 0, app: 0, db: 1, monitor: 0 }, subnet).map((h) => h.name)).toEqual(['db1']);
  });
});

describe('lab bastion (lab up --bastion)', () => {
  it('is bastion at .5, apart from every host of the largest lab, the controller and the VIP', () => {
    const bastion = planBastion(subnet);
    expect(bastion).toEqual({ name: 'bastion', address: '10.77.0.5', machine: 'ilab-bastion', hostInterface: 'vb-ilab-bastion' });
    const largest = planHosts({ lb: 10, web: 50, app: 50, db: 50, monitor: 2 }, subnet);
    expect(largest.map((h) => h.address)).not.toContain(bastion.address);
    expect(largest.map((h) => h.name)).not.toContain(bastion.name);
    expect([controllerAddress(subnet), vipAddress(subnet)]).not.toContain(bastion.address);
  });

  it('fits a lab name of 4 characters; a 5-character one would truncate its interface, and is refused naming INFRA_LAB_NAME', () => {
    expect(planBastion(subnet, labNaming('glab')).hostInterface).toBe('vb-glab-bastion');
    expect(() => planBastion(subnet, labNaming('alab9'))).toThrow(UserError);
    expect(() => planBastion(subnet, labNaming('alab9'))).toThrow(
      /vb-alab9-bastion would exceed Linux's 15 characters.*at most 4 characters \(INFRA_LAB_NAME\)/,
    );
  });

  it('lab status lists it after the hosts as the jump host, not as a role', () => {
    const host = { name: 'web1', address: '10.77.0.21', roles: ['web'], state: 'running' as const, machine: 'ilab-web1' };
    const bastion = { name: 'bastion', address: '10.77.0.5', roles: [], state: 'running' as const, machine: 'ilab-bastion' };
    const lines = formatStatus({ subnet: '10.77.0.0/24', release: DEFAULT_RELEASE, vip: null, hosts: [host], bastion }).split('\n');
    expect(lines[1]).toMatch(/^web1 +10\.77\.0\.21 +web +running +ilab-web1$/);
    expect(lines[2]).toMatch(/^bastion +10\.77\.0\.5 +\(jump host\) +running +ilab-bastion$/);
    expect(lines[4]).toContain('through the bastion');
    expect(formatStatus({ subnet: '10.77.0.0/24', release: DEFAULT_RELEASE, vip: null, hosts: [host], bastion: null })).not.toContain('bastion');
  });
});

describe('lab naming (INFRA_LAB_NAME)', () => {
  it('the default lab keeps bridge infra-br0 and machines ilab-*', () => {
    expect(namingFromEnv({})).toEqual({ bridge: 'infra-br0', machinePrefix: 'ilab-' });
    expect(planHosts(DEFAULT_COUNTS, subnet)[0]?.machine).toBe('ilab-lb1');
  });

  it('a named lab has its own bridge, machine names and veths, so two labs run side by side', () => {
    const naming = namingFromEnv({ INFRA_LAB_NAME: 'alab' });
    expect(naming).toEqual({ bridge: 'alab-br0', machinePrefix: 'alab-' });
    const [lb1] = planHosts(DEFAULT_COUNTS, subnet, naming);
    expect(lb1).toMatchObject({ machine: 'alab-lb1', hostInterface: 'vb-alab-lb1' });
  });

  it('refuses a name that is too long or not a plain word, naming the variable to fix', () => {
    expect(() => labNaming('toolong')).toThrow(/1 to 5 lowercase.*INFRA_LAB_NAME/);
    expect(() => labNaming('a-b')).toThrow(UserError);
    expect(() => labNaming('1ab')).toThrow(UserError);
  });
});

describe('lab subnet', () => {
  it('is a /24 given as its network address; the controller is .1 and the VIP .100', () => {
    const s = parseSubnet('192.168.50.0/24');
    expect(s.prefix).toBe('192.168.50');
    expect(controllerAddress(s)).toBe('192.168.50.1');
    expect(vipAddress(s)).toBe('192.168.50.100');
  });

  it('rejects anything else with a message naming INFRA_LAB_SUBNET', () => {
    for (const bad of ['10.77.0.0/16', '10.77.0.5/24', '10.77.0/24', '300.1.1.0/24', 'lab']) {
      expect(() => parseSubnet(bad), bad).toThrow(/INFRA_LAB_SUBNET/);
    }
  });

  it('defaults to 10.77.0.0/24 and follows INFRA_LAB_SUBNET', () => {
    expect(subnetFromEnv({}).cidr).toBe('10.77.0.0/24');
    expect(subnetFromEnv({ INFRA_LAB_SUBNET: '10.78.0.0/24' }).cidr).toBe('10.78.0.0/24');
  });

  it('finds overlapping networks (how an address or route on another interface is caught)', () => {
    expect(cidrsOverlap('10.77.0.5/32', '10.77.0.0/24')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/8', '10.77.0.0/24')).toBe(true);
    expect(cidrsOverlap('10.77.1.0/24', '10.77.0.0/24')).toBe(false);
    expect(cidrsOverlap('192.0.2.2/24', '10.77.0.0/24')).toBe(false);
  });
});

describe('lab dir', () => {
  it('defaults to /var/lib/infra-lab and follows INFRA_LAB_DIR', () => {
    expect(labDirFromEnv({})).toBe('/var/lib/infra-lab');
    expect(labDirFromEnv({ INFRA_LAB_DIR: '/srv/lab' })).toBe('/srv/lab');
  });

  it('refuses a relative path or one overlayfs options cannot hold', () => {
    expect(() => labDirFromEnv({ INFRA_LAB_DIR: 'lab' })).toThrow(/absolute/);
    expect(() => labDirFromEnv({ INFRA_LAB_DIR: '/srv/a,b' })).toThrow(/comma/);
    expect(() => labDirFromEnv({ INFRA_LAB_DIR: '/srv/a:b' })).toThrow(/colon/);
  });
});

describe('lab inventory files', () => {
  const hosts = planHosts(DEFAULT_COUNTS, subnet);

  it('the root inventory has the lab VIP, controller-only admin and monitoring sources, db1 primary, key and known_hosts', () => {
    const text = renderLabInventory({ subnet, hosts, login: 'root', bridge: 'infra-br0' });
    expect(text.startsWith('# Written by `infra lab up`')).toBe(true);
    const inv = parse(text) as Record<string, any>;
    expect(inv.domain).toBe('www.foobar.com');
    expect(inv.vip).toBe('10.77.0.100');
    expect(inv.vip_prefix).toBe(24);
    expect(inv.ssh).toEqual({ user: 'root', port: 22, identity_file: './id_ed25519', known_hosts: './known_hosts', connect_timeout: 10 });
    expect(inv.firewall.admin_sources).toEqual(['10.77.0.1/32']);
    expect(inv.monitoring.sources).toEqual(['10.77.0.1/32']);
    expect(inv.tls.source).toBe('ca');
    expect(inv.db).toMatchObject({ primary: 'db1', replicas: ['db2'], password: 'generate', replication_password: 'generate' });
    expect(inv.app).toEqual({ source: '../examples/app', port: 8000 });
    expect(Object.keys(inv.hosts)).toEqual(['lb1', 'lb2', 'web1', 'web2', 'app1', 'app2', 'db1', 'db2']);
    expect(inv.hosts.web2).toEqual({ address: '10.77.0.22', roles: ['web'] });
  });

  it('the sudo inventory logs in as ops with the password from ./ops-password, all else equal', () => {
    const root = parse(renderLabInventory({ subnet, hosts, login: 'root', bridge: 'infra-br0' })) as Record<string, any>;
    const sudo = parse(renderLabInventory({ subnet, hosts, login: 'ops', bridge: 'infra-br0' })) as Record<string, any>;
    expect(sudo.ssh).toMatchObject({ user: 'ops', sudo: { password: 'file:./ops-password' }, identity_file: './id_ed25519' });
    expect({ ...sudo, ssh: undefined }).toEqual({ ...root, ssh: undefined });
  });

  it("keeps the state encrypted to the lab key's public line, in infra-state.age beside the inventory", () => {
    const recipient = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3CVn5cqQ0DKHnSKjQbYzEmhWZ1V0I8v8JuaYbJ7pXk infra-lab\n';
    const inv = parse(renderLabInventory({ subnet, hosts, login: 'root', bridge: 'infra-br0', stateRecipient: recipient })) as Record<string, any>;
    expect(inv.state).toEqual({ file: 'infra-state.age', recipients: [recipient.trim()] });
  });

  it('with a bastion, both inventories reach every host through it as root and allow SSH from it only; monitoring stays with the controller', () => {
    const bastion = planBastion(subnet).address;
    const plain = parse(renderLabInventory({ subnet, hosts, login: 'root', bridge: 'infra-br0' })) as Record<string, any>;
    for (const login of ['root', 'ops'] as const) {
      const inv = parse(renderLabInventory({ subnet, hosts, login, bridge: 'infra-br0', bastion })) as Record<string, any>;
      expect(inv.ssh.jump).toBe('root@10.77.0.5');
      expect(inv.firewall.admin_sources).toEqual(['10.77.0.5/32']);
      expect(inv.monitoring.sources).toEqual(['10.77.0.1/32']);
      expect(inv.hosts).toEqual(plain.hosts);
    }
    expect(plain.ssh.jump).toBeUndefined();
  });

  it('db replicas are every db host but the first; no VIP without an lb pair', () => {
    const inv = parse(
      renderLabInventory({ subnet, hosts: planHosts({ lb: 0, web: 1, app: 1, db: 3, monitor: 0 }, subnet), login: 'root', bridge: 'infra-br0' }),
    ) as Record<string, any>;
    expect(inv.db.primary).toBe('db1');
    expect(inv.db.replicas).toEqual(['db2', 'db3']);
    expect(inv.vip).toBeUndefined();
  });

  it('known_hosts has one line per host key, keyed by address, without the key comment', () => {
    const key = parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample root@ctl\n');
    const text = renderKnownHosts([
      { address: '10.77.0.11', keys: [key, { type: 'ecdsa-sha2-nistp256', base64: 'AAAAE2' }] },
      { address: '10.77.0.12', keys: [key] },
    ]);
    expect(text).toBe(
      '10.77.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample\n' +
        '10.77.0.11 ecdsa-sha2-nistp256 AAAAE2\n' +
        '10.77.0.12 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample\n',
    );
  });
});

describe('host identity helpers', () => {
  it('sets only the named user hash in /etc/shadow', () => {
    const shadow = 'root:*:19000:0:99999:7:::\nops:!:19000:0:99999:7:::\n';
    expect(setShadowHash(shadow, 'ops', '$6$salt$hash')).toBe('root:*:19000:0:99999:7:::\nops:$6$salt$hash:19000:0:99999:7:::\n');
    expect(() => setShadowHash(shadow, 'nobody', 'x')).toThrow(/nobody/);
  });

  it('reads mount points from mountinfo, decoding escaped spaces', () => {
    const info =
      '22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n' +
      '90 22 0:50 / /var/lib/infra-lab/hosts/web1/root rw - overlay overlay rw,lowerdir=x\n' +
      '91 22 0:51 / /mnt/with\\040space rw - tmpfs tmpfs rw\n';
    expect(parseMountPoints(info)).toEqual(['/', '/var/lib/infra-lab/hosts/web1/root', '/mnt/with space']);
  });

  it('boots a host on the lab bridge with the repo read-only, unregistered (the controller PID 1 is not systemd)', () => {
    const paths = labPaths('/var/lib/infra-lab');
    const [host] = planHosts(DEFAULT_COUNTS, subnet);
    const args = nspawnArgs({ host: host!, hp: hostPaths(paths, 'lb1'), repoDir: paths.repo, bridge: 'infra-br0' });
    expect(args).toEqual(
      expect.arrayContaining([
        '--boot',
        '--directory=/var/lib/infra-lab/hosts/lb1/root',
        '--machine=ilab-lb1',
        '--register=no',
        '--keep-unit',
        '--network-bridge=infra-br0',
        '--bind-ro=/var/lib/infra-lab/repo:/srv/infra-repo',
      ]),
    );
  });
});

describe('lab repository freshness', () => {
  it('is keyed by the package list (in any order) and the base it was resolved against', () => {
    const h = repoHash(['nginx', 'ufw'], 'base-1');
    expect(repoHash(['ufw', 'nginx', 'ufw'], 'base-1')).toBe(h);
    expect(repoHash(['nginx', 'ufw', 'curl'], 'base-1')).not.toBe(h);
    expect(repoHash(['nginx', 'ufw'], 'base-2')).not.toBe(h);
  });
});

describe('lab subnet already in use on this machine', () => {
  const eth0 = { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.0.2.2', prefixlen: 24 }] };

  it('is free when only other networks and the lab itself (bridge, host veths) are there', () => {
    const bridge = { ifname: 'infra-br0', addr_info: [{ family: 'inet', local: '10.77.0.1', prefixlen: 24 }] };
    const routes = [
      { dst: 'default', dev: 'eth0' },
      { dst: '192.0.2.0/24', dev: 'eth0' },
      { dst: '10.77.0.0/24', dev: 'infra-br0' },
    ];
    expect(findSubnetConflict(subnet, [eth0, bridge, { ifname: 'vb-ilab-web1' }], routes, 'infra-br0')).toBeUndefined();
  });

  it('names the interface holding an address in it', () => {
    const vpn = { ifname: 'wg0', addr_info: [{ family: 'inet', local: '10.77.0.9', prefixlen: 24 }] };
    expect(findSubnetConflict(subnet, [eth0, vpn], [], 'infra-br0')).toBe('wg0 has 10.77.0.9/24');
  });

  it('names a route to it through another interface', () => {
    expect(findSubnetConflict(subnet, [eth0], [{ dst: '10.0.0.0/8', dev: 'eth0' }], 'infra-br0')).toBe('a route to 10.0.0.0/8 goes via eth0');
  });
});
