import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';
import { formatIssue, type Inventory } from '../../src/inventory/model.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const FIXTURES = join(ROOT, 'test/fixtures/inventories');
const FILE = '/srv/site/inventory.yaml';

/** Strips the indentation of a template literal so that line and column numbers read as written. */
function yaml(text: TemplateStringsArray): string {
  const lines = text.join('').replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim()).map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}

/** The issues of an inventory, formatted as `infra validate` prints them. */
function issues(text: string): string[] {
  const result = parseInventory(text, FILE);
  return result.ok ? [] : result.issues.map((issue) => formatIssue(issue, 'inventory.yaml'));
}

function valid(text: string): Inventory {
  const result = parseInventory(text, FILE);
  if (!result.ok) throw new Error(result.issues.map((issue) => formatIssue(issue)).join('\n'));
  return result.inventory;
}

describe('loadInventory', () => {
  it('accepts the example inventory', async () => {
    const result = await loadInventory(join(ROOT, 'inventory.example.yaml'));
    expect(result.ok ? [] : result.issues.map((issue) => formatIssue(issue))).toEqual([]);
    if (!result.ok) return;
    const { inventory } = result;
    expect(inventory.hosts.map((host) => `${host.name}:${host.roles.join('+')}`)).toEqual([
      'lb1:lb',
      'lb2:lb',
      'web1:web',
      'web2:web',
      'app1:app',
      'app2:app',
      'db1:db',
      'db2:db',
    ]);
    expect(inventory.vip).toBe('10.0.0.100');
    expect(inventory.db).toMatchObject({ primary: 'db1', replicas: ['db2'], name: 'app', user: 'app' });
    expect(inventory.db.password).toEqual({ kind: 'generate', id: 'db.password' });
    expect(inventory.groups).toEqual({ frontends: ['lb1', 'lb2'] });
    expect(inventory.app.source).toBe(join(ROOT, 'examples/app'));
  });

  it('applies the defaults to a minimal inventory and resolves paths against its folder and HOME', async () => {
    const result = await loadInventory(join(FIXTURES, 'minimal.yaml'));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { inventory } = result;
    const home = process.env.HOME!;
    expect(inventory.stateDir).toBe(join(FIXTURES, '.infra'));
    expect(inventory.vipPrefix).toBe(24);
    expect(inventory.vip).toBeUndefined();
    expect(inventory.tls).toEqual({ kind: 'ca', keyType: 'ecdsa-p256', days: 90 });
    expect(inventory.db).toEqual({
      primary: 'db1',
      replicas: [],
      name: 'app',
      user: 'app',
      password: { kind: 'generate', id: 'db.password' },
      replicationPassword: { kind: 'generate', id: 'db.replication_password' },
      extraAccounts: [],
    });
    expect(inventory.firewall.extraRules).toEqual([]);
    expect(inventory.extraFiles).toEqual([]);
    expect(inventory.app).toEqual({ source: join(FIXTURES, 'app'), port: 8000, keepReleases: 5 });
    expect(inventory.monitoring.sources).toEqual(['10.0.0.1/32']);
    // No key file named: a run uses the ssh-agent, or ~/.ssh/id_ed25519 without one (credentialsFor).
    expect(inventory.hosts[0]!.ssh).toEqual({
      hostName: '10.0.0.21',
      user: 'root',
      port: 22,
      defaulted: ['user', 'port'],
      configFile: join(home, '.ssh/config'),
      configFileNamed: false,
      hostKey: { knownHostsFile: join(home, '.ssh/known_hosts') },
      connectTimeout: 10,
    });
  });

  it('lays a host ssh block over the global one key by key, with a pinned host key', () => {
    const inventory = valid(yaml`
      domain: www.example.com
      ssh:
        user: deploy
        port: 2222
        sudo: {}
        known_hosts: ./known_hosts
      firewall: {admin_sources: [10.0.0.1/32]}
      db: {primary: db1, password: env:DB_PASSWORD, replication_password: file:~/secrets/repl}
      app: {source: /opt/app}
      tls: {source: files, cert_file: tls/cert.pem, key_file: /etc/tls/key.pem}
      hosts:
        web1:
          address: 10.0.0.21
          roles: [web, app]
          ssh:
            port: 22
            sudo: {password: file:sudo.txt}
            host_key: SHA256:Qm9ndXNGaW5nZXJwcmludEV4YW1wbGVPbmx5AAAAAAA
        db1: {address: 10.0.0.41, roles: [db], ssh: {user: root}}
    `);
    const [web1, db1] = inventory.hosts;
    expect(web1!.ssh).toEqual({
      hostName: '10.0.0.21',
      user: 'deploy',
      port: 22,
      defaulted: [],
      configFile: join(process.env.HOME!, '.ssh/config'),
      configFileNamed: false,
      hostKey: {
        knownHostsFile: '/srv/site/known_hosts',
        fingerprint: 'SHA256:Qm9ndXNGaW5nZXJwcmludEV4YW1wbGVPbmx5AAAAAAA',
      },
      connectTimeout: 10,
      sudo: { password: { kind: 'file', path: '/srv/site/sudo.txt', key: 'hosts.web1.ssh.sudo.password' } },
    });
    expect(db1!.ssh).toMatchObject({ user: 'root', port: 2222 });
    expect(db1!.ssh.sudo).toBeUndefined();
    expect(inventory.db.password).toEqual({ kind: 'env', name: 'DB_PASSWORD', key: 'db.password' });
    expect(inventory.db.replicationPassword).toEqual({
      kind: 'file',
      path: join(process.env.HOME!, 'secrets/repl'),
      key: 'db.replication_password',
    });
    expect(inventory.tls).toEqual({ kind: 'files', certFile: '/srv/site/tls/cert.pem', keyFile: '/etc/tls/key.pem' });
  });

  it('layers vars: vars < role_vars in role order < groups in file order < host vars (shallow)', () => {
    const inventory = valid(yaml`
      domain: www.example.com
      firewall: {admin_sources: [10.0.0.1/32]}
      db: {primary: both}
      app: {source: ./app}
      vars: {layer: global, from_global: 1, nested: {a: 1, b: 1}}
      role_vars:
        db: {layer: role db, from_db: 1}
        app: {layer: role app, from_app: 1, nested: {a: 2}}
      groups:
        second: {hosts: [both], vars: {layer: group second}}
        first: {hosts: [both], vars: {layer: group first, from_group: 1}}
      hosts:
        both: {address: 10.0.0.21, roles: [db, web, app]}
        plain: {address: 10.0.0.22, roles: [web], vars: {layer: host}}
    `);
    const [both, plain] = inventory.hosts;
    // app comes before db in role order whatever the host lists first; "first" is later in the file.
    expect(both!.vars).toEqual({
      layer: 'group first',
      from_global: 1,
      from_app: 1,
      from_db: 1,
      from_group: 1,
      nested: { a: 2 },
    });
    expect(both!.groups).toEqual(['second', 'first']);
    expect(plain!.vars).toEqual({ layer: 'host', from_global: 1, nested: { a: 1, b: 1 } });
    expect(plain!.groups).toEqual([]);
  });

  it('reports a file that cannot be read at line 1 column 1', async () => {
    const missing = join(FIXTURES, 'no-such-inventory.yaml');
    expect(await loadInventory(missing)).toEqual({
      ok: false,
      issues: [{ file: missing, line: 1, column: 1, path: '', message: 'cannot read the inventory: no such file' }],
      warnings: [],
    });
    const result = await loadInventory(FIXTURES);
    expect(result.ok ? [] : result.issues.map((issue) => issue.message)).toEqual(['cannot read the inventory: it is a directory, not a YAML file']);
  });

  it('reports every problem of a file, sorted by line', async () => {
    const result = await loadInventory(join(FIXTURES, 'many-problems.yaml'));
    expect(result.ok ? [] : result.issues.map((issue) => formatIssue(issue, 'many-problems.yaml'))).toEqual([
      'many-problems.yaml:7:13 db.password: a secret must not be written in clear in the inventory; use env:NAME, file:PATH, cmd:COMMAND or generate',
      'many-problems.yaml:13:13 hosts.web1.roles[0]: unknown role "wbe" (expected lb, web, app, db, monitor)',
      'many-problems.yaml:15:14 hosts.db1.address: invalid address "10.0.0.300" (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)',
    ]);
  });
});

describe('inventory issues', () => {
  const base = (hosts: string) =>
    yaml`
    domain: www.example.com
    firewall: {admin_sources: [10.0.0.1/32]}
    db: {primary: db1}
    app: {source: ./app}
  ` + hosts;

  it('YAML syntax errors, with their position', () => {
    expect(issues('domain: [www.example.com\nhosts: {}\n')).toEqual([
      'inventory.yaml:2:1 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(issues('a: 1\n---\nb: 2\n')).toEqual([
      'inventory.yaml:2:1 YAML syntax error: Source contains multiple documents; please use YAML.parseAllDocuments()',
    ]);
  });

  it('a document that is not a mapping', () => {
    expect(issues('')).toEqual(['inventory.yaml:1:1 expected a mapping, got an empty value']);
    expect(issues('- a\n- b\n')).toEqual(['inventory.yaml:1:1 expected a mapping, got a list']);
  });

  it('an unknown role', () => {
    expect(
      issues(
        base(yaml`
        hosts:
          web1: {address: 10.0.0.21, roles: [wbe, app]}
          db1: {address: 10.0.0.41, roles: [db]}
      `),
      ),
    ).toEqual(['inventory.yaml:6:38 hosts.web1.roles[0]: unknown role "wbe" (expected lb, web, app, db, monitor)']);
  });

  it('unknown keys, listing the accepted ones', () => {
    expect(
      issues(
        base(yaml`
        hosts:
          web1: {adress: 10.0.0.21, roles: [web, app]}
          db1: {address: 10.0.0.41, roles: [db]}
        hostz: {}
      `),
      ),
    ).toEqual([
      'inventory.yaml:6:3 hosts.web1.address: missing required key "address"; expected the host\'s IPv4 address or DNS name, e.g. 10.0.0.11 or web1.example.org',
      'inventory.yaml:6:10 hosts.web1.adress: unknown key "adress" (did you mean "address"? accepted keys: address, ip, roles, ssh, vars)',
      'inventory.yaml:8:1 hostz: unknown key "hostz" (did you mean "hosts"? accepted keys: domain, vip, vip_prefix, state_dir, state, ' +
        'templates_dir, ssh, firewall, extra_files, monitoring, alerting, tls, db, app, vars, role_vars, groups, hosts)',
    ]);
  });

  it('wrong types', () => {
    expect(
      issues(yaml`
        domain: www.example.com
        ssh: {port: "22", connect_timeout: [10]}
        firewall: {admin_sources: 10.0.0.1/32}
        db: {primary: db1}
        app: {source: ./app, port: 80.5}
        hosts:
          web1: {address: 10.0.0.21, roles: web}
          db1: {address: 10.0.0.41, roles: [db]}
      `),
    ).toEqual([
      'inventory.yaml:2:13 ssh.port: expected a number, got the string "22"',
      'inventory.yaml:2:36 ssh.connect_timeout: expected a number, got a list',
      'inventory.yaml:3:27 firewall.admin_sources: expected a list, got the string "10.0.0.1/32"',
      'inventory.yaml:5:28 app.port: expected an integer, got number 80.5',
      'inventory.yaml:7:37 hosts.web1.roles: expected a list, got the string "web"',
    ]);
  });

  it('a missing key, at the map that should hold it', () => {
    expect(
      issues(yaml`
        domain: www.example.com
        firewall: {admin_sources: [10.0.0.1/32]}
        db:
          replicas: []
        app: {source: ./app}
        hosts:
          web1: {address: 10.0.0.21, roles: [web, app]}
          db1: {address: 10.0.0.41, roles: [db]}
      `),
    ).toEqual(['inventory.yaml:3:1 db.primary: missing required key "primary"; expected the name of the host with role db that takes writes, e.g. db1']);
  });

  it('duplicate host names and duplicate addresses', () => {
    expect(
      issues(
        base(yaml`
        hosts:
          web1: {address: 10.0.0.21, roles: [web, app]}
          web2: {address: 10.0.0.21, roles: [web]}
          web1: {address: 10.0.0.22, roles: [web, app]}
          db1: {address: 10.0.0.41, roles: [db]}
      `),
      ),
    ).toEqual(['inventory.yaml:8:3 hosts.web1: duplicate host name "web1" (first defined at line 6); give each host its own name']);
    expect(
      issues(
        base(yaml`
        hosts:
          web1: {address: 10.0.0.21, roles: [web, app]}
          db1: {address: 10.0.0.21, roles: [db]}
      `),
      ),
    ).toEqual(['inventory.yaml:7:18 hosts.db1.address: address 10.0.0.21 is used by both web1 and db1; each host needs its own address']);
  });

  it('invalid IPv4 addresses and host names', () => {
    expect(
      issues(
        base(yaml`
        hosts:
          web1: {address: 10.0.0.021, roles: [web, app]}
          1db: {address: db_1.example.com, roles: [db]}
      `),
      ),
    ).toEqual(
      [
        'inventory.yaml:6:19 hosts.web1.address: invalid address "10.0.0.021" (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)',
        'inventory.yaml:3:15 db.primary: "db1" is not a host (hosts with role db: 1db)',
        'inventory.yaml:7:3 hosts.1db: host name "1db" must start with a letter and contain only letters, digits, _ and -',
        'inventory.yaml:7:18 hosts.1db.address: invalid address "db_1.example.com" (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)',
        'inventory.yaml:7:44 hosts.1db.roles[0]: host 1db has role db but is neither db.primary nor in db.replicas; add it to db.replicas',
      ].sort(byLine),
    );
  });

  it('a VIP with one lb host, equal to a host address, or outside the lb subnet', () => {
    const withVip = (vip: string, lbHosts: string) =>
      yaml`
        domain: www.example.com
        firewall: {admin_sources: [10.0.0.1/32]}
        db: {primary: db1}
        app: {source: ./app}
        hosts:
          web1: {address: 10.0.0.21, roles: [web, app]}
          db1: {address: 10.0.0.41, roles: [db]}
      ` +
      `vip: ${vip}\n` +
      lbHosts;
    expect(issues(withVip('10.0.0.100', 'vip_prefix: 24\n'))).toEqual([
      'inventory.yaml:8:6 vip: a VIP needs at least two hosts with role lb to fail over between (found 0); add an lb host or remove vip',
    ]);
    const twoLbs = (vip: string, prefix: number) =>
      issues(
        base(yaml`
          hosts:
            lb1: {address: 10.0.0.11, roles: [lb]}
            lb2: {address: 10.0.1.12, roles: [lb]}
            web1: {address: 10.0.0.21, roles: [web, app]}
            db1: {address: 10.0.0.41, roles: [db]}
        `) + `vip: ${vip}\nvip_prefix: ${prefix}\n`,
      );
    expect(twoLbs('10.0.0.11', 16)).toEqual([
      "inventory.yaml:10:6 vip: vip 10.0.0.11 is also the address of host lb1; choose an unused address in the lb hosts' subnet",
    ]);
    expect(twoLbs('10.0.0.100', 24)).toEqual([
      'inventory.yaml:10:6 vip: vip 10.0.0.100 is outside the subnet 10.0.1.0/24 of lb host lb2 (vip_prefix 24); ' +
        'choose a VIP in that subnet or correct vip_prefix',
    ]);
    expect(twoLbs('10.0.0.100', 16)).toEqual([]);
  });

  it('db primary and replicas that are not db hosts', () => {
    const db = (primary: string, replicas: string) =>
      issues(
        yaml`
        domain: www.example.com
        firewall: {admin_sources: [10.0.0.1/32]}
        app: {source: ./app}
        hosts:
          web1: {address: 10.0.0.21, roles: [web, app]}
          db1: {address: 10.0.0.41, roles: [db]}
          db2: {address: 10.0.0.42, roles: [db]}
      ` + `db:\n  primary: ${primary}\n  replicas: ${replicas}\n`,
      );
    expect(db('db1', '[db2]')).toEqual([]);
    expect(db('db9', '[db1, db2]')).toEqual(['inventory.yaml:9:12 db.primary: "db9" is not a host (hosts with role db: db1, db2)']);
    expect(db('web1', '[db1, db2]')).toEqual([
      'inventory.yaml:9:12 db.primary: host web1 does not have role db; add db to its roles or name a db host (db1, db2)',
    ]);
    expect(db('db1', '[db1, web1, db2]')).toEqual([
      'inventory.yaml:10:14 db.replicas[0]: db1 is db.primary; a primary cannot be its own replica, remove it from replicas',
      'inventory.yaml:10:19 db.replicas[1]: host web1 does not have role db; add db to its roles or name a db host (db1, db2)',
    ]);
  });

  it('a role whose next tier has no host', () => {
    expect(
      issues(
        base(yaml`
        hosts:
          lb1: {address: 10.0.0.11, roles: [lb]}
          app1: {address: 10.0.0.31, roles: [app]}
      `),
      ),
    ).toEqual([
      'inventory.yaml:3:15 db.primary: "db1" is not a host (hosts with role db: none)',
      "inventory.yaml:6:37 hosts.lb1.roles[0]: role lb needs a host with role web, and no host has it; add web to a host's roles",
      "inventory.yaml:7:38 hosts.app1.roles[0]: role app needs a host with role db, and no host has it; add db to a host's roles",
    ]);
    expect(
      issues(
        base(yaml`
        hosts:
          web1: {address: 10.0.0.21, roles: [web]}
          db1: {address: 10.0.0.41, roles: [db]}
      `),
      ),
    ).toEqual(["inventory.yaml:6:38 hosts.web1.roles[0]: role web needs a host with role app, and no host has it; add app to a host's roles"]);
  });

  it('firewall sources: empty admin_sources, bad CIDRs', () => {
    expect(
      issues(yaml`
        domain: www.example.com
        firewall: {admin_sources: []}
        monitoring: {sources: [10.0.0.0/33, 10.0.0.1, 192.168.0.0/16]}
        db: {primary: db1}
        app: {source: ./app}
        hosts:
          web1: {address: 10.0.0.21, roles: [web, app]}
          db1: {address: 10.0.0.41, roles: [db]}
      `),
    ).toEqual([
      'inventory.yaml:2:27 firewall.admin_sources: must list at least one address or CIDR allowed to reach SSH, ' +
        'e.g. [10.0.0.1/32]; an empty list would lock infra out',
      'inventory.yaml:3:24 monitoring.sources[0]: invalid address or CIDR "10.0.0.0/33" (expected e.g. 10.0.0.0/24 or 10.0.0.1)',
    ]);
  });

  it('secrets written in clear, without repeating them', () => {
    const found = issues(yaml`
      domain: www.example.com
      firewall: {admin_sources: [10.0.0.1/32]}
      db: {primary: db1, password: hunter2, replication_password: 123456}
      app: {source: ./app}
      ssh: {user: deploy, sudo: {password: generate}}
      hosts:
        web1: {address: 10.0.0.21, roles: [web, app]}
        db1: {address: 10.0.0.41, roles: [db], ssh: {sudo: {password: "env:"}}}
    `);
    expect(found).toEqual([
      'inventory.yaml:3:30 db.password: a secret must not be written in clear in the inventory; use env:NAME, file:PATH, cmd:COMMAND or generate',
      'inventory.yaml:3:61 db.replication_password: a secret must not be written in clear in the inventory; use env:NAME, file:PATH, cmd:COMMAND or generate',
      "inventory.yaml:5:38 ssh.sudo.password: a sudo password cannot be generated (it is the user's password on the host); use env:NAME, file:PATH or cmd:COMMAND",
      'inventory.yaml:8:65 hosts.db1.ssh.sudo.password: env: needs an environment variable name (letters, digits, _), e.g. env:DB_PASSWORD',
    ]);
    expect(found.join('\n')).not.toMatch(/hunter2|123456/);
  });

  it('a group naming an unknown host, a host without roles', () => {
    expect(
      issues(
        base(yaml`
        groups:
          edge: {hosts: [web1, web9]}
        hosts:
          web1: {address: 10.0.0.21, roles: [web, app]}
          db1: {address: 10.0.0.41, roles: [db]}
          spare: {address: 10.0.0.99, roles: []}
      `),
      ),
    ).toEqual([
      'inventory.yaml:6:24 groups.edge.hosts[1]: unknown host "web9" (hosts: web1, db1, spare)',
      'inventory.yaml:10:38 hosts.spare.roles: a host needs at least one role (lb, web, app, db, monitor)',
    ]);
  });

  it('a non-root ssh user without sudo, globally or on one host', () => {
    expect(
      issues(yaml`
        domain: www.example.com
        ssh: {user: deploy}
        firewall: {admin_sources: [10.0.0.1/32]}
        db: {primary: db1}
        app: {source: ./app}
        hosts:
          web1: {address: 10.0.0.21, roles: [web, app], ssh: {user: admin}}
          db1: {address: 10.0.0.41, roles: [db]}
          db2: {address: 10.0.0.42, roles: [db], ssh: {user: root}}
      `),
    ).toEqual([
      'inventory.yaml:2:13 ssh.user: user deploy is not root, so infra runs commands through sudo: ' +
        'add "sudo: {}" (passwordless sudo) or "sudo: {password: env:NAME}" to this ssh block',
      'inventory.yaml:7:61 hosts.web1.ssh.user: user admin is not root, so infra runs commands through sudo: ' +
        'add "sudo: {}" (passwordless sudo) or "sudo: {password: env:NAME}" to this ssh block',
      'inventory.yaml:9:37 hosts.db2.roles[0]: host db2 has role db but is neither db.primary nor in db.replicas; add it to db.replicas',
    ]);
  });

  it('tls: files without cert_file/key_file, an unknown key_type, keys of the other source', () => {
    const tls = (block: string) =>
      issues(
        base(yaml`
          hosts:
            web1: {address: 10.0.0.21, roles: [web, app]}
            db1: {address: 10.0.0.41, roles: [db]}
        `) + block,
      );
    expect(tls('tls:\n  source: files\n  key_file: ./key.pem\n')).toEqual([
      'inventory.yaml:8:1 tls.cert_file: missing cert_file: tls source files needs cert_file (the certificate chain, PEM) ' + 'and key_file (its private key)',
    ]);
    expect(tls('tls:\n  key_type: ed25519\n  cert_file: ./cert.pem\n')).toEqual([
      'inventory.yaml:9:13 tls.key_type: unknown key type "ed25519" (expected ecdsa-p256, rsa-2048, rsa-3072, rsa-4096)',
      'inventory.yaml:10:14 tls.cert_file: cert_file applies only to tls source files; set source: files or remove it',
    ]);
  });
});

function byLine(a: string, b: string): number {
  const position = (issue: string) => issue.split(' ')[0]!.split(':').slice(1).map(Number);
  const [lineA, columnA] = position(a);
  const [lineB, columnB] = position(b);
  return lineA! - lineB! || columnA! - columnB!;
}

describe('loadInventory on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infra-inventory-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves the state directory against the inventory file, wherever it is', async () => {
    const file = join(dir, 'site.yaml');
    await writeFile(file, `state_dir: state\n${await readFile(join(FIXTURES, 'minimal.yaml'), 'utf8')}`);
    const result = await loadInventory(file);
    expect(result.ok && result.inventory.stateDir).toBe(join(dir, 'state'));
  });
});
