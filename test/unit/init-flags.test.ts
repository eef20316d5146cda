import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { answersFromFlags, missingFlags, parseHostFlag } from '../../src/cli/init-flags.js';
import { completeWithDefaults } from '../../src/inventory/init-answers.js';
import { renderInventory } from '../../src/inventory/init-render.js';
import { parseInventory } from '../../src/inventory/load.js';
import { BIN, buildCli } from './init-cli.js';

/** `infra init ARGS` with stdin, stdout and stderr piped: no terminal, so nothing may be asked. */
function initPiped(dir: string, ...args: string[]) {
  const run = spawnSync('node', [BIN, 'init', ...args], { cwd: dir, encoding: 'utf8', input: '' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const STACK = [
  '--domain',
  'www.example.com',
  '--vip',
  '10.0.0.100',
  '--host',
  'lb1=10.0.0.11:lb',
  '--host',
  'lb2=10.0.0.12:lb',
  '--host',
  'web1=10.0.0.21:web',
  '--host',
  'app1=10.0.0.31:app',
  '--host',
  'db1=10.0.0.41:db',
  '--host',
  'db2=10.0.0.42:db',
  '--host',
  'db3=10.0.0.43:db',
  '--primary',
  'db1',
  '--admin-source',
  '10.0.0.1/32',
  '--admin-source',
  '192.168.5.0/24',
];

beforeAll(() => buildCli(), 120_000);

describe('infra init with flags and no terminal', () => {
  it('asks nothing when the required flags are given, and writes a valid inventory with defaults for the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    const run = initPiped(
      dir,
      'stack.yaml',
      ...STACK,
      '--known-hosts',
      './known_hosts',
      '--tls',
      'files',
      '--cert-file',
      'tls/cert.pem',
      '--key-file',
      'tls/key.pem',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('wrote stack.yaml: 7 hosts for www.example.com\nnext: infra graph stack.yaml, then infra provision stack.yaml --dry-run\n');
    const result = parseInventory(readFileSync(join(dir, 'stack.yaml'), 'utf8'), join(dir, 'stack.yaml'));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const { inventory } = result;
    expect(inventory.db).toMatchObject({ primary: 'db1', replicas: ['db2', 'db3'] });
    expect(inventory.firewall.adminSources).toEqual(['10.0.0.1/32', '192.168.5.0/24']);
    // Monitoring defaults to the admin sources; root needs no sudo.
    expect(inventory.monitoring.sources).toEqual(['10.0.0.1/32', '192.168.5.0/24']);
    expect(inventory.hosts[0]!.ssh).toMatchObject({ user: 'root', hostKey: { knownHostsFile: join(dir, 'known_hosts') } });
    expect(inventory.hosts[0]!.ssh.sudo).toBeUndefined();
    expect(inventory.tls).toEqual({ kind: 'files', certFile: join(dir, 'tls/cert.pem'), keyFile: join(dir, 'tls/key.pem') });
    expect(inventory.hosts.find((host) => host.name === 'lb1')?.vars).toMatchObject({ vrrp_interface: 'eth0' });
  });

  it('puts the VIP on the interface --vip-interface names, and refuses a name that is no interface', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    expect(initPiped(dir, 'a.yaml', ...STACK, '--vip-interface', 'host0').code).toBe(0);
    expect(readFileSync(join(dir, 'a.yaml'), 'utf8')).toMatch(/^role_vars:\n  lb:\n    vrrp_interface: host0$/m);
    const refused = initPiped(dir, 'b.yaml', ...STACK, '--vip-interface', 'not an interface');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('vrrp_interface must be an interface name such as eth0');
  });

  it("points app.source at infra's example app by default, and refuses an --app-source folder that does not exist", () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    const refused = initPiped(dir, ...STACK, '--app-source', './app');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^infra: --app-source \.\/app: no folder \S+\/app \(relative to the inventory's folder\); give your app's folder, or leave the flag out for infra's example app; inventory\.yaml was not written\n$/,
    );
    expect(existsSync(join(dir, 'inventory.yaml'))).toBe(false);
    expect(initPiped(dir, ...STACK).code).toBe(0);
    const result = parseInventory(readFileSync(join(dir, 'inventory.yaml'), 'utf8'), join(dir, 'inventory.yaml'));
    expect(result.ok && existsSync(join(result.inventory.app.source, 'app.py'))).toBe(true);
  });

  it('never overwrites an existing file without --force', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    writeFileSync(join(dir, 'inventory.yaml'), 'keep me\n');
    const refused = initPiped(dir, ...STACK);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('infra: inventory.yaml exists; init does not overwrite it without --force\n');
    expect(readFileSync(join(dir, 'inventory.yaml'), 'utf8')).toBe('keep me\n');

    const forced = initPiped(dir, ...STACK, '--force');
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, 'inventory.yaml'), 'utf8')).toContain('domain: www.example.com');
  });

  it('names the missing flags instead of waiting for a prompt nobody can answer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    const run = initPiped(dir, '--domain', 'www.example.com', '--host', 'lb1=10.0.0.11:lb', '--host', 'lb2=10.0.0.12:lb', '--host', 'db1=10.0.0.41:db');
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'infra: no terminal to ask on; give the answers as flags: missing --vip (two lb hosts share it), --admin-source (see infra init --help)\n',
    );
    expect(existsSync(join(dir, 'inventory.yaml'))).toBe(false);
  });

  it('writes nothing when the answers do not make a valid inventory, and shows why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    // A web host needs an app host somewhere.
    const run = initPiped(dir, '--domain', 'www.example.com', '--host', 'web1=10.0.0.21:web', '--host', 'db1=10.0.0.41:db', '--admin-source', '10.0.0.1');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the answers do not make a valid inventory, so inventory.yaml was not written:');
    expect(run.stderr).toMatch(/inventory\.yaml:\d+:\d+ hosts\.web1\.roles\[0\]: role web needs a host with role app/);
    expect(existsSync(join(dir, 'inventory.yaml'))).toBe(false);
  });
});

describe('init answers', () => {
  it('reads --host as NAME=ADDRESS:ROLES and refuses what the inventory would refuse', () => {
    expect(parseHostFlag('web1=10.0.0.21:web,app', [])).toEqual({ name: 'web1', address: '10.0.0.21', roles: ['web', 'app'] });
    expect(parseHostFlag('db1=10.0.0.41:db+app', []).roles).toEqual(['db', 'app']);
    expect(() => parseHostFlag('web1:10.0.0.21', [])).toThrow('expected NAME=ADDRESS:ROLES');
    expect(() => parseHostFlag('web1=10.0.0.300:web', [])).toThrow('invalid address "10.0.0.300"');
    expect(() => parseHostFlag('web1=10.0.0.21:wbe', [])).toThrow('unknown role "wbe" (expected lb, web, app, db, monitor)');
    expect(() => parseHostFlag('1web=10.0.0.21:web', [])).toThrow('a host name starts with a letter');
    const web1 = parseHostFlag('web1=10.0.0.21:web', []);
    expect(() => parseHostFlag('web2=10.0.0.21:web', [web1])).toThrow('10.0.0.21 is already the address of web1');
  });

  it('takes a DNS name as a host address, resolved when a run starts; a malformed name is refused', () => {
    expect(parseHostFlag('lb2=lb2.example.org:lb', [])).toEqual({ name: 'lb2', address: 'lb2.example.org', roles: ['lb'] });
    expect(() => parseHostFlag('lb2=lb2..example.org:lb', [])).toThrow(
      'invalid address "lb2..example.org" (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)',
    );
  });

  it('checks the VIP against the lb hosts before writing', () => {
    const flags = { host: ['lb1=10.0.0.11:lb', 'lb2=10.0.0.12:lb'] };
    expect(() => answersFromFlags({ ...flags, vip: '10.0.1.100' })).toThrow('--vip: 10.0.1.100 is not in the /24 subnet of lb host lb1 (10.0.0.11)');
    expect(() => answersFromFlags({ ...flags, vip: '10.0.0.11' })).toThrow('--vip: 10.0.0.11 is the address of lb1');
    expect(answersFromFlags({ ...flags, vip: '10.0.1.100', vipPrefix: '16' }).vip).toBe('10.0.1.100');
  });

  it('quotes whatever YAML would misread, so a value never changes the structure', () => {
    const known = answersFromFlags({
      domain: 'www.example.com',
      host: ['db1=10.0.0.41:db'],
      adminSource: ['10.0.0.1'],
      appSource: './app: # not a comment',
    });
    expect(missingFlags(known)).toEqual([]);
    const text = renderInventory(completeWithDefaults(known), 'inventory.yaml', readFileSync('inventory.example.yaml', 'utf8'));
    const result = parseInventory(text, '/srv/inventory.yaml');
    expect(result.ok && result.inventory.app.source).toBe('/srv/app: # not a comment');
  });
});
