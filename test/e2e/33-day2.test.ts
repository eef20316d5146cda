import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labStatus, labUp } from '../../src/lab/lab.js';
import { DEFAULT_COUNTS } from '../../src/lab/plan.js';
import {
  LAB_DIR,
  LAB_INVENTORY,
  labHosts,
  type CommandResult,
  labInventoryVariant,
  mustOnHost,
  parseReport,
  runInfra,
  vipHolders,
  waitFor,
  type LabHost,
  told,
} from './helpers.js';
import { startLoad, type LoadResult, type SiteTarget } from './load.js';

/**
 * Day 2 on real hosts, under load through the VIP (full TLS handshakes, a new connection per
 * request). Starting point: the stack of 30-stack.test.ts on lb1 lb2 web1 web2 app1 app2 db1 db2.
 * haproxy stopping or dying on the VIP's holder costs at most a second of requests, and its return
 * none; the fleet grows by a web, an app and a db host and shrinks back with no failed request,
 * and nothing of a removed host is left on the others.
 */
const DOMAIN = 'www.foobar.com';
const RATE = 60;
let hosts: LabHost[];
let vip: string;
let site: SiteTarget;
const host = (name: string): LabHost => hosts.find((h) => h.name === name) as LabHost;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `during` under load, and returns what the load saw once the asked rate is known to have
 * held. The figures go to the log for the record (bench/RESULTS.md quotes them).
 */
async function underLoad(what: string, during: () => Promise<void>): Promise<LoadResult> {
  const load = startLoad(site, RATE);
  let traffic: LoadResult;
  try {
    await sleep(2000);
    await during();
    await sleep(3000);
  } finally {
    traffic = await load.stop();
  }
  process.stderr.write(`[load] ${what}: ${traffic.sent} requests in ${traffic.seconds.toFixed(1)} s, ${traffic.failed} failed\n`);
  expect(traffic.sent / traffic.seconds, `the rate did not hold: ${JSON.stringify(traffic)}`).toBeGreaterThanOrEqual(50);
  return traffic;
}

/** `infra provision` of `inventory` under load: it succeeds and not one request fails. */
async function provisionLosingNothing(what: string, inventory: string): Promise<CommandResult> {
  let result: CommandResult = { code: -1, stdout: '', stderr: '' };
  const traffic = await underLoad(what, async () => {
    result = await runInfra(['provision', inventory, '--yes', '--json']);
  });
  expect(result.code, told(result)).toBe(0);
  expect(traffic.failures).toEqual([]);
  expect(traffic.failed).toBe(0);
  return result;
}

async function rowCount(address: string): Promise<number> {
  return Number((await mustOnHost(address, 'mysql -N -e "SELECT COUNT(*) FROM app.visits"')).trim());
}

beforeAll(async () => {
  hosts = await labHosts();
  vip = (await labStatus()).vip as string;
  site = { address: vip, domain: DOMAIN, ca: await readFile(join(LAB_DIR, '.infra', 'ca', 'ca.crt'), 'utf8') };
});

describe('haproxy stops or dies on the VIP holder', () => {
  it('moves the VIP within a second when haproxy stops, and loses nothing when it comes back (the VIP stays)', async () => {
    const [holder] = await vipHolders(hosts, vip);
    expect(holder).toBeDefined();
    const holderAddress = host(holder as string).address;
    let stop: LoadResult;
    try {
      stop = await underLoad('haproxy stopped on the VIP holder', async () => {
        await mustOnHost(holderAddress, 'systemctl stop haproxy');
        await waitFor('the VIP to move to the other lb host', async () => {
          const now = await vipHolders(hosts, vip);
          return now.length === 1 && now[0] !== holder;
        });
      });
    } catch (err) {
      await mustOnHost(holderAddress, 'systemctl start haproxy');
      throw err;
    }
    // At most 1 s of the load's requests; the VIP leaves before haproxy closes its sockets.
    expect(stop.failed, stop.failures.join('\n')).toBeLessThanOrEqual(RATE);
    const [taker] = await vipHolders(hosts, vip);

    const back = await underLoad('haproxy back on the old holder', async () => {
      await mustOnHost(holderAddress, 'systemctl start haproxy');
      await waitFor('keepalived on the old holder to leave FAULT', async () =>
        (await mustOnHost(holderAddress, 'journalctl -u keepalived -n 1 --no-pager -o cat')).includes('Entering BACKUP STATE'),
      );
    });
    expect(back.failures).toEqual([]);
    expect(back.failed).toBe(0);
    expect(await vipHolders(hosts, vip)).toEqual([taker]);
  });

  it('moves the VIP within a second when haproxy is killed, and systemd starts haproxy again', async () => {
    const [holder] = await vipHolders(hosts, vip);
    const killed = await underLoad('haproxy killed on the VIP holder', async () => {
      await mustOnHost(host(holder as string).address, 'pkill -KILL -x haproxy');
      await waitFor('the VIP to move to the other lb host', async () => {
        const now = await vipHolders(hosts, vip);
        return now.length === 1 && now[0] !== holder;
      });
    });
    expect(killed.failed, killed.failures.join('\n')).toBeLessThanOrEqual(RATE);
    await waitFor(
      'haproxy to run again',
      async () => (await mustOnHost(host(holder as string).address, 'systemctl is-active haproxy || true')).trim() === 'active',
    );
    const check = await runInfra(['check', LAB_INVENTORY]);
    expect(check.code, told(check)).toBe(0);
  });
});

describe('growing and shrinking the fleet', () => {
  const added = ['web3', 'app3', 'db3'];

  it('adds a web, an app and a db host under load with no failed request; the new replica holds every row', async () => {
    await labUp({ counts: { ...DEFAULT_COUNTS, web: 3, app: 3, db: 3 } });
    hosts = await labHosts();
    expect(hosts.map((h) => h.name)).toEqual(expect.arrayContaining(added));
    const result = await provisionLosingNothing('growing 2/2/2 to 3/3/3', LAB_INVENTORY);
    for (const name of added) expect(parseReport(result).hosts.find((h) => h.host === name)?.status, name).toBe('changed');
    const onPrimary = await rowCount(host('db1').address);
    expect(onPrimary).toBeGreaterThan(0);
    await waitFor('db3 to hold every row of the primary', async () => (await rowCount(host('db3').address)) >= onPrimary);
    expect(await mustOnHost(host('lb1').address, 'cat /etc/haproxy/haproxy.cfg')).toContain(`server web3 ${host('web3').address}:443`);
    const check = await runInfra(['check', LAB_INVENTORY]);
    expect(check.code, told(check)).toBe(0);
  });

  it('removes them under load with no failed request, and leaves none of their openings or accounts on any host', async () => {
    const gone = added.map((name) => host(name));
    const inventory = await labInventoryVariant((doc) => {
      for (const name of added) delete doc.hosts[name];
      doc.db.replicas = (doc.db.replicas as string[]).filter((name) => !added.includes(name));
    });
    await provisionLosingNothing('shrinking 3/3/3 to 2/2/2', inventory);

    const remaining = hosts.filter((h) => !added.includes(h.name));
    for (const h of remaining) {
      const rules = await mustOnHost(h.address, 'cat /etc/ufw/user.rules');
      for (const old of gone) expect(rules, `${h.name} still opens to ${old.name}`).not.toContain(` ${old.address} `);
    }
    for (const db of ['db1', 'db2']) {
      const accounts = await mustOnHost(host(db).address, `mysql -N -e "SELECT CONCAT(User, '@', Host) FROM mysql.user"`);
      for (const old of gone) expect(accounts, `${db} still has an account of ${old.name}`).not.toContain(`@${old.address}\n`);
    }
    for (const lb of ['lb1', 'lb2']) expect(await mustOnHost(host(lb).address, 'cat /etc/haproxy/haproxy.cfg')).not.toContain('web3');
    for (const web of ['web1', 'web2'])
      expect(await mustOnHost(host(web).address, 'cat /etc/nginx/sites-available/www.foobar.com')).not.toContain(host('app3').address);
    const check = await runInfra(['check', inventory]);
    expect(check.code, told(check)).toBe(0);

    // The lab's own inventory is back to eight hosts; the run it makes changes nothing.
    await labUp({ counts: DEFAULT_COUNTS });
    hosts = await labHosts();
    const again = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
    expect(again.code, again.stdout).toBe(0);
    for (const h of parseReport(again).hosts) expect({ host: h.host, changed: h.changed }).toEqual({ host: h.host, changed: 0 });
  });
});
