import { chmod, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { describeCertificate, ensureCa } from '../../src/tls/index.js';
import { x509 } from '../../src/tls/x509.js';
import { inventoryWithState, removeTemporaryDirs } from './tls-fixture.js';

afterEach(removeTemporaryDirs);

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('ensureCa', () => {
  it('creates the CA once in <stateDir>/ca (key 0600, folders 0700, .gitignore *) and then reuses the same bytes', async () => {
    const inventory = await inventoryWithState();
    const first = await ensureCa(inventory);
    const second = await ensureCa(inventory);

    expect(second.certificatePem).toBe(first.certificatePem);
    expect(second.key.reveal()).toBe(first.key.reveal());
    const caDir = join(inventory.stateDir, 'ca');
    expect(await readFile(join(caDir, 'ca.crt'), 'utf8')).toBe(first.certificatePem);
    expect(await readFile(join(caDir, 'ca.key'), 'utf8')).toBe(first.key.reveal());
    expect(await modeOf(join(caDir, 'ca.key'))).toBe(0o600);
    expect(await modeOf(caDir)).toBe(0o700);
    expect(await modeOf(inventory.stateDir)).toBe(0o700);
    expect(await readFile(join(inventory.stateDir, '.gitignore'), 'utf8')).toBe('*\n');
  });

  it('is a 10-year CA named for the domain: basicConstraints CA:true critical, keyUsage keyCertSign+cRLSign', async () => {
    const { certificatePem } = await ensureCa(await inventoryWithState());
    const certificate = new x509.X509Certificate(certificatePem);
    const summary = describeCertificate(certificatePem);

    expect(summary.subject).toBe('CN=infra CA for www.foobar.com');
    expect(certificate.issuer).toBe(certificate.subject);
    expect(summary.notAfter.getUTCFullYear() - summary.notBefore.getUTCFullYear()).toBe(10);
    const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
    expect(constraints?.ca).toBe(true);
    expect(constraints?.critical).toBe(true);
    expect(certificate.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(await certificate.isSelfSigned()).toBe(true);
  });

  it('takes its key type from the inventory (rsa-2048 here)', async () => {
    const { certificatePem } = await ensureCa(await inventoryWithState({ tls: { kind: 'ca', keyType: 'rsa-2048', days: 90 } }));
    const algorithm = new x509.X509Certificate(certificatePem).publicKey.algorithm as RsaHashedKeyAlgorithm;
    expect(algorithm.name).toBe('RSASSA-PKCS1-v1_5');
    expect(algorithm.modulusLength).toBe(2048);
  });

  it('leaves an existing .gitignore alone and puts a loosened key back to 0600', async () => {
    const inventory = await inventoryWithState();
    await mkdir(inventory.stateDir, { recursive: true });
    await writeFile(join(inventory.stateDir, '.gitignore'), 'reports/\n');
    await ensureCa(inventory);
    await chmod(join(inventory.stateDir, 'ca', 'ca.key'), 0o644);
    await ensureCa(inventory);

    expect(await readFile(join(inventory.stateDir, '.gitignore'), 'utf8')).toBe('reports/\n');
    expect(await modeOf(join(inventory.stateDir, 'ca', 'ca.key'))).toBe(0o600);
  });

  it('gives every concurrent caller the one CA that ends up stored', async () => {
    const inventory = await inventoryWithState();
    const results = await Promise.all([ensureCa(inventory), ensureCa(inventory), ensureCa(inventory)]);
    const stored = await readFile(join(inventory.stateDir, 'ca', 'ca.crt'), 'utf8');
    expect(results.map((ca) => ca.certificatePem)).toEqual([stored, stored, stored]);
  });

  it('refuses a CA with its key missing or not matching, instead of silently making a new one', async () => {
    const inventory = await inventoryWithState();
    await ensureCa(inventory);
    const keyFile = join(inventory.stateDir, 'ca', 'ca.key');
    const otherKey = (await ensureCa(await inventoryWithState())).key.reveal();

    await writeFile(keyFile, otherKey);
    await expect(ensureCa(inventory)).rejects.toBeInstanceOf(UserError);
    await expect(ensureCa(inventory)).rejects.toThrow(/infra CA in .*\/ca is damaged: ca\.crt does not match ca\.key: restore it from a backup, or delete/);

    await unlink(keyFile);
    await expect(ensureCa(inventory)).rejects.toThrow(/the infra CA has a certificate but no key \(.*ca\.key is missing\)/);
  });
});
