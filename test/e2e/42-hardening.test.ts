import { cp, mkdir, mkdtemp, readFile, rename, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { quoteCommand, quoteWord } from '../../src/core/shell.js';
import { loadInventory } from '../../src/inventory/load.js';
import { labStatus } from '../../src/lab/lab.js';
import { BUILTIN_TEMPLATES_DIR } from '../../src/roles/render.js';
import { LAB_DIR, LAB_INVENTORY, labHosts, labInventoryVariant, mustOnHost, parseReport, runInfra, type LabHost, told } from './helpers.js';
import { getSite, startLoad, type SiteTarget } from './load.js';

/**
 * Issue 16 on the stack the files before leave converged: the app unit's sandbox rates an exposure
 * of 2.5 or less on every app host while the example app still serves, stops gracefully and rolls
 * under load; and a certificate rotation leaves no old private key on any web host, and no drift:
 * not after a success, not after a failure that restored the previous pair from its copy, and a
 * copy left by an earlier infra is drift that provision removes. Leaves the stack converged.
 */
const DOMAIN = 'www.foobar.com';
const KEY_FILE = `/etc/ssl/infra/${DOMAIN}.key`;
const MAX_EXPOSURE = 2.5;
let hosts: LabHost[];
let site: SiteTarget;
let appPort: number;

const withRole = (role: string) => hosts.filter((host) => host.roles.includes(role));

/** The overall exposure `systemd-analyze security` gives app.service on the host, and its full output. */
async function appExposure(app: LabHost): Promise<{ exposure: number; output: string }> {
  const output = await mustOnHost(app.address, 'systemd-analyze security --no-pager app.service');
  const overall = /Overall exposure level for app\.service: (\d+\.\d)/.exec(output.trim().split('\n').at(-1) ?? '');
  if (!overall) throw new Error(`${app.name}: systemd-analyze printed no overall exposure:\n${output}`);
  return { exposure: Number(overall[1]), output };
}

async function expectCheckClean(): Promise<void> {
  const check = await runInfra(['check', LAB_INVENTORY]);
  expect(check.code, told(check)).toBe(0);
}

beforeAll(async () => {
  hosts = await labHosts();
  const loaded = await loadInventory(LAB_INVENTORY);
  if (!loaded.ok) throw new Error(`the lab inventory ${LAB_INVENTORY} does not load`);
  appPort = loaded.inventory.app.port;
  const vip = (await labStatus()).vip as string;
  site = { address: vip, domain: DOMAIN, ca: await readFile(join(LAB_DIR, '.infra', 'ca', 'ca.crt'), 'utf8') };
  expect(withRole('app').length, 'the lab has no app host').toBeGreaterThan(0);
  expect(withRole('web').length, 'the lab has no web host').toBeGreaterThan(0);
});

describe('the hardened app unit', () => {
  it(`rates an exposure of ${MAX_EXPOSURE} or less on every app host, with its sandbox in force, while the site answers through the VIP`, async () => {
    for (const app of withRole('app')) {
      const { exposure, output } = await appExposure(app);
      expect(exposure, `${app.name}:\n${output}`).toBeLessThanOrEqual(MAX_EXPOSURE);
      // The running process, not only the unit file: no capability, a seccomp filter, no new privileges.
      const status = await mustOnHost(
        app.address,
        'grep -E "^(CapEff|CapBnd|Seccomp|NoNewPrivs):" /proc/$(systemctl show -p MainPID --value app.service)/status',
      );
      expect(
        status
          .split('\n')
          .filter(Boolean)
          .map((line) => line.replace(/\s+/g, ' ')),
        app.name,
      ).toEqual(['CapEff: 0000000000000000', 'CapBnd: 0000000000000000', 'NoNewPrivs: 1', 'Seccomp: 2']);
      const health = await mustOnHost(app.address, quoteCommand(['curl', '-fsS', `http://${app.address}:${appPort}/health`]));
      expect(health, app.name).toBe('ok\n');
    }
    const served = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const answer = await getSite(site);
      expect(answer.status, answer.body).toBe(200);
      served.add((JSON.parse(answer.body) as { app_host: string }).app_host);
    }
    for (const host of served) expect(withRole('app').map((app) => app.name)).toContain(host);
  });

  it('restarts host by host under load with no failed request, each app stopping on its SIGTERM', async () => {
    expect(withRole('app').length, 'a rolling restart without a failed request needs two app hosts').toBeGreaterThanOrEqual(2);
    const templates = await mkdtemp(join(tmpdir(), 'infra-tpl-'));
    await cp(BUILTIN_TEMPLATES_DIR, templates, { recursive: true });
    const unitTemplate = join(templates, 'app', 'app.service.ejs');
    await writeFile(unitTemplate, (await readFile(unitTemplate, 'utf8')).replace(/(\[Service\]\n)/, '$1Environment=HARDENED_ROLL=1\n'));
    const inventory = await labInventoryVariant((doc) => {
      doc.templates_dir = templates;
    });
    const since = (await mustOnHost(withRole('app')[0]!.address, 'date -u "+%Y-%m-%d %H:%M:%S"')).trim();

    const load = startLoad(site, 50);
    const result = await runInfra(['provision', inventory, '--yes', '--json']);
    await new Promise((r) => setTimeout(r, 2000));
    const traffic = await load.stop();
    const report = parseReport(result);
    expect(result.code, told(result)).toBe(0);
    for (const app of withRole('app')) expect(report.hosts.find((h) => h.host === app.name)?.status, app.name).toBe('changed');
    expect(traffic.sent / traffic.seconds).toBeGreaterThanOrEqual(40);
    expect(traffic.failures).toEqual([]);
    expect(traffic.failed).toBe(0);

    // systemd's own account of each stop: the app exited by itself on SIGTERM, nothing was killed.
    for (const app of withRole('app')) {
      const journal = await mustOnHost(app.address, `journalctl -u app.service --since ${quoteWord(since)} --no-pager -o cat`);
      expect(journal, app.name).toContain('app.service: Deactivated successfully.');
      expect(journal, app.name).not.toMatch(/SIGKILL|status=9\/KILL|Failed with result/);
    }

    // The built-in templates back, for the files that follow.
    const back = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(back.code, told(back)).toBe(0);
    await expectCheckClean();
  });
});

describe('rotate-certs leaves no old private key', () => {
  /** A line of the key's base64 body: it appears in no other file unless the key was copied. */
  async function keyLine(web: LabHost): Promise<string> {
    const key = await mustOnHost(web.address, `cat ${quoteWord(KEY_FILE)}`);
    const line = key.split('\n').find((text) => /^[A-Za-z0-9+/=]{40,}$/.test(text));
    if (!line) throw new Error(`${web.name}: ${KEY_FILE} has no base64 body line`);
    return line;
  }

  /** Every file on the host's root file system holding `line` (the whole tree: a key file is small). */
  async function filesHolding(web: LabHost, line: string): Promise<string[]> {
    const find = `find / -xdev -type f -size -64k -exec grep -lF -e ${quoteWord(line)} {} + 2>/dev/null; true`;
    return (await mustOnHost(web.address, find)).split('\n').filter(Boolean).sort();
  }

  it('removes the previous pair on every web host once it serves the new one; the old key is in no file; check finds no drift', async () => {
    const webs = withRole('web');
    const oldLines = new Map(await Promise.all(webs.map(async (web) => [web.name, await keyLine(web)] as const)));
    const load = startLoad(site, 30);
    const result = await runInfra(['rotate-certs', LAB_INVENTORY, '--yes', '--json']);
    await new Promise((r) => setTimeout(r, 1000));
    const traffic = await load.stop();
    expect(result.code, told(result)).toBe(0);
    expect(traffic.failed).toBe(0);

    for (const web of webs) {
      const tlsDir = await mustOnHost(web.address, 'ls -A /etc/ssl/infra');
      expect(tlsDir.split('\n').filter(Boolean).sort(), web.name).toEqual(['ca.crt', `${DOMAIN}.crt`, `${DOMAIN}.key`]);
      const newLine = await keyLine(web);
      expect(newLine, `${web.name}: the key did not change`).not.toBe(oldLines.get(web.name));
      // Reported by path only: the lines themselves are keys.
      expect(await filesHolding(web, oldLines.get(web.name) as string), `${web.name}: files holding the old key`).toEqual([]);
      expect(await filesHolding(web, newLine), `${web.name}: files holding the new key`).toEqual([KEY_FILE]);
    }
    // The removed copies were never part of what infra manages.
    await expectCheckClean();
  });

  it('restores the previous pair from its copy when the rotation fails after the new pair is served, then removes the copy', async () => {
    const web = withRole('web')[0]!;
    const fingerprint = (address: string) =>
      mustOnHost(
        address,
        `${quoteCommand(['openssl', 's_client', '-connect', '127.0.0.1:8443', '-servername', DOMAIN])} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
      );
    const servedBefore = await fingerprint(web.address);
    const keyBefore = await mustOnHost(web.address, `sha256sum ${quoteWord(KEY_FILE)}`);
    // The store (the last step before the copies go) fails: a folder stands where infra's state keeps the host's key.
    const storedKey = join(LAB_DIR, '.infra', 'tls', `${web.name}.key`);
    await rename(storedKey, `${storedKey}.aside`);
    await mkdir(storedKey);
    let result;
    try {
      result = await runInfra(['rotate-certs', LAB_INVENTORY, '--limit', web.name, '--yes', '--json']);
    } finally {
      await rmdir(storedKey);
      await rename(`${storedKey}.aside`, storedKey);
    }
    expect(result.code, told(result)).toBe(1);
    const entry = (JSON.parse(result.stdout) as { hosts: { host: string; status: string; error?: string }[] }).hosts.find((h) => h.host === web.name);
    expect(entry?.status).toBe('failed');
    expect(entry?.error).toMatch(/EISDIR[^]*\nthe previous certificate was restored; \S+ is back in service$/);

    expect(await fingerprint(web.address)).toBe(servedBefore);
    expect(await mustOnHost(web.address, `sha256sum ${quoteWord(KEY_FILE)}`)).toBe(keyBefore);
    const tlsDir = await mustOnHost(web.address, 'ls -A /etc/ssl/infra');
    expect(tlsDir.split('\n').filter(Boolean).sort()).toEqual(['ca.crt', `${DOMAIN}.crt`, `${DOMAIN}.key`]);
    await expectCheckClean();
  });

  it('reports a previous key left on a web host (by a cut rotation, or an infra before this one) as drift, and provision removes it', async () => {
    const web = withRole('web')[0]!;
    const left = `${KEY_FILE}.infra-previous`;
    await mustOnHost(web.address, quoteCommand(['cp', '-a', '--', KEY_FILE, left]));
    const check = await runInfra(['check', LAB_INVENTORY]);
    expect(check.code, told(check)).toBe(2);
    expect(check.stdout).toContain(left);

    const provision = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(provision.code, told(provision)).toBe(0);
    expect(await mustOnHost(web.address, `ls -A /etc/ssl/infra`)).not.toContain('.infra-previous');
    await expectCheckClean();
  });
});
