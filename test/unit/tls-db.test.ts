import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/model.js';
import { prepareNextCa, promoteNextCa } from '../../src/rotate/ca.js';
import { trustBundle } from '../../src/tls/ca.js';
import { dbCaCertificate, dbTlsMaterial, ensureCa, verifyTlsMaterial } from '../../src/tls/index.js';
import { hostOf } from './roles-fixture.js';
import { inventoryWithState, removeTemporaryDirs } from './tls-fixture.js';

afterEach(removeTemporaryDirs);

// The role tests' inventory: db1 at 10.0.0.41, db2 at 10.0.0.42, domain www.foobar.com.
const db1 = (inventory: Inventory) => hostOf(inventory, 'db1');

describe('dbTlsMaterial', () => {
  it("issues db1 a serverAuth certificate from infra's CA naming its name and address, key stored 0600 under db-tls/", async () => {
    const inventory = await inventoryWithState();
    const material = await dbTlsMaterial(inventory, db1(inventory));
    const ca = await ensureCa(inventory);
    expect(material.caCertificate).toBe(ca.certificatePem);
    expect(material.issuedBecause).toBe('there was none');
    const certificate = new X509Certificate(material.certificate);
    expect(certificate.subjectAltName).toBe('DNS:db1, IP Address:10.0.0.41');
    expect(certificate.subject).toBe('CN=db1');
    expect(certificate.checkIP('10.0.0.41')).toBe('10.0.0.41');
    expect(certificate.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(await verifyTlsMaterial({ certificateChain: material.certificate, key: material.key, domain: 'db1', caCertificates: [ca.certificatePem] })).toEqual(
      [],
    );
    const keyFile = join(inventory.stateDir, 'db-tls', 'db1.key');
    expect(await readFile(keyFile, 'utf8')).toBe(material.key.reveal());
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  });

  it('serves the stored pair again byte for byte, and a new one for a reinstalled host or a changed address', async () => {
    const inventory = await inventoryWithState();
    const first = await dbTlsMaterial(inventory, db1(inventory));
    const again = await dbTlsMaterial(inventory, db1(inventory));
    expect(again.certificate).toBe(first.certificate);
    expect(again.issuedBecause).toBeUndefined();
    const reinstalled = await dbTlsMaterial(inventory, db1(inventory), { forceNew: true });
    expect(reinstalled.key.reveal()).not.toBe(first.key.reveal());
    db1(inventory).address = '10.0.0.49';
    const moved = await dbTlsMaterial(inventory, db1(inventory));
    expect(moved.issuedBecause).toBe('its names changed to db1, 10.0.0.49');
  });

  it("comes from infra's CA with tls.source files too: the web files are for browsers, not for db traffic", async () => {
    const inventory = await inventoryWithState({ tls: { kind: 'files', certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' } });
    const material = await dbTlsMaterial(inventory, db1(inventory));
    expect(material.caCertificate).toBe((await ensureCa(inventory)).certificatePem);
    expect(new X509Certificate(material.certificate).checkIP('10.0.0.41')).toBe('10.0.0.41');
  });

  it('keeps its certificate through a CA rotation, the old CA trusted beside the new one until the next, and is renewed by the new one', async () => {
    const inventory = await inventoryWithState();
    const before = await dbTlsMaterial(inventory, db1(inventory));
    const old = await ensureCa(inventory);
    const { next } = await prepareNextCa(inventory);
    await promoteNextCa(inventory, next);
    const after = await dbTlsMaterial(inventory, db1(inventory));
    expect(after.certificate).toBe(before.certificate);
    expect(after.issuedBecause).toBeUndefined();
    expect(after.caCertificate).toBe(trustBundle([next.certificatePem, old.certificatePem]));
    expect(await dbCaCertificate(inventory)).toBe(after.caCertificate);
    const renewed = await dbTlsMaterial(inventory, db1(inventory), { forceNew: true });
    expect(new X509Certificate(renewed.certificate).verify(new X509Certificate(next.certificatePem).publicKey)).toBe(true);
  });
});
