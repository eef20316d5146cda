import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { quoteCommand } from '../../src/core/shell.js';
import { labRebuild, type LabRebuildResult } from '../../src/lab/lab.js';
import { describeCertificate } from '../../src/tls/index.js';
import { fingerprintOf, keysForHost } from '../../src/transport/hostkeys.js';
import { LAB_DIR, LAB_INVENTORY, labHosts, mustOnHost, parseReport, runInfra, type LabHost, told } from './helpers.js';

/**
 * A host reinstalled from scratch comes back with a new SSH host key. Starting point: the whole
 * stack, as 30-stack.test.ts and the files after it leave it. web2 is rebuilt bare with new host
 * keys (one web host of two: the site keeps being served by web1). infra refuses it as a host-key
 * mismatch until the operator names it with --replace-host; then its lines in known_hosts are
 * replaced, it is provisioned from bare with a new certificate, and the stack is whole again.
 */
const DOMAIN = 'www.foobar.com';
const KNOWN_HOSTS = join(LAB_DIR, 'known_hosts');
const STATE_TLS = join(LAB_DIR, '.infra', 'tls');
let web2: LabHost;
let rebuilt: LabRebuildResult;
let knownHostsBefore: string;
let oldFingerprints: string[];
let certificateBefore: string;

/** The known_hosts lines of every host but `address`, exactly as written. */
function linesOfOthers(text: string, address: string): string[] {
  return text.split('\n').filter((line) => !line.startsWith(`${address} `));
}

/** The SHA-256 fingerprint of the certificate nginx serves on web2's local listener. */
async function servedOnWeb2(): Promise<string> {
  const handshake = quoteCommand(['openssl', 's_client', '-connect', '127.0.0.1:8443', '-servername', DOMAIN]);
  return describeCertificate(await mustOnHost(web2.address, `${handshake} </dev/null 2>/dev/null | openssl x509`)).sha256Fingerprint;
}

beforeAll(async () => {
  web2 = (await labHosts()).find((h) => h.name === 'web2') as LabHost;
  knownHostsBefore = await readFile(KNOWN_HOSTS, 'utf8');
  oldFingerprints = keysForHost(knownHostsBefore, web2.address, 22).known.map((key) => fingerprintOf(key.blob));
  certificateBefore = await readFile(join(STATE_TLS, 'web2.crt'), 'utf8');
});

describe('a host rebuilt with a new host key', () => {
  it("the lab reinstalls web2 bare with new host keys, and leaves the operator's known_hosts as it was", async () => {
    expect(oldFingerprints.length).toBeGreaterThan(0);
    rebuilt = await labRebuild('web2');
    expect(rebuilt.host).toMatchObject({ name: 'web2', state: 'running' });
    const newFingerprints = rebuilt.fingerprints.map((line) => line.split(' ')[1]);
    expect(newFingerprints.length).toBeGreaterThan(0);
    for (const fingerprint of newFingerprints) expect(oldFingerprints).not.toContain(fingerprint);
    expect(await readFile(KNOWN_HOSTS, 'utf8')).toBe(knownHostsBefore);
  });

  it('provision without --replace-host refuses web2 as a host-key mismatch, names the flag, and changes nothing', async () => {
    const result = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
    const report = parseReport(result);
    expect(result.code, told(result)).toBe(1);
    const refused = report.hosts.find((h) => h.host === 'web2');
    expect(refused?.status).toBe('unreachable');
    expect(refused?.error).toMatch(/HOST KEY MISMATCH: expected SHA256:\S+( or SHA256:\S+)*, offered SHA256:\S+\./);
    expect(refused?.error).toContain('--replace-host web2');
    for (const host of report.hosts.filter((h) => h.host !== 'web2')) {
      expect({ host: host.host, status: host.status, changed: host.changed }).toEqual({ host: host.host, status: 'ok', changed: 0 });
    }
    expect(await readFile(KNOWN_HOSTS, 'utf8')).toBe(knownHostsBefore);
  });

  it('provision --replace-host web2 takes the new key, says so, and provisions web2 from bare', async () => {
    const mode = (await stat(KNOWN_HOSTS)).mode;
    const result = await runInfra(['provision', LAB_INVENTORY, '--replace-host', 'web2', '--yes']);
    expect(result.code, told(result)).toBe(0);
    const said = /^web2: host key replaced \(old (.+) → new (SHA256:\S+)\)$/m.exec(result.stdout);
    expect(said, result.stdout).not.toBeNull();
    expect(said?.[1]?.split(', ').sort()).toEqual([...oldFingerprints].sort());
    expect(rebuilt.fingerprints.map((line) => line.split(' ')[1])).toContain(said?.[2]);
    expect(result.stdout).toMatch(/^web2\s+changed\s/m);
    for (const name of ['lb1', 'lb2', 'web1', 'app1', 'app2', 'db1', 'db2']) expect(result.stdout).toMatch(new RegExp(`^${name}\\s+ok\\s+0 changed`, 'm'));

    // known_hosts: web2's old lines gave way to one line with the new key; every other line is kept.
    const knownHostsAfter = await readFile(KNOWN_HOSTS, 'utf8');
    expect(keysForHost(knownHostsAfter, web2.address, 22).known.map((key) => fingerprintOf(key.blob))).toEqual([said?.[2]]);
    expect(linesOfOthers(knownHostsAfter, web2.address)).toEqual(linesOfOthers(knownHostsBefore, web2.address));
    expect((await stat(KNOWN_HOSTS)).mode).toBe(mode);
  });

  it("web2 serves again, with a new certificate: the old one's key stayed on the old installation", async () => {
    const certificate = await readFile(join(STATE_TLS, 'web2.crt'), 'utf8');
    expect(certificate).not.toBe(certificateBefore);
    expect(await servedOnWeb2()).toBe(describeCertificate(certificate).sha256Fingerprint);
    const answer = await mustOnHost(
      web2.address,
      quoteCommand(['curl', '-fsS', '--cacert', '/etc/ssl/infra/ca.crt', '--resolve', `${DOMAIN}:8443:127.0.0.1`, `https://${DOMAIN}:8443/`]),
    );
    expect(answer).toMatch(/app host app[12], read from db host db2: \d+ visits/);
    // A bare host: the only run recorded in its audit log is the one that took it back.
    expect((await mustOnHost(web2.address, 'cat /var/log/infra/audit.log')).trim().split('\n')).toHaveLength(1);
  });

  it('a second provision changes nothing, and check finds no drift', async () => {
    const again = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
    const report = parseReport(again);
    expect(again.code, told(again)).toBe(0);
    for (const host of report.hosts)
      expect({ host: host.host, changed: host.changed, status: host.status }).toEqual({ host: host.host, changed: 0, status: 'ok' });
    // haproxy puts web2 back in its backend after its health checks pass, on each lb host at its own pace.
    const deadline = Date.now() + 30_000;
    let check = await runInfra(['check', LAB_INVENTORY]);
    while (check.code !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      check = await runInfra(['check', LAB_INVENTORY]);
    }
    expect(check.code, told(check)).toBe(0);
    expect(check.stdout).toMatch(/^no drift \(/m);
  });
});
