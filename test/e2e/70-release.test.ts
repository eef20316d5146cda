import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAB_DISTROS } from '../../src/lab/distro.js';
import { labReset, labStatus } from '../../src/lab/lab.js';
import {
  E2E_DB,
  e2eRelease,
  LAB_DIR,
  LAB_INVENTORY,
  labHosts,
  mustOnHost,
  parseReport,
  REPLICA_STATUS_COMMAND,
  runInfra,
  STOP_REPLICA,
  waitFor,
  type LabHost,
  told,
} from './helpers.js';

/**
 * Issue #15's "done when", on the release the run's lab boots (e2eRelease: bookworm with MariaDB,
 * or INFRA_E2E_DISTRO=trixie with INFRA_E2E_DB_ENGINE=mysql or mariadb): from bare hosts one
 * provision builds the stack, the site answers through the VIP, db1 runs the lab's engine, the
 * replica replicates over TLS, a second run changes nothing, check exits 0 and finds the db drift
 * kinds of 35-check (a disabled exporter, an account made by hand, a stopped replica), which
 * provision repairs. Every engine-specific statement comes from the engine table.
 */
const DOMAIN = 'www.foobar.com';
const release = e2eRelease();
const engine = E2E_DB;
let hosts: LabHost[];
let vip: string;
const host = (name: string): LabHost => hosts.find((h) => h.name === name) as LabHost;
const timings: string[] = [];

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

interface CheckJson {
  exitCode: number;
  hosts: { host: string; drift: { phase: string; subject: string; message: string }[] }[];
}

async function checkJson(): Promise<{ code: number; report: CheckJson }> {
  const result = await runInfra(['check', LAB_INVENTORY, '--json']);
  try {
    return { code: result.code, report: JSON.parse(result.stdout) as CheckJson };
  } catch {
    throw new Error(`check printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
}

function driftOf(report: CheckJson, hostName: string): string[] {
  return (report.hosts.find((h) => h.host === hostName)?.drift ?? []).map((d) => `${d.phase}: ${d.subject}: ${d.message}`);
}

function curlSite(): Promise<string> {
  const args = ['-fsS', '--cacert', join(LAB_DIR, '.infra', 'ca', 'ca.crt'), '--resolve', `${DOMAIN}:443:${vip}`, `https://${DOMAIN}/`];
  return new Promise((resolve, reject) => execFile('curl', args, (err, out) => (err ? reject(err) : resolve(out))));
}

beforeAll(async () => {
  // A new deployment on bare hosts of the run's release, whatever earlier files left.
  await labReset({ ...release });
  await rm(join(LAB_DIR, '.infra'), { recursive: true, force: true });
  const status = await labStatus();
  expect(status.release).toEqual(release);
  if (!status.vip) throw new Error('this file needs a lab with two lb hosts (a VIP)');
  vip = status.vip;
  hosts = await labHosts();
});

describe(`${LAB_DISTROS[release.distro].title} with ${engine.title} from bare hosts`, () => {
  it('builds the stack in one provision, and the site answers through the VIP with data read back from the replica', async () => {
    const result = await timed('provision from bare', () => runInfra(['provision', LAB_INVENTORY, '--yes']));
    expect(result.code, told(result)).toBe(0);
    await waitFor('a visit read back from the replica', async () => /read from db host db2: [1-9]\d* visits/.test(await curlSite()));
  });

  it(`db1 runs ${engine.title}, on ${LAB_DISTROS[release.distro].title}`, async () => {
    const version = await mustOnHost(host('db1').address, "mysql -N -B -e 'SELECT VERSION()'");
    if (release.dbEngine === 'mysql') expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(/MariaDB/.test(version)).toBe(release.dbEngine === 'mariadb');
    expect(await mustOnHost(host('db1').address, '. /etc/os-release; echo $VERSION_CODENAME')).toBe(`${release.distro}\n`);
  });

  it('the replica replicates from db1 over TLS, the certificate verified, both threads running', async () => {
    const status = await mustOnHost(host('db2').address, REPLICA_STATUS_COMMAND);
    const fields = new Map(
      status.split('\n').map(
        (line) =>
          line
            .trim()
            .split(/:\s?(.*)/s)
            .slice(0, 2) as [string, string],
      ),
    );
    const expected = engine.replication.expected({ address: host('db1').address, port: '3306', user: 'repl' });
    expect(Object.fromEntries(Object.keys(expected).map((field) => [field, fields.get(field)]))).toEqual(expected);
  });

  it('a second run changes nothing', async () => {
    const report = parseReport(await timed('provision, nothing to do', () => runInfra(['provision', LAB_INVENTORY, '--yes', '--json'])));
    expect(report.ok).toBe(true);
    expect(report.hosts.map((h) => `${h.host}:${h.changed}`)).toEqual(hosts.map((h) => `${h.name}:0`));
  });

  it('check exits 0', async () => {
    const { code, report } = await timed('check', checkJson);
    expect(code, JSON.stringify(report, null, 2)).toBe(0);
  });

  it('check finds the db drift kinds it finds on MariaDB (35-check), and one provision repairs them', async () => {
    await mustOnHost(host('db1').address, 'systemctl disable -q prometheus-mysqld-exporter');
    await mustOnHost(host('db1').address, `mysql -e "CREATE USER 'by_hand'@'%' IDENTIFIED BY 'x'"`);
    await mustOnHost(host('db2').address, `mysql -e '${STOP_REPLICA}'`);
    const { code, report } = await checkJson();
    expect(code).toBe(2);
    expect(driftOf(report, 'db1')).toEqual([
      'db: service prometheus-mysqld-exporter: update: disabled → enabled',
      'cleanup: command drop db accounts infra did not create: create: not created by infra (keep them with db.extra_accounts): by_hand@%',
    ]);
    expect(driftOf(report, 'db2')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^db: replication: replica IO thread not running \(No\)/),
        expect.stringMatching(/^db: command replicates from db1: create/),
      ]),
    );
    const repaired = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(repaired.code, told(repaired)).toBe(0);
    expect((await checkJson()).code).toBe(0);
    expect(await mustOnHost(host('db2').address, `mysql -N -e "SELECT COUNT(*) FROM mysql.user WHERE User = 'by_hand'"`)).toBe('0\n');
    process.stderr.write(`[70-release] ${release.distro}/${release.dbEngine}: ${timings.join(', ')}\n`);
  });
});
