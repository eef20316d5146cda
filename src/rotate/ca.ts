import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Inventory } from '../inventory/model.js';
import { caPaths, trustBundle } from '../tls/ca.js';
import { type CertificateAuthority, ensureCa } from '../tls/index.js';
import { readIfPresent, replaceFile } from '../tls/state.js';

/**
 * Replacing infra's CA with an overlap, in two runs of `rotate-certs --rotate-ca`:
 *
 * 1. prepare: a new CA is made and kept aside in `<stateDir>/ca-next/`, and the trust bundle
 *    `<stateDir>/ca/ca-bundle.crt` (current CA + new CA) is written. No host changes. The operator
 *    gives the bundle to every client that checks the site's certificate against infra's CA.
 * 2. switch: every web host gets a certificate from the new CA, host by host. Clients holding the
 *    bundle accept both the hosts not yet switched and those switched. Once the first host serves
 *    the new CA's certificate, the new CA becomes `ca/ca.crt` (and issues from then on) and the old
 *    one is kept as `ca/ca-previous.crt`, still in the bundle, until the next rotation.
 *
 * A client that trusts only the old CA fails on each host as it switches: the overlap is the bundle.
 */
export interface CaRotationPaths {
  bundleFile: string;
  previousFile: string;
  /** The state directory of the next CA: ensureCa makes and reads it at `<nextStateDir>/ca/`. */
  nextStateDir: string;
}

export function caRotationPaths(inventory: Inventory): CaRotationPaths {
  const { dir, previousCertificateFile } = caPaths(inventory);
  return {
    bundleFile: join(dir, 'ca-bundle.crt'),
    previousFile: previousCertificateFile,
    nextStateDir: join(inventory.stateDir, 'ca-next'),
  };
}

/** The inventory whose state directory holds the next CA, so that ensureCa makes and checks it. */
function nextCaInventory(inventory: Inventory): Inventory {
  return { ...inventory, stateDir: caRotationPaths(inventory).nextStateDir };
}

/** The CA made by an earlier `--rotate-ca` and not switched to yet, if any. */
export async function pendingCa(inventory: Inventory): Promise<CertificateAuthority | undefined> {
  const next = caPaths(nextCaInventory(inventory));
  const [certificate, key] = await Promise.all([readIfPresent(next.certificateFile), readIfPresent(next.keyFile)]);
  if (certificate === undefined && key === undefined) return undefined;
  // ensureCa reads it back, or names what is damaged.
  return ensureCa(nextCaInventory(inventory));
}

/** Step 1: makes the next CA (in the inventory's key type) and writes the bundle of both. */
export async function prepareNextCa(inventory: Inventory): Promise<{ current: CertificateAuthority; next: CertificateAuthority; bundleFile: string }> {
  const current = await ensureCa(inventory);
  const next = await ensureCa(nextCaInventory(inventory));
  const { bundleFile } = caRotationPaths(inventory);
  await replaceFile(bundleFile, trustBundle([current.certificatePem, next.certificatePem]), 0o644);
  return { current, next, bundleFile };
}

/**
 * Step 2's switch in the state directory: the old CA is kept as ca-previous.crt, then the next
 * CA's key and certificate replace ca.key and ca.crt, then ca-next/ goes. The key goes first and
 * ca-next/ last: a run stopped in between leaves a CA ensureCa reports as damaged (certificate
 * and key do not match), with the next CA's files still in ca-next/ to finish the switch by hand.
 */
export async function promoteNextCa(inventory: Inventory, next: CertificateAuthority): Promise<void> {
  const current = await ensureCa(inventory);
  const paths = { ...caPaths(inventory), ...caRotationPaths(inventory) };
  await replaceFile(paths.previousFile, current.certificatePem, 0o644);
  await replaceFile(paths.bundleFile, trustBundle([current.certificatePem, next.certificatePem]), 0o644);
  await replaceFile(paths.keyFile, next.key.reveal(), 0o600);
  await replaceFile(paths.certificateFile, next.certificatePem, 0o644);
  await rm(paths.nextStateDir, { recursive: true, force: true });
}
