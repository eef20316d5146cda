import { relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { infraInProcess } from './cli-in-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;


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
      `${file}:7:13 db.password: a secret must not be written in clear in the inventory; use env:NAME, file:PATH or generate`,
      `${file}:13:13 hosts.web1.roles[0]: unknown role "wbe" (expected lb, web, app, db)`,
      `${file}:15:14 hosts.db1.address: invalid IPv4 address "10.0.0.300" (expected four numbers 0-255, e.g. 10.0.0.11)`,
    ]);
  });

  it('prints ok and the hosts per role for a valid inventory, and exits 0', async () => {
    const { code, stdout } = await infraInProcess('validate', `${ROOT}inventory.example.yaml`);
    expect(code).toBe(0);
    expect(stdout).toBe('ok: 8 hosts (lb: lb1, lb2; web: web1, web2; app: app1, app2; db: db1, db2)\n');
  });

  it('prints {ok, issues} with --json', async () => {
    const bad = await infraInProcess('--json', 'validate', `${ROOT}test/fixtures/inventories/many-problems.yaml`);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; issues: { line: number; path: string }[] };
    expect(report.ok).toBe(false);
    expect(report.issues.map((issue) => `${issue.line} ${issue.path}`)).toEqual([
      '7 db.password',
      '13 hosts.web1.roles[0]',
      '15 hosts.db1.address',
    ]);
    const good = await infraInProcess('--json', 'validate', `${ROOT}test/fixtures/inventories/minimal.yaml`);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({ ok: true, issues: [], warnings: [] });
  });

  it('explains itself with an example in --help', async () => {
    const { code, stdout } = await infraInProcess('validate', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: infra validate [options] <inventory>');
    expect(stdout).toContain('$ infra validate inventory.yaml');
  });
});
