import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import type { Inventory } from '../../src/inventory/model.js';
import { caRotationPaths, pendingCa, prepareNextCa, promoteNextCa } from '../../src/rotate/ca.js';
import { trustBundle } from '../../src/tls/ca.js';
import { newMaterial } from '../../src/rotate/material.js';
import { type CertificateAuthority, describeCertificate, ensureCa, verifyTlsMaterial, webTlsMaterial } from '../../src/tls/index.js';
import { hostOf } from './roles-fixture.js';
import { inventoryWithState, issueForWeb1, removeTemporaryDirs, separateCa, temporaryDir } from './tls-fixture.js';

afterEach(removeTemporaryDirs);

const webHosts = (inventory: Inventory) => [hostOf(inventory, 'web1'), hostOf(inventory, 'web2')];
const stateFiles = async (inventory: Inventory, sub: string) => readdir(join(inventory.stateDir, sub)).catch(() => []);

describe("new material from infra's CA", () => {
  it('issues each web host its own certificate (domain, host name, address), checked against the CA, and stores nothing', async () => {
    const inventory = await inventoryWithState();
    const ca = await ensureCa(inventory);
    const materials = await newMaterial(inventory, webHosts(inventory), ca, new Date());

    const web1 = materials.get('web1');
    const web2 = materials.get('web2');
    expect(describeCertificate(web1?.tls.certificateChain ?? '').sans).toEqual(['www.foobar.com', 'web1', '10.0.0.21']);
    expect(describeCertificate(web2?.tls.certificateChain ?? '').sans).toEqual(['www.foobar.com', 'web2', '10.0.0.22']);
    expect(web1?.tls.caCertificate).toBe(ca.certificatePem);
    expect(web1?.issued?.certificatePem).toBe(web1?.tls.certificateChain);
    expect(await verifyTlsMaterial({ ...web1!.tls, domain: 'www.foobar.com', caCertificates: [ca.certificatePem] })).toEqual([]);
    expect(await stateFiles(inventory, 'tls')).toEqual([]);
  });

  it('is stored by webTlsMaterial({replaceWith}) once served, and then served as is, so a provision changes nothing', async () => {
    const inventory = await inventoryWithState();
    const web1 = hostOf(inventory, 'web1');
    const before = await webTlsMaterial(inventory, web1);
    const ca = await ensureCa(inventory);
    const rotated = (await newMaterial(inventory, [web1], ca, new Date())).get('web1');

    const stored = await webTlsMaterial(inventory, web1, { replaceWith: rotated?.issued });
    expect(stored.issuedBecause).toBe('a rotated certificate replaced it');
    expect(stored.certificateChain).not.toBe(before.certificateChain);
    const provisioned = await webTlsMaterial(inventory, web1);
    expect(provisioned.issuedBecause).toBeUndefined();
    expect(provisioned.certificateChain).toBe(rotated?.tls.certificateChain);
    expect(provisioned.key.reveal()).toBe(rotated?.tls.key.reveal());
    expect((await stat(join(inventory.stateDir, 'tls', 'web1.key'))).mode & 0o777).toBe(0o600);
  });
});

describe("new material from the user's files: a bad certificate is refused before any host is touched", () => {
  /** An inventory serving `leaf` + chain `chain` with `key`, written to files. */
  async function filesInventory(leaf: string, key: string, chain: string): Promise<Inventory> {
    const dir = await temporaryDir();
    await writeFile(join(dir, 'site.crt'), leaf);
    await writeFile(join(dir, 'site.key'), key, { mode: 0o600 });
    await writeFile(join(dir, 'chain.crt'), chain);
    return inventoryWithState({ tls: { kind: 'files', certFile: join(dir, 'site.crt'), keyFile: join(dir, 'site.key'), chainFile: join(dir, 'chain.crt') } });
  }
  const refusal = async (inventory: Inventory): Promise<string> => {
    const error = await newMaterial(inventory, webHosts(inventory), undefined, new Date()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    return (error as UserError).message;
  };
  let companyCa: CertificateAuthority;
  const setup = async () => (companyCa ??= await separateCa());

  it('serves the same good files on every web host', async () => {
    const ca = await setup();
    const good = await issueForWeb1(ca);
    const inventory = await filesInventory(good.certificatePem, good.key.reveal(), ca.certificatePem);
    const materials = await newMaterial(inventory, webHosts(inventory), undefined, new Date());
    expect(materials.get('web2')?.tls.certificateChain).toBe(good.certificatePem + ca.certificatePem);
    expect(materials.get('web2')?.issued).toBeUndefined();
  });

  it("refuses a key that is not the certificate's", async () => {
    const ca = await setup();
    const [good, other] = [await issueForWeb1(ca), await issueForWeb1(ca)];
    const message = await refusal(await filesInventory(good.certificatePem, other.key.reveal(), ca.certificatePem));
    expect(message).toMatch(/^refusing to rotate; nothing was changed on any host:\n/);
    expect(message).toMatch(/site\.key: certificate does not match its key/);
  });

  it('refuses an expired certificate', async () => {
    const ca = await setup();
    const expired = await issueForWeb1(ca, { fromDays: -100, untilDays: -10 });
    const message = await refusal(await filesInventory(expired.certificatePem, expired.key.reveal(), ca.certificatePem));
    expect(message).toMatch(/site\.crt: certificate expired on \d{4}-\d\d-\d\d/);
  });

  it('refuses a certificate that does not name the domain', async () => {
    const ca = await setup();
    const elsewhere = await issueForWeb1(ca, { domain: 'shop.example.org' });
    const message = await refusal(await filesInventory(elsewhere.certificatePem, elsewhere.key.reveal(), ca.certificatePem));
    expect(message).toMatch(/site\.crt: certificate does not cover www\.foobar\.com \(it covers: shop\.example\.org, web1\)/);
  });

  it("refuses a chain that does not lead to the certificate's CA", async () => {
    const ca = await setup();
    const stranger = await separateCa();
    const good = await issueForWeb1(ca);
    const message = await refusal(await filesInventory(good.certificatePem, good.key.reveal(), stranger.certificatePem));
    expect(message).toMatch(/chain\.crt: chain broken: CN=www\.foobar\.com is not signed by CN=infra CA for www\.foobar\.com/);
  });
});

describe('--rotate-ca: a new CA with an overlap', () => {
  it('1st run: sets a new CA aside and writes the bundle of both; the current CA stays', async () => {
    const inventory = await inventoryWithState();
    const current = await ensureCa(inventory);
    expect(await pendingCa(inventory)).toBeUndefined();

    const prepared = await prepareNextCa(inventory);
    expect(prepared.current.certificatePem).toBe(current.certificatePem);
    expect(prepared.next.certificatePem).not.toBe(current.certificatePem);
    expect(await readFile(prepared.bundleFile, 'utf8')).toBe(trustBundle([current.certificatePem, prepared.next.certificatePem]));
    expect((await pendingCa(inventory))?.certificatePem).toBe(prepared.next.certificatePem);
    expect((await ensureCa(inventory)).certificatePem).toBe(current.certificatePem);
    expect((await stat(join(caRotationPaths(inventory).nextStateDir, 'ca', 'ca.key'))).mode & 0o777).toBe(0o600);
  });

  it('2nd run: the new CA becomes current, the old one is kept as ca-previous.crt and in the bundle', async () => {
    const inventory = await inventoryWithState();
    const old = await ensureCa(inventory);
    const { next } = await prepareNextCa(inventory);
    const web1 = (await newMaterial(inventory, [hostOf(inventory, 'web1')], next, new Date())).get('web1');

    await promoteNextCa(inventory, next);
    const paths = caRotationPaths(inventory);
    expect((await ensureCa(inventory)).certificatePem).toBe(next.certificatePem);
    expect((await ensureCa(inventory)).key.reveal()).toBe(next.key.reveal());
    expect(await readFile(paths.previousFile, 'utf8')).toBe(old.certificatePem);
    expect(await readFile(paths.bundleFile, 'utf8')).toBe(old.certificatePem + next.certificatePem);
    expect(await pendingCa(inventory)).toBeUndefined();
    // The host's certificate from the new CA is what provision keeps serving.
    await webTlsMaterial(inventory, hostOf(inventory, 'web1'), { replaceWith: web1?.issued });
    const provisioned = await webTlsMaterial(inventory, hostOf(inventory, 'web1'));
    expect(provisioned.issuedBecause).toBeUndefined();
    expect(provisioned.caCertificate).toBe(next.certificatePem);
  });

  it("the bundle makes both CAs' certificates verify", async () => {
    const inventory = await inventoryWithState();
    const old = await ensureCa(inventory);
    const { next, bundleFile } = await prepareNextCa(inventory);
    const bundle = await readFile(bundleFile, 'utf8');
    for (const issuer of [old, next]) {
      const issued = await issueForWeb1(issuer, { untilDays: 30 });
      const problems = await verifyTlsMaterial({
        certificateChain: issued.certificatePem,
        key: issued.key,
        domain: 'www.foobar.com',
        caCertificates: [bundle],
      });
      expect(problems).toEqual([]);
    }
  });
});
