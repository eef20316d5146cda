import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { quoteCommand } from '../../src/core/shell.js';
import { loadInventory } from '../../src/inventory/load.js';
import { labStatus } from '../../src/lab/lab.js';
import { type CertificateAuthority, type CertificateSummary, describeCertificate, ensureCa, issueWebCertificate } from '../../src/tls/index.js';
import {
  E2E_DB,
  LAB_DIR,
  LAB_INVENTORY,
  labHosts,
  labInventoryVariant,
  mustOnHost,
  parseReport,
  runInfra,
  type CommandResult,
  type LabHost,
  told,
} from './helpers.js';
import { startLoad, type SiteTarget } from './load.js';

/**
 * rotate-certs on the stack 30-stack.test.ts leaves provisioned: every web host gets a new
 * certificate while clients keep sending requests through the VIP, none of which fails; bad
 * certificates are refused before any host is touched; a provision afterwards changes nothing;
 * --rotate-ca switches the web tier to a new CA for clients that hold the trust bundle.
 */
const DOMAIN = 'www.foobar.com';
const STATE_DIR = join(LAB_DIR, '.infra');
const DAY_MS = 24 * 60 * 60 * 1000;

interface CertificateFacts {
  serial: string;
  fingerprint: string;
  notAfter: string;
}

interface RotateReport {
  ok: boolean;
  dryRun: boolean;
  hosts: { host: string; status: string; reason: string; old: CertificateFacts | null; new: Partial<CertificateFacts>; error?: string }[];
  ca?: { step: string; bundle: string };
}

let webs: LabHost[];
let vip: string;

function parseRotateReport(result: CommandResult): RotateReport {
  try {
    return JSON.parse(result.stdout) as RotateReport;
  } catch {
    throw new Error(`rotate-certs did not print a JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** The leaf a web host serves on its local listener to a client asking for the domain, by a handshake run on the host. */
async function servedOnHost(web: LabHost): Promise<CertificateSummary> {
  const handshake = quoteCommand(['openssl', 's_client', '-connect', '127.0.0.1:8443', '-servername', DOMAIN]);
  return describeCertificate(await mustOnHost(web.address, `${handshake} </dev/null 2>/dev/null | openssl x509`));
}

async function servedFingerprints(): Promise<Record<string, string>> {
  const entries = await Promise.all(webs.map(async (web) => [web.name, (await servedOnHost(web)).sha256Fingerprint] as const));
  return Object.fromEntries(entries);
}

/** The SHA-256 fingerprint of the leaf a client gets through the VIP, after checking it against `ca` as a browser would. */
function servedThroughVip(ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: vip, port: 443, servername: DOMAIN, ca }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake through the VIP timed out')));
    socket.on('error', reject);
  });
}

/** Fingerprints seen over `count` new connections through the VIP (HAProxy spreads them over the web hosts). */
async function fingerprintsThroughVip(ca: string, count = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) seen.add(await servedThroughVip(ca));
  return seen;
}

/** A rotation leaves no `.infra-previous` copy (the old key above all) on any web host: only the pair in service and the CA. */
async function expectOnlyServedPair(): Promise<void> {
  for (const web of webs) {
    const files = (await mustOnHost(web.address, 'ls -A /etc/ssl/infra')).split('\n').filter(Boolean).sort();
    expect(files, web.name).toEqual(['ca.crt', `${DOMAIN}.crt`, `${DOMAIN}.key`]);
  }
}

async function expectProvisionNoop(): Promise<void> {
  const result = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
  const report = parseReport(result);
  expect(result.code, told(result)).toBe(0);
  for (const host of report.hosts)
    expect({ host: host.host, changed: host.changed, status: host.status }).toEqual({ host: host.host, changed: 0, status: 'ok' });
}

async function siteWith(caFile: string): Promise<SiteTarget> {
  return { address: vip, domain: DOMAIN, ca: await readFile(caFile, 'utf8') };
}

beforeAll(async () => {
  webs = (await labHosts()).filter((host) => host.roles.includes('web'));
  vip = (await labStatus()).vip as string;
  expect(webs.map((web) => web.name)).toEqual(['web1', 'web2']);
});

describe('rotate-certs refuses bad certificates before touching any host', () => {
  /** A company CA of the test's own (self-signed, so a chain ending in it is complete). */
  let company: CertificateAuthority;
  let stranger: CertificateAuthority;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infra-rotate-'));
    const loaded = await loadInventory(LAB_INVENTORY);
    if (!loaded.ok) throw new Error('the lab inventory does not load');
    company = await ensureCa({ ...loaded.inventory, stateDir: join(dir, 'company') });
    stranger = await ensureCa({ ...loaded.inventory, stateDir: join(dir, 'stranger') });
  });

  async function issue(ca: CertificateAuthority, domain: string, fromDays: number, untilDays: number) {
    return issueWebCertificate({
      ca,
      domain,
      host: { name: 'web1', address: '10.77.0.21' },
      keyType: 'ecdsa-p256',
      notBefore: new Date(Date.now() + fromDays * DAY_MS),
      notAfter: new Date(Date.now() + untilDays * DAY_MS),
    });
  }

  /** The lab inventory serving these files (tls.source files) instead of infra's CA. */
  async function filesInventory(name: string, certificate: string, key: string, chain: string): Promise<string> {
    const files = { cert_file: join(dir, `${name}.crt`), key_file: join(dir, `${name}.key`), chain_file: join(dir, `${name}-chain.crt`) };
    await writeFile(files.cert_file, certificate);
    await writeFile(files.key_file, key, { mode: 0o600 });
    await writeFile(files.chain_file, chain);
    return labInventoryVariant((doc) => {
      doc.tls = { source: 'files', ...files };
    });
  }

  it('refuses a wrong key, an expired certificate, a wrong name and a broken chain, naming each, and the served certificates stay', async () => {
    const good = await issue(company, DOMAIN, -1, 90);
    const other = await issue(company, DOMAIN, -1, 90);
    const expired = await issue(company, DOMAIN, -100, -10);
    const elsewhere = await issue(company, 'shop.example.org', -1, 90);
    const cases = [
      {
        name: 'wrong-key',
        inventory: await filesInventory('wrong-key', good.certificatePem, other.key.reveal(), company.certificatePem),
        problem: /wrong-key\.key: certificate does not match its key/,
      },
      {
        name: 'expired',
        inventory: await filesInventory('expired', expired.certificatePem, expired.key.reveal(), company.certificatePem),
        problem: /expired\.crt: certificate expired on \d{4}-\d\d-\d\d/,
      },
      {
        name: 'wrong-name',
        inventory: await filesInventory('wrong-name', elsewhere.certificatePem, elsewhere.key.reveal(), company.certificatePem),
        problem: /wrong-name\.crt: certificate does not cover www\.foobar\.com/,
      },
      {
        name: 'broken-chain',
        inventory: await filesInventory('broken-chain', good.certificatePem, good.key.reveal(), stranger.certificatePem),
        problem: /broken-chain-chain\.crt: chain broken/,
      },
    ];
    const before = await servedFingerprints();
    const deployedBefore = await mustOnHost(webs[0]!.address, `sha256sum /etc/ssl/infra/${DOMAIN}.crt /etc/ssl/infra/${DOMAIN}.key`);
    for (const bad of cases) {
      const result = await runInfra(['rotate-certs', bad.inventory, '--yes']);
      expect(result.code, `${bad.name}: ${result.stdout}${result.stderr}`).toBe(1);
      expect(result.stderr, bad.name).toMatch(bad.problem);
      expect(result.stderr, bad.name).toContain('nothing was changed on any host');
    }
    expect(await servedFingerprints()).toEqual(before);
    expect(await mustOnHost(webs[0]!.address, `sha256sum /etc/ssl/infra/${DOMAIN}.crt /etc/ssl/infra/${DOMAIN}.key`)).toBe(deployedBefore);
  });
});

describe("rotate-certs with infra's CA", () => {
  it('--dry-run shows old → new for every web host and changes nothing', async () => {
    const before = await servedFingerprints();
    const result = await runInfra(['rotate-certs', LAB_INVENTORY, '--dry-run', '--json']);
    const report = parseRotateReport(result);
    expect(result.code, result.stderr).toBe(0);
    expect(report.dryRun).toBe(true);
    for (const web of webs) {
      const entry = report.hosts.find((host) => host.host === web.name);
      expect(entry?.status).toBe('would-rotate');
      expect(entry?.old?.fingerprint).toBe(before[web.name]);
    }
    expect(await servedFingerprints()).toEqual(before);
  });

  it('changes the certificate served on every web host, under load through the VIP, with no failed request', async () => {
    const site = await siteWith(join(STATE_DIR, 'ca', 'ca.crt'));
    const before = await servedFingerprints();
    const load = startLoad(site, 50);
    const result = await runInfra(['rotate-certs', LAB_INVENTORY, '--yes', '--json']);
    await new Promise((r) => setTimeout(r, 2000));
    const traffic = await load.stop();
    const report = parseRotateReport(result);
    expect(result.code, told(result)).toBe(0);
    expect(report.ok).toBe(true);

    const newFingerprints = new Set<string>();
    for (const web of webs) {
      const entry = report.hosts.find((host) => host.host === web.name);
      expect(entry?.status, entry?.error).toBe('rotated');
      expect(entry?.old?.fingerprint).toBe(before[web.name]);
      const served = await servedOnHost(web);
      expect(served.sha256Fingerprint).not.toBe(before[web.name]);
      expect({ serial: served.serial, fingerprint: served.sha256Fingerprint }).toEqual({ serial: entry?.new.serial, fingerprint: entry?.new.fingerprint });
      expect(served.sans).toEqual([DOMAIN, web.name, web.address]);
      // infra's state holds what the host serves, so provision keeps it.
      expect(describeCertificate(await readFile(join(STATE_DIR, 'tls', `${web.name}.crt`), 'utf8')).sha256Fingerprint).toBe(served.sha256Fingerprint);
      newFingerprints.add(served.sha256Fingerprint);
    }
    const throughVip = await fingerprintsThroughVip(site.ca);
    for (const fingerprint of throughVip) expect(newFingerprints).toContain(fingerprint);

    expect(traffic.sent / traffic.seconds).toBeGreaterThanOrEqual(40);
    expect(traffic.failures).toEqual([]);
    expect(traffic.failed).toBe(0);
    await expectOnlyServedPair();
  });

  it('leaves nothing for a provision to change', async () => {
    await expectProvisionNoop();
  });

  it('--only-expiring-within rotates only what expires within the days given', async () => {
    const before = await servedFingerprints();
    const result = await runInfra(['rotate-certs', LAB_INVENTORY, '--only-expiring-within', '7', '--yes', '--json']);
    const report = parseRotateReport(result);
    expect(result.code, told(result)).toBe(0);
    expect(report.hosts.map((host) => [host.host, host.status])).toEqual([
      ['web1', 'skipped'],
      ['web2', 'skipped'],
    ]);
    expect(report.hosts[0]?.reason).toMatch(/^expires \d{4}-\d\d-\d\d \(in \d+ days\), not within 7 days$/);
    expect(await servedFingerprints()).toEqual(before);

    const limited = await runInfra(['rotate-certs', LAB_INVENTORY, '--only-expiring-within', '3650', '--limit', 'web2', '--yes', '--json']);
    const limitedReport = parseRotateReport(limited);
    expect(limited.code, told(limited)).toBe(0);
    expect(limitedReport.hosts.map((host) => [host.host, host.status])).toEqual([['web2', 'rotated']]);
    const after = await servedFingerprints();
    expect(after.web1).toBe(before.web1);
    expect(after.web2).not.toBe(before.web2);
    await expectOnlyServedPair();
  });
});

describe('rotate-certs --rotate-ca', () => {
  it('1st run: makes the new CA and the trust bundle, and changes no host', async () => {
    const before = await servedFingerprints();
    const current = await readFile(join(STATE_DIR, 'ca', 'ca.crt'), 'utf8');
    const result = await runInfra(['rotate-certs', LAB_INVENTORY, '--rotate-ca', '--yes', '--json']);
    const report = parseRotateReport(result);
    expect(result.code, told(result)).toBe(0);
    expect(report.ca?.step).toBe('prepared');
    const bundle = await readFile(join(STATE_DIR, 'ca', 'ca-bundle.crt'), 'utf8');
    expect(bundle.startsWith(current)).toBe(true);
    expect(bundle.length).toBeGreaterThan(current.length);
    expect(await readFile(join(STATE_DIR, 'ca', 'ca.crt'), 'utf8')).toBe(current);
    expect(await servedFingerprints()).toEqual(before);
  });

  it('2nd run: every web host serves a certificate of the new CA; clients with the bundle see no failed request', async () => {
    const old = await readFile(join(STATE_DIR, 'ca', 'ca.crt'), 'utf8');
    const load = startLoad(await siteWith(join(STATE_DIR, 'ca', 'ca-bundle.crt')), 50);
    const result = await runInfra(['rotate-certs', LAB_INVENTORY, '--rotate-ca', '--yes', '--json']);
    await new Promise((r) => setTimeout(r, 2000));
    const traffic = await load.stop();
    const report = parseRotateReport(result);
    expect(result.code, told(result)).toBe(0);
    expect(report.ca?.step).toBe('switched');
    expect(report.hosts.map((host) => host.status)).toEqual(['rotated', 'rotated']);
    expect(traffic.failures).toEqual([]);
    expect(traffic.failed).toBe(0);

    const current = await readFile(join(STATE_DIR, 'ca', 'ca.crt'), 'utf8');
    expect(current).not.toBe(old);
    expect(await readFile(join(STATE_DIR, 'ca', 'ca-previous.crt'), 'utf8')).toBe(old);
    // The new CA alone now verifies the site; the old one alone no longer does.
    expect((await fingerprintsThroughVip(current, 4)).size).toBeGreaterThan(0);
    await expect(servedThroughVip(old)).rejects.toThrow();
    for (const web of webs) expect(await mustOnHost(web.address, 'cat /etc/ssl/infra/ca.crt')).toBe(current);
    await expectOnlyServedPair();
  });

  it('then a provision gives the db and app hosts the new CA beside the old one, under load with no failed request and no db server restarted; after it, nothing to change', async () => {
    const dbs = (await labHosts()).filter((host) => host.roles.includes('db'));
    const serverStart = () => Promise.all(dbs.map((db) => mustOnHost(db.address, `systemctl show -p ExecMainStartTimestampMonotonic ${E2E_DB.service}`)));
    const before = await serverStart();
    const load = startLoad(await siteWith(join(STATE_DIR, 'ca', 'ca.crt')), 50);
    const result = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
    await new Promise((r) => setTimeout(r, 2000));
    const traffic = await load.stop();
    expect(result.code, told(result)).toBe(0);
    expect(traffic.failures).toEqual([]);
    expect(traffic.failed).toBe(0);
    // Each db host kept its certificate (from the old CA, still trusted) and its running server.
    expect(await serverStart()).toEqual(before);
    const current = await readFile(join(STATE_DIR, 'ca', 'ca.crt'), 'utf8');
    for (const db of dbs) expect(await mustOnHost(db.address, 'cat /etc/mysql/infra-ca.crt')).toContain(current.trim());
    await expectProvisionNoop();
  });
});
