import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { completeSettings, identityPath, resolveHostAddresses, sshConfigLookup, type Resolver } from '../../src/engine/addresses.js';
import { credentialsFor } from '../../src/engine/fleet.js';
import { parseInventory } from '../../src/inventory/load.js';
import { formatIssue, type Inventory, type SshSettings } from '../../src/inventory/model.js';

/** A resolver that knows only these names (as /etc/hosts would). */
function resolverOf(names: Record<string, string[]>): Resolver {
  return async (name) => {
    const addresses = names[name];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return addresses;
  };
}

/** An inventory written to a temp folder (errors name its lines), with `extra` lines at the end of the global ssh block and the given hosts. */
async function inventoryWith(hosts: string, ssh = ''): Promise<Inventory> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-addr-'));
  const text = [
    'domain: www.example.com',
    'ssh:',
    `  config_file: ${join(dir, 'ssh_config')}`,
    ...(ssh ? ssh.split('\n').map((line) => `  ${line}`) : []),
    'firewall: {admin_sources: [10.0.0.1/32]}',
    'db: {primary: db1}',
    'app: {source: ./app}',
    'hosts:',
    ...hosts.split('\n').map((line) => `  ${line}`),
    '',
  ].join('\n');
  await writeFile(join(dir, 'inventory.yaml'), text);
  await writeFile(join(dir, 'ssh_config'), '');
  const result = parseInventory(text, join(dir, 'inventory.yaml'));
  if (!result.ok) throw new Error(result.issues.map((issue) => formatIssue(issue)).join('\n'));
  return result.inventory;
}

async function withSshConfig(inventory: Inventory, text: string): Promise<Inventory> {
  await writeFile(inventory.hosts[0]!.ssh.configFile, text);
  return inventory;
}

const settings: SshSettings = {
  hostName: 'web1',
  user: 'root',
  port: 22,
  defaulted: ['user', 'port'],
  configFile: '/home/op/.ssh/config',
  configFileNamed: false,
  hostKey: {},
  connectTimeout: 10,
};

describe('~/.ssh/config, read as OpenSSH reads it', () => {
  const config = sshConfigLookup(
    [
      'Host web1',
      '  HostName 10.0.0.21',
      '  User deploy',
      'Host *.internal',
      '  HostName %h.example.org',
      '  ProxyJump admin@bastion:2222',
      'Host web1 *.internal',
      '  User ignored-since-set-above',
      '  Port 2200',
      '  IdentityFile ~/.ssh/work_ed25519',
      'Host *',
      '  IdentityFile ~/.ssh/id_rsa',
    ].join('\n'),
  );

  it('takes the first value of each setting from the Host blocks that match, in file order', () => {
    expect(config('web1')).toEqual({ hostName: '10.0.0.21', user: 'deploy', port: 2200, identityFile: '~/.ssh/work_ed25519' });
    expect(config('db1.internal')).toEqual({
      hostName: 'db1.internal.example.org',
      user: 'ignored-since-set-above',
      port: 2200,
      identityFile: '~/.ssh/work_ed25519',
      proxyJump: 'admin@bastion:2222',
    });
    expect(config('other')).toEqual({ identityFile: '~/.ssh/id_rsa' });
  });

  it('fills only what the inventory left out: a written user or port wins over the config', () => {
    expect(completeSettings(settings, config('web1'))).toMatchObject({ hostName: '10.0.0.21', user: 'deploy', port: 2200, sudo: {}, defaulted: [] });
    const written: SshSettings = { ...settings, user: 'ops', port: 22, defaulted: [], identityFile: '/keys/ops', jump: 'gw' };
    expect(completeSettings(written, config('db1.internal'))).toMatchObject({ user: 'ops', port: 22, identityFile: '/keys/ops', jump: 'gw' });
    expect(completeSettings(written, config('db1.internal')).sudo).toBeUndefined();
  });

  it('an IdentityFile with ~ and the tokens %d %h %r %%, a relative one from the current folder, as ssh reads them', () => {
    const home = process.env.HOME!;
    expect(identityPath('~/.ssh/%h_%r', { h: 'web1.example.org', r: 'deploy' })).toBe(join(home, '.ssh/web1.example.org_deploy'));
    expect(identityPath('%d/keys/100%%', { h: 'web1', r: 'root' })).toBe(join(home, 'keys/100%'));
    expect(identityPath('keys/id', { h: 'web1', r: 'root' })).toBe(join(process.cwd(), 'keys/id'));
  });

  it('a user from the config other than root goes through sudo without a password; root needs none', () => {
    expect(completeSettings(settings, { user: 'deploy' }).sudo).toEqual({});
    expect(completeSettings(settings, { user: 'root' }).sudo).toBeUndefined();
  });
});

describe('the keys a connection offers', () => {
  it('a named key file, with the agent too when one runs; the agent alone without a named key; the default key without either', () => {
    expect(credentialsFor('/keys/ops', { SSH_AUTH_SOCK: '/run/agent.sock', HOME: '/home/op' })).toEqual({
      identityFile: '/keys/ops',
      agent: '/run/agent.sock',
    });
    expect(credentialsFor('/keys/ops', { HOME: '/home/op' })).toEqual({ identityFile: '/keys/ops' });
    expect(credentialsFor(undefined, { SSH_AUTH_SOCK: '/run/agent.sock', HOME: '/home/op' })).toEqual({ agent: '/run/agent.sock' });
    expect(credentialsFor(undefined, { HOME: '/home/op' })).toEqual({ identityFile: '/home/op/.ssh/id_ed25519', defaultKey: true });
  });
});

describe('hosts given by name', () => {
  it('resolve once: the IP becomes the address (firewall rules, VIP), the name stays what SSH connects to and known_hosts is searched for', async () => {
    const inventory = await inventoryWith('web1: {address: web1.example.org, roles: [web, app]}\ndb1: {address: 10.0.0.41, roles: [db]}');
    const resolved = await resolveHostAddresses(inventory, resolverOf({ 'web1.example.org': ['10.0.0.21'] }));
    expect(resolved.hosts.map((host) => [host.name, host.address, host.ssh.hostName])).toEqual([
      ['web1', '10.0.0.21', 'web1.example.org'],
      ['db1', '10.0.0.41', '10.0.0.41'],
    ]);
  });

  it('a name with several addresses is refused at its line unless ip pins one of them', async () => {
    const hosts = 'web1: {address: web.example.org, roles: [web, app]}\ndb1: {address: 10.0.0.41, roles: [db]}';
    const resolver = resolverOf({ 'web.example.org': ['10.0.0.21', '10.0.0.22'] });
    await expect(resolveHostAddresses(await inventoryWith(hosts), resolver)).rejects.toThrow(
      /inventory\.yaml:8:19 hosts\.web1\.address: web\.example\.org resolves to several addresses \(10\.0\.0\.21, 10\.0\.0\.22\); .*`ip: 10\.0\.0\.21`/,
    );
    const pinned = await inventoryWith(hosts.replace('roles: [web, app]', 'ip: 10.0.0.22, roles: [web, app]'));
    expect((await resolveHostAddresses(pinned, resolver)).hosts[0]!.address).toBe('10.0.0.22');
    const wrongPin = await inventoryWith(hosts.replace('roles: [web, app]', 'ip: 10.0.0.99, roles: [web, app]'));
    await expect(resolveHostAddresses(wrongPin, resolver)).rejects.toThrow('web.example.org resolves to 10.0.0.21, 10.0.0.22, not to the pinned ip 10.0.0.99');
  });

  it('a name that does not resolve is refused at its line; two names for one address are refused', async () => {
    const unknown = await inventoryWith('web1: {address: web1.example.org, roles: [web, app]}\ndb1: {address: 10.0.0.41, roles: [db]}');
    await expect(resolveHostAddresses(unknown, resolverOf({}))).rejects.toThrow(
      /inventory\.yaml:8:19 hosts\.web1\.address: web1\.example\.org does not resolve to an IPv4 address \(ENOTFOUND\)/,
    );
    const twice = await inventoryWith('web1: {address: web1.example.org, roles: [web, app]}\ndb1: {address: 10.0.0.41, roles: [db]}');
    await expect(resolveHostAddresses(twice, resolverOf({ 'web1.example.org': ['10.0.0.41'] }))).rejects.toThrow(
      'db1 resolves to 10.0.0.41, the address of web1 too',
    );
  });

  it('an ssh config alias: HostName, User, Port, IdentityFile come from the config, the written keys win', async () => {
    const inventory = await withSshConfig(
      await inventoryWith('web1: {address: web1, roles: [web, app], ssh: {port: 22}}\ndb1: {address: 10.0.0.41, roles: [db]}'),
      'Host web1\n  HostName front1.example.org\n  User deploy\n  Port 2222\n  IdentityFile /keys/deploy\n',
    );
    const [web1, db1] = (await resolveHostAddresses(inventory, resolverOf({ 'front1.example.org': ['10.0.0.21'] }))).hosts;
    expect(web1!.address).toBe('10.0.0.21');
    expect(web1!.ssh).toMatchObject({ hostName: 'front1.example.org', user: 'deploy', port: 22, identityFile: '/keys/deploy', sudo: {} });
    expect(db1!.ssh).toMatchObject({ hostName: '10.0.0.41', user: 'root', port: 22 });
    expect(db1!.ssh.identityFile).toBeUndefined();
  });

  it("a jump host from ssh.jump or ProxyJump is resolved too, its user defaulting to the host's", async () => {
    const inventory = await withSshConfig(
      await inventoryWith('web1: {address: 10.0.0.21, roles: [web, app]}\ndb1: {address: 10.0.0.41, roles: [db], ssh: {jump: "ops@gw.example.org:2222"}}'),
      'Host 10.0.0.21\n  ProxyJump bastion\nHost bastion\n  HostName 192.0.2.10\n',
    );
    const [web1, db1] = (await resolveHostAddresses(inventory, resolverOf({ 'gw.example.org': ['192.0.2.20'] }))).hosts;
    expect(web1!.ssh.jumpHost).toEqual({ spec: 'bastion', hostName: '192.0.2.10', address: '192.0.2.10', port: 22, user: 'root' });
    expect(db1!.ssh.jumpHost).toEqual({ spec: 'ops@gw.example.org:2222', hostName: 'gw.example.org', address: '192.0.2.20', port: 2222, user: 'ops' });
  });

  it('a named ssh.config_file must exist; ~/.ssh/config is read only when it does', async () => {
    const inventory = await inventoryWith('web1: {address: 10.0.0.21, roles: [web, app]}\ndb1: {address: 10.0.0.41, roles: [db]}');
    const missing = { ...inventory, hosts: inventory.hosts.map((host) => ({ ...host, ssh: { ...host.ssh, configFile: '/nonexistent/ssh_config' } })) };
    await expect(resolveHostAddresses(missing, resolverOf({}))).rejects.toThrow('cannot read the ssh config /nonexistent/ssh_config (ssh.config_file)');
    const unnamed = { ...inventory, hosts: missing.hosts.map((host) => ({ ...host, ssh: { ...host.ssh, configFileNamed: false } })) };
    expect((await resolveHostAddresses(unnamed, resolverOf({}))).hosts.map((host) => host.address)).toEqual(['10.0.0.21', '10.0.0.41']);
  });
});

describe('addresses in the inventory', () => {
  it('accepts names, refuses a bad name or a bad IPv4, and refuses ip beside an address', async () => {
    const issuesOf = (hosts: string): string[] => {
      const text = [
        'domain: www.example.com',
        'firewall: {admin_sources: [10.0.0.1/32]}',
        'db: {primary: db1}',
        'app: {source: ./app}',
        'hosts:',
        ...hosts.split('\n').map((line) => `  ${line}`),
        '',
      ].join('\n');
      const result = parseInventory(text, '/srv/inventory.yaml');
      return result.ok ? [] : result.issues.map((issue) => formatIssue(issue, 'inventory.yaml'));
    };
    expect(issuesOf('web1: {address: web1.example.org, roles: [web, app]}\ndb1: {address: db1, roles: [db]}')).toEqual([]);
    expect(issuesOf('web1: {address: -web1.example.org, roles: [web, app]}\ndb1: {address: 10.0.0.256, roles: [db]}')).toEqual([
      'inventory.yaml:6:19 hosts.web1.address: invalid address "-web1.example.org" (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)',
      'inventory.yaml:7:18 hosts.db1.address: invalid address "10.0.0.256" (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)',
    ]);
    expect(issuesOf('web1: {address: 10.0.0.21, ip: 10.0.0.21, roles: [web, app]}\ndb1: {address: db1, roles: [db]}')).toEqual([
      'inventory.yaml:6:34 hosts.web1.ip: ip pins the address of a host given by name; this host is given by its address, remove ip',
    ]);
  });
});
