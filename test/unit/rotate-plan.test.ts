import { execFile } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HostReport, type RotationCandidate, certificateFacts, planRotation, renderHostReport, servedMismatch } from '../../src/rotate/plan.js';
import { backupScript, discardPreviousScript, parseCertificatesReading, readCertificatesScript, restoreScript } from '../../src/rotate/scripts.js';
import { type CertificateAuthority, describeCertificate } from '../../src/tls/index.js';
import { DAY_MS, issueForWeb1, removeTemporaryDirs, separateCa, temporaryDir } from './tls-fixture.js';

afterEach(removeTemporaryDirs);

const NOW = new Date('2026-03-01T12:00:00Z');
let ca: CertificateAuthority;
/** web1's certificate now: valid until 10 days after NOW. */
let servedPem: string;
/** The one a rotation would install: valid for 90 days from NOW. */
let nextPem: string;

beforeAll(async () => {
  ca = await separateCa();
  servedPem = (await issueForWeb1(ca, { now: NOW, fromDays: -80, untilDays: 10 })).certificatePem;
  nextPem = (await issueForWeb1(ca, { now: NOW, untilDays: 90 })).certificatePem;
});

const candidate = (current: RotationCandidate['current']): RotationCandidate => ({ host: 'web1', current, nextChain: nextPem });

describe('planRotation: which web hosts get the new certificate', () => {
  it('rotates every host when no expiry filter is given, showing old → new', () => {
    const [decision] = planRotation([candidate({ served: servedPem, deployed: servedPem })], { now: NOW });
    expect(decision).toEqual({
      host: 'web1',
      rotate: true,
      reason: 'rotation asked for',
      old: certificateFacts(describeCertificate(servedPem)),
      new: certificateFacts(describeCertificate(nextPem)),
    });
    expect(decision?.new.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('with --only-expiring-within 30, rotates a certificate that expires in 10 days and skips one with 90 left', () => {
    const [soon, later] = planRotation([candidate({ served: servedPem }), { host: 'web2', current: { served: nextPem }, nextChain: servedPem }], {
      now: NOW,
      onlyExpiringWithinDays: 30,
    });
    expect(soon).toMatchObject({ rotate: true, reason: 'expires 2026-03-11 (in 10 days), within 30 days' });
    expect(later).toMatchObject({ rotate: false, reason: 'expires 2026-05-30 (in 90 days), not within 30 days' });
  });

  it('counts an expired certificate as expiring', () => {
    const [decision] = planRotation([candidate({ served: servedPem })], { now: new Date(NOW.getTime() + 20 * DAY_MS), onlyExpiringWithinDays: 0 });
    expect(decision).toMatchObject({ rotate: true, reason: 'expired on 2026-03-11, within 0 days' });
  });

  it('judges by the deployed file when no handshake answered, and rotates when neither can be read', () => {
    const [fromFile] = planRotation([candidate({ deployed: servedPem })], { now: NOW, onlyExpiringWithinDays: 30 });
    expect(fromFile?.old?.serial).toBe(describeCertificate(servedPem).serial);
    const [unknown] = planRotation([candidate({ deployed: 'not a certificate' })], { now: NOW, onlyExpiringWithinDays: 30 });
    expect(unknown).toMatchObject({ rotate: true, old: null, reason: 'no certificate could be read from the host, so its expiry is unknown' });
  });

  it('skips a host that already serves the new chain (user files installed before)', () => {
    const [decision] = planRotation([candidate({ served: nextPem, deployed: nextPem })], { now: NOW });
    expect(decision).toMatchObject({ rotate: false, reason: 'already serves this certificate' });
  });
});

describe('reading what a web host serves', () => {
  it('asks the local listener for the domain by SNI, then prints the certificate file', () => {
    expect(readCertificatesScript('www.foobar.com', '/etc/ssl/infra/www.foobar.com.crt')).toBe(
      [
        'timeout 10 openssl s_client -connect 127.0.0.1:8443 -servername www.foobar.com </dev/null 2>/dev/null | openssl x509 2>/dev/null',
        'echo @@deployed',
        'cat /etc/ssl/infra/www.foobar.com.crt 2>/dev/null',
        'true',
      ].join('\n'),
    );
  });

  it('splits the served leaf from the deployed file; an empty side is absent', () => {
    expect(parseCertificatesReading(`${servedPem}@@deployed\n${nextPem}`)).toEqual({ served: servedPem, deployed: nextPem });
    expect(parseCertificatesReading('@@deployed\n')).toEqual({});
  });

  it('confirms a host only when it serves the new serial and fingerprint from the new file', () => {
    const expected = { chain: nextPem, facts: certificateFacts(describeCertificate(nextPem)) };
    expect(servedMismatch({ served: nextPem, deployed: nextPem }, expected)).toBeUndefined();
    expect(servedMismatch({ served: servedPem, deployed: nextPem }, expected)).toMatch(
      new RegExp(`^it serves serial ${describeCertificate(servedPem).serial} .*not the new serial ${expected.facts.serial}`),
    );
    expect(servedMismatch({ deployed: nextPem }, expected)).toMatch(/no certificate is served/);
    expect(servedMismatch({ served: nextPem, deployed: servedPem }, expected)).toBe('the certificate file on the host is not the new chain');
  });
});

describe('the report', () => {
  it('shows old → new serial, fingerprint and expiry, and the error of a failed host', () => {
    const report: HostReport = {
      host: 'web1',
      status: 'failed',
      reason: 'rotation asked for',
      old: { serial: 'AA01', fingerprint: 'AA:BB', notAfter: '2026-03-11T12:00:00.000Z' },
      new: { serial: 'BB02', fingerprint: 'CC:DD', notAfter: '2026-05-30T12:00:00.000Z' },
      error: 'install: validation failed\nnginx: [emerg]',
    };
    expect(renderHostReport(report)).toBe(
      [
        'web1  failed: rotation asked for',
        '  serial       AA01 → BB02',
        '  sha256       AA:BB',
        '             → CC:DD',
        '  expires      2026-03-11 → 2026-05-30',
        '  error: install: validation failed',
        '    nginx: [emerg]',
      ].join('\n'),
    );
  });

  it("says a dry run with infra's CA knows only the new expiry", () => {
    const text = renderHostReport({
      host: 'web2',
      status: 'would-rotate',
      reason: 'rotation asked for',
      old: null,
      new: { notAfter: '2026-05-30T00:00:00.000Z' },
    });
    expect(text).toContain('serial       (none) → (issued when the rotation runs)');
  });
});

describe('keeping and restoring the previous pair (run by bash on a folder)', () => {
  const sh = promisify(execFile);

  it('keeps the pair with its mode, and puts it back over a new one; a file that did not exist is removed again', async () => {
    const dir = await temporaryDir();
    const certificate = join(dir, 'www.foobar.com.crt');
    const key = join(dir, 'www.foobar.com.key');
    const ca = join(dir, 'ca.crt');
    await writeFile(certificate, 'old certificate\n', { mode: 0o644 });
    await writeFile(key, 'old key\n', { mode: 0o600 });
    const paths = [certificate, key, ca];

    const backup = await sh('bash', ['-c', backupScript(paths)]);
    expect(backup.stdout).toBe('@@done\n');
    expect((await stat(`${key}.infra-previous`)).mode & 0o777).toBe(0o600);

    await writeFile(certificate, 'new certificate\n');
    await writeFile(key, 'new key\n');
    await writeFile(ca, 'new ca\n');
    const restore = await sh('bash', ['-c', restoreScript(paths)]);
    expect(restore.stdout).toBe('@@done\n');
    expect(await readFile(certificate, 'utf8')).toBe('old certificate\n');
    expect(await readFile(key, 'utf8')).toBe('old key\n');
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    await expect(stat(ca)).rejects.toThrow(/ENOENT/);
  });

  it('replaces a stale copy rather than writing the key into it, so the copy never has a looser mode than the key', async () => {
    const dir = await temporaryDir();
    const key = join(dir, 'www.foobar.com.key');
    await writeFile(key, 'current key\n', { mode: 0o600 });
    await writeFile(`${key}.infra-previous`, 'stale\n', { mode: 0o644 });
    await sh('bash', ['-c', backupScript([key])]);
    expect(await readFile(`${key}.infra-previous`, 'utf8')).toBe('current key\n');
    expect((await stat(`${key}.infra-previous`)).mode & 0o777).toBe(0o600);
  });

  it('removes every copy (the previous pair and a staged restore) and leaves the files in service', async () => {
    const dir = await temporaryDir();
    const certificate = join(dir, 'www.foobar.com.crt');
    const key = join(dir, 'www.foobar.com.key');
    await writeFile(certificate, 'old certificate\n');
    await writeFile(key, 'old key\n', { mode: 0o600 });
    await sh('bash', ['-c', backupScript([certificate, key])]);
    await writeFile(`${key}.infra-restore`, 'old key\n', { mode: 0o600 });
    await writeFile(key, 'new key\n');

    const discard = await sh('bash', ['-c', discardPreviousScript([certificate, key])]);
    expect(discard.stdout).toBe('@@done\n');
    expect((await readdir(dir)).sort()).toEqual(['www.foobar.com.crt', 'www.foobar.com.key']);
    expect(await readFile(key, 'utf8')).toBe('new key\n');
    // Nothing left to remove is not a failure: a second run is the same.
    expect((await sh('bash', ['-c', discardPreviousScript([certificate, key])])).stdout).toBe('@@done\n');
  });

  it('quotes every path', () => {
    expect(backupScript(["/etc/ssl/it's"])).toContain(`cp -a -- '/etc/ssl/it'\\''s' '/etc/ssl/it'\\''s.infra-previous'`);
    expect(discardPreviousScript(['/etc/ssl/a b'])).toContain(`rm -f -- '/etc/ssl/a b.infra-previous' '/etc/ssl/a b.infra-restore'`);
    expect(restoreScript(['/etc/ssl/a b'])).toContain(`mv -f -- '/etc/ssl/a b.infra-restore' '/etc/ssl/a b'`);
  });
});
