import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { BIN, buildCli, KEY, Terminal } from './init-cli.js';

const { enter, down, space } = KEY;

beforeAll(() => buildCli(), 120_000);

describe('infra init on a terminal', () => {
  it('asks for every answer and writes an inventory that validates and holds what was typed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    mkdirSync(join(dir, 'site'));
    const term = new Terminal(['init', 'site.yaml'], { cwd: dir });
    await term.answer("The site's public name", 'shop.example.com', enter);
    const hosts: [string, string, string[]][] = [
      ['lb1', '10.0.0.11', [space]],
      ['lb2', '10.0.0.12', [space]],
      ['web1', '10.0.0.21', [down, space, down, space]], // web and app
      ['db1', '10.0.0.41', [down, down, down, space]],
      ['db2', '10.0.0.42', [down, down, down, space]],
    ];
    for (const [index, [name, address, roleKeys]] of hosts.entries()) {
      await term.answer('Host name:', name, enter);
      await term.answer(`Address of ${name}:`, address, enter);
      await term.answer(`Roles of ${name}:`, ...roleKeys, enter);
      await term.answer('Add another host?', index === hosts.length - 1 ? 'n' : 'y', enter);
    }
    await term.answer('SSH user on the hosts:', 'deploy', enter);
    await term.answer('SSH private key file:', enter);
    await term.answer('known_hosts file', './known_hosts', enter);
    await term.answer('deploy is not root', down, enter); // sudo with a password
    await term.answer('Environment variable holding the sudo password:', enter);
    await term.answer("Prefix length of the hosts' subnet:", enter);
    await term.answer('VIP', '10.0.0.100', enter);
    await term.answer('Network interface of the lb hosts', 'ens18', enter);
    await term.answer('Database primary', down, enter); // db2
    await term.answer('Who may reach SSH', '10.0.0.5/32', enter);
    await term.answer('Who may scrape the exporters', '10.0.9.0/24', enter);
    await term.answer('TLS certificates for the web hosts:', down, enter); // files
    await term.answer('Certificate file', './tls/fullchain.pem', enter);
    await term.answer('Private key file', './tls/privkey.pem', enter);
    await term.answer('Chain file', enter);
    await term.answer('Application folder', './site', enter);
    await term.waitFor('wrote site.yaml');
    expect(await term.exitCode()).toBe(0);

    const text = readFileSync(join(dir, 'site.yaml'), 'utf8');
    const result = parseInventory(text, join(dir, 'site.yaml'));
    expect(result.ok ? [] : result.issues).toEqual([]);
    if (!result.ok) return;
    const inventory = result.inventory;
    expect(inventory.domain).toBe('shop.example.com');
    expect(inventory.vip).toBe('10.0.0.100');
    expect(inventory.hosts.find((host) => host.name === 'lb1')?.vars).toMatchObject({ vrrp_interface: 'ens18' });
    expect(inventory.hosts.map((host) => `${host.name} ${host.address} ${host.roles.join('+')}`)).toEqual([
      'lb1 10.0.0.11 lb',
      'lb2 10.0.0.12 lb',
      'web1 10.0.0.21 web+app',
      'db1 10.0.0.41 db',
      'db2 10.0.0.42 db',
    ]);
    expect(inventory.db).toMatchObject({ primary: 'db2', replicas: ['db1'] });
    expect(inventory.firewall.adminSources).toEqual(['10.0.0.5/32']);
    expect(inventory.monitoring.sources).toEqual(['10.0.9.0/24']);
    expect(inventory.tls).toEqual({ kind: 'files', certFile: join(dir, 'tls/fullchain.pem'), keyFile: join(dir, 'tls/privkey.pem') });
    expect(inventory.app.source).toBe(join(dir, 'site'));
    const ssh = inventory.hosts[0]!.ssh;
    expect(ssh.user).toBe('deploy');
    expect(ssh.sudo).toEqual({ password: { kind: 'env', name: 'INFRA_SUDO_PASSWORD', key: 'ssh.sudo.password' } });
    expect(ssh.hostKey.knownHostsFile).toBe(join(dir, 'known_hosts'));
    // Commented, like inventory.example.yaml.
    expect(text).toMatch(/^# infra inventory for shop\.example\.com/);
    expect(text).toContain('# Who may reach SSH.');
  }, 90_000);

  it("with the offered defaults, writes an inventory that infra render accepts (the app is infra's example app)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    const term = new Terminal(['init'], { cwd: dir });
    await term.answer("The site's public name", 'www.example.com', enter);
    const hosts: [string, string, string[]][] = [
      ['web1', '10.0.0.21', [down, space, down, space]], // web and app
      ['db1', '10.0.0.41', [down, down, down, space]],
    ];
    for (const [index, [name, address, roleKeys]] of hosts.entries()) {
      await term.answer('Host name:', name, enter);
      await term.answer(`Address of ${name}:`, address, enter);
      await term.answer(`Roles of ${name}:`, ...roleKeys, enter);
      await term.answer('Add another host?', index === hosts.length - 1 ? 'n' : 'y', enter);
    }
    await term.answer('SSH user on the hosts:', enter);
    await term.answer('SSH private key file:', enter);
    await term.answer('known_hosts file', enter);
    await term.answer('Who may reach SSH', '10.0.0.5/32', enter);
    await term.answer('Who may scrape the exporters', enter);
    await term.answer('TLS certificates for the web hosts:', enter);
    // A folder that does not exist is refused where it is typed.
    await term.answer('Application folder', './nowhere', enter);
    await term.waitFor('no folder');
    await term.answer('', ...Array.from({ length: './nowhere'.length }, () => '\u007f'), enter);
    await term.waitFor('wrote inventory.yaml');
    expect(await term.exitCode()).toBe(0);
    const render = spawnSync('node', [BIN, 'render', 'inventory.yaml', '--out', 'rendered'], { cwd: dir, encoding: 'utf8' });
    expect(render.status, render.stderr).toBe(0);
    expect(render.stdout).toMatch(/^wrote \d+ files for 2 hosts into rendered$/m);
    expect(readFileSync(join(dir, 'rendered', 'web1', 'etc', 'nginx', 'sites-available', 'www.example.com'), 'utf8')).toContain('server_name www.example.com');
  }, 90_000);

  it('refuses a bad answer where it is typed, and writes nothing on Ctrl-C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    const term = new Terminal(['init'], { cwd: dir });
    await term.answer("The site's public name", 'not a domain', enter);
    await term.waitFor('expected a DNS name such as www.example.com');
    // Clear the rejected text (Ctrl-U is not universal: backspace it), then give a good one.
    await term.answer('', ...Array.from({ length: 'not a domain'.length }, () => '\u007f'), 'ok.example.com', enter);
    await term.answer('Host name:', '\u0003'); // Ctrl-C
    expect(await term.exitCode()).toBe(130);
    expect(term.text).toContain('init cancelled: inventory.yaml was not written');
  }, 60_000);

  it('asks before replacing an existing file, and leaves it alone on no', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-init-'));
    writeFileSync(join(dir, 'inventory.yaml'), 'domain: keep.example.com\n');
    const term = new Terminal(['init'], { cwd: dir });
    await term.answer('inventory.yaml exists. Replace it?', 'n', enter);
    expect(await term.exitCode()).toBe(1);
    expect(readFileSync(join(dir, 'inventory.yaml'), 'utf8')).toBe('domain: keep.example.com\n');
  }, 60_000);
});
