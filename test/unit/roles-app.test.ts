import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandResource, FileResource, PhaseDesire, SymlinkResource } from '../../src/core/types.js';
import { appPhase, environmentValue } from '../../src/roles/app.js';
import { CLEAR, EXAMPLE_APP_DIR, hostOf, testInventory, testSecrets } from './roles-fixture.js';

function appSourceCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'infra-app-'));
  cpSync(EXAMPLE_APP_DIR, dir, { recursive: true });
  return dir;
}

function render(source: string): PhaseDesire {
  const inventory = testInventory({ app: { source, port: 8000, keepReleases: 5 } });
  return appPhase(inventory, hostOf(inventory, 'app1'), testSecrets());
}

const release = (phase: PhaseDesire) => phase.resources.find((r): r is SymlinkResource => r.kind === 'symlink' && r.path === '/opt/app/current')?.target;
const file = (phase: PhaseDesire, path: string) => phase.resources.find((r): r is FileResource => r.kind === 'file' && r.path === path);

describe('app role, releases (inventory app.source: a copy of examples/app)', () => {
  it('names the release by its files: same files, same release; a changed file, a new release', () => {
    const source = appSourceCopy();
    const first = release(render(source));
    expect(first).toMatch(/^\/opt\/app\/releases\/[0-9a-f]{12}$/);
    expect(release(render(source))).toBe(first);
    expect(release(render(appSourceCopy()))).toBe(first);

    writeFileSync(join(source, 'app.py'), '# changed\n', { flag: 'a' });
    expect(release(render(source))).not.toBe(first);
  });

  it('keeps the executable bit, and a changed bit makes a new release', () => {
    const source = appSourceCopy();
    chmodSync(join(source, 'README.md'), 0o644);
    const before = render(source);
    expect(file(before, `${release(before)}/README.md`)?.mode).toBe('0644');
    chmodSync(join(source, 'README.md'), 0o755);
    const after = render(source);
    expect(release(after)).not.toBe(release(before));
    expect(file(after, `${release(after)}/README.md`)?.mode).toBe('0755');
  });

  it('switches /opt/app/current to the release and restarts the app, one host at a time', () => {
    const phase = render(EXAMPLE_APP_DIR);
    expect(phase.serial).toBe(true);
    expect(file(phase, `${release(phase)}/app.py`)).toMatchObject({ owner: 'root', mode: '0755' });
    const link = phase.resources.find((r): r is SymlinkResource => r.kind === 'symlink');
    const restart = phase.handlers.find((h) => h.service === 'app');
    expect(link?.notify).toEqual([restart?.id]);
    expect(restart).toMatchObject({ action: 'restart', healthCheck: 'curl -fsS -o /dev/null http://10.0.0.31:8000/health' });
  });
});

describe('app role, settings and unit', () => {
  const phase = render(EXAMPLE_APP_DIR);

  it('writes the env file with the db hosts, readable by root only, its password listed as a secret', () => {
    const env = file(phase, '/etc/app/app.env');
    expect(env).toMatchObject({ mode: '0600', owner: 'root', group: 'root' });
    expect(env?.secrets?.map((s) => s.reveal())).toEqual([CLEAR.appPassword]);
    expect(env?.content).toContain('DB_PRIMARY="10.0.0.41"\n');
    expect(env?.content).toContain('DB_REPLICAS="10.0.0.42,10.0.0.43"\n');
    expect(env?.content).toContain('DB_NAME="shop"\nDB_USER="shopper"\n');
    expect(env?.content).toContain(`DB_PASSWORD="${CLEAR.appPassword}"\n`);
    expect(env?.content).toContain('APP_HOST="10.0.0.31"\nAPP_PORT="8000"\n');
  });

  it("connects to the db with TLS: the CA the db certificates come from, its path in the env, pymysql's ed25519 support", () => {
    expect(file(phase, '/etc/app/app.env')?.content).toContain('DB_SSL_CA="/etc/app/db-ca.crt"\n');
    expect(file(phase, '/etc/app/db-ca.crt')).toMatchObject({ content: testSecrets().dbCaCertificate, mode: '0644', owner: 'root', notify: ['restart:app'] });
    expect(phase.resources).toContainEqual({ kind: 'package', name: 'python3-nacl' });
  });

  it('quotes env values for systemd and refuses line breaks', () => {
    expect(environmentValue('a"b\\c$d`e')).toBe('"a\\"b\\\\c\\$d\\`e"');
    expect(() => environmentValue('a\nb')).toThrow(/line break/);
  });

  it('runs the app as user app in a hardened unit', () => {
    const unit = file(phase, '/etc/systemd/system/app.service')?.content ?? '';
    for (const line of [
      'User=app',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'ProtectKernelTunables=yes',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'EnvironmentFile=/etc/app/app.env',
      'ExecStart=/usr/bin/python3 /opt/app/current/app.py',
      'Restart=on-failure',
      'CapabilityBoundingSet=',
      'PrivateUsers=yes',
      'MemoryDenyWriteExecute=yes',
      'SystemCallFilter=@system-service',
      'SystemCallArchitectures=native',
      'ProtectProc=invisible',
      'UMask=0077',
    ])
      expect(unit.split('\n')).toContain(line);
    // The app serves and reaches the network: it cannot have a private one.
    expect(unit).not.toMatch(/^PrivateNetwork=/m);
  });

  it('gets an exposure of 2.5 or less from systemd-analyze security (run offline on the rendered unit)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-app-unit-'));
    writeFileSync(join(dir, 'app.service'), file(phase, '/etc/systemd/system/app.service')?.content ?? '');
    const analyze = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', join(dir, 'app.service')], { encoding: 'utf8' });
    if (analyze.error) throw new Error(`systemd-analyze could not run (${analyze.error.message}): install systemd (the lab needs it too)`);
    const overall = /Overall exposure level for app\.service: (\d+\.\d)/.exec(analyze.stdout);
    expect(overall, analyze.stdout + analyze.stderr).not.toBeNull();
    expect(Number(overall?.[1]), analyze.stdout).toBeLessThanOrEqual(2.5);
  });

  it('creates the app user and reloads systemd only when needed', () => {
    const commands = phase.resources.filter((r): r is CommandResource => r.kind === 'command');
    expect(commands.find((c) => c.name === 'system user app')).toMatchObject({ unless: 'id -u app' });
  });

  it('reloads systemd unless the unit on disk is the desired one and systemd has loaded it as it is', () => {
    const reload = phase.resources.find((r): r is CommandResource => r.kind === 'command' && r.script === 'systemctl daemon-reload');
    const unit = phase.resources.find((r): r is FileResource => r.kind === 'file' && r.path === '/etc/systemd/system/app.service');
    const dir = mkdtempSync(join(tmpdir(), 'infra-app-guard-'));
    const holds = (onDisk: string, systemctlSays: string): boolean => {
      writeFileSync(join(dir, 'app.service'), onDisk);
      writeFileSync(join(dir, 'systemctl'), `#!/bin/bash\nprintf '%s\\n' ${systemctlSays}\n`);
      chmodSync(join(dir, 'systemctl'), 0o755);
      const guard = String(reload?.unless).replaceAll('/etc/systemd/system/app.service', join(dir, 'app.service'));
      return spawnSync('bash', ['-c', guard], { env: { PATH: `${dir}:/usr/bin:/bin` } }).status === 0;
    };
    const desired = unit?.content ?? '';
    expect(holds(desired, 'LoadState=loaded NeedDaemonReload=no')).toBe(true);
    expect(holds(desired, 'NeedDaemonReload=no LoadState=loaded')).toBe(true);
    expect(holds(desired, 'LoadState=loaded NeedDaemonReload=yes')).toBe(false);
    expect(holds(desired, 'LoadState=not-found NeedDaemonReload=no')).toBe(false);
    expect(holds(desired + '# edited\n', 'LoadState=loaded NeedDaemonReload=no')).toBe(false);
  });

  it('refuses to render without the db password', () => {
    expect(() => appPhase(testInventory(), hostOf(testInventory(), 'app1'), {})).toThrow(/database secrets/);
  });
});
