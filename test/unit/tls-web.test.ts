import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import type { Inventory, KeyType } from '../../src/inventory/model.js';
import { describeCertificate, ensureCa, verifyTlsMaterial, webTlsMaterial } from '../../src/tls/index.js';
import { x509 } from '../../src/tls/x509.js';
import { hostOf } from './roles-fixture.js';
import { DAY_MS, inventoryWithState, issueForWeb1, removeTemporaryDirs, separateCa, temporaryDir } from './tls-fixture.js';

afterEach(removeTemporaryDirs);

const web1 = (inventory: Inventory) => hostOf(inventory, 'web1');
const storedCertificate = (inventory: Inventory, host = 'web1') => readFile(join(inventory.stateDir, 'tls', `${host}.crt`), 'utf8');
const withKeyType = (keyType: KeyType, days = 90): Partial<Inventory> => ({ tls: { kind: 'ca', keyType, days } });

describe('webTlsMaterial with tls.source ca', () => {
  it('issues web1 a certificate from the infra CA, stores it (key 0600) and returns the CA with it', async () => {
    const inventory = await inventoryWithState();
    const material = await webTlsMaterial(inventory, web1(inventory));
    const ca = await ensureCa(inventory);

    expect(material.caCertificate).toBe(ca.certificatePem);
    expect(material.issuedBecause).toBe('there was none');
    expect(await storedCertificate(inventory)).toBe(material.certificateChain);
    const keyFile = join(inventory.stateDir, 'tls', 'web1.key');
    expect(await readFile(keyFile, 'utf8')).toBe(material.key.reveal());
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(inventory.stateDir, 'tls'))).mode & 0o777).toBe(0o700);
    expect(await verifyTlsMaterial({ ...material, domain: 'www.foobar.com', caCertificates: [ca.certificatePem] })).toEqual([]);
  });

  it('names the domain, the host name and the host address (IP), for serverAuth, valid tls.days', async () => {
    const inventory = await inventoryWithState(withKeyType('ecdsa-p256', 30));
    const material = await webTlsMaterial(inventory, web1(inventory));
    const summary = describeCertificate(material.certificateChain);
    const certificate = new x509.X509Certificate(material.certificateChain);

    expect(summary.subject).toBe('CN=www.foobar.com');
    expect(summary.sans).toEqual(['www.foobar.com', 'web1', '10.0.0.21']);
    const names = certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((name) => name.toJSON());
    expect(names).toEqual([
      { type: 'dns', value: 'www.foobar.com' },
      { type: 'dns', value: 'web1' },
      { type: 'ip', value: '10.0.0.21' },
    ]);
    expect(certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(certificate.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    const days = (summary.notAfter.getTime() - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThanOrEqual(30);
    expect(summary.serial).toMatch(/^[0-9A-F]{32}$/);
  });

  it('serves the stored bytes again on a second call, so a second provision changes nothing', async () => {
    const inventory = await inventoryWithState();
    const first = await webTlsMaterial(inventory, web1(inventory));
    const second = await webTlsMaterial(inventory, web1(inventory));

    expect(second.certificateChain).toBe(first.certificateChain);
    expect(second.key.reveal()).toBe(first.key.reveal());
    expect(second.issuedBecause).toBeUndefined();
  });

  it('gives each web host its own certificate', async () => {
    const inventory = await inventoryWithState();
    const [one, two] = await Promise.all([webTlsMaterial(inventory, web1(inventory)), webTlsMaterial(inventory, hostOf(inventory, 'web2'))]);
    expect(describeCertificate(two.certificateChain).sans).toEqual(['www.foobar.com', 'web2', '10.0.0.22']);
    expect(two.key.reveal()).not.toBe(one.key.reveal());
    // Issued in parallel, both hang from the one CA that was stored.
    const ca = await ensureCa(inventory);
    expect(await verifyTlsMaterial({ ...one, domain: 'www.foobar.com', caCertificates: [ca.certificatePem] })).toEqual([]);
    expect(await verifyTlsMaterial({ ...two, domain: 'www.foobar.com', caCertificates: [ca.certificatePem] })).toEqual([]);
  });

  it('issues a new certificate when the domain changes', async () => {
    const inventory = await inventoryWithState();
    const first = await webTlsMaterial(inventory, web1(inventory));
    const renamed = { ...inventory, domain: 'shop.foobar.com' };
    const second = await webTlsMaterial(renamed, web1(renamed));

    expect(second.certificateChain).not.toBe(first.certificateChain);
    expect(second.issuedBecause).toBe('its names changed to shop.foobar.com, web1, 10.0.0.21');
    expect(describeCertificate(second.certificateChain).sans).toEqual(['shop.foobar.com', 'web1', '10.0.0.21']);
  });

  it('issues a new certificate when the host address changes', async () => {
    const inventory = await inventoryWithState();
    await webTlsMaterial(inventory, web1(inventory));
    const moved = { ...web1(inventory), address: '10.0.0.99' };
    const second = await webTlsMaterial(inventory, moved);
    expect(describeCertificate(second.certificateChain).sans).toEqual(['www.foobar.com', 'web1', '10.0.0.99']);
  });

  it('issues a new key and certificate when the key type changes (ecdsa-p256 → rsa-2048)', async () => {
    const inventory = await inventoryWithState(withKeyType('ecdsa-p256'));
    const first = await webTlsMaterial(inventory, web1(inventory));
    const rsa = { ...inventory, ...withKeyType('rsa-2048') };
    const second = await webTlsMaterial(rsa, web1(rsa));

    expect(second.issuedBecause).toBe('the key type changed from ecdsa-p256 to rsa-2048');
    expect(second.key.reveal()).not.toBe(first.key.reveal());
    const algorithm = new x509.X509Certificate(second.certificateChain).publicKey.algorithm as RsaHashedKeyAlgorithm;
    expect(algorithm.modulusLength).toBe(2048);
  });

  it('issues a new certificate in the last third of its lifetime, not before', async () => {
    const inventory = await inventoryWithState(withKeyType('ecdsa-p256', 90));
    const first = await webTlsMaterial(inventory, web1(inventory));
    const at = (days: number) => ({ now: new Date(Date.now() + days * DAY_MS) });

    expect((await webTlsMaterial(inventory, web1(inventory), at(59))).certificateChain).toBe(first.certificateChain);
    const renewed = await webTlsMaterial(inventory, web1(inventory), at(61));
    expect(renewed.issuedBecause).toBe('it is in the last third of its lifetime');
    expect(describeCertificate(renewed.certificateChain).notAfter.getTime()).toBeGreaterThan(Date.now() + 150 * DAY_MS);
  });

  it('issues a new certificate when the stored one comes from another CA, or does not match its key', async () => {
    const inventory = await inventoryWithState();
    const certificateFile = join(inventory.stateDir, 'tls', 'web1.crt');
    const first = await webTlsMaterial(inventory, web1(inventory));

    await writeFile(certificateFile, (await issueForWeb1(await separateCa())).certificatePem);
    const fromStranger = await webTlsMaterial(inventory, web1(inventory));
    // Its key is still web1.key, which the stranger's certificate does not hold.
    expect(fromStranger.issuedBecause).toBe('the stored certificate does not match its key');

    const ownCa = await ensureCa(inventory);
    const otherCa = await separateCa();
    const sameKeyOtherCa = await issueForWeb1(otherCa);
    await writeFile(certificateFile, sameKeyOtherCa.certificatePem);
    await writeFile(join(inventory.stateDir, 'tls', 'web1.key'), sameKeyOtherCa.key.reveal());
    const reissued = await webTlsMaterial(inventory, web1(inventory));
    expect(reissued.issuedBecause).toBe('it was not issued by the current CA');
    expect(await verifyTlsMaterial({ ...reissued, domain: 'www.foobar.com', caCertificates: [ownCa.certificatePem] })).toEqual([]);
    expect(reissued.certificateChain).not.toBe(first.certificateChain);
  });

  it('issues a new certificate when asked to (rotation), even though the stored one is good', async () => {
    const inventory = await inventoryWithState();
    const first = await webTlsMaterial(inventory, web1(inventory));
    const rotated = await webTlsMaterial(inventory, web1(inventory), { forceNew: true });

    expect(rotated.issuedBecause).toBe('a new certificate was asked for');
    expect(rotated.certificateChain).not.toBe(first.certificateChain);
    expect(await storedCertificate(inventory)).toBe(rotated.certificateChain);
  });

  it('works with rsa-2048 keys, and for a CA of another key type than its hosts', async () => {
    const inventory = await inventoryWithState(withKeyType('rsa-2048'));
    const material = await webTlsMaterial(inventory, web1(inventory));
    expect(material.key.reveal()).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const ecdsa = { ...inventory, ...withKeyType('ecdsa-p256') };
    // The CA stays RSA: it was made once.
    const mixed = await webTlsMaterial(ecdsa, web1(ecdsa));
    expect(new x509.X509Certificate(mixed.certificateChain).signatureAlgorithm.name).toBe('RSASSA-PKCS1-v1_5');
  });

  it('works with rsa-4096 keys', { timeout: 120_000 }, async () => {
    const inventory = await inventoryWithState(withKeyType('rsa-4096'));
    const material = await webTlsMaterial(inventory, web1(inventory));
    const algorithm = new x509.X509Certificate(material.certificateChain).publicKey.algorithm as RsaHashedKeyAlgorithm;
    expect(algorithm.modulusLength).toBe(4096);
    expect((await webTlsMaterial(inventory, web1(inventory))).certificateChain).toBe(material.certificateChain);
  });

  it('refuses a host name that cannot be a DNS name or a file name', async () => {
    const inventory = await inventoryWithState();
    await expect(webTlsMaterial(inventory, { ...web1(inventory), name: '../web1' })).rejects.toThrow(
      new UserError('host name "../web1" cannot go in a TLS certificate: rename the host with letters, digits, - and . only'),
    );
  });

  it('never shows the key in JSON or inspect output', async () => {
    const inventory = await inventoryWithState();
    const material = await webTlsMaterial(inventory, web1(inventory));
    const keyBody = material.key.reveal().split('\n')[1] ?? '';
    expect(keyBody.length).toBeGreaterThan(20);
    for (const shown of [JSON.stringify(material), inspect(material)]) {
      expect(shown).not.toContain('PRIVATE KEY');
      expect(shown).not.toContain(keyBody);
    }
  });
});

describe('webTlsMaterial with tls.source files', () => {
  async function userFiles(files: Record<string, string>): Promise<Record<string, string>> {
    const dir = await temporaryDir();
    const paths: Record<string, string> = {};
    for (const [name, text] of Object.entries(files)) {
      paths[name] = join(dir, name);
      await writeFile(paths[name], text);
    }
    return paths;
  }

  it('reads the certificate, appends the chain file after it, and returns the key as read', async () => {
    const ca = await separateCa();
    const issued = await issueForWeb1(ca);
    const paths = await userFiles({ 'cert.pem': issued.certificatePem, 'key.pem': issued.key.reveal(), 'chain.pem': ca.certificatePem });
    const inventory = await inventoryWithState({
      tls: { kind: 'files', certFile: paths['cert.pem'] ?? '', keyFile: paths['key.pem'] ?? '', chainFile: paths['chain.pem'] ?? '' },
    });
    const material = await webTlsMaterial(inventory, web1(inventory));

    expect(material.certificateChain).toBe(issued.certificatePem + ca.certificatePem);
    expect(material.key.reveal()).toBe(issued.key.reveal());
    expect(material.caCertificate).toBeUndefined();
    expect(JSON.stringify(material)).not.toContain('PRIVATE KEY');
  });

  it('does not repeat intermediates a full-chain certificate file already holds', async () => {
    const ca = await separateCa();
    const issued = await issueForWeb1(ca);
    const paths = await userFiles({
      'fullchain.pem': `subject=CN=www.foobar.com\n${issued.certificatePem}\n${ca.certificatePem}`,
      'key.pem': issued.key.reveal(),
      'chain.pem': ca.certificatePem,
    });
    const inventory = await inventoryWithState({
      tls: { kind: 'files', certFile: paths['fullchain.pem'] ?? '', keyFile: paths['key.pem'] ?? '', chainFile: paths['chain.pem'] ?? '' },
    });
    expect((await webTlsMaterial(inventory, web1(inventory))).certificateChain).toBe(issued.certificatePem + ca.certificatePem);
  });

  it('rejects a key that does not match, naming the key file', async () => {
    const ca = await separateCa();
    const [issued, other] = await Promise.all([issueForWeb1(ca), issueForWeb1(ca)]);
    const paths = await userFiles({ 'cert.pem': issued.certificatePem + ca.certificatePem, 'key.pem': other.key.reveal() });
    const inventory = await inventoryWithState({ tls: { kind: 'files', certFile: paths['cert.pem'] ?? '', keyFile: paths['key.pem'] ?? '' } });

    const rejection = webTlsMaterial(inventory, web1(inventory));
    await expect(rejection).rejects.toBeInstanceOf(UserError);
    await expect(rejection).rejects.toThrow(`the TLS files for www.foobar.com cannot be served:\n  ${paths['key.pem']}: certificate does not match its key`);
  });

  it('rejects an expired certificate and a wrong name, naming the certificate file', async () => {
    const ca = await separateCa();
    const issued = await issueForWeb1(ca, { domain: 'a.example', fromDays: -100, untilDays: -10 });
    const paths = await userFiles({ 'cert.pem': issued.certificatePem + ca.certificatePem, 'key.pem': issued.key.reveal() });
    const inventory = await inventoryWithState({ tls: { kind: 'files', certFile: paths['cert.pem'] ?? '', keyFile: paths['key.pem'] ?? '' } });

    const message = await webTlsMaterial(inventory, web1(inventory)).catch((error: Error) => error.message);
    expect(message).toContain(`  ${paths['cert.pem']}: certificate does not cover www.foobar.com (it covers: a.example, web1)`);
    expect(message).toMatch(new RegExp(`  ${paths['cert.pem']}: certificate expired on \\d{4}-\\d\\d-\\d\\d`));
  });

  it('says which file is missing or holds no certificate', async () => {
    const paths = await userFiles({ 'empty.pem': 'nothing here\n', 'key.pem': 'x' });
    const missing = await inventoryWithState({ tls: { kind: 'files', certFile: '/nonexistent/cert.pem', keyFile: paths['key.pem'] ?? '' } });
    await expect(webTlsMaterial(missing, web1(missing))).rejects.toThrow(new UserError('TLS file /nonexistent/cert.pem (tls.cert_file) does not exist'));

    const empty = await inventoryWithState({ tls: { kind: 'files', certFile: paths['empty.pem'] ?? '', keyFile: paths['key.pem'] ?? '' } });
    await expect(webTlsMaterial(empty, web1(empty))).rejects.toThrow(
      new UserError(`TLS file ${paths['empty.pem']} (tls.cert_file) holds no PEM certificate (-----BEGIN CERTIFICATE-----)`),
    );
  });
});
