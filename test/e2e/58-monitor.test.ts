import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labStatus, labUp } from '../../src/lab/lab.js';
import { DEFAULT_COUNTS } from '../../src/lab/plan.js';
import { LAB_DIR, LAB_INVENTORY, labHosts, labInventoryVariant, mustOnHost, parseReport, runInfra, waitFor, type LabHost, told } from './helpers.js';
import { startLoad, type SiteTarget } from './load.js';

/**
 * The monitor role on real hosts. Starting point: the stack of the earlier files on lb1 lb2 web1
 * web2 app1 app2 db1 db2; the lab grows by mon1, which the provision turns into Prometheus and
 * Alertmanager scraping every host. The test reaches Prometheus's API from the controller, one of
 * the lab's admin sources. At the end mon1 leaves and the lab is back to its eight hosts.
 */
const DOMAIN = 'www.foobar.com';
const RATE = 20;
let hosts: LabHost[];
let prometheus: string;
const host = (name: string): LabHost => hosts.find((h) => h.name === name) as LabHost;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api<T>(path: string): Promise<T> {
  const response = await fetch(`${prometheus}${path}`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { data: T }).data;
}

async function instant(query: string): Promise<number | undefined> {
  const data = await api<{ result: { value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(query)}`);
  const value = data.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

interface Alert {
  labels: Record<string, string>;
  state: string;
}

const firing = async (name: string, hostName: string) =>
  (await api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.some(
    (alert) => alert.labels.alertname === name && alert.labels.host === hostName && alert.state === 'firing',
  );

beforeAll(async () => {
  await labUp({ counts: { ...DEFAULT_COUNTS, monitor: 1 } });
  hosts = await labHosts();
  prometheus = `http://${host('mon1').address}:9090`;
  const result = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
  expect(result.code, told(result)).toBe(0);
  expect(parseReport(result).hosts.find((h) => h.host === 'mon1')?.status).toBe('changed');
});

afterAll(async () => {
  // mon1 leaves: the exporters stop answering it, and the lab is back to its eight hosts.
  const inventory = await labInventoryVariant((doc) => {
    delete doc.hosts.mon1;
  });
  const result = await runInfra(['provision', inventory, '--yes', '--json']);
  expect(result.code, told(result)).toBe(0);
  await labUp({ counts: DEFAULT_COUNTS });
});

describe('Prometheus on the monitor host', () => {
  it('scrapes every exporter of every host, each target up', async () => {
    type Target = { labels: { job: string; host: string }; health: string; lastError: string };
    const expected = [
      ...hosts.map((h) => `node ${h.name}`),
      'haproxy lb1',
      'haproxy lb2',
      'nginx web1',
      'nginx web2',
      'mtail web1',
      'mtail web2',
      'mysqld db1',
      'mysqld db2',
    ].sort();
    let targets: Target[] = [];
    await waitFor(
      'every target scraped and up',
      async () => {
        targets = (await api<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets;
        return targets.length === expected.length && targets.every((target) => target.health === 'up');
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(targets.map((t) => `${t.labels.job} ${t.labels.host} ${t.health} ${t.lastError}`))}`);
    });
    expect(targets.map((target) => `${target.labels.job} ${target.labels.host}`).sort()).toEqual(expected);
  });

  it("gives the web tier's requests per second within 20% of a steady load through the VIP", async () => {
    const vip = (await labStatus()).vip as string;
    const site: SiteTarget = { address: vip, domain: DOMAIN, ca: await readFile(join(LAB_DIR, '.infra', 'ca', 'ca.crt'), 'utf8') };
    const load = startLoad(site, RATE);
    let measured: number | undefined;
    try {
      // The query's window (1 m) filled with the load, plus a scrape.
      await sleep(75_000);
      measured = await instant('sum(rate(infra_nginx_responses_total[1m]))');
    } finally {
      const traffic = await load.stop();
      expect(traffic.failed, traffic.failures.join('\n')).toBe(0);
    }
    expect(measured).toBeGreaterThanOrEqual(RATE * 0.8);
    expect(measured).toBeLessThanOrEqual(RATE * 1.2);
  });

  it('fires HaproxyDown within 90 s of haproxy stopping on lb2, and resolves it after provision', async () => {
    const lb2 = host('lb2').address;
    const stopped = Date.now();
    await mustOnHost(lb2, 'systemctl stop haproxy');
    try {
      await waitFor('HaproxyDown firing for lb2', () => firing('HaproxyDown', 'lb2'), 90_000);
      process.stderr.write(`[monitor] HaproxyDown fired ${((Date.now() - stopped) / 1000).toFixed(0)} s after haproxy stopped on lb2\n`);
    } finally {
      const result = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
      expect(result.code, told(result)).toBe(0);
    }
    expect((await mustOnHost(lb2, 'systemctl is-active haproxy')).trim()).toBe('active');
    await waitFor('HaproxyDown resolved', async () => !(await firing('HaproxyDown', 'lb2')), 60_000);
  });

  it('infra status prints the figures from Prometheus', async () => {
    const result = await runInfra(['status', LAB_INVENTORY]);
    expect(result.code, told(result)).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`mon1: Prometheus ${prometheus}`);
    expect(lines).toContainEqual(expect.stringMatching(/^requests\/s {4}through the VIP \d+\.\d {3}web1 \d+\.\d {3}web2 \d+\.\d$/));
    expect(lines).toContainEqual(expect.stringMatching(/^5xx {11}(\d+\.\d\d% of responses \(last 5 min\)|no requests in the last 5 min)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^replication {3}db2 \d+ s behind$/));
    expect(lines).toContainEqual(expect.stringMatching(/^certificate {3}web1 \d+ days left {3}web2 \d+ days left$/));
    expect(lines).toContainEqual(`targets       ${hosts.length + 8}/${hosts.length + 8} up`);
    expect(lines).toContainEqual(expect.stringMatching(/^alerts {8}/));
  });
});
