import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyType } from '../../src/inventory/model.js';
import { describeCertificate, webTlsMaterial } from '../../src/tls/index.js';
import { hostOf } from './roles-fixture.js';
import { inventoryWithState, openssl, removeTemporaryDirs, temporaryDir } from './tls-fixture.js';

// The real openssl binary checks what infra makes, and makes material for infra to check: a
// second, independent implementation catches what a self-consistent bug in ours would not.
beforeAll(async () => {
  try {
    await openssl(['version']);
  } catch (error) {
    throw new Error(
      `these tests need the openssl binary to cross-check infra's certificates, and it could not be run (${(error as Error).message}): ` +
        'install it (apt-get install openssl)',
    );
  }
});

afterEach(removeTemporaryDirs);

describe.each<KeyType>(['ecdsa-p256', 'rsa-2048'])('openssl on what infra issues (%s)', (keyType) => {
  it('verifies web1.crt against ca.crt for a TLS server, shows its SANs and agrees on serial and fingerprint', async () => {
    const inventory = await inventoryWithState({ tls: { kind: 'ca', keyType, days: 90 } });
    const material = await webTlsMaterial(inventory, hostOf(inventory, 'web1'));
    const caFile = join(inventory.stateDir, 'ca', 'ca.crt');
    const certificateFile = join(inventory.stateDir, 'tls', 'web1.crt');
    const keyFile = join(inventory.stateDir, 'tls', 'web1.key');

    expect(await openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', caFile, certificateFile])).toBe(`${certificateFile}: OK\n`);

    const text = await openssl(['x509', '-in', certificateFile, '-noout', '-text']);
    expect(text).toContain('DNS:www.foobar.com, DNS:web1, IP Address:10.0.0.21');
    expect(text).toContain('TLS Web Server Authentication');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    const caText = await openssl(['x509', '-in', caFile, '-noout', '-text']);
    expect(caText).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(caText).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);

    const summary = describeCertificate(material.certificateChain);
    const identity = await openssl(['x509', '-in', certificateFile, '-noout', '-serial', '-fingerprint', '-sha256']);
    expect(identity).toBe(`serial=${summary.serial}\nsha256 Fingerprint=${summary.sha256Fingerprint}\n`);

    // The key file holds the private half of the certificate's public key.
    const publicFromKey = await openssl(['pkey', '-in', keyFile, '-pubout']);
    const publicFromCertificate = await openssl(['x509', '-in', certificateFile, '-noout', '-pubkey']);
    expect(publicFromKey).toBe(publicFromCertificate);
    expect(await readFile(keyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });
});

describe('infra on what openssl makes (tls.source files)', () => {
  /**
   * A root CA and a web certificate for `domain` made by openssl, the keys in the traditional
   * forms ("EC PRIVATE KEY", "RSA PRIVATE KEY") rather than PKCS#8, as many users have them.
   */
  async function opensslFiles(
    keyForm: 'ec' | 'rsa',
    domain: string,
  ): Promise<{ dir: string; files: { kind: 'files'; certFile: string; keyFile: string; chainFile: string } }> {
    const dir = await temporaryDir();
    const newKey = keyForm === 'ec' ? ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'] : ['genrsa', '-traditional'];
    await writeFile(join(dir, 'ext.cnf'), `subjectAltName=DNS:${domain}\nextendedKeyUsage=serverAuth\n`);
    await openssl([...newKey, '-out', 'ca.key'], dir);
    await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Test Root', '-days', '30', '-out', 'ca.crt'], dir);
    await openssl([...newKey, '-out', 'web.key'], dir);
    await openssl(['req', '-new', '-key', 'web.key', '-subj', `/CN=${domain}`, '-out', 'web.csr'], dir);
    await openssl(
      ['x509', '-req', '-in', 'web.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-extfile', 'ext.cnf', '-out', 'web.crt'],
      dir,
    );
    return { dir, files: { kind: 'files', certFile: join(dir, 'web.crt'), keyFile: join(dir, 'web.key'), chainFile: join(dir, 'ca.crt') } };
  }

  it.each<'ec' | 'rsa'>(['ec', 'rsa'])('accepts an openssl-made %s certificate, chain and traditional-form key', async (keyForm) => {
    const { dir, files } = await opensslFiles(keyForm, 'www.foobar.com');
    expect(await readFile(files.keyFile, 'utf8')).toMatch(keyForm === 'ec' ? /BEGIN EC PRIVATE KEY/ : /BEGIN RSA PRIVATE KEY/);
    const inventory = await inventoryWithState({ tls: files });
    const material = await webTlsMaterial(inventory, hostOf(inventory, 'web1'));

    const expected = (await readFile(join(dir, 'web.crt'), 'utf8')) + (await readFile(join(dir, 'ca.crt'), 'utf8'));
    expect(material.certificateChain).toBe(expected);
    expect(describeCertificate(material.certificateChain).serial).toBe(
      (await openssl(['x509', '-in', files.certFile, '-noout', '-serial'])).trim().replace('serial=', ''),
    );
  });

  it('rejects an openssl-made certificate for another name, and one whose key openssl made separately', async () => {
    const wrongName = await opensslFiles('ec', 'a.example');
    const named = await inventoryWithState({ tls: wrongName.files });
    await expect(webTlsMaterial(named, hostOf(named, 'web1'))).rejects.toThrow(
      `${wrongName.files.certFile}: certificate does not cover www.foobar.com (it covers: a.example)`,
    );

    const good = await opensslFiles('ec', 'www.foobar.com');
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key'], good.dir);
    const mismatched = await inventoryWithState({ tls: { ...good.files, keyFile: join(good.dir, 'other.key') } });
    await expect(webTlsMaterial(mismatched, hostOf(mismatched, 'web1'))).rejects.toThrow(`${join(good.dir, 'other.key')}: certificate does not match its key`);
  });
});
