import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { infraInProcess, withHomeHoldingSshKey } from './cli-in-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;

withHomeHoldingSshKey();

afterEach(() => {
  // validate sets process.exitCode; left at 1 it would fail the test run itself.
  process.exitCode = undefined;
});

describe('infra validate', () => {
  it('prints every issue with the path as typed, and exits 1', async () => {
    const file = relative(process.cwd(), `${ROOT}test/fixtures/inventories/many-problems.yaml`);
    const { code, stdout } = await infraInProcess('validate', file);
    expect(code).toBe(1);
    expect(stdout.trimEnd().split('\n')).toEqual([
      `${file}:7:13 db.password: a secret must not be written in clear in the inventory; use env:NAME, file:PATH, cmd:COMMAND or generate`,
      `${file}:13:13 hosts.web1.roles[0]: unknown role "wbe" (expected lb, web, app, db, monitor)`,
      `${file}:15:14 hosts.db1.address: invalid address "10.0.0.300" (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)`,
    ]);
  });

  it('prints ok and the hosts per role for a valid inventory, and exits 0', async () => {
    const { code, stdout } = await infraInProcess('validate', `${ROOT}inventory.example.yaml`);
    expect(code).toBe(0);
    expect(stdout).toBe('ok: 8 hosts (lb: lb1, lb2; web: web1, web2; app: app1, app2; db: db1, db2; monitor: none)\n');
  });

  it('prints {format_version, command, ok, exitCode, issues} with --json', async () => {
    const bad = await infraInProcess('--json', 'validate', `${ROOT}test/fixtures/inventories/many-problems.yaml`);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; issues: { line: number; path: string }[] };
    expect(report.ok).toBe(false);
    expect(report.issues.map((issue) => `${issue.line} ${issue.path}`)).toEqual(['7 db.password', '13 hosts.web1.roles[0]', '15 hosts.db1.address']);
    const good = await infraInProcess('--json', 'validate', `${ROOT}test/fixtures/inventories/minimal.yaml`);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({ format_version: 1, command: 'validate', ok: true, exitCode: 0, issues: [], warnings: [] });
  });

  it('checks that each file and folder the inventory names exists and is readable, at the line that names it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infra-validate-'));
    const file = join(dir, 'inventory.yaml');
    await writeFile(join(dir, 'cert.pem'), 'a certificate\n');
    await writeFile(
      file,
      [
        'domain: www.example.com',
        'firewall:',
        '  admin_sources: [10.0.0.1/32]',
        'tls:',
        '  source: files',
        '  cert_file: cert.pem',
        '  key_file: missing.key',
        'db:',
        '  primary: db1',
        '  password: file:secrets/db.password',
        'app:',
        '  source: ./no-app',
        'hosts:',
        '  web1:',
        '    address: 10.0.0.21',
        '    roles: [web, app]',
        '    ssh:',
        '      identity_file: ./keys/web1',
        '  db1:',
        '    address: 10.0.0.41',
        '    roles: [db]',
        '',
      ].join('\n'),
    );
    const { code, stdout } = await infraInProcess('validate', file);
    expect(code).toBe(1);
    expect(stdout.trimEnd().split('\n')).toEqual([
      `${file}:12:11 app.source: the app's folder ${dir}/no-app does not exist; create it or change this path (relative paths start at the inventory's folder)`,
      `${file}:7:13 tls.key_file: TLS private key ${dir}/missing.key does not exist; create it or change this path (relative paths start at the inventory's folder)`,
      `${file}:18:22 hosts.web1.ssh.identity_file: SSH private key of web1 ${dir}/keys/web1 does not exist; create it or change this path (relative paths start at the inventory's folder)`,
      `${file}:10:13 db.password: secret file ${dir}/secrets/db.password does not exist; create it or change this path (relative paths start at the inventory's folder)`,
    ]);
  });

  it('prints a world-open source as a warning, exits 0, and lists it under warnings with --json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infra-validate-'));
    const file = join(dir, 'inventory.yaml');
    // The minimal fixture (web1 web+app, db1) with SSH open to every address.
    const minimal = await readFile(`${ROOT}test/fixtures/inventories/minimal.yaml`, 'utf8');
    await writeFile(file, minimal.replace('admin_sources: [10.0.0.1/32]', 'admin_sources: [0.0.0.0/0]'));
    await mkdir(join(dir, 'app'));
    try {
      const { code, stdout } = await infraInProcess('validate', file);
      expect(code).toBe(0);
      expect(stdout.trimEnd().split('\n')).toEqual([
        `${file}:4:19 firewall.admin_sources[0]: warning: 0.0.0.0/0 lets every address on the internet reach SSH and, since there is no ` +
          'monitoring block, the node exporter (9100) and the haproxy, nginx, mtail and mysqld exporters (8404, 9113, 3903, 9104); ' +
          'list the networks you administer from instead, e.g. 203.0.113.0/24',
        'ok: 2 hosts (lb: none; web: web1; app: web1; db: db1; monitor: none)',
      ]);
      const json = await infraInProcess('--json', 'validate', file);
      expect(json.code).toBe(0);
      const report = JSON.parse(json.stdout) as { ok: boolean; issues: unknown[]; warnings: { line: number; column: number; path: string }[] };
      expect(report).toMatchObject({ ok: true, issues: [], warnings: [{ line: 4, column: 19, path: 'firewall.admin_sources[0]' }] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('explains itself with an example in --help', async () => {
    const { code, stdout } = await infraInProcess('validate', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: infra validate [options] <inventory>');
    expect(stdout).toContain('$ infra validate inventory.yaml');
  });
});
