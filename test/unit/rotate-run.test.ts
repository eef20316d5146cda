import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import type { Inventory } from '../../src/inventory/model.js';
import { caRotationPaths } from '../../src/rotate/ca.js';
import { type RotateEvent, type RotationRequest, rotateCertificates } from '../../src/rotate/run.js';
import { describeCertificate, ensureCa } from '../../src/tls/index.js';
import { inventoryWithState, removeTemporaryDirs } from './tls-fixture.js';

afterEach(removeTemporaryDirs);

/** Runs a rotation that must end before connecting to any host: it records the events, and refuses to be asked. */
async function rotateWithoutHosts(inventory: Inventory, request: Partial<RotationRequest>) {
  const events: RotateEvent[] = [];
  const outcome = await rotateCertificates(
    inventory,
    { rotateCa: false, dryRun: false, waitLockSeconds: 0, ...request },
    {
      onEvent: (event) => events.push(event),
      confirm: () => Promise.reject(new Error('asked to confirm')),
    },
  );
  return { outcome, events };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----/g;

describe('rotate-certs refuses before connecting to any host', () => {
  it('when --limit selects no web host', async () => {
    const inventory = await inventoryWithState();
    await ensureCa(inventory);
    await expect(rotateWithoutHosts(inventory, { limit: ['db'] })).rejects.toThrow(
      new UserError('no web host is selected: rotate-certs replaces the certificate web hosts serve'),
    );
  });

  it("when infra's CA was never made (no provision yet)", async () => {
    const inventory = await inventoryWithState();
    await expect(rotateWithoutHosts(inventory, {})).rejects.toThrow(/^infra's CA does not exist yet \(.*\/ca\/ca\.crt\): run infra provision first$/);
  });

  it('--rotate-ca when the inventory serves its own files', async () => {
    const inventory = await inventoryWithState({ tls: { kind: 'files', certFile: '/tls/fullchain.pem', keyFile: '/tls/privkey.pem' } });
    await expect(rotateWithoutHosts(inventory, { rotateCa: true })).rejects.toThrow("--rotate-ca replaces infra's CA, but this inventory serves its own files");
  });

  it('--rotate-ca with --limit or --only-expiring-within: the CA switch is for every web host', async () => {
    const inventory = await inventoryWithState();
    await ensureCa(inventory);
    const refusal = '--rotate-ca switches every web host to the new CA: it cannot be combined with --limit or --only-expiring-within';
    await expect(rotateWithoutHosts(inventory, { rotateCa: true, limit: ['web1'] })).rejects.toThrow(refusal);
    await expect(rotateWithoutHosts(inventory, { rotateCa: true, onlyExpiringWithinDays: 30 })).rejects.toThrow(refusal);
  });
});

describe('the first --rotate-ca run: the next CA set aside, no host touched', () => {
  it('as a dry run, names the bundle and writes nothing', async () => {
    const inventory = await inventoryWithState();
    await ensureCa(inventory);
    const { outcome, events } = await rotateWithoutHosts(inventory, { rotateCa: true, dryRun: true });
    expect(outcome).toEqual({ kind: 'ca-prepared', dryRun: true, ca: { step: 'would-prepare', bundle: caRotationPaths(inventory).bundleFile } });
    expect(events).toEqual([]);
    expect(await readdir(inventory.stateDir)).not.toContain('ca-next');
    expect(await readdir(join(inventory.stateDir, 'ca'))).not.toContain('ca-bundle.crt');
  });

  it('makes the next CA and the bundle of both, and reports the serials of both', async () => {
    const inventory = await inventoryWithState();
    const current = await ensureCa(inventory);
    const { outcome, events } = await rotateWithoutHosts(inventory, { rotateCa: true });
    expect(events).toEqual([]);
    if (outcome.kind !== 'ca-prepared' || outcome.ca.step !== 'prepared') throw new Error(`expected the CA prepared, got ${JSON.stringify(outcome)}`);
    const { bundleFile, nextStateDir } = caRotationPaths(inventory);
    expect(outcome.ca.bundle).toBe(bundleFile);
    expect(outcome.ca.current.serial).toBe(describeCertificate(current.certificatePem).serial);
    const next = await readFile(join(nextStateDir, 'ca', 'ca.crt'), 'utf8');
    expect(outcome.ca.next.serial).toBe(describeCertificate(next).serial);
    expect(outcome.ca.next.serial).not.toBe(outcome.ca.current.serial);
    expect((await readFile(bundleFile, 'utf8')).match(PEM_CERTIFICATE)).toHaveLength(2);
  });
});
