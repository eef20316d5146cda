import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LAB_DIR,
  LAB_INVENTORY,
  ROOT,
  labHosts,
  labInventoryVariant,
  mustOnHost,
  parseReport,
  runInfra,
  type CommandResult,
  type LabHost,
  told,
} from './helpers.js';
import { getSite, startLoad, type SiteTarget } from './load.js';

/**
 * App releases and `infra rollback` on the stack 30-stack.test.ts leaves provisioned (every app
 * host has deployed one release, the one of examples/app): a changed app is deployed, rolled back
 * under load through the VIP with no failed request, rolled forward again by a second rollback,
 * and put back by a provision; deploys beyond app.keep_releases leave only that many releases.
 */
const DOMAIN = 'www.foobar.com';
const VIP = '10.77.0.100';
/** What the changed app adds to each answer; the app of examples/app answers without it. */
const MARK = 'changed-for-rollback';
let apps: LabHost[];
let site: SiteTarget;

interface RollbackJson {
  ok: boolean;
  hosts: { host: string; from: string; to: string; status: string; error?: string }[];
}

function parseRollback(result: CommandResult): RollbackJson {
  try {
    return JSON.parse(result.stdout) as RollbackJson;
  } catch {
    throw new Error(`rollback did not print a JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** A copy of examples/app whose answers carry `release` (and, when given, a VERSION file making it a release of its own). */
async function changedApp(version?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-app-'));
  await cp(join(ROOT, 'examples', 'app'), dir, { recursive: true });
  const app = await readFile(join(dir, 'app.py'), 'utf8');
  const changed = app.replace('body = {"app_host": HOSTNAME,', `body = {"release": "${MARK}", "app_host": HOSTNAME,`);
  if (changed === app) throw new Error('examples/app/app.py no longer builds its answer as this test expects: update changedApp');
  await writeFile(join(dir, 'app.py'), changed);
  if (version !== undefined) await writeFile(join(dir, 'VERSION'), `${version}\n`);
  return dir;
}

/** The `release` of the answers to a dozen requests through the VIP (both app hosts answer some). */
async function releasesServed(): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const answer = await getSite(site);
    expect(answer.status, answer.body).toBe(200);
    seen.add((JSON.parse(answer.body) as { release?: string }).release ?? 'examples/app');
  }
  return seen;
}

async function currentRelease(app: LabHost): Promise<string> {
  return (await mustOnHost(app.address, 'readlink /opt/app/current')).trim().replace(/^\/opt\/app\/releases\//, '');
}

async function history(app: LabHost): Promise<string[]> {
  return (await mustOnHost(app.address, 'cat /opt/app/releases/.history')).trim().split('\n');
}

async function provision(inventory: string): Promise<void> {
  const result = await runInfra(['provision', inventory, '--yes']);
  expect(result.code, told(result)).toBe(0);
}

/** Rolls back with clients sending at least 50 requests a second through the VIP, none of which may fail. */
async function rollbackUnderLoad(): Promise<RollbackJson> {
  const load = startLoad(site, 60);
  const result = await runInfra(['rollback', LAB_INVENTORY, '--yes', '--json']);
  await new Promise((r) => setTimeout(r, 2000));
  const traffic = await load.stop();
  const report = parseRollback(result);
  expect(result.code, told(result)).toBe(0);
  expect(traffic.sent / traffic.seconds).toBeGreaterThanOrEqual(50);
  expect(traffic.failures).toEqual([]);
  expect(traffic.failed).toBe(0);
  return report;
}

beforeAll(async () => {
  apps = (await labHosts()).filter((host) => host.roles.includes('app'));
  expect(apps.map((app) => app.name)).toEqual(['app1', 'app2']);
  site = { address: VIP, domain: DOMAIN, ca: await readFile(join(LAB_DIR, '.infra', 'ca', 'ca.crt'), 'utf8') };
});

describe('infra rollback', () => {
  let original: string;
  let changed: string;

  it('refuses, naming each host and changing nothing, while the app hosts have only ever had one release', async () => {
    original = await currentRelease(apps[0] as LabHost);
    for (const app of apps) expect(await history(app)).toEqual([original]);
    const result = await runInfra(['rollback', LAB_INVENTORY, '--yes']);
    expect(result.code, told(result)).toBe(1);
    expect(result.stderr).toMatch(/nothing was changed/);
    for (const app of apps) {
      expect(result.stderr).toContain(`${app.name}: no release before ${original}`);
      expect(await currentRelease(app)).toBe(original);
    }
  });

  it("deploys a changed app as a new release, recorded after the first in each host's history", async () => {
    const source = await changedApp();
    await provision(
      await labInventoryVariant((doc) => {
        doc.app.source = source;
      }),
    );
    changed = await currentRelease(apps[0] as LabHost);
    expect(changed).not.toBe(original);
    for (const app of apps) {
      expect(await currentRelease(app)).toBe(changed);
      expect(await history(app)).toEqual([original, changed]);
      // Written by root, readable by all, as the releases themselves.
      expect((await mustOnHost(app.address, 'stat -c "%U %a" /opt/app/releases/.history')).trim()).toBe('root 644');
    }
    expect(await releasesServed()).toEqual(new Set([MARK]));
  });

  it('puts the previous release back on every app host under load, with no failed request', async () => {
    const report = await rollbackUnderLoad();
    expect(report.ok).toBe(true);
    expect(report.hosts).toEqual(apps.map((app) => ({ host: app.name, from: changed, to: original, status: 'rolled-back' })));
    for (const app of apps) {
      expect(await currentRelease(app)).toBe(original);
      expect(await history(app)).toEqual([original, changed, original]);
    }
    expect(await releasesServed()).toEqual(new Set(['examples/app']));
  });

  it('goes forward again on a second rollback, under load, with no failed request', async () => {
    const report = await rollbackUnderLoad();
    expect(report.hosts).toEqual(apps.map((app) => ({ host: app.name, from: original, to: changed, status: 'rolled-back' })));
    for (const app of apps) expect(await currentRelease(app)).toBe(changed);
    expect(await releasesServed()).toEqual(new Set([MARK]));
  });

  it("leaves the inventory's release to provision: check reports the hosts as drifted, and provision puts it back", async () => {
    const check = await runInfra(['check', LAB_INVENTORY]);
    expect(check.code, told(check)).toBe(2);
    for (const app of apps) expect(check.stdout).toMatch(new RegExp(`^${app.name}\\s+drifted`, 'm'));
    await provision(LAB_INVENTORY);
    for (const app of apps) expect(await currentRelease(app)).toBe(original);
    expect(await releasesServed()).toEqual(new Set(['examples/app']));
    const after = await runInfra(['check', LAB_INVENTORY]);
    expect(after.code, told(after)).toBe(0);
  });
});

describe('app.keep_releases', () => {
  it('after more deploys than it keeps, leaves only that many releases, and check finds nothing to change', async () => {
    let inventory = '';
    for (const version of ['1', '2', '3']) {
      const source = await changedApp(version);
      inventory = await labInventoryVariant((doc) => {
        doc.app.source = source;
        doc.app.keep_releases = 2;
      });
      await provision(inventory);
    }
    for (const app of apps) {
      const releases = (await mustOnHost(app.address, 'ls -1 /opt/app/releases')).trim().split('\n');
      const [previous, current] = (await history(app)).slice(-2);
      expect(releases.sort()).toEqual([previous, current].sort());
      expect(await currentRelease(app)).toBe(current);
    }
    const check = await runInfra(['check', inventory]);
    expect(check.code, told(check)).toBe(0);
    const again = await runInfra(['provision', inventory, '--yes', '--json']);
    expect(again.code, told(again)).toBe(0);
    for (const host of parseReport(again).hosts) expect({ host: host.host, changed: host.changed }).toEqual({ host: host.host, changed: 0 });
  });

  it('is put back to the lab inventory by a provision (its release deployed again), after which check exits 0', async () => {
    await provision(LAB_INVENTORY);
    expect(await releasesServed()).toEqual(new Set(['examples/app']));
    const check = await runInfra(['check', LAB_INVENTORY]);
    expect(check.code, told(check)).toBe(0);
  });
});
