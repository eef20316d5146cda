import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labReset } from '../../src/lab/lab.js';
import { BUILTIN_TEMPLATES_DIR } from '../../src/roles/render.js';
import {
  LAB_DIR,
  LAB_INVENTORY,
  REPLICA_FIELDS,
  REPLICA_STATUS_COMMAND,
  labHosts,
  labInventoryVariant,
  mustOnHost,
  onHost,
  parseReport,
  runInfra,
  vipHolders,
  waitFor,
  type LabHost,
  told,
} from './helpers.js';
import { getSite, startLoad, type SiteTarget } from './load.js';

/**
 * The whole stack on real hosts: from bare lab hosts, one provision builds lb pair + VIP, nginx
 * with TLS, app, MariaDB primary and replica; the site answers through the VIP with data from the
 * database; failover and rolling changes lose no request.
 */
const DOMAIN = 'www.foobar.com';
const VIP = '10.77.0.100';
let hosts: LabHost[];
let site: SiteTarget;

/** A copy of the built-in templates with `edit` applied to some, for a change to roll out. */
async function editedTemplates(edits: Record<string, (text: string) => string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-tpl-'));
  await cp(BUILTIN_TEMPLATES_DIR, dir, { recursive: true });
  for (const [name, edit] of Object.entries(edits)) {
    await writeFile(join(dir, name), edit(await readFile(join(dir, name), 'utf8')));
  }
  return dir;
}

beforeAll(async () => {
  // This file starts a new deployment: bare hosts and no infra state (CA, secrets) from earlier runs.
  await labReset({});
  await rm(join(LAB_DIR, '.infra'), { recursive: true, force: true });
  await rm(join(LAB_DIR, 'infra-state.age'), { force: true });
  hosts = await labHosts();
});

describe('the web stack from bare hosts', () => {
  it('builds the whole stack in one provision, and the site answers through the VIP from the database', async () => {
    const result = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(result.code, told(result)).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`DNS: publish ${DOMAIN.replace(/\./g, '\\.')}\\.? A ${VIP.replace(/\./g, '\\.')}`));
    // keepalived elects its master seconds after it starts: the run waits for it, so the VIP is
    // already held, by one lb host (without preemption it then stays there).
    expect(await vipHolders(hosts, VIP)).toHaveLength(1);
    site = { address: VIP, domain: DOMAIN, ca: await readFile(join(LAB_DIR, '.infra', 'ca', 'ca.crt'), 'utf8') };
    // Each answer counts the visits on the replica; the first visit may not have reached it yet.
    let body = { app_host: '', db_host: '', visits: 0 };
    await waitFor('a visit read back from the replica', async () => {
      const answer = await getSite(site);
      expect(answer.status).toBe(200);
      body = JSON.parse(answer.body) as typeof body;
      return body.visits > 0;
    });
    expect(['app1', 'app2']).toContain(body.app_host);
    expect(body.db_host).toBe('db2');
  });

  it("answers curl as the README says, with infra's CA", async () => {
    const curl = await new Promise<string>((resolve, reject) => {
      import('node:child_process').then(({ execFile }) =>
        execFile(
          'curl',
          ['-fsS', '--cacert', join(LAB_DIR, '.infra', 'ca', 'ca.crt'), '--resolve', `${DOMAIN}:443:${VIP}`, `https://${DOMAIN}/`],
          (err, out) => (err ? reject(err) : resolve(out)),
        ),
      );
    });
    expect(curl).toMatch(/app host app[12], read from db host db2: \d+ visits/);
  });

  it("replicates the primary's rows to the replica", async () => {
    const db1 = hosts.find((h) => h.name === 'db1') as LabHost;
    const db2 = hosts.find((h) => h.name === 'db2') as LabHost;
    const onPrimary = await mustOnHost(db1.address, 'mysql -N -e "SELECT COUNT(*) FROM app.visits"');
    await waitFor(
      'the replica to catch up',
      async () => (await mustOnHost(db2.address, 'mysql -N -e "SELECT COUNT(*) FROM app.visits"')).trim() >= onPrimary.trim(),
    );
    const status = await mustOnHost(db2.address, REPLICA_STATUS_COMMAND);
    expect(status).toMatch(new RegExp(`${REPLICA_FIELDS.io}: Yes`));
    expect(status).toMatch(new RegExp(`${REPLICA_FIELDS.sql}: Yes`));
    expect(status).toMatch(/Last_Error: \n/);
  });

  it('changes nothing on a second run', async () => {
    const result = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
    const report = parseReport(result);
    expect(result.code, result.stdout).toBe(0);
    for (const host of report.hosts)
      expect({ host: host.host, changed: host.changed, status: host.status }).toEqual({ host: host.host, changed: 0, status: 'ok' });
  });

  it('records each run in a report and an audit line on each host it changed; infra history lists them', async () => {
    const history = await runInfra(['history', LAB_INVENTORY, '--json']);
    expect(history.code, history.stderr).toBe(0);
    const { records } = JSON.parse(history.stdout) as {
      records: { command: string; ok: boolean; hosts: { host: string; status: string; changed: number }[] }[];
    };
    expect(records.map((r) => r.command)).toEqual(['provision', 'provision']);
    expect(records[0]?.hosts.map((h) => h.changed)).toEqual(Array(8).fill(0));
    expect(records[1]?.hosts.map((h) => h.status)).toEqual(Array(8).fill('changed'));
    const lb1 = hosts.find((h) => h.name === 'lb1') as LabHost;
    const audit = (await mustOnHost(lb1.address, 'cat /var/log/infra/audit.log')).trim().split('\n');
    // Only the first run changed lb1.
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+ root@\S+ from 10\.77\.0\.1 infra \d+\.\d+\.\d+ provision: .*create package haproxy.*reload:haproxy/);
    const text = await runInfra(['history', LAB_INVENTORY]);
    expect(text.stdout.split('\n')[0]).toMatch(/ provision +ok .* no change$/);
  });
});

describe('rolling changes', () => {
  it('rolls a change of the nginx and app templates with no failed request under load', async () => {
    const templates = await editedTemplates({
      'web/site.conf.ejs': (text) => text.replace(/(# <%- managedHeader %>\n)/, '$1# rolled out under load\n'),
      'app/app.service.ejs': (text) => text.replace(/(\[Service\]\n)/, '$1Environment=ROLLED=1\n'),
    });
    const inventory = await labInventoryVariant((doc) => {
      doc.templates_dir = templates;
    });
    const load = startLoad(site, 60);
    const result = await runInfra(['provision', inventory, '--yes', '--json']);
    await new Promise((r) => setTimeout(r, 2000));
    const traffic = await load.stop();
    const report = parseReport(result);
    expect(result.code, told(result)).toBe(0);
    for (const name of ['web1', 'web2', 'app1', 'app2']) {
      expect(report.hosts.find((h) => h.host === name)?.status, name).toBe('changed');
    }
    expect(traffic.sent / traffic.seconds).toBeGreaterThanOrEqual(50);
    expect(traffic.failures).toEqual([]);
    expect(traffic.failed).toBe(0);
    // Put the built-in templates back for the tests that follow.
    const back = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(back.code, back.stdout).toBe(0);
  });

  it('--limit web touches only the web hosts', async () => {
    const templates = await editedTemplates({
      'web/site.conf.ejs': (text) => text.replace(/(# <%- managedHeader %>\n)/, '$1# limited change\n'),
      'app/app.service.ejs': (text) => text.replace(/(\[Service\]\n)/, '$1Environment=LIMITED=1\n'),
    });
    const inventory = await labInventoryVariant((doc) => {
      doc.templates_dir = templates;
    });
    const result = await runInfra(['provision', inventory, '--limit', 'web', '--yes', '--json']);
    const report = parseReport(result);
    expect(result.code, result.stdout).toBe(0);
    expect(report.hosts.map((h) => h.host).sort()).toEqual(['web1', 'web2']);
    const app1 = hosts.find((h) => h.name === 'app1') as LabHost;
    expect(await mustOnHost(app1.address, 'cat /etc/systemd/system/app.service')).not.toContain('LIMITED');
    const web1 = hosts.find((h) => h.name === 'web1') as LabHost;
    expect((await onHost(web1.address, 'grep -rl "limited change" /etc/nginx/sites-available')).code).toBe(0);
    const back = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(back.code, back.stdout).toBe(0);
  });
});
