import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory, MAX_INVENTORY_BYTES, MAX_INVENTORY_SCALARS, parseInventory, type LoadResult } from '../../src/inventory/load.js';
import { formatIssue } from '../../src/inventory/model.js';
import { KNOWN_VARS, varProblem } from '../../src/inventory/vars.js';
import { dbFlavor } from '../../src/roles/db.js';

/**
 * What `infra validate` refuses beyond the shape of each key: values the roles would refuse at
 * render time, addresses no host can hold, two services on one port of a host, files too large or
 * not UTF-8; and what it only warns about: sources open to the whole internet.
 */

const FILE = '/srv/site/inventory.yaml';

/** Strips the indentation of a template literal so that line and column numbers read as written. */
function yaml(text: TemplateStringsArray, ...values: unknown[]): string {
  const joined = text.reduce((out, part, index) => out + part + (index < values.length ? String(values[index]) : ''), '');
  const lines = joined.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim()).map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}

function formatted(result: LoadResult): { issues: string[]; warnings: string[] } {
  return {
    issues: result.ok ? [] : result.issues.map((issue) => formatIssue(issue, 'inventory.yaml')),
    warnings: result.warnings.map((warning) => formatIssue(warning, 'inventory.yaml', 'warning')),
  };
}

function issues(text: string): string[] {
  return formatted(parseInventory(text, FILE)).issues;
}

/**
 * lines 1-9 are always these; the hosts start on line 10:
 * lb1 10.0.0.11 and lb2 10.0.0.12 (lb), web1 10.0.0.21 (web, app), db1 10.0.0.41 (db); vip 10.0.0.100/24.
 */
function stack(options: { top?: string; vip?: string; hosts?: Record<string, string> } = {}): string {
  const hosts = {
    lb1: '{address: 10.0.0.11, roles: [lb]}',
    lb2: '{address: 10.0.0.12, roles: [lb]}',
    web1: '{address: 10.0.0.21, roles: [web, app]}',
    db1: '{address: 10.0.0.41, roles: [db]}',
    ...options.hosts,
  };
  return [
    'domain: www.example.com',
    `vip: ${options.vip ?? '10.0.0.100'}`,
    'firewall: {admin_sources: [10.0.0.1/32]}',
    'db: {primary: db1}',
    'app: {source: ./app}',
    ...[...(options.top ?? '').split('\n'), '#', '#', '#'].slice(0, 3),
    'hosts:',
    ...Object.entries(hosts).map(([name, body]) => `  ${name}: ${body}`),
    '',
  ].join('\n');
}

describe('the vars the roles read are checked wherever they are written', () => {
  it('the base inventory is valid', () => {
    expect(issues(stack())).toEqual([]);
  });

  it('vrrp_interface with a newline, vrrp_router_id 300, os_family centos, and the two db durations out of range', () => {
    const text = yaml`
      domain: www.example.com
      vip: 10.0.0.100
      firewall: {admin_sources: [10.0.0.1/32]}
      db: {primary: db1}
      app: {source: ./app}
      vars: {replication_max_lag_seconds: -1}
      role_vars:
        lb: {vrrp_interface: "eth0\\nx", vrrp_router_id: 300}
      groups: {databases: {hosts: [db1], vars: {switchover_catch_up_seconds: "30"}}}
      hosts:
        lb1: {address: 10.0.0.11, roles: [lb]}
        lb2: {address: 10.0.0.12, roles: [lb]}
        web1: {address: 10.0.0.21, roles: [web, app]}
        db1: {address: 10.0.0.41, roles: [db], vars: {os_family: centos}}
    `;
    expect(issues(text)).toEqual([
      'inventory.yaml:6:37 vars.replication_max_lag_seconds: var replication_max_lag_seconds must be an integer from 0 to 86400, ' +
        'the replica lag in seconds that infra check still accepts (read by db hosts); got -1',
      'inventory.yaml:8:24 role_vars.lb.vrrp_interface: var vrrp_interface must be an interface name such as eth0 or ens18 ' +
        '(letters, digits, _ . : -, at most 15 characters) (read by lb hosts); got "eth0\\nx"',
      'inventory.yaml:8:51 role_vars.lb.vrrp_router_id: var vrrp_router_id must be an integer from 1 to 255, ' +
        'the VRRP group id, the same on every lb host (read by lb hosts); got 300',
      'inventory.yaml:9:72 groups.databases.vars.switchover_catch_up_seconds: var switchover_catch_up_seconds must be an integer ' +
        'from 1 to 3600, how long a switchover waits for the new primary to catch up (read by db hosts); got "30"',
      'inventory.yaml:14:60 hosts.db1.vars.os_family: var os_family must be debian (MariaDB) or ubuntu (MySQL 8) (read by db hosts); got "centos"',
    ]);
  });

  it('vrrp_router_id must be one value across the lb hosts, however it is layered', () => {
    expect(
      issues(stack({ top: 'role_vars: {lb: {vrrp_router_id: 51}}', hosts: { lb2: '{address: 10.0.0.12, roles: [lb], vars: {vrrp_router_id: 52}}' } })),
    ).toEqual([
      'inventory.yaml:11:65 hosts.lb2.vars.vrrp_router_id: vrrp_router_id differs between the lb hosts (51 on lb1, 52 on lb2): they hold the VIP as one ' +
        'VRRP group, which needs one id; set it once, in role_vars.lb',
    ]);
    // lb1 alone sets it; lb2 keeps the default 51.
    expect(issues(stack({ hosts: { lb1: '{address: 10.0.0.11, roles: [lb], vars: {vrrp_router_id: 60}}' } }))).toEqual([
      'inventory.yaml:10:65 hosts.lb1.vars.vrrp_router_id: vrrp_router_id differs between the lb hosts (60 on lb1, 51 on lb2): they hold the VIP as one ' +
        'VRRP group, which needs one id; set it once, in role_vars.lb',
    ]);
    expect(issues(stack({ top: 'role_vars: {lb: {vrrp_router_id: 60}}' }))).toEqual([]);
  });

  it('leaves vars the roles do not read alone (custom templates may read them)', () => {
    expect(issues(stack({ top: 'vars: {vrrp_router: 300, anything: [1, 2]}' }))).toEqual([]);
  });

  it('the roles read the same table: a value validate refuses, the role refuses with the same words', () => {
    const host = { name: 'db1', address: '10.0.0.41', roles: ['db' as const], vars: { os_family: 'centos' }, groups: [], ssh: {} as never };
    expect(() => dbFlavor(host)).toThrow(`db1: ${varProblem('os_family', 'centos')}`);
    expect(dbFlavor({ ...host, vars: {} }).kind).toBe(KNOWN_VARS.os_family.fallback === 'debian' ? 'mariadb' : 'mysql');
  });
});

describe('addresses no host can hold', () => {
  it('0.0.0.0 and loopback as host addresses', () => {
    expect(issues(stack({ hosts: { web1: '{address: 0.0.0.0, roles: [web, app]}', db1: '{address: 127.0.0.1, roles: [db]}' } }))).toEqual([
      'inventory.yaml:12:19 hosts.web1.address: 0.0.0.0 is "this network" (0.0.0.0/8): a service told to listen on it listens on every address; ' +
        'write the address the controller reaches web1 at, e.g. 10.0.0.11',
      'inventory.yaml:13:18 hosts.db1.address: 127.0.0.1 is loopback (127.0.0.0/8): every host is that address to itself, and infra would ' +
        'reach the controller; write the address the controller reaches db1 at, e.g. 10.0.0.11',
    ]);
  });

  it('the network or broadcast address of the VIP subnet as a host address', () => {
    expect(issues(stack({ hosts: { web1: '{address: 10.0.0.0, roles: [web, app]}', db1: '{address: 10.0.0.255, roles: [db]}' } }))).toEqual([
      'inventory.yaml:12:19 hosts.web1.address: 10.0.0.0 is the network address of the VIP subnet 10.0.0.0/24 (vip_prefix 24), ' +
        'which no host can hold; use an address from 10.0.0.1 to 10.0.0.254',
      'inventory.yaml:13:18 hosts.db1.address: 10.0.0.255 is the broadcast address of the VIP subnet 10.0.0.0/24 (vip_prefix 24), ' +
        'which no host can hold; use an address from 10.0.0.1 to 10.0.0.254',
    ]);
  });

  it('a VIP equal to the network or broadcast address of its subnet, per vip_prefix', () => {
    expect(issues(stack({ vip: '10.0.0.0' }))).toEqual([
      'inventory.yaml:2:6 vip: vip 10.0.0.0 is the network address of the VIP subnet 10.0.0.0/24 (vip_prefix 24), which no host can hold; ' +
        'choose an unused address from 10.0.0.1 to 10.0.0.254',
    ]);
    expect(issues(stack({ vip: '10.0.0.15', top: 'vip_prefix: 29' }))).toEqual([
      'inventory.yaml:2:6 vip: vip 10.0.0.15 is the broadcast address of the VIP subnet 10.0.0.8/29 (vip_prefix 29), which no host can hold; ' +
        'choose an unused address from 10.0.0.9 to 10.0.0.14',
    ]);
    expect(issues(stack({ vip: '10.0.0.14', top: 'vip_prefix: 29' }))).toEqual([]);
  });

  it('outside the VIP subnet the same last octet is an ordinary address', () => {
    expect(issues(stack({ hosts: { db1: '{address: 10.0.1.0, roles: [db]}' } }))).toEqual([]);
    expect(issues(stack({ vip: '10.0.0.100', top: 'vip_prefix: 16', hosts: { db1: '{address: 10.0.1.255, roles: [db]}' } }))).toEqual([]);
  });
});

describe('as many lb hosts as keepalived priorities allow', () => {
  const lbHosts = (count: number): Record<string, string> =>
    Object.fromEntries(Array.from({ length: count }, (_, index) => [`lb${index + 1}`, `{address: 10.0.0.${index + 150}, roles: [lb]}`]));

  it('19 hold a VIP; a 20th is refused at its role', () => {
    expect(issues(stack({ hosts: lbHosts(19) }))).toEqual([]);
    // lb1 and lb2 keep lines 10 and 11, web1 and db1 follow, then lb3 … lb20 on lines 14 … 31.
    expect(issues(stack({ hosts: lbHosts(20) }))).toEqual([
      'inventory.yaml:31:39 hosts.lb20.roles[0]: a VIP is held by at most 19 lb hosts (keepalived priorities from 200 down by 10), ' +
        'and lb20 is lb host number 20; give the role lb to fewer hosts',
    ]);
  });
});

describe('two services on one port of a host', () => {
  it('app.port 22 (sshd) and 9100 (the node exporter on every host)', () => {
    const on = (port: number) => yaml`
      domain: www.example.com
      firewall: {admin_sources: [10.0.0.1/32]}
      db: {primary: db1}
      app: {source: ./app, port: ${port}}
      hosts:
        web1: {address: 10.0.0.21, roles: [web, app]}
        web2: {address: 10.0.0.22, roles: [web, app]}
        db1: {address: 10.0.0.41, roles: [db]}
    `;
    expect(issues(on(22))).toEqual(['inventory.yaml:4:28 app.port: app.port 22 is also the port of sshd on web1, web2; choose another app.port']);
    expect(issues(on(9100))).toEqual([
      'inventory.yaml:4:28 app.port: app.port 9100 is also the port of the node exporter (on every host) on web1, web2; choose another app.port',
    ]);
    expect(issues(on(443))).toEqual(['inventory.yaml:4:28 app.port: app.port 443 is also the port of nginx (https) on web1, web2; choose another app.port']);
    expect(issues(on(9113))).toEqual([
      'inventory.yaml:4:28 app.port: app.port 9113 is also the port of the nginx exporter on web1, web2; choose another app.port',
    ]);
    expect(issues(on(8080))).toEqual([]);
  });

  it('app.port 3306 only where an app host is also a db host', () => {
    const text = yaml`
      domain: www.example.com
      firewall: {admin_sources: [10.0.0.1/32]}
      db: {primary: db1}
      app: {source: ./app, port: 3306}
      hosts:
        web1: {address: 10.0.0.21, roles: [web, app]}
        db1: {address: 10.0.0.41, roles: [app, db]}
    `;
    expect(issues(text)).toEqual(['inventory.yaml:4:28 app.port: app.port 3306 is also the port of the database server on db1; choose another app.port']);
  });

  it("an lb host's ssh.port 443 or 80, and the global ssh.port 8404", () => {
    expect(
      issues(stack({ hosts: { lb1: '{address: 10.0.0.11, roles: [lb], ssh: {port: 443}}', lb2: '{address: 10.0.0.12, roles: [lb], ssh: {port: 80}}' } })),
    ).toEqual([
      'inventory.yaml:10:54 hosts.lb1.ssh.port: ssh.port 443 is also the port of haproxy (https, on every address) on lb1; choose another ssh.port',
      'inventory.yaml:11:54 hosts.lb2.ssh.port: ssh.port 80 is also the port of haproxy (http, on every address) on lb2; choose another ssh.port',
    ]);
    expect(issues(stack({ top: 'ssh: {port: 8404}' }))).toEqual([
      'inventory.yaml:6:13 ssh.port: ssh.port 8404 is also the port of the haproxy metrics on lb1, lb2; choose another ssh.port',
    ]);
  });

  it('lb and web on one host: haproxy and nginx both want 443', () => {
    expect(issues(stack({ hosts: { lb2: '{address: 10.0.0.12, roles: [lb, web]}' } }))).toEqual([
      'inventory.yaml:11:41 hosts.lb2.roles[1]: roles lb and web both listen on port 443 (haproxy (https, on every address); nginx (https)) on lb2; ' +
        'put them on different hosts',
    ]);
  });
});

describe('sources open to the whole internet: a warning, not an error', () => {
  it('admin_sources 0.0.0.0/0 without a monitoring block opens SSH and every exporter', () => {
    const text = stack().replace('admin_sources: [10.0.0.1/32]', 'admin_sources: [10.0.0.1/32, 0.0.0.0/0]');
    const result = parseInventory(text, FILE);
    expect(result.ok).toBe(true);
    expect(formatted(result).warnings).toEqual([
      'inventory.yaml:3:41 firewall.admin_sources[1]: warning: 0.0.0.0/0 lets every address on the internet reach SSH and, since there is ' +
        'no monitoring block, the node exporter (9100) and the haproxy, nginx, mtail and mysqld exporters (8404, 9113, 3903, 9104); ' +
        'list the networks you administer from instead, e.g. 203.0.113.0/24',
    ]);
  });

  it('monitoring sources 0.0.0.0/0', () => {
    const result = parseInventory(stack({ top: 'monitoring: {sources: [0.0.0.0/0]}' }), FILE);
    expect(result.ok).toBe(true);
    expect(formatted(result).warnings).toEqual([
      'inventory.yaml:6:24 monitoring.sources[0]: warning: 0.0.0.0/0 lets every address on the internet reach the node exporter (9100) and ' +
        'the haproxy, nginx, mtail and mysqld exporters (8404, 9113, 3903, 9104), which describe the hosts and the database; ' +
        'list your Prometheus servers instead, e.g. 10.0.0.5/32',
    ]);
  });

  it('comes with the errors when the inventory is invalid too, and not for narrower sources', () => {
    const result = parseInventory(stack({ top: 'monitoring: {sources: [0.0.0.0/0]}', vip: '10.0.0.0' }), FILE);
    expect(formatted(result).issues).toHaveLength(1);
    expect(formatted(result).warnings).toHaveLength(1);
    expect(parseInventory(stack({ top: 'monitoring: {sources: [0.0.0.0/1, 10.0.0.0/8]}' }), FILE).warnings).toEqual([]);
  });
});

describe('files too large to be an inventory', () => {
  it(`more than ${MAX_INVENTORY_BYTES} bytes, refused before parsing`, () => {
    const text = stack() + `# ${'x'.repeat(MAX_INVENTORY_BYTES)}\n`;
    const started = performance.now();
    expect(issues(text)).toEqual([
      'inventory.yaml:1:1 the inventory is 513 KB, more than the 512 KB infra reads (a thousand hosts take far less): ' +
        'check that this is the right file, or move bulk data out of vars',
    ]);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it(`more than ${MAX_INVENTORY_SCALARS} keys and values within the size, located where the limit is passed`, () => {
    const text = stack({ top: `vars: {x: [${Array.from({ length: MAX_INVENTORY_SCALARS }, () => '1').join(',')}]}` });
    // 13 scalars on lines 1-5 (domain, www.example.com, vip, 10.0.0.100, …, ./app), then vars and x: the
    // 50,001st is item 49,986 of the list, which starts at column 12 and takes 2 columns an item.
    const column = 12 + 2 * (MAX_INVENTORY_SCALARS + 1 - 15 - 1);
    const started = performance.now();
    expect(issues(text)).toEqual([
      `inventory.yaml:6:${column} the inventory holds more than 50,000 keys and values (the limit is reached here); ` +
        'no fleet needs that many: check that this is the right file, or move bulk data out of vars',
    ]);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('encodings, named', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infra-encoding-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function load(name: string, bytes: Buffer): Promise<string[]> {
    const file = join(dir, name);
    await writeFile(file, bytes);
    return formatted(await loadInventory(file)).issues.map((issue) => issue.replace(file, 'inventory.yaml'));
  }

  const text = stack();
  const utf16be = (value: string): Buffer => Buffer.from(value, 'utf16le').swap16();

  it('UTF-16 with a byte order mark, either byte order', async () => {
    expect(await load('le-bom.yaml', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]))).toEqual([
      'inventory.yaml:1:1 the file is UTF-16 (little-endian, with a byte order mark); save it as UTF-8',
    ]);
    expect(await load('be-bom.yaml', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)]))).toEqual([
      'inventory.yaml:1:1 the file is UTF-16 (big-endian, with a byte order mark); save it as UTF-8',
    ]);
  });

  it('UTF-16 without a byte order mark, either byte order', async () => {
    expect(await load('le.yaml', Buffer.from(text, 'utf16le'))).toEqual([
      'inventory.yaml:1:1 the file is UTF-16 (little-endian, without a byte order mark); save it as UTF-8',
    ]);
    expect(await load('be.yaml', utf16be(text))).toEqual(['inventory.yaml:1:1 the file is UTF-16 (big-endian, without a byte order mark); save it as UTF-8']);
  });

  it('Latin-1 text: the first byte that is not UTF-8, at its line and column', async () => {
    const latin1 = Buffer.from(stack({ top: '# Réseau du siège' }), 'latin1');
    expect(await load('latin1.yaml', latin1)).toEqual([
      'inventory.yaml:6:4 the file is not UTF-8: byte 0xE9 here is not valid UTF-8 (a Latin-1 or Windows-1252 file?); save it as UTF-8',
    ]);
  });

  it('a NUL byte: binary, not YAML', async () => {
    expect(await load('nul.yaml', Buffer.from('domain: www.example.com\nx: a\0b\n'))).toEqual([
      'inventory.yaml:2:5 the file holds a NUL byte, so it is binary rather than YAML text; check that this is the inventory, saved as UTF-8',
    ]);
  });

  it('UTF-8, with or without a byte order mark, and with U+FFFD written in it, is read', async () => {
    const withReplacement = stack({ top: '# \uFFFD stays' });
    expect(await load('utf8.yaml', Buffer.from(withReplacement, 'utf8'))).toEqual([]);
    expect(await load('utf8-bom.yaml', Buffer.from(`\uFEFF${text}`, 'utf8'))).toEqual([]);
  });

  it('a device that never ends is read no further than the limit', async () => {
    expect(formatted(await loadInventory('/dev/zero')).issues).toEqual([
      'inventory.yaml:1:1 the inventory holds more than the 512 KB infra reads (a thousand hosts take far less): ' +
        'check that this is the right file, or move bulk data out of vars',
    ]);
  });

  it('a file over the size limit is refused without being read', async () => {
    const big = Buffer.alloc(MAX_INVENTORY_BYTES * 10, 0x20);
    expect(await load('big.yaml', big)).toEqual([
      'inventory.yaml:1:1 the inventory is 5.0 MB, more than the 512 KB infra reads (a thousand hosts take far less): ' +
        'check that this is the right file, or move bulk data out of vars',
    ]);
  });
});
